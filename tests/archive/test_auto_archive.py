"""Automatic archiving on completion (NH·22, FZ·21) in a real ``caseledger serve``: an ended case
is archived by the platform without an archivist, a build that fails (the anchor node not yet
up) is retried with backoff, and ``/readyz`` shows the lag until the transfer is recorded."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.serve.archiving import ARCHIVIST, AutoArchiver
from projections.archive.checker import check_package
from tests.anchors.processes import NodeProcess
from tests.api.conftest import Served, start_server, stop_server
from tests.archive.runtime_world import build_runtime_world

WAIT_SECONDS = 120.0


def _archiving(served: Served) -> dict[str, Any]:
    answer = httpx.get(f"{served.url}/readyz", timeout=30)
    assert answer.status_code == 200, answer.text
    value: dict[str, Any] = answer.json()["archiving"]
    return value


def _until(served: Served, ok: Any) -> dict[str, Any]:
    """Poll /readyz's archiving figures until ``ok(figures)`` (a generous deadline, not a
    timing assertion: the server archives in its own thread)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        figures = _archiving(served)
        if ok(figures) or time.monotonic() > deadline:
            return figures
        time.sleep(0.2)


def test_an_ended_case_is_archived_automatically_with_retries_and_a_lag_in_readyz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NH·22, FZ·21: the archiver keeps retrying while the node is down, then transfers."""
    rworld = build_runtime_world(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tmp_path / "keys")
    node = NodeProcess(tmp_path / "node")  # its port is chosen; the process starts later
    monkeypatch.setenv("CASELEDGER_NODE", node.url)
    monkeypatch.setenv("CASELEDGER_ARCHIVE_DIR", str(tmp_path / "archive"))
    monkeypatch.setenv("CASELEDGER_AUTO_ARCHIVE_INTERVAL", "0.3")
    served = start_server(rworld.db, rworld.keystore)
    try:
        failing = _until(served, lambda f: f["retrying"] >= 1)
        assert failing["automatic"] is True
        assert failing["waiting"] == 1  # the closed case; the open one is not due
        assert failing["oldest_age_seconds"] > 0
        assert rworld.closed in failing["last_error"]
        with node.start():
            done = _until(served, lambda f: f["waiting"] == 0)
            assert done["waiting"] == 0 and done["retrying"] == 0, done
            assert done["oldest_age_seconds"] is None and done["last_error"] is None
            archivist = served.client(served.token("archivist"))
            rows = {r["serial"]: r for r in archivist.get("/v1/archive/index").json()}
            assert set(rows) == {rworld.closed}
            assert rows[rworld.closed]["archivist"] == ARCHIVIST
            assert rows[rworld.closed]["transfers"] == 1
            kept = [p for p in (tmp_path / "archive" / rworld.closed).iterdir()]
            assert len(kept) == 1 and check_package(kept[0]).ok
    finally:
        stop_server(served)


def test_without_a_node_nothing_is_archived_but_the_lag_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Packages carry anchored proofs: no node, no automatic archiving (NH·22, FZ·21 lag)."""
    rworld = build_runtime_world(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tmp_path / "keys")
    monkeypatch.delenv("CASELEDGER_NODE", raising=False)
    served = start_server(rworld.db, rworld.keystore)
    try:
        figures = _until(served, lambda f: f["waiting"] == 1)
        assert figures["automatic"] is False and figures["waiting"] == 1
        assert figures["last_error"] is None
    finally:
        stop_server(served)


def test_the_backoff_doubles_from_the_interval_up_to_five_minutes() -> None:
    archiver = AutoArchiver(None, interval=2.0)  # type: ignore[arg-type]  # backoff only
    assert [archiver.backoff(n) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert archiver.backoff(20) == 300.0
