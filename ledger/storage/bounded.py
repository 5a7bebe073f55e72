"""Run a decoder of untrusted bytes in a child process with a memory and a time cap.

Layer: ledger storage (edge: POSIX processes and resource limits). Decoders of untrusted
files — ``pypdfium2``, ``Pillow`` and ``zxing-cpp`` behind ``kiosk verify``, ``pypdf`` behind
the active-content check of uploads and archives (:mod:`ledger.storage.active_content`) —
can be made to allocate gigabytes or to work for minutes by a small file, and once such a
call has started (in C, or deep in a library) it cannot be stopped from Python; a failed
allocation inside a C library may abort the process instead of raising. So each such call
runs in a forked child (the libraries are already imported, so the fork costs milliseconds,
not an interpreter start) under:

* ``RLIMIT_DATA`` — the child's writable private memory may grow by at most
  ``memory_bytes`` beyond what it inherited (Linux counts ``malloc``'d and ``mmap``'d
  anonymous memory there since 4.7), so an allocation beyond the cap fails;
* ``RLIMIT_CPU`` — at most ``cpu_seconds`` of CPU, then the kernel ends the child;
* a wall-clock deadline of ``wall_seconds``, after which the parent kills the child;
* at most :data:`MAX_CHILDREN` such children of one process at a time (a caller waits for a
  slot within its deadline), so concurrent uploads cannot multiply the cap without bound.

The child's standard output and error go to ``/dev/null`` (a C library's messages must not
break its caller's one-line answers); it sends back one JSON value through a pipe (at most
:data:`MAX_RESULT_BYTES`; JSON, not pickle, so a child subverted by its input cannot make the
parent run code). Whatever
happens to the child — a ``MemoryError``, a crash, a signal, the deadline — the parent raises
:class:`Exceeded` naming the cap, so the caller answers in one line and never hangs; an
exception the function raised comes back as :class:`Failed` with its message. Where ``fork``
is missing (not POSIX) the function runs in-process, uncapped.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import select
import signal
import threading
import time
from collections.abc import Callable
from typing import Any, Final

__all__ = ["MAX_RESULT_BYTES", "BoundedError", "Exceeded", "Failed", "run_bounded"]

MAX_RESULT_BYTES: Final = 1024 * 1024
MAX_CHILDREN: Final = max(2, os.cpu_count() or 2)
_slots = threading.BoundedSemaphore(MAX_CHILDREN)


class BoundedError(Exception):
    """Root of what :func:`run_bounded` raises."""


class Exceeded(BoundedError):
    """The bounded call used more memory or time than allowed, or its process died."""


class Failed(BoundedError):
    """The bounded call raised an exception (its type and message are the text)."""


def _data_in_use() -> int:
    """This process's writable private memory (``VmData``) in bytes; 0 if unknown."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmData:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _child(
    write: int, fn: Callable[..., Any], args: tuple[Any, ...], memory: int, cpu: int
) -> None:
    """Body of the forked child: cap, call, send, exit without running the parent's
    cleanup (``os._exit``)."""
    code = 0
    try:
        gc.freeze()  # the inherited heap is never collected here: no copy-on-write of all of it
        quiet = os.open(os.devnull, os.O_WRONLY)  # a decoder's own noise must not reach the
        os.dup2(quiet, 1)  # caller's output: what it has to say comes back as JSON
        os.dup2(quiet, 2)
        limit = _data_in_use() + memory
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU must not leave a core file
        try:
            outcome: list[Any] = ["value", fn(*args)]
        except MemoryError:
            outcome = ["memory", None]
        except Exception as exc:  # handed to the parent as text
            outcome = ["error", f"{type(exc).__name__}: {exc}"]
        try:
            payload = json.dumps(outcome).encode()
        except (TypeError, ValueError) as exc:
            payload = json.dumps(["error", f"result not JSON: {exc}"]).encode()
        view = memoryview(payload[:MAX_RESULT_BYTES])
        while view:
            view = view[os.write(write, view) :]
    except BaseException:
        code = 70
    finally:
        os._exit(code)


def run_bounded(
    fn: Callable[..., Any],
    *args: Any,
    memory_bytes: int,
    cpu_seconds: int,
    wall_seconds: float,
    what: str = "the decoder",
) -> Any:
    """``fn(*args)`` in a capped child process (module docstring); returns its value, which
    must be JSON (it comes back through ``json``). Raises :class:`Exceeded` when the child ran
    out of memory, CPU or wall time, or died; :class:`Failed` when ``fn`` raised.

    Preconditions: the arguments are already in memory, and the caller holds no lock a
    child could need (a forked child inherits only the calling thread)."""
    if not hasattr(os, "fork"):  # pragma: no cover - POSIX only
        return fn(*args)
    if not _slots.acquire(timeout=wall_seconds):
        raise Exceeded(f"{what}: {MAX_CHILDREN} others are running; try again")
    try:
        return _run(fn, args, memory_bytes, cpu_seconds, wall_seconds, what)
    finally:
        _slots.release()


def _run(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    memory_bytes: int,
    cpu_seconds: int,
    wall_seconds: float,
    what: str,
) -> Any:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which ends with os._exit
        os.close(read)
        _child(write, fn, args, memory_bytes, cpu_seconds)
    os.close(write)
    deadline = time.monotonic() + wall_seconds
    chunks: list[bytes] = []
    size = 0
    killed = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                killed = True
                break
            ready, _, _ = select.select([read], [], [], left)
            if not ready:
                continue
            chunk = os.read(read, 65536)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_RESULT_BYTES:
                os.kill(pid, signal.SIGKILL)
                break
            chunks.append(chunk)
    finally:
        os.close(read)
        _, status = os.waitpid(pid, 0)
    limits = (
        f"{memory_bytes // 2**20} MiB of memory and {cpu_seconds} s of CPU "
        f"({wall_seconds:g} s in all)"
    )
    if killed:
        raise Exceeded(f"{what} took longer than {wall_seconds:g} s: stopped")
    if os.WIFSIGNALED(status):
        cause = signal.Signals(os.WTERMSIG(status)).name
        if os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL):
            raise Exceeded(f"{what} used more than {cpu_seconds} s of CPU: stopped")
        raise Exceeded(f"{what} did not finish within {limits} ({cause})")
    try:
        kind, value = json.loads(b"".join(chunks))
    except (ValueError, TypeError):
        raise Exceeded(f"{what} did not finish within {limits}") from None
    if kind == "memory":
        raise Exceeded(f"{what} needed more than {memory_bytes // 2**20} MiB of memory")
    if kind == "error":
        raise Failed(str(value))
    return value
