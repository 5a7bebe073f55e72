"""An operator who can write the database but holds no key cannot rewrite history unseen.

Each test plays one row of docs/FORMAT.md §8 on a real SQLite file and a real PostgreSQL
schema: raw SQL through ``api.demo.attacks`` (delete, reorder or insert whole commands, move a
timestamp, then recompute every later entry hash), and plain ``verify_chain`` — no anchors,
no policy — must fail at the sequence where the history was changed. The rows that need a
reference from outside the database (a cut tail, a rewrite by someone holding every key) are
asserted too, so the table cannot claim more than the code does.
"""

from __future__ import annotations

import dataclasses
from uuid import uuid4

from eventsourcing.persistence import StoredEvent

from api.demo import attacks
from ledger.chain.signing import Ed25519Signer
from ledger.chain.verification import Report, verify_chain
from ledger.domain.keys import KEY_REGISTERED_TOPIC, KeyRole
from ledger.encoding import canonical
from tests.helpers import Ledger, new_ledger

DAY_MICROS = 86_400 * 1_000_000


def _ledger_with_notes(url: str, notes: int = 6) -> Ledger:
    ledger = new_ledger(url)
    for _ in range(notes):
        ledger.note(lines=1)  # one command of two events each
    return ledger


def _verify(ledger: Ledger) -> Report:
    return verify_chain(ledger.app.chain)


def _head(ledger: Ledger) -> int:
    head = ledger.app.chain.chain_head()
    assert head is not None
    return head.sequence


def test_an_untouched_ledger_verifies_and_is_sealed_to_its_head(storage_url: str) -> None:
    ledger = _ledger_with_notes(storage_url)
    report = _verify(ledger)
    assert report.ok, report.failure
    assert report.sealed_through == _head(ledger) and report.unsealed == 0
    ledger.app.close()


def test_deleting_a_whole_command_and_relinking_is_caught_where_it_was(storage_url: str) -> None:
    ledger = _ledger_with_notes(storage_url)
    first, size = attacks.delete_command(storage_url, 7)
    assert size == 2
    report = _verify(ledger)
    assert not report.ok and report.failure is not None
    assert report.failure.sequence == first  # the command that now stands there
    assert report.failure.reason == "bad-signature"
    ledger.app.close()


def test_deleting_the_command_that_revoked_a_key_is_caught(storage_url: str) -> None:
    ledger = new_ledger(storage_url)
    kiosk = Ed25519Signer.generate("kiosk:K1")
    ledger.app.register_key(
        kiosk.public_key, kiosk.key_id, actor="kiosk:K1", role=KeyRole.KIOSK, by=ledger.platform
    )
    ledger.note(lines=1)
    ledger.app.revoke_key(kiosk.key_id, "lost", by=ledger.platform)
    revoked_at = _head(ledger)
    ledger.note(lines=1)
    attacks.delete_command(storage_url, revoked_at)
    report = _verify(ledger)
    assert report.failure is not None
    assert (report.failure.sequence, report.failure.reason) == (revoked_at, "bad-signature")
    ledger.app.close()


def test_swapping_two_whole_commands_is_caught(storage_url: str) -> None:
    ledger = new_ledger(storage_url)
    for _ in range(4):
        ledger.note(lines=0)  # one-event commands
    attacks.swap_commands(storage_url, 4)
    report = _verify(ledger)
    assert report.failure is not None
    assert (report.failure.sequence, report.failure.reason) == (4, "bad-signature")
    ledger.app.close()


