"""Workers that read and check ranges of the chain report exactly what the sequential walk does.

``verify_chain(jobs=2)`` splits the log into ranges that worker processes read and check
themselves; the merge must name the same first failure (sequence, aggregate, reason, detail)
and the same counts as ``jobs=1``. Each kind of tampering is played at range boundaries, inside
a range, at a command's head and tail and at a key event, on a real SQLite file and a real
PostgreSQL schema, with ranges of four sequences (commands run across them) and sequential
pages of five. The ledger is put back from a pristine copy of its two tables between plays.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest

from api.demo import attacks
from ledger.chain import verification
from ledger.chain.signing import Ed25519Signer
from ledger.chain.verification import verify_chain
from ledger.domain.keys import KEY_REGISTERED_TOPIC, ActorKey, KeyRole
from ledger.encoding import canonical
from ledger.storage.urls import parse_storage_url
from tests.helpers import Ledger, enrol, new_ledger, run_sql

RANGE = 4
# 1 genesis, 2 department key, 3-5, 6, 7-11, 12-13, 14-16 notes, 17 a second key registered,
# 18 revoked, 19-22, 23, 24-26 notes; ranges start at 1, 5, 9, 13, 17, 21, 25.
PLACES = (5, 9, 10, 12, 13, 17, 18, 22, 25)
"""Range starts (5 a command's tail, 9 inside one, 13 a tail, 17 a key event, 25 inside the
last command), inside a range (10, 12 a head, 18 the revocation, 22 a tail)."""

_EVENTS = "originator_id, originator_version, topic, state"


@dataclass(frozen=True)
class Keys:
    """A key registered and revoked in the log, and every key that signs (stolen, by id)."""

    revoked: Ed25519Signer
    stolen: dict[bytes, Ed25519Signer]
    department: Ed25519Signer


def _ledger(url: str) -> tuple[Ledger, Keys]:
    led = new_ledger(url)
    for lines in (2, 0, 4, 1, 2):
        led.note(lines=lines)
    second = enrol(led.app, led.platform, "dept:SECOND", KeyRole.DEPARTMENT, "SECOND")
    led.app.revoke_key(second.key_id, "retired", by=led.platform)
    for lines in (3, 0, 2):
        led.note(lines=lines)
    head = led.app.chain.chain_head()
    assert head is not None and head.sequence == 26
    run_sql(url, "CREATE TABLE pristine_chain AS SELECT * FROM chain_entries")
    run_sql(
        url, f"CREATE TABLE pristine_events AS SELECT rowid AS rid, {_EVENTS} FROM stored_events"
    )
    return led, Keys(second, led.keys, led.department)


def _restore(url: str) -> None:
    run_sql(url, "DELETE FROM chain_entries")
    run_sql(url, "INSERT INTO chain_entries SELECT * FROM pristine_chain")
    run_sql(url, "DELETE FROM stored_events")
    run_sql(
        url,
        f"INSERT INTO stored_events (rowid, {_EVENTS}) SELECT rid, {_EVENTS} FROM pristine_events",
    )


def _nid(url: str, sequence: int) -> int:
    return run_sql(
        url, "SELECT notification_id FROM chain_entries WHERE sequence = ?", (sequence,)
    )[0][0]


def _set(url: str, sequence: int, column: str, value: Any, *, relink: bool) -> None:
    run_sql(url, f"UPDATE chain_entries SET {column} = ? WHERE sequence = ?", (value, sequence))
    if relink:
        attacks.relink(url, sequence)


def _rehash_one(url: str, s: int, **changes: Any) -> None:
    """Change fields of entry ``s``, recompute its hash and relink the entries after it: only
    what ``s`` holds is wrong (inside a command, its signature still verifies)."""
    entry = replace(attacks._entries(url, s)[0], **changes)
    run_sql(
        url,
        "UPDATE chain_entries SET prev_hash = ?, timestamp = ?, entry_hash = ? WHERE sequence = ?",
        (entry.prev_hash, entry.timestamp, entry.compute_hash(), s),
    )
    attacks.relink(url, s + 1)


def _flip_state(url: str, s: int) -> None:
    nid = _nid(url, s)
    state = bytes(run_sql(url, "SELECT state FROM stored_events WHERE rowid = ?", (nid,))[0][0])
    flipped = state[:-1] + bytes([state[-1] ^ 1])
    run_sql(url, "UPDATE stored_events SET state = ? WHERE rowid = ?", (flipped, nid))


def _swap_entries(url: str, s: int) -> None:
    run_sql(url, "UPDATE chain_entries SET sequence = -1 WHERE sequence = ?", (s,))
    run_sql(url, "UPDATE chain_entries SET sequence = ? WHERE sequence = ?", (s, s + 1))
    run_sql(url, "UPDATE chain_entries SET sequence = ? WHERE sequence = -1", (s + 1,))


def _swap_notifications(url: str, s: int) -> None:
    a, b = _nid(url, s), _nid(url, s + 1)
    _set(url, s, "notification_id", -a, relink=False)
    _set(url, s + 1, "notification_id", a, relink=False)
    _set(url, s, "notification_id", b, relink=False)


def _events_reordered(url: str, s: int) -> None:
    """The events of ``s - 1`` and ``s`` trade notification ids, and their entries follow
    them: every entry still finds its own event, but ids no longer rise with the sequence (the
    notification id is neither hashed nor signed)."""
    a, b = _nid(url, s - 1), _nid(url, s)
    for old, new in ((a, -1), (b, a), (-1, b)):
        run_sql(url, "UPDATE stored_events SET rowid = ? WHERE rowid = ?", (new, old))
    _set(url, s - 1, "notification_id", -a, relink=False)
    _set(url, s, "notification_id", a, relink=False)
    _set(url, s - 1, "notification_id", b, relink=False)


def _key_event_by_a_department(url: str, s: int, keys: Keys) -> None:
    """A key registered at ``s`` under the (stolen) department key, and every later command
    re-signed in its new place with the stolen keys: only the key event's signer is wrong."""
    thief = Ed25519Signer.generate("thief")
    state = canonical(
        {"actor": "thief", "key_id": thief.key_id, "public_key": thief.public_key, "role": "kiosk"}
    )
    oid = ActorKey.create_id(thief.key_id)
    attacks.insert_command(url, s - 1, oid, KEY_REGISTERED_TOPIC, state, keys.department)
    attacks.relink(url, s + 1, keys.stolen)


