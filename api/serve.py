"""``caseledger serve``: the HTTP API with its read-model workers, in one or N processes.

Layer: api (composition for the HTTP processes). Read models follow the log in a
background thread (woken by NOTIFY on PostgreSQL, polling on SQLite), a batch per
transaction; uvicorn handles SIGTERM gracefully and the lifespan stops the workers.
Nothing is lost on restart: every view resumes from its tracked position.

With ``--workers N`` (:func:`run_workers`) a parent process migrates once, binds one
listening socket and supervises N spawned HTTP worker processes that share it. Worker 0
starts first and alone catches the views up and runs the background work (the read-model
follower and :data:`WORKER_FACTORIES`); the others start once it serves and only answer
HTTP, reading the same view tables. A worker that dies stops them all (the parent exits
non-zero): restarting is the service manager's job.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import logging
import logging.config
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any, Final

from fastapi import FastAPI
from prometheus_client import Gauge

from anchors.checkpoints import CHECKPOINT_SECRET
from api.bootstrap import Runtime, open_runtime
from api.http.app import create_app
from api.http.context import ApiContext
from api.settings import Settings
from api.tokens import TokenStore
from ledger.keystore import PASSPHRASE_ENV
from projections.follower import BatchFollower
from projections.registry import VIEWS
from projections.runner import catch_up, open_view

log = logging.getLogger("caseledger.serve")

#: Router modules added by later capabilities: each exposes ``router`` (and may expose
#: ``install(ctx)`` to add services to the context).
ROUTER_MODULES = (
    "api.http.routes_cases",
    "api.http.routes_domain",
    "api.http.routes_anchoring",
    "api.http.routes_supervision",
    "api.http.routes_reads",
    "api.http.routes_archive",
    "kiosk.routes",
)

#: Background workers added by later capabilities: ``module:function(ctx) -> stop()``.
WORKER_FACTORIES = ("api.serve_anchoring:start_anchoring",)

STOP_TIMEOUT: Final = 30.0
"""Seconds the parent waits for its workers to finish gracefully before killing them."""
POLL: Final = 0.2
"""Seconds between the parent's looks at its workers and its stop flag."""


@dataclass(frozen=True)
class Worker:
    """One HTTP worker process of ``serve --workers N``.

    ``enrol`` is a lock shared by the workers (a ``multiprocessing`` lock), so that an actor
    enrolled on first use gets one key even when two workers see its first requests.
    """

    index: int
    enrol: Any

    @property
    def background(self) -> bool:
        """Whether this worker follows the log and runs the background workers."""
        return self.index == 0


def build_context(runtime: Runtime, *, catch_up_views: bool = True) -> ApiContext:
    """The context of one HTTP process; ``catch_up_views=False`` only opens the views (another
    process catches them up: two processes catching up at once would both try to record the
    same tracking position)."""
    tokens = TokenStore(runtime.settings.storage)
    tokens.migrate()
    ctx = ApiContext(runtime=runtime, tokens=tokens)
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
    ctx = build_context(runtime, catch_up_views=background)
    if worker is not None:
        _join_workers(ctx, worker)
    app = create_app(ctx)
    stops: list[Callable[[], None]] = []

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
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
    """Share the enrolment lock and say who this worker is in ``/metrics``."""
    wiring = ctx.services.get("wiring")
    if wiring is not None:
        wiring.enrol = worker.enrol
    Gauge(
        "caseledger_serve_worker",
        "This HTTP worker process (metrics are per process)",
        ["worker", "pid", "background"],
        registry=ctx.metrics.registry,
    ).labels(str(worker.index), str(os.getpid()), str(worker.background).lower()).set(1)


class AnchoringElsewhere:
    """Anchoring as seen by a worker that does not run it: the node (for the audit trust
    policy) and the size recorded in the chain, counting a tail of nothing but anchor
    receipts as anchored, as the anchoring worker does. Its errors are the other worker's."""

    last_error = ""

    def __init__(self, runtime: Runtime, url: str) -> None:
        from anchors.node.client import NodeClient

        self.client = NodeClient(url)
        self._runtime = runtime

    @property
    def anchored_size(self) -> int:
        from api.cli_anchors import latest_recorded
        from ledger.anchoring import ANCHOR_TOPICS

        found = latest_recorded(self._runtime.ledger, self._runtime.settings.storage)
        size = 0 if found is None else int(found.size)
        chain = self._runtime.ledger.chain
        head = chain.chain_head()
        top = 0 if head is None else head.sequence
        if 0 < top - size <= 2 and all(
            e.topic in ANCHOR_TOPICS for e in chain.select_entries(size + 1, top - size)
        ):
            return top
        return size


def _anchoring_elsewhere(runtime: Runtime) -> AnchoringElsewhere | None:
    from api.serve_anchoring import NODE_ENV

    url = os.environ.get(NODE_ENV, "").strip()
    return AnchoringElsewhere(runtime, url) if url else None


