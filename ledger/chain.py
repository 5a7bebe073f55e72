"""The hash chain: entries that link every stored event, in notification order.

Layer: ledger (write side), pure computation over bytes; the recorders call it
inside their write transaction and the verifier calls it to recompute.
Format: docs/FORMAT.md §2–§3 (byte-exact).

Signing happens per *command* (one save of one actor): the actor signs a digest
of the command's events that does not depend on the chain position, so that it
can be computed before the write lock is taken; under the lock only hashing is
left to do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from ledger.encoding import canonical
from ledger.signing import Signer

FORMAT_VERSION = 1
HASH_SIZE = 32
GENESIS_HASH = bytes(HASH_SIZE)
COMMAND_CONTEXT = b"caseledger/command/v1\n"


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
        return [self.originator_id, self.originator_version, self.topic, self.state_hash]


def command_message(events: Sequence[EventDigest]) -> bytes:
    """The exact bytes an actor signs for one command (FORMAT.md §3)."""
    return COMMAND_CONTEXT + sha256(canonical([e.as_list() for e in events]))


@dataclass(frozen=True)
class SignedCommand:
    """The events of one command with the actor's signature over them."""

    events: tuple[EventDigest, ...]
    key_id: bytes
    signature: bytes


def sign_command(events: Sequence[EventDigest], signer: Signer) -> SignedCommand:
    """Sign ``events`` as one command. Precondition: at least one event."""
    if not events:
        raise ValueError("events: a command has at least one event")
    return SignedCommand(tuple(events), signer.key_id, signer.sign(command_message(events)))


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
        """The canonical map that is hashed (every field but ``entry_hash``)."""
        return {
            "command": [self.command_index, self.command_size],
            "key_id": self.key_id,
            "originator_id": self.originator_id,
            "originator_version": self.originator_version,
            "prev": self.prev_hash,
            "sequence": self.sequence,
            "signature": self.signature,
            "state_hash": self.state_hash,
            "timestamp": self.timestamp,
            "topic": self.topic,
            "v": FORMAT_VERSION,
        }

    def compute_hash(self) -> bytes:
        return sha256(canonical(self.body()))

    @property
    def digest(self) -> EventDigest:
        return EventDigest(self.originator_id, self.originator_version, self.topic, self.state_hash)


def link_command(
    command: SignedCommand, *, head_sequence: int, head_hash: bytes, timestamp: int
) -> list[ChainEntry]:
    """Chain the events of ``command`` after the head (sequence, hash)."""
    entries: list[ChainEntry] = []
    prev = head_hash
    size = len(command.events)
    for index, event in enumerate(command.events):
        entry = ChainEntry(
            sequence=head_sequence + 1 + index,
            prev_hash=prev,
            originator_id=event.originator_id,
            originator_version=event.originator_version,
            topic=event.topic,
            timestamp=timestamp,
            state_hash=event.state_hash,
            key_id=command.key_id,
            signature=command.signature,
            command_index=index,
            command_size=size,
        )
        prev = entry.compute_hash()
        entries.append(replace(entry, entry_hash=prev))
    return entries
