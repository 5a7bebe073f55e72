"""The chain entry of a notification: what a view's seal records and is checked against.

Layer: projections (edge: reads the ledger's ``chain_entries`` table, docs/FORMAT.md §2, by
its unique ``notification_id`` index: one indexed look-up). A view seals the position it has
applied up to with the chain sequence and entry hash of the event there
(``projections.store``); ``projections.verify`` looks the same notification up again and
compares, so a view built from another log, or left standing when the log beneath it was
rolled back or rewritten, is found.
"""

from __future__ import annotations

from typing import Any

from psycopg.sql import SQL, Identifier

from ledger.services.application import LedgerApplication
from projections.store import ChainLink

__all__ = ["chain_link"]


def chain_link(app: LedgerApplication, notification_id: int) -> ChainLink | None:
    """The chain entry recorded for ``notification_id`` (its sequence and entry hash), or
    None when the log has no entry for it."""
    recorder: Any = app.recorder
    table = recorder.chain_table_name
    datastore = recorder.datastore
    schema = getattr(datastore, "schema", None)
    with datastore.transaction(commit=False) as cursor:
        if schema is None:  # SQLite
            cursor.execute(
                f"SELECT sequence, entry_hash FROM {table} WHERE notification_id = ?",
                (notification_id,),
            )
        else:
            cursor.execute(
                SQL("SELECT sequence, entry_hash FROM {0}.{1} WHERE notification_id = %s").format(
                    Identifier(schema), Identifier(table)
                ),
                (notification_id,),
            )
        row = cursor.fetchone()
    if row is None:
        return None
    return ChainLink(int(row["sequence"]), bytes(row["entry_hash"]))
