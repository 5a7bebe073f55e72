"""``serve`` notices a tampered read model (issue 15), on SQLite files and PostgreSQL: rows
deleted with raw SQL while it runs are found by its periodic comparison with a rebuild, rows
changed while it was stopped by the comparison after start, a moved tracking row by the seal
check; ``/readyz`` then answers 503 naming the view, and the alarm is in the log."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import Served, start_server, stop_server
from tests.projections.test_view_tamper import tracking_table, view_sql


def _ready(served: Served) -> httpx.Response:
    return httpx.get(f"{served.url}/readyz", timeout=10)


def _wait(served: Served, status: int, seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        r = _ready(served)
        if r.status_code == status:
            return dict(r.json())
        if time.monotonic() > deadline:
            raise AssertionError(f"/readyz stayed {r.status_code}: {r.text}")
        time.sleep(0.25)


def _serve(url: str, keys: Path, monkeypatch: pytest.MonkeyPatch, every: str) -> Served:
    monkeypatch.setenv("CASELEDGER_VIEW_AUDIT_DELAY", "0.2")
    monkeypatch.setenv("CASELEDGER_VIEW_AUDIT_SECONDS", every)
    return start_server(url, keys)


def _stderr(served: Served) -> str:
    stop_server(served)
    return served.process.stderr.read().decode() if served.process.stderr else ""


def test_views_tampered_while_serving_take_it_out_of_service(
    storage_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = _serve(storage_url, tmp_path / "keys", monkeypatch, every="1")
    try:
        assert _wait(served, 200)["status"] == "ready"
        view_sql(
            storage_url,
            "progress",
            f"UPDATE {tracking_table(storage_url, 'progress')} SET notification_id = 0 "
            "WHERE application_name != '__migration__'",
        )
        alarms = _wait(served, 503)["alarms"]  # the seal check, within its cache's seconds
        assert {"view": "progress", "check": "seal"} in [
            {k: a[k] for k in ("view", "check")} for a in alarms
        ]

        assert view_sql(storage_url, "keys", "SELECT COUNT(*) FROM view_keys")[0][0] > 0
        view_sql(storage_url, "keys", "DELETE FROM view_keys")
        deadline = time.monotonic() + 60
        while "keys" not in [a["view"] for a in _ready(served).json()["alarms"]]:
            assert time.monotonic() < deadline, "the periodic comparison did not find it"
            time.sleep(0.25)
        body = _ready(served).json()
        assert body["status"] == "unavailable" and body["reason"] == "views"
        assert "view_keys" in body["detail"] and "missing" in body["detail"]
    finally:
        log = _stderr(served)
    assert "read model keys does not match the log" in log
    assert "read model progress does not match the log" in log


def test_a_view_changed_while_stopped_is_found_after_start(
    storage_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _serve(storage_url, tmp_path / "keys", monkeypatch, every="0")
    try:
        _wait(first, 200)
    finally:
        stop_server(first)
    view_sql(storage_url, "keys", "UPDATE view_keys SET actor = 'dept:FORGED'")
    again = _serve(storage_url, tmp_path / "keys", monkeypatch, every="0")
    try:
        body = _wait(again, 503)
        assert [a["view"] for a in body["alarms"]] == ["keys"]
        assert "changed" in body["alarms"][0]["detail"]
    finally:
        stop_server(again)
