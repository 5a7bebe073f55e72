"""One range of the chain read and checked in a worker process, for the verifier to merge.

Layer: ledger chain. ``ledger.chain.verification`` splits a large log into ranges of
sequences and merges what workers find in sequence order. Everything an entry's checks need
but the chain's order is in its own row — its hash, its event's state hash, the message its
command signed (the link is checked against the *stored* previous hash) — so a worker reads
its range on a connection of its own (``link_rows``), checks each entry and command as the
sequential walk does (FORMAT.md §5 steps 1–6 and 8), and verifies each command's signature
with the key the chain's key events give it at that place (:class:`KeyTimeline`, read ahead
by the verifier and confirmed by it as it replays those events).

A worker never names a failure: a range is *clean* or not. The verifier replays a range that
is not clean — and anything its merge cannot confirm — with the sequential walk, so a report
is always exactly the sequential walk's. A clean range hands back its boundaries (for the
links and order between ranges) and its *notable* commands, which the verifier replays
itself: the genesis, key events, and what the authority replay reads
(:func:`ledger.chain.authority.replayed`; every command of an official's key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

from ledger.chain.authority import replayed
from ledger.chain.entries import EntryHasher, _command_message
from ledger.chain.recorders.link_rows import FetchRows, LinkRows
from ledger.chain.signature_batch import first_bad
from ledger.domain.keys import KEY_TOPICS, KeyRole

OVERHANG_PAGE = 1000
_OFFICIAL = KeyRole.OFFICIAL.value


@dataclass(frozen=True)
class KeyTimeline:
    """Every key as the chain's key events register and revoke it, read before the walk:
    key id → (public key, role, registered at, revoked at or None); a key record's
    originator id → the sequence of its registration."""

    keys: dict[bytes, tuple[bytes, str, int, int | None]]
    records: dict[Any, int]  # by the id in normal form (``uuid_ext`` of a UUID)
    events: list[int]  # the sequences of the key events read, in order


@dataclass(frozen=True)
class Plan:
    """What every range of one verification shares."""

    rows: LinkRows
    last: int  # the last sequence verified
    first_unlinked: int | None  # the first stored event without a chain entry
    timeline: KeyTimeline


@dataclass(frozen=True)
class Notable:
    """A command of a clean range that the verifier replays itself (its link rows), with
    what the walk knew before it and the key its signature verified with."""

    ordinal: int  # commands of the range before it
    rows: list[Any]
    prev_nid: int
    prev_time: int
    public_key: bytes


@dataclass(frozen=True)
class RangeResult:
    """What a worker found in the commands that begin in ``[first, stop)``."""

    first: int
    stop: int
    clean: bool
    begin: int = 0  # the sequence of the first command begun in the range (0: none)
    end: int = 0  # the sequence after its last command (which may run past ``stop``)
    head: tuple[bytes, int, int] = (b"", 0, 0)  # its first entry's link, time, notification
    tail: tuple[bytes, int, int] = (b"", 0, 0)  # its last entry's hash, time, notification
    commands: int = 0
    notable: list[Notable] = field(default_factory=list)


_reader: tuple[LinkRows, FetchRows] | None = None


def _fetch(rows: LinkRows) -> FetchRows:
    """A connection per worker process, kept across its ranges."""
    global _reader
    if _reader is None or _reader[0] != rows:
        _reader = (rows, rows.open())
    return _reader[1]


def check_range(plan: Plan, first: int, stop: int) -> RangeResult:
    """Check the commands that begin in ``[first, stop)`` (never raises: a range it cannot
    confirm is not clean)."""
    try:
        return _Range(plan, first, stop).run()
    except Exception:  # odd types in a tampered row: the sequential walk names the failure
        return RangeResult(first, stop, clean=False)


class _Unclean(Exception):
    pass


class _Range:
    def __init__(self, plan: Plan, first: int, stop: int):
        self.plan, self.first, self.stop = plan, first, stop
        self.fetch = _fetch(plan.rows)
        self.hasher = EntryHasher()
        self.ids: dict[str, tuple[Any, int | None]] = {}  # text → (normal form, record)
        self.topics: dict[Any, bool] = {}

    def run(self) -> RangeResult:
        first, stop, last = self.first, self.stop, self.plan.last
        rows = self.fetch(first, stop - first)
        if len(rows) != stop - first or not rows or rows[0][0] != first:
            return RangeResult(first, stop, clean=False)
        skip = 0
        while skip < len(rows) and rows[skip][11] != 0:
            skip += 1  # the tail of a command begun before the range: its range checks it
        if skip == len(rows):
            return RangeResult(first, stop, clean=True)
        rows = rows[skip:]
        head = rows[-1]
        while head[11] + 1 != head[12]:  # the last command runs past the range
            more = min(OVERHANG_PAGE, head[12] - head[11] - 1, last - head[0])
            extra = self.fetch(head[0] + 1, more) if more > 0 else []
            if not extra:
                raise _Unclean
            rows += extra
            head = rows[-1]
        return self.check(rows)

    def check(self, rows: list[Any]) -> RangeResult:
        plan, hasher = self.plan, self.hasher
        unlinked = plan.first_unlinked
        keys, records = plan.timeline.keys, plan.timeline.records
        ids, topics = self.ids, self.topics
        begin = seq = rows[0][0]
        prev: bytes | None = None
        prev_time = prev_nid = 0
        head: tuple[bytes, int, int] = (b"", 0, 0)
        group_at, open_, marked, on_record = 0, False, False, False
        digests: list[tuple[Any, Any, Any, Any]] = []
        items: list[tuple[bytes, bytes, bytes]] = []
        notable: list[Notable] = []
        commands = 0
        before_nid = before_time = 0  # of the entry before the open command
        for at, row in enumerate(rows):
            sequence, nid, prev_hash, entry_hash, oid_text, version, topic, timestamp = row[:8]
            state_hash, key_id, signature, index, size = row[8:13]
            if unlinked is not None and nid > unlinked:
                raise _Unclean
            if sequence != seq:
                raise _Unclean
            if prev is None:
                head = (prev_hash, timestamp, nid)
            elif prev_hash != prev or timestamp < prev_time or nid <= prev_nid:
                raise _Unclean
            known = ids.get(oid_text)
            if known is None:
                oid = plan.rows.normal_id(oid_text)
                known = ids[oid_text] = (oid, records.get(oid))
            computed = hasher((sequence, prev_hash, known[0], *row[5:13]))  # HASHED_FIELDS
            if computed != entry_hash:
                raise _Unclean
            event_id, event_oid, event_version, event_topic, event_state = row[13:]
            if event_id is None or event_oid != oid_text or event_version != version:
                raise _Unclean
            if event_topic != topic or sha256(event_state).digest() != state_hash:
                raise _Unclean
            if not open_:
                if index != 0 or size < 1:
                    raise _Unclean
                group_at, open_, marked, on_record, digests = at, True, False, False, []
                before_nid, before_time = prev_nid, prev_time
            elif (
                index != at - group_at
                or size != rows[group_at][12]
                or key_id != rows[group_at][9]
                or signature != rows[group_at][10]
                or timestamp != rows[group_at][7]
            ):
                raise _Unclean
            mark = topics.get(topic)
            if mark is None:
                mark = topics[topic] = topic in KEY_TOPICS or replayed(topic)
            marked = marked or mark
            digests.append((known[0], version, topic, state_hash))
            if known[1] is not None and known[1] < sequence:
                on_record = True  # an event on a key's record: only key events belong there
            if at - group_at + 1 == size:  # the command is complete
                open_ = False
                group = rows[group_at : at + 1]
                first = group[0][0]
                key = keys.get(key_id)
                if key is None or (key[2] != 1 if first == 1 else key[2] >= first):
                    raise _Unclean  # not registered before (the genesis registers its own)
                if key[3] is not None and key[3] < first:
                    raise _Unclean  # revoked
                pieces = (digests, first, group[0][2], timestamp, hasher.normal, hasher.pack)
                message = _command_message(*pieces)
                items.append((key[0], message, signature))
                if marked or first == 1 or key[1] == _OFFICIAL:
                    notable.append(Notable(commands, group, before_nid, before_time, key[0]))
                elif on_record:
                    raise _Unclean
                commands += 1
            prev, prev_time, prev_nid = entry_hash, timestamp, nid
            seq += 1
        if open_ or prev is None or first_bad(items) is not None:
            raise _Unclean
        tail = (prev, prev_time, prev_nid)
        return RangeResult(self.first, self.stop, True, begin, seq, head, tail, commands, notable)
