"""Group commit on PostgreSQL: concurrent commands share transactions, keep their own results."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from ledger.chain.verification import verify_chain
from tests.helpers import Ledger, Note, new_ledger, run_sql

pytestmark = pytest.mark.postgres


@pytest.fixture
def ledger(pg_schema_url: str) -> Ledger:
    return new_ledger(pg_schema_url)


def test_concurrent_commands_share_transactions_and_the_chain_stays_whole(ledger: Ledger) -> None:
    def work(_: int) -> None:
        for _ in range(15):
            ledger.note(lines=1)

    with ThreadPoolExecutor(24) as pool:
        list(pool.map(work, range(24)))
    report = verify_chain(ledger.app.chain)
    assert report.ok, report.failure
    assert report.commands == 2 + 24 * 15
    # One recording timestamp per transaction: fewer than commands means they were batched.
    transactions = run_sql(ledger.url, "SELECT COUNT(DISTINCT timestamp) FROM chain_entries")[0][0]
    assert transactions < 2 + 24 * 15


def test_a_conflicting_command_fails_alone(ledger: Ledger) -> None:
    note = ledger.note(lines=0)
    copies = [ledger.app.repository.get(note.id) for _ in range(2)]
    start = threading.Barrier(12)
    outcomes: list[str] = []

    def conflicting(copy: Note) -> None:
        copy.write("same version")
        start.wait()
        try:
            ledger.app.save(copy, signer=ledger.department)
            outcomes.append("saved")
        except IntegrityError:
            outcomes.append("conflict")

    def independent() -> None:
        start.wait()
        ledger.note(lines=2)
        outcomes.append("independent")

    threads = [threading.Thread(target=conflicting, args=(c,)) for c in copies]
    threads += [threading.Thread(target=independent) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes).count("conflict") == 1
    assert outcomes.count("saved") == 1 and outcomes.count("independent") == 10
    assert verify_chain(ledger.app.chain).ok


def _command(ledger: Ledger, note: Note) -> tuple[Any, Any]:
    """What ``save`` hands the recorder: the stored events and their signed command."""
    recorder: Any = ledger.app.recorder
    stored = [ledger.app.mapper.to_stored_event(e) for e in note.collect_events()]
    return stored, recorder.prepare_command(stored, {"signer": ledger.department})


def test_a_batch_writes_every_command_but_those_that_conflict(ledger: Ledger) -> None:
    """Checked under the lock, before writing: a version already stored, or taken by an
    earlier command of the same batch, refuses that command; the others are written."""
    stored = ledger.note(lines=0)
    stale, winner = (ledger.app.repository.get(stored.id) for _ in range(2))
    winner.write("recorded first")
    ledger.app.save(winner, signer=ledger.department)
    stale.write("too late")
    shared = ledger.note(lines=0)
    first, second = (ledger.app.repository.get(shared.id) for _ in range(2))
    first.write("first in the batch")
    second.write("second in the batch")
    head = verify_chain(ledger.app.chain).head_sequence
    fresh = [Note(title="a"), Note(title="b")]
    recorder: Any = ledger.app.recorder
    written = recorder._write(
        [_command(ledger, n) for n in (fresh[0], stale, first, second, fresh[1])]
    )
    assert [isinstance(w, IntegrityError) for w in written] == [False, True, False, True, False]
    report = verify_chain(ledger.app.chain)
    assert report.ok, report.failure
    assert report.head_sequence == head + 3
    assert ledger.app.repository.get(stored.id).lines == ["recorded first"]
    assert ledger.app.repository.get(shared.id).lines == ["first in the batch"]
    assert [ledger.app.repository.get(n.id).title for n in fresh] == ["a", "b"]
    events = run_sql(ledger.url, "SELECT COUNT(*) FROM stored_events")[0][0]
    assert events == report.head_sequence


@pytest.mark.parametrize("failure", ["server", "client"])
def test_a_write_that_fails_after_its_events_are_queued_records_nothing(
    ledger: Ledger, failure: str
) -> None:
    """The links insert failing (on the server, or in the client before it is sent) after the
    events insert was queued must roll the transaction back: events without chain entries
    would be a gap in the chain."""
    recorder: Any = ledger.app.recorder
    head = verify_chain(ledger.app.chain).head_sequence
    real_params, real_sql = recorder._link_params, recorder._insert_links

    def bad_params(entries: Any) -> Any:
        params = list(real_params(entries))
        params[0] = ["not a sequence number"]  # the server cannot take it as bigint[]
        return tuple(params)

    if failure == "server":
        recorder._link_params = bad_params
    else:
        recorder._insert_links = 42  # not a statement: psycopg refuses it before sending
    try:
        with pytest.raises(Exception):  # noqa: B017 - whatever psycopg raises for it
            ledger.note(lines=1)
    finally:
        recorder._link_params, recorder._insert_links = real_params, real_sql
    report = verify_chain(ledger.app.chain)
    assert report.ok and report.head_sequence == head
    events = run_sql(ledger.url, "SELECT COUNT(*) FROM stored_events")[0][0]
    assert events == head
    ledger.note(lines=1)  # the ledger writes on
    assert verify_chain(ledger.app.chain).head_sequence == head + 2
