"""``caseledger kiosk print`` and ``caseledger kiosk verify``: exit codes 0 / 1 / 2, and a
printout of a certificate revoked later verifies offline but fails online with "revoked"."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

from api.bootstrap import open_runtime
from api.settings import Settings
from kiosk.verify import extract_qr_text
from ledger.services.domain_services import CertificateService
from ledger.storage.urls import parse_storage_url
from tests.api.conftest import PASSPHRASE, Served, run_cli
from tests.kiosk.served import ServedWorld
from tests.ledger.case_world import FOOD_DEPT


def cli(served_world: ServedWorld, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CASELEDGER_KEY_PASSPHRASE": PASSPHRASE,
        "CASELEDGER_KEYSTORE": str(served_world.keystore),
    }
    env.pop("CASELEDGER_TRUST_POLICY", None)
    return run_cli("kiosk", *args, env=env)


def test_print_verify_then_revoke_fails_online_only(
    served_world: ServedWorld, server: Served, tmp_path: Path
) -> None:
    pdf = tmp_path / "certificate.pdf"
    printed = cli(
        served_world, "print", served_world.certificate, "-o", str(pdf), "--db", served_world.db
    )
    assert printed.returncode == 0, printed.stderr
    assert "verified end to end" in printed.stdout and pdf.read_bytes().startswith(b"%PDF")
    policy = str(served_world.policy)
    offline = cli(served_world, "verify", str(pdf), "--policy", policy)
    assert offline.returncode == 0 and offline.stdout.startswith("VALID")
    online = cli(served_world, "verify", str(pdf), "--policy", policy, "--online", server.url)
    assert online.returncode == 0 and "online status: valid" in online.stdout

    runtime = open_runtime(
        Settings(parse_storage_url(served_world.db), served_world.keystore, PASSPHRASE)
    )
    try:
        CertificateService(runtime.ledger).revoke(
            served_world.certificate_id,
            signer=runtime.keystore.current_signer(f"dept:{FOOD_DEPT}"),
            department=FOOD_DEPT,
            reason="许可证被依法撤销",
            at=dt.datetime.now(dt.UTC),
        )
    finally:
        runtime.close()
    still = cli(served_world, "verify", str(pdf), "--policy", policy)
    assert still.returncode == 0, "the paper itself is still authentic offline"
    revoked = cli(served_world, "verify", str(pdf), "--policy", policy, "--online", server.url)
    assert revoked.returncode == 1 and "revoked" in revoked.stdout

    again = cli(
        served_world,
        "print",
        served_world.certificate,
        "-o",
        str(tmp_path / "x.pdf"),
        "--db",
        served_world.db,
    )
    assert again.returncode == 1 and "status" in again.stderr and not (tmp_path / "x.pdf").exists()


def test_verify_takes_the_qr_text_itself_and_json(
    served_world: ServedWorld, tmp_path: Path
) -> None:
    pdf = tmp_path / "result.pdf"
    assert (
        cli(
            served_world, "print", served_world.closed, "-o", str(pdf), "--db", served_world.db
        ).returncode
        == 0
    )
    text, _ = extract_qr_text(pdf.read_bytes())
    verdict = cli(served_world, "verify", text, "--policy", str(served_world.policy), "--json")
    assert verdict.returncode == 0 and '"ok": true' in verdict.stdout
    truncated = cli(served_world, "verify", text[:-5], "--policy", str(served_world.policy))
    assert truncated.returncode == 1 and "INVALID" in truncated.stdout


def test_exit_codes_for_refusals_and_usage(served_world: ServedWorld, tmp_path: Path) -> None:
    refused = cli(
        served_world,
        "print",
        served_world.open_case,
        "-o",
        str(tmp_path / "o.pdf"),
        "--db",
        served_world.db,
    )
    assert refused.returncode == 1 and "REFUSED" in refused.stderr
    no_policy = cli(served_world, "verify", str(tmp_path / "o.pdf"))
    assert no_policy.returncode == 2 and "trust policy" in no_policy.stderr
    missing = cli(
        served_world, "verify", str(tmp_path / "missing.pdf"), "--policy", str(served_world.policy)
    )
    assert missing.returncode == 2
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    bad = cli(served_world, "verify", str(garbage), "--policy", str(served_world.policy))
    assert bad.returncode == 1 and "qr" in bad.stdout
