"""Storage faults: which errors mean "the database is unavailable now — retry later".

Layer: ledger storage (the database edge). The HTTP API answers such a fault 503 with
``Retry-After`` and the CLI exits 2 with one line (``api.http.problems``, ``api.cli.main``);
everything else keeps its own meaning (a refused command is a ``RuleViolation``, a bug is a
500). Following eventsourcing's habit of converting database errors at the edge, one function
decides for every backend, looking through the causes an adapter wrapped around the driver's
error (``SubjectKeyStoreError`` … ``from exc``):

- PostgreSQL (psycopg 3): ``OperationalError`` — no connection (refused, unknown database or
  role, ``too many clients``, a pool that found no connection in time), a backend killed
  (``AdminShutdown``, SQLSTATE 57P01), a cancelled statement, a full disk, a serialization
  failure — and ``InterfaceError`` (the connection closed under us); SQLSTATE 25006 (a
  read-only standby after a failover).
- SQLite: the primary result codes of the environment (``SQLITE_BUSY``/``LOCKED`` — a file
  locked past the busy timeout —, ``PERM``, ``NOMEM``, ``READONLY``, ``IOERR``, ``CORRUPT``,
  ``FULL``, ``CANTOPEN``, ``PROTOCOL``, ``NOTADB``); ``SQLITE_ERROR`` (bad SQL, a missing table)
  is a bug or a configuration error, not a fault.
- eventsourcing's ``OperationalError``/``InterfaceError`` when no driver error is found behind
  them; :class:`StorageUnavailable` raised by our own code; an ``OSError`` of the disk
  (``ENOSPC``, ``EIO``, ``EROFS``, ``EDQUOT``).

The reason is one line without personal data: connection and server messages of these kinds
name hosts, databases and roles, never row values.
"""

from __future__ import annotations

import errno
import sqlite3
import sys
from typing import Final

from eventsourcing.persistence import InterfaceError as ESInterfaceError
from eventsourcing.persistence import OperationalError as ESOperationalError

from ledger.errors import LedgerError
from ledger.storage.urls import POOL_WAIT_SECONDS, StorageURL

__all__ = [
    "RETRY_AFTER_SECONDS",
    "StorageUnavailable",
    "database_error",
    "probe",
    "storage_fault",
]

RETRY_AFTER_SECONDS: Final = 5
"""What ``Retry-After`` tells a client after a storage fault."""
PROBE_TIMEOUT_SECONDS: Final = 5
"""How long :func:`probe` waits for a PostgreSQL connection."""
MAX_REASON: Final = 240
"""Longest reason text (one line)."""

_SQLITE_FAULTS: Final = frozenset({3, 5, 6, 7, 8, 10, 11, 13, 14, 15, 26})
"""Primary SQLite result codes of the environment: PERM, BUSY, LOCKED, NOMEM, READONLY,
IOERR, CORRUPT, FULL, CANTOPEN, PROTOCOL, NOTADB."""
_PG_FAULT_STATES: Final = frozenset({"25006"})
"""SQLSTATEs of faults outside psycopg's ``OperationalError`` (read-only transaction)."""
_DISK_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EIO, errno.EROFS, errno.EDQUOT})


class StorageUnavailable(LedgerError):
    """The database could not be reached or used: a fault of the infrastructure, not of the
    request. Retry later; nothing was recorded by the command that met it, unless its
    commit was the step that failed (idempotency keys make that retry safe)."""


def storage_fault(exc: BaseException) -> str | None:
    """The one-line reason if ``exc`` (or an error it was raised from) is a storage fault,
    else ``None``. Never raises."""
    if isinstance(exc, StorageUnavailable):  # ours: it names the database already
        return _one_line(exc)
    seen: set[int] = set()
    wrapped_fault: str | None = None
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 32:
        seen.add(id(current))
        verdict = _driver_verdict(current)
        if verdict is not None:  # the driver's own error decides
            return verdict or None
        if wrapped_fault is None and isinstance(
            current, StorageUnavailable | ESOperationalError | ESInterfaceError
        ):
            wrapped_fault = _one_line(current)
        if isinstance(current, OSError) and current.errno in _DISK_ERRNOS:
            return _one_line(current)
        current = current.__cause__ or current.__context__
    return wrapped_fault


def database_error(exc: BaseException) -> str | None:
    """One line naming the database driver's error behind ``exc`` (a fault or not: a
    permission denied, a missing table), else ``None``. Never raises."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 32:
        seen.add(id(current))
        if _driver_verdict(current) is not None:
            return _one_line(current)
        current = current.__cause__ or current.__context__
    return None


def _driver_verdict(exc: BaseException) -> str | None:
    """``None``: not a driver error; ``""``: a driver error that is no fault; else the reason."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF in _SQLITE_FAULTS:
            return f"SQLite: {_one_line(exc)}"
        return ""
    psycopg = sys.modules.get("psycopg")  # never imported: cannot be one of its errors
    if psycopg is not None and isinstance(exc, psycopg.Error):
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            pools = sys.modules.get("psycopg_pool")
            if pools is not None and isinstance(exc, pools.PoolTimeout):
                return (
                    f"PostgreSQL: no connection within {POOL_WAIT_SECONDS} s (the server is "
                    "down, refuses connections, or has too many clients)"
                )
            return f"PostgreSQL: {_one_line(exc)}"
        if getattr(exc, "sqlstate", None) in _PG_FAULT_STATES:
            return f"PostgreSQL: {_one_line(exc)}"
        return ""
    return None


def _one_line(exc: BaseException) -> str:
    """The first line of the message (libpq adds hints on the next ones), whitespace folded."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    text = " ".join(lines[0].split()) if lines else type(exc).__name__
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def probe(storage: StorageURL) -> None:
    """Check that the database answers, quickly and with a precise reason.

    PostgreSQL: one direct connection (at most :data:`PROBE_TIMEOUT_SECONDS`), so a refused
    connection, an unknown database or role, or ``too many clients`` is reported at once
    instead of after a pool's wait. SQLite: the file's header is read (a file that is not
    a database, or cannot be opened). Raises :class:`StorageUnavailable`.
    """
    if storage.is_sqlite:
        if ":memory:" in storage.path:
            return
        try:
            conn = sqlite3.connect(storage.path, timeout=PROBE_TIMEOUT_SECONDS)
            try:
                conn.execute("PRAGMA schema_version").fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise StorageUnavailable(
                f"{storage.redacted()}: {storage_fault(exc) or _one_line(exc)}"
            ) from exc
        return
    import psycopg

    try:
        with psycopg.connect(storage.conninfo, connect_timeout=PROBE_TIMEOUT_SECONDS) as pg:
            pg.execute("SELECT 1")
    except psycopg.Error as exc:
        raise StorageUnavailable(
            f"{storage.redacted()}: {storage_fault(exc) or _one_line(exc)}"
        ) from exc
