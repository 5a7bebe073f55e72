"""The demo's child processes end with it, even when it is killed (``SIGKILL``: none of its
own clean-up runs): the anchor node it started, a real ``caseledger node serve``, receives
``SIGTERM`` from the kernel and stops; a child told to end with a process that has already
ended does not start at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from api.lifetime import PARENT_ENV, child_environment

ROOT = Path(__file__).resolve().parents[2]

PARENT = """
import sys, time
from pathlib import Path
from api.demo.anchoring import start_node
process, url = start_node(Path(sys.argv[1]))
print(process.pid, url, flush=True)
time.sleep(120)
"""


def _ended(pid: int) -> bool:
    """Gone, or a zombie no one has reaped yet (it has stopped running either way)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_anchor_node_ends_when_the_demo_is_killed(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != PARENT_ENV}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path / "node")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        pid_text, url = parent.stdout.readline().split()
        node = int(pid_text)
        assert not _ended(node)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 30
        while not _ended(node) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _ended(node), f"the node {node} ({url}) outlived the demo that started it"
    finally:
        parent.kill()
        parent.wait(10)
        try:
            if not _ended(node):
                os.kill(node, signal.SIGKILL)
        except (NameError, ProcessLookupError):
            pass


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_whose_parent_has_ended_already_does_not_start(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(10)
    env = child_environment() | {PARENT_ENV: str(gone.pid)}
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "templates"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert f"the process that started this one ({gone.pid}) has ended" in done.stderr


def test_a_child_of_a_living_parent_runs_and_does_not_pass_the_request_on() -> None:
    env = child_environment({k: v for k, v in os.environ.items() if k != PARENT_ENV})
    script = (
        "import os\n"
        "from api.cli.main import main\n"
        "main(['templates'])\n"
        f"print(os.environ.get({PARENT_ENV!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("None")
