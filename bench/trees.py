"""Benchmark: chained writes of this source tree against another (a baseline commit), same run.

Run: ``python -m bench.trees --baseline DIR [--pg URL] [--rounds 8]`` where DIR is a checkout
of the commit to compare with (``git worktree add /tmp/base <commit>``). Each round runs one
process per tree and scenario, alternating the trees, so the load of a shared machine falls on
both; the report gives the median and spread of each side and their ratio. Both trees must have
``bench.ledger_writes`` (its ``_rate``, ``_fresh_urls`` and ``Entry``) and ``open_ledger``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROUND = """
import json, sys, tempfile
from functools import partial
from pathlib import Path
from bench.ledger_writes import _fresh_urls, _rate
from ledger.chain.signing import Ed25519Signer
from ledger.domain.keys import KeyRole
from ledger.services.application import open_ledger
backend, base, events, commands, writers = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
url, _, drop = _fresh_urls(backend, base, Path(tempfile.mkdtemp()))
try:
    app = open_ledger(url, migrate=True)
    platform_key = Ed25519Signer.generate()
    app.bootstrap(platform_key)
    signer = Ed25519Signer.generate()
    app.register_key(signer.public_key, signer.key_id, actor="bench",
                     role=KeyRole.DEPARTMENT, by=platform_key)
    print(json.dumps(_rate(partial(app.save, signer=signer), events, commands, writers)))
    app.close()
finally:
    drop()
"""

SCENARIOS = (
    ("1-event commands", 1, 2000, 1),
    ("100-event commands", 100, 200, 1),
    ("16 writers, 1-event commands", 1, 3200, 16),
)


def _one(tree: Path, backend: str, base: str, scenario: tuple[str, int, int, int]) -> float:
    _, events, commands, writers = scenario
    done = subprocess.run(
        [sys.executable, "-c", ROUND, backend, base, str(events), str(commands), str(writers)],
        env={**os.environ, "PYTHONPATH": str(tree)},
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", required=True, type=Path)
    parser.add_argument("--pg", default="postgresql://root@127.0.0.1:5432/test")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    here = Path(__file__).resolve().parents[1]
    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    for backend, base in (("sqlite", ""), ("postgres", args.pg)):
        for scenario in SCENARIOS:
            rates: dict[str, list[float]] = {"baseline": [], "this": []}
            for i in range(args.rounds):
                order = [("baseline", args.baseline), ("this", here)]
                for name, tree in order if i % 2 == 0 else reversed(order):
                    rates[name].append(_one(tree, backend, base, scenario))
            base_median = statistics.median(rates["baseline"])
            this_median = statistics.median(rates["this"])
            rows.append(
                {
                    "backend": backend,
                    "scenario": scenario[0],
                    "baseline_events_per_s": round(base_median),
                    "baseline_spread": [
                        round(min(rates["baseline"])),
                        round(max(rates["baseline"])),
                    ],
                    "this_events_per_s": round(this_median),
                    "this_spread": [round(min(rates["this"])), round(max(rates["this"]))],
                    "ratio": round(this_median / base_median, 3),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "baseline": str(args.baseline),
        "rounds": args.rounds,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "rows": rows,
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
