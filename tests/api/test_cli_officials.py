"""``caseledger officials …`` and ``token create --official`` as an administrator and an
auditor run them: real processes on a real ledger and keystore (FZ·26(二)(五))."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.api.conftest import PASSPHRASE
from tests.api.conftest import run_cli as caseledger


def test_an_administrator_manages_officials_and_the_auditor_reads_a_history(
    storage_url: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "CASELEDGER_KEY_PASSPHRASE": PASSPHRASE,
        "CASELEDGER_KEYSTORE": str(tmp_path / "keys"),
        "CASELEDGER_DB": storage_url,
    }

    def run(*args: str) -> tuple[int, str]:
        done = caseledger(*args, env=env)
        return done.returncode, done.stdout + done.stderr

    def appoint(staff_code: str, roles: str, name: str, *by: str) -> tuple[int, str]:
        return run(
            "officials",
            "appoint",
            staff_code,
            "--department",
            "GZ-SCJG",
            "--roles",
            roles,
            "--name",
            name,
            *by,
        )

    assert run("migrate")[0] == 0
    code, out = appoint("A-001", "admin", "管理员")
    assert code == 0 and "appointed A-001 in GZ-SCJG" in out, out
    code, out = appoint("R-001", "reception", "1号窗口", "--by", "A-001")
    assert code == 0, out
    code, out = run("officials", "suspend", "A-001", "--reason", "x", "--by", "R-001")
    assert code == 1 and "does not hold the admin role" in out and "FZ·26(五)" in out, out
    code, out = run("officials", "roles", "R-001", "--roles", "judge", "--by", "A-001")
    assert code == 1 and "roles" in out, out
    code, out = run("officials", "rotate-key", "R-001", "--reason", "device lost")
    assert code == 0 and "new key" in out, out
    code, out = run(
        "officials",
        "delegate",
        "--department",
        "GZ-SCJG",
        "--window",
        "GZ-ZHCK",
        "--basis",
        "委托书",
        "--by",
        "A-001",
    )
    assert code == 0, out
    code, out = run("token", "create", "--role", "department", "--official", "R-001")
    assert code == 0 and out.startswith("cl_"), out
    code, out = run("token", "create", "--role", "department", "--official", "NOBODY")
    assert code == 1 and "no official NOBODY" in out, out
    code, out = run("token", "create", "--role", "auditor", "--official", "R-001")
    assert code != 0, out
    code, out = run("token", "create", "--role", "supervisor", "--official", "R-001")
    assert code != 0 and "does not hold the supervision role" in out, out
    office = ("--department", "ZWFW", "--roles", "supervision", "--name", "督查")
    assert run("officials", "appoint", "J-001", *office)[0] == 0  # of the supervision office
    code, out = run("token", "create", "--role", "supervisor", "--official", "J-001")
    assert code == 0 and out.startswith("cl_"), out
    # a department or supervisor token names its holder: an official, or explicitly a system
    for role in (("--role", "department", "--department", "GZ-SCJG"), ("--role", "supervisor")):
        code, out = run("token", "create", *role)
        assert code != 0 and "--official" in out and "--system" in out, out
        code, out = run("token", "create", *role, "--system")
        assert code == 0 and out.startswith("cl_"), out
    code, out = run("token", "create", "--role", "department", "--official", "R-001", "--system")
    assert code != 0 and "not both" in out, out
    code, out = run("token", "create", "--role", "auditor", "--system")
    assert code != 0 and "system" in out, out

    code, out = run("officials", "history", "R-001", "--json")
    assert code == 0, out
    history = json.loads(out)
    assert len(history["key_ids"]) == 2  # the rotated key and its successor
    assert [a["topics"][0].split(":")[1] for a in history["actions"]] == [
        "Official.Appointed",
        "Official.ActionRefused",
    ]
    assert history["verification"]["ok"] and history["tree"]["size"] > 0
    code, out = run("officials", "history", "A-001")
    assert code == 0 and "chain verified" in out and "Delegation.Granted" in out, out
    assert run("verify")[0] == 0
