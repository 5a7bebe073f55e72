"""Every ``caseledger`` command on a database that is not there: exit 2 and one line on
stderr that says why — never a traceback, never the 1 that means "verification failed".

Real processes; PostgreSQL refusing connections (a closed port, a database that does not
exist, a role over its connection limit — "too many connections"), SQLite files that are
corrupted, are directories, or cannot be created.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from ledger.storage.urls import parse_storage_url
from tests.api.conftest import PASSPHRASE, free_port, run_cli
from tests.api.outage import role_storage
from tests.conftest import _pg_base, require_postgres


def caseledger(*args: str, keystore: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CASELEDGER_KEY_PASSPHRASE": PASSPHRASE,
        "CASELEDGER_KEYSTORE": str(keystore),
    }
    return run_cli(*args, env=env)


def assert_one_line(result: subprocess.CompletedProcess[str], command: str, *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"caseledger {command}: "), lines[0]
    for word in words:
        assert word in lines[0], lines[0]


COMMANDS = [
    "migrate",
    "verify",
    "verify --json",
    "verify --node http://127.0.0.1:9",
    "checkpoint",
    "anchor --node http://127.0.0.1:9",
    "policy --node http://127.0.0.1:9",
    "bundle GZ-SCJG-20260928-000001Q -o {tmp}/bundle.json",
    "token create --role admin",
    "token revoke 0123456789abcdef",
    "projections status",
    "projections run",
    "projections rebuild progress",
    "archive build GZ-SCJG-20260928-000001Q -o {tmp}/package",
    "kiosk print GZ-SCJG-20260928-000001Q -o {tmp}/print.pdf",
    "serve --port 0",
    "demo --out {tmp}/demo",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_exits_2_in_one_line_when_postgresql_refuses_connections(
    command: str, tmp_path: Path
) -> None:
    closed = f"postgresql://root@127.0.0.1:{free_port()}/caseledger"
    args = command.format(tmp=tmp_path).split()
    began = time.monotonic()
    result = caseledger(*args, "--db", closed, keystore=tmp_path / "keys")
    assert_one_line(result, args[0], "database unavailable", "Connection refused")
    assert time.monotonic() - began < 30  # no 30 s pool wait before saying so


@pytest.mark.postgres
def test_a_database_that_does_not_exist_exits_2(tmp_path: Path) -> None:
    require_postgres()
    base = parse_storage_url(_pg_base())
    missing = f"postgresql://{base.user}@{base.host}:{base.port}/caseledger_no_such_database"
    result = caseledger("verify", "--db", missing, keystore=tmp_path / "keys")
    assert_one_line(result, "verify", "database unavailable", "does not exist")


@pytest.mark.postgres
def test_verify_with_node_when_postgresql_refuses_the_role_exits_2(tmp_path: Path) -> None:
    """The issue's case: ``verify --node`` crashed with a traceback and exit 1."""
    require_postgres()
    with role_storage() as (url, outage):
        migrated = caseledger("migrate", "--db", url, keystore=tmp_path / "keys")
        assert migrated.returncode == 0, migrated.stderr
        assert caseledger("verify", "--db", url, keystore=tmp_path / "keys").returncode == 0
        outage.refuse()  # CONNECTION LIMIT 0: "too many connections for role"
        node = f"http://127.0.0.1:{free_port()}"
        for args in (("verify", "--node", node), ("verify",), ("projections", "status")):
            result = caseledger(*args, "--db", url, keystore=tmp_path / "keys")
            assert_one_line(result, args[0], "database unavailable", "too many connections")


def test_a_corrupted_sqlite_file_exits_2(tmp_path: Path) -> None:
    db = tmp_path / "ledger.sqlite3"
    url = f"sqlite:///{db}"
    assert caseledger("migrate", "--db", url, keystore=tmp_path / "keys").returncode == 0
    with db.open("r+b") as f:
        f.write(os.urandom(100))  # the header: "file is not a database"
    for args in (("verify",), ("checkpoint",), ("projections", "status"), ("token", "create")):
        extra = ("--role", "admin") if args[0] == "token" else ()
        result = caseledger(*args, "--db", url, *extra, keystore=tmp_path / "keys")
        assert_one_line(result, args[0], "file is not a database")


def test_a_sqlite_path_that_is_a_directory_or_under_a_file_exits_2(tmp_path: Path) -> None:
    folder = tmp_path / "ledger.sqlite3"
    folder.mkdir()
    result = caseledger("verify", "--db", f"sqlite:///{folder}", keystore=tmp_path / "keys")
    assert_one_line(result, "verify", "database unavailable", "unable to open")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    under = f"sqlite:///{blocker}/ledger.sqlite3"
    result = caseledger("migrate", "--db", under, keystore=tmp_path / "keys")
    assert_one_line(result, "migrate", "cannot create the directory")


def test_an_unreachable_anchor_node_exits_2(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    assert caseledger("migrate", "--db", url, keystore=tmp_path / "keys").returncode == 0
    node = f"http://127.0.0.1:{free_port()}"
    result = caseledger("anchor", "--db", url, "--node", node, keystore=tmp_path / "keys")
    assert_one_line(result, "anchor", "unreachable")
