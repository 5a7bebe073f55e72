"""Rules the test suite holds itself to: no test skipped in CI, no child process left running.

Layer: tests (a pytest plugin; ``tests/conftest.py`` takes its hooks and fixture, and a test
can load it alone with ``-p tests.suite_checks``).

* **No skips in CI.** With ``CASELEDGER_FORBID_SKIPS=1`` (set by ``.ci/run``) a skipped test or
  module fails instead, with the skip's reason: CI's machine has everything the README
  installs, so a skip there means a missing file, package or service that the project must
  provide (a fresh clone with nothing beside it must test itself). Expected failures
  (``xfail``) are not skips and keep their meaning.
* **No process left behind.** Every process a test starts (``caseledger serve``, the anchor
  node, a browser) must be gone when the fixtures that started it are torn down. Live
  descendants of the test process are listed from ``/proc`` (Linux) after the last test of each
  module (its module fixtures are torn down by then) and at the end of the session; one that
  a test left running is stopped and the run fails naming it and the module it appeared in.
  Processes of session-scoped fixtures still in use are not counted until the session ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

FORBID_SKIPS_ENV: Final = "CASELEDGER_FORBID_SKIPS"
GRACE_SECONDS: Final = 5.0
"""How long a process that is being stopped may take to go before it counts as left behind."""
IGNORED: Final = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")
"""Helpers Python itself keeps for the test process's lifetime (they exit with it)."""


# --- no skips in CI -----------------------------------------------------------------------------


def skips_forbidden() -> bool:
    return os.environ.get(FORBID_SKIPS_ENV) == "1"


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr: Any = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _fail_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail") and skips_forbidden():
        report.outcome = "failed"
        report.longrepr = (
            f"skipped ({_skip_reason(report)}), and {FORBID_SKIPS_ENV}=1 forbids skips: "
            "install what the README installs, or ship the missing file in the repository"
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    _fail_skip(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    report = yield
    _fail_skip(report)
    return report


# --- no child process left running ---------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    pid: int
    command: str


def _stat(pid: str) -> tuple[str, int] | None:
    """(state, parent pid) of a process, from /proc/PID/stat; None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    return fields[0], int(fields[1])


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip() or "?"


def live_descendants(root: int | None = None) -> dict[int, Proc]:
    """Every live (not zombie) descendant of ``root`` (default: this process), by pid."""
    root = os.getpid() if root is None else root
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(entry.name)
        if stat is not None and stat[0] != "Z":
            parents[int(entry.name)] = stat[1]
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found: dict[int, Proc] = {}
    todo = list(children.get(root, ()))
    while todo:
        pid = todo.pop()
        command = _command(pid)
        if not any(name in command for name in IGNORED):
            found[pid] = Proc(pid, command)
        todo.extend(children.get(pid, ()))
    return found


def _stop(procs: list[Proc]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, sig)
        deadline = time.monotonic() + GRACE_SECONDS
        while time.monotonic() < deadline and any(_alive(p.pid) for p in procs):
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    stat = _stat(str(pid))
    return stat is not None and stat[0] != "Z"


class ProcessWatch:
    """Which module each live descendant appeared in, and the ones left behind."""

    def __init__(self) -> None:
        self.known: dict[int, Proc] = dict(live_descendants())
        self.seen_in: dict[int, str] = {}
        self.current = "?"

    def record(self, where: str) -> None:
        """Note the module ``where`` each new live descendant was first seen after."""
        for pid in live_descendants():
            if pid not in self.known:
                self.seen_in.setdefault(pid, where)

    def left_behind(self) -> dict[int, Proc]:
        """Live descendants not there at the start, after ``GRACE_SECONDS`` for the ones that
        are being stopped to go."""
        deadline = time.monotonic() + GRACE_SECONDS
        while True:
            extra = {p: v for p, v in live_descendants().items() if p not in self.known}
            if not extra or time.monotonic() > deadline:
                return extra
            time.sleep(0.1)

    def describe(self, procs: dict[int, Proc]) -> str:
        return "\n".join(
            f"  pid {p.pid}, started during {self.seen_in.get(p.pid, '?')}: {p.command[:300]}"
            for p in procs.values()
        )


_WATCH: list[ProcessWatch] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    where = item.nodeid.split("::")[0]
    if _WATCH:
        _WATCH[0].current = where
    result = yield
    module = getattr(item, "module", None)
    if _WATCH and nextitem is not None and getattr(nextitem, "module", None) is not module:
        # The module's fixtures are torn down: note what still runs, and since which module.
        _WATCH[0].record(where)
    return result


@pytest.fixture(scope="session", autouse=True)
def no_child_process_left() -> Iterator[None]:
    """Session-wide: after every other fixture is torn down, no process a test started may
    still run (it is stopped, and the run fails naming it)."""
    if not Path("/proc/self/stat").exists():  # not Linux: nothing to read
        yield
        return
    watch = ProcessWatch()
    _WATCH[:] = [watch]
    try:
        yield
    finally:
        _WATCH.clear()
    watch.record(f"{watch.current} (or a session fixture)")
    left = watch.left_behind()
    if left:
        described = watch.describe(left)
        _stop(list(left.values()))
        pytest.fail(
            f"{len(left)} process(es) left running by the tests (now stopped):\n{described}",
            pytrace=False,
        )
