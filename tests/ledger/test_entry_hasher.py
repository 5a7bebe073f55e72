"""EntryHasher packs an entry from pieces: its hash must be the hash of the packed body map
(FORMAT.md §2), byte for byte, for every kind of value a stored row can hold."""

from __future__ import annotations

import hashlib
import random
import uuid

from ledger.chain.entries import (
    ChainEntry,
    EntryHasher,
    PendingCommand,
    chain_entry,
    event_digest,
    link_command,
)
from ledger.chain.signing import Ed25519Signer
from ledger.encoding import pack_normal_form


def _reference(entry: ChainEntry) -> bytes:
    return hashlib.sha256(pack_normal_form(entry.body())).digest()


def test_pieces_hash_like_the_packed_body_map() -> None:
    rng = random.Random(18)
    hasher = EntryHasher()
    ids: list[uuid.UUID | str] = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(3)]
    ids += ["a-text-id", "标识"]
    signed = [(rng.randbytes(32), rng.randbytes(64), 1_795_395_723_456_789 + i) for i in range(3)]
    for sequence in (1, 127, 128, 255, 256, 65_535, 65_536, 2**32, 2**40):
        key_id, signature, timestamp = rng.choice(signed)
        entry = chain_entry(
            sequence,
            rng.randbytes(rng.choice((0, 31, 32, 300))),
            rng.choice(ids),
            rng.choice((1, 2, 200, 70_000)),
            rng.choice(("a:B.C", "案件:受理", "")),
            timestamp,
            rng.randbytes(32),
            key_id,
            signature,
            rng.choice((0, 5, 200)),
            rng.choice((1, 10, 300)),
            b"",
        )
        assert hasher.entry(entry) == _reference(entry)
        assert entry.compute_hash(hasher=hasher) == entry.compute_hash()


def test_odd_types_from_a_tampered_row_hash_as_packed_not_from_a_cache() -> None:
    hasher = EntryHasher()
    base = dict(
        sequence=3,
        prev_hash=bytes(32),
        originator_id=uuid.UUID(int=7),
        originator_version=1,
        topic="t",
        timestamp=10,
        state_hash=bytes(32),
        key_id=b"k",
        signature=b"s",
        command_index=0,
        command_size=1,
        entry_hash=b"",
    )
    variants = [
        base,
        {**base, "timestamp": True},  # equal to 1 but packed differently
        {**base, "timestamp": 1},
        {**base, "topic": 1},
        {**base, "topic": True},
        {**base, "key_id": "k"},
        {**base, "originator_id": 7},
        {**base, "originator_id": "7"},
    ]
    for fields in variants:
        entry = chain_entry(**fields)  # type: ignore[arg-type]
        assert hasher.entry(entry) == _reference(entry)


def test_a_linked_command_hashes_each_entry_like_its_packed_body_map() -> None:
    """The write path packs a command's shared pieces once and only the per-entry values in
    its loop: several aggregates and topics interleaved, indexes and sizes past the
    one-byte integers, a head hash of another length (a tampered head is linked as read)."""
    rng = random.Random(5)
    ids: list[uuid.UUID | str] = [uuid.UUID(int=rng.getrandbits(128)), "a-text-id"]
    ids.append(uuid.UUID(int=ids[0].int))  # type: ignore[union-attr]  # equal, not identical
    events = tuple(
        event_digest(
            ids[i % 3] if i % 7 else ids[1],
            i + 1,
            ("a:B.C", "案件:受理")[i % 5 == 0],
            rng.randbytes(32),
        )
        for i in range(300)
    )
    for head_sequence, head_hash in ((0, bytes(32)), (65_535, rng.randbytes(7))):
        entries = link_command(
            PendingCommand(events, Ed25519Signer.generate()),
            head_sequence=head_sequence,
            head_hash=head_hash,
            timestamp=1_795_395_723_456_789,
        )
        prev = head_hash
        for index, (entry, event) in enumerate(zip(entries, events, strict=True)):
            assert entry.digest == event
            assert (entry.sequence, entry.command_index, entry.command_size) == (
                head_sequence + index + 1,
                index,
                300,
            )
            assert entry.prev_hash == prev
            assert entry.entry_hash == _reference(entry)
            prev = entry.entry_hash
