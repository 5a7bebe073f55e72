"""Group commit: concurrent commands of one process written in one transaction.

Layer: ledger chain (persistence). The chain serialises writers, so a second writer waits
for the first's lock and fsync anyway; instead, whoever holds the leadership takes
every command queued meanwhile and writes them together. A command the write refuses
alone (a version conflict) gets its own error while the rest are written; if a whole
batch fails, each of its commands is written alone, so every caller gets its own
result or its own error and nothing else is affected.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_BATCH_COMMANDS = 256

Write = Callable[[Sequence[tuple[Sequence[Any], Any]]], Sequence[list[int] | BaseException]]
"""Writes a batch in one transaction: per command its notification ids, or the error that
refused that command alone; raises when the whole batch failed."""


@dataclass
class _Pending:
    events: Sequence[Any]
    command: Any
    wake: threading.Event = field(default_factory=threading.Event)
    """Set when the command is written (or refused), or when leadership is free for it."""
    finished: bool = False
    result: list[int] | None = None
    error: BaseException | None = None


class GroupCommitter:
    """Leader/follower batching of ``write(batch) -> notification ids per command``.

    A follower sleeps until its command is done or the leader hands leadership on (the
    leader wakes the first queued command as it steps down), so nobody polls: a 2 ms poll
    loop cost the followers' threads CPU and latency under load."""

    def __init__(self, write: Write, max_batch: int = MAX_BATCH_COMMANDS):
        self._write = write
        self._max = max_batch
        self._mutex = threading.Lock()
        self._leader = threading.Lock()
        self._queue: list[_Pending] = []

    def submit(self, events: Sequence[Any], command: Any) -> list[int]:
        """Write one command (possibly with others); its notification ids, or its error."""
        mine = _Pending(events, command)
        with self._mutex:
            self._queue.append(mine)
        while not mine.finished:
            if self._leader.acquire(blocking=False):
                try:
                    while not mine.finished:
                        with self._mutex:
                            batch, self._queue = self._queue[: self._max], self._queue[self._max :]
                        if batch:
                            self._run(batch)
                finally:
                    self._leader.release()
                    with self._mutex:
                        if self._queue:  # its submitter may be asleep: it leads next
                            self._queue[0].wake.set()
            else:
                mine.wake.wait()
                mine.wake.clear()
        if mine.error is not None:
            raise mine.error
        assert mine.result is not None
        return mine.result

    def _run(self, batch: list[_Pending]) -> None:
        try:
            results = self._write([(p.events, p.command) for p in batch])
        except BaseException as exc:
            if len(batch) == 1:
                batch[0].error = exc
                batch[0].finished = True
                batch[0].wake.set()
                return
            for p in batch:  # find whose command failed: each alone
                self._run([p])
            return
        for p, written in zip(batch, results, strict=True):
            if isinstance(written, BaseException):
                p.error = written
            else:
                p.result = written
            p.finished = True
            p.wake.set()
