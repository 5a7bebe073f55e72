"""``caseledger serve``: the app of one HTTP process, with its read-model workers.

Layer: api (composition for an HTTP process). Read models follow the log in a background
thread (woken by NOTIFY on PostgreSQL, polling on SQLite), a batch per transaction;
uvicorn handles SIGTERM gracefully and the lifespan stops the workers. Nothing is lost on
restart: every view resumes from its tracked position. With ``--workers N`` the processes
are supervised by :mod:`api.serve.workers`; only worker 0 (:class:`Worker`) catches the
views up and runs the background work.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from prometheus_client import Gauge

from api.bootstrap import Runtime
from api.http.app import create_app
from api.http.context import ApiContext
from api.serve.heap import freeze_start_up_heap
from api.tokens import TokenStore
from projections.follower import BatchFollower
from projections.registry import VIEWS
from projections.runner import catch_up, open_view

log = logging.getLogger("caseledger.serve")

#: Router modules added by later capabilities: each exposes ``router`` (and may expose
#: ``install(ctx)`` to add services to the context).
ROUTER_MODULES = (
    "api.http.routes_cases",
    "api.http.routes_domain",
    "api.http.routes_privacy",
    "api.http.routes_anchoring",
    "api.http.routes_supervision",
    "api.http.routes_reads",
    "api.http.routes_archive",
    "api.http.routes_kiosk",
    "api.http.routes_tiles",
    "api.http.routes_officials",
    "api.http.routes_accountability",
    "api.http.routes_results",
)

#: Background workers added by later capabilities: ``module:function(ctx) -> stop()``.
WORKER_FACTORIES = (
    "api.serve.anchoring:start_anchoring",
    "api.serve.view_audit:start_view_audit",
    "api.serve.archiving:start_auto_archive",
)


@dataclass(frozen=True)
class Worker:
    """One HTTP worker process of ``serve --workers N``.

    ``enrol`` is a lock shared by the workers (a ``multiprocessing`` lock), so that an actor
    enrolled on first use gets one key even when two workers see its first requests.
    """

    index: int
    enrol: Any
    count: int = 1
    """How many workers serve the port (this one among them)."""

    @property
    def background(self) -> bool:
        """Whether this worker follows the log and runs the background workers."""
        return self.index == 0


def build_context(runtime: Runtime, *, catch_up_views: bool = True, workers: int = 1) -> ApiContext:
    """The context of one HTTP process of ``workers``; ``catch_up_views=False`` only opens the
    views (another process catches them up: two processes catching up at once would both try
    to record the same tracking position)."""
    tokens = TokenStore(runtime.settings.storage)
    tokens.migrate()
    ctx = ApiContext(runtime=runtime, tokens=tokens, workers=workers)
    read_storage = runtime.settings.read_storage
    if read_storage is not None:
        from api.http.read_side import ReadSide

        side = ReadSide(read_storage, runtime.settings.storage, ctx.metrics.registry)
        ctx.services["read_side"] = side
    for cls in VIEWS:
        view = open_view(cls, runtime.settings.storage)
        if catch_up_views:
            catch_up(view, runtime.ledger)
        ctx.views[cls.name] = view
    routers = []
    for name in ROUTER_MODULES:
        module = _optional(name)
        if module is None:
            continue
        if hasattr(module, "install"):
            module.install(ctx)
        routers.append(module.router)
    ctx.services["routers"] = routers
    return ctx


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


def build_app(
    runtime: Runtime, *, worker: Worker | None = None, started: Callable[[], None] | None = None
) -> FastAPI:
    """The app of one process: ``worker=None`` is the single process of ``serve``; otherwise
    only the background worker (index 0) catches up, follows the log and runs
    :data:`WORKER_FACTORIES`. ``started`` is called once the lifespan has started."""
    background = worker is None or worker.background
    ctx = build_context(
        runtime, catch_up_views=background, workers=1 if worker is None else worker.count
    )
    if worker is not None:
        _join_workers(ctx, worker)
    app = create_app(ctx)
    stops: list[Callable[[], None]] = []
    if "read_side" in ctx.services:
        stops.append(ctx.services["read_side"].close)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime.guard.start()  # every process compares and advances; close() ticks once more
        if background:
            follower = BatchFollower(list(ctx.views.values()), runtime.ledger).start()
            stops.append(follower.stop)
            for spec in WORKER_FACTORIES:
                module_name, _, function = spec.partition(":")
                module = _optional(module_name)
                if module is not None and hasattr(module, function):
                    stops.append(getattr(module, function)(ctx))
            log.info("serving with %d read models following the log", len(ctx.views))
        else:
            ctx.services["anchoring"] = _anchoring_elsewhere(runtime)
        if started is not None:
            started()
        try:
            yield
        finally:
            for stop in reversed(stops):
                with contextlib.suppress(Exception):
                    stop()
            runtime.close()

    app.router.lifespan_context = lifespan
    return app


def _join_workers(ctx: ApiContext, worker: Worker) -> None:
    """Share the enrolment lock and say who this worker is in ``/metrics`` (and how much of
    its heap is frozen)."""
    wiring = ctx.services.get("wiring")
    if wiring is not None:
        wiring.enrol = worker.enrol
    Gauge(
        "caseledger_serve_worker",
        "This HTTP worker process (metrics are per process)",
        ["worker", "pid", "background"],
        registry=ctx.metrics.registry,
    ).labels(str(worker.index), str(os.getpid()), str(worker.background).lower()).set(1)
    Gauge(
        "caseledger_serve_frozen_objects",
        "Objects of this worker's start-up heap that garbage collection skips (api.serve.heap)",
        registry=ctx.metrics.registry,
    ).set_function(gc.get_freeze_count)


class AnchoringElsewhere:
    """Anchoring as seen by a worker that does not run it: the node (for the audit trust
    policy) and the size recorded in the chain, counting a tail of nothing but anchor
    receipts as anchored (``anchors.worker.only_receipts_after``, as the anchoring worker
    does). Its errors are the other worker's."""

    last_error = ""

    def __init__(self, runtime: Runtime, url: str) -> None:
        from anchors.node.client import NodeClient

        self.client = NodeClient(url)
        self._runtime = runtime

    @property
    def anchored_size(self) -> int:
        from anchors.worker import only_receipts_after
        from api.anchoring import latest_recorded

        found = latest_recorded(self._runtime.ledger, self._runtime.settings.storage)
        size = 0 if found is None else int(found.size)
        chain = self._runtime.ledger.chain
        head = chain.chain_head()
        top = 0 if head is None else head.sequence
        return top if only_receipts_after(chain, size, top) else size


def _anchoring_elsewhere(runtime: Runtime) -> AnchoringElsewhere | None:
    from api.serve.anchoring import NODE_ENV

    url = os.environ.get(NODE_ENV, "").strip()
    return AnchoringElsewhere(runtime, url) if url else None


def run(runtime: Runtime, host: str, port: int) -> None:
    import uvicorn

    app = build_app(runtime)
    freeze_start_up_heap()
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
