"""A command's rows go into SQLite as multi-row statements, and nothing about them changes.

``ledger.chain.recorders.row_inserts`` splits a batch into power-of-two chunks; the
chained SQLite recorder inserts a command's events and links that way and works out the
events' notification ids from the largest rowid before it (issue 18, goal 5). These tests hold the
chunking to its arithmetic, and the recorder to what the library's row-by-row path gives:
every event at the notification id its link names, in order, the tracking row of a process
recorder kept, and a conflict recording nothing.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking
from eventsourcing.sqlite import SQLiteDatastore

from ledger.chain.recorders.row_inserts import (
    MAX_CHUNK,
    chunk_rows,
    chunk_sizes,
    insert_rows,
)
from ledger.chain.recorders.sqlite import (
    ChainedSQLiteApplicationRecorder,
    ChainedSQLiteProcessRecorder,
)
from ledger.chain.signing import Ed25519Signer

SIGNER = Ed25519Signer.generate("sqlite-inserts")


@pytest.mark.parametrize("count", [0, 1, 2, 3, 100, 255, 256, 257, 513, 1000])
def test_chunks_cover_a_batch_in_powers_of_two_largest_first(count: int) -> None:
    sizes = chunk_sizes(count)
    assert sum(sizes) == count
    assert sizes == sorted(sizes, reverse=True)
    assert all(s & (s - 1) == 0 and 0 < s <= MAX_CHUNK for s in sizes)
    assert len(set(sizes) - {MAX_CHUNK}) == len([s for s in sizes if s != MAX_CHUNK])


def test_rows_go_in_in_their_order(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "rows.sqlite3")
    conn.execute("CREATE TABLE t (a INTEGER, b TEXT)")
    rows = [(i, f"row {i}") for i in range(300)]
    insert_rows(conn.cursor(), "t", ("a", "b"), rows)
    assert conn.execute("SELECT a, b FROM t ORDER BY rowid").fetchall() == rows


def test_a_connection_with_a_lower_bound_on_parameters_gets_smaller_chunks(
    tmp_path: Path,
) -> None:
    """SQLite before 3.32 allowed 999 parameters a statement: 256 rows of 13 columns would
    be refused there, so chunks shrink to what the connection takes."""
    conn = sqlite3.connect(tmp_path / "rows.sqlite3")
    columns = tuple(f"c{i}" for i in range(13))
    conn.execute(f"CREATE TABLE t ({', '.join(columns)})")
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    assert chunk_rows(conn, 13) == 64  # 76 rows fit; the power of two below
    assert chunk_rows(conn, 1000) == 1
    rows = [tuple(range(r, r + 13)) for r in range(300)]
    insert_rows(conn.cursor(), "t", columns, rows)
    assert conn.execute("SELECT * FROM t ORDER BY rowid").fetchall() == rows


def _events(n: int, originator: uuid.UUID | None = None, start: int = 1) -> list[StoredEvent]:
    oid = originator or uuid.uuid4()
    return [StoredEvent(oid, start + i, "tests:Noted", f"state {i}".encode()) for i in range(n)]


def _recorder(tmp_path: Path, cls: type = ChainedSQLiteApplicationRecorder) -> Any:
    recorder = cls(SQLiteDatastore(str(tmp_path / "ledger.sqlite3")))
    recorder.default_signer = SIGNER
    recorder.create_table()
    return recorder


def _linked_events_match(recorder: ChainedSQLiteApplicationRecorder) -> None:
    head = recorder.chain_head()
    assert head is not None
    links = recorder.select_links(1, head.sequence)
    assert len(links) == head.sequence
    for link in links:
        assert link.event is not None
        assert link.event.originator_id == link.entry.originator_id
        assert link.event.originator_version == link.entry.originator_version
    prev = bytes(32)
    for link in links:  # the links themselves: dense, hashed and chained
        assert link.entry.prev_hash == prev
        assert link.entry.compute_hash() == link.entry.entry_hash
        prev = link.entry.entry_hash


def test_a_command_of_many_events_gets_its_notification_ids_in_order(tmp_path: Path) -> None:
    recorder = _recorder(tmp_path)
    first = recorder.insert_events(_events(3))
    big = _events(300)  # chunks of 256, 32, 8 and 4
    ids = recorder.insert_events(big)
    assert first == [1, 2, 3]
    assert ids == list(range(4, 304))
    stored = recorder.select_notifications(start=4, limit=300)
    assert [(n.id, n.originator_version) for n in stored] == [
        (i, e.originator_version) for i, e in zip(ids, big, strict=True)
    ]
    _linked_events_match(recorder)


def test_ids_follow_the_largest_rowid_even_after_a_gap(tmp_path: Path) -> None:
    """A deleted last event leaves the largest rowid lower: SQLite reuses the next one, and
    so must the ids the recorder reports (the link must name the row the event is in)."""
    recorder = _recorder(tmp_path)
    recorder.insert_events(_events(5))
    conn = sqlite3.connect(tmp_path / "ledger.sqlite3")
    with conn:
        conn.execute(
            "INSERT INTO stored_events (rowid, originator_id, originator_version, "
            "topic, state) VALUES (40, 'x', 1, 't', x'00')"
        )
    ids = recorder.insert_events(_events(10))
    assert ids == list(range(41, 51))
    rows = conn.execute(
        "SELECT rowid, originator_version FROM stored_events WHERE rowid > 40 ORDER BY rowid"
    ).fetchall()
    assert rows == [(i, v) for i, v in zip(range(41, 51), range(1, 11), strict=True)]


def test_a_table_at_the_largest_rowid_takes_the_row_by_row_path(tmp_path: Path) -> None:
    """SQLite picks rowids at random once the largest possible one is used: the ids then
    come from each insert, as the library's path reads them."""
    recorder = _recorder(tmp_path)
    conn = sqlite3.connect(tmp_path / "ledger.sqlite3")
    with conn:
        conn.execute(
            "INSERT INTO stored_events (rowid, originator_id, originator_version, "
            "topic, state) VALUES (9223372036854775807, 'x', 1, 't', x'00')"
        )
    events = _events(20)
    ids = recorder.insert_events(events)
    assert ids is not None and len(set(ids)) == 20
    for nid, event in zip(ids, events, strict=True):
        (version,) = conn.execute(
            "SELECT originator_version FROM stored_events WHERE rowid = ?", (nid,)
        ).fetchone()
        assert version == event.originator_version


