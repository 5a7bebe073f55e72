"""Which errors are storage faults (``ledger.storage.faults``), decided on the real drivers:
a fault is the environment failing (retry later), anything else keeps its meaning."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import psycopg
import pytest

from ledger.errors import LedgerError, RuleViolation
from ledger.storage.faults import StorageUnavailable, database_error, probe, storage_fault
from ledger.storage.subject_keys import SubjectKeyStoreError
from ledger.storage.urls import parse_storage_url
from tests.conftest import _pg_base, _pg_conninfo, require_postgres


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sqlite_error(path: Path, statement: str, *, timeout: float = 0.1) -> sqlite3.Error:
    conn = sqlite3.connect(path, timeout=timeout)
    try:
        conn.execute(statement)
    except sqlite3.Error as exc:
        return exc
    finally:
        conn.close()
    raise AssertionError(f"{statement} did not fail")


def test_a_locked_sqlite_file_is_a_fault(tmp_path: Path) -> None:
    db = tmp_path / "ledger.sqlite3"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        exc = sqlite_error(db, "INSERT INTO t VALUES (1)")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert storage_fault(exc) == "SQLite: database is locked"


def test_a_corrupted_missing_or_read_only_sqlite_file_is_a_fault(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"x" * 4096)
    assert storage_fault(sqlite_error(garbage, "SELECT * FROM sqlite_master")) == (
        "SQLite: file is not a database"
    )
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(sqlite3.Error) as opened:
        sqlite3.connect(folder).execute("SELECT 1")
    assert storage_fault(opened.value) == "SQLite: unable to open database file"
    db = tmp_path / "ro.sqlite3"
    sqlite3.connect(db).execute("CREATE TABLE t (x)")
    ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    with pytest.raises(sqlite3.Error) as written:
        ro.execute("INSERT INTO t VALUES (1)")
    ro.close()
    assert (storage_fault(written.value) or "").startswith("SQLite: attempt to write a readonly")


def test_bad_sql_and_constraint_errors_are_not_faults(tmp_path: Path) -> None:
    db = tmp_path / "ledger.sqlite3"
    sqlite3.connect(db).execute("CREATE TABLE t (x PRIMARY KEY)")
    assert storage_fault(sqlite_error(db, "SELEKT 1")) is None
    assert storage_fault(sqlite_error(db, "SELECT * FROM missing")) is None
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError) as duplicate:
        conn.execute("INSERT INTO t VALUES (1)")
    assert storage_fault(duplicate.value) is None
    assert database_error(duplicate.value) == "UNIQUE constraint failed: t.x"
    assert storage_fault(RuleViolation("a refusal", rule="GZ16·14")) is None
    assert storage_fault(ValueError("x")) is None


def test_a_fault_is_found_behind_wrappers_and_behind_a_refusal_raised_while_handling_it(
    tmp_path: Path,
) -> None:
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"x" * 4096)
    cause = sqlite_error(garbage, "SELECT 1 FROM sqlite_master")
    try:
        raise SubjectKeyStoreError("subject keys: broken") from cause
    except SubjectKeyStoreError as wrapped:
        assert storage_fault(wrapped) == "SQLite: file is not a database"
    try:
        try:
            raise cause
        except sqlite3.Error:
            raise LookupError("no such record") from None  # a lazy conversion
    except LookupError as hidden:
        assert storage_fault(hidden) == "SQLite: file is not a database"
    assert storage_fault(StorageUnavailable("materials: gone")) == "materials: gone"


def test_the_reason_is_one_line() -> None:
    port = free_port()
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(f"host=127.0.0.1 port={port} user=x dbname=x", connect_timeout=2)
    assert "\n" in str(refused.value)  # libpq adds a hint line
    reason = storage_fault(refused.value) or ""
    assert reason.startswith("PostgreSQL: connection failed") and "\n" not in reason
    assert "Connection refused" in reason


@pytest.mark.postgres
def test_a_killed_backend_is_a_fault_and_a_missing_table_is_not() -> None:
    require_postgres()
    conninfo = _pg_conninfo(_pg_base())
    with psycopg.connect(conninfo, autocommit=True) as victim:
        pid = victim.info.backend_pid
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(psycopg.Error) as killed:
            victim.execute("SELECT 1")
    assert (storage_fault(killed.value) or "").startswith("PostgreSQL: ")
    with (
        psycopg.connect(conninfo, autocommit=True) as conn,
        pytest.raises(psycopg.Error) as missing,
    ):
        conn.execute("SELECT * FROM caseledger_no_such_table")
    assert storage_fault(missing.value) is None
    assert "does not exist" in (database_error(missing.value) or "")


def test_probe_names_the_database_and_why(tmp_path: Path) -> None:
    url = parse_storage_url(f"postgresql://root@127.0.0.1:{free_port()}/caseledger")
    with pytest.raises(StorageUnavailable) as refused:
        probe(url)
    assert str(refused.value).startswith(url.redacted() + ": PostgreSQL: ")
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"x" * 4096)
    with pytest.raises(StorageUnavailable, match="file is not a database"):
        probe(parse_storage_url(f"sqlite:///{garbage}"))
    probe(parse_storage_url(f"sqlite:///{tmp_path / 'fresh.sqlite3'}"))  # a new file is fine
    assert isinstance(refused.value, LedgerError)
