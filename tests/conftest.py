"""Fixtures shared by every test: real storage backends (SQLite files, the PostgreSQL server).

PostgreSQL tests skip with a reason when no server answers, unless
``CASELEDGER_REQUIRE_POSTGRES=1`` (set by .ci/run), in which case they fail.
Each PostgreSQL test gets its own schema, dropped afterwards. The suite's own rules (no skip
under ``CASELEDGER_FORBID_SKIPS=1``, no child process left running) are ``tests/suite_checks.py``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.suite_checks import (  # noqa: F401  (hooks and the session fixture, registered here)
    no_child_process_left,
    pytest_make_collect_report,
    pytest_runtest_makereport,
    pytest_runtest_teardown,
)

PG_ENV = "CASELEDGER_TEST_PG"
PG_DEFAULT = "postgresql://root@127.0.0.1:5432/test"
REQUIRE_ENV = "CASELEDGER_REQUIRE_POSTGRES"


def _pg_base() -> str:
    return os.environ.get(PG_ENV, PG_DEFAULT)


def _pg_conninfo(url: str) -> str:
    from ledger.storage.urls import parse_storage_url

    return parse_storage_url(url).conninfo


_pg_state: dict[str, str | None] = {}


def postgres_unavailable() -> str | None:
    """None when the PostgreSQL server answers; else the reason."""
    if "reason" not in _pg_state:
        try:
            import psycopg

            with psycopg.connect(_pg_conninfo(_pg_base()), connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            _pg_state["reason"] = None
        except Exception as exc:
            _pg_state["reason"] = f"PostgreSQL at {_pg_base()} does not answer: {exc}"
    return _pg_state["reason"]


def require_postgres() -> None:
    reason = postgres_unavailable()
    if reason is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
    pytest.skip(reason)


@contextmanager
def fresh_pg_schema() -> Iterator[str]:
    """A PostgreSQL storage URL with a fresh schema of its own, dropped on exit."""
    require_postgres()
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    conninfo = _pg_conninfo(_pg_base())
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{_pg_base()}?schema={schema}"
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL storage URL with a fresh schema of its own."""
    with fresh_pg_schema() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on a real SQLite file and on a real PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    else:
        yield request.getfixturevalue("pg_schema_url")


def pg_conninfo_for(url: str) -> str:
    return _pg_conninfo(url)
