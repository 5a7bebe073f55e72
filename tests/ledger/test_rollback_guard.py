"""The rollback guard on a real ledger (SQLite file and PostgreSQL schema), attacked by raw SQL:
a tail cut back, a rewritten head, a wiped or swapped database, a damaged state file. Each is
refused with a named finding, the write gate records nothing, and only the newer data (or the
operator's reset) makes the ledger writable again. Serial numbers of a day stay above the
floor recorded before the rollback."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from eventsourcing.application import AggregateNotFoundError

from api.demo.attacks import truncate as truncate_chain
from ledger.domain.serials import DailyCounter
from ledger.errors import LedgerRolledBack
from ledger.services.application import LedgerApplication, open_ledger
from ledger.services.guard import (
    HEAD_DIVERGED,
    HEAD_UNREADABLE,
    ROLLED_BACK,
    RollbackGuard,
    compare_with_known,
)
from ledger.services.numbering import SerialNumbering
from ledger.storage.backup import restore_backup, take_backup
from ledger.storage.head_state import HEAD_FILE, HeadStateFile, KnownHead
from ledger.storage.urls import parse_storage_url
from tests.helpers import Ledger, new_ledger, run_sql

DAY = dt.date(2026, 11, 23)


@pytest.fixture
def ledger(storage_url: str) -> Ledger:
    led = new_ledger(storage_url)  # sequences 1 and 2
    for _ in range(4):
        led.note(lines=2)  # 4 commands of 3 events: sequences 3..14
    return led


def _guard(led: Ledger, tmp_path: Path) -> RollbackGuard:
    guard = RollbackGuard(led.app.chain, HeadStateFile(tmp_path / "keys"))
    led.app.write_gate = guard.require_writable
    return guard


def _ticked(led: Ledger, tmp_path: Path) -> RollbackGuard:
    """The guard after its first tick: the head it knows is the log's head."""
    guard = _guard(led, tmp_path)
    guard.tick()
    return guard


def _head(led: Ledger) -> int:
    head = led.app.chain.chain_head()
    return 0 if head is None else head.sequence


def test_the_first_tick_records_the_head_and_later_ticks_follow_the_log(
    ledger: Ledger, tmp_path: Path
) -> None:
    guard = _guard(ledger, tmp_path)
    assert guard.tick() == ()
    known = guard.state.read().head
    assert known is not None and known.sequence == 14
    assert known.log == ledger.app.chain.select_entries(1, 1)[0].entry_hash
    ledger.note(lines=1)
    guard.tick()
    assert guard.state.read().head.sequence == 16  # type: ignore[union-attr]


def test_a_tail_cut_back_is_refused_naming_the_missing_entries_and_nothing_is_written(
    ledger: Ledger, tmp_path: Path
) -> None:
    guard = _ticked(ledger, tmp_path)
    truncate_chain(ledger.url, keep=8)
    faults = guard.tick()
    assert [f.code for f in faults] == [ROLLED_BACK]
    assert "entries 9–14 are missing" in faults[0].detail
    with pytest.raises(LedgerRolledBack) as refused:
        ledger.note(lines=1)
    assert refused.value.code == ROLLED_BACK
    assert _head(ledger) == 8  # the refused command recorded nothing
    assert guard.state.read().head.sequence == 14  # type: ignore[union-attr]  never moves back


def test_a_cut_log_written_on_past_the_known_head_is_found_diverged(
    ledger: Ledger, tmp_path: Path
) -> None:
    guard = _ticked(ledger, tmp_path)
    truncate_chain(ledger.url, keep=8)
    ledger.app.write_gate = None  # a writer that does not know of the guard
    for _ in range(3):
        ledger.note(lines=2)
    assert _head(ledger) > 14
    faults = guard.tick()
    assert [f.code for f in faults] == [HEAD_DIVERGED]
    assert "entry 14" in faults[0].detail


def test_a_rewritten_entry_at_the_known_head_is_found_diverged(
    ledger: Ledger, tmp_path: Path
) -> None:
    guard = _ticked(ledger, tmp_path)
    run_sql(ledger.url, "UPDATE chain_entries SET entry_hash = ? WHERE sequence = 14", (bytes(32),))
    assert [f.code for f in guard.tick()] == [HEAD_DIVERGED]


def test_a_wiped_database_is_refused(ledger: Ledger, tmp_path: Path) -> None:
    guard = _ticked(ledger, tmp_path)
    truncate_chain(ledger.url, keep=0)
    faults = guard.tick()
    assert [f.code for f in faults] == [ROLLED_BACK] and "empty" in faults[0].detail


