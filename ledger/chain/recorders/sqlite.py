"""Chained SQLite recorders (the embedded default).

Layer: ledger chain (persistence). Subclasses eventsourcing's SQLite application and
process recorders; the events, their chain links (and any tracking row) are
written in one ``BEGIN IMMEDIATE`` transaction: the write lock is taken before
the chain head is read, so concurrent writers from several processes queue on
SQLite's busy handler instead of failing a deferred lock upgrade.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    ListenNotifySubscription,
    StoredEvent,
    Subscription,
)
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteProcessRecorder,
    SQLiteTransaction,
)

from ledger.chain.entries import (
    GENESIS_HASH,
    HASHED_FIELDS,
    ChainEntry,
    PendingCommand,
    link_command,
)
from ledger.chain.recorders.base import (
    ChainedRecorderMixin,
    LinkedEvent,
    id_texts,
    links_of,
    now_micros,
    originator_id_text,
)
from ledger.chain.recorders.link_rows import (
    SQLiteLinkRows,
    sqlite_link_select,
    sqlite_originator_id,
)
from ledger.chain.recorders.row_inserts import insert_rows
from ledger.domain.keys import KEY_TOPICS

_KEY_TOPICS_SQL = "(" + ",".join(f"'{t}'" for t in KEY_TOPICS) + ")"
_ROW_FIELDS = (*(f for f in HASHED_FIELDS if f != "originator_id"), "entry_hash")
_row_fields = itemgetter(*_ROW_FIELDS)
_ENTRY_COLUMNS = (*_ROW_FIELDS, "notification_id", "originator_id")
"""An inserted link row: an entry's fields as stored, its notification id, its id as text."""
_EVENT_COLUMNS = ("originator_id", "originator_version", "topic", "state")
_MAX_ROWID = 2**63 - 1
_UNREAD: Any = object()


class _ImmediateTransaction(SQLiteTransaction):
    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        return cursor


class ChainedSQLiteMixin(ChainedRecorderMixin):
    """Adds the chain table and the chained insert path to a SQLite recorder."""

    datastore: Any
    events_table_name: str

    def construct_create_table_statements(self) -> list[str]:
        statements: list[str] = super().construct_create_table_statements()  # type: ignore[misc]
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {self.chain_table_name} ("
            "sequence INTEGER PRIMARY KEY, "
            "notification_id INTEGER NOT NULL UNIQUE, "
            "prev_hash BLOB NOT NULL, entry_hash BLOB NOT NULL, "
            "originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL, "
            "topic TEXT NOT NULL, timestamp INTEGER NOT NULL, state_hash BLOB NOT NULL, "
            "key_id BLOB NOT NULL, signature BLOB NOT NULL, "
            "command_index INTEGER NOT NULL, command_size INTEGER NOT NULL)"
        )
        statements.append(
            f"CREATE INDEX IF NOT EXISTS {self.chain_table_name}_originator "
            f"ON {self.chain_table_name} (originator_id, sequence)"
        )
        statements.append(
            f"CREATE INDEX IF NOT EXISTS {self.chain_table_name}_keys "
            f"ON {self.chain_table_name} (sequence) WHERE topic IN {_KEY_TOPICS_SQL}"
        )
        return statements

    @contextmanager
    def write_transaction(self) -> Iterator[SQLiteCursor]:
        """A ``BEGIN IMMEDIATE`` transaction: the write lock before the first read."""
        with (
            self.datastore.get_connection(commit=True) as conn,
            _ImmediateTransaction(conn, commit=True) as curs,
            curs,
        ):
            yield curs

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        command = self.prepare_command(stored_events, kwargs)
        with self.write_transaction() as c:
            c.execute(  # the head, and the events' largest rowid with it (a seek each)
                f"SELECT (SELECT MAX(rowid) FROM {self.events_table_name}), sequence, "
                f"entry_hash, timestamp FROM {self.chain_table_name} "
                "ORDER BY sequence DESC LIMIT 1"
            )
            found = c.fetchone()  # None: an empty chain; the events are counted apart
            largest, *head = (_UNREAD, None, None, None) if found is None else found
            notification_ids = self._insert_events(  # type: ignore[attr-defined]
                c, stored_events, largest_rowid=largest, **kwargs
            )
            if command is not None:
                assert notification_ids is not None
                self._append_links(c, command, notification_ids, head)
        return notification_ids

    def _append_links(
        self,
        c: SQLiteCursor,
        command: PendingCommand,
        notification_ids: Sequence[int],
        head: Sequence[Any],
    ) -> None:
        """Link the command after ``head`` (sequence, entry hash, timestamp; ``None`` each
        on an empty chain), read in the same transaction before its events went in."""
        head_sequence, head_hash, head_time = (0, GENESIS_HASH, 0) if head[0] is None else head
        entries = link_command(
            command,
            head_sequence=head_sequence,
            head_hash=bytes(head_hash),
            timestamp=max(now_micros(), head_time),
        )
        rows = [
            (*_row_fields(e.__dict__), n, text)  # an entry's fields as stored, read at once
            for e, n, text in zip(
                entries, notification_ids, id_texts(entries, originator_id_text), strict=True
            )
        ]
        insert_rows(c.sqlite_cursor, self.chain_table_name, _ENTRY_COLUMNS, rows)

    # -- reading the chain (ChainStore) ---------------------------------------------------

    def _entry(self, row: Any) -> ChainEntry:
        return ChainEntry(
            sequence=row["sequence"],
            prev_hash=bytes(row["prev_hash"]),
            originator_id=self._originator_id(row["originator_id"]),
            originator_version=row["originator_version"],
            topic=row["topic"],
            timestamp=row["timestamp"],
            state_hash=bytes(row["state_hash"]),
            key_id=bytes(row["key_id"]),
            signature=bytes(row["signature"]),
            command_index=row["command_index"],
            command_size=row["command_size"],
            entry_hash=bytes(row["entry_hash"]),
        )

    def _originator_id(self, text: str) -> UUID | str:
        return sqlite_originator_id(text, self.datastore.originator_id_type == "uuid")

    def link_rows(self) -> SQLiteLinkRows | None:
        pool = self.datastore.pool
        if pool.is_sqlite_memory_mode:
            return None
        return SQLiteLinkRows(
            pool.db_name,
            self.chain_table_name,
            self.events_table_name,
            self.datastore.originator_id_type == "uuid",
        )

    def chain_head(self) -> ChainEntry | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT * FROM {self.chain_table_name} ORDER BY sequence DESC LIMIT 1")
            row = c.fetchone()
        return None if row is None else self._entry(row)

    def select_entries(self, start: int, limit: int) -> Sequence[ChainEntry]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT * FROM {self.chain_table_name} WHERE sequence >= ? "
                "ORDER BY sequence LIMIT ?",
                (start, limit),
            )
            return [self._entry(row) for row in c.fetchall()]

    def _links(self, where: str, params: Sequence[Any]) -> list[LinkedEvent]:
        with self.datastore.transaction(commit=False) as c:
            cursor = c.sqlite_cursor
            cursor.row_factory = None  # plain tuples, read straight into links
            cursor.execute(
                sqlite_link_select(self.chain_table_name, self.events_table_name) + where,
                params,
            )
            rows = cursor.fetchall()
        return links_of(rows, self._originator_id)

    def select_links(self, start: int, limit: int) -> Sequence[LinkedEvent]:
        return self._links("WHERE c.sequence >= ? ORDER BY c.sequence LIMIT ?", (start, limit))

    def select_key_events(self, before: int) -> Sequence[LinkedEvent]:
        return self._links(
            f"WHERE c.topic IN {_KEY_TOPICS_SQL} AND c.sequence < ? ORDER BY c.sequence",
            (before,),
        )

    def select_entries_of(self, originator_id: UUID | str) -> Sequence[ChainEntry]:
        """Every entry of one aggregate, in sequence order (indexed: bundles, archives)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT * FROM {self.chain_table_name} WHERE originator_id = ? ORDER BY sequence",
                (originator_id_text(originator_id),),
            )
            return [self._entry(row) for row in c.fetchall()]

    def count_unlinked_events(self, from_notification_id: int) -> tuple[int, int | None]:
        """How many stored events from that notification id have no chain entry; the first."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT COUNT(*), MIN(e.rowid) FROM {self.events_table_name} e "
                f"WHERE e.rowid >= ? AND NOT EXISTS (SELECT 1 FROM {self.chain_table_name} c "
                "WHERE c.notification_id = e.rowid)",
                (from_notification_id,),
            )
            count, first = c.fetchone()
        return int(count), first