def _event_on_a_key_record(url: str, s: int, keys: Keys) -> None:
    """The event at ``s`` moved onto the department key's record (version 7), everything
    relinked and re-signed with the stolen keys."""
    oid = ActorKey.create_id(keys.department.key_id)
    text = oid.hex if parse_storage_url(url).is_sqlite else str(oid)
    run_sql(
        url,
        "UPDATE stored_events SET originator_id = ?, originator_version = 7 WHERE rowid = ?",
        (text, _nid(url, s)),
    )
    run_sql(
        url,
        "UPDATE chain_entries SET originator_id = ?, originator_version = 7 WHERE sequence = ?",
        (text, s),
    )
    index = run_sql(url, "SELECT command_index FROM chain_entries WHERE sequence = ?", (s,))[0][0]
    attacks.relink(url, s - index, keys.stolen)


def _rewritten(url: str, s: int, keys: Keys) -> None:
    """The command at ``s`` a microsecond later, everything re-signed: what passes (§5)."""
    attacks.shift_timestamp(url, s, 1)
    attacks.relink(url, s - 3, keys.stolen)


def _delete_entry(url: str, s: int) -> None:
    run_sql(url, "DELETE FROM chain_entries WHERE sequence = ?", (s,))


def _delete_event(url: str, s: int) -> None:
    run_sql(url, "DELETE FROM stored_events WHERE rowid = ?", (_nid(url, s),))


def _delete_both(url: str, s: int) -> None:
    _delete_event(url, s)
    _delete_entry(url, s)


def _unlinked_event(url: str, s: int) -> None:
    oid, state = run_sql(
        url, "SELECT originator_id, state FROM stored_events WHERE rowid = ?", (_nid(url, s),)
    )[0]
    run_sql(
        url,
        "INSERT INTO stored_events (originator_id, originator_version, topic, state) "
        "VALUES (?, 99, ?, ?)",
        (oid, "tests.helpers:Note.Written", state),
    )


TAMPERINGS: dict[str, Callable[[str, int, Keys], None]] = {
    "state byte": lambda url, s, k: _flip_state(url, s),
    "state byte, rehashed": lambda url, s, k: attacks.rewrite_event(url, s, b"\x80"),
    "event topic": lambda url, s, k: run_sql(
        url, "UPDATE stored_events SET topic = 'x:Forged' WHERE rowid = ?", (_nid(url, s),)
    ),
    "event version": lambda url, s, k: run_sql(
        url,
        "UPDATE stored_events SET originator_version = originator_version + 50 WHERE rowid = ?",
        (_nid(url, s),),
    ),
    "event deleted": lambda url, s, k: _delete_event(url, s),
    "entry deleted": lambda url, s, k: _delete_entry(url, s),
    "event and entry deleted": lambda url, s, k: _delete_both(url, s),
    "entries swapped": lambda url, s, k: _swap_entries(url, s),
    "notification ids swapped": lambda url, s, k: _swap_notifications(url, s),
    "events reordered with their entries": lambda url, s, k: _events_reordered(url, s),
    "event without entry": lambda url, s, k: _unlinked_event(url, s),
    "link forged, its entry rehashed": lambda url, s, k: _rehash_one(url, s, prev_hash=bytes(32)),
    "time before the last, its entry rehashed": lambda url, s, k: _rehash_one(url, s, timestamp=1),
    "timestamp": lambda url, s, k: _set(url, s, "timestamp", 0, relink=False),
    "timestamp, rehashed": lambda url, s, k: _set(url, s, "timestamp", 0, relink=True),
    "command moved in time": lambda url, s, k: attacks.shift_timestamp(url, s, 3_600_000_000),
    "signature": lambda url, s, k: _set(url, s, "signature", bytes(64), relink=False),
    "signature, rehashed": lambda url, s, k: _set(url, s, "signature", bytes(64), relink=True),
    "command index, rehashed": lambda url, s, k: _set(url, s, "command_index", 7, relink=True),
    "command size, rehashed": lambda url, s, k: _set(url, s, "command_size", 2, relink=True),
    "unknown key, rehashed": lambda url, s, k: _set(url, s, "key_id", bytes(8), relink=True),
    "revoked key, rehashed": lambda url, s, k: _set(
        url, s, "key_id", k.revoked.key_id, relink=True
    ),
    "key event signed by a department (stolen keys)": _key_event_by_a_department,
    "event on a key's record (stolen keys)": _event_on_a_key_record,
    "history rewritten with every key (passes)": lambda url, s, k: (
        attacks.shift_timestamp(url, s, 1) or attacks.relink(url, s - 3, k.stolen)
    ),
    "command deleted": lambda url, s, k: attacks.delete_command(url, s),
    "tail cut inside a command": lambda url, s, k: attacks.truncate(url, s),
    "key registration rewritten, rehashed": lambda url, s, k: attacks.rename_actor(url, s),
}
PLACES_OF = {"key registration rewritten, rehashed": (2, 17)}


