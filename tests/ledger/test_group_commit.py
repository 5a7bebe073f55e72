"""Group commit on PostgreSQL: concurrent commands share transactions, keep their own results."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from eventsourcing.persistence import IntegrityError

from ledger.verification import verify_chain
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
