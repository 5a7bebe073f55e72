"""The hash chain: entries that link every stored event, in notification order.

Layer: ledger chain, pure computation over bytes; the recorders call it inside their
write transaction and the verifier calls it to recompute. Format: docs/FORMAT.md §2–§3
(byte-exact), chain format 2.

Signing happens per *command* (one save of one actor), under the write lock: the actor
signs the digests of the command's events together with the place they take in the chain
(first sequence, previous entry hash) and the recording time. So every command seals the
whole history before it: removing, reordering or inserting a command, or moving a
timestamp, breaks the signature of the command that follows, and rewriting history needs
the keys of every actor who wrote after the change (transparency logs sign their tree
heads for the same reason). The events are digested before the lock; only one Ed25519
signature per command and the hashing happen under it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from hashlib import sha256 as _sha256
from operator import itemgetter
from typing import Any
from uuid import UUID

from msgpack import ExtType

from ledger.domain.signer import Signer
from ledger.encoding import normal_form_packer, pack_normal_form, uuid_ext

FORMAT_VERSION = 2
HASH_SIZE = 32
GENESIS_HASH = bytes(HASH_SIZE)
COMMAND_CONTEXT = b"caseledger/command/v2\n"

_new = object.__new__
_digest_fields = itemgetter("originator_id", "originator_version", "topic", "state_hash")
_set = object.__setattr__


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@dataclass(frozen=True)
class EventDigest:
    """What an actor signs of one event: its identity, topic and state hash."""

    originator_id: UUID | str
    originator_version: int
    topic: str
    state_hash: bytes

    def as_list(self) -> list[Any]:
        """The digest in normal form (see :func:`ledger.encoding.pack_normal_form`)."""
        oid = self.originator_id
        return [
            uuid_ext(oid) if isinstance(oid, UUID) else oid,
            self.originator_version,
            self.topic,
            self.state_hash,
        ]


def command_message(
    events: Sequence[EventDigest], *, sequence: int, prev_hash: bytes, timestamp: int
) -> bytes:
    """The exact bytes an actor signs for one command placed at ``sequence`` after the entry
    hashed ``prev_hash``, recorded at ``timestamp`` (FORMAT.md §3)."""
    return _command_message(
        [(e.originator_id, e.originator_version, e.topic, e.state_hash) for e in events],
        sequence,
        prev_hash,
        timestamp,
    )


def _command_message(
    digests: Sequence[tuple[UUID | str, int, str, bytes]],
    sequence: int,
    prev_hash: bytes,
    timestamp: int,
    normal: Callable[[UUID | str], Any] | None = None,
    pack: Callable[[Any], bytes] = pack_normal_form,
) -> bytes:
    """:func:`command_message` over (originator id, version, topic, state hash) tuples: an
    aggregate's id is put in normal form once per command (or once per ``normal``, a
    :class:`NormalIds` a caller keeps), not once per event."""
    if normal is None:
        normal = NormalIds()
    body = {
        "events": [[normal(oid), version, topic, state] for oid, version, topic, state in digests],
        "prev": prev_hash,
        "sequence": sequence,
        "timestamp": timestamp,
    }
    return COMMAND_CONTEXT + sha256(pack(body))


def signed_message(
    command: Sequence[ChainEntry],
    *,
    normal: Callable[[UUID | str], Any] | None = None,
    pack: Callable[[Any], bytes] = pack_normal_form,
) -> bytes:
    """What the actor signed for the command whose entries, in order, are ``command``
    (``normal`` and ``pack``: a verifier's own, kept across commands)."""
    head = command[0]
    return _command_message(
        [(e.originator_id, e.originator_version, e.topic, e.state_hash) for e in command],
        head.sequence,
        head.prev_hash,
        head.timestamp,
        normal,
        pack,
    )


class NormalIds(dict[Any, Any]):
    """Originator ids in normal form (:func:`uuid_ext` for a UUID), each made once: a
    command's events mostly share one aggregate."""

    def __call__(self, originator_id: UUID | str) -> Any:
        if not isinstance(originator_id, UUID):
            return originator_id
        key = originator_id.int  # UUID.__hash__ is Python code; an int hashes in C
        found = self.get(key)
        if found is None:
            found = self[key] = uuid_ext(originator_id)
        return found


def _key(name: str) -> bytes:
    return pack_normal_form(name)


_HEAD = b"\x8b" + _key("command")  # a map of the 11 fields; "command" sorts first
_KEY_ID, _ORIGINATOR_ID = _key("key_id"), _key("originator_id")
_VERSION, _PREV, _SEQUENCE = _key("originator_version"), _key("prev"), _key("sequence")
_SIGNATURE, _STATE_HASH, _TIMESTAMP = _key("signature"), _key("state_hash"), _key("timestamp")
_TOPIC, _V = _key("topic"), _key("v") + pack_normal_form(FORMAT_VERSION)

HASHED_FIELDS = (
    "sequence",
    "prev_hash",
    "originator_id",
    "originator_version",
    "topic",
    "timestamp",
    "state_hash",
    "key_id",
    "signature",
    "command_index",
    "command_size",
)
"""The fields of a :class:`ChainEntry` its hash covers, in the order of its constructor."""
_hashed_fields = itemgetter(*HASHED_FIELDS)


class EntryHasher:
    """Entry hashes (``sha256`` of :meth:`ChainEntry.body` packed) from packed pieces.

    The packed map is its keys and values in sorted-key order after an 11-entry map header,
    so the keys, and whatever the entries of a command or an aggregate share (key id,
    signature and timestamp; the originator id; the topic), are packed once and the bytes
    joined: five small values are packed per entry instead of an 11-key map built and packed
    (the same bytes; ``tests/ledger/test_entry_hasher.py``). One hasher per loop: not for
    sharing between threads; its caches grow with the aggregates and topics it meets."""

    __slots__ = ("_oids", "_signed", "_signed_parts", "_topics", "normal", "pack")

    def __init__(self) -> None:
        self.normal = NormalIds()
        self.pack = normal_form_packer()
        self._oids: dict[Any, bytes] = {}
        self._topics: dict[str, bytes] = {}
        self._signed: tuple[Any, Any, Any] = (None, None, None)
        self._signed_parts: tuple[bytes, bytes, bytes] = (b"", b"", b"")

    def __call__(self, fields: tuple[Any, ...]) -> bytes:
        """The hash of an entry's ``fields`` in :data:`HASHED_FIELDS` order."""
        sequence, prev_hash, originator_id, originator_version, topic, timestamp = fields[:6]
        state_hash, key_id, signature, command_index, command_size = fields[6:]
        pack = self.pack
        signed = self._signed
        typed = type(timestamp) is int and type(signature) is bytes and type(key_id) is bytes
        if typed and timestamp == signed[2] and signature == signed[1] and key_id == signed[0]:
            key_part, signature_part, timestamp_part = self._signed_parts
        else:
            key_part = _KEY_ID + pack(key_id) + _ORIGINATOR_ID
            signature_part = _SIGNATURE + pack(signature) + _STATE_HASH
            timestamp_part = _TIMESTAMP + pack(timestamp) + _TOPIC
            self._signed = (key_id, signature, timestamp) if typed else (None, None, None)
            self._signed_parts = (key_part, signature_part, timestamp_part)
        kind = type(originator_id)
        if kind is UUID:
            oid_key: Any = originator_id.int
            oid_part = self._oids.get(oid_key)
        elif kind is str or kind is ExtType:  # an id already in normal form: a worker's
            oid_key = originator_id
            oid_part = self._oids.get(oid_key)
        else:
            oid_key, oid_part = None, None
        if oid_part is None:
            oid_part = pack(self.normal(originator_id)) + _VERSION
            if oid_key is not None:
                self._oids[oid_key] = oid_part
        topic_part = self._topics.get(topic) if type(topic) is str else None
        if topic_part is None:
            topic_part = pack(topic) + _V
            if type(topic) is str:
                self._topics[topic] = topic_part
        return _sha256(
            b"".join(
                (
                    _HEAD,
                    pack([command_index, command_size]),
                    key_part,
                    oid_part,
                    pack(originator_version),
                    _PREV,
                    pack(prev_hash),
                    _SEQUENCE,
                    pack(sequence),
                    signature_part,
                    pack(state_hash),
                    timestamp_part,
                    topic_part,
                )
            )
        ).digest()

    def entry(self, entry: ChainEntry) -> bytes:
        """The hash of ``entry``'s fields (what :meth:`ChainEntry.compute_hash` gives)."""
        return self(_hashed_fields(entry.__dict__))


def event_digest(
    originator_id: UUID | str, originator_version: int, topic: str, state_hash: bytes
) -> EventDigest:
    """``EventDigest(…)`` without the frozen dataclass's per-field ``__setattr__`` (made for
    every event of every command, before the write lock; see :func:`chain_entry`)."""
    digest = _new(EventDigest)
    _set(
        digest,
        "__dict__",
        {
            "originator_id": originator_id,
            "originator_version": originator_version,
            "topic": topic,
            "state_hash": state_hash,
        },
    )
    return digest


@dataclass(frozen=True)
class PendingCommand:
    """The events of one command, digested, and the actor who will sign them in place."""

    events: tuple[EventDigest, ...]
    signer: Signer

    def __post_init__(self) -> None:
        if not self.events:
            raise ValueError("events: a command has at least one event")


@dataclass(frozen=True)
class ChainEntry:
    """One link of the chain (FORMAT.md §2). ``entry_hash`` covers every other field."""

    sequence: int
    prev_hash: bytes
    originator_id: UUID | str
    originator_version: int
    topic: str
    timestamp: int  # recording time, microseconds since the Unix epoch, UTC
    state_hash: bytes
    key_id: bytes
    signature: bytes
    command_index: int
    command_size: int
    entry_hash: bytes = b""

    def body(self, normal: Callable[[UUID | str], Any] | None = None) -> dict[str, Any]:
        """The map that is hashed (every field but ``entry_hash``), in normal form
        (``normal``: a :class:`NormalIds` kept across entries)."""
        oid = self.originator_id
        return {
            "command": [self.command_index, self.command_size],
            "key_id": self.key_id,
            "originator_id": (uuid_ext(oid) if isinstance(oid, UUID) else oid)
            if normal is None
            else normal(oid),
            "originator_version": self.originator_version,
            "prev": self.prev_hash,
            "sequence": self.sequence,
            "signature": self.signature,
            "state_hash": self.state_hash,
            "timestamp": self.timestamp,
            "topic": self.topic,
            "v": FORMAT_VERSION,
        }

    def compute_hash(
        self,
        *,
        normal: Callable[[UUID | str], Any] | None = None,
        pack: Callable[[Any], bytes] = pack_normal_form,
        hasher: EntryHasher | None = None,
    ) -> bytes:
        """The entry hash of these fields (``normal``, ``pack``, or ``hasher``: a verifier's
        own, kept across entries)."""
        if hasher is not None:
            return hasher.entry(self)
        return sha256(pack(self.body(normal)))

    def is_format_1(self) -> bool:
        """True when the stored hash is that of the same fields in chain format 1, whose
        command signatures did not cover their place (written before format 2)."""
        return sha256(pack_normal_form({**self.body(), "v": 1})) == self.entry_hash

    @property
    def digest(self) -> EventDigest:
        return event_digest(
            self.originator_id, self.originator_version, self.topic, self.state_hash
        )


def link_command(
    command: PendingCommand, *, head_sequence: int, head_hash: bytes, timestamp: int
) -> list[ChainEntry]:
    """Sign ``command`` in its place after the head (sequence, hash) and chain its events.

    Called under the write lock: the place is only known there, so the loop is lean: the
    packed entry is a list of pieces whose shared ones are packed once per command (key id,
    signature, timestamp, size; an aggregate's id and a topic when they change) and five
    small values per entry — the bytes :class:`EntryHasher` packs, without its per-entry
    checks, which are for rows read back (``tests/ledger/test_entry_hasher.py``); each entry
    built without the frozen dataclass's per-field ``__setattr__`` (:func:`chain_entry`)."""
    signature = command.signer.sign(
        command_message(
            command.events, sequence=head_sequence + 1, prev_hash=head_hash, timestamp=timestamp
        )
    )
    key_id = command.signer.key_id
    entries: list[ChainEntry] = []
    append = entries.append
    pack = normal_form_packer()
    normal = NormalIds()
    size = len(command.events)
    # The packed entry (the 11-field map of ChainEntry.body, as EntryHasher packs it) as a
    # list of pieces in key order: what every entry of the command shares is packed once;
    # the loop sets the odd slots, which vary per entry (the topic's, last, on a change).
    pieces = [
        _HEAD + b"\x92",  # "command": [index, size], a 2-array
        b"",  # [1] the index
        pack(size) + _KEY_ID + pack(key_id) + _ORIGINATOR_ID,
        b"",  # [3] the originator id, "originator_version" and the version
        _PREV,
        b"",  # [5] the previous hash
        _SEQUENCE,
        b"",  # [7] the sequence
        _SIGNATURE + pack(signature) + _STATE_HASH,
        b"",  # [9] the state hash
        _TIMESTAMP + pack(timestamp) + _TOPIC,
        b"",  # [11] the topic, "v" and the format version
    ]
    last_oid: Any = None
    last_topic: Any = None
    oid_part = b""
    prev = head_hash
    sequence = head_sequence
    for index, event in enumerate(command.events):
        sequence += 1
        oid, version, topic, state_hash = _digest_fields(event.__dict__)
        if oid is not last_oid:
            oid_part, last_oid = pack(normal(oid)) + _VERSION, oid
        if topic is not last_topic:
            pieces[11], last_topic = pack(topic) + _V, topic
        pieces[1] = pack(index)
        pieces[3] = oid_part + pack(version)
        pieces[5] = pack(prev)
        pieces[7] = pack(sequence)
        pieces[9] = pack(state_hash)
        entry_hash = _sha256(b"".join(pieces)).digest()
        linked = (sequence, prev, oid, version, topic, timestamp, state_hash)
        append(chain_entry(*linked, key_id, signature, index, size, entry_hash))
        prev = entry_hash
    return entries


def chain_entry(
    sequence: int,
    prev_hash: bytes,
    originator_id: UUID | str,
    originator_version: int,
    topic: str,
    timestamp: int,
    state_hash: bytes,
    key_id: bytes,
    signature: bytes,
    command_index: int,
    command_size: int,
    entry_hash: bytes,
) -> ChainEntry:
    """``ChainEntry(…)`` without ``__init__``: a frozen dataclass sets each field through
    ``object.__setattr__``, which issue 18 measured at 13 % of a chained save; this sets the
    instance's dict at once (the same object: equality, ``replace``, repr)."""
    entry = _new(ChainEntry)
    _set(
        entry,
        "__dict__",
        {
            "sequence": sequence,
            "prev_hash": prev_hash,
            "originator_id": originator_id,
            "originator_version": originator_version,
            "topic": topic,
            "timestamp": timestamp,
            "state_hash": state_hash,
            "key_id": key_id,
            "signature": signature,
            "command_index": command_index,
            "command_size": command_size,
            "entry_hash": entry_hash,
        },
    )
    return entry
