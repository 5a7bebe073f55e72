"""Follow the live log in batches: one transaction per view per round, not per event.

Layer: projections. DESIGN invariant 4 holds as in ``catch_up`` (rows and position in one
transaction). ``projections.runner.follow`` runs eventsourcing's subscription runner, which
processes one event per transaction; on PostgreSQL that costs a commit per event and
cannot keep up with a log written at ~1,000 events/s (bench/projections.py). This follower
wakes on the log's own PostgreSQL notifications (LISTEN on the channel the recorder
NOTIFYs in every write transaction) — SQLite cannot notify, so there it polls every
``interval`` — and catches every view up with batched transactions.

A storage fault (``ledger.storage.faults``: a killed backend, the server refusing
connections, a locked SQLite file) does not stop the follower: each view's batch is one
transaction, so nothing half-applied remains; it waits (``FAULT_BACKOFF``, doubling up to
``FAULT_BACKOFF_MAX``) and carries on from the tracked positions. The LISTEN connection is
opened again the same way. Any other error stops it (re-raised by :meth:`stop`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Final

import psycopg
from psycopg.sql import SQL, Identifier

from ledger.services.application import LedgerApplication
from ledger.storage.faults import storage_fault
from projections.feed import catch_up_all
from projections.view import View

__all__ = ["BatchFollower"]

FAULT_BACKOFF: Final = 0.5
FAULT_BACKOFF_MAX: Final = 10.0
log = logging.getLogger("caseledger.projections")


def _conninfo(datastore: Any) -> str:
    kw = datastore.pool.kwargs
    info = f"host={kw['host']} port={kw['port']} user={kw['user']} dbname={kw['dbname']}"
    return info + (f" password={kw['password']}" if kw.get("password") else "")


class BatchFollower:
    """A background thread keeping ``views`` caught up with ``app``'s log (a context manager).

    An error in a view stops the thread and is re-raised by :meth:`stop` — except a view whose
    tracking was changed outside it (:class:`~projections.store.ViewTampered`): that view is
    left as it is (it refuses every write), the error is logged once, and the others follow on.
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
        self.faults = 0
        """Rounds that met a storage fault (and were retried)."""
        self.last_fault = ""
        self.tampered: dict[str, str] = {}
        """Views refusing writes because their tracking was changed outside them: why."""
        self._thread = threading.Thread(target=self._run, name="view-follower", daemon=True)
        self._wake = threading.Event()
        self._listener: threading.Thread | None = None
        if hasattr(app.recorder, "channel_name"):
            self._listener = threading.Thread(
                target=self._listen, name="view-listener", daemon=True
            )

    def _run(self) -> None:
        backoff = 0.0
        try:
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    self._round()
                except Exception as exc:
                    reason = storage_fault(exc)
                    if reason is None:
                        raise
                    backoff = min(max(backoff * 2, FAULT_BACKOFF), FAULT_BACKOFF_MAX)
                    self.faults += 1
                    self.last_fault = reason
                    log.warning("read models wait for the database (%s)", reason)
                    self._stop.wait(backoff)
                    continue
                backoff = 0.0
                # PostgreSQL: woken by NOTIFY (the timeout only guards a lost notification).
                self._wake.wait(self.interval if self._listener is None else 1.0)
        except BaseException as exc:  # reported to the owner by stop()
            self._error = exc

    def _round(self) -> None:
        """Every view caught up from one read of the log (``catch_up_all``); a view whose
        tracking was changed outside it stays behind, and the others carry on."""
        fed = catch_up_all(self.views, self.app, isolate=True)
        for i, view in enumerate(self.views):
            exc = fed.refused.get(i)
            if exc is None:
                self.tampered.pop(view.name, None)
                continue
            if view.name not in self.tampered:
                log.error("read model %s stopped following the log: %s", view.name, exc.detail)
            self.tampered[view.name] = exc.detail

    def _listen(self) -> None:
        """Set ``_wake`` whenever the log's channel is notified (PostgreSQL only)."""
        recorder = self.app.recorder
        ds = recorder.datastore  # type: ignore[attr-defined]
        backoff = 0.0
        while not self._stop.is_set():
            try:
                with psycopg.connect(_conninfo(ds), autocommit=True) as conn:
                    conn.execute(SQL("LISTEN {0}").format(Identifier(recorder.channel_name)))  # type: ignore[attr-defined]
                    self._wake.set()  # anything written while we were not listening
                    backoff = 0.0
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5):
                            self._wake.set()
            except psycopg.Error as exc:
                if storage_fault(exc) is None:
                    self._listener = None  # LISTEN refused: fall back to polling
                    return
                backoff = min(max(backoff * 2, FAULT_BACKOFF), FAULT_BACKOFF_MAX)
                self._wake.set()  # poll once meanwhile
                self._stop.wait(backoff)

    def start(self) -> BatchFollower:
        if self._listener is not None:
            self._listener.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()
        if self._listener is not None:
            self._listener.join()
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