def test_another_ledger_in_the_database_is_refused(ledger: Ledger, tmp_path: Path) -> None:
    guard = _ticked(ledger, tmp_path)
    run_sql(ledger.url, "UPDATE chain_entries SET entry_hash = ? WHERE sequence = 1", (bytes(32),))
    faults = guard.tick()
    assert [f.code for f in faults] == [HEAD_DIVERGED] and "another ledger" in faults[0].detail


def test_the_newer_data_restored_makes_the_ledger_writable_again(
    ledger: Ledger, tmp_path: Path
) -> None:
    guard = _ticked(ledger, tmp_path)
    newer = take_backup(parse_storage_url(ledger.url), tmp_path / "newer.backup")
    truncate_chain(ledger.url, keep=5)
    assert guard.tick()
    restore_backup(parse_storage_url(ledger.url), newer.path)
    assert guard.tick() == ()
    ledger.note(lines=1)


def test_a_damaged_state_file_fails_closed_until_reset(ledger: Ledger, tmp_path: Path) -> None:
    guard = _ticked(ledger, tmp_path)
    (tmp_path / "keys" / HEAD_FILE).write_text("{", encoding="utf-8")
    assert [f.code for f in guard.tick()] == [HEAD_UNREADABLE]
    with pytest.raises(LedgerRolledBack):
        ledger.note(lines=1)
    head = ledger.app.chain.chain_head()
    assert head is not None
    genesis = ledger.app.chain.select_entries(1, 1)[0].entry_hash
    guard.state.reset(KnownHead(genesis, head.sequence, head.entry_hash))
    assert guard.tick() == ()


def test_an_alarm_raised_by_one_process_refuses_writes_in_every_other(
    ledger: Ledger, tmp_path: Path
) -> None:
    anchoring = RollbackGuard(ledger.app.chain, HeadStateFile(tmp_path / "keys"))
    other = _guard(ledger, tmp_path)
    anchoring.raise_alarm("anchoring", "anchor-node-rolled-back", "node at 3, chain 9")
    faults = other.tick()
    assert [(f.code, f.source) for f in faults] == [("anchor-node-rolled-back", "anchoring")]
    with pytest.raises(LedgerRolledBack):
        ledger.note(lines=1)
    anchoring.clear_alarm("anchoring")
    assert other.tick() == ()


def test_a_restored_counter_never_hands_out_a_number_the_lost_history_gave(
    ledger: Ledger, tmp_path: Path
) -> None:
    guard = _ticked(ledger, tmp_path)

    def submitter(app: LedgerApplication, numbering: SerialNumbering) -> Callable[[], int]:
        def load() -> DailyCounter:
            try:
                found = app.repository.get(DailyCounter.id_for("GZ-SCJG", DAY))
            except AggregateNotFoundError:
                return DailyCounter.open("GZ-SCJG", DAY)
            assert isinstance(found, DailyCounter)
            return found

        def submit() -> int:
            with numbering.ticket("GZ-SCJG", DAY, load) as ticket:
                if ticket.counter is not None:
                    app.save(ticket.counter, signer=ledger.department)
                ticket.recorded = True
                return ticket.number

        return submit

    submit = submitter(ledger.app, SerialNumbering(floors=guard))
    first = submit()
    keep = _head(ledger)
    given = [submit() for _ in range(3)]
    assert given == [first + 1, first + 2, first + 3]
    truncate_chain(ledger.url, keep=keep)  # an older copy: the counter is back at `first`
    # A process started on the restored copy, before anything noticed the rollback:
    fresh = open_ledger(ledger.url)
    try:
        unguarded = submitter(fresh, SerialNumbering())
        assert unguarded() == first + 1  # what the attack gave before: a number reused
        truncate_chain(ledger.url, keep=keep)
        fresh.close()
        fresh = open_ledger(ledger.url)
        guarded = submitter(fresh, SerialNumbering(floors=RollbackGuard(fresh.chain, guard.state)))
        assert guarded() == max(given) + 1
    finally:
        fresh.close()


def test_the_comparison_accepts_a_log_that_holds_the_known_head() -> None:
    class Entry:
        def __init__(self, sequence: int, entry_hash: bytes) -> None:
            self.sequence, self.entry_hash = sequence, entry_hash

    genesis, at = Entry(1, b"g" * 32), Entry(5, b"h" * 32)
    known = KnownHead(b"g" * 32, 5, b"h" * 32)
    assert compare_with_known(None, None, None, None) is None
    assert compare_with_known(known, genesis, Entry(9, b"x" * 32), at) is None
    fault = compare_with_known(known, genesis, Entry(4, b"x" * 32), None)
    assert fault is not None and fault.code == ROLLED_BACK
    fault = compare_with_known(known, genesis, Entry(9, b"x" * 32), Entry(5, b"z" * 32))
    assert fault is not None and fault.code == HEAD_DIVERGED
