"""bench/chain_floor.py measures a floor, so its floor must do the chain's real work: the
entry hashes it writes are the ledger's own (``link_command``), and its rows alone verify:
an altered state, an altered entry hash or another signer's key is caught at its row."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.persistence import Mapper

from bench.chain_floor import (
    FloorRecorder,
    LinkedFloorRecorder,
    entry_hashes,
    floor_application,
    verify_floor,
)
from bench.ledger_writes import _aggregate
from ledger.chain.entries import (
    GENESIS_HASH,
    EventDigest,
    PendingCommand,
    command_message,
    link_command,
)
from ledger.chain.recorders.base import digest_events
from ledger.chain.signing import Ed25519Signer
from ledger.encoding import MsgpackTranscoder


def _digests(events: int) -> list[EventDigest]:
    mapper: Mapper[UUID] = Mapper(transcoder=MsgpackTranscoder())
    return digest_events([mapper.to_stored_event(e) for e in _aggregate(events).collect_events()])


@pytest.mark.parametrize("events", [1, 3, 100])
def test_entry_hashes_are_the_ledgers(events: int) -> None:
    signer = Ed25519Signer.generate()
    digests = _digests(events)
    head_hash, timestamp = bytes(range(32)), 1_765_000_000_000_000
    entries = link_command(
        PendingCommand(tuple(digests), signer),
        head_sequence=41,
        head_hash=head_hash,
        timestamp=timestamp,
    )
    signature = signer.sign(
        command_message(digests, sequence=42, prev_hash=head_hash, timestamp=timestamp)
    )
    assert entries[0].signature == signature
    assert entry_hashes(
        digests,
        head_sequence=41,
        head_hash=head_hash,
        timestamp=timestamp,
        key_id=signer.key_id,
        signature=signature,
    ) == [e.entry_hash for e in entries]


@pytest.mark.parametrize("recorder", [FloorRecorder, LinkedFloorRecorder])
def test_floor_rows_verify_alone(tmp_path: Path, recorder: type[FloorRecorder]) -> None:
    signer = Ed25519Signer.generate()
    path = tmp_path / "floor.sqlite3"
    app = floor_application(path, recorder)
    for events in (1, 5, 100):
        app.save(_aggregate(events), signer=signer)
    app.close()
    assert verify_floor(path, signer.public_key) == 106
    with sqlite3.connect(path) as db:
        first = db.execute("SELECT entry_hash FROM stored_events WHERE rowid = 1").fetchone()[0]
    assert first != GENESIS_HASH and len(first) == 32


@pytest.mark.parametrize(
    ("alteration", "other_key", "found"),
    [
        (  # in the second command (rows 4 to 7): its signature covers the state's hash
            "UPDATE stored_events SET state = CAST(state || x'00' AS BLOB) WHERE rowid = 6",
            False,
            "row 4: the command's signature does not verify",
        ),
        (
            "UPDATE stored_events SET entry_hash = zeroblob(32) WHERE rowid = 2",
            False,
            "row 2: the entry hash does not match the row",
        ),
        ("", True, "row 1: the command's signature does not verify"),
    ],
)
def test_floor_verification_finds_the_altered_row(
    tmp_path: Path, alteration: str, other_key: bool, found: str
) -> None:
    signer = Ed25519Signer.generate()
    path = tmp_path / "floor.sqlite3"
    app = floor_application(path, FloorRecorder)
    app.save(_aggregate(3), signer=signer)
    app.save(_aggregate(4), signer=signer)
    app.close()
    assert verify_floor(path, signer.public_key) == 7
    if alteration:
        with sqlite3.connect(path) as db:
            db.execute(alteration)
    key = Ed25519Signer.generate().public_key if other_key else signer.public_key
    with pytest.raises(ValueError, match=found):
        verify_floor(path, key)
