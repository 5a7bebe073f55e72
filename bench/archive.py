"""Benchmark: archive packages — build and four-property check time per package, and for 1,000.

Run: ``python -m bench.archive [--cases 1000] [--single 20] [--out DIR]``.
Prints one JSON line per measurement and a JSON report at the end (date, machine).

World: a real SQLite ledger with the test world of ``tests.archive.world`` (real keys, seals,
vault, blob store; simulated clock) and ``caseledger node serve`` in its own process. A
*typical case* is the approved path: submission with a PDF, a PNG, a JPEG, an e-certificate
reference and a paper original; pre-review, material delivery, acceptance, approval, result
document, online delivery, sign-off, closing — 9 events, 5 sealed documents, 3 materials.

* single: ``ArchiveService.build`` one case at a time (two anchoring rounds each: the case's
  events, then its transfer) and ``check_package`` on the result (offline, policy from the
  package); p50 / p99 / max per package.
* batch: ``ArchiveService.build_many`` over ``--cases`` closed cases (anchoring once for all
  transfers) and a check of every package; seconds per package and in all. With fewer than
  1,000 cases the 1,000-package figure is extrapolated linearly and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _emit(row: dict[str, Any]) -> dict[str, Any]:
    print(json.dumps(row, ensure_ascii=False), flush=True)
    return row


def _pct(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return {
        "p50_s": round(at(0.5), 4),
        "p99_s": round(at(0.99), 4),
        "max_s": round(ordered[-1], 4),
        "mean_s": round(statistics.fmean(ordered), 4),
        "n": len(ordered),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000, help="cases archived in the batch")
    parser.add_argument("--single", type=int, default=20, help="cases built one at a time")
    parser.add_argument("--out", help="keep the ledger and packages here (default: temporary)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from projections.archive.checker import check_package
    from tests.anchors.processes import NodeProcess
    from tests.archive.world import ARCHIVIST, PATHS, build_archive_world

    tmp = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench-archive-"))
    tmp.mkdir(parents=True, exist_ok=True)
    node = NodeProcess(tmp / "node").start()
    report: dict[str, Any] = {
        "benchmark": "archive",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip()
        + f", {os.cpu_count()} CPUs, {platform.platform()}",
        "python": platform.python_version(),
        "storage": "SQLite (WAL), node as its own process",
    }
    world = build_archive_world(f"sqlite:///{tmp / 'ledger.sqlite3'}", tmp, node.url, paths=())
    try:
        w = world.world
        began = time.perf_counter()
        total = args.single + args.cases
        serials = [PATHS["approved"](w, f"bench {i}") for i in range(total)]
        seeding = time.perf_counter() - began
        report["seed"] = _emit(
            {"cases": total, "seconds": round(seeding, 2), "chain": w.head(), "phase": "seed"}
        )
        builds, checks, sizes = [], [], []
        for serial in serials[: args.single]:
            t = time.perf_counter()
            result = world.build(serial, tmp / "single" / serial)
            builds.append(time.perf_counter() - t)
            t = time.perf_counter()
            assert check_package(result.path).ok
            checks.append(time.perf_counter() - t)
            sizes.append((result.files, result.bytes))
        report["single"] = _emit(
            {
                "phase": "single",
                "build": _pct(builds),
                "check": _pct(checks),
                "files_per_package": sizes[0][0],
                "bytes_per_package": sizes[0][1],
                "chain_at_end": w.head(),
            }
        )
        batch = serials[args.single :]
        t = time.perf_counter()
        results = world.archive.build_many(
            [(s, tmp / "batch" / s) for s in batch], archivist=ARCHIVIST, signer=w.platform
        )
        build_seconds = time.perf_counter() - t
        t = time.perf_counter()
        ok = sum(1 for r in results if check_package(r.path).ok)
        check_seconds = time.perf_counter() - t
        n = len(results)
        scale = 1000 / n if n else 0.0
        report["batch"] = _emit(
            {
                "phase": "batch",
                "packages": n,
                "passed": ok,
                "build_seconds": round(build_seconds, 2),
                "check_seconds": round(check_seconds, 2),
                "build_per_package_s": round(build_seconds / max(1, n), 4),
                "check_per_package_s": round(check_seconds / max(1, n), 4),
                "for_1000_packages_s": {
                    "build": round(build_seconds * scale, 1),
                    "check": round(check_seconds * scale, 1),
                    "measured" if n >= 1000 else "extrapolated_linearly_from": n,
                },
                "chain_at_end": w.head(),
            }
        )
    finally:
        world.close()
        node.stop()
        if not args.out:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
