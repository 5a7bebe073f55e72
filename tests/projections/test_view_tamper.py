"""Read models that notice (issue 15), on SQLite files and PostgreSQL: a view changed by hand
with raw SQL — its tracking row moved, its rows deleted or altered, its seal rewritten, or left
ahead of the log — is found by the seal check or by the comparison with a scratch rebuild,
names the view and what differs, refuses further writes when its tracking was moved, raises an
alarm every reader sees, and is repaired by a reset."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ledger.storage.urls import parse_storage_url
from projections.feed import catch_up_all
from projections.follower import BatchFollower
from projections.keys import KeysView
from projections.progress import ProgressView
from projections.results import ResultsView
from projections.runner import catch_up, open_view, position, reset, status
from projections.store import ViewTampered, table_digest, view_directory
from projections.verify import check_seals, compare_with_rebuild
from projections.view import View
from tests.api.conftest import ROOT
from tests.helpers import run_sql
from tests.ledger.case_world import World, build_world


@pytest.fixture
def world(storage_url: str, tmp_path: Path) -> World:
    w = build_world(storage_url, tmp_path)
    w.submit_food()
    return w


def view_sql(url: str, view: str, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Raw SQL on a view's own store, as an operator with database access would run it."""
    storage = parse_storage_url(url)
    if storage.is_sqlite:
        with sqlite3.connect(view_directory(storage) / f"{view}.sqlite3") as conn:
            rows = conn.execute(sql, params).fetchall()
            conn.commit()
            return rows
    return run_sql(url, sql, params)


def tracking_table(url: str, view: str) -> str:
    return "tracking" if parse_storage_url(url).is_sqlite else f"view_{view}_tracking"


def move_tracking(w: World, view: str, to: int) -> None:
    view_sql(
        w.url,
        view,
        f"UPDATE {tracking_table(w.url, view)} SET notification_id = ? WHERE application_name = ?",
        (to, w.ledger.name),
    )


def opened(w: World, *classes: type[View]) -> list[Any]:
    views = [open_view(cls, parse_storage_url(w.url)) for cls in classes]
    for view in views:
        catch_up(view, w.ledger)
    return views


def head(w: World) -> int:
    return w.ledger.recorder.max_notification_id() or 0


def test_untouched_views_match_the_log_by_seal_and_by_rebuild(world: World) -> None:
    views = opened(world, ProgressView, KeysView)
    assert check_seals(views, world.ledger) == []
    results = compare_with_rebuild(views, parse_storage_url(world.url), world.ledger)
    assert [r.identical for r in results] == [True, True]
    assert all(r.position == head(world) for r in results)


def test_a_moved_tracking_row_is_found_and_the_view_applies_nothing_more(world: World) -> None:
    (progress,) = opened(world, ProgressView)  # the view holds the one case there is
    for _ in range(3):
        world.submit_food()
    move_tracking(world, "progress", head(world))  # ... and now claims to be at the head
    assert status([progress], world.ledger)[0].lag == 0  # what status alone showed: lag 0

    (seal,) = check_seals([progress], world.ledger)
    assert seal.view == "progress" and seal.check == "seal"
    assert f"notification {head(world)}" in seal.detail

    (result,) = compare_with_rebuild([progress], parse_storage_url(world.url), world.ledger)
    finding = result.finding()
    assert finding is not None and finding.view == "progress"
    assert "view_progress_cases: 1 rows, the log gives 4 — 3 missing" in finding.detail

    before = table_digest(progress.store, progress.store.tables)
    world.submit_food()
    with pytest.raises(ViewTampered, match="tracking was changed outside the view"):
        catch_up(progress, world.ledger)
    assert table_digest(progress.store, progress.store.tables) == before


def test_a_tracking_row_moved_back_is_found_before_anything_is_applied_twice(
    world: World,
) -> None:
    (progress,) = opened(world, ProgressView)
    world.submit_food()
    catch_up(progress, world.ledger)
    move_tracking(world, "progress", 1)
    assert [f.check for f in check_seals([progress], world.ledger)] == ["seal"]
    with pytest.raises(ViewTampered):
        catch_up(progress, world.ledger)


