"""Serial numbers for concurrent submissions: blocks reserved in the day's counter.

Layer: ledger services (used by :class:`~ledger.services.cases.CaseService`).
Every submission of a department on one day needs the next number of the department's
:class:`~ledger.domain.serials.DailyCounter`. Taking it one at a time made that counter a hot
aggregate: submissions queued behind each other's commit, so group commit had nothing
to batch. Here a submission may *reserve* a block of numbers by saving the counter in its
own command; once that command is committed the block goes to this process's pool, and
the submissions that take numbers from the pool do not touch the counter at all.

Alone, a submission reserves exactly its own number, as before: a quiet department's
serials stay consecutive. Under contention (someone waits for a number) the reservation
takes :data:`MAX_BLOCK` numbers, and while the pool runs low one submission that takes a
number from it also reserves the next block, so the pool is refilled before it runs dry.

Uniqueness comes from the counter (a rival process's reservation conflicts and is
retried), never from this process's memory. A restore of an older copy of the database
would bring the counter back, so every reservation also goes through the installation's
:class:`SerialFloors` (``ledger.services.guard.RollbackGuard.reserve_serials``): numbers are
taken above the highest ever reserved, and that highest is recorded outside the database
before the reserving command is saved. A number handed out but not recorded (the
command was refused) goes back to the pool. Numbers still in the pool when the process
stops, or when the business day ends, are never used: a busy day's serials may have
gaps, never duplicates.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final, Protocol

from ledger.domain.rules import InvalidSerial
from ledger.domain.serials import DailyCounter

__all__ = ["MAX_BLOCK", "SerialFloors", "SerialNumbering", "Ticket"]

MAX_BLOCK: Final = 64
"""Numbers one reservation takes under contention (alone, a submission takes one)."""


class SerialFloors(Protocol):
    """Where reservations are recorded outside the database (the rollback guard)."""

    def reserve_serials(
        self, department: str, on: dt.date, reserve: Callable[[int], range]
    ) -> range: ...


class _NoFloors:
    def reserve_serials(
        self, department: str, on: dt.date, reserve: Callable[[int], range]
    ) -> range:
        return reserve(0)


@dataclass
class Ticket:
    """One submission's number; ``counter`` holds the reservation to save with the case
    (``None`` when the number came from a block already recorded). Set ``recorded`` once
    the command is saved, so the number is not handed out again."""

    number: int
    counter: DailyCounter | None
    recorded: bool = False


@dataclass
class _Day:
    free: deque[int] = field(default_factory=deque)
    reserving: bool = False
    waiting: int = 0


class SerialNumbering:
    """Hands out one process's serial numbers, per department and business day."""

    def __init__(self, max_block: int = MAX_BLOCK, floors: SerialFloors | None = None) -> None:
        self._max_block = max_block
        self.floors: SerialFloors = floors or _NoFloors()
        self._changed = threading.Condition()
        self._days: dict[tuple[str, dt.date], _Day] = {}

    @contextmanager
    def ticket(
        self, department: str, on: dt.date, load: Callable[[], DailyCounter]
    ) -> Iterator[Ticket]:
        """A number for one submission; ``load`` reads the day's counter from the ledger.

        The ticket's ``counter`` (when set) holds a reservation to save with the case."""
        day, number, block = self._wait_turn(department, on)
        reserved: range | None = None
        ticket: Ticket | None = None
        try:
            if number is None:
                counter = load()
                reserved = self.floors.reserve_serials(
                    department, on, lambda floor: counter.reserve(block, floor)
                )
                ticket = Ticket(reserved[0], counter)
            elif block:
                refill = _refill(
                    load, block, lambda r: self.floors.reserve_serials(department, on, r)
                )
                ticket = Ticket(number, None if refill is None else refill[0])
                reserved = None if refill is None else refill[1]
            else:
                ticket = Ticket(number, None)
            yield ticket
        finally:
            used = ticket.number if ticket is not None and ticket.recorded else None
            with self._changed:
                if block:
                    day.reserving = False
                if used is not None and reserved is not None:
                    day.free.extend(n for n in reserved if n != used)
                if used is None and number is not None:
                    day.free.appendleft(number)
                self._changed.notify_all()

    def _wait_turn(self, department: str, on: dt.date) -> tuple[_Day, int | None, int]:
        """Wait for a number from the pool or for the right to reserve a block.

        Returns the pool number (if any) and the size of the block to reserve (0: none)."""
        with self._changed:
            day = self._days.get((department, on))
            if day is None:  # a new business day: the department's older days are done
                for key in [k for k in self._days if k[0] == department]:
                    del self._days[key]
                day = self._days[(department, on)] = _Day()
            day.waiting += 1
            while not day.free and day.reserving:
                self._changed.wait()
            day.waiting -= 1
            if day.free:
                number = day.free.popleft()
                if len(day.free) < self._max_block // 2 and not day.reserving:
                    day.reserving = True  # refill ahead, with this submission's command
                    return day, number, self._max_block
                return day, number, 0
            day.reserving = True
            return day, None, self._max_block if day.waiting else 1


def _refill(
    load: Callable[[], DailyCounter],
    block: int,
    floors: Callable[[Callable[[int], range]], range],
) -> tuple[DailyCounter, range] | None:
    """The counter with the next block reserved (above the floor), or None once the day's
    numbers are all reserved (the submission keeps the number it already has)."""
    counter = load()
    try:
        return counter, floors(lambda floor: counter.reserve(block, floor))
    except InvalidSerial:
        return None
