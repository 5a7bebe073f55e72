"""Benchmark: ``verify`` against the machine's parallel Ed25519 limit, in alternating rounds of
one run (issue 18, goal 4).

Run: ``python -m bench.verify [--one PATH] [--ten PATH] [--case PATH] [--rounds 8]``, each
PATH an existing SQLite ledger (else ``--events`` events are written: 1-event and 10-event
commands of a benchmark aggregate). Each round, in alternating order:

- **limit**: as many Ed25519 signatures as the 1-event log has commands (54-byte messages, as
  a command's), verified with plain pynacl (``VerifyKey(key).verify(message, signature)``)
  in a process pool of every core, 512 a task — the machine's parallel verify rate, pool
  start included;
- **verify** of the 1-event log, of the 10-event log and (``--case``) of a real case log
  (``ledger.chain.verification.verify_chain``, default jobs).

Prints JSON: per measurement the median and spread (min–max) in events/s (signatures/s for
the limit), the ratio of verify on 1-event commands to the limit per round and of the
medians, and the load average before and after each round. Beside wall clock, the CPU time of
every process of a measurement — this one and the pool's workers (the forkserver reaps them,
so their time is in its ``cutime``/``cstime``) — as events (signatures) per CPU-second, and
the ratio of those: on a shared machine the steadier figure.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import forkserver, get_context
from pathlib import Path
from typing import Any

import nacl.signing

from bench.rebuild import print_report, rounds_parser, spread
from ledger.chain.verification import verify_chain
from ledger.services.application import open_ledger

BATCH = 512


def _verify_plain(items: list[tuple[bytes, bytes, bytes]]) -> int:
    for public_key, message, signature in items:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    return len(items)


def pool_cpu() -> float:
    """CPU seconds of the forkserver and of every worker it has started and reaped."""
    pid = forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


class CPU:
    """CPU seconds of this process and of the pool's workers over a measurement."""

    def __enter__(self) -> CPU:
        self.began = time.process_time() + pool_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.process_time() + pool_cpu() - self.began


def limit_rate(signatures: int) -> tuple[float, float]:
    """Signatures per second, plain pynacl, a pool of every core (started in the timing);
    and per CPU-second of every process."""
    key = nacl.signing.SigningKey.generate()
    public = bytes(key.verify_key)
    items = []
    for _ in range(min(signatures, 4096)):
        message = os.urandom(54)
        items.append((public, message, key.sign(message).signature))
    work = [items[i % len(items)] for i in range(signatures)]
    began = time.perf_counter()
    batches = [work[i : i + BATCH] for i in range(0, len(work), BATCH)]
    context = get_context("forkserver")
    with CPU() as cpu, ProcessPoolExecutor(os.cpu_count(), mp_context=context) as pool:
        done = sum(pool.map(_verify_plain, batches))
    assert done == signatures
    return signatures / (time.perf_counter() - began), signatures / cpu.seconds


def verify_rate(path: str) -> tuple[float, int, int, float, float]:
    """Events per second of ``verify_chain`` on the ledger at ``path``; events, commands;
    events per second of the main process's CPU time, and of every process's (the main
    process and the workers that read, hash and check signatures on large logs)."""
    app = open_ledger(f"sqlite:///{path}")
    began = time.process_time()
    try:
        with CPU() as cpu:
            report = verify_chain(app.chain)
    finally:
        app.close()
    main = time.process_time() - began
    assert report.ok, report.failure
    return (
        report.checked / report.seconds,
        report.checked,
        report.commands,
        report.checked / main,
        report.checked / cpu.seconds,
    )


def write_log(path: Path, events: int, per_command: int) -> str:
    from bench.ledger_writes import _aggregate
    from ledger.chain.signing import Ed25519Signer
    from ledger.domain.keys import KeyRole

    app = open_ledger(f"sqlite:///{path}", migrate=True)
    platform_key = Ed25519Signer.generate()
    app.bootstrap(platform_key)
    signer = Ed25519Signer.generate()
    app.register_key(
        signer.public_key, signer.key_id, actor="bench", role=KeyRole.DEPARTMENT, by=platform_key
    )
    for _ in range(events // per_command):
        app.save(_aggregate(per_command), signer=signer)
    app.close()
    return str(path)


def bench(logs: dict[str, str], rounds: int) -> dict[str, Any]:
    import tests.ledger.case_world  # noqa: F401  (the topic aliases of older event classes)

    rates: dict[str, list[float]] = {"limit": [], **{name: [] for name in logs}}
    cpu_rates: dict[str, list[float]] = {"limit": [], **{name: [] for name in logs}}
    main_cpu: dict[str, list[float]] = {name: [] for name in logs}
    sizes: dict[str, tuple[int, int]] = {}
    _, _, commands, _, _ = verify_rate(logs["one"])  # warm the page cache; count signatures
    load = [os.getloadavg()]
    order = ["limit", *logs]
    for i in range(rounds):
        for name in order if i % 2 == 0 else reversed(order):
            if name == "limit":
                rate, all_cpu = limit_rate(commands)
                rates["limit"].append(rate)
                cpu_rates["limit"].append(all_cpu)
            else:
                rate, events, cmds, cpu_rate, all_cpu = verify_rate(logs[name])
                rates[name].append(rate)
                main_cpu[name].append(cpu_rate)
                cpu_rates[name].append(all_cpu)
                sizes[name] = (events, cmds)
        load.append(os.getloadavg())
        print(
            json.dumps(
                {"round": i, **{k: round(v[-1]) for k, v in rates.items()}, "load": load[-1]}
            ),
            flush=True,
        )
    ratios = [v / lim for v, lim in zip(rates["one"], rates["limit"], strict=True)]
    cpu_ratios = [v / lim for v, lim in zip(cpu_rates["one"], cpu_rates["limit"], strict=True)]
    return {
        "cores": os.cpu_count(),
        "logs": {name: {"events": e, "commands": c} for name, (e, c) in sizes.items()},
        "rounds": rounds,
        "events_per_s": {name: spread(values) for name, values in rates.items()},
        "events_per_main_process_cpu_s": {name: spread(v) for name, v in main_cpu.items()},
        "events_per_cpu_s_all_processes": {name: spread(v) for name, v in cpu_rates.items()},
        "one_event_commands_vs_limit": {
            "ratio_of_medians": round(
                statistics.median(rates["one"]) / statistics.median(rates["limit"]), 3
            ),
            "per_round": [round(r, 3) for r in ratios],
            "median_of_rounds": round(statistics.median(ratios), 3),
        },
        "one_event_commands_vs_limit_per_cpu_s": {
            "per_round": [round(r, 3) for r in cpu_ratios],
            "median_of_rounds": round(statistics.median(cpu_ratios), 3),
        },
        "load_average_1_5_15": [[round(x, 2) for x in row] for row in load],
    }


def main() -> None:
    parser = rounds_parser(__doc__)
    parser.add_argument("--one", help="a ledger of 1-event commands")
    parser.add_argument("--ten", help="a ledger of 10-event commands")
    parser.add_argument("--case", help="a ledger written through the case service")
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()

    def measure(tmp: Path) -> dict[str, Any]:
        logs = {
            "one": args.one or write_log(tmp / "one.sqlite3", args.events // 4, 1),
            "ten": args.ten or write_log(tmp / "ten.sqlite3", args.events, 10),
        }
        if args.case:
            logs["case"] = args.case
        return bench(logs, args.rounds)

    print_report("verify", measure)


if __name__ == "__main__":
    main()
