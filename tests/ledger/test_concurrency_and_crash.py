"""Many writers at once, and a writer killed mid-command (DESIGN invariant 1).

Real processes against a real SQLite file and the real PostgreSQL server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from ledger.chain.verification import verify_chain
from ledger.services.application import open_ledger
from ledger.storage.urls import parse_storage_url
from tests.helpers import new_ledger, run_sql

ROOT = Path(__file__).resolve().parents[2]
WRITER_APP = "caseledger-test-killed-writer"
pytestmark = pytest.mark.slow


def _writer(
    url: str, seed: bytes, threads: int, commands: int, events: int
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.ledger.writer_process",
            url,
            seed.hex(),
            str(threads),
            str(commands),
            str(events),
        ],
        cwd=ROOT,
        env={**os.environ, "PGAPPNAME": WRITER_APP},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_dead_writer(url: str) -> None:
    """A killed client's last pipelined transaction may still commit on the server after
    the process is gone: wait until its PostgreSQL backends have ended."""
    if parse_storage_url(url).is_sqlite:
        return
    for _ in range(600):
        live = run_sql(
            url, "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = ?", (WRITER_APP,)
        )
        if live[0][0] == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the killed writer's backends never ended")


def test_four_processes_of_several_threads_leave_one_dense_verified_chain(storage_url: str) -> None:
    led = new_ledger(storage_url)
    procs = [_writer(storage_url, led.department.seed, 3, 15, 4) for _ in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    report = verify_chain(led.app.chain)
    assert report.ok, report.failure
    # 2 key commands + 4 processes × 3 threads × 15 commands × 4 events
    assert report.head_sequence == 2 + 4 * 3 * 15 * 4
    assert report.commands == 2 + 4 * 3 * 15
    rows = run_sql(storage_url, "SELECT COUNT(*), MIN(sequence), MAX(sequence) FROM chain_entries")
    assert rows[0] == (report.head_sequence, 1, report.head_sequence)


def test_a_writer_killed_mid_batch_leaves_no_partial_command(storage_url: str) -> None:
    led = new_ledger(storage_url)
    events_per_command = 400
    proc = _writer(storage_url, led.department.seed, 2, 1000, events_per_command)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # let some commands land, then kill mid-flight
        head = led.app.chain.chain_head()
        if head is not None and head.sequence > 2 + 3 * events_per_command:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    _wait_for_dead_writer(storage_url)
    led.app.close()
    reopened = open_ledger(storage_url)
    report = verify_chain(reopened.chain)
    assert report.ok, report.failure
    assert (report.head_sequence - 2) % events_per_command == 0
    sizes = Counter(
        row[0]
        for row in run_sql(
            storage_url, "SELECT originator_id FROM chain_entries WHERE sequence > 2"
        )
    )
    assert set(sizes.values()) == {events_per_command}  # every note whole, none half-written
    events = run_sql(storage_url, "SELECT COUNT(*) FROM stored_events")[0][0]
    assert events == report.head_sequence
