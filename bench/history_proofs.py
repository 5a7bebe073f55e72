"""Benchmark: the inclusion proofs of an official's history, one levelled tree against a proof
computed from the leaves each time, in alternating rounds of one run.

Run: ``python -m bench.history_proofs [--leaves 50000,200000] [--proofs 100] [--rounds 8]``.
``GET /v1/officials/{staff_code}/history`` (``api.officials.history_with_proofs``) lists one
RFC 9162 inclusion proof per entry the official signed, all in the tree of the whole log at
its head. Per round and log size, in alternating order: **per proof** — each proof from the
leaf list (``anchors.merkle.inclusion_proof``: O(n) a proof, what the history did before) —
and **levelled** — one ``anchors.merkle.levelled_hash_range`` pass, then every proof and the
root from it (what it does now). Both include the root. Prints JSON: seconds per history
(median, spread), the ratio, and a check that both gave the same proofs.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

from anchors import merkle
from bench.rebuild import print_report, rounds_parser


def per_proof(leaves: list[bytes], indices: list[int]) -> tuple[float, list[list[bytes]]]:
    began = time.perf_counter()
    merkle.root(leaves)
    proofs = [merkle.inclusion_proof(leaves, i) for i in indices]
    return time.perf_counter() - began, proofs


def levelled(leaves: list[bytes], indices: list[int]) -> tuple[float, list[list[bytes]]]:
    began = time.perf_counter()
    tree = merkle.levelled_hash_range(leaves)
    tree(0, len(leaves))
    proofs = [merkle.inclusion_proof_from(tree, i, len(leaves)) for i in indices]
    return time.perf_counter() - began, proofs


def bench(sizes: list[int], proofs: int, rounds: int) -> dict[str, Any]:
    rng = random.Random(18)
    out: dict[str, Any] = {"proofs_per_history": proofs, "rounds": rounds, "sizes": {}}
    for size in sizes:
        leaves = [merkle.leaf_hash(rng.randbytes(32)) for _ in range(size)]
        indices = sorted(rng.sample(range(size), proofs))
        seconds: dict[str, list[float]] = {"per_proof": [], "levelled": []}
        for r in range(rounds):
            sides = (("per_proof", per_proof), ("levelled", levelled))
            results = {}
            for name, run in sides if r % 2 == 0 else sides[::-1]:
                took, results[name] = run(leaves, indices)
                seconds[name].append(took)
            assert results["per_proof"] == results["levelled"], "the two ways disagree"
        med = {k: statistics.median(v) for k, v in seconds.items()}
        out["sizes"][str(size)] = {
            name: {
                "median_s": round(med[name], 4),
                "min_s": round(min(v), 4),
                "max_s": round(max(v), 4),
            }
            for name, v in seconds.items()
        } | {"speed_up": round(med["per_proof"] / med["levelled"], 1)}
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return out


def main() -> None:
    parser = rounds_parser(__doc__)
    parser.add_argument("--leaves", default="50000,200000")
    parser.add_argument("--proofs", type=int, default=100)
    args = parser.parse_args()
    sizes = [int(x) for x in args.leaves.split(",")]

    def measure(_tmp: Path) -> dict[str, Any]:
        return bench(sizes, args.proofs, args.rounds)

    print_report("history_proofs", measure)


if __name__ == "__main__":
    main()
