"""Fill a rebuild's fresh views in several processes: each reads and decodes the log itself
and builds its share of the views, so the machine's cores share the handlers' work.

Layer: projections. The fresh stores belong to the caller (``projections.replay`` creates
them before and swaps them in after, one transaction per view, so serving never sees a view
half built); a worker only fills its views up to the head the caller read and tracks and
seals them there, as a single-process build does. Every process decodes the whole log (a
page decoded costs less than handing decoded events to another process), so the processes
together spend more CPU than one; what they save is wall-clock time on a machine with a free
core. Workers are forked: they inherit the event classes and topic aliases imported here,
and open connections of their own (they never use the parent's).
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from ledger.services.application import LedgerApplication
from ledger.storage.urls import StorageURL
from projections.feed import Fed, feed, track_to
from projections.view import View, open_view, position

__all__ = ["build", "build_in_processes", "shares"]


def build(
    views: Sequence[View],
    app: LedgerApplication,
    head: int,
    page: int,
    between: Callable[[], None] = lambda: None,
) -> Fed:
    """Apply the log up to ``head`` to empty ``views`` in one pass, then track each at
    ``head`` (events of topics it does not handle moved the log on)."""
    fed = feed(views, app, starts=[0] * len(views), stops=[head] * len(views), page=page,
               between=between)  # fmt: skip
    for view in views:
        if head > position(view, app):
            track_to(view, app, head)
    return fed


def shares(
    classes: Sequence[type[View]], app: LedgerApplication, head: int, page: int, processes: int
) -> list[list[int]]:
    """The indices of ``classes`` each process builds (the first: the caller's own),
    balanced by the events each view handles in the log's first page (largest first, each
    to the least loaded process)."""
    sample = app.recorder.select_notifications(
        start=0, limit=page, stop=head, inclusive_of_start=False
    )
    topics = Counter(n.topic for n in sample)
    weight = [1 + sum(topics[t] for t in cls.handlers) for cls in classes]
    groups: list[list[int]] = [[] for _ in range(max(1, min(processes, len(classes))))]
    loads = [0] * len(groups)
    for i in sorted(range(len(classes)), key=lambda i: -weight[i]):
        least = loads.index(min(loads))
        groups[least].append(i)
        loads[least] += weight[i]
    return [sorted(g) for g in groups if g]


def build_in_processes(
    classes: Sequence[type[View]],
    views: Sequence[View],
    storage: StorageURL,
    app: LedgerApplication,
    *,
    head: int,
    page: int,
    processes: int,
    suffix: str,
    between: Callable[[], None] = lambda: None,
) -> Fed:
    """:func:`build` of ``views`` (the fresh stores of ``classes``, opened with ``suffix``)
    shared among ``processes`` processes, this one included (``between`` runs before each
    page of this process's pass only). Events and handler seconds are per view; the log
    events are one pass's, the decode seconds all processes'. Raises ``RuntimeError`` with
    a worker's traceback when one fails (the caller discards the fresh stores)."""
    groups = shares(classes, app, head, page, processes)
    context = multiprocessing.get_context("fork")
    workers: list[tuple[Any, Connection, list[int]]] = []
    try:
        for group in groups[1:]:
            receive, send = context.Pipe(duplex=False)
            worker = context.Process(
                target=_work,
                args=(
                    [classes[i] for i in group],
                    storage,
                    dict(app.env),
                    head,
                    page,
                    suffix,
                    send,
                ),
                daemon=True,
            )
            worker.start()
            send.close()
            workers.append((worker, receive, group))
        mine = build([views[i] for i in groups[0]], app, head, page, between)
        parts = [(groups[0], mine)]
        for worker, receive, group in workers:
            try:
                outcome: object = receive.recv()
            except EOFError:
                outcome = "it ended without a result"
            worker.join()
            if not isinstance(outcome, Fed):
                raise RuntimeError(f"a rebuild worker failed:\n{outcome}")
            parts.append((group, outcome))
    finally:
        for worker, receive, _ in workers:
            if worker.is_alive():
                worker.terminate()
            worker.join()
            receive.close()
    fed = Fed([0] * len(classes), [0.0] * len(classes))
    for group, part in parts:
        for k, i in enumerate(group):
            fed.events[i] = part.events[k]
            fed.seconds[i] = part.seconds[k]
        fed.log_events = max(fed.log_events, part.log_events)
        fed.decode_seconds += part.decode_seconds
    return fed


def _work(
    classes: Sequence[type[View]],
    storage: StorageURL,
    env: dict[str, str],
    head: int,
    page: int,
    suffix: str,
    send: Connection,
) -> None:
    """A worker: its own ledger application and view stores, one :func:`build`."""
    try:
        app = LedgerApplication(env=env)
        try:
            views = [open_view(cls, storage, suffix=suffix) for cls in classes]
            fed = build(views, app, head, page)
            for view in views:
                view.store.datastore.close()  # type: ignore[attr-defined]
        finally:
            app.close()
        send.send(fed)
    except BaseException:  # the parent raises it, with this traceback
        send.send(traceback.format_exc())
    finally:
        send.close()