def test_deleted_and_altered_rows_are_found_and_alarm_every_reader(world: World) -> None:
    world.submit_food()
    world.submit_food()
    progress, keys = opened(world, ProgressView, KeysView)
    cases = view_sql(world.url, "progress", "SELECT case_id FROM view_progress_cases")
    assert len(cases) == 3
    view_sql(world.url, "progress", "DELETE FROM view_progress_cases WHERE case_id = ?", cases[0])
    view_sql(
        world.url,
        "progress",
        "UPDATE view_progress_cases SET state = 'closed' WHERE case_id = ?",
        cases[1],
    )
    assert check_seals([progress, keys], world.ledger) == []  # rows alone: the seal holds

    results = compare_with_rebuild([progress, keys], parse_storage_url(world.url), world.ledger)
    assert [r.identical for r in results] == [False, True]
    (diff,) = results[0].tables
    assert (diff.table, diff.missing, diff.extra, diff.changed) == ("view_progress_cases", 1, 0, 1)
    assert diff.live_rows == 2 and diff.rebuilt_rows == 3

    again = open_view(ProgressView, parse_storage_url(world.url))  # another process's view
    (alarm,) = check_seals([again], world.ledger)
    assert alarm.check == "rows" and "1 missing, 1 changed" in alarm.detail
    assert str(cases[0][0]) not in alarm.detail  # the recorded alarm names no rows

    reset(ProgressView, parse_storage_url(world.url), world.ledger)
    repaired = open_view(ProgressView, parse_storage_url(world.url))
    assert check_seals([repaired], world.ledger) == []
    assert compare_with_rebuild([repaired], parse_storage_url(world.url), world.ledger)[0].identical


def test_a_view_ahead_of_the_log_is_found(world: World) -> None:
    (keys,) = opened(world, KeysView)
    beyond = head(world) + 10
    move_tracking(world, "keys", beyond)
    view_sql(world.url, "keys", "UPDATE view_seals SET position = ? WHERE view = 'keys'", (beyond,))
    (finding,) = check_seals([keys], world.ledger)
    assert finding.check == "position" and "beyond the log's head" in finding.detail
    (result,) = compare_with_rebuild([keys], parse_storage_url(world.url), world.ledger)
    assert not result.identical and "beyond the log's head" in result.skipped


def test_a_view_sealed_on_another_log_is_found(world: World) -> None:
    (keys,) = opened(world, KeysView)
    view_sql(
        world.url, "keys", "UPDATE view_seals SET entry_hash = ? WHERE view = 'keys'", (bytes(32),)
    )
    (finding,) = check_seals([keys], world.ledger)
    assert finding.check == "chain" and "built from another log" in finding.detail


def test_the_follower_keeps_the_other_views_following(world: World) -> None:
    progress, keys = opened(world, ProgressView, KeysView)
    move_tracking(world, "progress", 1)
    with BatchFollower([progress, keys], world.ledger, interval=0.05) as follower:
        serial = world.submit_food().serial
        deadline = time.monotonic() + 20
        while position(keys, world.ledger) < head(world) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert position(keys, world.ledger) == head(world)
        assert "progress" in follower.tampered
    rows = view_sql(
        world.url, "progress", "SELECT 1 FROM view_progress_cases WHERE serial = ?", (serial,)
    )
    assert rows == []


def test_one_read_of_the_log_catches_every_view_up_and_leaves_a_tampered_one_behind(
    world: World,
) -> None:
    """What the follower runs each round: the log read and decoded once for all the views
    (not once per view), each view at the head after it; a view whose tracking was moved is
    refused alone, or stops the pass when the caller did not ask to isolate it."""
    progress, keys, results = opened(world, ProgressView, KeysView, ResultsView)
    world.submit_food()
    before = [position(v, world.ledger) for v in (progress, keys, results)]
    fed = catch_up_all([progress, keys, results], world.ledger)
    new = world.ledger.recorder.select_notifications(start=min(before) + 1, limit=1000)
    wanted = {t for v in (progress, keys, results) for t in v.topics}
    assert fed.log_events == sum(1 for n in new if n.topic in wanted)  # once, not per view
    assert fed.events[0] > 0 and fed.events[2] > 0 and not fed.refused
    assert [position(v, world.ledger) for v in (progress, keys, results)] == [head(world)] * 3
    world.submit_food()
    move_tracking(world, "progress", 1)
    with pytest.raises(ViewTampered):
        catch_up_all([progress, keys, results], world.ledger)
    fed = catch_up_all([progress, keys, results], world.ledger, isolate=True)
    assert list(fed.refused) == [0] and fed.refused[0].view == "progress"
    assert [position(v, world.ledger) for v in (keys, results)] == [head(world)] * 2


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "projections", *args, "--db", url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_projections_verify_exits_1_naming_the_view_and_status_raises_the_alarm(
    world: World,
) -> None:
    assert _cli(world.url, "run").returncode == 0
    clean = _cli(world.url, "verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 different" in clean.stdout

    view_sql(world.url, "progress", "DELETE FROM view_progress_steps")
    found = _cli(world.url, "verify")
    assert found.returncode == 1
    assert "ALARM progress: rows:" in found.stdout and "view_progress_steps" in found.stdout
    assert "progress        DIFFERENT" in found.stdout

    quick = _cli(world.url, "verify", "--quick", "--json")  # the alarm was recorded
    assert quick.returncode == 1 and '"view": "progress"' in quick.stdout
    shown = _cli(world.url, "status")
    assert shown.returncode == 0 and "ALARM progress" in shown.stdout

    assert _cli(world.url, "reset", "progress").returncode == 0
    assert _cli(world.url, "verify").returncode == 0
