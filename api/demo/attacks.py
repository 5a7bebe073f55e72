"""What an operator with write access to the database, but no keys, can do to a ledger.

Layer: api (demo). The demo's tamper stage and the test suite's attacks run these on real
databases (SQLite files, PostgreSQL schemas) with raw SQL, the way such an operator would:
delete, reorder or insert whole commands, move a timestamp, cut the tail — and then relink,
recomputing every later entry hash, which needs no key (entry hashes are plain SHA-256).
Chain format 2 (docs/FORMAT.md §3) makes each of these break the signature of the command
that follows; docs/FORMAT.md §8 lists every threat and the test that plays it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

import psycopg

from ledger.chain.entries import GENESIS_HASH, ChainEntry, EventDigest, command_message, sha256
from ledger.domain.signer import Signer
from ledger.encoding import canonical, decode
from ledger.storage.urls import parse_storage_url

__all__ = [
    "delete_command",
    "insert_command",
    "relink",
    "rename_actor",
    "rewrite_event",
    "run_sql",
    "shift_timestamp",
    "swap_commands",
    "truncate",
]

_COLUMNS = (
    "sequence, notification_id, prev_hash, entry_hash, originator_id, originator_version, "
    "topic, timestamp, state_hash, key_id, signature, command_index, command_size"
)


def run_sql(url: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run raw SQL on the backend behind ``url``: ``?`` placeholders, ``stored_events`` and
    ``rowid`` name the events table and its id column on both backends."""
    storage = parse_storage_url(url)
    if storage.is_sqlite:
        with sqlite3.connect(storage.path) as conn:
            rows = conn.execute(sql, params).fetchall()
            conn.commit()
            return rows
    with psycopg.connect(storage.conninfo, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{storage.schema or "public"}"')
        sql = sql.replace("stored_events", "caseledger_events").replace("rowid", "notification_id")
        cur = conn.execute(sql.replace("?", "%s"), params)
        return list(cur.fetchall()) if cur.description else []


def _entries(url: str, start: int) -> list[ChainEntry]:
    rows = run_sql(
        url, f"SELECT {_COLUMNS} FROM chain_entries WHERE sequence >= ? ORDER BY sequence", (start,)
    )
    return [_entry(r) for r in rows]


def _entry(r: tuple[Any, ...]) -> ChainEntry:
    oid = r[4]
    try:
        originator: UUID | str = UUID(oid)
    except ValueError:
        originator = oid
    return ChainEntry(
        sequence=r[0],
        prev_hash=bytes(r[2]),
        originator_id=originator,
        originator_version=r[5],
        topic=r[6],
        timestamp=r[7],
        state_hash=bytes(r[8]),
        key_id=bytes(r[9]),
        signature=bytes(r[10]),
        command_index=r[11],
        command_size=r[12],
        entry_hash=bytes(r[3]),
    )


def _hash_before(url: str, sequence: int) -> bytes:
    rows = run_sql(url, "SELECT entry_hash FROM chain_entries WHERE sequence = ?", (sequence - 1,))
    return bytes(rows[0][0]) if rows else GENESIS_HASH


def relink(url: str, start: int, signers: Mapping[bytes, Signer] | None = None) -> int:
    """Recompute ``prev`` and the entry hash of every entry from ``start`` on, which needs no
    key; with ``signers`` (stolen keys, by key id) also re-sign, in its new place, each command
    whose key is among them (the others keep their now broken signatures). Returns the entries
    rewritten.
    """
    prev = _hash_before(url, start)
    entries = _entries(url, start)
    signature: bytes | None = None
    for e in entries:
        if e.command_index == 0:
            signer = None if signers is None else signers.get(e.key_id)
            signature = None
            if signer is not None:  # a key the attacker does not hold keeps its old signature
                group = [
                    g for g in entries if e.sequence <= g.sequence < e.sequence + e.command_size
                ]
                signature = signer.sign(
                    command_message(
                        [g.digest for g in group],
                        sequence=e.sequence,
                        prev_hash=prev,
                        timestamp=e.timestamp,
                    )
                )
        moved = replace(e, prev_hash=prev, signature=signature or e.signature)
        new_hash = moved.compute_hash()
        run_sql(
            url,
            "UPDATE chain_entries SET prev_hash = ?, entry_hash = ?, signature = ? "
            "WHERE sequence = ?",
            (prev, new_hash, moved.signature, e.sequence),
        )
        prev = new_hash
    return len(entries)


def rewrite_event(
    url: str, sequence: int, state: bytes, signers: Mapping[bytes, Signer] | None = None
) -> None:
    """Replace the stored state of the event at ``sequence`` and relink (re-signing with
    ``signers`` if given: a rewrite by someone who holds every later actor's key)."""
    (nid,) = run_sql(
        url, "SELECT notification_id FROM chain_entries WHERE sequence = ?", (sequence,)
    )[0]
    run_sql(url, "UPDATE stored_events SET state = ? WHERE rowid = ?", (state, nid))
    run_sql(
        url, "UPDATE chain_entries SET state_hash = ? WHERE sequence = ?", (sha256(state), sequence)
    )
    first, _ = _command_at(url, sequence)
    relink(url, first, signers)


def rename_actor(url: str, sequence: int, signers: Mapping[bytes, Signer] | None = None) -> None:
    """Alter the actor named by the key registration at ``sequence`` (the genesis command's
    neighbour in every ledger) and relink: :func:`rewrite_event` on a real event."""
    ((state,),) = run_sql(
        url,
        "SELECT state FROM stored_events WHERE rowid = "
        "(SELECT notification_id FROM chain_entries WHERE sequence = ?)",
        (sequence,),
    )
    value = decode(bytes(state))
    value["actor"] = str(value.get("actor", "")) + " (rewritten)"
    rewrite_event(url, sequence, canonical(value), signers)


def _command_at(url: str, sequence: int) -> tuple[int, int]:
    """(first sequence, size) of the command holding ``sequence``."""
    ((index, size),) = run_sql(
        url, "SELECT command_index, command_size FROM chain_entries WHERE sequence = ?", (sequence,)
    )
    return sequence - index, size


def _renumber(url: str, after: int, shift: int) -> None:
    """Move every entry after ``after`` by ``shift`` sequences (through negative numbers, so no
    two rows share a sequence on the way)."""
    run_sql(url, "UPDATE chain_entries SET sequence = -sequence WHERE sequence > ?", (after,))
    run_sql(url, "UPDATE chain_entries SET sequence = -sequence + ? WHERE sequence < 0", (shift,))


def truncate(url: str, keep: int) -> None:
    """Drop every entry (and its event) after sequence ``keep``: a cut tail."""
    run_sql(
        url,
        "DELETE FROM stored_events WHERE rowid IN "
        "(SELECT notification_id FROM chain_entries WHERE sequence > ?)",
        (keep,),
    )
    run_sql(url, "DELETE FROM chain_entries WHERE sequence > ?", (keep,))


def delete_command(url: str, sequence: int) -> tuple[int, int]:
    """Remove the whole command holding ``sequence`` (its events and entries), close the gap
    and relink. Returns the removed command's (first sequence, size)."""
    first, size = _command_at(url, sequence)
    last = first + size - 1
    run_sql(
        url,
        "DELETE FROM stored_events WHERE rowid IN (SELECT notification_id FROM chain_entries "
        "WHERE sequence BETWEEN ? AND ?)",
        (first, last),
    )
    run_sql(url, "DELETE FROM chain_entries WHERE sequence BETWEEN ? AND ?", (first, last))
    _renumber(url, last, -size)
    relink(url, first)
    return first, size


def swap_commands(url: str, first: int) -> None:
    """Swap the one-event commands at ``first`` and ``first + 1`` (events and entries), keep
    the timestamps in place, and relink."""
    a, b = _entries(url, first)[:2]
    if (a.command_size, b.command_size) != (1, 1):
        raise ValueError("swap_commands: both commands must hold one event")
    ids = [
        r[0]
        for r in run_sql(
            url,
            "SELECT notification_id FROM chain_entries WHERE sequence IN (?, ?) ORDER BY sequence",
            (first, first + 1),
        )
    ]
    events = {
        n: run_sql(
            url,
            "SELECT originator_id, originator_version, topic, state FROM stored_events "
            "WHERE rowid = ?",
            (n,),
        )[0]
        for n in ids
    }
    run_sql(url, "DELETE FROM stored_events WHERE rowid IN (?, ?)", tuple(ids))
    for n, other in ((ids[0], ids[1]), (ids[1], ids[0])):
        run_sql(
            url,
            "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?, ?)",
            (n, *events[other]),
        )
    for target, source in ((a, b), (b, a)):
        run_sql(
            url,
            "UPDATE chain_entries SET originator_id = ?, originator_version = ?, topic = ?, "
            "state_hash = ?, key_id = ?, signature = ? WHERE sequence = ?",
            (
                str(source.originator_id).replace("-", "")
                if parse_storage_url(url).is_sqlite
                else str(source.originator_id),
                source.originator_version,
                source.topic,
                source.state_hash,
                source.key_id,
                source.signature,
                target.sequence,
            ),
        )
    relink(url, first)


def shift_timestamp(url: str, sequence: int, micros: int) -> None:
    """Move the recording time of the command holding ``sequence`` by ``micros`` and relink."""
    first, size = _command_at(url, sequence)
    run_sql(
        url,
        "UPDATE chain_entries SET timestamp = timestamp + ? WHERE sequence BETWEEN ? AND ?",
        (micros, first, first + size - 1),
    )
    relink(url, first)


def insert_command(
    url: str, after: int, originator_id: UUID, topic: str, state: bytes, signer: Signer
) -> int:
    """Insert a one-event command signed, in its place, by ``signer`` (a stolen key) right
    after sequence ``after``: later events and entries move up by one, then relink.
    Returns the new command's sequence."""
    (row,) = run_sql(
        url, "SELECT notification_id, timestamp FROM chain_entries WHERE sequence = ?", (after,)
    )
    nid, timestamp = row
    later = run_sql(
        url, "SELECT rowid FROM stored_events WHERE rowid > ? ORDER BY rowid DESC", (nid,)
    )
    for (n,) in later:
        run_sql(url, "UPDATE stored_events SET rowid = rowid + 1 WHERE rowid = ?", (n,))
    run_sql(
        url,
        "UPDATE chain_entries SET notification_id = -notification_id WHERE sequence > ?",
        (after,),
    )
    run_sql(
        url,
        "UPDATE chain_entries SET notification_id = -notification_id + 1 WHERE notification_id < 0",
    )
    _renumber(url, after, 1)
    storage = parse_storage_url(url)
    oid = originator_id.hex if storage.is_sqlite else str(originator_id)
    run_sql(
        url,
        "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) "
        "VALUES (?, ?, ?, ?, ?)",
        (nid + 1, oid, 1, topic, state),
    )
    digest = EventDigest(originator_id, 1, topic, sha256(state))
    prev = _hash_before(url, after + 1)
    signature = signer.sign(
        command_message([digest], sequence=after + 1, prev_hash=prev, timestamp=timestamp)
    )
    entry = ChainEntry(
        after + 1,
        prev,
        originator_id,
        1,
        topic,
        timestamp,
        digest.state_hash,
        signer.key_id,
        signature,
        0,
        1,
    )
    run_sql(
        url,
        f"INSERT INTO chain_entries ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            entry.sequence,
            nid + 1,
            entry.prev_hash,
            entry.compute_hash(),
            oid,
            1,
            topic,
            timestamp,
            entry.state_hash,
            entry.key_id,
            signature,
            0,
            1,
        ),
    )
    relink(url, after + 2)
    return after + 1
