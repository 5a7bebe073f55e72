"""Serial numbers for concurrent submissions: blocks reserved in the day's counter.

Layer: ledger application service (used by :class:`~ledger.lifecycle.CaseService`).
Every submission of a department on one day needs the next number of the department's
:class:`~ledger.serials.DailyCounter`. Taking it one at a time made that counter a hot
aggregate: submissions queued behind each other's commit, so group commit had nothing
to batch. Here one submission *reserves* a block — itself plus the submissions waiting
at that moment — by saving the counter in its own command; once that command is
committed the rest of the block goes to the waiters, whose commands no longer touch the
counter and commit together. Alone, a submission reserves exactly one number, as before.

Uniqueness comes from the counter (a rival process's reservation conflicts and is
retried), never from this process's memory. A number handed out but not recorded (the
command was refused) goes back to the pool; numbers still in the pool when the process
stops are never used: the day's serials may then have gaps, never duplicates.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final

from ledger.serials import DailyCounter

__all__ = ["MAX_BLOCK", "SerialNumbering", "Ticket"]

MAX_BLOCK: Final = 64
"""Most numbers one reservation takes (one submission plus those waiting for it)."""


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

    def __init__(self, max_block: int = MAX_BLOCK) -> None:
        self._max_block = max_block
        self._changed = threading.Condition()
        self._days: dict[tuple[str, dt.date], _Day] = {}

    @contextmanager
    def ticket(
        self, department: str, on: dt.date, load: Callable[[], DailyCounter]
    ) -> Iterator[Ticket]:
        """A number for one submission; ``load`` reads the day's counter from the ledger."""
        day, number, block = self._wait_turn(department, on)
        if number is not None:
            taken = Ticket(number, None)
            try:
                yield taken
            finally:
                if not taken.recorded:
                    with self._changed:
                        day.free.appendleft(number)
                        self._changed.notify()
            return
        reserved: range | None = None
        ticket: Ticket | None = None
        try:
            counter = load()
            reserved = counter.reserve(block)
            ticket = Ticket(reserved[0], counter)
            yield ticket
        finally:
            with self._changed:
                day.reserving = False
                if reserved is not None and ticket is not None and ticket.recorded:
                    day.free.extend(reserved[1:])
                self._changed.notify_all()

    def _wait_turn(self, department: str, on: dt.date) -> tuple[_Day, int | None, int]:
        """Wait for a free number, or for the right to reserve a block (and its size)."""
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
                return day, day.free.popleft(), 0
            day.reserving = True
            return day, None, min(self._max_block, 1 + day.waiting)
