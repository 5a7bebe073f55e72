"""Verification of the chain: every link, hash, signature and key, in notification order.

Layer: ledger (reads through the :class:`~ledger.chain.recorders.base.ChainStore` port;
works the same on SQLite and PostgreSQL). DESIGN invariant 3; steps follow
docs/FORMAT.md §5 and stop at the first failure, naming its sequence number,
aggregate and reason. Anchors (truncation, rewrite) are checked on top of this
by ``anchors``.

A large log is read and checked in ranges by worker processes (``page_check``: each entry's
hash, state hash and its command's signature depend only on stored fields); the walk merges
their ranges in order, checks the links and order between them, and replays the key events
and the authority itself. Whatever it cannot confirm — a range that is not clean, a boundary
that does not follow — it walks sequentially, so a report is the sequential walk's, exactly
(``tests/ledger/test_parallel_verification.py``).
"""

from __future__ import annotations

import os
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any
from uuid import UUID

from ledger.chain.authority import AuthorityState
from ledger.chain.entries import GENESIS_HASH, ChainEntry, EntryHasher, sha256, signed_message
from ledger.chain.page_check import KeyTimeline, Plan, RangeResult, check_range
from ledger.chain.recorders.base import ChainStore, LinkedEvent, links_of
from ledger.chain.signing import verify_signature
from ledger.domain.keys import (
    KEY_REGISTERED_TOPIC,
    KEY_REVOKED_TOPIC,
    KEY_TOPICS,
    ActorKey,
    KeyRole,
)
from ledger.encoding import EncodingError, decode, uuid_ext

PAGE_SIZE = 5000
PARALLEL_THRESHOLD = 10_000
RANGE_MIN, RANGE_MAX = 500, 5000


@dataclass(frozen=True)
class Failure:
    """Where and why verification failed: the first bad sequence number."""

    sequence: int
    originator_id: str
    reason: str  # a stable code, e.g. "state-hash-mismatch"
    detail: str  # what was expected and what was found

    def __str__(self) -> str:
        return (
            f"sequence {self.sequence} ({self.originator_id or '-'}): {self.reason}: {self.detail}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "originator_id": self.originator_id,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Report:
    """The outcome of a verification run."""

    ok: bool
    first_sequence: int
    checked: int
    head_sequence: int
    head_hash: bytes
    commands: int
    keys: int
    genesis_pinned: bool
    seconds: float
    failure: Failure | None = None
    sealed_through: int = 0
    """The last sequence covered by a verified command signature: every command signs its
    place in the chain (FORMAT.md §3), so on a verified log this is the head."""

    @property
    def unsealed(self) -> int:
        """Entries after the last signed place (0 on a verified format-2 log)."""
        return max(0, self.head_sequence - self.sealed_through)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "first_sequence": self.first_sequence,
            "checked": self.checked,
            "head_sequence": self.head_sequence,
            "head_hash": self.head_hash.hex(),
            "commands": self.commands,
            "keys": self.keys,
            "genesis_pinned": self.genesis_pinned,
            "sealed_through": self.sealed_through,
            "unsealed": self.unsealed,
            "seconds": round(self.seconds, 3),
            "failure": None if self.failure is None else self.failure.as_dict(),
        }


@dataclass
class _Key:
    public_key: bytes
    role: str
    registered_at: int
    revoked_at: int | None = None
    actor: str = ""


class ChainBroken(Exception):
    """Internal: carries a Failure out of the walk."""

    def __init__(self, failure: Failure):
        super().__init__(str(failure))
        self.failure = failure


def _fail(entry: ChainEntry | None, sequence: int, reason: str, detail: str) -> ChainBroken:
    oid = "" if entry is None else str(entry.originator_id)
    return ChainBroken(Failure(sequence, oid, reason, detail))


