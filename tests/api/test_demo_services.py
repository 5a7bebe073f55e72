"""The demo's "services" stage drives issue 4's flows — e-certificates, ratings,
appointments, 12345, the blacklist and supervision orders — on a fresh demo ledger (the city
and cases stages first, as ``caseledger demo`` runs them, without anchoring and the later
stages), and ``caseledger verify`` passes on it (issue 4 "Done when")."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.bootstrap import open_runtime
from api.demo.main import DemoContext, stages
from api.demo.services import STAGE, lines
from api.settings import Settings
from ledger.chain.verification import verify_chain
from ledger.domain.certificates import Certificate, CertificateDispute, VersionStatus
from ledger.services.application import LedgerApplication, open_ledger
from ledger.services.domain_services import BlacklistService, CertificateService
from ledger.storage.urls import parse_storage_url

pytestmark = pytest.mark.slow

_SCRIPT = Path(sys.executable).with_name("caseledger")
CLI = (
    [str(_SCRIPT)]
    if _SCRIPT.exists()
    else [sys.executable, "-c", "import sys; from api.cli.main import main; sys.exit(main())"]
)
SEED = 20261123
"""``caseledger demo``'s default seed."""
LEVELS = ("非常满意", "满意", "基本满意", "不满意", "非常不满意")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CASELEDGER_DB"}
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoContext]:
    """City, cases and services stages on a fresh SQLite ledger, the demo's default seed."""
    out = tmp_path_factory.mktemp("demo-services")
    settings = Settings(
        storage=parse_storage_url(f"sqlite:///{out / 'caseledger.sqlite3'}"),
        keystore_dir=out / "keys",
        passphrase="demo services test passphrase",
    )
    runtime = open_runtime(settings, migrate=True)
    ctx = DemoContext(runtime=runtime, rng=random.Random(SEED), out=out)
    try:
        for stage in stages():
            if stage.name in ("city", "cases", "services"):
                stage.run(ctx)
        assert verify_chain(runtime.ledger.chain).ok
    finally:
        for cleanup in ctx.running.get("cleanups", []):
            cleanup()
        runtime.close()
    return out, ctx


@pytest.fixture(scope="module")
def services(demo: tuple[Path, DemoContext]) -> dict[str, Any]:
    found: dict[str, Any] = demo[1].summary["services"]
    json.dumps(found, ensure_ascii=False)  # it goes into summary.json
    return found


@pytest.fixture
def ledger(demo: tuple[Path, DemoContext]) -> Iterator[LedgerApplication]:
    out, _ctx = demo
    app = open_ledger(f"sqlite:///{out / 'caseledger.sqlite3'}")
    try:
        yield app
    finally:
        app.close()


def _topic_ids(app: LedgerApplication, topic: str) -> list[Any]:
    page = app.recorder.select_notifications(start=0, limit=10_000, topics=[topic])
    return [n.originator_id for n in page]


def test_certificates_issued_updated_revoked_and_disputed(services: dict[str, Any]) -> None:
    c = services["certificates"]
    assert c["issued"] > 50 and c["issued_with_case"] > 0
    assert c["updated"] > 0 and c["revoked"] > 0
    for outcome in ("upheld", "rejected", "late", "extended"):
        assert c["disputes"][outcome] > 0, c["disputes"]


def test_ratings_of_every_level_with_disputes(services: dict[str, Any]) -> None:
    r = services["ratings"]
    assert list(r["by_level"]) == list(LEVELS)
    assert all(r["by_level"][level] > 0 for level in LEVELS)
    assert set(r["by_system"]) == {"gbt39046", "national", "fuzhou"}
    assert len(r["by_channel"]) == 7
    assert r["follow_up"] > 0 and r["callbacks"] > 0 and r["rectified"] > 0
    assert r["disputes"]["upheld"] > 0 and r["disputes"]["rejected"] > 0
    assert r["stranger_refused"] == 1  # another applicant's rating refused (GZ20·16, NH·25)


def test_appointments_kept_and_missed(services: dict[str, Any]) -> None:
    a = services["appointments"]
    for key in ("slots", "booked", "kept", "cancelled", "no_shows", "refused"):
        assert a[key] > 0, key
    assert a["applicants_with_4_no_shows"] >= 1


def test_complaints_answered_late_and_on_time(services: dict[str, Any]) -> None:
    q = services["consultations"]
    for key in ("enquiries", "complaints", "answered_on_time", "answered_late", "found_untrue"):
        assert q[key] > 0, key


def test_blacklisting_with_appeals_and_a_refused_online_submission(
    services: dict[str, Any],
) -> None:
    b = services["blacklist"]
    assert b["blacklisted"] >= 2 and b["appeals"] >= 2
    assert b["appeal_upheld_removed"] > 0 and b["appeal_dismissed"] > 0
    assert b["online_refused"] == 1 and b["removed_may_apply"] is True
    refusal = b["refusal"]
    assert refusal["code"] == "blacklisted-applicant"
    assert refusal["until"] == b["restricted_until"] and refusal["appeal_route"]


def test_supervision_orders_answered(services: dict[str, Any]) -> None:
    o = services["supervision_orders"]
    assert o["issued"] > 0 and o["answered"] > 0 and o["answered_late"] > 0 and o["closed"] > 0


def test_the_ledger_holds_what_the_summary_reports(ledger: LedgerApplication) -> None:
    certificates = CertificateService(ledger)
    disputes: list[Any] = [
        ledger.repository.get(i)
        for i in _topic_ids(ledger, "ledger.certificates:CertificateDispute.Raised")
    ]
    assert all(isinstance(d, CertificateDispute) for d in disputes)
    findings = {d.finding for d in disputes}
    assert {"upheld", "rejected"} <= findings
    upheld = next(d for d in disputes if d.finding == "upheld")
    corrected: Any = ledger.repository.get(upheld.certificate_id)
    assert isinstance(corrected, Certificate)
    old = corrected.version_of(upheld.identifier)
    assert old.status is VersionStatus.SUPERSEDED
    assert certificates.verify(upheld.identifier)  # the superseded version still verifies
    assert certificates.verify(corrected.identifier)
    blacklist = BlacklistService(ledger)
    records = [
        blacklist.record(ledger.repository.get(i).applicant_id)
        for i in _topic_ids(ledger, "ledger.blacklist:Blacklisting.Opened")
    ]
    states = sorted(r.state for r in records if r is not None)
    assert states == ["appeal dismissed", "removed"]
    on = dt.date(2026, 11, 20)
    blocked = [r for r in records if r is not None and r.restriction(on).blocked]
    assert len(blocked) == 1


def test_verify_passes_on_the_demo_ledger(
    demo: tuple[Path, DemoContext], services: dict[str, Any]
) -> None:
    out, _ctx = demo
    verify = run("verify", "--db", f"sqlite:///{out / 'caseledger.sqlite3'}", cwd=out)
    assert verify.returncode == 0, verify.stderr + verify.stdout


def test_summary_lines(demo: tuple[Path, DemoContext]) -> None:
    printed = lines(demo[1])
    assert 3 <= len(printed) <= 6
    assert STAGE.name == "services" and STAGE in stages()
    assert printed[0].startswith("certificates   ")
    assert any(line.startswith("blacklist      ") for line in printed)