@pytest.fixture
def small_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verification, "RANGE_MIN", RANGE)
    monkeypatch.setattr(verification, "RANGE_MAX", RANGE)
    monkeypatch.setattr(verification, "PAGE_SIZE", 5)


def _both(led: Ledger) -> tuple[dict[str, Any], dict[str, Any]]:
    sequential = verify_chain(led.app.chain, jobs=1).as_dict()
    parallel = verify_chain(led.app.chain, jobs=2).as_dict()
    for report in (sequential, parallel):
        report.pop("seconds")
    return sequential, parallel


@pytest.mark.usefixtures("small_ranges")
def test_an_untouched_log_reads_the_same_in_workers(storage_url: str) -> None:
    led, _ = _ledger(storage_url)
    sequential, parallel = _both(led)
    assert sequential["ok"] and sequential == parallel


@pytest.mark.usefixtures("small_ranges")
@pytest.mark.parametrize("kind", sorted(TAMPERINGS))
def test_each_tampering_is_reported_as_the_sequential_walk_reports_it(
    storage_url: str, kind: str
) -> None:
    led, keys = _ledger(storage_url)
    failed = 0
    for place in PLACES_OF.get(kind, PLACES):
        _restore(storage_url)
        TAMPERINGS[kind](storage_url, place, keys)
        sequential, parallel = _both(led)
        assert parallel == sequential, (kind, place)
        failed += not sequential["ok"]
    assert failed or "passes" in kind, f"{kind}: no place made the walk fail"
    led.app.close()


def test_a_large_log_is_checked_in_workers_by_default(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without workers taking part the merge is never exercised: count the ranges they return.
    taken: list[int] = []
    merge = verification._Walk.merge

    def counted(self: Any, result: Any, store: Any, plan: Any) -> None:
        taken.append(result.clean)
        merge(self, result, store, plan)

    monkeypatch.setattr(verification._Walk, "merge", counted)
    monkeypatch.setattr(verification, "PARALLEL_THRESHOLD", 20)
    led, _ = _ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}")
    report = verify_chain(led.app.chain)
    assert report.ok and report.checked == 26
    assert taken and all(taken), "every range of an untouched log comes back clean"
    assert len(taken) == len(verification._ranges(1, 26, os.cpu_count() or 1))


def _signed_before_registration(url: str, keys: Keys) -> None:
    """The command at 12-13 signed, in its place, with the second key, registered only at 17."""
    _set(url, 12, "key_id", keys.revoked.key_id, relink=False)
    _set(url, 13, "key_id", keys.revoked.key_id, relink=False)
    attacks.relink(url, 12, {**keys.stolen, keys.revoked.key_id: keys.revoked})


@pytest.mark.usefixtures("small_ranges")
@pytest.mark.parametrize("signed_early", [False, True])
def test_keys_read_ahead_that_the_log_does_not_hold_send_the_walk_sequential(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, signed_early: bool
) -> None:
    # The key timeline the workers use is read before the walk; if the log changed in between
    # (here: the second key's registration read at 11, where the log holds a note, not at 17),
    # a worker accepts what the walk would not: the merge finds the key event it never replays.
    led, keys = _ledger(sqlite_url)
    if signed_early:
        _signed_before_registration(sqlite_url, keys)
    read_ahead = verification._timeline

    def moved(store: Any, last: int) -> Any:
        timeline = read_ahead(store, last)
        public_key, role, _, revoked = timeline.keys[keys.revoked.key_id]
        timeline.keys[keys.revoked.key_id] = (public_key, role, 11, revoked)
        timeline.events[timeline.events.index(17)] = 11
        timeline.events.sort()
        return timeline

    monkeypatch.setattr(verification, "_timeline", moved)
    sequential, parallel = _both(led)
    assert parallel == sequential
    failure = sequential["failure"]
    assert (
        (failure["sequence"], failure["reason"]) == (12, "unknown-key")
        if signed_early
        else (failure is None)
    )
