"""The read side of ``caseledger serve --read-db``: read routes on a PostgreSQL hot standby.

Layer: api (HTTP). Writes go to the primary (``--db``); the read routes — progress, the
worklists, indicators, certificates, ratings, blacklist, supervision and the audit reads of
entries and keys — read the standby, which holds the log, the chain and the read models as
the primary's WAL replays (the views are written on the primary by its follower and
replicate like every other table).

Read-your-writes, across processes and machines without shared state: after every
successful write the primary's WAL position (``pg_current_wal_lsn()``, taken after the
commit) goes back to the client in the ``Caseledger-Write-LSN`` header and a cookie of the
same value; a read that carries either waits until the standby has replayed that position
(``pg_last_wal_replay_lsn()``), at most :attr:`ReadSide.replay_wait` (2 s), and then reads
the primary instead: a lagging or stopped standby slows a read by that bound, never makes
it wrong or fail. ``Caseledger-Read-From: standby|primary`` says which one answered. A
standby that does not answer at all sends reads to the primary for
:attr:`ReadSide.retry_after` (5 s) before it is tried again. A read that carries no
position reads the standby as far as it has replayed.

The standby must be a physical replica of the primary: its system identifier and database
are compared with the primary's before it serves (a mismatch refuses to start).
"""

from __future__ import annotations

import contextvars
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import anyio.to_thread
import psycopg
from eventsourcing.persistence import OperationalError as StoreUnavailable
from prometheus_client import CollectorRegistry, Counter
from starlette.datastructures import MutableHeaders

from api.http.problems import problem_response
from ledger.errors import ConfigurationError, LedgerError
from ledger.services.application import LedgerApplication
from ledger.storage import pg_pool
from ledger.storage.urls import StorageURL
from projections.registry import VIEWS
from projections.runner import open_replica_view

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_LSN_HEADER: Final = "Caseledger-Write-LSN"
"""Response of a write: the primary's WAL position after it; request of a read: wait for it."""
WRITE_LSN_COOKIE: Final = "caseledger_write_lsn"
"""The same position as a cookie, for clients that keep cookies and send no header."""
READ_FROM_HEADER: Final = "Caseledger-Read-From"
"""Response of a read route: ``standby`` or ``primary``, the database that answered."""
COOKIE_SECONDS: Final = 300
"""The cookie's lifetime: a write older than this is replayed by any standby worth reading."""

_LSN: Final = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")
_REPLAYED: Final = (
    "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
    "ELSE pg_current_wal_lsn() END)::text"
)
_IDENTITY: Final = "SELECT system_identifier::text, current_database() FROM pg_control_system()"

log = logging.getLogger("caseledger.http")


def parse_lsn(text: str) -> int:
    """A WAL position ``X/Y`` (PostgreSQL's ``pg_lsn`` text) as a number; ValueError names
    the header."""
    found = _LSN.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"{WRITE_LSN_HEADER}: {text[:40]!r} is not a WAL position like 0/16B3748")
    return int(found[1], 16) << 32 | int(found[2], 16)


def format_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


@dataclass
class _Read:
    """What one request asked of the read side, and where it was answered from."""

    wanted: int
    source: str = ""


_current: contextvars.ContextVar[_Read | None] = contextvars.ContextVar(
    "caseledger_read", default=None
)


class ReadSide:
    """The standby of one ``serve`` process: its views, its chain, and the replay wait."""

    replay_wait = 2.0
    """Seconds a read waits for the standby to replay its client's last write."""
    retry_after = 5.0
    """Seconds reads go to the primary after the standby did not answer."""
    poll = 0.01
    """Seconds between two looks at the standby's replay position."""
    fresh = 0.25
    """Seconds a look at the replay position stands for the next reads: a read whose position
    it covers goes to the standby without a look of its own (a sixth of a read's CPU)."""

    def __init__(
        self, storage: StorageURL, primary: StorageURL, registry: CollectorRegistry
    ) -> None:
        self.storage = storage
        self.primary = primary
        self._checked = False
        self._down_until = 0.0
        self._seen = (0, -self.fresh)  # the replay position last seen, and when
        self._lock = threading.Lock()
        self.reads = Counter(
            "caseledger_reads_total",
            "Reads of the read routes, by the database that answered and why",
            ["source", "reason"],
            registry=registry,
        )
        self._ledger: LedgerApplication | None = None
        self.views: dict[str, Any] = {}
        try:
            self._check_replica()
            self._open()
        except (psycopg.OperationalError, StoreUnavailable) as exc:
            log.warning(
                "read side %s does not answer (%s): reads go to the primary until it does",
                storage.redacted(),
                _first_line(exc),
            )

    def _check_replica(self) -> None:
        """Refuse a read side that is not a physical replica of the primary's database."""
        if self._checked:
            return
        try:
            standby = _identity(self.storage)
            primary = _identity(self.primary)
        except psycopg.errors.InsufficientPrivilege:
            log.warning("read side: pg_control_system() is not allowed; replica not checked")
            standby = primary = ("", "")
        if standby != primary:
            raise ConfigurationError(
                f"--read-db: {self.storage.redacted()} is not a replica of --db (system "
                f"identifier, database {standby} ≠ {primary})"
            )
        self._checked = True

    def _open(self) -> None:
        """The standby's chain and views (opening the chain's recorder connects: done once the
        standby answers, so a standby down at start does not stop ``serve`` starting)."""
        if self._ledger is not None:
            return
        ledger = LedgerApplication(env=self.storage.event_store_env())
        pg_pool.heal(getattr(ledger.recorder, "datastore", None))
        ledger.write_gate = _refuse_writes
        self.views = {cls.name: open_replica_view(cls, self.storage) for cls in VIEWS}
        self._ledger = ledger

    @property
    def ledger(self) -> LedgerApplication:
        """The standby's ledger, read-only (opened by the first read that chose the standby)."""
        if self._ledger is None:
            raise RuntimeError("the read side is not open: decide() chose the primary")
        return self._ledger

    def primary_lsn(self) -> str:
        """The primary's WAL position now: past every transaction committed before."""
        with pg_pool.pool(self.primary.conninfo).connection() as conn:
            row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        return str(row[0]) if row else "0/0"

    def replayed(self) -> int:
        """How far the standby has replayed the primary's WAL (remembered, with when)."""
        with pg_pool.pool(self.storage.conninfo).connection() as conn:
            row = conn.execute(_REPLAYED).fetchone()
        found = parse_lsn(str(row[0])) if row and row[0] else 0
        self._seen = (found, time.monotonic())
        return found

    def decide(self, wanted: int) -> str:
        """``standby`` once it has replayed ``wanted`` (within :attr:`ReadSide.replay_wait`), else
        ``primary``."""
        now = time.monotonic()
        if now < self._down_until:
            self.reads.labels("primary", "unreachable").inc()
            return "primary"
        seen, at = self._seen
        if wanted <= seen and now - at < self.fresh and self._ledger is not None:
            self.reads.labels("standby", "replayed").inc()
            return "standby"
        deadline = time.monotonic() + self.replay_wait
        try:
            with self._lock:
                self._check_replica()
                self._open()
            while self.replayed() < wanted:
                if time.monotonic() >= deadline:
                    self.reads.labels("primary", "lagging").inc()
                    return "primary"
                time.sleep(self.poll)
        except ConfigurationError as exc:
            log.error("%s: reads stay on the primary", exc)
            self._down_until = float("inf")
            self.reads.labels("primary", "not-a-replica").inc()
            return "primary"
        except (psycopg.OperationalError, StoreUnavailable) as exc:
            self._down_until = time.monotonic() + self.retry_after
            log.warning(
                "read side %s does not answer (%s): reads go to the primary for %.0f s",
                self.storage.redacted(),
                _first_line(exc),
                self.retry_after,
            )
            self.reads.labels("primary", "unreachable").inc()
            return "primary"
        self.reads.labels("standby", "replayed").inc()
        return "standby"

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()


