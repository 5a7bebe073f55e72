"""Follow the live log in batches: one transaction per view per round, not per event.

Layer: projections. DESIGN invariant 4 holds as in ``catch_up`` (rows and position in one
transaction). ``projections.runner.follow`` runs eventsourcing's subscription runner, which
processes one event per transaction; on PostgreSQL that costs a commit per event and
cannot keep up with a log written at ~1,000 events/s (bench/projections.py). This follower
polls the log head every ``interval`` seconds and catches every view up with batched
transactions, so the lag is about one interval plus the batch's work.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import TracebackType

from ledger.application import LedgerApplication
from projections.runner import catch_up, position
from projections.view import View

__all__ = ["BatchFollower"]


class BatchFollower:
    """A background thread keeping ``views`` caught up with ``app``'s log (a context manager).

    An error in a view stops the thread and is re-raised by :meth:`stop`.
    """

    def __init__(
        self, views: Sequence[View], app: LedgerApplication, *, interval: float = 0.02
    ) -> None:
        if not interval > 0:
            raise ValueError("interval: must be a positive number of seconds")
        self.views = tuple(views)
        self.app = app
        self.interval = interval
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="view-follower", daemon=True)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                head = self.app.recorder.max_notification_id() or 0
                for view in self.views:
                    if position(view, self.app) < head:
                        catch_up(view, self.app, until=head)
                self._stop.wait(self.interval)
        except BaseException as exc:  # reported to the owner by stop()
            self._error = exc

    def start(self) -> BatchFollower:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> BatchFollower:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
