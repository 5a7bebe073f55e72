"""What both chained recorders share: preparing a signed command, and the chain port.

Layer: ledger chain (persistence). DESIGN invariant 1: the link is computed inside the
write transaction, under the lock that orders notifications. Digesting the events happens
here, before that lock; the actor signs under it, because the signature covers the
command's place in the chain (docs/FORMAT.md §3).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from hashlib import sha256 as _sha256
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

from ledger.chain.entries import (
    ChainEntry,
    EventDigest,
    PendingCommand,
    event_digest,
)
from ledger.chain.recorders.link_rows import LinkRows
from ledger.domain.signer import Signer
from ledger.errors import ConfigurationError, SigningError

CHAIN_TABLE = "chain_entries"

Reads = tuple[tuple[UUID, int], ...]
"""Aggregates a command only read, each with the version it read (0: it found none)."""


class StaleReference(IntegrityError):
    """An aggregate the command only read had moved on when it was written (checked under
    the write lock): nothing was recorded; read the ``stale`` ids again and retry."""

    def __init__(self, stale: Sequence[UUID]):
        super().__init__(
            "stale read: an aggregate this command read was changed before it was recorded"
        )
        self.stale = tuple(stale)


class MaterialsMissing(Exception):
    """Materials a command cites were not in the material store when it was written
    (checked under the write lock, in the write's first round trip): nothing was recorded.
    Not an ``IntegrityError``: no retry finds them."""

    def __init__(self, missing: Iterable[bytes]):
        super().__init__("materials: not uploaded to the material store")
        self.missing = frozenset(missing)


@dataclass(frozen=True)
class CheckedCommand(PendingCommand):
    """A command with what it was decided on, checked where it is written: the versions of
    what it only read, and the SHA-256 of the materials it cites."""

    reads: Reads = ()
    materials: frozenset[bytes] = frozenset()


@dataclass(frozen=True)
class LinkedEvent:
    """A chain entry with the stored event its notification id points at (if any)."""

    entry: ChainEntry
    notification_id: int
    event: StoredEvent | None


class ChainStore(Protocol):
    """The read side of a chained recorder that verification and anchoring use."""

    def chain_head(self) -> ChainEntry | None: ...

    def select_links(self, start: int, limit: int) -> Sequence[LinkedEvent]: ...

    def select_entries(self, start: int, limit: int) -> Sequence[ChainEntry]: ...

    def count_unlinked_events(self, from_notification_id: int) -> tuple[int, int | None]: ...

    def select_key_events(self, before: int) -> Sequence[LinkedEvent]: ...

    def select_entries_of(self, originator_id: UUID | str) -> Sequence[ChainEntry]: ...

    def link_rows(self) -> LinkRows | None:
        """How another process reads this chain's link rows (None: it cannot, e.g. an
        in-memory database)."""
        ...


def links_of(rows: Iterable[Sequence[Any]], originator_id: Any) -> list[LinkedEvent]:
    """Link rows (``link_rows.LINK_COLUMNS``, then the event's five columns) as
    :class:`LinkedEvent` objects, read straight from the row tuples; ``originator_id`` parses
    a stored id (each distinct text once per call). The frozen dataclasses are made without
    ``__init__``'s per-field ``object.__setattr__``: each instance's dict is set at once
    (see ``chain_entry``; rows are read by the thousand)."""
    ids: dict[str, UUID | str] = {}
    links: list[LinkedEvent] = []
    append, new, set_ = links.append, object.__new__, object.__setattr__
    for (
        sequence,
        notification_id,
        prev_hash,
        entry_hash,
        oid_text,
        version,
        topic,
        timestamp,
        state_hash,
        key_id,
        signature,
        command_index,
        command_size,
        event_id,
        event_oid,
        event_version,
        event_topic,
        event_state,
    ) in rows:
        oid = ids.get(oid_text)
        if oid is None:
            oid = ids[oid_text] = originator_id(oid_text)
        entry = new(ChainEntry)
        set_(
            entry,
            "__dict__",
            {
                "sequence": sequence,
                "prev_hash": bytes(prev_hash),
                "originator_id": oid,
                "originator_version": version,
                "topic": topic,
                "timestamp": timestamp,
                "state_hash": bytes(state_hash),
                "key_id": bytes(key_id),
                "signature": bytes(signature),
                "command_index": command_index,
                "command_size": command_size,
                "entry_hash": bytes(entry_hash),
            },
        )
        event = None
        if event_id is not None:
            event = new(StoredEvent)
            set_(
                event,
                "__dict__",
                {
                    "originator_id": oid if event_oid == oid_text else originator_id(event_oid),
                    "originator_version": event_version,
                    "topic": event_topic,
                    "state": bytes(event_state),
                },
            )
        link = new(LinkedEvent)
        set_(link, "__dict__", {"entry": entry, "notification_id": notification_id, "event": event})
        append(link)
    return links


def now_micros() -> int:
    return time.time_ns() // 1000


def digest_events(stored_events: Sequence[StoredEvent]) -> list[EventDigest]:
    return [
        event_digest(s.originator_id, s.originator_version, s.topic, _sha256(s.state).digest())
        for s in stored_events
    ]


class ChainedRecorderMixin:
    """Digests a command before the lock; backends sign and link it under the lock."""

    chain_table_name = CHAIN_TABLE
    #: Only for reusable library test cases, which insert without an actor.
    default_signer: Signer | None = None

    @property
    def checks_materials(self) -> bool:
        """Whether a save's ``materials=`` are looked up in its write transaction (a
        backend that can says so: PostgreSQL's ``check_materials_in``)."""
        return False

    def prepare_command(
        self, stored_events: Sequence[StoredEvent], kwargs: dict[str, Any]
    ) -> PendingCommand | None:
        """The command's digests and signer, before the lock. A save citing materials this
        recorder cannot look up is refused here, before anything is written: never unchecked."""
        if kwargs.get("materials") and not self.checks_materials:
            raise ConfigurationError("materials: this recorder has no material store to check")
        if not stored_events:
            return None
        signer: Signer | None = kwargs.get("signer") or self.default_signer
        if signer is None:
            raise SigningError(
                "no signer: every command is signed by the actor that causes it "
                "(DESIGN invariant 2); pass signer=… to save()"
            )
        return PendingCommand(tuple(digest_events(stored_events)), signer)


def originator_id_text(originator_id: UUID | str) -> str:
    return originator_id.hex if isinstance(originator_id, UUID) else originator_id


def id_texts(entries: Iterable[ChainEntry], text: Callable[[Any], str]) -> list[str]:
    """Each entry's originator id as stored (``text`` of it), made once per run of entries
    that share the id object: a command's entries mostly do, and ``str(UUID)`` and a
    UUID's hash are Python code (issue 18: once per entry was ~0.6 µs of a chained save's)."""
    texts: list[str] = []
    append = texts.append
    last: Any = None
    stored = ""
    for e in entries:
        oid = e.originator_id
        if oid is not last:
            stored, last = text(oid), oid
        append(stored)
    return texts


def pages(fetch: Any, start: int, page_size: int) -> Iterator[Any]:
    """Iterate ``fetch(start, limit)`` pages of chain rows by sequence."""
    while True:
        rows = fetch(start, page_size)
        if not rows:
            return
        yield from rows
        last = rows[-1]
        start = (last.entry.sequence if isinstance(last, LinkedEvent) else last.sequence) + 1