@dataclass
class KeyRegistry:
    """Keys as the chain registered and revoked them, by key id."""

    pinned: frozenset[bytes] = frozenset()
    keys: dict[bytes, _Key] = field(default_factory=dict)
    by_originator: dict[UUID, bytes] = field(default_factory=dict)

    def check(self, key_id: bytes, sequence: int, entry: ChainEntry) -> _Key:
        key = self.keys.get(key_id)
        if key is None:
            raise _fail(entry, sequence, "unknown-key", f"key {key_id.hex()} was never registered")
        if key.revoked_at is not None and key.revoked_at < sequence:
            raise _fail(
                entry,
                sequence,
                "revoked-key",
                f"key {key_id.hex()} was revoked at sequence {key.revoked_at}",
            )
        return key

    def apply(self, link: LinkedEvent, signer_key: _Key | None, genesis: bool) -> None:
        entry = link.entry
        assert link.event is not None
        try:
            state = decode(link.event.state)
        except EncodingError as exc:
            raise _fail(entry, entry.sequence, "malformed-key-event", str(exc)) from exc
        if not genesis and (signer_key is None or signer_key.role != KeyRole.PLATFORM):
            raise _fail(
                entry, entry.sequence, "unauthorised-key-event", "key events need a platform key"
            )
        if entry.topic == KEY_REGISTERED_TOPIC:
            if entry.originator_version != 1:
                raise _fail(
                    entry,
                    entry.sequence,
                    "key-version-gap",
                    f"a key is registered by version 1 of its record, found version "
                    f"{entry.originator_version}",
                )
            try:
                key_id, public_key, role = state["key_id"], state["public_key"], state["role"]
            except (KeyError, TypeError) as exc:
                raise _fail(entry, entry.sequence, "malformed-key-event", str(exc)) from exc
            if not isinstance(key_id, bytes) or not isinstance(public_key, bytes):
                raise _fail(entry, entry.sequence, "malformed-key-event", "key fields not bytes")
            if ActorKey.create_id(key_id) != entry.originator_id:
                raise _fail(entry, entry.sequence, "malformed-key-event", "id does not match key")
            earlier = self.keys.get(key_id)
            if earlier is not None:
                revocation = (
                    "" if earlier.revoked_at is None else f", revoked at {earlier.revoked_at}"
                )
                raise _fail(
                    entry,
                    entry.sequence,
                    "key-reregistered",
                    f"key {key_id.hex()} was registered at sequence {earlier.registered_at}"
                    f"{revocation}; a key is registered once and a revoked key stays revoked",
                )
            actor = state.get("actor", "")
            self.keys[key_id] = _Key(public_key, str(role), entry.sequence, actor=str(actor))
            if isinstance(entry.originator_id, UUID):
                self.by_originator[entry.originator_id] = key_id
        elif entry.topic == KEY_REVOKED_TOPIC:
            revoked = self.by_originator.get(entry.originator_id)  # type: ignore[arg-type]
            if revoked is None:
                raise _fail(entry, entry.sequence, "malformed-key-event", "revokes an unknown key")
            if entry.originator_version != 2 or self.keys[revoked].revoked_at is not None:
                raise _fail(
                    entry,
                    entry.sequence,
                    "key-version-gap",
                    f"key {revoked.hex()}: a revocation is version 2 of its record and comes "
                    f"once, found version {entry.originator_version}",
                )
            self.keys[revoked].revoked_at = entry.sequence

    def check_not_key_record(self, entry: ChainEntry) -> None:
        """An event on a key's record that is not a key event (a forged version 3)."""
        if entry.originator_id in self.by_originator:
            raise _fail(
                entry,
                entry.sequence,
                "key-version-gap",
                f"a key's record holds only its registration and revocation, found {entry.topic}",
            )


