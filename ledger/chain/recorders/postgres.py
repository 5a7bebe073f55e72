"""Chained PostgreSQL recorders (production).

Layer: ledger chain (persistence). Subclasses eventsourcing's PostgreSQL application and
process recorders. The library already serialises writers with
``LOCK TABLE … IN EXCLUSIVE MODE`` so that commit order equals notification
order; the chain head is read and the links written after that lock, in the same
transaction. The library's database-function insert path skips that lock, so a
datastore with ``POSTGRES_ENABLE_DB_FUNCTIONS`` is refused (DESIGN invariant 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresProcessRecorder,
)
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Identifier

from ledger.chain.entries import GENESIS_HASH, ChainEntry, PendingCommand, link_command
from ledger.chain.recorders.base import (
    ChainedRecorderMixin,
    CheckedCommand,
    LinkedEvent,
    MaterialsMissing,
    StaleReference,
    id_texts,
    links_of,
    now_micros,
)
from ledger.chain.recorders.group_commit import GroupCommitter
from ledger.chain.recorders.link_rows import (
    PostgresLinkRows,
    postgres_link_select,
    postgres_originator_id,
)
from ledger.domain.keys import KEY_TOPICS
from ledger.errors import ConfigurationError

_KEY_TOPICS_SQL = "(" + ",".join(f"'{t}'" for t in KEY_TOPICS) + ")"
_ENTRY_COLUMNS = (
    "sequence, notification_id, prev_hash, entry_hash, originator_id, originator_version, "
    "topic, timestamp, state_hash, key_id, signature, command_index, command_size"
)


def rendered(statement: Any) -> SQL:
    """A composed statement as its final text, once: psycopg renders a ``Composed`` (its
    identifiers quoted, its parts joined) on every ``execute``, about twenty times a
    command on the write path."""
    return SQL(statement.as_string(None))


class ChainedPostgresMixin(ChainedRecorderMixin):
    """Adds the chain table and the chained insert path to a PostgreSQL recorder."""

    datastore: PostgresDatastore
    events_table_name: str
    sql_create_statements: list[Any]

    def _init_chain(self) -> None:
        if self.datastore.enable_db_functions:
            raise ConfigurationError(
                "POSTGRES_ENABLE_DB_FUNCTIONS is set: its insert path skips the table lock "
                "that orders the chain, so readers could miss events; unset it"
            )
        schema = Identifier(self.datastore.schema)
        chain = Identifier(self.chain_table_name)
        self._chain = SQL("{0}.{1}").format(schema, chain)
        self._events = SQL("{0}.{1}").format(schema, Identifier(self.events_table_name))
        id_type = SQL(self.datastore.originator_id_type)
        self._select_head = rendered(
            SQL(
                "SELECT sequence, entry_hash, timestamp FROM {0} ORDER BY sequence DESC LIMIT 1"
            ).format(self._chain)
        )
        self._insert_events_binary = rendered(
            SQL(
                "INSERT INTO {0} (originator_id, originator_version, topic, state) "
                "SELECT * FROM unnest(%b::{1}[], %b::bigint[], %b::text[], %b::bytea[]) "
                "RETURNING notification_id"
            ).format(self._events, id_type)
        )
        self._select_taken = rendered(
            SQL(
                "SELECT e.originator_id, e.originator_version FROM {0} e "
                "JOIN unnest(%b::{1}[], %b::bigint[]) AS t(o, v) "
                "ON e.originator_id = t.o AND e.originator_version = t.v"
            ).format(self._events, id_type)
        )
        self._insert_links = rendered(
            SQL(
                "INSERT INTO {0} (" + _ENTRY_COLUMNS + ") "
                "SELECT t.s, (SELECT e.notification_id FROM {1} e "
                "WHERE e.originator_id = t.o::{2} AND e.originator_version = t.v), "
                "t.p, t.h, t.o, t.v, t.topic, t.ts, t.sh, t.kid, t.sig, t.ci, t.cs "
                "FROM unnest(%b::bigint[], %b::bytea[], %b::bytea[], %b::text[], %b::bigint[], "
                "%b::text[], %b::bigint[], %b::bytea[], %b::bytea[], %b::bytea[], %b::int[], "
                "%b::int[]) AS t(s, p, h, o, v, topic, ts, sh, kid, sig, ci, cs)"
            ).format(self._chain, self._events, id_type)
        )
        self._lock_statements = [rendered(q) for q in self.lock_table_statements]  # type: ignore[attr-defined]
        self._notify = rendered(SQL("NOTIFY {0}").format(Identifier(self.channel_name)))  # type: ignore[attr-defined]
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} ("
                "sequence bigint PRIMARY KEY, notification_id bigint NOT NULL UNIQUE, "
                "prev_hash bytea NOT NULL, entry_hash bytea NOT NULL, "
                "originator_id text NOT NULL, originator_version bigint NOT NULL, "
                "topic text NOT NULL, timestamp bigint NOT NULL, state_hash bytea NOT NULL, "
                "key_id bytea NOT NULL, signature bytea NOT NULL, "
                "command_index integer NOT NULL, command_size integer NOT NULL)"
            ).format(self._chain)
        )
        self.sql_create_statements.append(
            SQL("CREATE INDEX IF NOT EXISTS {0} ON {1} (originator_id, sequence)").format(
                Identifier(f"{self.chain_table_name}_originator"), self._chain
            )
        )
        self.sql_create_statements.append(
            SQL("CREATE INDEX IF NOT EXISTS {0} ON {1} (sequence) WHERE topic IN {2}").format(
                Identifier(f"{self.chain_table_name}_keys"),
                self._chain,
                SQL(_KEY_TOPICS_SQL),
            )
        )

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """The library's query, its text composed once per shape instead of per call.

        Every command reads several aggregates (keys, departments, items, a case) through
        this; composing the statement from ``SQL`` parts and quoting its identifiers again
        on each call cost more CPU than PostgreSQL spent answering it."""
        shape = (gt is not None, lte is not None, desc, limit is not None)
        cache: dict[tuple[bool, ...], SQL] = self.__dict__.setdefault("_select_events_sql", {})
        statement = cache.get(shape)
        if statement is None:
            composed = self.select_events_statement  # type: ignore[attr-defined]
            if gt is not None:
                composed += SQL(" AND originator_version > %s")
            if lte is not None:
                composed += SQL(" AND originator_version <= %s")
            composed += SQL(
                " ORDER BY originator_version DESC" if desc else " ORDER BY originator_version ASC"
            )
            if limit is not None:
                composed += SQL(" LIMIT %s")
            statement = cache[shape] = rendered(composed)
        params = [originator_id, *(v for v in (gt, lte, limit) if v is not None)]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            return [
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]

    #: Checks the ``reads=`` of a save under the write lock (``CheckedCommand``).
    checks_reads = True

    #: Batch concurrent commands of this process into one transaction (group commit).
    group_commit = True

    #: The material store's table the ``materials=`` of a save are looked up in, under the
    #: write lock (:meth:`check_materials_in`); ``None``: this recorder does not check them.
    _select_materials: SQL | None = None

    @property
    def checks_materials(self) -> bool:
        return self._select_materials is not None

    def check_materials_in(self, schema: str, table: str) -> None:
        """Check the ``materials=`` of each save against ``schema.table`` (a material store's
        ``sha256`` column in this database) in the write's first round trip: a submission
        then needs no look-up of its own, a round trip that cost ~0.3 ms of CPU under
        concurrent requests (docs/BENCHMARKS.md)."""
        self._select_materials = rendered(
            SQL("SELECT sha256 FROM {0} WHERE sha256 = ANY(%b::bytea[])").format(
                Identifier(schema, table)
            )
        )

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Sign before the lock, then write: alone, or batched with concurrent commands.

        Writers are serialised by the table lock anyway, so while one transaction holds
        it, the commands that arrive queue up and the next transaction takes them all:
        one lock, one fsync for many commands (group commit). Each command keeps its own
        signature and its own consecutive chain entries.
        """
        command = self.prepare_command(stored_events, kwargs)
        reads, materials = kwargs.get("reads"), kwargs.get("materials")
        if command is not None and (reads or materials):
            command = CheckedCommand(
                command.events, command.signer, tuple(reads or ()), frozenset(materials or ())
            )
        if command is None or kwargs.get("tracking") is not None or not self.group_commit:
            written = self._write([(stored_events, command)], **kwargs)[0]
            if isinstance(written, BaseException):
                raise written
            return written
        return self._committer().submit(stored_events, command)

    def _committer(self) -> GroupCommitter:
        committer = getattr(self, "_group", None)
        if committer is None:
            committer = self._group = GroupCommitter(self._write)
        return committer

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _write(
        self, batch: Sequence[tuple[Sequence[StoredEvent], PendingCommand | None]], **kwargs: Any
    ) -> list[list[int] | BaseException]:
        """One transaction, two round trips under the table lock: lock + head (+ the
        batch's version conflicts), then events + links + commit. Per command of the batch:
        its notification ids, or the version conflict that refused it alone (the batch's
        other commands are written all the same).

        The links do not depend on notification ids, so both inserts are pipelined with the
        commit; the chain rows look their notification id up by (originator id, version).
        Round trips matter more than statements: the lock is held across them, and every
        other writer of the ledger waits for it.
        """
        refused: dict[int, BaseException] = {}
        exc: Exception | None = None
        with self.datastore.get_connection() as conn:
            try:
                with conn.pipeline(), conn.cursor() as curs, conn.cursor() as ids:
                    with conn.transaction():
                        events = [e for item, _ in batch for e in item]
                        self._insert_events(curs, events, **kwargs)  # type: ignore[attr-defined]
                        if any(c is not None for _, c in batch):
                            try:
                                refused = self._insert_linked(conn, curs, ids, batch)
                            except Exception as e:  # re-raised once the pipeline has closed
                                exc = e
                                # Never commit what was queued before the failure (events
                                # without their chain entries): roll the transaction back.
                                raise psycopg.Rollback() from None
                    if exc:
                        raise exc
                    kept = sum(len(item) for i, (item, _) in enumerate(batch) if i not in refused)
                    notification_ids = (
                        [r["notification_id"] for r in ids.fetchall()] if kept else []
                    )
            except BaseException:
                # A statement prepared in a pipeline that then failed (a version conflict)
                # stays in psycopg's cache but not on the server ("prepared statement
                # does not exist" on the next use): never hand that connection out again.
                conn.close()
                raise
        out: list[list[int] | BaseException] = []
        at = 0
        for i, (item, _) in enumerate(batch):
            if i in refused:
                out.append(refused[i])
                continue
            out.append(notification_ids[at : at + len(item)])
            at += len(item)
        return out

    def _insert_linked(
        self,
        conn: Any,
        curs: Cursor[DictRow],
        ids: Cursor[DictRow],
        batch: Sequence[tuple[Sequence[StoredEvent], PendingCommand | None]],
    ) -> dict[int, BaseException]:
        """Lock, read the head (and, for a batch, which commands conflict: under the lock,
        so the answer holds), then queue the kept commands' events and links; the caller's
        commit sends them. Returns the refused commands."""
        for lock in self._lock_statements:  # the library's _lock_table, pre-rendered
            curs.execute(lock, prepare=True)
        curs.execute(self._notify)  # and its _notify_channel
        curs.execute(self._select_head, prepare=True)
        check = len(batch) > 1 or any(_reads(c) for _, c in batch)
        cited = frozenset().union(*(_materials(c) for _, c in batch))
        with conn.cursor() as taken, conn.cursor() as stored:
            if check:
                self._select_conflicts(taken, batch)
            if cited:
                assert self._select_materials is not None  # prepare_command checked
                stored.execute(self._select_materials, (list(cited),))
            head = curs.fetchone()  # one round trip: lock, head, conflicts and materials
            refused = self._conflicts(taken, batch) if check else {}
            if cited:
                present = {bytes(r["sha256"]) for r in stored.fetchall()}
                refused.update(_unstored(batch, present, refused))
        kept = [b for i, b in enumerate(batch) if i not in refused]
        commands = [c for _, c in kept if c is not None]
        events = [e for item, _ in kept for e in item]
        if events:
            links = self._link_params(self._link(commands, head))  # before anything is queued
            self._insert_stored_events(ids, events)
            curs.execute(self._insert_links, links)
        return refused

    def _select_conflicts(
        self, curs: Cursor[DictRow], batch: Sequence[tuple[Sequence[StoredEvent], Any]]
    ) -> None:
        written = [(e.originator_id, e.originator_version) for item, _ in batch for e in item]
        moved = [(i, v + 1) for _, c in batch for i, v in _reads(c)]  # a read went stale
        pairs = written + moved
        curs.execute(self._select_taken, ([o for o, _ in pairs], [v for _, v in pairs]))

    def _conflicts(
        self, curs: Cursor[DictRow], batch: Sequence[tuple[Sequence[StoredEvent], Any]]
    ) -> dict[int, BaseException]:
        """The commands of ``batch`` that would break an aggregate's version sequence: an
        event version already stored (``curs`` holds them, :meth:`_select_conflicts`), or
        taken by an earlier command of the batch — and those that read an aggregate which
        has moved on since (:class:`StaleReference`)."""
        taken = {(str(r["originator_id"]), r["originator_version"]) for r in curs.fetchall()}
        refused: dict[int, BaseException] = {}
        for i, (item, command) in enumerate(batch):
            keys = {(str(e.originator_id), e.originator_version) for e in item}
            stale = [o for o, v in _reads(command) if (str(o), v + 1) in taken]
            if keys & taken:
                refused[i] = IntegrityError(
                    "version conflict: an event of this command's aggregates was recorded first"
                )
            elif stale:
                refused[i] = StaleReference(stale)
            taken |= keys
        return refused

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        """One statement over binary arrays (the library's dumps bytea as escaped text)."""
        curs.execute(
            self._insert_events_binary,
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
            ),
        )

    def _link(self, commands: Sequence[PendingCommand], head: Any) -> list[ChainEntry]:
        if head is None:
            head_sequence, head_hash, head_time = 0, GENESIS_HASH, 0
        else:
            head_sequence, head_hash = head["sequence"], bytes(head["entry_hash"])
            head_time = head["timestamp"]
        timestamp = max(now_micros(), head_time)
        entries: list[ChainEntry] = []
        for command in commands:
            linked = link_command(
                command, head_sequence=head_sequence, head_hash=head_hash, timestamp=timestamp
            )
            entries.extend(linked)
            head_sequence, head_hash = linked[-1].sequence, linked[-1].entry_hash
        return entries

    @staticmethod
    def _link_params(entries: Sequence[ChainEntry]) -> tuple[list[Any], ...]:
        return (
            [e.sequence for e in entries],
            [e.prev_hash for e in entries],
            [e.entry_hash for e in entries],
            id_texts(entries, str),
            [e.originator_version for e in entries],
            [e.topic for e in entries],
            [e.timestamp for e in entries],
            [e.state_hash for e in entries],
            [e.key_id for e in entries],
            [e.signature for e in entries],
            [e.command_index for e in entries],
            [e.command_size for e in entries],
        )

    # -- reading the chain (ChainStore) ---------------------------------------------------

    def _originator_id(self, text: str) -> UUID | str:
        return postgres_originator_id(text, self.datastore.originator_id_type == "uuid")

    def link_rows(self) -> PostgresLinkRows | None:
        connect = self.datastore.pool.kwargs
        if not isinstance(connect, dict):
            return None  # parameters made per connection: not for another process
        return PostgresLinkRows(
            dict(connect),
            self.datastore.schema,
            (self.chain_table_name, self.events_table_name),
            self.datastore.originator_id_type == "uuid",
        )

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

    def _fetch(self, statement: Any, params: Sequence[Any]) -> list[Any]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params)
            return curs.fetchall()

    def chain_head(self) -> ChainEntry | None:
        rows = self._fetch(
            SQL("SELECT * FROM {0} ORDER BY sequence DESC LIMIT 1").format(self._chain), ()
        )
        return self._entry(rows[0]) if rows else None

    def select_entries(self, start: int, limit: int) -> Sequence[ChainEntry]:
        rows = self._fetch(
            SQL("SELECT * FROM {0} WHERE sequence >= %s ORDER BY sequence LIMIT %s").format(
                self._chain
            ),
            (start, limit),
        )
        return [self._entry(row) for row in rows]

    def _links(self, where: SQL, params: Sequence[Any]) -> list[LinkedEvent]:
        statement = postgres_link_select(self._chain, self._events) + where
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(statement, params)
            rows = curs.fetchall()
        return links_of(rows, self._originator_id)

    def select_links(self, start: int, limit: int) -> Sequence[LinkedEvent]:
        return self._links(
            SQL("WHERE c.sequence >= %s ORDER BY c.sequence LIMIT %s"), (start, limit)
        )

    def select_key_events(self, before: int) -> Sequence[LinkedEvent]:
        return self._links(
            SQL("WHERE c.topic IN " + _KEY_TOPICS_SQL + " AND c.sequence < %s ORDER BY c.sequence"),
            (before,),
        )

    def select_entries_of(self, originator_id: UUID | str) -> Sequence[ChainEntry]:
        """Every entry of one aggregate, in sequence order (indexed: bundles, archives)."""
        rows = self._fetch(
            SQL("SELECT * FROM {0} WHERE originator_id = %s ORDER BY sequence").format(self._chain),
            (str(originator_id),),
        )
        return [self._entry(row) for row in rows]

    def count_unlinked_events(self, from_notification_id: int) -> tuple[int, int | None]:
        rows = self._fetch(
            SQL(
                "SELECT COUNT(*) AS n, MIN(e.notification_id) AS first FROM {0} e "
                "WHERE e.notification_id >= %s AND NOT EXISTS "
                "(SELECT 1 FROM {1} c WHERE c.notification_id = e.notification_id)"
            ).format(self._events, self._chain),
            (from_notification_id,),
        )
        return int(rows[0]["n"]), rows[0]["first"]


def _reads(command: Any) -> tuple[tuple[Any, int], ...]:
    return command.reads if isinstance(command, CheckedCommand) else ()


def _materials(command: Any) -> frozenset[bytes]:
    return command.materials if isinstance(command, CheckedCommand) else frozenset()


def _unstored(
    batch: Sequence[tuple[Sequence[StoredEvent], Any]],
    present: set[bytes],
    refused: dict[int, BaseException],
) -> dict[int, BaseException]:
    """The commands of ``batch`` not yet refused that cite a material not ``present``."""
    out: dict[int, BaseException] = {}
    for i, (_, command) in enumerate(batch):
        missing = _materials(command) - present
        if missing and i not in refused:
            out[i] = MaterialsMissing(missing)
    return out


class ChainedPostgresApplicationRecorder(ChainedPostgresMixin, PostgresApplicationRecorder):
    """The ledger's application recorder on PostgreSQL."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any):
        super().__init__(datastore, **kwargs)
        self._init_chain()


class ChainedPostgresProcessRecorder(ChainedPostgresMixin, PostgresProcessRecorder):
    """A process recorder (events + tracking) on PostgreSQL, chained likewise."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any):
        super().__init__(datastore, **kwargs)
        self._init_chain()
