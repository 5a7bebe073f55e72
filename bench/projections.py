"""Benchmark the read models: rebuild speed, live projection lag, progress look-up latency.

Run: ``python -m bench.projections [--cases N] [--pg URL] [--lag-seconds S] [--rate R]``.

1. **Rebuild.** Builds a log of ``--cases`` cases driven through the real
   :class:`~ledger.services.cases.CaseService` on a SQLite file (≈ 10 events a case: submission,
   pre-review, delivery of materials, acceptance, decision, result, dispatch, sign-off,
   close; one case in five stops half-way, one in ten goes through a correction), then
   rebuilds every registered view from zero (``projections.runner.rebuild``: the digest of
   the rebuilt rows must equal the live one) and reports events/s per view and for all.
2. **Lag** (PostgreSQL, ``--pg``): a writer thread records ≈ ``--rate`` events/s — case
   submissions and steps through the real service, topped up with small signed
   bookkeeping aggregates to reach the rate — while the progress view follows the log, once
   with ``projections.follower.BatchFollower`` (batched transactions) and once by
   eventsourcing's subscription runner (``projections.runner.follow``, one transaction per
   event); a sampler polls the view's position and reports, per command, the time from its
   commit to its projection (p50 / p99).
3. **Look-up.** ``progress.by_serial`` and ``by_credential_index`` on the rebuilt SQLite
   view, in-process (p50 / p99).

Prints a JSON report with the date and the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.domain import Aggregate, event

from ledger.domain.calendar import is_working_day
from ledger.domain.identity import parse_credential
from ledger.storage.urls import parse_storage_url
from projections.follower import BatchFollower
from projections.progress import ProgressView, by_credential_index, by_serial, credential_index
from projections.registry import VIEWS
from projections.replay import rebuild_all
from projections.runner import catch_up, follow, open_view, position, rebuild
from tests.ledger.case_world import World, build_world


class Tick(Aggregate):
    """Filler events for the lag test (no view handles them; every view tracks past them)."""

    @event("Opened")
    def __init__(self) -> None:
        self.n = 0

    @event("Ticked")
    def tick(self, n: int) -> None:
        self.n = n


def _days(start: dt.date) -> Any:
    day = start
    while True:
        if is_working_day(day):
            yield day
        day += dt.timedelta(days=1)


def drive_cases(w: World, cases: int, *, seed: int = 7, per_day: int = 40) -> list[str]:
    """Drive ``cases`` food-licence cases through the real service; returns the serials."""
    rng = random.Random(seed)
    days = _days(dt.date(2024, 1, 2))
    serials: list[str] = []
    day = next(days)
    for i in range(cases):
        if i and i % per_day == 0:
            day = next(days)
        w.clock.set(day, 9 + (i % per_day) * 8 // per_day)
        serial = w.submit_food().serial
        serials.append(serial)
        if rng.random() < 0.1:
            w.cases.request_correction(serial, {"FLOOR-PLAN": "比例不清"}, signer=w.food)
            w.cases.correct(
                serial, w.enterprise.id, [w.copy("FLOOR-PLAN", f"v{i}")], signer=w.portal
            )
        w.to_accepted(serial)
        if rng.random() < 0.2:
            continue  # left open, the clock running
        w.to_delivered(serial)
        w.cases.close(serial, signer=w.food)
    return serials


def _bench_verify(w: World, storage: Any) -> dict[str, Any] | None:
    """``projections verify`` on the live views: the seal check and the comparison of every
    view with a scratch rebuild (issue 15); None on a tree without it."""
    try:
        from projections.verify import check_seals, compare_with_rebuild
    except ImportError:
        return None
    views = [open_view(cls, storage) for cls in VIEWS]
    for view in views:
        catch_up(view, w.ledger)
    t = time.perf_counter()
    for _ in range(20):
        assert check_seals(views, w.ledger) == []
    seals = (time.perf_counter() - t) / 20
    t = time.perf_counter()
    results = compare_with_rebuild(views, storage, w.ledger)
    compare = time.perf_counter() - t
    assert all(r.identical for r in results)
    return {
        "views": len(views),
        "seal_check_ms_all_views": round(seals * 1000, 2),
        "compare_with_rebuild_seconds": round(compare, 2),
    }


def bench_rebuild(cases: int, tmp: Path) -> tuple[dict[str, Any], World, list[str]]:
    tmp.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{tmp / 'ledger.sqlite3'}"
    w = build_world(url, tmp)
    began = time.perf_counter()
    serials = drive_cases(w, cases)
    built = time.perf_counter() - began
    head = w.ledger.recorder.max_notification_id() or 0
    storage = parse_storage_url(url)
    single = rebuild(ProgressView, storage, w.ledger)  # one view, decoding on its own
    assert single.identical
    result = rebuild_all(VIEWS, storage, w.ledger)  # every view, the log decoded once
    assert result.identical
    rows = [
        {
            "view": r.name,
            "events": r.events,
            "handler_seconds": round(r.seconds, 3),
            "events_per_s": round(r.events / r.seconds) if r.events else None,
            "digest_identical": r.identical,
        }
        for r in result.views
    ]
    handled = sum(r.events for r in result.views)
    report = {
        "cases": cases,
        "log_events": head,
        "build_seconds": round(built, 1),
        "build_events_per_s": round(head / built),
        "rebuild_all_one_pass": {
            "seconds": round(result.seconds, 2),
            "log_events_read": result.log_events,
            "log_events_per_s": round(result.log_events / result.seconds),
            "view_events_handled": handled,
            "view_events_per_s": round(handled / result.seconds),
            "decode_seconds": round(result.decode_seconds, 2),
            "views": rows,
        },
        "rebuild_progress_alone": {
            "events": single.events,
            "seconds": round(single.seconds, 2),
            "events_per_s": round(single.events / single.seconds),
        },
    }
    print(json.dumps(report), flush=True)
    report["verify"] = _bench_verify(w, storage)
    return report, w, serials


def bench_lookup(w: World, serials: list[str], samples: int = 2000) -> dict[str, Any]:
    view = open_view(ProgressView, parse_storage_url(w.url))
    catch_up(view, w.ledger)
    rng = random.Random(1)
    timings = []
    for _ in range(samples):
        serial = rng.choice(serials)
        began = time.perf_counter()
        found = by_serial(view, serial)  # type: ignore[arg-type]
        timings.append(time.perf_counter() - began)
        assert found is not None
    index = credential_index(w.vault, parse_credential("uscc", "914403001922038216"))
    page_timings = []
    for _ in range(200):
        began = time.perf_counter()
        page = by_credential_index(view, index, limit=20)  # type: ignore[arg-type]
        page_timings.append(time.perf_counter() - began)
    return {
        "by_serial_p50_ms": _ms(timings, 50),
        "by_serial_p99_ms": _ms(timings, 99),
        "by_credential_index_20_of": page.total,
        "by_credential_index_p50_ms": _ms(page_timings, 50),
        "by_credential_index_p99_ms": _ms(page_timings, 99),
    }


def _ms(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, len(ordered) * pct // 100)], 3)


def bench_lag(
    pg: str, tmp: Path, seconds: float, rate: int, filler: int, mode: str
) -> dict[str, Any]:
    """Projection lag of the progress view following a PostgreSQL log written at ``rate``."""
    tmp.mkdir(parents=True, exist_ok=True)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    base = parse_storage_url(pg)
    conninfo = f"host={base.host} port={base.port} user={base.user} dbname={base.dbname}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{pg}?schema={schema}"
    try:
        w = build_world(url, tmp)
        storage = parse_storage_url(url)
        view = open_view(ProgressView, storage)
        catch_up(view, w.ledger)
        commits: dict[int, float] = {}
        seen: dict[int, float] = {}
        stop = threading.Event()
        written = [0]

        def writer() -> None:
            days = _days(dt.date(2026, 11, 2))
            day, cases = next(days), 0
            began = time.perf_counter()
            while not stop.is_set():
                if cases and cases % 40 == 0:
                    day = next(days)
                w.clock.set(day)
                serial = w.submit_food().serial  # 2 events (counter, case)
                w.cases.pass_pre_review(serial, signer=w.food)
                cases += 1
                head = w.ledger.recorder.max_notification_id() or 0
                commits[head] = time.perf_counter()
                ticks = Tick()
                for n in range(filler - 1):
                    ticks.tick(n)
                w.ledger.save_signed(ticks, signer=w.platform)
                head = w.ledger.recorder.max_notification_id() or 0
                commits[head] = time.perf_counter()
                written[0] += 3 + filler
                pause = began + written[0] / rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)

        def sampler() -> None:
            last = position(view, w.ledger)
            while not stop.is_set() or last < max(commits, default=0):
                now_pos = view.store.max_tracking_id(w.ledger.name) or 0
                if now_pos > last:
                    t = time.perf_counter()
                    for head in [h for h in commits if last < h <= now_pos]:
                        seen[head] = t
                    last = now_pos
                time.sleep(0.002)
                if stop.is_set() and time.perf_counter() - stopped[0] > 10:
                    break

        stopped = [0.0]
        following: Any = (
            follow(view, storage.event_store_env())
            if mode == "subscription"
            else BatchFollower([view], w.ledger)
        )
        with following:
            threads = [threading.Thread(target=writer), threading.Thread(target=sampler)]
            began = time.perf_counter()
            for t in threads:
                t.start()
            time.sleep(seconds)
            stop.set()
            stopped[0] = time.perf_counter()
            for t in threads:
                t.join()
            elapsed = stopped[0] - began
        lags = [seen[h] - commits[h] for h in commits if h in seen]
        w.ledger.close()
        return {
            "backend": "postgresql",
            "follower": mode,
            "seconds": round(elapsed, 1),
            "events_written": written[0],
            "events_per_s": round(written[0] / elapsed),
            "mix": f"per round: 1 case submitted (2 events) and pre-reviewed (1), {filler} filler",
            "commands_sampled": len(lags),
            "lag_p50_ms": _ms(lags, 50),
            "lag_p99_ms": _ms(lags, 99),
            "lag_max_ms": round(1000 * max(lags), 1) if lags else None,
            "lag_mean_ms": round(1000 * statistics.mean(lags), 1) if lags else None,
        }
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--pg", default=os.environ.get("CASELEDGER_TEST_PG"))
    parser.add_argument("--lag-seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument(
        "--filler", type=int, default=40, help="bookkeeping events per case step in the lag test"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-projections-"))
    try:
        rebuild_report, world, serials = bench_rebuild(args.cases, tmp / "rebuild")
        lookup = bench_lookup(world, serials)
        print(json.dumps(lookup), flush=True)
        world.ledger.close()
        lag = [
            bench_lag(args.pg, tmp / f"lag-{mode}", args.lag_seconds, args.rate, args.filler, mode)
            for mode in (("batched", "subscription") if args.pg else ())
        ]
        for row in lag:
            print(json.dumps(row), flush=True)
        out = {
            "benchmark": "projections",
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "rebuild_sqlite": rebuild_report,
            "lookup_in_process": lookup,
            "lag_following": lag,
        }
        print(json.dumps(out, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
