"""Read model of the archive (档案目录): archived cases, their retention and package digest.

Layer: projections. Built only from ``ledger.domain.archiving`` events (RULES.md "Archiving": NH·22,
FZ·21, GZ20·24): one row per archived case with its latest transfer — payload digest, retention
code (Y / D30 / D10, DA/T 70-2018), who transferred it and when, how many events the package
holds — and how many transfers there were. A pure function of the log (DESIGN invariant 4).
"""

from __future__ import annotations

from typing import Any

from ledger.domain.archiving import ARCHIVE_OPENED_TOPIC, ARCHIVE_TRANSFERRED_TOPIC
from projections.store import Table, Tx
from projections.view import View, on

__all__ = ["ARCHIVE_INDEX", "ArchiveIndexView", "archived_cases"]

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


class ArchiveIndexView(View):
    name = "archive_index"
    tables = (ARCHIVE_INDEX,)

    @on(ARCHIVE_OPENED_TOPIC)
    def opened(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "INSERT INTO view_archive_index VALUES (?, ?, ?, '', ?, 0, '', '', 0)",
            (e.serial, str(e.originator_id), str(e.case_id), b""),
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
                str(e.originator_id),
            ),
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