def _check_entry(
    link: LinkedEvent,
    expected_sequence: int,
    prev_hash: bytes,
    prev_nid: int,
    prev_time: int,
    hasher: EntryHasher | None = None,
) -> None:
    """Steps 1–5 of FORMAT.md §5 for one entry."""
    entry, seq = link.entry, expected_sequence
    if entry.sequence != seq:
        raise _fail(entry, seq, "missing-entry", f"expected sequence {seq}, found {entry.sequence}")
    if entry.prev_hash != prev_hash:
        raise _fail(
            entry,
            seq,
            "broken-link",
            f"previous hash {prev_hash.hex()}, found {entry.prev_hash.hex()}",
        )
    computed = entry.compute_hash() if hasher is None else hasher.entry(entry)
    if computed != entry.entry_hash and entry.is_format_1():
        raise _fail(
            entry,
            seq,
            "old-format",
            "written in chain format 1, whose command signatures do not cover their place in "
            "the chain; this release verifies format 2 only (docs/FORMAT.md §2)",
        )
    if computed != entry.entry_hash:
        raise _fail(
            entry,
            seq,
            "entry-hash-mismatch",
            f"entry fields hash to {computed.hex()}, stored {entry.entry_hash.hex()}",
        )
    if entry.timestamp < prev_time:
        raise _fail(
            entry,
            seq,
            "timestamp-decreasing",
            f"recorded at {entry.timestamp} µs, before the previous entry ({prev_time} µs)",
        )
    if link.notification_id <= prev_nid:
        raise _fail(
            entry,
            seq,
            "order-mismatch",
            f"notification id {link.notification_id} does not follow {prev_nid}",
        )
    event = link.event
    if event is None:
        raise _fail(
            entry, seq, "event-missing", f"no stored event at notification {link.notification_id}"
        )
    if (
        event.originator_id != entry.originator_id
        or event.originator_version != entry.originator_version
    ):
        raise _fail(
            entry,
            seq,
            "event-mismatch",
            f"entry names {entry.originator_id} v{entry.originator_version}, stored event is "
            f"{event.originator_id} v{event.originator_version}",
        )
    if event.topic != entry.topic:
        raise _fail(
            entry, seq, "topic-mismatch", f"entry topic {entry.topic!r}, stored {event.topic!r}"
        )
    found = sha256(event.state)
    if found != entry.state_hash:
        raise _fail(
            entry,
            seq,
            "state-hash-mismatch",
            f"state hashes to {found.hex()}, entry says {entry.state_hash.hex()}",
        )


def _bad_signature(head: ChainEntry) -> ChainBroken:
    return _fail(
        head,
        head.sequence,
        "bad-signature",
        f"signature does not verify with key {head.key_id.hex()}",
    )


class _Diverged(Exception):
    """Internal: what a worker assumed of the keys is not what the walk found (the database
    changed under the run); the walk goes on sequentially from where it is."""


