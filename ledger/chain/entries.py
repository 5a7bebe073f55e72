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
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ledger.domain.signer import Signer
from ledger.encoding import pack_normal_form, uuid_ext

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
        """The digest in normal form (see :func:`ledger.encoding.pack_normal_form`)."""
        oid = self.originator_id
        return [
            uuid_ext(oid) if isinstance(oid, UUID) else oid,
            self.originator_version,
            self.topic,
            self.state_hash,
        ]


def command_message(events: Sequence[EventDigest]) -> bytes:
    """The exact bytes an actor signs for one command (FORMAT.md §3)."""
    return COMMAND_CONTEXT + sha256(pack_normal_form([e.as_list() for e in events]))


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
    command: SignedCommand, *, head_sequence: int, head_hash: bytes, timestamp: int
) -> list[ChainEntry]:
    """Chain the events of ``command`` after the head (sequence, hash)."""
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
            command.key_id,
            command.signature,
            index,
            size,
        )
        entry_hash = sha256(pack_normal_form(_body(*fields)))
        entries.append(ChainEntry(*fields, entry_hash=entry_hash))
        prev = entry_hash
    return entries
