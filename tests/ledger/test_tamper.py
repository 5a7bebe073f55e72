"""The tamper matrix (DESIGN invariant 3): each change to stored history is detected and pinpointed.

Runs on a real SQLite file and on the real PostgreSQL server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from ledger.chain.entries import ChainEntry
from ledger.chain.verification import verify_chain
from tests.helpers import Ledger, event_id_column, new_ledger, run_sql


@pytest.fixture
def ledger(storage_url: str) -> Ledger:
    led = new_ledger(storage_url)  # sequences 1 (genesis) and 2 (department key)
    for _ in range(4):
        led.note(lines=2)  # 4 commands of 3 events: sequences 3..14
    assert verify_chain(led.app.chain).ok
    return led


def _nid(led: Ledger, sequence: int) -> int:
    return run_sql(
        led.url, "SELECT notification_id FROM chain_entries WHERE sequence = ?", (sequence,)
    )[0][0]


def _rewrite_signatures(
    led: Ledger, first: int, count: int, signature: Callable[[ChainEntry], bytes]
) -> None:
    """Give ``count`` entries from ``first`` on ``signature(entry)`` and recompute their hashes,
    straight in the database (an insider rewrite)."""
    links = list(led.app.chain.select_links(first, count))
    prev = links[0].entry.prev_hash
    for link in links:
        sig = signature(link.entry)
        fresh = replace(link.entry, prev_hash=prev, signature=sig, entry_hash=b"")
        prev = fresh.compute_hash()
        run_sql(
            led.url,
            "UPDATE chain_entries SET signature = ?, prev_hash = ?, entry_hash = ? "
            "WHERE sequence = ?",
            (sig, fresh.prev_hash, prev, fresh.sequence),
        )


def _failure(led: Ledger) -> tuple[int, str]:
    report = verify_chain(led.app.chain)
    assert not report.ok
    assert report.failure is not None
    return report.failure.sequence, report.failure.reason


def test_an_untouched_chain_verifies(ledger: Ledger) -> None:
    report = verify_chain(ledger.app.chain)
    assert report.ok and report.checked == 14 and report.head_sequence == 14


def test_a_changed_state_byte_is_found_at_its_sequence(ledger: Ledger) -> None:
    col = event_id_column(ledger.url)
    state = run_sql(
        ledger.url, f"SELECT state FROM stored_events WHERE {col} = ?", (_nid(ledger, 8),)
    )[0][0]
    flipped = bytes(state[:-1]) + bytes([state[-1] ^ 0x01])
    run_sql(
        ledger.url,
        f"UPDATE stored_events SET state = ? WHERE {col} = ?",
        (flipped, _nid(ledger, 8)),
    )
    assert _failure(ledger) == (8, "state-hash-mismatch")


def test_a_changed_chain_timestamp_is_found(ledger: Ledger) -> None:
    run_sql(
        ledger.url, "UPDATE chain_entries SET timestamp = timestamp - 3600000000 WHERE sequence = 6"
    )
    assert _failure(ledger) == (6, "entry-hash-mismatch")


def test_a_changed_topic_is_found(ledger: Ledger) -> None:
    col = event_id_column(ledger.url)
    run_sql(
        ledger.url,
        f"UPDATE stored_events SET topic = 'tests.helpers:Note.Forged' WHERE {col} = ?",
        (_nid(ledger, 9),),
    )
    assert _failure(ledger) == (9, "topic-mismatch")


def test_a_deleted_middle_event_is_found(ledger: Ledger) -> None:
    col = event_id_column(ledger.url)
    run_sql(ledger.url, f"DELETE FROM stored_events WHERE {col} = ?", (_nid(ledger, 7),))
    assert _failure(ledger) == (7, "event-missing")


def test_a_deleted_middle_chain_entry_is_found(ledger: Ledger) -> None:
    run_sql(ledger.url, "DELETE FROM chain_entries WHERE sequence = 7")
    assert _failure(ledger) == (7, "event-without-entry")


def test_a_deleted_event_with_its_chain_entry_is_found(ledger: Ledger) -> None:
    col = event_id_column(ledger.url)
    run_sql(ledger.url, f"DELETE FROM stored_events WHERE {col} = ?", (_nid(ledger, 7),))
    run_sql(ledger.url, "DELETE FROM chain_entries WHERE sequence = 7")
    assert _failure(ledger) == (7, "missing-entry")


def test_an_inserted_event_without_chain_entry_is_found(ledger: Ledger) -> None:
    col = event_id_column(ledger.url)
    oid, state = run_sql(
        ledger.url,
        f"SELECT originator_id, state FROM stored_events WHERE {col} = ?",
        (_nid(ledger, 5),),
    )[0]
    run_sql(
        ledger.url,
        "INSERT INTO stored_events (originator_id, originator_version, topic, state) "
        "VALUES (?, 99, ?, ?)",
        (oid, "tests.helpers:Note.Written", state),
    )
    sequence, reason = _failure(ledger)
    assert reason == "event-without-entry" and sequence == 15


def test_an_inserted_chain_entry_with_a_forged_link_is_found(ledger: Ledger) -> None:
    # Copy entry 14 as a new entry 15 whose link points at 14: the link is right, its hash is not.
    run_sql(
        ledger.url,
        "INSERT INTO chain_entries SELECT sequence + 1, notification_id + 1000, "
        "entry_hash, entry_hash, "
        "originator_id, originator_version, topic, timestamp, state_hash, key_id, signature, "
        "command_index, command_size FROM chain_entries WHERE sequence = 14",
    )
    assert _failure(ledger) == (15, "entry-hash-mismatch")


def test_two_swapped_event_states_are_found_at_the_first(ledger: Ledger) -> None:
    col = event_id_column(ledger.url)
    a, b = _nid(ledger, 4), _nid(ledger, 10)
    sa = run_sql(ledger.url, f"SELECT state FROM stored_events WHERE {col} = ?", (a,))[0][0]
    sb = run_sql(ledger.url, f"SELECT state FROM stored_events WHERE {col} = ?", (b,))[0][0]
    run_sql(ledger.url, f"UPDATE stored_events SET state = ? WHERE {col} = ?", (sb, a))
    run_sql(ledger.url, f"UPDATE stored_events SET state = ? WHERE {col} = ?", (sa, b))
    assert _failure(ledger) == (4, "state-hash-mismatch")


def test_two_swapped_chain_entries_are_found(ledger: Ledger) -> None:
    run_sql(ledger.url, "UPDATE chain_entries SET sequence = -1 WHERE sequence = 9")
    run_sql(ledger.url, "UPDATE chain_entries SET sequence = 9 WHERE sequence = 10")
    run_sql(ledger.url, "UPDATE chain_entries SET sequence = 10 WHERE sequence = -1")
    assert _failure(ledger) == (9, "broken-link")


def test_a_changed_signature_is_found_at_its_command(ledger: Ledger) -> None:
    sig = run_sql(ledger.url, "SELECT signature FROM chain_entries WHERE sequence = 12")[0][0]
    forged = bytes([sig[0] ^ 0x80]) + bytes(sig[1:])
    # An attacker rewrites the signature and recomputes nothing else: the hash catches it.
    run_sql(ledger.url, "UPDATE chain_entries SET signature = ? WHERE sequence = 12", (forged,))
    assert _failure(ledger) == (12, "entry-hash-mismatch")


def test_a_rehashed_forged_signature_is_found_as_bad_signature(ledger: Ledger) -> None:
    # Rewrite from entry 12 on with a forged signature and recomputed hashes (an insider rewrite).
    _rewrite_signatures(ledger, 12, 3, lambda e: bytes(64))
    assert _failure(ledger) == (12, "bad-signature")


def test_an_event_signed_by_a_revoked_key_is_found(ledger: Ledger) -> None:
    ledger.app.revoke_key(ledger.department.key_id, "seal compromised", by=ledger.platform)  # 15
    # The application refuses the revoked key; write past it as a compromised writer would.
    ledger.note(lines=0, signer=ledger.department)  # sequence 16, recorder-level save
    assert _failure(ledger) == (16, "revoked-key")


def test_an_event_signed_by_an_unregistered_key_is_found(ledger: Ledger) -> None:
    from ledger.chain.signing import Ed25519Signer

    ledger.note(lines=0, signer=Ed25519Signer.generate())
    assert _failure(ledger) == (15, "unknown-key")


def test_signature_checks_in_worker_processes_report_the_same_first_failure(
    ledger: Ledger,
) -> None:
    # A forged signature on the command at 6..8, rehashed; an edit at 13.
    _rewrite_signatures(ledger, 6, 20, lambda e: bytes(64) if 6 <= e.sequence <= 8 else e.signature)
    run_sql(ledger.url, "UPDATE chain_entries SET timestamp = 0 WHERE sequence = 13")
    inline = verify_chain(ledger.app.chain, jobs=1)
    parallel = verify_chain(ledger.app.chain, jobs=2)
    assert inline.failure == parallel.failure
    assert inline.failure is not None
    assert (inline.failure.sequence, inline.failure.reason) == (6, "bad-signature")