class PollingSubscription(ListenNotifySubscription[Any]):
    """SQLite cannot notify listeners, so a subscription polls for new notifications.

    Rowid order is commit order here (writers are serialised by ``BEGIN IMMEDIATE``),
    so a reader never passes over a gap that a later commit fills.
    """

    poll_interval = 0.1

    def _loop_on_pull(self) -> None:
        try:
            self._pull()
            while not self._has_been_stopped:
                self._has_been_notified.wait(self.poll_interval)
                self._pull()
        except BaseException as e:
            if self._thread_error is None:
                self._thread_error = e
            self.stop()


class EventRows(SQLiteApplicationRecorder):
    """Inserts a command's events as multi-row statements (``insert_rows``), not the
    library's statement per event, and knows their notification ids without asking per row.

    Under ``BEGIN IMMEDIATE`` nobody else inserts, and SQLite gives a row inserted without a
    rowid the largest rowid in the table plus one (1 in an empty table) unless that largest
    is the maximum rowid (then it picks at random): so a command's events, inserted in order,
    get the rowids after ``largest_rowid``, which the chained insert reads with the chain's
    head in the same transaction. The last rowid SQLite reports is checked against that; a
    table near the maximum takes the library's path, row by row.
    """

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        count = len(stored_events)
        if not count:
            return []
        largest_rowid = kwargs.pop("largest_rowid", _UNREAD)
        if largest_rowid is _UNREAD:  # a caller that did not read it with the head
            c.sqlite_cursor.execute(f"SELECT MAX(rowid) FROM {self.events_table_name}")
            (largest_rowid,) = c.sqlite_cursor.fetchone()
        if largest_rowid is not None and largest_rowid >= _MAX_ROWID - count:
            return super()._insert_events(c, stored_events, **kwargs)
        first = 1 if largest_rowid is None else largest_rowid + 1
        rows = [
            (originator_id_text(s.originator_id), s.originator_version, s.topic, s.state)
            for s in stored_events
        ]
        cursor = c.sqlite_cursor
        insert_rows(cursor, self.events_table_name, _EVENT_COLUMNS, rows)
        if cursor.lastrowid != first + count - 1:  # SQLite gave rowids by another rule
            raise IntegrityError(
                f"notification ids: expected {first}..{first + count - 1}, "
                f"the last was {cursor.lastrowid}"
            )
        return list(range(first, first + count))


class ChainedSQLiteApplicationRecorder(ChainedSQLiteMixin, EventRows):
    """The ledger's application recorder on SQLite."""

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        return PollingSubscription(self, gt=gt, topics=topics)


class ChainedSQLiteProcessRecorder(ChainedSQLiteMixin, SQLiteProcessRecorder, EventRows):
    """A process recorder (events + tracking) on SQLite, chained likewise."""
