"""Read models that notice: is each view still what the log says it is?

Layer: projections. DESIGN invariant 4 (a view is a pure function of the log) checked from
outside the view, in two ways:

1. **Seals** (:func:`check_seals`, cheap: one statement per view and one indexed chain
   look-up). Each view keeps a seal beside its tracking (``projections.store``): the position
   it applied up to and the chain sequence and entry hash of the event there. Found: a
   tracking row moved by hand (it no longer equals the seal), a view ahead of the log's head
   (the log was rolled back or replaced beneath it), a view whose sealed entry is not the
   log's (built from another log, or the log rewritten), and an alarm left by the last
   comparison (2).
2. **Comparison with a scratch rebuild** (:func:`compare_with_rebuild`, costly: a rebuild of
   every view from the log, read once). Each live view is read in one snapshot (its position
   and every row, PostgreSQL ``REPEATABLE READ``; a SQLite read transaction), a scratch copy
   is built from the log to exactly that position beside it, and the two are compared table
   by table — row counts, digests, and for a table that differs the rows missing, extra and
   changed by primary key. Found: any row inserted, deleted or altered by hand, including
   rows and seal changed together. The outcome is recorded as the view's alarm (or cleared),
   so every process serving the view sees it in its seal check.

Not found: a change made to the log itself and to every view consistently (``caseledger
verify`` finds the log's); a view changed and restored between two checks; and, between
comparisons, a change to rows alone (the seal check sees only the tracking and the seal). The
comparison reads the live views without blocking their follower: it compares at the position
its snapshot saw, wherever the follower has got to since.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ledger.encoding import canonical
from ledger.services.application import LedgerApplication
from ledger.storage.urls import StorageURL
from projections.feed import catch_up, feed, track_to
from projections.links import chain_link
from projections.replay import REBUILD_PAGE, discard
from projections.store import Table, Tx, record_alarm
from projections.view import View, open_view, position

__all__ = [
    "Cancelled",
    "Finding",
    "TableDiff",
    "ViewComparison",
    "ViewWatch",
    "check_seals",
    "compare_with_rebuild",
]

log = logging.getLogger("caseledger.projections")

MAX_DIFF_ROWS: Final = 200_000
"""Rows of one table held to name what differs; a larger table is reported by count only."""
EXAMPLES: Final = 3


class Cancelled(Exception):
    """A comparison was stopped by its caller (a server shutting down)."""


@dataclass(frozen=True)
class Finding:
    """One way a view no longer matches the log: the view, the check (``seal``,
    ``position``, ``chain``, ``rows``) and what was found."""

    view: str
    check: str
    detail: str

    def line(self) -> str:
        return f"{self.view}: {self.check}: {self.detail}"

    def as_json(self) -> dict[str, str]:
        return {"view": self.view, "check": self.check, "detail": self.detail}


@dataclass(frozen=True)
class TableDiff:
    """How one table of a live view differs from its rebuild."""

    table: str
    live_rows: int
    rebuilt_rows: int
    missing: int
    extra: int
    changed: int
    examples: tuple[str, ...]

    def text(self, *, examples: bool = True) -> str:
        parts = [f"{self.table}: {self.live_rows} rows, the log gives {self.rebuilt_rows}"]
        counts = [
            f"{n} {what}"
            for n, what in (
                (self.missing, "missing"),
                (self.extra, "extra"),
                (self.changed, "changed"),
            )
            if n
        ]
        if counts:
            parts.append(", ".join(counts))
        if examples and self.examples:
            parts.append("e.g. " + "; ".join(self.examples))
        return " — ".join(parts)


@dataclass(frozen=True)
class ViewComparison:
    """One live view compared with its scratch rebuild at ``position``."""

    view: str
    position: int
    tables: tuple[TableDiff, ...]
    skipped: str = ""

    @property
    def identical(self) -> bool:
        return not self.tables and not self.skipped

    def finding(self, *, examples: bool = True) -> Finding | None:
        if self.skipped:
            return Finding(self.view, "position", self.skipped)
        if not self.tables:
            return None
        detail = f"rows differ from a rebuild at notification {self.position}: " + "; ".join(
            t.text(examples=examples) for t in self.tables
        )
        return Finding(self.view, "rows", detail)


# --- 1. seals ---------------------------------------------------------------------------------


def check_seals(views: Sequence[View], app: LedgerApplication) -> list[Finding]:
    """The seal check of every view (module docstring, 1); empty when all match."""
    found: list[Finding] = []
    seals = []
    for view in views:
        with view.store.transaction(commit=False) as tx:
            seals.append((view, view.store.seal(tx, app.name)))
    head = app.recorder.max_notification_id() or 0  # read after the views: they only advance
    for view, seal in seals:
        name = view.name
        if seal.alarm:
            found.append(Finding(name, "rows", seal.alarm))
        sealed = seal.position or 0
        if sealed != seal.tracked:
            found.append(
                Finding(
                    name,
                    "seal",
                    f"the tracking says notification {seal.tracked}, the seal says the last "
                    f"event applied was {sealed}: the tracking was changed outside the view",
                )
            )
        if seal.tracked > head:
            found.append(
                Finding(
                    name,
                    "position",
                    f"at notification {seal.tracked}, beyond the log's head {head}: the log "
                    "was rolled back or replaced beneath the view",
                )
            )
            continue
        if sealed == seal.tracked and sealed > 0 and seal.entry_hash is not None:
            link = chain_link(app, sealed)
            if link is None:
                found.append(
                    Finding(name, "chain", f"the log has no chain entry for notification {sealed}")
                )
            elif (link.sequence, link.entry_hash) != (seal.sequence, seal.entry_hash):
                applied = (seal.entry_hash or b"").hex()[:16]
                found.append(
                    Finding(
                        name,
                        "chain",
                        f"applied chain entry {seal.sequence} ({applied}…) at notification "
                        f"{sealed}, the log has entry {link.sequence} "
                        f"({link.entry_hash.hex()[:16]}…): the view was built from another log",
                    )
                )
    return found


# --- 2. comparison with a scratch rebuild ------------------------------------------------------


def _snapshot(tx: Tx) -> None:
    """Make the transaction one snapshot (PostgreSQL reads each statement's own otherwise)."""
    if tx.dialect == "postgres":
        tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


def _select(table: Table) -> str:
    columns = ", ".join(c for c, _ in table.columns)
    return f"SELECT {columns} FROM {table.name} ORDER BY {', '.join(table.primary_key)}"


def _row_hash(row: tuple[Any, ...]) -> bytes:
    return hashlib.sha256(canonical(list(row))).digest()


def _rows(tx: Tx, table: Table) -> Iterator[tuple[Any, ...]]:
    yield from tx.stream(_select(table))


def _summary(tx: Tx, table: Table) -> tuple[int, bytes]:
    digest = hashlib.sha256()
    count = 0
    for row in _rows(tx, table):
        digest.update(_row_hash(row))
        count += 1
    return count, digest.digest()


def _keyed(tx: Tx, table: Table) -> dict[tuple[Any, ...], bytes]:
    keys = [i for i, (c, _) in enumerate(table.columns) if c in table.primary_key]
    return {tuple(row[i] for i in keys): _row_hash(row) for row in _rows(tx, table)}


def _key_text(table: Table, key: tuple[Any, ...]) -> str:
    names = [c for c, _ in table.columns if c in table.primary_key]
    values = [v.hex() if isinstance(v, bytes) else v for v in key]
    return ", ".join(f"{n}={v}" for n, v in zip(names, values, strict=True))


def _diff(live: Tx, fresh: Tx, table: Table) -> TableDiff | None:
    live_count, live_digest = _summary(live, table)
    fresh_count, fresh_digest = _summary(fresh, table)
    if (live_count, live_digest) == (fresh_count, fresh_digest):
        return None
    if max(live_count, fresh_count) > MAX_DIFF_ROWS:
        return TableDiff(table.name, live_count, fresh_count, 0, 0, 0, ())
    have, want = _keyed(live, table), _keyed(fresh, table)
    missing = [k for k in want if k not in have]
    extra = [k for k in have if k not in want]
    changed = [k for k in want if k in have and have[k] != want[k]]
    examples = tuple(
        f"{what} {_key_text(table, k)}"
        for what, keys in (("missing", missing), ("extra", extra), ("changed", changed))
        for k in keys[:EXAMPLES]
    )[:EXAMPLES]
    return TableDiff(
        table.name, live_count, fresh_count, len(missing), len(extra), len(changed), examples
    )


def _build(
    scratch: Sequence[View],
    stops: Sequence[int],
    app: LedgerApplication,
    deadline: float,
    cancelled: Callable[[], bool],
) -> None:
    """Build every scratch view from zero to its stop, reading the log once."""

    def between() -> None:
        if cancelled():
            raise Cancelled("the comparison was stopped")
        if time.monotonic() > deadline:
            raise TimeoutError("the rebuild took longer than allowed")

    feed(scratch, app, starts=[0] * len(scratch), stops=stops, page=REBUILD_PAGE, between=between)
    for view, stop in zip(scratch, stops, strict=True):
        if stop > position(view, app):
            track_to(view, app, stop)


def compare_with_rebuild(
    live: Sequence[View],
    storage: StorageURL,
    app: LedgerApplication,
    *,
    record: bool = True,
    seconds: float = 3600.0,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[ViewComparison]:
    """Compare each live view with a scratch rebuild at the live view's own position (module
    docstring, 2). With ``record``, each outcome is stored as the view's alarm (set, or
    cleared when identical). Raises ``TimeoutError`` beyond ``seconds`` and
    :class:`Cancelled` once ``cancelled()`` is true; the scratch stores are always removed."""
    deadline = time.monotonic() + seconds
    head = app.recorder.max_notification_id() or 0
    marks = [min(position(v, app), head) for v in live]
    suffix = f"__verify{os.getpid()}"
    scratch: list[View] = []
    try:
        for view in live:
            fresh = open_view(type(view), storage, suffix=suffix)
            discard(fresh, storage)  # a store left by a killed run of this process id
            scratch.append(open_view(type(view), storage, suffix=suffix))
        _build(scratch, marks, app, deadline, cancelled)
        results = [_compare(v, s, app, head) for v, s in zip(live, scratch, strict=True)]
    finally:
        for view in scratch:
            discard(view, storage)
    if record:
        for view, result in zip(live, results, strict=True):
            finding = result.finding(examples=False)
            with view.store.transaction() as tx:
                record_alarm(tx, view.name, None if finding is None else finding.detail)
    return results


def _compare(live: View, fresh: View, app: LedgerApplication, head: int) -> ViewComparison:
    """One snapshot of ``live``; ``fresh`` caught up to the position the snapshot saw."""
    with live.store.transaction(commit=False) as tx:
        _snapshot(tx)
        at = live.store.seal(tx, app.name).tracked
        if at > head:  # the log grew since the check began (a live server): read it again
            head = app.recorder.max_notification_id() or 0
        if at > head:
            return ViewComparison(
                live.name, at, (), f"at notification {at}, beyond the log's head {head}"
            )
        built = position(fresh, app)
        if at < built:
            return ViewComparison(
                live.name,
                at,
                (),
                f"its tracking went back from {built} to {at} during the check: changed "
                "outside the view",
            )
        if at > built:
            catch_up(fresh, app, until=at)
        diffs = []
        with fresh.store.transaction(commit=False) as ftx:
            for table in live.tables:
                diff = _diff(tx, ftx, table)
                if diff is not None:
                    diffs.append(diff)
    return ViewComparison(live.name, at, tuple(diffs))


# --- watching, in a server --------------------------------------------------------------------


class ViewWatch:
    """The seal check of one process's views, at most every ``ttl`` seconds (``/readyz`` asks
    it on every call); each new finding is logged once as an error, and its clearing once."""

    def __init__(self, views: Sequence[View], app: LedgerApplication, *, ttl: float = 5.0):
        self.views = tuple(views)
        self.app = app
        self.ttl = ttl
        self._lock = threading.Lock()
        self._at = -float("inf")
        self._found: list[Finding] = []

    def findings(self, *, fresh: bool = False) -> list[Finding]:
        """The current findings (empty when every view matches). Raises what the database
        raises when it cannot be read."""
        with self._lock:
            if fresh or time.monotonic() - self._at >= self.ttl:
                found = check_seals(self.views, self.app)
                self._log(found)
                self._found, self._at = found, time.monotonic()
            return list(self._found)

    def _log(self, found: list[Finding]) -> None:
        before = {f.line() for f in self._found}
        for finding in found:
            if finding.line() not in before:
                log.error(
                    "read model %s does not match the log (%s): %s",
                    finding.view,
                    finding.check,
                    finding.detail,
                )
        still = {f.view for f in found}
        for view in sorted({f.view for f in self._found} - still):
            log.warning("read model %s matches the log again", view)
