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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ledger.domain.signer import Signer
from ledger.encoding import pack_normal_form, uuid_ext

FORMAT_VERSION = 2
HASH_SIZE = 32
GENESIS_HASH = bytes(HASH_SIZE)
COMMAND_CONTEXT = b"caseledger/command/v2\n"


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
    body = {
        "events": [e.as_list() for e in events],
        "prev": prev_hash,
        "sequence": sequence,
        "timestamp": timestamp,
    }
    return COMMAND_CONTEXT + sha256(pack_normal_form(body))


def signed_message(command: Sequence[ChainEntry]) -> bytes:
    """What the actor signed for the command whose entries, in order, are ``command``."""
    head = command[0]
    return command_message(
        [e.digest for e in command],
        sequence=head.sequence,
        prev_hash=head.prev_hash,
        timestamp=head.timestamp,
    )


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

    def body(self) -> dict[str, Any]:
        """The map that is hashed (every field but ``entry_hash``), in normal form."""
        return _body(
            self.sequence,
            self.prev_hash,
            self.originator_id,
            self.originator_version,
            self.topic,
            self.timestamp,
            self.state_hash,
            self.key_id,
            self.signature,
            self.command_index,
            self.command_size,
        )

    def compute_hash(self) -> bytes:
        return sha256(pack_normal_form(self.body()))

    def is_format_1(self) -> bool:
        """True when the stored hash is that of the same fields in chain format 1, whose
        command signatures did not cover their place (written before format 2)."""
        return sha256(pack_normal_form({**self.body(), "v": 1})) == self.entry_hash

    @property
    def digest(self) -> EventDigest:
        return EventDigest(self.originator_id, self.originator_version, self.topic, self.state_hash)


def _body(
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
) -> dict[str, Any]:
    return {
        "command": [command_index, command_size],
        "key_id": key_id,
        "originator_id": uuid_ext(originator_id)
        if isinstance(originator_id, UUID)
        else originator_id,
        "originator_version": originator_version,
        "prev": prev_hash,
        "sequence": sequence,
        "signature": signature,
        "state_hash": state_hash,
        "timestamp": timestamp,
        "topic": topic,
        "v": FORMAT_VERSION,
    }


def link_command(
    command: PendingCommand, *, head_sequence: int, head_hash: bytes, timestamp: int
) -> list[ChainEntry]:
    """Sign ``command`` in its place after the head (sequence, hash) and chain its events.

    Called under the write lock: the place is only known there."""
    signature = command.signer.sign(
        command_message(
            command.events, sequence=head_sequence + 1, prev_hash=head_hash, timestamp=timestamp
        )
    )
    key_id = command.signer.key_id
    entries: list[ChainEntry] = []
    prev = head_hash
    size = len(command.events)
    for index, event in enumerate(command.events):
        fields = (
            head_sequence + 1 + index,
            prev,
            event.originator_id,
            event.originator_version,
            event.topic,
            timestamp,
            event.state_hash,
            key_id,
            signature,
            index,
            size,
        )
        entry_hash = sha256(pack_normal_form(_body(*fields)))
        entries.append(ChainEntry(*fields, entry_hash=entry_hash))
        prev = entry_hash
    return entries
