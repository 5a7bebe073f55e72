"""``caseledger verify`` as an auditor runs it: a real process, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
from pathlib import Path

from tests.api.conftest import run_cli as caseledger
from tests.helpers import new_ledger, run_sql


def test_a_good_chain_exits_0(storage_url: str) -> None:
    led = new_ledger(storage_url)
    led.note()
    result = caseledger("verify", "--db", storage_url)
    assert result.returncode == 0, result.stderr
    assert "verified: 5 entries" in result.stdout


def test_a_tampered_chain_exits_1_naming_the_sequence(storage_url: str) -> None:
    led = new_ledger(storage_url)
    led.note()
    run_sql(storage_url, "UPDATE chain_entries SET topic = 'x' WHERE sequence = 4")
    result = caseledger("verify", "--db", storage_url, "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["failure"]["sequence"] == 4
    assert report["failure"]["reason"] == "entry-hash-mismatch"
    assert report["failure"]["originator_id"]


def test_usage_and_configuration_errors_exit_2(tmp_path: Path) -> None:
    assert caseledger("verify", "--db", "mysql://x").returncode == 2
    missing = caseledger("verify", "--db", f"sqlite:///{tmp_path}/absent.sqlite3")
    assert missing.returncode == 2 and "no ledger" in missing.stderr
    assert caseledger("verify", "--bogus").returncode == 2


def test_a_policy_file_pins_the_platform_key(sqlite_url: str, tmp_path: Path) -> None:
    led = new_ledger(sqlite_url)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"ledger": {"platform_keys": [led.platform.key_id.hex()]}}))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"ledger": {"platform_keys": ["00" * 8]}}))
    assert caseledger("verify", "--db", sqlite_url, "--policy", str(good)).returncode == 0
    assert caseledger("verify", "--db", sqlite_url, "--policy", str(bad)).returncode == 1
