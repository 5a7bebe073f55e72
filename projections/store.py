"""Where a read model keeps its rows: a tracking recorder with the view's own tables.

Layer: projections (edge: database). DESIGN invariant 4: a view writes its rows
and its tracking position in one transaction, so a repeated delivery is refused
(eventsourcing's single-row tracking rejects a position that does not advance).
SQLite's tracking table has a fixed name, so each view has its own SQLite file;
on PostgreSQL each view has its own tracking table beside its row tables.

Schema changes: a view's tables are created with ``CREATE TABLE IF NOT EXISTS``, so a
changed definition would meet the old tables. Each view's table definitions therefore have
a fingerprint (SHA-256 of their DDL), kept in ``view_fingerprints`` beside the tracking;
opening a view whose recorded fingerprint differs (or is missing while its tables or
tracking exist) drops its tables and tracking and creates them anew, in one transaction,
so the view rebuilds from the log on its next catch-up.

Seals (issue 15, "read models that notice"): beside its tracking, each view keeps one row in
``view_seals`` — the position it has applied up to, and the chain sequence and entry hash of
the event at that position — written by :meth:`track` in the same transaction as the tracking
and the rows. Before it writes, :meth:`track` checks that the seal's position is the tracked
one (a batch checks before its first handler runs); a tracking row moved by hand (forwards,
so the view skips events, or backwards, so it applies them twice) makes every later write
refuse with :class:`ViewTampered`. The seal's ``alarm`` column holds the last comparison with
a scratch rebuild that found the rows different (``projections.verify``), so every process
serving the view sees it. The seal table is part of the fingerprint: a store from before it
existed rebuilds once, sealed.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import operator
import os
import re
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import psycopg
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composable, Identifier

from ledger.chain.recorders.row_inserts import insert_rows
from ledger.encoding import canonical
from ledger.storage import pg_pool
from ledger.storage.sqlite_statements import cache_statements
from ledger.storage.urls import POOL_WAIT_SECONDS, StorageURL
from projections.row_expressions import Unfoldable, Value, parse

log = logging.getLogger("caseledger.projections")


@dataclass(frozen=True)
class Table:
    """A view table: columns as (name, type) with portable types TEXT/BIGINT/BLOB."""

    name: str
    columns: tuple[tuple[str, str], ...]
    primary_key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()

    def ddl(self, dialect: str) -> list[str]:
        blob = "BLOB" if dialect == "sqlite" else "BYTEA"
        cols = ", ".join(f"{n} {t.replace('BLOB', blob)}" for n, t in self.columns)
        out = [
            f"CREATE TABLE IF NOT EXISTS {self.name} ({cols}, "
            f"PRIMARY KEY ({', '.join(self.primary_key)}))"
        ]
        for i, cols_ in enumerate(self.indexes):
            out.append(
                f"CREATE INDEX IF NOT EXISTS {self.name}_ix{i} ON {self.name} ({', '.join(cols_)})"
            )
        return out


class Tx:
    """One view transaction; SQL uses ``?`` placeholders on both backends.

    Rows come back as tuples by position: a dict row (the PostgreSQL datastore's default)
    would merge unnamed columns that share a name, such as two ``SUM(…)``.

    Writes are deferred and batched (issue 18): a plain ``INSERT``/``UPDATE``/``DELETE`` of one
    table (no ``SELECT``, ``FROM`` or ``RETURNING`` reaching another) waits in that table's
    queue, and a queue goes out as one ``executemany`` per run of the same statement, in
    the order written. Such a statement touches only its own table, so the tables' queues
    commute with each other; within a table nothing is reordered. A queue is written before
    any other statement that names its table (a read, a write that reads, DDL), before the
    tracking is recorded and when the transaction ends, so every read sees every write
    before it, and the rows after a batch are those that statement-by-statement gives. The
    one exception, a read of one row by its primary key whose row is still an image in this
    transaction (:meth:`_fold`), is answered from the image: what the database would answer.
    What a statement is, is worked out once per text (:class:`_Plan`).
    """

    def __init__(self, cursor: Any, dialect: str, tables: Sequence[Table] = ()):
        self._cursor = cursor  # the library's cursor: tracking rows go through it
        self.dialect = dialect
        self._sqlite = dialect == "sqlite"
        self._pending: dict[str, list[tuple[str, Sequence[Any], Any]]] = {}
        self._images: dict[str, dict[Any, list[Any]]] = {}  # rows whose last write is an INSERT
        self._answer: list[tuple[Any, ...]] | None = None  # a read answered from an image
        plans = _plans(tuple(tables))
        self._plans, self._tables = plans.by_text, plans.tables
        if self._sqlite:  # sqlite3's own cursor, rows as plain tuples (BLOBs come as bytes)
            self._rows = cursor.sqlite_cursor.connection.cursor()
            self._rows.row_factory = None
        else:
            self._rows = cursor.connection.cursor(row_factory=tuple_row)

    def _sql(self, sql: str) -> Any:
        return sql if self._sqlite else _postgres_sql(sql)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        plan = self._plans.get(sql)
        if plan is None:
            plan = self._plans[sql] = _plan(sql, self._tables)
        target = plan.target
        self._answer = None
        if target is None:
            if plan.read is not None and self._answer_from_image(plan.read, params):
                return
            if self._pending:
                self._flush(plan.names)
            if self._sqlite:
                self._rows.execute(sql, params)
            else:
                self._rows.execute(_postgres_sql(sql), tuple(params))
            return
        queued = self._fold(plan, sql, params)
        if queued is None:
            return
        queue = self._pending.get(target)
        if queue is None:
            self._pending[target] = [queued]
        else:
            queue.append(queued)

    def _answer_from_image(self, read: _PointRead, params: Sequence[Any]) -> bool:
        """Answer a read of one row from its image, when it has one whose selected values
        are what the database would give back (of the columns' types, or NULL): the row's
        pending writes need not be written for it."""
        images = self._images.get(read.table)
        if not images:
            return False
        image = images.get(read.key_of(params))
        if image is None:
            return False
        row = tuple(image[i] for i in read.columns)
        for value, kind in zip(row, read.types, strict=True):
            if value is not None and type(value) is not kind:
                return False
        self._answer = [row]
        return True

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._answer = None
        target, names = _shape(sql)
        if target is not None:
            for row in rows:
                self.execute(sql, row)
            return
        if self._pending:
            self._flush(names)
        self._rows.executemany(self._sql(sql), [tuple(r) for r in rows])

    def flush(self) -> None:
        """Write every deferred statement (in each table's order)."""
        pending, self._pending = self._pending, {}
        self._images = {}
        for queue in pending.values():
            self._write(queue)

    def _flush(self, names: frozenset[str]) -> None:
        """Write the deferred statements of the tables named in ``names``."""
        for table in [t for t in self._pending if t in names]:
            self._images.pop(table, None)
            self._write(self._pending.pop(table))

    def _fold(
        self, plan: _Plan, sql: str, params: Sequence[Any]
    ) -> tuple[str, Sequence[Any], Any] | None:
        """What to queue for a deferred write: the statement, its parameters and its row's
        key (:data:`_ALONE`: not known), or None when it was folded.

        A row inserted in this transaction whose insert is still its last queued write has
        its values kept here (an *image*, the insert's own parameter list, every column in
        table order): an ``UPDATE`` of that row setting columns to parameters, literals or
        expressions of the row (:func:`_folding`, ``projections.row_expressions``) changes
        the image instead of being queued, so the row is written once with its final values,
        and a read of the row by its key is answered from it (:meth:`_answer_from_image`).
        Any other write of the row ends its image (an unknown row's, every image of the
        table), and so does writing the queue."""
        images = self._images.get(plan.target)  # type: ignore[arg-type]
        key_of = plan.key_of
        if key_of is None:
            if images:
                images.clear()
            return sql, params, _ALONE
        key = key_of(params)
        fold = plan.fold
        if fold is None:
            if images:
                images.pop(key, None)
            return sql, params, key
        if fold.insert:
            values = (
                list(params) if fold.whole else [params[i] if i >= 0 else v for i, v in fold.values]
            )
            if images is None:
                self._images[plan.target] = {key: values}  # type: ignore[index]
            else:
                images[key] = values
            return fold.sql, values, key
        image = None if images is None else images.get(key)
        if image is None:
            return sql, params, key
        if fold.computed:  # from the old row, before any column of it is set
            try:
                computed = [(column, value(image, params)) for column, value in fold.computed]
            except Unfoldable:  # the database computes it: the row's image ends here
                del images[key]  # type: ignore[union-attr]
                return sql, params, key
            for column, v in computed:
                image[column] = v
        for column, (i, v) in fold.values:
            image[column] = params[i] if i >= 0 else v
        return None

    def _write(self, queue: list[tuple[str, Sequence[Any], Any]]) -> None:
        """One table's deferred statements, in rounds: the n-th statement of each row (its
        primary key, :func:`_row_key`) goes in round n, and a round writes each of its
        statements as one ``executemany``. Statements of different rows commute (each
        touches its own row only), a row's statements keep their order; a statement whose
        row is not known (:data:`_ALONE`) ends the rounds before it and runs alone.
        """
        rounds: list[dict[str, list[Sequence[Any]]]] = []
        seen: dict[Any, int] = {}
        for sql, params, key in queue:
            if key is _ALONE:
                self._run(rounds)
                rounds, seen = [], {}
                self._run([{sql: [params]}])
                continue
            n = seen.get(key, 0)
            seen[key] = n + 1
            if n == len(rounds):
                rounds.append({sql: [params]})
            else:
                same = rounds[n].get(sql)
                if same is None:
                    rounds[n][sql] = [params]
                else:
                    same.append(params)
        self._run(rounds)

    def _run(self, rounds: list[dict[str, list[Sequence[Any]]]]) -> None:
        rows = self._rows
        sqlite = self._sqlite
        for batch in rounds:
            for sql, params in batch.items():
                if len(params) == 1:
                    if sqlite:
                        rows.execute(sql, params[0])
                    else:
                        rows.execute(_postgres_sql(sql), tuple(params[0]))
                    continue
                table = self._tables.get(_whole_row_insert(sql) or "")
                if table is not None and self._insert_rows(table, params):
                    continue
                if sqlite:
                    rows.executemany(sql, params)
                else:
                    rows.executemany(_postgres_sql(sql), [tuple(p) for p in params])

    def _insert_rows(self, table: Table, params: Sequence[Sequence[Any]]) -> bool:
        """Insert whole rows of ``table`` (each row's values in table order, keys distinct)
        with few statements; False when a batch this small is best left to ``executemany``.

        SQLite: multi-row ``VALUES`` (``ledger.chain.recorders.row_inserts``), which open
        the table's cursors once a chunk instead of once a row. PostgreSQL: one ``COPY``. In
        ``executemany`` each row is a round of the pipeline — its messages, a flush and a
        poll of the socket, each handing the interpreter lock over — which made the live
        follower's writes ~45 % of its CPU under submissions (BENCHMARKS, issue 18: views
        written by COPY); below :data:`COPY_FROM` rows the ``COPY``'s own exchange costs
        more than it saves. Either way the same rows are written, and a key already in the
        table fails the transaction as it did row by row."""
        columns = [c for c, _ in table.columns]
        if self._sqlite:
            insert_rows(self._rows, table.name, columns, params)
            return True
        if len(params) < COPY_FROM:
            return False
        with self._rows.copy(_copy_statement(table)) as out:
            for row in params:
                out.write_row(row)
        return True

    def fetchall(self) -> list[tuple[Any, ...]]:
        if self._answer is not None:
            rows, self._answer = self._answer, []
            return rows
        if self._sqlite:
            return self._rows.fetchall()
        return [_plain(row) for row in self._rows.fetchall()]

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._answer is not None:
            return self._answer.pop(0) if self._answer else None
        row = self._rows.fetchone()
        if row is None or self._sqlite:
            return row
        return _plain(row)

    def stream(
        self, sql: str, params: Sequence[Any] = (), size: int = 1000
    ) -> Iterator[tuple[Any, ...]]:
        """Every row of one read-only statement, ``size`` at a time, memory flat: a server-side
        cursor on PostgreSQL (in this transaction), SQLite's own stepping cursor."""
        self.flush()
        if self.dialect == "sqlite":  # eventsourcing wraps sqlite3's cursor
            cursor = self._cursor.sqlite_cursor.connection.cursor()
        else:
            cursor = self._cursor.connection.cursor(name="caseledger_stream", row_factory=tuple_row)
        try:
            cursor.execute(self._sql(sql), tuple(params))
            while rows := cursor.fetchmany(size):
                for row in rows:
                    yield _plain(row)
        finally:
            cursor.close()


_WRITE: Final = re.compile(
    r"\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)\s+(\w+)",
    re.IGNORECASE,
)
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_READS_OTHERS: Final = frozenset({"select", "from", "returning", "with"})


_INSERT: Final = re.compile(
    r"\s*INSERT\s+(?:OR\s+\w+\s+)?INTO\s+\w+\s*(?:\(([\w\s,]*)\))?\s*VALUES\s*\(",
    re.IGNORECASE,
)
_CHANGE: Final = re.compile(
    r"\s*(?:UPDATE\s+\w+\s+SET\s+(.*)|DELETE\s+FROM\s+\w+\s+)\bWHERE\b(.*)$",
    re.IGNORECASE | re.DOTALL,
)
_PINNED: Final = re.compile(r"\s*(\w+)\s*=\s*\?\s*$")
_CONFLICT: Final = re.compile(r"\bON\s+CONFLICT\s*\(([\w\s,]*)\)", re.IGNORECASE)


def _marks(sql: str) -> list[int]:
    """Offsets of the ``?`` placeholders outside quoted literals."""
    out, quoted = [], False
    for i, ch in enumerate(sql):
        if ch == "'":
            quoted = not quoted
        elif ch == "?" and not quoted:
            out.append(i)
    return out


def _row_key(sql: str, table: Table) -> int | tuple[int, ...] | None:
    """Where a deferred write's row is among its parameters: the positions of its primary
    key's values, when the statement touches that one row only — an ``INSERT … VALUES`` of
    one row (``ON CONFLICT`` on the primary key at most), an ``UPDATE`` or ``DELETE`` whose
    ``WHERE`` is ``AND``-ed terms pinning every key column with ``= ?`` and whose ``SET``
    does not change the key. None for anything else (it keeps its place among all)."""
    primary_key = table.primary_key
    marks = _marks(sql)
    insert = _INSERT.match(sql)
    if insert is not None:
        depth, start, items = 1, insert.end(), []
        quoted, i = False, insert.end()
        while i < len(sql) and depth:
            ch = sql[i]
            if ch == "'":
                quoted = not quoted
            elif not quoted and ch == "(":
                depth += 1
            elif not quoted and ch in ",)" and depth == 1:
                items.append((start, i))
                start = i + 1
                if ch == ")":
                    depth = 0
            elif not quoted and ch == ")":
                depth -= 1
            i += 1
        rest = sql[i:]
        conflict = _CONFLICT.search(rest)
        if depth or (
            rest.strip()
            and (
                conflict is None
                or {c.strip().lower() for c in conflict.group(1).split(",")} != set(primary_key)
                or "values" in rest.lower()
            )
        ):
            return None
        columns = (
            [c.strip().lower() for c in insert.group(1).split(",")]
            if insert.group(1)
            else [c for c, _ in table.columns]
        )
        if len(columns) != len(items):
            return None
        out = []
        for column in primary_key:
            if column not in columns:
                return None
            index = columns.index(column)
            begin, end = items[index]
            if sql[begin:end].strip() != "?":
                return None
            out.append(sum(1 for m in marks if m < begin))
        return _positions(out)
    change = _CHANGE.match(sql)
    if change is None:
        return None
    assignments, where = change.group(1) or "", change.group(2)
    if {n.lower() for n in _NAME.findall(assignments)} & set(primary_key):
        return None
    if "(" in where or re.search(r"\bOR\b", where, re.IGNORECASE):
        return None
    where_at = change.start(2)
    pinned: dict[str, int] = {}
    offset = where_at
    for term in re.split(r"\bAND\b", where, flags=re.IGNORECASE):
        found = _PINNED.match(term)
        if found is not None:
            mark = offset + term.rindex("?")
            pinned.setdefault(found.group(1).lower(), marks.index(mark))
        offset += len(term) + 3
    if not all(c in pinned for c in primary_key):
        return None
    return _positions([pinned[c] for c in primary_key])


@dataclass(frozen=True)
class _Fold:
    """How a write folds into a row image (``Tx._fold``). An insert: ``sql`` inserts every
    column from parameters, ``values`` gives each column's source. An update: ``values``
    pairs the columns it sets (their index) with their sources. A source is a parameter's
    index, or -1 and a literal's value; ``key`` is where the row's key is among the
    statement's parameters. An update's ``computed`` columns are set to expressions of the
    old row (``projections.row_expressions``); an insert is ``whole`` when its parameters are
    the row's values in table order."""

    insert: bool
    sql: str
    key: int | tuple[int, ...]
    values: tuple[Any, ...]
    computed: tuple[tuple[int, Value], ...] = ()
    whole: bool = False


_LITERAL: Final = re.compile(r"\s*(?:(NULL)|(-?\d+)|(-?\d+\.\d*)|'((?:[^']|'')*)')\s*$", re.I)
_ASSIGN: Final = re.compile(r"\s*(\w+)\s*=(.*)$", re.DOTALL)


def _source(text: str, marks_before: int) -> tuple[int, Any] | None:
    """A value's source in a statement: ``?`` (the parameter after ``marks_before``), a
    literal (NULL, a number or a quoted string), or None (an expression)."""
    if text.strip() == "?":
        return marks_before, None
    literal = _LITERAL.match(text)
    if literal is None:
        return None
    null, whole, real, quoted = literal.groups()
    if null:
        return -1, None
    if whole is not None:
        return -1, int(whole)
    if real is not None:
        return -1, float(real)
    return -1, quoted.replace("''", "'")


def _split(text: str) -> list[str] | None:
    """``text`` cut at its top-level commas (None when its quotes or parentheses do not
    pair up)."""
    parts, quoted, depth, start = [], False, 0, 0
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return None
        elif ch == "," and not depth:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return None if quoted or depth else parts


_INSERT_ROW: Final = re.compile(
    r"\s*INSERT\s+INTO\s+(\w+)\s*(?:\(([\w\s,]*)\))?\s*VALUES\s*\((.*)\)\s*$",
    re.IGNORECASE | re.DOTALL,
)
_UPDATE_ROW: Final = re.compile(
    r"\s*UPDATE\s+(\w+)\s+SET\s+(.*?)\s+WHERE\s+(.*)$", re.IGNORECASE | re.DOTALL
)


def _folding(table: Table, sql: str) -> _Fold | None:
    """How ``sql`` folds into row images of ``table``: an ``INSERT INTO t [(cols)] VALUES
    (…)`` of one row whose values are parameters or literals (a column not named is NULL:
    view tables have no defaults); an ``UPDATE t SET c = ?|literal, … WHERE`` the primary
    key's columns ``= ?`` and nothing else, not setting the key. None for any other."""
    columns = [c for c, _ in table.columns]
    insert = _INSERT_ROW.match(sql)
    if insert is not None:
        named = (
            [c.strip().lower() for c in insert.group(2).split(",")] if insert.group(2) else columns
        )
        items = _split(insert.group(3))
        if items is None or len(items) != len(named) or not set(named) <= set(columns):
            return None
        sources: dict[str, tuple[int, Any]] = {}
        marks = 0
        for column, item in zip(named, items, strict=True):
            source = _source(item, marks)
            if source is None:
                return None
            marks += source[0] >= 0
            sources[column] = source
        if not all(c in sources and sources[c][0] >= 0 for c in table.primary_key):
            return None
        values = tuple(sources.get(c, (-1, None)) for c in columns)
        key = _positions([sources[c][0] for c in table.primary_key])
        places = ", ".join("?" * len(columns))
        whole = values == tuple((i, None) for i in range(len(columns)))
        return _Fold(True, f"INSERT INTO {table.name} VALUES ({places})", key, values, whole=whole)
    update = _UPDATE_ROW.match(sql)
    if update is None or update.group(1).lower() != table.name.lower():
        return None
    assignments = _split(update.group(2))
    if assignments is None:
        return None
    marks = 0
    sets: list[tuple[int, tuple[int, Any]]] = []
    computed: list[tuple[int, Value]] = []
    for assignment in assignments:
        found = _ASSIGN.match(assignment)
        if found is None or found.group(1).lower() not in columns:
            return None
        if found.group(1).lower() in table.primary_key:
            return None
        column = columns.index(found.group(1).lower())
        plain = _source(found.group(2), marks)
        if plain is not None:
            marks += plain[0] >= 0
            sets.append((column, plain))
            continue
        expression = parse(found.group(2), columns, marks)
        if expression is None:
            return None
        value, used = expression
        marks += used
        computed.append((column, value))
    pinned = _exact_key(update.group(3), table, marks)
    if pinned is None:
        return None
    return _Fold(False, sql, pinned, tuple(sets), tuple(computed))


def _exact_key(where: str, table: Table, first_mark: int) -> int | tuple[int, ...] | None:
    """Where the row's key is among a statement's parameters when ``where`` is exactly its
    primary key's columns each ``= ?``, ``AND``-ed (its first ``?`` being parameter
    ``first_mark``); None for any other condition."""
    pinned: dict[str, int] = {}
    for term in re.split(r"\bAND\b", where, flags=re.IGNORECASE):
        found = _PINNED.match(term)
        if found is None or found.group(1).lower() in pinned:
            return None
        pinned[found.group(1).lower()] = first_mark + len(pinned)
    if set(pinned) != set(table.primary_key):
        return None
    return _positions([pinned[c] for c in table.primary_key])


_ALONE: Final = object()
"""The row key of a deferred write whose row is not known: it runs alone, in its place."""


@dataclass(frozen=True, slots=True)
class _Plan:
    """What :meth:`Tx.execute` does with one statement text, worked out once per text and
    set of tables: the table it writes when it may be deferred (``target``; None: run at
    once), the names it mentions (``names``), how it folds into row images (``fold``) and
    its row's key from its parameters (``key_of``; None: not known); a read of one
    row by its primary key (``read``) may be answered from a row image."""

    target: str | None
    names: frozenset[str]
    fold: _Fold | None = None
    key_of: Callable[[Sequence[Any]], Any] | None = None
    read: _PointRead | None = None


@dataclass(frozen=True)
class _Plans:
    """The plans of the statements met so far on a store with these tables (by name)."""

    tables: dict[str, Table]
    by_text: dict[str, _Plan]


@functools.lru_cache(maxsize=256)
def _plans(tables: tuple[Table, ...]) -> _Plans:
    """The one :class:`_Plans` of every store with ``tables`` (each text is planned once)."""
    return _Plans({t.name: t for t in tables}, {})


def _plan(sql: str, tables: dict[str, Table]) -> _Plan:
    """The plan of ``sql`` on a store with ``tables``."""
    target, names = _shape(sql)
    if target is None:
        return _Plan(target, names, read=_point_read(sql, tables))
    table = tables.get(target)
    if table is None:
        return _Plan(target, names)
    fold = _folding(table, sql)
    at = _row_key(sql, table) if fold is None else fold.key
    return _Plan(target, names, fold, None if at is None else _key_of(at))


@dataclass(frozen=True, slots=True)
class _PointRead:
    """``SELECT`` some columns ``FROM`` a table ``WHERE`` its primary key's columns ``= ?``:
    the table, the selected columns' indexes and types, and where the key is among the
    parameters (``key_of``)."""

    table: str
    columns: tuple[int, ...]
    types: tuple[type, ...]
    key_of: Callable[[Sequence[Any]], Any]


_SELECT_ROW: Final = re.compile(
    r"\s*SELECT\s+(\w+(?:\s*,\s*\w+)*)\s+FROM\s+(\w+)\s+WHERE\s+(.*)$", re.IGNORECASE | re.DOTALL
)
_PYTHON_TYPES: Final = {"TEXT": str, "BIGINT": int, "BLOB": bytes}


def _point_read(sql: str, tables: dict[str, Table]) -> _PointRead | None:
    """The :class:`_PointRead` that ``sql`` is, or None."""
    select = _SELECT_ROW.match(sql)
    if select is None or "?" in select.group(1):
        return None
    table = tables.get(select.group(2).lower())
    if table is None:
        return None
    columns = [c for c, _ in table.columns]
    wanted = [c.strip().lower() for c in select.group(1).split(",")]
    if not set(wanted) <= set(columns):
        return None
    key = _exact_key(select.group(3), table, 0)
    if key is None:
        return None
    types = dict(table.columns)
    return _PointRead(
        table.name,
        tuple(columns.index(c) for c in wanted),
        tuple(_PYTHON_TYPES[types[c]] for c in wanted),
        _key_of(key),
    )


def _key_of(at: int | tuple[int, ...]) -> Callable[[Sequence[Any]], Any]:
    """A row's key from a statement's parameters (at :func:`_row_key`'s positions): one
    parameter, or a tuple of several."""
    return operator.itemgetter(*at) if isinstance(at, tuple) else operator.itemgetter(at)


def _positions(at: list[int]) -> int | tuple[int, ...]:
    """One parameter's position, or several's."""
    return at[0] if len(at) == 1 else tuple(at)


@functools.lru_cache(maxsize=4096)
def _shape(sql: str) -> tuple[str | None, frozenset[str]]:
    """The table a statement writes when it may be deferred (None: it is run at once), and
    the names it mentions (lower case: the tables whose deferred writes must go first)."""
    names = frozenset(n.lower() for n in _NAME.findall(sql))
    write = _WRITE.match(sql)
    if write is None:
        return None, names
    rest = frozenset(n.lower() for n in _NAME.findall(sql[write.end() :]))
    if rest & _READS_OTHERS:  # a subquery, UPDATE … FROM, RETURNING: run at once
        return None, names
    return write.group(1).lower(), names


_WHOLE_ROW_INSERT: Final = re.compile(r"INSERT INTO (\w+) VALUES \(\?(?:, \?)*\)")
COPY_FROM: Final = 16
"""Rows of one table in a PostgreSQL batch from which they go in by ``COPY``
(``python -m bench.view_writes``: CPU a row of ``COPY`` over ``executemany``'s — 1.02 at 2
rows, 0.67 at 8, 0.44 at 16, 0.21 at 85 alone; with one other thread holding the interpreter
lock in turns, as in ``serve``, 1.47 at 3 rows, 0.58 at 16, 0.21 at 85)."""


@functools.cache
def _whole_row_insert(sql: str) -> str | None:
    """The table of ``INSERT INTO t VALUES (?, …)`` (every column a parameter, the form a
    folded insert takes: ``_folding``), else None."""
    found = _WHOLE_ROW_INSERT.fullmatch(sql)
    return None if found is None else found.group(1)


@functools.cache
def _copy_statement(table: Table) -> Composable:
    """``COPY table (its columns) FROM STDIN``."""
    columns = ", ".join(c for c, _ in table.columns)  # as the DDL names them (unquoted)
    return SQL(f"COPY {table.name} ({columns}) FROM STDIN")


@functools.lru_cache(maxsize=1024)
def _postgres_sql(sql: str) -> SQL:
    """A view statement with ``?`` placeholders as psycopg's (translated once per text)."""
    return SQL(sql.replace("?", "%s"))


def _plain(row: Any) -> tuple[Any, ...]:
    values = row.values() if isinstance(row, dict) else tuple(row)
    return tuple(bytes(v) if isinstance(v, memoryview) else v for v in values)


class ViewRecorder(Protocol):
    """What a projection needs of its store."""

    dialect: str
    tables: tuple[Table, ...]

    def transaction(self, *, commit: bool = True) -> Any: ...

    def select(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def check(self, tx: Tx, application_name: str) -> None: ...

    def track(
        self, tx: Tx, tracking: Tracking, link: ChainLink | None = None, *, checked: bool = False
    ) -> None: ...

    def seal(self, tx: Tx, application_name: str) -> Seal: ...

    def max_tracking_id(self, application_name: str) -> int | None: ...

    def create_table(self) -> None: ...


# --- table fingerprints -------------------------------------------------------------------------

FINGERPRINTS: Final = Table(
    "view_fingerprints",
    (("view", "TEXT"), ("fingerprint", "TEXT"), ("tables", "TEXT")),
    ("view",),
)
"""One row per view: the fingerprint of its table definitions and the tables it made."""

SEALS: Final = Table(
    "view_seals",
    (
        ("view", "TEXT"),
        ("position", "BIGINT"),
        ("sequence", "BIGINT"),
        ("entry_hash", "BLOB"),
        ("alarm", "TEXT"),
    ),
    ("view",),
)
"""One row per view: the position it applied up to, the chain sequence and entry hash of the
event there, and the alarm of the last comparison with a rebuild (NULL when none)."""


class ViewTampered(Exception):
    """A view's tracking no longer matches its seal: it was changed outside the projection.
    The view refuses further writes until it is rebuilt (``projections verify`` says why)."""

    def __init__(self, view: str, detail: str) -> None:
        super().__init__(f"view {view}: {detail}")
        self.view = view
        self.detail = detail


@dataclass(frozen=True)
class ChainLink:
    """The chain entry of an applied notification: its sequence and entry hash."""

    sequence: int
    entry_hash: bytes


@dataclass(frozen=True)
class Seal:
    """A view's seal as stored, and its tracked position read in the same statement."""

    tracked: int
    position: int | None
    sequence: int | None
    entry_hash: bytes | None
    alarm: str | None


_TABLE_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def fingerprint(tables: Sequence[Table], dialect: str) -> str:
    """SHA-256 of the tables' DDL on ``dialect``, and of the seal table's: any change to a
    table's name, columns, types, key or indexes changes it."""
    ddl = "\n".join(statement for table in (*tables, SEALS) for statement in table.ddl(dialect))
    return hashlib.sha256(ddl.encode()).hexdigest()


def _exists(tx: Tx, table: str) -> bool:
    if tx.dialect == "sqlite":
        tx.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
    else:  # the connection's search_path is the view's schema
        tx.execute(
            "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?",
            (table,),
        )
    row = tx.fetchone()
    return bool(row and row[0])


def _settle(tx: Tx, view: str, tables: Sequence[Table], tracking: str) -> None:
    """Drop the view's tables and its tracking unless their recorded fingerprint is current.

    Also drops tables the recorded definition had and the current one no longer has. A fresh
    store (nothing recorded, nothing there) is left alone; the caller creates the tables.
    """
    for statement in (*FINGERPRINTS.ddl(tx.dialect), *SEALS.ddl(tx.dialect)):
        tx.execute(statement)
    tx.execute("SELECT fingerprint, tables FROM view_fingerprints WHERE view = ?", (view,))
    row = tx.fetchone()
    current = fingerprint(tables, tx.dialect)
    if row is not None and row[0] == current:
        return
    names = [t.name for t in tables]
    if row is not None:
        names += [n for n in str(row[1]).split(",") if _TABLE_NAME.fullmatch(n) and n not in names]
    dropped = [n for n in (*names, tracking) if _exists(tx, n)]
    for name in dropped:
        tx.execute(f'DROP TABLE "{name}"')
    tx.execute("DELETE FROM view_seals WHERE view = ?", (view,))
    if dropped:
        log.warning(
            "view %s: table definitions %s (fingerprint %s, now %s): dropped %s; "
            "the view rebuilds from the log",
            view,
            "changed" if row is not None else "not fingerprinted",
            "none" if row is None else str(row[0])[:12],
            current[:12],
            ", ".join(dropped),
        )


def _reread_tracking(recorder: Any, tx: Tx, cursor: Any, tracking: str) -> None:
    """What the library's ``create_table`` learnt of the tracking table before the creating
    transaction may be stale (it was just dropped, or another process created it)."""
    recorder.tracking_table_exists = _exists(tx, tracking)
    previous = (
        recorder._max_tracking_id(recorder.table_migration_identifier, cursor)
        if recorder.tracking_table_exists
        else None
    )
    recorder.tracking_migration_previous = recorder.tracking_migration_current = previous


def _record(tx: Tx, view: str, tables: Sequence[Table]) -> None:
    tx.execute(
        "INSERT INTO view_fingerprints VALUES (?, ?, ?) ON CONFLICT (view) DO UPDATE "
        "SET fingerprint = excluded.fingerprint, tables = excluded.tables",
        (view, fingerprint(tables, tx.dialect), ",".join(t.name for t in tables)),
    )


def _check(tx: Tx, view: str, tracking_table: str, application_name: str) -> None:
    """Raise :class:`ViewTampered` unless the seal is at the tracked position."""
    found = read_seal(tx, view, tracking_table, application_name)
    sealed = found.position or 0
    if sealed != found.tracked:
        raise ViewTampered(
            view,
            f"its tracking says notification {found.tracked}, but its seal says the last "
            f"event applied was {sealed}: the tracking was changed outside the view",
        )


def _seal(
    tx: Tx,
    view: str,
    tracking_table: str,
    tracking: Tracking,
    link: ChainLink | None,
    checked: bool,
) -> None:
    """Check the seal against the tracked position (unless the caller just did, in ``tx``),
    then move it to ``tracking`` (the caller writes the tracking in the same transaction).
    Raises :class:`ViewTampered`."""
    if not checked:
        _check(tx, view, tracking_table, tracking.application_name)
    tx.execute(
        "INSERT INTO view_seals (view, position, sequence, entry_hash) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (view) DO UPDATE SET position = excluded.position, "
        "sequence = excluded.sequence, entry_hash = excluded.entry_hash",
        (
            view,
            tracking.notification_id,
            None if link is None else link.sequence,
            None if link is None else link.entry_hash,
        ),
    )


def read_seal(tx: Tx, view: str, tracking_table: str, application_name: str) -> Seal:
    """The view's seal and its tracked position, in one statement (one snapshot, even under
    PostgreSQL's READ COMMITTED)."""
    tx.execute(
        f"SELECT (SELECT MAX(notification_id) FROM {tracking_table} "
        "WHERE application_name = ?), s.position, s.sequence, s.entry_hash, s.alarm "
        "FROM (SELECT 1 AS one) AS x LEFT JOIN view_seals AS s ON s.view = ?",
        (application_name, view),
    )
    row = tx.fetchone()
    if row is None:  # pragma: no cover - the outer select always has one row
        return Seal(0, None, None, None, None)
    tracked, position, sequence, entry_hash, alarm = row
    return Seal(
        int(tracked or 0),
        None if position is None else int(position),
        None if sequence is None else int(sequence),
        None if entry_hash is None else bytes(entry_hash),
        alarm,
    )


def record_alarm(tx: Tx, view: str, alarm: str | None) -> None:
    """Set (or clear, with None) the view's alarm: what the last comparison found."""
    tx.execute(
        "INSERT INTO view_seals (view, alarm) VALUES (?, ?) "
        "ON CONFLICT (view) DO UPDATE SET alarm = excluded.alarm",
        (view, alarm),
    )


# --- the recorders ------------------------------------------------------------------------------


class SQLiteViewRecorder(SQLiteTrackingRecorder):
    """A view's rows and tracking in its own SQLite file."""

    dialect = "sqlite"

    def __init__(self, datastore: SQLiteDatastore, tables: tuple[Table, ...], name: str):
        self.tables = tables
        self.name = name
        super().__init__(datastore)

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        for table in self.tables:
            statements.extend(table.ddl("sqlite"))
        return statements

    def _create_table(self, c: Any) -> None:
        """Settle the fingerprint, create what is missing, record the fingerprint: one
        transaction (``create_table``)."""
        tx = Tx(c, "sqlite")
        _settle(tx, self.name, self.tables, "tracking")
        _reread_tracking(self, tx, c, "tracking")
        super()._create_table(c)
        _record(tx, self.name, self.tables)
        tx.flush()

    @contextmanager
    def transaction(self, *, commit: bool = True) -> Iterator[Tx]:
        with self.datastore.transaction(commit=commit) as c:
            tx = Tx(c, "sqlite", self.tables)
            yield tx
            tx.flush()

    def select(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of one read-only statement."""
        with self.transaction(commit=False) as tx:
            tx.execute(sql, params)
            return tx.fetchall()

    def check(self, tx: Tx, application_name: str) -> None:
        """Raise :class:`ViewTampered` unless the seal is at the tracked position."""
        _check(tx, self.name, "tracking", application_name)

    def track(
        self, tx: Tx, tracking: Tracking, link: ChainLink | None = None, *, checked: bool = False
    ) -> None:
        """Record the position (and the seal) in ``tx``; raises :class:`ViewTampered`."""
        _seal(tx, self.name, "tracking", tracking, link, checked)
        tx.flush()
        self._insert_tracking(tx._cursor, tracking)

    def seal(self, tx: Tx, application_name: str) -> Seal:
        return read_seal(tx, self.name, "tracking", application_name)


class PostgresViewRecorder(PostgresTrackingRecorder):
    """A view's rows and its own tracking table in the ledger's PostgreSQL schema."""

    dialect = "postgres"

    def __init__(self, datastore: PostgresDatastore, tables: tuple[Table, ...], name: str):
        self.tables = tables
        self.name = name
        super().__init__(datastore, tracking_table_name=f"view_{name}_tracking")
        for table in tables:
            for statement in table.ddl("postgres"):
                self.sql_create_statements.append(SQL(statement))  # type: ignore[arg-type]

    def _create_table(self, curs: Any) -> None:
        """As on SQLite, under a lock on the schema's views, so two processes opening views
        at once neither race on ``view_fingerprints`` nor both rebuild."""
        tx = Tx(curs, "postgres")
        key = hashlib.sha256(f"caseledger views {self.datastore.schema}".encode()).digest()
        tx.execute(
            "SELECT pg_advisory_xact_lock(?)", (int.from_bytes(key[:8], "big", signed=True),)
        )
        _settle(tx, self.name, self.tables, self.tracking_table_name)
        _reread_tracking(self, tx, curs, self.tracking_table_name)
        super()._create_table(curs)
        _record(tx, self.name, self.tables)
        tx.flush()

    @contextmanager
    def transaction(self, *, commit: bool = True) -> Iterator[Tx]:
        with self.datastore.transaction(commit=commit) as c:
            tx = Tx(c, "postgres", self.tables)
            yield tx
            tx.flush()

    def select(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of one read-only statement: one round trip (autocommit, no BEGIN)."""
        with self.datastore.get_connection() as conn:
            cursor = conn.cursor(row_factory=tuple_row)
            cursor.execute(SQL(sql.replace("?", "%s")), tuple(params))
            return [_plain(row) for row in cursor.fetchall()]

    def position_and_head(self, application_name: str, head: Composable) -> tuple[int, int]:
        """The view's tracked position and the log head (``head``: the ledger recorder's
        ``SELECT MAX(notification_id)`` statement) in one round trip: the view and the log
        share the database."""
        statement = SQL(
            "SELECT ({0}), (SELECT MAX(notification_id) FROM {1} WHERE application_name = %s)"
        ).format(head, Identifier(self.tracking_table_name))
        with self.datastore.get_connection() as conn:
            cursor = conn.cursor(row_factory=tuple_row)
            cursor.execute(statement, (application_name,))
            row = cursor.fetchone()
        return (0, 0) if row is None else (int(row[1] or 0), int(row[0] or 0))

    def check(self, tx: Tx, application_name: str) -> None:
        """Raise :class:`ViewTampered` unless the seal is at the tracked position."""
        _check(tx, self.name, self.tracking_table_name, application_name)

    def track(
        self, tx: Tx, tracking: Tracking, link: ChainLink | None = None, *, checked: bool = False
    ) -> None:
        """Record the position (and the seal) in ``tx``; raises :class:`ViewTampered`."""
        _seal(tx, self.name, self.tracking_table_name, tracking, link, checked)
        tx.flush()
        self._insert_tracking(tx._cursor, tracking)

    def seal(self, tx: Tx, application_name: str) -> Seal:
        return read_seal(tx, self.name, self.tracking_table_name, application_name)


class _SchemaDatastore(PostgresDatastore):
    """A datastore whose connections resolve bare table names in its schema."""

    scratch = False

    def after_connect_func(self) -> Callable[[Any], None]:
        base = super().after_connect_func()
        search_path = SQL("SET search_path TO {0}").format(Identifier(self.schema))

        def after_connect(conn: Any) -> None:
            base(conn)
            conn.cursor().execute(search_path)
            if self.scratch:
                conn.cursor().execute("SET synchronous_commit TO off")

        return after_connect


class _ScratchDatastore(_SchemaDatastore):
    """A rebuild's datastore (one thread; thrown away unless complete): its commits do not
    wait for the WAL flush."""

    scratch = True


def open_view_recorder(
    storage: StorageURL, name: str, tables: tuple[Table, ...], *, suffix: str = ""
) -> SQLiteViewRecorder | PostgresViewRecorder:
    """The store of view ``name`` beside the ledger at ``storage``.

    ``suffix`` opens a separate store for a rebuild: another SQLite file, or another
    PostgreSQL schema.
    """
    if storage.is_sqlite:
        path = view_directory(storage) / f"{name}{suffix}.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        # A rebuild's store is thrown away unless it is complete, so it need not sync.
        pragmas = ("synchronous=OFF", "cache_size=-65536") if suffix else ()
        datastore = cache_statements(SQLiteDatastore(str(path), lock_timeout=60), pragmas=pragmas)
        return SQLiteViewRecorder(datastore, tables, name)
    schema = storage.schema or "public"
    if suffix:  # a rebuild gets a schema of its own, so handlers' table names stay the same
        schema = f"{schema}{suffix}_{name}"[:63]
        with psycopg.connect(storage.conninfo, autocommit=True) as conn:
            conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {0}").format(Identifier(schema)))
        scratch = _datastore(storage, schema, pool_size=1, max_overflow=1, scratch=True)
        return PostgresViewRecorder(scratch, tables, name)
    return PostgresViewRecorder(_live_datastore(storage, schema), tables, name)


_live: weakref.WeakValueDictionary[tuple[int, str, str], _SchemaDatastore] = (
    weakref.WeakValueDictionary()
)
_live_guard = threading.Lock()


def _live_datastore(storage: StorageURL, schema: str) -> _SchemaDatastore:
    """The one datastore (connection pool) of this process for every live view of a schema:
    a pool per view held some twenty idle connections per process. Kept while a view uses
    it (weakly), as a pool per view was."""
    key = (os.getpid(), storage.conninfo, schema)
    with _live_guard:
        found = _live.get(key)
        if found is None:
            found = _datastore(storage, schema, pool_size=2, max_overflow=8)
            _live[key] = found
        return found


def _datastore(
    storage: StorageURL,
    schema: str,
    *,
    pool_size: int = 2,
    max_overflow: int = 4,
    scratch: bool = False,
) -> _SchemaDatastore:
    """A pool of connections whose bare table names resolve in ``schema``."""
    datastore = (_ScratchDatastore if scratch else _SchemaDatastore)(
        storage.dbname,
        storage.host,
        storage.port,
        storage.user,
        storage.password,
        schema=schema,
        pool_size=pool_size,
        max_overflow=max_overflow,
        connect_timeout=POOL_WAIT_SECONDS,
    )
    pg_pool.heal(datastore)  # killed backends replaced when borrowed; quick reconnection
    return datastore


def drop_rebuild_schema(recorder: PostgresViewRecorder, storage: StorageURL) -> None:
    """Remove a rebuild's own schema (PostgreSQL)."""
    recorder.datastore.close()
    with psycopg.connect(storage.conninfo, autocommit=True) as conn:
        conn.execute(
            SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(Identifier(recorder.datastore.schema))
        )


def swap_in(live: Any, fresh: Any, storage: StorageURL) -> None:
    """Make the rows, tracking and seal of ``fresh`` (a rebuild's store, which is used up)
    those of the live view ``live``, in one transaction of the live store: a reader sees
    the old complete view or the new one, never a view half built. On SQLite the fresh file
    (each view has a file of its own) is copied over the live one page by page with SQLite's
    online backup, in one write transaction of the live file (another file cannot be renamed
    under open connections; copying row by row rebuilt every index); on PostgreSQL the live
    tables are dropped and the fresh ones moved into the live schema."""
    if live.dialect == "sqlite":
        _swap_sqlite(live, fresh)
    else:
        _swap_postgres(live, fresh, storage)


def _swap_sqlite(live: SQLiteViewRecorder, fresh: SQLiteViewRecorder) -> None:
    source = fresh.datastore.pool.db_name
    fresh.datastore.close()
    with (
        closing(sqlite3.connect(source)) as src,
        closing(sqlite3.connect(live.datastore.pool.db_name, timeout=60)) as dst,
    ):
        src.backup(dst)


def _swap_postgres(
    live: PostgresViewRecorder, fresh: PostgresViewRecorder, storage: StorageURL
) -> None:
    fresh.datastore.close()
    into, source = Identifier(live.datastore.schema), Identifier(fresh.datastore.schema)
    names = [Identifier(n) for n in (*(t.name for t in live.tables), live.tracking_table_name)]
    with psycopg.connect(storage.conninfo) as conn, conn.transaction():
        for name in names:
            conn.execute(SQL("DROP TABLE IF EXISTS {0}.{1}").format(into, name))
        for name in names:
            conn.execute(SQL("ALTER TABLE {0}.{1} SET SCHEMA {2}").format(source, name, into))
        conn.execute(SQL("DELETE FROM {0}.view_seals WHERE view = %s").format(into), (live.name,))
        conn.execute(
            SQL("INSERT INTO {0}.view_seals SELECT * FROM {1}.view_seals WHERE view = %s").format(
                into, source
            ),
            (live.name,),
        )
    with psycopg.connect(storage.conninfo, autocommit=True) as conn:
        conn.execute(SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(source))


def view_directory(storage: StorageURL) -> Path:
    path = Path(storage.path)
    return path.parent / f"{path.stem}.views"


def table_digest(recorder: Any, tables: Sequence[Table]) -> str:
    """SHA-256 over every row of every table in primary-key order, canonically encoded."""
    digest = hashlib.sha256()
    with recorder.transaction(commit=False) as tx:
        for table in tables:
            tx.execute(
                f"SELECT {', '.join(c for c, _ in table.columns)} FROM {table.name} "
                f"ORDER BY {', '.join(table.primary_key)}"
            )
            digest.update(canonical([table.name, *map(list, tx.fetchall())]))
    return digest.hexdigest()


def is_replay(exc: Exception) -> bool:
    """A tracking conflict: this position was already processed (exactly-once)."""
    return isinstance(exc, IntegrityError)
