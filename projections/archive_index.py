"""Read model of the archive (档案目录): archived cases, their retention and package digest,
and the ended cases still waiting for their transfer.

Layer: projections. Built from ``ledger.domain.archiving`` events (RULES.md "Archiving": NH·22,
FZ·21, GZ20·24): one row per archived case with its latest transfer — payload digest, retention
code (Y / D30 / D10, DA/T 70-2018), who transferred it and when, how many events the package
holds — and how many transfers there were. The platform archives a case automatically once it
has ended (NH·22, FZ·21), so the view also follows the cases' submission and ending events:
``view_archive_waiting`` holds a row per case from submission until its first transfer, with the
instant it ended (办结 / 不予受理 / 退件 / 撤回), which gives the automatic archiver its work and
``/readyz`` its archiving lag (:func:`archive_lag`). A pure function of the log (DESIGN
invariant 4).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ledger.domain.archiving import (
    ARCHIVE_OPENED_TOPIC,
    ARCHIVE_TRANSFERRED_TOPIC,
    TERMINAL_STATES,
)
from projections.common import Topics, id_text, utc_text
from projections.store import Table, Tx
from projections.view import View, on

__all__ = [
    "ARCHIVE_INDEX",
    "ARCHIVE_WAITING",
    "ArchiveIndexView",
    "ArchiveLag",
    "archive_lag",
    "archived_cases",
    "ended_unarchived",
]

ARCHIVE_INDEX = Table(
    "view_archive_index",
    (
        ("serial", "TEXT"),
        ("record_id", "TEXT"),
        ("case_id", "TEXT"),
        ("retention", "TEXT"),
        ("payload_digest", "BLOB"),
        ("event_count", "BIGINT"),
        ("archivist", "TEXT"),
        ("transferred_at", "TEXT"),
        ("transfers", "BIGINT"),
    ),
    ("serial",),
    (("record_id",), ("retention",)),
)
ARCHIVE_WAITING = Table(
    "view_archive_waiting",
    (("case_id", "TEXT"), ("serial", "TEXT"), ("ended_at", "TEXT")),
    ("case_id",),
    (("ended_at",),),
)


class ArchiveIndexView(View):
    name = "archive_index"
    tables = (ARCHIVE_INDEX, ARCHIVE_WAITING)

    @on(Topics.SUBMITTED)
    def case_submitted(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "INSERT INTO view_archive_waiting VALUES (?, ?, NULL)",
            (id_text(e.originator_id), e.serial),
        )

    @on(Topics.REFUSED, Topics.CLOSED, Topics.WITHDRAWN)
    def case_ended(self, tx: Tx, e: Any) -> None:
        if getattr(e, "state", "closed") not in TERMINAL_STATES:
            return
        tx.execute(
            "UPDATE view_archive_waiting SET ended_at = ? WHERE case_id = ? AND ended_at IS NULL",
            (utc_text(e.at), id_text(e.originator_id)),
        )

    @on(ARCHIVE_OPENED_TOPIC)
    def opened(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "INSERT INTO view_archive_index VALUES (?, ?, ?, '', ?, 0, '', '', 0)",
            (e.serial, id_text(e.originator_id), str(e.case_id), b""),
        )

    @on(ARCHIVE_TRANSFERRED_TOPIC)
    def transferred(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_archive_index SET retention = ?, payload_digest = ?, event_count = ?, "
            "archivist = ?, transferred_at = ?, transfers = transfers + 1 WHERE record_id = ?",
            (
                e.retention,
                e.payload_digest,
                e.event_count,
                e.archivist,
                e.transferred_at.isoformat(),
                id_text(e.originator_id),
            ),
        )
        tx.execute(
            "DELETE FROM view_archive_waiting WHERE case_id = "
            "(SELECT case_id FROM view_archive_index WHERE record_id = ?)",
            (id_text(e.originator_id),),
        )


def archived_cases(
    view: View, *, retention: str | None = None, limit: int = 1000, after: str = ""
) -> list[dict[str, Any]]:
    """Archived cases ordered by serial (``after`` pages on), optionally of one retention."""
    sql = (
        "SELECT serial, case_id, retention, payload_digest, event_count, archivist, "
        "transferred_at, transfers FROM view_archive_index WHERE serial > ?"
    )
    params: list[Any] = [after]
    if retention is not None:
        sql += " AND retention = ?"
        params.append(retention)
    sql += " ORDER BY serial LIMIT ?"
    params.append(limit)
    with view.store.transaction(commit=False) as tx:
        tx.execute(sql, params)
        rows = tx.fetchall()
    return [
        {
            "serial": r[0],
            "case_id": r[1],
            "retention": r[2],
            "payload_digest": "sha512:" + bytes(r[3]).hex(),
            "event_count": r[4],
            "archivist": r[5],
            "transferred_at": r[6],
            "transfers": r[7],
        }
        for r in rows
    ]


@dataclass(frozen=True)
class ArchiveLag:
    """Ended cases not yet transferred to the archive, and since when the oldest waits."""

    waiting: int
    oldest_ended_at: dt.datetime | None

    def oldest_age_seconds(self, now: dt.datetime) -> float | None:
        if self.oldest_ended_at is None:
            return None
        return max(0.0, (now - self.oldest_ended_at).total_seconds())


def archive_lag(view: View) -> ArchiveLag:
    """How many ended cases wait for their archive transfer (NH·22, FZ·21), oldest end first."""
    with view.store.transaction(commit=False) as tx:
        tx.execute(
            "SELECT COUNT(*), MIN(ended_at) FROM view_archive_waiting WHERE ended_at IS NOT NULL"
        )
        count, oldest = tx.fetchone()
    return ArchiveLag(
        int(count or 0), None if oldest is None else dt.datetime.fromisoformat(oldest)
    )


def ended_unarchived(view: View, *, limit: int = 100) -> list[str]:
    """Serials of ended cases not yet archived, the longest waiting first."""
    with view.store.transaction(commit=False) as tx:
        tx.execute(
            "SELECT serial FROM view_archive_waiting WHERE ended_at IS NOT NULL "
            "ORDER BY ended_at, serial LIMIT ?",
            (limit,),
        )
        return [str(r[0]) for r in tx.fetchall()]
