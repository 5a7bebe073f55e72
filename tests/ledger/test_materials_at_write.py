"""Materials checked by the write on PostgreSQL: a save citing materials is refused, alone
and recording nothing, when one is not in the material store — looked up under the write
lock in the write's first round trip, so a submission needs no look-up of its own."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from ledger.chain.recorders.base import CheckedCommand, MaterialsMissing
from ledger.chain.verification import verify_chain
from ledger.errors import ConfigurationError
from ledger.storage.materials import MATERIAL_BLOBS_TABLE, PostgresBlobStore
from ledger.storage.urls import parse_storage_url
from tests.helpers import Ledger, Note, new_ledger

pytestmark = pytest.mark.postgres

PDF = b"%PDF-1.7\n% uploaded\n%%EOF\n"


@pytest.fixture
def ledger(pg_schema_url: str) -> Ledger:
    return new_ledger(pg_schema_url)


def _store(ledger: Ledger) -> PostgresBlobStore:
    storage = parse_storage_url(ledger.url)
    store = PostgresBlobStore(storage.conninfo, storage.schema or "public")
    store.migrate()
    return store


def _checking(ledger: Ledger) -> bytes:
    """Tell the recorder the store's table; upload one material; its SHA-256."""
    store = _store(ledger)
    recorder: Any = ledger.app.recorder
    recorder.check_materials_in(store.schema, MATERIAL_BLOBS_TABLE)
    assert ledger.app.checks_materials
    return store.put(PDF, "application/pdf").sha256


def _stored_commands(ledger: Ledger) -> int:
    report = verify_chain(ledger.app.chain)
    assert report.ok, report.failure
    return report.commands


def test_a_save_citing_stored_materials_is_recorded(ledger: Ledger) -> None:
    uploaded = _checking(ledger)
    before = _stored_commands(ledger)
    ledger.app.save_signed(Note(title="n"), signer=ledger.department, materials=[uploaded])
    assert _stored_commands(ledger) == before + 1


def test_a_save_citing_a_missing_material_records_nothing(ledger: Ledger) -> None:
    uploaded = _checking(ledger)
    absent = hashlib.sha256(b"never uploaded").digest()
    before = _stored_commands(ledger)
    note = Note(title="n")
    with pytest.raises(MaterialsMissing) as refused:
        ledger.app.save_signed(note, signer=ledger.department, materials=[uploaded, absent])
    assert refused.value.missing == {absent}
    assert _stored_commands(ledger) == before
    # a later save citing only stored materials goes through: the refusal left nothing
    # behind that would break the chain or take its place
    _store(ledger).put(b"%PDF-1.7\n% later\n%%EOF\n", "application/pdf")
    ledger.app.save_signed(Note(title="m"), signer=ledger.department, materials=[uploaded])
    assert _stored_commands(ledger) == before + 1


def test_in_a_group_committed_batch_only_the_citing_command_is_refused(ledger: Ledger) -> None:
    uploaded = _checking(ledger)
    absent = hashlib.sha256(b"never uploaded").digest()
    recorder: Any = ledger.app.recorder
    mapper = ledger.app.mapper
    batch = []
    for cited in ([uploaded], [absent], []):
        note = Note(title="n")
        stored = [mapper.to_stored_event(e) for e in note.collect_events()]
        kwargs = {"signer": ledger.department, "materials": cited}
        command = recorder.prepare_command(stored, kwargs)
        if cited:
            command = CheckedCommand(command.events, command.signer, (), frozenset(cited))
        batch.append((stored, command))
    before = _stored_commands(ledger)
    results = recorder._write(batch)
    assert isinstance(results[1], MaterialsMissing) and results[1].missing == {absent}
    assert [isinstance(r, list) and len(r) == 1 for r in results] == [True, False, True]
    assert _stored_commands(ledger) == before + 2


def test_a_ledger_that_cannot_check_materials_refuses_them(storage_url: str) -> None:
    ledger = new_ledger(storage_url)  # SQLite, or PostgreSQL not told a store
    assert not ledger.app.checks_materials
    before = _stored_commands(ledger)
    with pytest.raises(ConfigurationError, match="materials"):
        ledger.app.save_signed(Note(title="n"), signer=ledger.department, materials=[b"\x01" * 32])
    assert _stored_commands(ledger) == before
