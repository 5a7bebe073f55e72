"""Test helpers: a small aggregate, a bootstrapped ledger, and raw SQL for tampering.

Tampering goes straight to the real database (sqlite3 / psycopg), the way an
operator with database access would, never through our own code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Aggregate, event

from api.demo import attacks
from ledger.chain.signing import Ed25519Signer
from ledger.domain.keys import KeyRole
from ledger.domain.signer import Signer
from ledger.services.application import LedgerApplication, open_ledger
from ledger.storage.urls import parse_storage_url


class Note(Aggregate):
    """A tiny aggregate for storage tests."""

    @event("Opened")
    def __init__(self, title: str) -> None:
        self.title = title
        self.lines: list[str] = []

    @event("Written")
    def write(self, line: str) -> None:
        self.lines.append(line)


@dataclass
class Ledger:
    url: str
    app: LedgerApplication
    platform: Ed25519Signer
    department: Ed25519Signer

    @property
    def keys(self) -> dict[bytes, Ed25519Signer]:
        """Every key of this ledger by key id: what an attacker who stole them all holds."""
        return {s.key_id: s for s in (self.platform, self.department)}

    def note(self, lines: int = 2, signer: Ed25519Signer | None = None) -> Note:
        note = Note(title="note")
        for i in range(lines):
            note.write(f"line {i}")
        self.app.save(note, signer=signer or self.department)
        return note


def bootstrapped(url: str) -> tuple[LedgerApplication, Ed25519Signer]:
    """A migrated ledger at ``url`` with its genesis signed by a fresh platform key."""
    app = open_ledger(url, migrate=True)
    platform = Ed25519Signer.generate("platform")
    app.bootstrap(platform)
    return app, platform


def enrol(
    app: LedgerApplication, by: Signer, actor: str, role: KeyRole, department: str = ""
) -> Ed25519Signer:
    """A fresh key for ``actor``, registered in ``app`` under the platform key ``by``."""
    signer = Ed25519Signer.generate(actor)
    app.register_key(
        signer.public_key,
        signer.key_id,
        actor=actor,
        role=role,
        department=department,
        by=by,
    )
    return signer


def new_ledger(url: str) -> Ledger:
    """A migrated ledger with a platform key (genesis) and one department key."""
    app, platform = bootstrapped(url)
    department = enrol(app, platform, "dept:TEST", KeyRole.DEPARTMENT, "TEST")
    return Ledger(url, app, platform, department)


def event_id_column(url: str) -> str:
    return "rowid" if parse_storage_url(url).is_sqlite else "notification_id"


def events_table(url: str) -> str:
    """eventsourcing names the table stored_events on SQLite and <app>_events on PostgreSQL."""
    return "stored_events" if parse_storage_url(url).is_sqlite else "caseledger_events"


def run_sql(url: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run raw SQL on the backend behind ``url`` (``?`` placeholders on both)."""
    return attacks.run_sql(url, sql, params)
