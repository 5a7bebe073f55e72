"""Attacks on a ledger's database, by raw SQL (as an operator with database access would).

``rewrite_chain`` plays an operator who stole the platform key: it alters a platform-signed
event, re-signs its command and recomputes every later entry hash, so the chain verifies on
its own. ``truncate_chain`` drops the tail. Both work on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ledger.chain.entries import command_message, sha256
from ledger.encoding import canonical, decode
from tests.helpers import event_id_column, run_sql


def truncate_chain(url: str, keep: int) -> None:
    column = event_id_column(url)
    run_sql(
        url,
        f"DELETE FROM stored_events WHERE {column} IN "
        "(SELECT notification_id FROM chain_entries WHERE sequence > ?)",
        (keep,),
    )
    run_sql(url, "DELETE FROM chain_entries WHERE sequence > ?", (keep,))


def rewrite_chain(
    url: str,
    chain: Any,
    sequence: int,
    platform: Any,
    change: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Alter the (platform-signed) event at ``sequence`` — its ``actor``, or whatever ``change``
    does to its decoded state — and recompute the chain after it."""
    target = chain.select_links(sequence, 1)[0]
    value = decode(target.event.state)
    if change is None:
        value["actor"] = str(value.get("actor", "")) + " (rewritten)"
    else:
        change(value)
    new_state = canonical(value)
    run_sql(
        url,
        f"UPDATE stored_events SET state = ? WHERE {event_id_column(url)} = ?",
        (new_state, target.notification_id),
    )
    start = sequence - target.entry.command_index
    entries = list(chain.select_entries(start, 1_000_000))
    entries[sequence - start] = dataclasses.replace(
        entries[sequence - start], state_hash=sha256(new_state)
    )
    size = entries[0].command_size
    signature = platform.sign(command_message([e.digest for e in entries[:size]]))
    prev = chain.select_entries(start - 1, 1)[0].entry_hash
    for e in entries:
        changed = dataclasses.replace(
            e, prev_hash=prev, signature=signature if e.sequence < start + size else e.signature
        )
        new_hash = changed.compute_hash()
        run_sql(
            url,
            "UPDATE chain_entries SET prev_hash = ?, entry_hash = ?, state_hash = ?, "
            "signature = ? WHERE sequence = ?",
            (prev, new_hash, changed.state_hash, changed.signature, e.sequence),
        )
        prev = new_hash
