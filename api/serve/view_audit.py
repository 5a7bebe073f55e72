"""``serve``'s watch over its read models: are they still what the log says they are?

Layer: api (a background worker of ``caseledger serve``, started by the worker that follows
the log; ``api.serve.app.WORKER_FACTORIES``). Issue 15, "read models that notice":

* soon after start (:data:`DELAY_ENV`, default 2 s) and then every :data:`AUDIT_ENV` seconds
  (default 6 hours; 0 = after start only), every view is compared with a scratch rebuild from
  the log (``projections.verify.compare_with_rebuild``), in this thread; the outcome is
  recorded as each view's alarm, which every worker's seal check reads;
* every :data:`SEAL_SECONDS` the seal check runs (``routes_health.view_watch``: the same
  check ``/readyz`` makes, cached a few seconds), so an alarm is logged even when nobody asks.

A finding makes ``/readyz`` answer 503 with the reason, and is logged once as an error. The
comparison reads the views without stopping their follower; its cost is that of
``caseledger projections verify`` (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Final

from api.http.context import ApiContext
from api.http.routes_health import view_watch
from projections.verify import Cancelled, compare_with_rebuild

__all__ = ["AUDIT_ENV", "DELAY_ENV", "start_view_audit"]

log = logging.getLogger("caseledger.serve")

AUDIT_ENV: Final = "CASELEDGER_VIEW_AUDIT_SECONDS"
DELAY_ENV: Final = "CASELEDGER_VIEW_AUDIT_DELAY"
DEFAULT_AUDIT_SECONDS: Final = 6 * 3600.0
DEFAULT_DELAY_SECONDS: Final = 2.0
SEAL_SECONDS: Final = 30.0


def _seconds(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        log.warning("%s=%r is not a number of seconds; using %s", name, text, default)
        return default
    return max(0.0, value)


def start_view_audit(ctx: ApiContext) -> Callable[[], None]:
    """Start the watch thread; returns its ``stop``."""
    every = _seconds(AUDIT_ENV, DEFAULT_AUDIT_SECONDS)
    delay = _seconds(DELAY_ENV, DEFAULT_DELAY_SECONDS)
    stopping = threading.Event()
    views = list(ctx.views.values())
    runtime = ctx.runtime

    def compare() -> None:
        try:
            results = compare_with_rebuild(
                views, runtime.settings.storage, runtime.ledger, cancelled=stopping.is_set
            )
        except Cancelled:
            return
        except Exception as exc:  # the database went away, a view is unreadable: say so
            log.warning("read models: the comparison with a rebuild failed: %s", exc)
            return
        different = [r.view for r in results if not r.identical]
        try:
            view_watch(ctx).findings(fresh=True)  # logs a new alarm now, not at the next check
        except Exception as exc:
            log.warning("read models: the seal check failed: %s", exc)
        log.info(
            "read models compared with a rebuild from the log: %d views, %s",
            len(results),
            f"DIFFERENT: {', '.join(different)}" if different else "all identical",
        )

    def run() -> None:
        if stopping.wait(delay):
            return
        compare()
        tick = min(SEAL_SECONDS, every) if every else SEAL_SECONDS
        next_seal = next_compare = time.monotonic()
        next_seal += SEAL_SECONDS
        next_compare += every
        while not stopping.wait(tick):
            now = time.monotonic()
            if every and now >= next_compare:
                compare()
                next_compare = time.monotonic() + every
            if now >= next_seal:
                try:
                    view_watch(ctx).findings(fresh=True)
                except Exception as exc:
                    log.warning("read models: the seal check failed: %s", exc)
                next_seal = time.monotonic() + SEAL_SECONDS

    thread = threading.Thread(target=run, name="view-audit", daemon=True)
    thread.start()

    def stop() -> None:
        stopping.set()
        thread.join(timeout=30)

    return stop
