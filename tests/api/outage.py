"""Pulling plugs on a real ``caseledger serve``: its own PostgreSQL role, so that the test can
kill exactly its backends (``pg_terminate_backend``), refuse its connections (``CONNECTION
LIMIT 0``: "too many connections for role") and hold locks that make a request wait where
the test wants to kill it. Nothing here touches other sessions of the shared server."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import psycopg
from psycopg import sql

from ledger.storage.urls import parse_storage_url
from tests.conftest import _pg_base, _pg_conninfo


@dataclass
class Outage:
    """Server-side controls over the connections of one role."""

    role: str
    schema: str
    admin: psycopg.Connection[Any] = field(repr=False)

    def kill(self, *, waiting: bool = False) -> int:
        """Terminate the role's backends (only those waiting for a lock, if ``waiting``) and
        wait until each has exited (so its FATAL message and closed socket have reached the
        server's pools: the kill is over when the next request comes)."""
        query = (
            "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity"
            " WHERE usename = %s" + (" AND wait_event_type = 'Lock'" if waiting else "")
        )
        row = self.admin.execute(query, (self.role,)).fetchone()
        return int(row[0]) if row else 0

    def waiting(self) -> int:
        row = self.admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND wait_event_type = 'Lock'",
            (self.role,),
        ).fetchone()
        return int(row[0]) if row else 0

    def refuse(self) -> None:
        """From now on every new connection of the role is refused; the open ones die."""
        self.admin.execute(
            sql.SQL("ALTER ROLE {} CONNECTION LIMIT 0").format(sql.Identifier(self.role))
        )
        self.kill()

    def restore(self) -> None:
        self.admin.execute(
            sql.SQL("ALTER ROLE {} CONNECTION LIMIT -1").format(sql.Identifier(self.role))
        )

    @contextmanager
    def locked(self, table: str) -> Iterator[None]:
        """Hold ``table`` of the served schema in ACCESS EXCLUSIVE mode (on a connection of
        the test's own), so the server's statements on it wait."""
        with psycopg.connect(_pg_conninfo(_pg_base()), autocommit=True) as conn:
            conn.execute("BEGIN")
            conn.execute(
                sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                    sql.Identifier(self.schema, table)
                )
            )
            try:
                yield
            finally:
                conn.execute("ROLLBACK")


@contextmanager
def role_storage() -> Iterator[tuple[str, Outage]]:
    """A storage URL for a fresh role owning a fresh schema, and the controls over it."""
    role = f"cl_fault_{uuid.uuid4().hex[:10]}"
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(_pg_conninfo(_pg_base()), autocommit=True)
    try:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        admin.execute(
            sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
                sql.Identifier(schema), sql.Identifier(role)
            )
        )
        base = parse_storage_url(_pg_base())
        admin.execute(
            sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                sql.Identifier(base.dbname), sql.Identifier(role)
            )
        )
        url = replace(base, user=role, password="", schema=schema).url()
        outage = Outage(role, schema, admin)
        try:
            yield url, outage
        finally:
            outage.restore()
            outage.kill()
            admin.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
    finally:
        admin.close()


def in_background(call: Callable[[], httpx.Response]) -> tuple[threading.Thread, list[Any]]:
    """Run one HTTP call in a thread; its response (or error) lands in the list."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(call())
        except Exception as exc:  # reported by the test's assertion on ``out``
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def kill_while_waiting(outage: Outage, thread: threading.Thread, *, every: bool) -> int:
    """Kill the role's backends that wait for a lock until ``thread`` ends (``every``) or
    once; returns how many were killed."""
    killed = 0
    deadline = time.monotonic() + 90
    while thread.is_alive() and time.monotonic() < deadline:
        if outage.waiting():
            killed += outage.kill(waiting=True)
            if killed and not every:
                break
        time.sleep(0.02)
    return killed
