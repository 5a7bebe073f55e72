"""Reading link rows from another process: the SELECT a chained recorder reads links with, and
a picklable spec per backend that opens its own connection and runs it.

Layer: ledger chain (persistence). Verification's worker processes read and check ranges of
the chain themselves (``ledger.chain.page_check``); they get one of these specs from the
recorder (:meth:`link_rows`), never the recorder, whose pools and threads cannot cross a
process boundary. The driver is imported where a spec opens, so a worker loads only its own.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from msgpack import ExtType

from ledger.encoding import EXT_UUID, uuid_ext

LINK_COLUMNS = (
    "c.sequence, c.notification_id, c.prev_hash, c.entry_hash, c.originator_id, "
    "c.originator_version, c.topic, c.timestamp, c.state_hash, c.key_id, c.signature, "
    "c.command_index, c.command_size"
)
"""The chain columns of a link row in the order ``links_of`` reads them; the event's
follow: its notification id (NULL when no event is stored there), originator id as text,
version, topic and state."""

FetchRows = Callable[[int, int], list[Any]]
"""``fetch(start, limit)``: up to ``limit`` link rows from sequence ``start`` on, in order."""


def sqlite_link_select(chain_table: str, events_table: str) -> str:
    """The link SELECT of a SQLite ledger, before its WHERE."""
    return (
        f"SELECT {LINK_COLUMNS}, e.rowid, e.originator_id, e.originator_version, "
        f"e.topic, e.state FROM {chain_table} c "
        f"LEFT JOIN {events_table} e ON e.rowid = c.notification_id "
    )


def sqlite_originator_id(text: str, uuid_ids: bool) -> UUID | str:
    """A stored id as the SQLite recorder reads it (hex text of a UUID)."""
    try:
        return UUID(bytes=bytes.fromhex(text)) if uuid_ids else text
    except ValueError:
        return text  # a tampered id is reported by verification, not raised here


def sqlite_normal_id(text: str, uuid_ids: bool) -> Any:
    """:func:`sqlite_originator_id` in normal form (``uuid_ext`` of a UUID), without making
    the UUID: its 16 bytes are the hex text's (the id a verification worker hashes)."""
    if not uuid_ids:
        return text
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        return text
    return ExtType(EXT_UUID, raw) if len(raw) == 16 else text


def postgres_link_select(chain: Any, events: Any) -> Any:
    """The link SELECT of a PostgreSQL ledger (``chain``, ``events``: qualified table names,
    psycopg ``Composable``), before its WHERE."""
    from psycopg.sql import SQL

    return SQL(
        "SELECT " + LINK_COLUMNS + ", e.notification_id, e.originator_id::text, "
        "e.originator_version, e.topic, e.state "
        "FROM {0} c LEFT JOIN {1} e ON e.notification_id = c.notification_id "
    ).format(chain, events)


def postgres_originator_id(text: str, uuid_ids: bool) -> UUID | str:
    """A stored id as the PostgreSQL recorder reads it (``uuid::text``)."""
    if uuid_ids:
        try:
            return UUID(text)
        except ValueError:
            return text  # a tampered id is reported by verification, not raised here
    return text


@dataclass(frozen=True)
class SQLiteLinkRows:
    """Link rows of a SQLite ledger file, read on a connection of the reader's own."""

    path: str
    chain_table: str
    events_table: str
    uuid_ids: bool

    def originator_id(self, text: str) -> UUID | str:
        """A stored id as the recorder reads it."""
        return sqlite_originator_id(text, self.uuid_ids)

    def normal_id(self, text: str) -> Any:
        """:meth:`originator_id` in normal form, as hashes and signed messages hold it."""
        return sqlite_normal_id(text, self.uuid_ids)

    def open(self) -> FetchRows:
        connection = sqlite3.connect(os.path.abspath(self.path), check_same_thread=False)
        statement = (
            sqlite_link_select(self.chain_table, self.events_table)
            + "WHERE c.sequence >= ? ORDER BY c.sequence LIMIT ?"
        )

        def fetch(start: int, limit: int) -> list[Any]:
            return connection.execute(statement, (start, limit)).fetchall()

        return fetch


@dataclass(frozen=True)
class PostgresLinkRows:
    """Link rows of a PostgreSQL ledger, read on a connection of the reader's own."""

    connect: dict[str, Any] = field(repr=False)  # libpq parameters, the password among them
    schema: str
    tables: tuple[str, str]  # the chain's and the events'
    uuid_ids: bool

    def originator_id(self, text: str) -> UUID | str:
        return postgres_originator_id(text, self.uuid_ids)

    def normal_id(self, text: str) -> Any:
        oid = self.originator_id(text)
        return uuid_ext(oid) if isinstance(oid, UUID) else oid

    def open(self) -> FetchRows:
        import psycopg
        from psycopg.rows import tuple_row
        from psycopg.sql import SQL, Identifier

        connection = psycopg.connect(**self.connect, autocommit=True)
        schema = Identifier(self.schema)
        chain, events = (SQL("{0}.{1}").format(schema, Identifier(t)) for t in self.tables)
        statement = postgres_link_select(chain, events) + SQL(
            "WHERE c.sequence >= %s ORDER BY c.sequence LIMIT %s"
        )

        def fetch(start: int, limit: int) -> list[Any]:
            with connection.cursor(row_factory=tuple_row) as cursor:
                return cursor.execute(statement, (start, limit)).fetchall()

        return fetch


LinkRows = SQLiteLinkRows | PostgresLinkRows
