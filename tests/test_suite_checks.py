"""The suite's own rules (tests/suite_checks.py), each shown on a small real pytest run: a skip
fails under ``CASELEDGER_FORBID_SKIPS=1``, and a test that leaves a process running fails the
run, naming it, and the process is stopped. Also: a served world whose set-up fails half way
leaves no node running (the leak ``tests/api/reads_world.py`` once had)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.reads_world import reads_world_in
from tests.suite_checks import FORBID_SKIPS_ENV, live_descendants

ROOT = Path(__file__).resolve().parents[1]

SKIPPING = """
import pytest

def test_runs():
    pass

def test_needs_a_file():
    pytest.skip("conformance vectors not found at tests/vectors")
"""

SKIPPING_MODULE = """
import pytest

pytest.importorskip("a_module_nobody_installed")

def test_never_collected():
    pass
"""

LEAKING = """
import subprocess
from pathlib import Path

def test_starts_a_process_and_forgets_it(tmp_path):
    process = subprocess.Popen(["sleep", "600"])
    Path({pid_file!r}).write_text(str(process.pid))

def test_a_later_one():
    pass
"""


def run_pytest(directory: Path, source: str, *, forbid: bool) -> subprocess.CompletedProcess[str]:
    """pytest with only the suite's rules loaded (``-p tests.suite_checks``) on one file."""
    (directory / "test_probe.py").write_text(source, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != FORBID_SKIPS_ENV}
    env["PYTHONPATH"] = str(ROOT)
    if forbid:
        env[FORBID_SKIPS_ENV] = "1"
    options = ["-q", "-rs", "-p", "no:cacheprovider", "-p", "tests.suite_checks"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *options, "test_probe.py"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_skip_is_reported_as_a_skip_by_default(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, SKIPPING, forbid=False)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout


def test_a_skip_fails_the_run_when_skips_are_forbidden_and_says_why(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, SKIPPING, forbid=True)
    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 passed" in result.stdout
    assert "conformance vectors not found at tests/vectors" in result.stdout
    assert f"{FORBID_SKIPS_ENV}=1 forbids skips" in result.stdout


def test_a_module_skipped_at_collection_fails_too(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, SKIPPING_MODULE, forbid=True)
    assert result.returncode != 0, result.stdout
    assert "a_module_nobody_installed" in result.stdout
    assert "skipped" not in result.stdout.splitlines()[-1]


def test_a_process_left_running_fails_the_run_names_it_and_is_stopped(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    result = run_pytest(tmp_path, LEAKING.format(pid_file=str(pid_file)), forbid=False)
    assert result.returncode == 1, result.stdout
    assert "2 passed, 1 error" in result.stdout
    pid = int(pid_file.read_text())
    assert f"pid {pid}, started during test_probe.py" in result.stdout
    assert "sleep 600" in result.stdout
    state = Path(f"/proc/{pid}/stat")
    assert not state.exists() or state.read_text().rpartition(")")[2].split()[0] == "Z"


def test_a_served_world_whose_set_up_fails_leaves_no_node_running(tmp_path: Path) -> None:
    (tmp_path / "ledger.sqlite3").mkdir()  # serve cannot open its ledger: set-up fails
    before = set(live_descendants())
    world = reads_world_in("sqlite", tmp_path)
    with pytest.raises(RuntimeError, match="serve exited"):
        next(world)
    assert (tmp_path / "node" / "keys.json").exists()  # the node did start first
    left = {p.pid: p.command for p in live_descendants().values() if p.pid not in before}
    assert left == {}
