"""Serial numbers under concurrent submissions: blocks reserved in the day's counter, handed
to the submissions waiting for them, never twice, no gaps while the process runs
(GZ16·11, PY·11: the serial number is the unique id of an application)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest

from ledger.domain.rules import InvalidSerial
from ledger.domain.serials import MAX_DAILY_COUNT, DailyCounter, parse_serial
from ledger.services.numbering import SerialNumbering, Ticket
from tests.ledger.case_world import World, opened_world

DAY = dt.date(2026, 9, 28)


def test_a_reservation_takes_a_block_in_one_event() -> None:
    counter = DailyCounter.open("GZ-SCJG", DAY)
    assert counter.reserve(3) == range(1, 4)
    assert counter.allocate() == 4
    assert [type(e).__name__ for e in counter.collect_events()] == [
        "Opened",
        "Allocated",
        "Allocated",
    ]
    with pytest.raises(InvalidSerial, match="count"):
        counter.reserve(0)


def test_the_days_last_numbers_make_a_shorter_block_then_none() -> None:
    counter = DailyCounter.open("GZ-SCJG", DAY)
    counter.reserve(MAX_DAILY_COUNT - 2)
    assert counter.reserve(64) == range(MAX_DAILY_COUNT - 1, MAX_DAILY_COUNT + 1)
    with pytest.raises(InvalidSerial, match="numbered 999999 cases"):
        counter.reserve(1)


def _waiting(numbering: SerialNumbering, count: int) -> None:
    """Until ``count`` submissions wait for the reservation in flight."""
    for _ in range(2000):
        day = numbering._days.get(("GZ-SCJG", DAY))
        if day is not None and day.waiting == count:
            return
        time.sleep(0.001)
    raise AssertionError(f"{count} submissions never waited")


class _Hold:
    """The first submission takes its number and holds it until the others wait for theirs."""

    def __init__(self) -> None:
        self.holding = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> None:
        self.holding.set()
        self.release.wait(10)

    def run(
        self, numbering: SerialNumbering, first: Callable[[], None], *others: Callable[[], None]
    ) -> None:
        leader = threading.Thread(target=first)
        leader.start()
        self.holding.wait(10)
        threads = [threading.Thread(target=o) for o in others]
        for t in threads:
            t.start()
        _waiting(numbering, len(others))
        self.release.set()
        for t in [leader, *threads]:
            t.join(10)


def test_waiting_submissions_share_the_next_block_and_skip_the_counter() -> None:
    numbering = SerialNumbering(max_block=8)
    counter = DailyCounter.open("GZ-SCJG", DAY)
    hold = _Hold()
    tickets: dict[str, Ticket] = {}

    def submit(name: str, held: bool = False) -> None:
        with numbering.ticket("GZ-SCJG", DAY, lambda: counter) as ticket:
            tickets[name] = ticket
            if held:
                hold()
            ticket.recorded = True  # as if the command was saved

    hold.run(numbering, lambda: submit("first", True), *(partial(submit, n) for n in "bcd"))
    assert tickets["first"].number == 1 and tickets["first"].counter is counter
    numbers = sorted(t.number for t in tickets.values())
    assert numbers == [1, 2, 3, 4]
    reservers = [t for t in tickets.values() if t.counter is not None]
    assert len(reservers) == 2  # the first alone, then a whole block for the waiters
    assert counter.count == 9
    refill: list[Ticket] = []
    for _ in range(2):  # the pool holds 5..9; below half a block, a taker also reserves
        with numbering.ticket("GZ-SCJG", DAY, lambda: counter) as ticket:
            refill.append(ticket)
            ticket.recorded = True
    assert [(t.number, t.counter is not None) for t in refill] == [(5, False), (6, True)]
    assert counter.count == 17
    with numbering.ticket("GZ-SCJG", DAY, lambda: counter) as ticket:
        assert ticket.number == 7 and ticket.counter is None


class _SavedCounter:
    """The day's counter as the ledger would hold it: only recorded reservations count."""

    def __init__(self) -> None:
        self.saved = 0

    def load(self) -> DailyCounter:
        counter = DailyCounter.open("GZ-SCJG", DAY)
        if self.saved:
            counter.reserve(self.saved)
        return counter

    def record(self, ticket: Ticket) -> None:
        if ticket.counter is not None:
            self.saved = ticket.counter.count
        ticket.recorded = True


def test_a_refused_submission_leaves_no_gap() -> None:
    numbering = SerialNumbering(max_block=8)
    ledger = _SavedCounter()
    hold = _Hold()
    recorded: list[int] = []

    def submit(record: bool, held: bool = False) -> None:
        with numbering.ticket("GZ-SCJG", DAY, ledger.load) as ticket:
            if held:
                hold()
            if record:  # else a rule refused the command: nothing recorded
                ledger.record(ticket)
                recorded.append(ticket.number)

    hold.run(numbering, lambda: submit(True, True), partial(submit, True), partial(submit, False))
    submit(True)
    assert sorted(recorded) == [1, 2, 3]  # the refused submission's number went to the next


@pytest.fixture
def world(storage_url: str, tmp_path: Path) -> Iterator[World]:
    with opened_world(storage_url, tmp_path) as w:
        yield w


def test_concurrent_submissions_get_every_number_once_and_reserve_blocks(
    world: World,
) -> None:
    count = 48
    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(lambda _: world.submit_food(), range(count)))
    numbers = sorted(parse_serial(o.serial).counter for o in outcomes)
    assert numbers == list(range(1, count + 1))  # unique, and no gap while the process runs
    assert len({o.case_id for o in outcomes}) == count
    counter = world.ledger.repository.get(DailyCounter.id_for("GZ-SCJG", DAY))
    assert counter.count >= count and counter.version < count  # blocks, not one by one


def test_two_services_on_one_ledger_never_share_a_number(world: World) -> None:
    """Another process numbers through its own pool; the counter keeps them apart."""
    from ledger.services.cases import CaseService

    other = CaseService(
        world.ledger,
        clock=world.clock,
        seals=world.seals.__getitem__,
        vault=world.vault,
        blobs=world.cases.blobs,
    )

    def submit(i: int) -> str:
        service = world.cases if i % 2 else other
        return service.submit(
            item_code="11440100MB2C92400X-FOOD-01",
            applicant_id=world.enterprise.id,
            channel="web",
            handling_mode="online_pre_acceptance",
            materials=world.full_food_materials(),
            delivery="online",
            signer=world.portal,
        ).serial

    with ThreadPoolExecutor(8) as pool:
        serials = list(pool.map(submit, range(32)))
    assert len(set(serials)) == 32


def test_when_the_days_numbers_run_out_a_pooled_number_is_still_used() -> None:
    numbering = SerialNumbering(max_block=8)
    ledger = _SavedCounter()
    ledger.saved = MAX_DAILY_COUNT - 5
    hold = _Hold()
    tickets: list[Ticket] = []

    def submit(held: bool = False) -> None:
        with numbering.ticket("GZ-SCJG", DAY, ledger.load) as ticket:
            tickets.append(ticket)
            if held:
                hold()
            ledger.record(ticket)

    hold.run(numbering, lambda: submit(True), submit, submit)
    numbers = sorted(t.number for t in tickets)
    assert numbers == [MAX_DAILY_COUNT - 4, MAX_DAILY_COUNT - 3, MAX_DAILY_COUNT - 2]
    pooled = next(t for t in tickets if t.number == MAX_DAILY_COUNT - 2)
    assert pooled.counter is None  # the refill found no numbers left; the submission went on
    assert ledger.saved == MAX_DAILY_COUNT
