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
    done: threading.Event = field(default_factory=threading.Event)
    result: list[int] | None = None
    error: BaseException | None = None


class GroupCommitter:
    """Leader/follower batching of ``write(batch) -> notification ids per command``."""

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
        while not mine.done.is_set():
            if self._leader.acquire(blocking=False):
                try:
                    while not mine.done.is_set():
                        with self._mutex:
                            batch, self._queue = self._queue[: self._max], self._queue[self._max :]
                        if batch:
                            self._run(batch)
                finally:
                    self._leader.release()
            else:
                mine.done.wait(0.002)
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
                batch[0].done.set()
                return
            for p in batch:  # find whose command failed: each alone
                self._run([p])
            return
        for p, written in zip(batch, results, strict=True):
            if isinstance(written, BaseException):
                p.error = written
            else:
                p.result = written
            p.done.set()
