"""Storage URLs and the settings the chained recorders refuse to run with."""

from __future__ import annotations

import pytest

from ledger.errors import ConfigurationError
from ledger.storage.urls import parse_storage_url


def test_a_sqlite_url_names_its_file() -> None:
    url = parse_storage_url("sqlite:///var/x/ledger.sqlite3")
    assert url.is_sqlite and url.path == "var/x/ledger.sqlite3"
    assert parse_storage_url("sqlite:////abs/l.sqlite3").path == "/abs/l.sqlite3"


def test_a_postgresql_url_gives_host_port_user_database_and_schema() -> None:
    url = parse_storage_url("postgresql://root@127.0.0.1:5433/test?schema=district_a")
    assert (url.host, url.port, url.user, url.dbname, url.schema) == (
        "127.0.0.1",
        5433,
        "root",
        "test",
        "district_a",
    )
    assert "secret" not in parse_storage_url("postgresql://u:secret@h/db").redacted()


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///var/城市 ledger.sqlite3",
        "postgresql://root@127.0.0.1:5432/test",
        "postgresql://app:p%40ss%3Aw%2Fd@db.example:6543/ledger?schema=tianhe",
    ],
)
def test_a_parsed_url_gives_itself_back_with_its_password(url: str) -> None:
    storage = parse_storage_url(url)
    assert parse_storage_url(storage.url()) == storage
    assert "p%40ss" not in storage.redacted()


def test_the_environment_supplies_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASELEDGER_DB", "sqlite:///from/env.sqlite3")
    assert parse_storage_url().path == "from/env.sqlite3"
    monkeypatch.delenv("CASELEDGER_DB")
    assert parse_storage_url().path == "./var/caseledger.sqlite3"


@pytest.mark.parametrize(
    "url", ["mysql://x/y", "sqlite://relative", "postgresql:///nohost", "postgresql://h:99999/db"]
)
def test_unusable_urls_are_refused_naming_the_option(url: str) -> None:
    with pytest.raises(ConfigurationError, match="--db"):
        parse_storage_url(url)


def test_database_functions_are_refused_because_they_skip_the_chain_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSTGRES_ENABLE_DB_FUNCTIONS", "yes")
    with pytest.raises(ConfigurationError, match="POSTGRES_ENABLE_DB_FUNCTIONS"):
        parse_storage_url("postgresql://root@127.0.0.1/test").event_store_env()


def test_a_recorder_on_a_datastore_with_database_functions_refuses_to_start(
    pg_schema_url: str,
) -> None:
    from eventsourcing.postgres import PostgresDatastore

    from ledger.chain.recorders.postgres import ChainedPostgresApplicationRecorder

    s = parse_storage_url(pg_schema_url)
    datastore = PostgresDatastore(
        s.dbname, s.host, s.port, s.user, s.password, schema=s.schema, enable_db_functions=True
    )
    try:
        with pytest.raises(ConfigurationError, match="skips the table lock"):
            ChainedPostgresApplicationRecorder(datastore)
    finally:
        datastore.close()


def test_tables_are_not_created_by_opening_a_ledger(sqlite_url: str) -> None:
    from ledger.services.application import open_ledger
    from tests.helpers import run_sql

    open_ledger(sqlite_url, migrate=True).close()
    tables = {
        r[0] for r in run_sql(sqlite_url, "SELECT name FROM sqlite_master WHERE type='table'")
    }
    assert {"stored_events", "chain_entries"} <= tables
    assert parse_storage_url(sqlite_url).event_store_env()["CREATE_TABLE"] == "n"
