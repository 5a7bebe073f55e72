"""A command started by another process can be told to end with it.

Layer: api (shared by the command line and the demo). ``caseledger demo`` runs ``serve`` and
the anchor node as child processes. When the demo ends normally or on Ctrl-C it stops them
itself; when it is killed (``SIGKILL``, an OOM kill, a closed terminal for ``serve``, which has
its own session) no code of it runs, and the children would keep their ports, files and
database connections. A child started with ``CASELEDGER_END_WITH_PARENT=<pid>`` asks the
kernel (Linux ``PR_SET_PDEATHSIG``) for ``SIGTERM`` when its parent ends — the graceful stop
its servers already handle — and ends at once if that parent is already gone. (``serve``'s
own workers watch their ``multiprocessing`` parent instead, ``api.serve.workers``: a process
started by ``subprocess`` has no such handle on its parent.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import MutableMapping

PARENT_ENV = "CASELEDGER_END_WITH_PARENT"
PR_SET_PDEATHSIG = 1


def child_environment(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child that ends with this process (a copy of ``environ``, by
    default this process's own). The kernel's signal follows the *thread* that starts the
    child: start it from one that lives as long as the child should (the demo's stages run on
    its main thread)."""
    env = dict(os.environ if environ is None else environ)
    env[PARENT_ENV] = str(os.getpid())
    return env


def end_with_parent(environ: MutableMapping[str, str] = os.environ) -> None:
    """Arrange ``SIGTERM`` when the parent named in ``PARENT_ENV`` ends (Linux; elsewhere a
    no-op); exit now if it has ended already. The variable is removed, so this process's own
    children (``serve``'s workers, which it stops itself) do not inherit it."""
    value = environ.pop(PARENT_ENV, None)
    if value is None or not sys.platform.startswith("linux"):
        return
    try:
        parent = int(value)
    except ValueError:
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # it ended before the request above was made
        raise SystemExit(f"caseledger: the process that started this one ({parent}) has ended")
