"""docs/FORMAT.md §6 recomputed: the worked example cannot drift from the code."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

from ledger.chain.entries import (
    GENESIS_HASH,
    EventDigest,
    PendingCommand,
    command_message,
    link_command,
    signed_message,
)
from ledger.chain.signing import Ed25519Signer, verify_signature
from ledger.domain.keys import ActorKey
from ledger.encoding import canonical, pack_normal_form

DOC = Path(__file__).resolve().parents[2] / "docs" / "FORMAT.md"


def _doc_hex(label: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"^{label}\s+([0-9a-f]{{8,}})", text, re.MULTILINE)
    assert match, label
    return match.group(1)


def test_the_worked_genesis_entry_recomputes_byte_for_byte() -> None:
    platform = Ed25519Signer(bytes(range(32)))
    assert platform.public_key.hex() == _doc_hex("public key")
    assert platform.key_id.hex() == _doc_hex("key id")
    state = canonical(
        {
            "timestamp": dt.datetime(2026, 11, 23, 1, 2, 3, 456789, tzinfo=dt.UTC),
            "originator_topic": "ledger.keys:ActorKey",
            "key_id": platform.key_id,
            "public_key": platform.public_key,
            "actor": "platform",
            "role": "platform",
            "department": "",
        }
    )
    state_hash = hashlib.sha256(state).digest()
    assert state_hash.hex() == _doc_hex("state_hash")
    digest = EventDigest(
        ActorKey.create_id(platform.key_id), 1, "ledger.keys:ActorKey.Registered", state_hash
    )
    timestamp = 1795395723456789
    (entry,) = link_command(
        PendingCommand((digest,), platform),
        head_sequence=0,
        head_hash=GENESIS_HASH,
        timestamp=timestamp,
    )
    message = command_message([digest], sequence=1, prev_hash=GENESIS_HASH, timestamp=timestamp)
    assert message == signed_message([entry])
    assert message.hex() == _doc_hex("message")
    assert verify_signature(platform.public_key, message, entry.signature)
    assert entry.signature.hex().startswith(_doc_hex("signature"))
    assert entry.entry_hash.hex() == _doc_hex("entry_hash")
    body = pack_normal_form(entry.body())
    assert len(body) == 311
    assert body.hex() == "".join(_doc_block("Entry 1").split())


def _doc_block(heading: str) -> str:
    """The first fenced block after the paragraph that starts with ``heading``."""
    text = DOC.read_text(encoding="utf-8")
    after = text[text.index(heading) :]
    return after.split("```", 2)[1]
