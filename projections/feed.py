"""Read the log once and hand every view its events: the loop under catch-up, rebuild and
the comparison with a scratch rebuild.

Layer: projections. DESIGN invariant 4: each view writes its rows and its position (and
seal) in one transaction per batch (``View.process_batch``). Reading and decoding a
notification costs more than most handlers, so however many views are fed, each page of the
log is read and decoded once, and each view gets the events of its topics between its own
position and its own stop.
"""

from __future__ import annotations

import functools
import gc
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from eventsourcing.persistence import Tracking

from ledger.services.application import LedgerApplication
from projections.links import chain_link
from projections.store import ChainLink, ViewTampered
from projections.view import View, position

__all__ = ["PAGE", "Fed", "catch_up", "catch_up_all", "collector_paused", "feed", "track_to"]

PAGE = 500
"""Notifications read at a time by a live view's catch-up (a rebuild reads more)."""


@dataclass
class Fed:
    """What one pass applied: events per view, log events read, and where the time went."""

    events: list[int]
    seconds: list[float]
    log_events: int = 0
    decode_seconds: float = 0.0
    positions: list[int] = field(default_factory=list)
    refused: dict[int, ViewTampered] = field(default_factory=dict)
    """Views (by index) left out of the pass because their tracking was changed outside them
    (only when the caller asked for that, ``feed(isolate=True)``), and why."""


def feed(
    views: Sequence[View],
    app: LedgerApplication,
    *,
    starts: Sequence[int],
    stops: Sequence[int],
    page: int,
    between: Callable[[], None] = lambda: None,
    isolate: bool = False,
) -> Fed:
    """Apply to each view of ``views`` the log after ``starts[i]`` up to ``stops[i]`` (its
    tracked position and where to stop), reading each page of ``page`` notifications once.

    ``between`` runs before each page (a caller's cancellation or deadline check raises
    there). A view's topics that the log does not hold leave its position behind: the caller
    tracks the stop (:func:`track_to`). A view whose tracking was changed outside it raises
    :class:`~projections.store.ViewTampered`; with ``isolate`` it is left out of the rest of
    the pass instead (``Fed.refused``) and the others carry on."""
    fed = Fed([0] * len(views), [0.0] * len(views), positions=list(starts))
    links: dict[int, ChainLink | None] = {}  # the chain entry at a position, read once
    last = max(stops, default=0)
    topics = sorted({t for v in views for t in v.topics})
    start = min(starts, default=0)
    if not views or start >= last:
        return fed
    name = app.name
    while True:
        between()
        with collector_paused():
            began = time.perf_counter()
            notifications = app.recorder.select_notifications(
                start=start, limit=page, stop=last, topics=topics, inclusive_of_start=False
            )
            to_event = app.mapper.to_domain_event
            topics_ = [n.topic for n in notifications]
            ids = [n.id for n in notifications]
            events = [to_event(n) for n in notifications]
            fed.decode_seconds += time.perf_counter() - began
            fed.log_events += len(events)
            for i, view in enumerate(views):
                if i in fed.refused:
                    continue
                began = time.perf_counter()
                handled = view.handlers
                lo = bisect_right(ids, fed.positions[i])
                hi = bisect_right(ids, stops[i])
                mine = [k for k in range(lo, hi) if topics_[k] in handled]
                if mine:
                    last_id = ids[mine[-1]]
                    if last_id not in links:
                        links[last_id] = chain_link(app, last_id)
                    batch = functools.partial(
                        view.apply_batch,
                        [events[k] for k in mine],
                        Tracking(name, last_id),
                        links[last_id],
                        topics=[topics_[k] for k in mine],
                    )
                    if not _unless_tampered(batch, fed.refused, i, isolate):
                        continue
                    fed.positions[i] = last_id
                    fed.events[i] += len(mine)
                fed.seconds[i] += time.perf_counter() - began
        if len(notifications) < page:
            return fed
        start = notifications[-1].id


def _unless_tampered(
    write: Callable[[], None], refused: dict[int, ViewTampered], i: int, isolate: bool
) -> bool:
    """Run ``write`` (view ``i``'s batch or tracking); False when the view's tracking was
    changed outside it and ``isolate`` leaves it behind (recorded in ``refused``), which
    otherwise raises."""
    try:
        write()
    except ViewTampered as exc:
        if not isolate:
            raise
        refused[i] = exc
        return False
    return True


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with Python's cyclic garbage collector off, and on again after it (if it
    was on). A page holds thousands of decoded events alive while the views apply it, and
    each collection the allocations trigger would walk them all again: on a rebuild that was
    an eighth of the time (BENCHMARKS, issue 18 goal 3). The collector runs once after the
    page instead. It is off for the whole process: in ``serve`` other threads' cyclic garbage
    waits for the end of a page (500 events following the log) to be collected."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def track_to(view: View, app: LedgerApplication, at: int, link: ChainLink | None = None) -> None:
    """Record that ``view`` has read the log up to ``at`` (events of other topics moved the
    log on): its tracking and its seal (``link``: the chain entry at ``at``, read here
    unless the caller has read it), in one transaction."""
    if link is None:
        link = chain_link(app, at)
    with view.store.transaction() as tx:
        view.store.track(tx, Tracking(app.name, at), link)


def catch_up(
    view: View, app: LedgerApplication, *, until: int | None = None, page: int = PAGE
) -> int:
    """Process every notification after the view's position up to the log's head as read
    now (or ``until``); returns how many were applied. Raises
    :class:`~projections.store.ViewTampered` when the view's tracking was changed outside it."""
    return catch_up_all([view], app, until=until, page=page).events[0]


def catch_up_all(
    views: Sequence[View],
    app: LedgerApplication,
    *,
    until: int | None = None,
    page: int = PAGE,
    isolate: bool = False,
) -> Fed:
    """:func:`catch_up` of every view of ``views`` from one read of the log (each page read
    and decoded once for all of them, as a rebuild does): what the live follower runs each
    round. ``isolate``: a view whose tracking was changed outside it is left behind
    (``Fed.refused``) while the others catch up, instead of raising."""
    head = app.recorder.max_notification_id() or 0
    if until is not None:
        head = min(head, until)
    starts = [position(view, app) for view in views]
    behind = [i for i, at in enumerate(starts) if at < head]
    fed = feed(
        [views[i] for i in behind],
        app,
        starts=[starts[i] for i in behind],
        stops=[head] * len(behind),
        page=page,
        isolate=isolate,
    )
    out = Fed([0] * len(views), [0.0] * len(views), fed.log_events, fed.decode_seconds, starts)
    link = functools.cache(lambda: chain_link(app, head))  # read once, if a view needs it
    for j, i in enumerate(behind):
        out.events[i], out.seconds[i], out.positions[i] = (
            fed.events[j],
            fed.seconds[j],
            fed.positions[j],
        )
        if j in fed.refused:
            out.refused[i] = fed.refused[j]
            continue
        if head > fed.positions[j] and views[i].topics:  # other topics moved the log on
            tracked = functools.partial(track_to, views[i], app, head, link())
            if not _unless_tampered(tracked, out.refused, i, isolate):
                continue
            out.positions[i] = head
    return out