class _Walk:
    """The sequential walk's state, entry by entry (:meth:`step`), and the merge of clean
    worker ranges into it (:meth:`merge`): what a report names comes from here."""

    def __init__(
        self,
        registry: KeyRegistry,
        genesis_pinned: bool,
        start: int,
        last: int,
        first_unlinked: int | None,
    ):
        self.registry = registry
        self.genesis_pinned = genesis_pinned
        self.last = last
        self.first_unlinked = first_unlinked
        self.group: list[LinkedEvent] = []
        self.commands = 0
        self.closed_through = 0
        self.authority = AuthorityState()
        self.hasher = EntryHasher()
        self.seq = start
        self.prev_hash, self.prev_nid, self.prev_time = GENESIS_HASH, 0, 0
        self.head_hash = GENESIS_HASH
        self.checked = 0

    # -- the sequential walk --------------------------------------------------------------

    def walk(
        self,
        store: ChainStore,
        until: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Check entries in order from the next one through the last, or (``until``) until
        the first command that begins at or after ``until``."""
        while self.seq <= self.last and (until is None or self.seq < until or self.group):
            links = store.select_links(self.seq, min(PAGE_SIZE, self.last - self.seq + 1))
            if not links:
                raise _fail(
                    None, self.seq, "missing-entry", f"chain ends before sequence {self.last}"
                )
            self.hasher = EntryHasher()  # its caches: the ids of a page
            for link in links:
                if until is not None and self.seq >= until and not self.group:
                    break
                self.step(link)
            if progress is not None:
                progress(self.seq - 1, self.last)

    def step(self, link: LinkedEvent) -> None:
        """One entry: FORMAT.md §5 in its order, then its place in its command."""
        if self.first_unlinked is not None and link.notification_id > self.first_unlinked:
            raise _fail(
                link.entry,
                self.seq,
                "event-without-entry",
                f"stored event at notification {self.first_unlinked} has no chain entry",
            )
        _check_entry(link, self.seq, self.prev_hash, self.prev_nid, self.prev_time, self.hasher)
        self.add(link)
        self._advance(link)

    def _advance(self, link: LinkedEvent) -> None:
        self.prev_hash = self.head_hash = link.entry.entry_hash
        self.prev_nid, self.prev_time = link.notification_id, link.entry.timestamp
        self.seq += 1
        self.checked += 1

    def add(self, link: LinkedEvent) -> None:
        entry = link.entry
        first = self.group[0].entry if self.group else None
        if entry.command_index != len(self.group):
            raise _fail(
                entry,
                entry.sequence,
                "command-broken",
                f"command position {entry.command_index}, expected {len(self.group)}",
            )
        if first is not None and (
            entry.command_size != first.command_size
            or entry.key_id != first.key_id
            or entry.signature != first.signature
            or entry.timestamp != first.timestamp
        ):
            raise _fail(entry, entry.sequence, "command-broken", "entries of one command disagree")
        if entry.command_size < 1:
            raise _fail(entry, entry.sequence, "command-broken", "command size below 1")
        self.group.append(link)
        if len(self.group) == entry.command_size:
            self.close()

    def close(self, verified_key: bytes | None = None) -> None:
        """Close the complete command in ``group``: its key, signature (checked here, or
        by a worker with ``verified_key``), key events and authority."""
        group, self.group = self.group, []
        head = group[0].entry
        genesis = head.sequence == 1
        key = None
        if genesis:
            key = self._genesis_key(group)
        else:
            key = self.registry.check(head.key_id, head.sequence, head)
        if verified_key is None:
            hasher = self.hasher
            message = signed_message(
                [link.entry for link in group], normal=hasher.normal, pack=hasher.pack
            )
            if not verify_signature(key.public_key, message, head.signature):
                raise _bad_signature(head)
        elif verified_key != key.public_key:
            raise _Diverged
        for link in group:
            if link.entry.topic in KEY_TOPICS:
                self.registry.apply(link, key, genesis)
            else:
                self.registry.check_not_key_record(link.entry)
        if genesis:
            self.registry.check(head.key_id, head.sequence, head)
        exceeded = self.authority.check(group, key.role, key.actor)
        if exceeded is not None:
            sequence, why = exceeded
            raise _fail(group[sequence - head.sequence].entry, sequence, "authority-exceeded", why)
        self.commands += 1
        self.closed_through = group[-1].entry.sequence

    def _genesis_key(self, group: list[LinkedEvent]) -> _Key:
        """The first command registers the platform key and is signed by it."""
        head = group[0].entry
        link = group[0]
        if head.topic != KEY_REGISTERED_TOPIC or link.event is None:
            raise _fail(head, 1, "bad-genesis", "the first command must register the platform key")
        try:
            state = decode(link.event.state)
            public_key, key_id, role = state["public_key"], state["key_id"], state["role"]
        except (EncodingError, KeyError, TypeError) as exc:
            raise _fail(head, 1, "bad-genesis", f"malformed genesis key: {exc}") from exc
        if key_id != head.key_id or role != KeyRole.PLATFORM:
            raise _fail(head, 1, "bad-genesis", "genesis is not self-signed by a platform key")
        if self.registry.pinned and key_id not in self.registry.pinned:
            raise _fail(
                head, 1, "untrusted-genesis", f"platform key {key_id.hex()} is not in the policy"
            )
        return _Key(bytes(public_key), str(role), 1)

    # -- merging worker ranges ------------------------------------------------------------

    def merge(self, result: RangeResult, store: ChainStore, plan: Plan) -> None:
        """Take a worker's range, or walk it sequentially where the merge cannot confirm it
        (not clean; its first command not the next one; its first link, time or order not
        following the walk's last entry)."""
        if self.seq > self.last or (result.clean and not result.begin and self._past(result)):
            return  # covered by the command before it, or by a sequential stretch
        if (
            not result.clean
            or result.begin != self.seq
            or self.group
            or result.head[0] != self.prev_hash
            or result.head[1] < self.prev_time
            or result.head[2] <= self.prev_nid
            or not _agrees(self.registry, plan.timeline, result.begin - 1)
            or not _replays_its_key_events(result, plan.timeline)
        ):
            self.walk(store, until=result.stop)
            return
        checked, commands = self.checked, self.commands
        for notable in result.notable:
            links = links_of(notable.rows, plan.rows.originator_id)
            first = links[0].entry.sequence
            self.seq, self.checked = first, checked + (first - result.begin)
            self.commands, self.closed_through = commands + notable.ordinal, first - 1
            if first != result.begin:
                self.prev_hash = self.head_hash = links[0].entry.prev_hash
                self.prev_nid, self.prev_time = notable.prev_nid, notable.prev_time
            self._replay(links, notable.public_key, store, plan)
            if self.seq > self.last or self.seq != first + len(links):
                return  # walked on sequentially
        self.seq, self.checked = result.end, checked + (result.end - result.begin)
        self.commands, self.closed_through = commands + result.commands, result.end - 1
        self.prev_hash = self.head_hash = result.tail[0]
        self.prev_time, self.prev_nid = result.tail[1], result.tail[2]

    def _past(self, result: RangeResult) -> bool:
        return self.seq >= result.stop and not self.group

    def _replay(
        self, links: list[LinkedEvent], public_key: bytes, store: ChainStore, plan: Plan
    ) -> None:
        """A notable command of a clean range: its entries passed a worker's checks; close
        it here with the signature the worker verified."""
        before = (self.seq, self.checked, self.prev_hash, self.prev_nid, self.prev_time)
        for link in links[:-1]:
            self._advance(link)
        self.group = list(links)
        try:
            self.close(verified_key=public_key)
        except _Diverged:
            self.group = []
            self.seq, self.checked, self.prev_hash, self.prev_nid, self.prev_time = before
            self.head_hash = self.prev_hash
            self.walk(store)
            return
        self._advance(links[-1])
        if any(link.entry.topic in KEY_TOPICS for link in links) and not _agrees(
            self.registry, plan.timeline, self.seq - 1
        ):
            self.walk(store)


def _replays_its_key_events(result: RangeResult, timeline: KeyTimeline) -> bool:
    """Whether the key events the workers' timeline holds in the range are the ones the walk
    replays there (its notable commands' key events), each then confirmed (:func:`_agrees`) as
    those before the range were — they differ only if the log changed after it was read."""
    events = timeline.events
    held = events[bisect_left(events, result.begin) : bisect_left(events, result.end)]
    found = [row[0] for notable in result.notable for row in notable.rows if row[6] in KEY_TOPICS]
    return held == found


def _agrees(registry: KeyRegistry, timeline: KeyTimeline, through: int) -> bool:
    """Whether the keys the walk replayed through ``through`` are the timeline's there."""
    expected: dict[bytes, tuple[bytes, str, int, int | None]] = {}
    for key_id, (public_key, role, registered, revoked) in timeline.keys.items():
        if registered <= through:
            revoked = revoked if revoked is not None and revoked <= through else None
            expected[key_id] = (public_key, role, registered, revoked)
    found = {
        key_id: (key.public_key, key.role, key.registered_at, key.revoked_at)
        for key_id, key in registry.keys.items()
    }
    return found == expected


def _timeline(store: ChainStore, last: int) -> KeyTimeline:
    """The keys as the chain's key events through ``last`` register and revoke them, read
    ahead of the walk for the workers, unchecked (the walk checks each key event in its
    place and compares: :func:`_agrees`); up to the first key event the walk would refuse."""
    provisional = KeyRegistry()
    events: list[int] = []
    try:
        for link in store.select_key_events(before=last + 1):
            if link.event is None:
                break
            provisional.apply(link, _Key(b"", KeyRole.PLATFORM, 0), genesis=True)
            events.append(link.entry.sequence)
    except ChainBroken:
        pass
    keys = {
        key_id: (key.public_key, key.role, key.registered_at, key.revoked_at)
        for key_id, key in provisional.keys.items()
    }
    records = {
        uuid_ext(oid): provisional.keys[key_id].registered_at
        for oid, key_id in provisional.by_originator.items()
    }
    return KeyTimeline(keys, records, events)


def _ranges(first: int, last: int, jobs: int) -> list[tuple[int, int]]:
    """``[first, last]`` in ranges for the workers: about four a worker, none smaller than
    RANGE_MIN or larger than RANGE_MAX sequences."""
    size = max(RANGE_MIN, min(RANGE_MAX, -(-(last - first + 1) // (4 * jobs))))
    return [(a, min(a + size, last + 1)) for a in range(first, last + 1, size)]


def _walk_in_workers(walk: _Walk, store: ChainStore, plan: Plan, jobs: int, progress: Any) -> None:
    """Ranges read and checked by ``jobs`` worker processes, merged in sequence order."""
    context = get_context("forkserver")
    # A worker imports the main module again unless the server has: both, once, for all.
    context.set_forkserver_preload(["__main__", "ledger.chain.page_check"])
    ranges = _ranges(walk.seq, walk.last, jobs)
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        futures = [pool.submit(check_range, plan, first, stop) for first, stop in ranges]
        try:
            for (first, stop), future in zip(ranges, futures, strict=True):
                try:
                    result = future.result()
                except Exception:  # a worker lost (killed, out of memory): walk its range here
                    result = RangeResult(first, stop, clean=False)
                walk.merge(result, store, plan)
                if progress is not None:
                    progress(walk.seq - 1, walk.last)
        finally:
            for future in futures:
                future.cancel()


def verify_chain(
    store: ChainStore,
    *,
    start: int = 1,
    trusted_prev_hash: bytes | None = None,
    pinned_platform_keys: Iterable[bytes] = (),
    stop: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    jobs: int | None = None,
) -> Report:
    """Verify entries ``start``..head (or ``stop``) of ``store``; never raises on bad data.

    With ``start > 1`` the entries before it are trusted (an earlier verified head):
    their key events are replayed without re-checking, and ``trusted_prev_hash``
    (if given) must equal the stored hash of entry ``start - 1``. ``jobs`` worker
    processes read and check ranges of the log (default: the cores, for logs over
    PARALLEL_THRESHOLD); the report is the sequential walk's either way.
    """
    began = time.perf_counter()
    pinned = frozenset(pinned_platform_keys)
    registry = KeyRegistry(pinned=pinned)
    head = store.chain_head()
    last = head.sequence if head is not None else 0
    if stop is not None:
        last = min(last, stop)
    if jobs is None:
        jobs = (os.cpu_count() or 1) if last - start >= PARALLEL_THRESHOLD else 1
    walk = _Walk(registry, bool(pinned), start, last, None)

    def report(failure: Failure | None) -> Report:
        return Report(
            ok=failure is None,
            first_sequence=start,
            checked=walk.checked,
            head_sequence=walk.seq - 1 if failure is None else failure.sequence - 1,
            head_hash=walk.head_hash,
            commands=walk.commands,
            keys=len(registry.keys),
            genesis_pinned=bool(pinned),
            seconds=time.perf_counter() - began,
            failure=failure,
            sealed_through=walk.closed_through if failure is None else failure.sequence - 1,
        )

    try:
        if start > 1:
            walk.authority.enabled = False  # its officials were not replayed: see FORMAT.md §5
            walk.prev_hash, walk.prev_nid, walk.prev_time = _trusted_prefix(
                store, start, trusted_prev_hash, registry
            )
            walk.head_hash = walk.prev_hash
        unlinked, first_unlinked = store.count_unlinked_events(walk.prev_nid + 1)
        walk.first_unlinked = first_unlinked
        rows = store.link_rows() if jobs > 1 and walk.seq <= last else None
        if rows is not None:
            plan = Plan(rows, last, first_unlinked, _timeline(store, last))
            _walk_in_workers(walk, store, plan, jobs, progress)
        walk.walk(store, progress=progress)  # all of it, or what the workers left
        if walk.group:
            tail = walk.group[-1].entry
            raise _fail(
                tail, tail.sequence + 1, "command-truncated", "the last command is incomplete"
            )
        if first_unlinked is not None and stop is None:
            raise _fail(
                None,
                walk.seq,
                "event-without-entry",
                f"{unlinked} stored event(s) without chain entry, "
                f"first at notification {first_unlinked}",
            )
    except ChainBroken as broken:
        return report(broken.failure)
    return report(None)


def _trusted_prefix(
    store: ChainStore, start: int, trusted_prev_hash: bytes | None, registry: KeyRegistry
) -> tuple[bytes, int, int]:
    before = store.select_links(start - 1, 1)
    if not before or before[0].entry.sequence != start - 1:
        raise _fail(None, start - 1, "missing-entry", f"no entry {start - 1} to continue from")
    prev = before[0]
    if trusted_prev_hash is not None and prev.entry.entry_hash != trusted_prev_hash:
        raise _fail(
            prev.entry,
            start - 1,
            "trusted-head-mismatch",
            f"trusted hash {trusted_prev_hash.hex()}, stored {prev.entry.entry_hash.hex()}",
        )
    for link in store.select_key_events(before=start):
        if link.event is None:
            continue
        registry.apply(link, _Key(b"", KeyRole.PLATFORM, 0), genesis=True)
    return prev.entry.entry_hash, prev.notification_id, prev.entry.timestamp