def test_inserting_a_command_signed_with_a_stolen_key_before_its_revocation_is_caught(
    storage_url: str,
) -> None:
    ledger = new_ledger(storage_url)
    kiosk = Ed25519Signer.generate("kiosk:K1")
    ledger.app.register_key(
        kiosk.public_key, kiosk.key_id, actor="kiosk:K1", role=KeyRole.KIOSK, by=ledger.platform
    )
    registered = _head(ledger)
    for _ in range(3):
        ledger.note(lines=0)
    ledger.app.revoke_key(kiosk.key_id, "stolen", by=ledger.platform)
    # The thief signs a backdated command, correctly for the place it takes.
    inserted = attacks.insert_command(
        storage_url, registered, uuid4(), "tests.helpers:Note.Opened", canonical({}), kiosk
    )
    report = _verify(ledger)
    assert report.failure is not None
    # Its own signature holds; the next command's, over the old history, does not.
    assert (report.failure.sequence, report.failure.reason) == (inserted + 1, "bad-signature")
    ledger.app.close()


def test_moving_a_timestamp_back_is_caught(storage_url: str) -> None:
    ledger = _ledger_with_notes(storage_url)
    attacks.shift_timestamp(storage_url, 5, -30 * DAY_MICROS)
    report = _verify(ledger)
    assert report.failure is not None
    assert (report.failure.sequence, report.failure.reason) == (5, "timestamp-decreasing")
    ledger.app.close()


def test_moving_the_last_timestamp_is_caught_by_its_own_signature(storage_url: str) -> None:
    ledger = _ledger_with_notes(storage_url)
    head = _head(ledger)
    attacks.shift_timestamp(storage_url, head, +30 * DAY_MICROS)  # forwards: order still holds
    report = _verify(ledger)
    assert report.failure is not None
    assert (report.failure.sequence, report.failure.reason) == (head - 1, "bad-signature")
    ledger.app.close()


def test_a_revoked_key_stays_revoked_even_for_the_platform_key(storage_url: str) -> None:
    ledger = new_ledger(storage_url)
    kiosk = Ed25519Signer.generate("kiosk:K1")
    key = ledger.app.register_key(
        kiosk.public_key, kiosk.key_id, actor="kiosk:K1", role=KeyRole.KIOSK, by=ledger.platform
    )
    ledger.app.revoke_key(kiosk.key_id, "stolen", by=ledger.platform)
    (registration,) = [
        link
        for link in ledger.app.chain.select_key_events(before=_head(ledger) + 1)
        if link.entry.topic == KEY_REGISTERED_TOPIC and link.entry.originator_id == key.id
    ]
    assert registration.event is not None
    # A thief with the platform key writes the registration again, as version 3 of the record:
    # correctly signed and chained, through the real recorder.
    revived = dataclasses.replace(registration.event, originator_version=3)
    assert isinstance(revived, StoredEvent)
    ledger.app.recorder.insert_events([revived], signer=ledger.platform)
    ledger.note(lines=0, signer=kiosk)
    report = _verify(ledger)
    assert report.failure is not None
    assert report.failure.reason == "key-version-gap"
    assert report.failure.sequence == _head(ledger) - 1
    ledger.app.close()


def test_a_cut_tail_passes_the_chain_alone_and_needs_an_outside_reference(
    storage_url: str,
) -> None:
    ledger = _ledger_with_notes(storage_url)
    attacks.truncate(storage_url, 8)  # back to the end of an earlier command
    report = _verify(ledger)
    assert report.ok and report.head_sequence == 8  # caught by anchors / the writer's state
    ledger.app.close()


def test_a_rewrite_by_someone_holding_every_later_key_passes_the_chain_alone(
    storage_url: str,
) -> None:
    ledger = _ledger_with_notes(storage_url)
    attacks.rename_actor(storage_url, 2, ledger.keys)
    assert _verify(ledger).ok  # caught against anchored checkpoints (tests/anchors)
    ledger.app.close()


def test_the_same_rewrite_with_only_the_platform_key_is_caught(storage_url: str) -> None:
    ledger = _ledger_with_notes(storage_url)
    attacks.rename_actor(storage_url, 2, {ledger.platform.key_id: ledger.platform})
    report = _verify(ledger)
    assert report.failure is not None and report.failure.reason == "bad-signature"
    assert report.failure.sequence == 3  # the department's first command after it
    ledger.app.close()
