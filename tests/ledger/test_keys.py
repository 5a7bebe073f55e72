"""Actor keys in the chain (DESIGN invariant 2): registration, rotation, revocation, genesis."""

from __future__ import annotations

import pytest

from ledger.chain.signing import Ed25519Signer
from ledger.chain.verification import verify_chain
from ledger.domain.keys import ActorKey, KeyRole
from ledger.errors import LedgerError, SigningError
from ledger.services.application import KeyNotUsable
from tests.helpers import Ledger, new_ledger, run_sql


@pytest.fixture
def ledger(sqlite_url: str) -> Ledger:
    return new_ledger(sqlite_url)


def test_a_rotated_key_signs_from_its_rotation_on_and_the_old_one_no_longer(ledger: Ledger) -> None:
    ledger.note()
    new = Ed25519Signer.generate()
    ledger.app.rotate_key(ledger.department.key_id, new, reason="annual", by=ledger.platform)
    ledger.note(signer=new)
    assert verify_chain(ledger.app.chain).ok
    with pytest.raises(KeyNotUsable, match="revoked"):
        ledger.app.check_signer(ledger.department)
    head = ledger.app.chain.chain_head()
    assert head is not None
    ledger.note(signer=ledger.department)  # written past the application's check
    report = verify_chain(ledger.app.chain)
    assert report.failure is not None
    assert (report.failure.sequence, report.failure.reason) == (head.sequence + 1, "revoked-key")


def test_events_signed_before_a_revocation_stay_valid(ledger: Ledger) -> None:
    ledger.note()
    ledger.app.revoke_key(ledger.department.key_id, "left the department", by=ledger.platform)
    assert verify_chain(ledger.app.chain).ok


def test_only_a_platform_key_registers_keys(ledger: Ledger) -> None:
    other = Ed25519Signer.generate()
    head = ledger.app.chain.chain_head()
    with pytest.raises(KeyNotUsable, match="role department"):
        ledger.app.register_key(
            other.public_key, other.key_id, actor="x", role=KeyRole.KIOSK, by=ledger.department
        )
    assert ledger.app.chain.chain_head() == head  # refused: nothing recorded


def test_a_key_event_signed_by_a_department_key_fails_verification(ledger: Ledger) -> None:
    from ledger.domain.keys import ActorKey

    rogue = Ed25519Signer.generate()
    key = ActorKey(
        key_id=rogue.key_id,
        public_key=rogue.public_key,
        actor="rogue",
        role="platform",
        department="",
    )
    ledger.app.save(key, signer=ledger.department)  # bypasses the application's check
    report = verify_chain(ledger.app.chain)
    assert report.failure is not None and report.failure.reason == "unauthorised-key-event"


def test_an_unsigned_save_is_refused_and_records_nothing(ledger: Ledger) -> None:
    from tests.helpers import Note

    head = ledger.app.chain.chain_head()
    with pytest.raises(SigningError, match="signed by the actor"):
        ledger.app.save(Note(title="unsigned"))
    assert ledger.app.chain.chain_head() == head


def test_the_genesis_must_be_the_first_command(sqlite_url: str) -> None:
    led = new_ledger(sqlite_url)
    with pytest.raises(LedgerError, match="genesis"):
        led.app.bootstrap(Ed25519Signer.generate())


def test_a_policy_pins_the_genesis_platform_key(ledger: Ledger) -> None:
    assert verify_chain(ledger.app.chain, pinned_platform_keys=[ledger.platform.key_id]).ok
    report = verify_chain(ledger.app.chain, pinned_platform_keys=[bytes(8)])
    assert report.failure is not None
    assert (report.failure.sequence, report.failure.reason) == (1, "untrusted-genesis")


def test_a_chain_whose_genesis_is_not_a_platform_key_fails(sqlite_url: str) -> None:
    from ledger.services.application import open_ledger
    from tests.helpers import Note

    app = open_ledger(sqlite_url, migrate=True)
    app.save(Note(title="first"), signer=Ed25519Signer.generate())
    report = verify_chain(app.chain)
    assert report.failure is not None
    assert (report.failure.sequence, report.failure.reason) == (1, "bad-genesis")


def test_incremental_verification_from_a_trusted_head(ledger: Ledger) -> None:
    for _ in range(3):
        ledger.note()
    full = verify_chain(ledger.app.chain)
    entry5 = ledger.app.chain.select_entries(5, 1)[0]
    part = verify_chain(ledger.app.chain, start=6, trusted_prev_hash=entry5.entry_hash)
    assert part.ok and part.checked == full.checked - 5 and part.head_hash == full.head_hash
    wrong = verify_chain(ledger.app.chain, start=6, trusted_prev_hash=bytes(32))
    assert wrong.failure is not None and wrong.failure.reason == "trusted-head-mismatch"


def test_incremental_verification_still_finds_tampering_after_the_head(ledger: Ledger) -> None:
    for _ in range(3):
        ledger.note()
    run_sql(ledger.url, "UPDATE chain_entries SET timestamp = 0 WHERE sequence = 9")
    report = verify_chain(ledger.app.chain, start=6)
    assert report.failure is not None and report.failure.sequence == 9


def test_a_key_id_names_the_same_aggregate_in_any_bytes_form() -> None:
    """The id is remembered for ``bytes``; a ``bytearray`` or ``memoryview`` (unhashable, or
    not ``bytes``) is hashed as before, never converted."""
    key_id = bytes(range(8))
    expected = ActorKey.create_id(key_id)
    assert ActorKey.create_id(bytearray(key_id)) == expected
    assert ActorKey.create_id(memoryview(key_id)) == expected
    assert ActorKey.create_id(bytes(range(1, 9))) != expected
