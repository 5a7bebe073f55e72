"""Fail fast while the database is down: the storage gate of one HTTP process.

Layer: api (HTTP). A request that meets a storage fault (``ledger.storage.faults``) answers
503 by itself (``api.http.problems``), but only after the pools and eventsourcing's retries
have waited for a connection — seconds per request, tens of seconds for a read that goes
through several of them, with a worker thread held all the while. So a fault is reported
here, and confirmed by a probe: if a connection can be had (a killed backend, one bad
statement), nothing changes; if not (the server refuses connections, is gone, or has too
many clients and no pooled connection is left), the gate closes. While closed, every
request except the operational ones (``/healthz``, ``/readyz``, ``/metrics``) answers 503
``storage-unavailable`` with ``Retry-After`` at once, and one request per
:data:`PROBE_EVERY` seconds probes again; the first probe that gets a connection opens the
gate. Nothing is recorded while it is closed, so a client's retry is always safe.

The probe borrows from the pool of the API's own tables (``api.sidedb``) on PostgreSQL —
a live pooled connection counts, so a server at its connection limit still serves — and
reads the ledger file's header on SQLite.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import anyio.to_thread

from api import sidedb
from api.http.problems import unavailable
from ledger.storage.faults import probe, storage_fault
from ledger.storage.urls import StorageURL

__all__ = ["OPERATIONAL_PATHS", "PROBE_EVERY", "GateMiddleware", "StorageGate"]

PROBE_EVERY: Final = 1.0
"""Seconds between probes while the gate is closed."""
OPERATIONAL_PATHS: Final = frozenset({"/healthz", "/readyz", "/metrics"})
"""Answered as usual while the gate is closed: they report the outage in their own words."""

log = logging.getLogger("caseledger.http")


class StorageGate:
    """Whether this process believes its database is down (thread-safe)."""

    def __init__(self, storage: StorageURL, *, check: Callable[[], None] | None = None):
        self.storage = storage
        self._check = check or self._probe
        self._down: str | None = None
        self._next_probe = 0.0
        self._probing = threading.Lock()
        self.closed_count = 0

    @property
    def down(self) -> str | None:
        """The reason the gate is closed, or ``None`` while requests go through."""
        return self._down

    def _probe(self) -> None:
        if self.storage.is_sqlite:
            probe(self.storage)
            return
        with sidedb.cursor(self.storage) as c:
            c.execute("SELECT 1")

    def _confirm(self) -> str | None:
        """Probe once: ``None`` if the database answered, else the reason."""
        try:
            self._check()
        except Exception as exc:
            return storage_fault(exc) or f"{type(exc).__name__}"
        return None

    def report(self, reason: str) -> None:
        """A request met a storage fault: close the gate if a probe confirms it."""
        if self._down is not None or not self._probing.acquire(blocking=False):
            return  # closed already, or another request is asking the database right now
        try:
            found = self._confirm()
            if found is not None:
                self._down = found
                self._next_probe = time.monotonic() + PROBE_EVERY
                self.closed_count += 1
                log.warning("storage gate closed: %s (first fault: %s)", found, reason)
        finally:
            self._probing.release()

    def admit(self) -> str | None:
        """``None`` to let a request through; else why it must be answered 503 now."""
        reason = self._down
        if reason is None:
            return None
        if time.monotonic() < self._next_probe or not self._probing.acquire(blocking=False):
            return reason
        try:
            self._next_probe = time.monotonic() + PROBE_EVERY
            found = self._confirm()
            self._down = found
            if found is None:
                log.warning("storage gate open: the database answers again")
            return found
        finally:
            self._probing.release()


class GateMiddleware:
    """Answer 503 at once while the gate is closed (a pure ASGI middleware)."""

    def __init__(self, app: Any, gate: StorageGate):
        self.app, self.gate = app, gate

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") in OPERATIONAL_PATHS:
            await self.app(scope, receive, send)
            return
        if self.gate.down is not None:
            reason = await anyio.to_thread.run_sync(self.gate.admit)  # a probe may block
            if reason is not None:
                await unavailable(reason, log_it=False)(scope, receive, send)
                return
        await self.app(scope, receive, send)