def test_a_conflict_in_a_later_chunk_records_nothing(tmp_path: Path) -> None:
    recorder = _recorder(tmp_path)
    oid = uuid.uuid4()
    recorder.insert_events(_events(1, oid, start=280))
    with pytest.raises(IntegrityError):
        recorder.insert_events(_events(300, oid))  # version 280 is in the third chunk
    conn = sqlite3.connect(tmp_path / "ledger.sqlite3")
    assert conn.execute("SELECT COUNT(*) FROM stored_events").fetchone() == (1,)
    assert conn.execute("SELECT COUNT(*) FROM chain_entries").fetchone() == (1,)
    _linked_events_match(recorder)


def test_a_process_recorder_keeps_its_tracking_row(tmp_path: Path) -> None:
    recorder = _recorder(tmp_path, ChainedSQLiteProcessRecorder)
    ids = recorder.insert_events(_events(70), tracking=Tracking("upstream", 12))
    assert ids == list(range(1, 71))
    assert recorder.max_tracking_id("upstream") == 12
    with pytest.raises(IntegrityError):  # the same position again: nothing recorded
        recorder.insert_events(_events(5), tracking=Tracking("upstream", 12))
    assert recorder.max_notification_id() == 70
    _linked_events_match(recorder)


def test_events_inserted_without_the_head_read_find_their_ids_themselves(
    tmp_path: Path,
) -> None:
    recorder = _recorder(tmp_path)
    recorder.insert_events(_events(4))
    events = _events(6)
    with recorder.write_transaction() as c:
        ids = recorder._insert_events(c, events)
    assert ids == list(range(5, 11))
    stored = recorder.select_notifications(start=5, limit=10)
    assert [(n.id, n.originator_id) for n in stored] == [(i, events[0].originator_id) for i in ids]
