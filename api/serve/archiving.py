"""The automatic archiver inside ``caseledger serve``: ended cases archived without an archivist.

Layer: api (composition). RULES.md "Archiving": after completion the platform archives the case
file automatically (NH·22, FZ·21), single-set (GZ20·24). The worker reads the ended cases still
waiting for their transfer from the ``archive_index`` view (``view_archive_waiting``), builds each
package with the archive builder, records the transfer signed by the platform key (archivist
``platform:auto-archive``) and keeps the package under the archive directory, exactly as
``POST /v1/archive/packages/{serial}`` does. A failed build (the anchor node unreachable, a
material missing, …) is retried with exponential backoff per case, from the poll interval up to
five minutes; ``/readyz`` shows the lag (ended cases not yet archived, the oldest one's age) and
the last error.

A package holds anchored proofs, so the archiver runs only when an anchor node is configured
(``$CASELEDGER_NODE`` or ``serve --node``); ``CASELEDGER_AUTO_ARCHIVE=0`` turns it off (then
the lag still shows). ``CASELEDGER_AUTO_ARCHIVE_INTERVAL`` sets the poll interval in seconds
(default 5). It submits nothing while the ledger's guard refuses writes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from api.http.context import ApiContext
from ledger.errors import LedgerError

__all__ = ["ARCHIVIST", "AutoArchiver", "start_auto_archive"]

ENABLE_ENV: Final = "CASELEDGER_AUTO_ARCHIVE"
INTERVAL_ENV: Final = "CASELEDGER_AUTO_ARCHIVE_INTERVAL"
DEFAULT_INTERVAL: Final = 5.0
MAX_BACKOFF: Final = 300.0
BATCH: Final = 50
ARCHIVIST: Final = "platform:auto-archive"
log = logging.getLogger("caseledger.archiving")


@dataclass
class _Retry:
    attempts: int
    next_try: float


class AutoArchiver:
    """Polls the waiting ended cases and archives them; one thread, retries with backoff."""

    def __init__(
        self,
        ctx: ApiContext,
        *,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ctx = ctx
        self.interval = interval
        self.clock = clock
        self.last_error = ""
        self.archived = 0
        self._retries: dict[str, _Retry] = {}
        self._done: set[str] = set()  # archived here, until the view has caught up
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="auto-archive", daemon=True)

    @property
    def retrying(self) -> int:
        """Cases whose last build failed and that wait for their next attempt."""
        return len(self._retries)

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: the interval doubled per failure, at most
        five minutes (or the interval, if longer)."""
        return min(max(MAX_BACKOFF, self.interval), self.interval * 2 ** (attempts - 1))

    def run_once(self) -> int:
        """One round: archive every waiting case that is not backing off; returns how many."""
        from projections.archive_index import ended_unarchived

        try:
            self.ctx.runtime.guard.require_writable()
        except LedgerError as exc:
            self.last_error = f"not archiving: {exc}"
            return 0
        waiting = ended_unarchived(self.ctx.views["archive_index"], limit=BATCH)
        self._done &= set(waiting)
        now = self.clock()
        done = 0
        for serial in waiting:
            retry = self._retries.get(serial)
            if serial in self._done or (retry is not None and now < retry.next_try):
                continue
            if self._archive(serial):
                done += 1
        return done

    def _archive(self, serial: str) -> bool:
        from api.http.routes_archive import build_and_keep

        # An attempt under way is no longer a case waiting to be retried: /readyz must not
        # report a retry (or its error) for a case whose transfer the view already shows.
        previous = self._retries.pop(serial, None)
        if not self._retries:
            self.last_error = ""
        try:
            result, kept = build_and_keep(self.ctx, serial, archivist=ARCHIVIST)
        except Exception as exc:  # any failure is retried; the lag shows it
            attempts = previous.attempts + 1 if previous is not None else 1
            wait = self.backoff(attempts)
            self.last_error = f"{serial}: {type(exc).__name__}: {exc}"  # before it counts
            self._retries[serial] = _Retry(attempts, self.clock() + wait)
            log.warning("archiving %s failed (attempt %d, next in %.0f s): %s",
                        serial, attempts, wait, exc)  # fmt: skip
            return False
        self._done.add(serial)
        self.archived += 1
        log.info("archived %s automatically (%s, check %s)", serial, kept.name,
                 "passed" if result.report.ok else "FAILED")  # fmt: skip
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # the view or ledger unreadable: next round
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("automatic archiving round failed: %s", exc)
            self._stop.wait(self.interval)

    def start(self) -> AutoArchiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _interval() -> float:
    raw = os.environ.get(INTERVAL_ENV, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_INTERVAL
    except ValueError:
        log.error("%s=%r is not a number of seconds: using %s", INTERVAL_ENV, raw, DEFAULT_INTERVAL)
        return DEFAULT_INTERVAL
    return value if value > 0 else DEFAULT_INTERVAL


def start_auto_archive(ctx: ApiContext) -> Callable[[], None]:
    """Start the archiver if an anchor node is configured and it is not turned off; returns the
    function that stops it."""
    from api.serve.anchoring import NODE_ENV

    if os.environ.get(ENABLE_ENV, "1").strip() == "0":
        log.warning("automatic archiving is off (%s=0): ended cases wait for an archivist",
                    ENABLE_ENV)  # fmt: skip
        return lambda: None
    if not os.environ.get(NODE_ENV, "").strip():
        log.warning("no anchor node configured (%s): ended cases are not archived automatically",
                    NODE_ENV)  # fmt: skip
        return lambda: None
    archiver = AutoArchiver(ctx, interval=_interval()).start()
    ctx.services["auto_archive"] = archiver
    log.info("archiving ended cases automatically every %.1f s", archiver.interval)
    return archiver.stop
