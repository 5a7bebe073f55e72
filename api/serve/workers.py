"""``caseledger serve --workers N``: N HTTP worker processes on one port.

Layer: api (process supervision). The parent migrates once, binds the port and spawns the
workers. Each worker listens on a socket of its own bound to that port with ``SO_REUSEPORT``,
so the kernel spreads new connections among the workers: with one socket shared by all, the
first worker to wake accepted every connection waiting (asyncio accepts up to its backlog at
once), and a burst of keep-alive clients stayed on one worker. Worker 0 starts first and alone
catches the views up and runs the background work (the read-model follower and
:data:`~api.serve.app.WORKER_FACTORIES`); the others start once it serves and only answer HTTP,
reading the same view tables. SIGTERM/SIGINT stop them all gracefully; a worker that dies
stops them all too (the parent exits non-zero): restarting is the service manager's job.
"""

from __future__ import annotations

import copy
import logging
import logging.config
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any, Final

from anchors.checkpoints import CHECKPOINT_SECRET
from api.bootstrap import open_runtime
from api.serve.app import Worker, build_app
from api.serve.heap import freeze_start_up_heap
from api.settings import Settings
from ledger.storage.keystore import PASSPHRASE_ENV

log = logging.getLogger("caseledger.serve")

STOP_TIMEOUT: Final = 30.0
"""Seconds the parent waits for its workers to finish gracefully before killing them."""
POLL: Final = 0.2
"""Seconds between the parent's looks at its workers and its stop flag."""


def log_config() -> dict[str, Any]:
    """uvicorn's logging, plus ``caseledger.serve`` (INFO) and the rest of ``caseledger``
    (warnings) on the same handler, in the parent and in every worker."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["caseledger"] = {"handlers": ["default"], "level": "WARNING"}
    config["loggers"]["caseledger.serve"] = {"level": "INFO"}
    return config


def run_workers(settings: Settings, host: str, port: int, workers: int) -> int:
    """Serve with ``workers`` processes on one port until SIGTERM/SIGINT (exit 0) or until a
    worker ends by itself (the others are stopped; exit 1).

    Precondition: ``workers >= 1``. Migrates (and bootstraps) the ledger first; raises what
    :func:`~api.bootstrap.open_runtime` raises. The passphrase reaches the workers inside
    ``settings``, pickled through multiprocessing's pipe, never in argv or the environment.
    """
    if workers < 1:
        raise ValueError("workers: at least 1")
    runtime = open_runtime(settings, migrate=True, fail_closed=False)
    try:
        # Once here, not on first use in two workers at a time (each keeping its own key).
        runtime.keystore.secret(CHECKPOINT_SECRET)
    finally:
        runtime.close()
    os.environ.pop(PASSPHRASE_ENV, None)  # the workers get it in ``settings`` only
    logging.config.dictConfig(log_config())
    try:
        sock = bind_port(host, port)  # the port chosen for port 0, held until the end
    except OSError as exc:  # e.g. the port is taken: said as such, nothing started
        log.error("cannot bind %s port %d: %s", host, port, exc.strerror or exc)
        return 1
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
                args=(
                    settings,
                    Worker(index, enrol, workers),
                    sock.getsockname()[:2],
                    started[index],
                ),
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
    # A worker still starting (importing, before its handler is set) ends on the SIGTERM
    # itself: it had served nothing, so it stopped as asked.
    failed = [p for p in processes if p.exitcode not in (0, -signal.SIGTERM)]
    for p in failed:
        log.error("worker %s [%s] did not stop cleanly (exit code %s)", p.name, p.pid, p.exitcode)
    return 1 if failed else 0


def reusable_socket(host: str, port: int, *, reuse_address: bool = True) -> socket.socket:
    """A TCP socket bound to ``(host, port)`` with ``SO_REUSEPORT``: each worker's own, which
    listens, and the parent's (:func:`bind_port`), which holds the port and never listens
    (the kernel gives connections to listening sockets only). Only processes of the same user
    can join the port."""
    sock = _tcp_socket(host)
    try:
        if reuse_address:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _tcp_socket(host: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)


def _claim(host: str, port: int) -> int:
    """Bind ``(host, port)`` without ``SO_REUSEPORT`` and let go: the port itself (``0``:
    the one the kernel chose), or ``OSError`` (``EADDRINUSE``) if any socket holds it — another
    server's ``SO_REUSEPORT`` group included, which a port-sharing socket of the same user could
    otherwise join. ``SO_REUSEADDR`` lets it past connections of an earlier run in TIME_WAIT."""
    with _tcp_socket(host) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        return int(probe.getsockname()[1])


def bind_port(host: str, port: int) -> socket.socket:
    """The parent's hold on the port, for this server's workers only: claimed alone first
    (:func:`_claim`: a taken port refuses), then held with ``SO_REUSEPORT`` and without
    ``SO_REUSEADDR``, so the workers' sockets join it and a second server's claim fails
    (a socket without ``SO_REUSEPORT`` may share a port only when both set ``SO_REUSEADDR``).
    Between the claim and the hold the port is free for microseconds. Logged as uvicorn logs
    the address it serves on, with the port chosen for port 0."""
    sock = reusable_socket(host, _claim(host, port), reuse_address=False)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    logging.getLogger("uvicorn.error").info(
        "Uvicorn running on http://%s:%d (Press CTRL+C to quit)", shown, bound
    )
    return sock


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


def _serve_worker(
    settings: Settings, worker: Worker, address: tuple[str, int], started: Any
) -> None:
    """A worker process: open the runtime, build the app, serve on its own socket bound to
    the parent's port (:func:`reusable_socket`)."""
    import uvicorn

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_cleanly)
    _stop_with_parent()
    logging.config.dictConfig(log_config())
    runtime = open_runtime(settings, migrate=False, fail_closed=False)
    app = build_app(runtime, worker=worker, started=started.set)
    config = uvicorn.Config(app, log_config=log_config(), access_log=False)
    freeze_start_up_heap()
    log.info(
        "worker %d [%d] serving%s",
        worker.index,
        os.getpid(),
        " (read-model follower and background workers)" if worker.background else "",
    )
    sock = reusable_socket(*address)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


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