def _refuse_writes() -> None:
    raise LedgerError("the read side is a standby: writes go to the primary (--db)")


def _identity(storage: StorageURL) -> tuple[str, str]:
    with psycopg.connect(storage.conninfo, connect_timeout=2, autocommit=True) as conn:
        row = conn.execute(_IDENTITY).fetchone()
    return (str(row[0]), str(row[1])) if row else ("", "")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# --- what the read routes call ------------------------------------------------------------


def _side(ctx: Any) -> ReadSide | None:
    """The read side answering this request, deciding (once per request) where it reads."""
    side: ReadSide | None = ctx.services.get("read_side")
    request = _current.get()
    if side is None or request is None:
        return None
    if not request.source:
        request.source = side.decide(request.wanted)
    return side if request.source == "standby" else None


def read_view(ctx: Any, name: str) -> Any | None:
    """The view ``name`` this request reads: on the standby, or the primary's (``ctx.views``)
    without a read side, outside a request, or when the standby is behind or down."""
    side = _side(ctx)
    return ctx.views.get(name) if side is None else side.views.get(name)


def read_chain(ctx: Any) -> Any:
    """The chain store this request reads (as :func:`read_view` chooses)."""
    side = _side(ctx)
    return (ctx.runtime.ledger if side is None else side.ledger).chain


# --- the middleware ---------------------------------------------------------------------------


class ReadYourWrites:
    """Hand each successful write's WAL position to its client; make each read carry the
    position its client sent back, and say which database answered it (pure ASGI)."""

    def __init__(self, app: Any, side: ReadSide) -> None:
        self.app, self.side = app, side

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in SAFE_METHODS:
            await self.app(scope, receive, self._stamp_writes(send))
            return
        try:
            wanted = _asked(scope)
        except ValueError as exc:
            await problem_response(
                422, "Validation error", str(exc), code="validation", field=WRITE_LSN_HEADER
            )(scope, receive, send)
            return
        request = _Read(wanted)
        token = _current.set(request)

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and request.source:
                MutableHeaders(scope=message).append(READ_FROM_HEADER, request.source)
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            _current.reset(token)

    def _stamp_writes(self, send: Callable[[Any], Any]) -> Callable[[Any], Any]:
        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                try:
                    lsn = await anyio.to_thread.run_sync(self.side.primary_lsn)
                except psycopg.Error as exc:  # the write is done; only its position is unknown
                    log.warning("write position not read: %s", _first_line(exc))
                else:
                    headers = MutableHeaders(scope=message)
                    headers.append(WRITE_LSN_HEADER, lsn)
                    headers.append(
                        "set-cookie",
                        f"{WRITE_LSN_COOKIE}={lsn}; Path=/; Max-Age={COOKIE_SECONDS}; "
                        "HttpOnly; SameSite=Strict",
                    )
            await send(message)

        return sending


def _asked(scope: dict[str, Any]) -> int:
    """The WAL position a read must see: its header, else its cookie, else 0 (nothing)."""
    headers = dict(scope.get("headers") or ())
    value = headers.get(WRITE_LSN_HEADER.lower().encode())
    if value is not None:
        return parse_lsn(value.decode("latin-1"))
    cookies = headers.get(b"cookie", b"").decode("latin-1")
    for part in cookies.split(";"):
        name, _, text = part.strip().partition("=")
        if name == WRITE_LSN_COOKIE:
            try:
                return parse_lsn(text)
            except ValueError:
                return 0  # a cookie is the browser's to keep: a bad one is ignored
    return 0
