"""Storage URLs (``sqlite:///…``, ``postgresql://…``) turned into eventsourcing settings.

Layer: ledger storage (configuration). Contract: DESIGN "Contract" — ``--db URL`` or
``CASELEDGER_DB``, default ``sqlite:///./var/caseledger.sqlite3``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from eventsourcing.utils import get_topic

from ledger.errors import ConfigurationError

DEFAULT_URL = "sqlite:///./var/caseledger.sqlite3"
SQLITE_LOCK_TIMEOUT_SECONDS = 60
POOL_WAIT_SECONDS = 2
"""How long a request waits for a pooled PostgreSQL connection before it fails (then 503,
``ledger.storage.faults``). eventsourcing retries its reads and writes ten times, so a
ledger operation gives up after about 10 × (2 + 0.2) s when the server does not answer."""


@dataclass(frozen=True)
class StorageURL:
    """A parsed storage URL. Build with :func:`parse_storage_url`."""

    scheme: str  # "sqlite" or "postgresql"
    path: str = ""  # SQLite file
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    dbname: str = ""
    schema: str = ""

    @property
    def is_sqlite(self) -> bool:
        return self.scheme == "sqlite"

    @property
    def conninfo(self) -> str:
        """The libpq connection string of a PostgreSQL URL (its schema is not part of it)."""
        info = f"host={self.host} port={self.port} user={self.user} dbname={self.dbname}"
        return info + (f" password={self.password}" if self.password else "")

    def url(self) -> str:
        """The URL this was parsed from, password included (for a child process's
        environment, never for logs: see :meth:`redacted`)."""
        if self.is_sqlite:
            return "sqlite:///" + quote(self.path)
        login = quote(self.user, safe="")
        if self.password:
            login += ":" + quote(self.password, safe="")
        schema = f"?schema={self.schema}" if self.schema else ""
        return f"postgresql://{login}@{self.host}:{self.port}/{self.dbname}{schema}"

    def redacted(self) -> str:
        if self.is_sqlite:
            return f"sqlite:///{self.path}"
        schema = f"?schema={self.schema}" if self.schema else ""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}{schema}"

    def event_store_env(self, *, process: bool = False) -> dict[str, str]:
        """eventsourcing environment for the chained recorders (tables are never auto-created)."""
        if os.environ.get("POSTGRES_ENABLE_DB_FUNCTIONS", "").strip().lower() in {
            "y",
            "yes",
            "t",
            "true",
            "on",
            "1",
        }:
            raise ConfigurationError(
                "POSTGRES_ENABLE_DB_FUNCTIONS is set: it skips the lock that orders the chain"
            )
        if self.is_sqlite:
            from ledger.chain.recorders import sqlite as module

            app_cls: type = module.ChainedSQLiteApplicationRecorder
            proc_cls: type = module.ChainedSQLiteProcessRecorder
            env = {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": self.path,
                "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_SECONDS),
            }
        else:
            from ledger.chain.recorders import postgres as pg

            app_cls = pg.ChainedPostgresApplicationRecorder
            proc_cls = pg.ChainedPostgresProcessRecorder
            env = {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_DBNAME": self.dbname,
                "POSTGRES_HOST": self.host,
                "POSTGRES_PORT": str(self.port),
                "POSTGRES_USER": self.user,
                "POSTGRES_PASSWORD": self.password,
                "POSTGRES_SCHEMA": self.schema,
                "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
                "POSTGRES_CONNECT_TIMEOUT": str(POOL_WAIT_SECONDS),
                "POSTGRES_POOL_SIZE": "4",
                "POSTGRES_MAX_OVERFLOW": "8",
            }
        env["APPLICATION_RECORDER_TOPIC"] = get_topic(app_cls)
        env["PROCESS_RECORDER_TOPIC"] = get_topic(proc_cls)
        env["CREATE_TABLE"] = "n"
        # Hot aggregates (a department's daily serial counter, service items) are kept in
        # memory and fast-forwarded with only their new events, instead of replayed whole.
        env["AGGREGATE_CACHE_MAXSIZE"] = "20000"
        env["AGGREGATE_CACHE_FASTFORWARD"] = "y"
        return env


def parse_storage_url(url: str | None = None) -> StorageURL:
    """Parse ``url`` (or ``$CASELEDGER_DB``, or the default). Raises ConfigurationError."""
    text = (url or os.environ.get("CASELEDGER_DB") or DEFAULT_URL).strip()
    parts = urlsplit(text)
    if parts.scheme == "sqlite":
        path = unquote(text[len("sqlite:///") :]) if text.startswith("sqlite:///") else ""
        if not path:
            raise ConfigurationError(
                f"--db: a SQLite URL is sqlite:///path/file.sqlite3, got {text!r}"
            )
        return StorageURL("sqlite", path=path)
    if parts.scheme in {"postgresql", "postgres"}:
        dbname = parts.path.lstrip("/")
        if not parts.hostname or not dbname:
            raise ConfigurationError(
                f"--db: a PostgreSQL URL is postgresql://user@host:port/dbname, got {text!r}"
            )
        schema = ""
        for pair in parts.query.split("&"):
            key, _, value = pair.partition("=")
            if key == "schema":
                schema = value
        try:
            port = parts.port or 5432
        except ValueError as exc:
            raise ConfigurationError(f"--db: bad port in {text!r}") from exc
        return StorageURL(
            "postgresql",
            host=parts.hostname,
            port=port,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            dbname=dbname,
            schema=schema,
        )
    raise ConfigurationError(
        f"--db: unsupported storage URL {text!r} (use sqlite:///… or postgresql://…)"
    )


def ensure_parent(url: StorageURL) -> None:
    """Create the directory of a SQLite file (the one filesystem side effect of opening).
    Raises ConfigurationError when it cannot be created."""
    if url.is_sqlite and ":memory:" not in url.path:
        parent = Path(url.path).parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"--db: cannot create the directory {parent}: {exc.strerror or exc}"
            ) from exc