def run(runtime: Runtime, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(build_app(runtime), host=host, port=port, log_level="info", access_log=False)


# --- serve --workers N ---------------------------------------------------------------------


def log_config() -> dict[str, Any]:
    """uvicorn's logging, plus ``caseledger.serve`` (INFO) and the rest of ``caseledger``
    (warnings) on the same handler, in the parent and in every worker."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["caseledger"] = {"handlers": ["default"], "level": "WARNING"}
    config["loggers"]["caseledger.serve"] = {"level": "INFO"}
    return config


def run_workers(settings: Settings, host: str, port: int, workers: int) -> int:
    """Serve with ``workers`` processes on one socket until SIGTERM/SIGINT (exit 0) or until a
    worker ends by itself (the others are stopped; exit 1).

    Precondition: ``workers >= 1``. Migrates (and bootstraps) the ledger first; raises what
    :func:`~api.bootstrap.open_runtime` raises. The passphrase reaches the workers inside
    ``settings``, pickled through multiprocessing's pipe, never in argv or the environment.
    """
    import uvicorn

    if workers < 1:
        raise ValueError("workers: at least 1")
    runtime = open_runtime(settings, migrate=True)
    try:
        # Once here, not on first use in two workers at a time (each keeping its own key).
        runtime.keystore.secret(CHECKPOINT_SECRET)
    finally:
        runtime.close()
    os.environ.pop(PASSPHRASE_ENV, None)  # the workers get it in ``settings`` only
    config = uvicorn.Config(no_app, host=host, port=port, log_config=log_config())
    sock = config.bind_socket()  # logs the address, with the port chosen for port 0
    spawn = multiprocessing.get_context("spawn")
    enrol = spawn.Lock()
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping the workers", signal.Signals(signum).name)
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes: list[BaseProcess] = []
    # Kept until the end: a collected multiprocessing Event unlinks its semaphores, which a
    # worker still starting up could not open then.
    started = [spawn.Event() for _ in range(workers)]
    ended: BaseProcess | None = None
    try:
        for index in range(workers):
            process = spawn.Process(
                target=_serve_worker,
                args=(settings, Worker(index, enrol), sock, started[index]),
                name=f"caseledger-worker-{index}",
            )
            process.start()
            processes.append(process)
            log.info("worker %d started [%s]", index, process.pid)
            if index == 0:  # the others start once the views are caught up
                ended = _watch(processes, stopping, until=started[0].is_set)
                if ended is not None or stopping.is_set():
                    break
        else:
            ended = _watch(processes, stopping)
    finally:
        _stop(processes)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    if ended is not None:
        index = processes.index(ended)
        log.error(
            "worker %d [%s] ended (exit code %s): stopped the others",
            index,
            ended.pid,
            ended.exitcode,
        )
        return 1
    failed = [p for p in processes if p.exitcode != 0]
    for p in failed:
        log.error("worker %s [%s] did not stop cleanly (exit code %s)", p.name, p.pid, p.exitcode)
    return 1 if failed else 0


async def no_app(scope: Any, receive: Any, send: Any) -> None:
    """The app of the parent's uvicorn config, which only binds the socket."""
    raise RuntimeError("the parent of serve --workers serves nothing itself")


def _watch(
    processes: Sequence[BaseProcess],
    stopping: threading.Event,
    until: Callable[[], bool] | None = None,
) -> BaseProcess | None:
    """Wait until ``stopping`` is set or ``until()`` holds (None), or a worker ends (it)."""
    from multiprocessing.connection import wait

    while not stopping.is_set():
        for process in processes:
            if not process.is_alive():
                return process
        if until is not None and until():
            return None
        wait([p.sentinel for p in processes], timeout=POLL)
    return None


def _stop(processes: Sequence[BaseProcess]) -> None:
    """SIGTERM every live worker (uvicorn stops gracefully), join them, kill stragglers."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            log.error(
                "worker %s [%s] did not stop in %.0f s: killed",
                process.name,
                process.pid,
                STOP_TIMEOUT,
            )
            process.kill()
            process.join()


def _serve_worker(settings: Settings, worker: Worker, sock: socket.socket, started: Any) -> None:
    """A worker process: open the runtime, build the app, serve on the parent's socket."""
    import uvicorn

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_cleanly)
    _stop_with_parent()
    logging.config.dictConfig(log_config())
    runtime = open_runtime(settings, migrate=False)
    app = build_app(runtime, worker=worker, started=started.set)
    config = uvicorn.Config(app, log_config=log_config(), access_log=False)
    log.info(
        "worker %d [%d] serving%s",
        worker.index,
        os.getpid(),
        " (read-model follower and background workers)" if worker.background else "",
    )
    uvicorn.Server(config).run(sockets=[sock])


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    """Outside uvicorn's own handlers (before it serves, or when it re-raises the signal it
    stopped for): end the worker with status 0."""
    raise SystemExit(0)


def _stop_with_parent() -> None:
    """Stop this worker gracefully if the parent process dies (e.g. SIGKILL)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
