"""Benchmark: rebuild every view (fresh stores, swapped in) against reading and decoding the
same log, in alternating rounds of one run (issue 18, goal 3).

Run: ``python -m bench.rebuild [--ledger PATH | --cases N] [--rounds 8]``. ``--ledger``
copies an existing SQLite ledger (and its ``.views`` directory is not needed); without it a
log of ``--cases`` cases is built through the real case service (``bench.projections``).
Each round: (a) the baseline, every notification of the log read and decoded through the
ledger's mapper, 500 at a time (what any consumer of the log pays); (b) ``projections.replay
.rebuild_all`` of every registered view with ``swap=True`` (what ``projections reset`` runs),
timed from the first page to the last swap. Rates are log events per second (the whole log
either way), of wall-clock time and of this process's CPU time (the rebuild runs in it).
Prints JSON: medians, spreads (min–max), the ratio of the medians, load average.
``--views-url postgresql://…?schema=…`` builds the views in that PostgreSQL schema instead
of beside the SQLite log (the log is still read from SQLite): the views' own cost on
PostgreSQL, where each statement is a round trip.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger.services.application import LedgerApplication, open_ledger
from ledger.storage.urls import parse_storage_url
from projections.registry import VIEWS
from projections.replay import rebuild_all


def read_and_decode(app: LedgerApplication, page: int = 500) -> float:
    """Seconds to read and decode every notification of the log."""
    began = time.perf_counter()
    start = 0
    while True:
        notifications = app.recorder.select_notifications(
            start=start, limit=page, inclusive_of_start=False
        )
        for n in notifications:
            app.mapper.to_domain_event(n)
        if len(notifications) < page:
            return time.perf_counter() - began
        start = notifications[-1].id


def header(benchmark: str) -> dict[str, Any]:
    """What every report of these benchmarks starts with: what ran where and when."""
    return dict(
        benchmark=benchmark,
        date=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        machine=platform.machine(),
        cpus=os.cpu_count(),
        python=platform.python_version(),
    )


def spread(values: list[float]) -> dict[str, int]:
    """Median and range of rates (rounded)."""
    return {
        "median": round(statistics.median(values)),
        "min": round(min(values)),
        "max": round(max(values)),
    }


def bench(url: str, rounds: int, views_url: str | None = None) -> dict[str, Any]:
    import tests.ledger.case_world  # noqa: F401  (the topic aliases of older event classes)

    app = open_ledger(url)
    storage = parse_storage_url(views_url or url)
    head = app.recorder.max_notification_id() or 0
    decode: list[float] = []
    rebuild: list[float] = []
    cpu: dict[str, list[float]] = {"decode": [], "rebuild": []}
    per_view: dict[str, list[float]] = {}
    load = [os.getloadavg()]
    for i in range(rounds):
        result = None
        for side in ("decode", "rebuild") if i % 2 == 0 else ("rebuild", "decode"):
            began = time.process_time()
            if side == "decode":
                decode.append(head / read_and_decode(app))
            else:
                result = rebuild_all(VIEWS, storage, app, swap=True, digests=False)
                rebuild.append(head / result.seconds)
            cpu[side].append(head / (time.process_time() - began))
        assert result is not None
        for view in result.views:
            per_view.setdefault(view.name, []).append(view.seconds)
        load.append(os.getloadavg())
        print(
            json.dumps(
                {
                    "round": i,
                    "decode": round(decode[-1]),
                    "rebuild": round(rebuild[-1]),
                    "cpu": {side: round(v[-1]) for side, v in cpu.items()},
                    "load": load[-1][0],
                }
            ),
            flush=True,
        )
    app.close()
    return {
        "log_events": head,
        "rounds": rounds,
        "read_and_decode_events_per_s": spread(decode),
        "rebuild_all_swapped_events_per_s": spread(rebuild),
        "ratio_of_medians": round(statistics.median(rebuild) / statistics.median(decode), 3),
        "ratios_per_round": [round(r / d, 3) for r, d in zip(rebuild, decode, strict=True)],
        "process_cpu": cpu_report(cpu["decode"], cpu["rebuild"]),
        "handler_seconds_median": {
            name: round(statistics.median(v), 2) for name, v in per_view.items()
        },
        "load_average_1_5_15": [[round(x, 2) for x in row] for row in load],
    }


def cpu_report(baseline: list[float], measured: list[float]) -> dict[str, Any]:
    """Rates per second of this process's CPU time (all its threads; what a shared machine
    takes away from wall-clock rates), the baseline's and the measured side's, and their
    ratio of medians and per round."""
    return {
        "baseline_events_per_cpu_s": spread(baseline),
        "measured_events_per_cpu_s": spread(measured),
        "ratio_of_medians": round(statistics.median(measured) / statistics.median(baseline), 3),
        "ratios_per_round": [round(m / b, 3) for m, b in zip(measured, baseline, strict=True)],
    }


def rounds_parser(doc: str) -> argparse.ArgumentParser:
    """The command line of a benchmark run in alternating ``--rounds`` (its module's ``doc``)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    return parser


def print_report(benchmark: str, measure: Callable[[Path], dict[str, Any]]) -> None:
    """Print the :func:`header` and what ``measure`` reports, measured in a scratch folder
    that is removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{benchmark}-"))
    try:
        report = header(benchmark)
        report.update(measure(tmp))
        print(json.dumps(report, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = rounds_parser(__doc__)
    parser.add_argument("--ledger", help="an existing SQLite ledger file to copy")
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--views-url", help="build the views in this PostgreSQL schema")
    args = parser.parse_args()

    def measure(tmp: Path) -> dict[str, Any]:
        target = tmp / "ledger.sqlite3"
        if args.ledger:
            for suffix in ("", "-wal"):
                if Path(args.ledger + suffix).exists():
                    shutil.copy(args.ledger + suffix, str(target) + suffix)
        else:
            from bench.projections import drive_cases
            from tests.ledger.case_world import build_world

            world = build_world(f"sqlite:///{target}", tmp)
            drive_cases(world, args.cases)
            world.ledger.close()
        return bench(f"sqlite:///{target}", args.rounds, args.views_url)

    print_report("rebuild", measure)


if __name__ == "__main__":
    main()
