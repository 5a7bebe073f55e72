"""Benchmark: the HTTP API under load, beside a trivial FastAPI app in the same run.

Run: ``python -m bench.http [--server URL | --db URL] [--rounds 8] [--submit N]
[--concurrency C] [--rate R] [--seconds S] [--workers W] [--kinds submit,progress]
[--in-process]``.

Starts a real ``caseledger serve --workers W`` on loopback (default: one HTTP worker process
per CPU) on a fresh schema in ``--server``'s database (default ``$CASELEDGER_TEST_PG``, else
``postgresql://root@127.0.0.1:5432/caseledger``), and beside it the baseline — a trivial
FastAPI app under the same uvicorn settings doing one INSERT per POST and one SELECT per GET
(bench/http_baseline.py) on the same database. Sets a department, an item and an applicant up
over HTTP (as docs/HTTP.md does), then runs ``--rounds`` rounds, alternating which side goes
first, of the load client (bench/http_load.py, a separate process): N case submissions with C
concurrent clients, and GETs of a case's progress at a fixed rate for S seconds. Per round and
side: throughput, latency, CPU per request (the server's process tree plus the database's
backends, from /proc), and transactions and rows per request (pg_stat_database deltas; the
benchmark waits for the backends' statistics before and after each phase, and subtracts what
the database does meanwhile with both servers idle, measured once at the start). Prints the rounds,
their medians and spreads (min–max), the ledger/baseline ratios and the load average.
``--in-process`` also times the same operations through the services. Bounded in count and
time; loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import psycopg.conninfo
import psycopg.sql

from ledger.domain.catalogue import FormSpec
from tests.api.conftest import free_port, run_cli

ROOT = Path(__file__).resolve().parents[1]
PG_ENV = "CASELEDGER_TEST_PG"
DEFAULT_PG = "postgresql://root@127.0.0.1:5432/caseledger"
"""The database a fresh benchmark schema is made in, unless ``--server`` or ``$CASELEDGER_TEST_PG``
names another."""
PASSPHRASE = "benchmark passphrase for the keystore"
GUIDE = {
    "name": "食品经营许可",
    "basic_code": "00012307800Y",
    "implementation_code": "GZ-SCJG-SPJY-001",
    "item_type": "01",
    "department": "GZ-SCJG",
    "legal_basis": ["《中华人民共和国食品安全法》第三十五条"],
    "acceptance_conditions": "具有与经营的食品品种、数量相适应的场所",
    "materials": [
        {
            "code": "APPLICATION",
            "name": "食品经营许可申请书",
            "required": True,
            "certificate_types": [],
            "online": True,
            "window": True,
        }
    ],
    "window_steps": ["申请", "受理", "决定"],
    "online_steps": ["网上申请", "决定"],
    "statutory_limit_days": 20,
    "promised_limit_days": 10,
    "fee": "0",
    "fee_basis": "",
    "handling_modes": ["full_online", "window"],
    "result_type": "certificate",
    "result_sample": "食品经营许可证（样本）",
    "hotline": "12345",
    "retention": "D30",
    "forms": [FormSpec("APPLY", "食品经营许可申请书", "blank.docx", "sample.pdf").to_dict()],
    "online_promised_limit_days": None,
    "full_online_exception": "",
}


def _cli(env: dict[str, str], *args: str) -> str:
    return run_cli(*args, env=env, check=True).stdout.strip()


@contextmanager
def bench_ledger(
    db: str, tag: str, prefix: str, server: str = ""
) -> Iterator[tuple[str, dict[str, str]]]:
    """The storage URL and ``caseledger`` environment of a benchmark run: ``db``, or else a
    fresh PostgreSQL schema named ``<tag>_…`` in ``server``'s database (default
    ``$CASELEDGER_TEST_PG``, else :data:`DEFAULT_PG`), with a keystore in a temporary folder
    (``prefix``); the schema and the folder are removed on exit."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    schema = ""
    server = (server or os.environ.get(PG_ENV) or DEFAULT_PG).split("?", 1)[0]
    if not db:
        schema = f"{tag}_{uuid.uuid4().hex[:10]}"
        _create_database_if_missing(server)
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        db = f"{server}?schema={schema}"
    env = {
        **os.environ,
        "CASELEDGER_KEY_PASSPHRASE": PASSPHRASE,
        "CASELEDGER_KEYSTORE": str(tmp / "keys"),
        "CASELEDGER_DB": db,
    }
    try:
        yield db, env
    finally:
        if schema:
            with psycopg.connect(server, autocommit=True) as c:
                c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def _floor_ledger(wanted: bool, server: str) -> Iterator[str]:
    """The floor's own fresh schema in ``server``'s database when ``wanted`` (else "")."""
    if not wanted:
        yield ""
        return
    with bench_ledger("", "f", "caseledger-http-floor-", server) as (db, _):
        yield db


def _create_database_if_missing(server: str) -> None:
    """Create ``server``'s database (the default one need not exist on a fresh machine),
    connected to the same server's ``postgres`` database; nothing if it exists."""
    info = psycopg.conninfo.conninfo_to_dict(server)
    name = str(info.get("dbname") or "")
    admin = psycopg.conninfo.make_conninfo(server, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found is None and name:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))


def spawn_cli(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """``python -m api.cli ARGS`` in the background (a server or a node), output discarded."""
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    """Poll ``url`` for 200 for up to a minute; raises if the process exits or it never answers."""
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def set_up_served(base: str, env: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """Once ``serve`` answers at ``base``: tokens by the CLI, then ``setup``; the department's
    token and the case payload."""
    admin = _cli(env, "token", "create", "--role", "admin")
    dept = _cli(
        env, "token", "create", "--role", "department", "--department", "GZ-SCJG", "--system"
    )
    return dept, setup(base, admin, dept)


def submit_in_process(services: Any, body: Any, signer: Any) -> None:
    """What ``POST /v1/cases`` does with the ``CaseCreate`` ``body``, without HTTP: the case
    service's submit under a fresh idempotency key."""
    services.cases.submit(
        item_code=body.item_code,
        applicant_id=body.applicant_id,
        channel=body.channel,
        handling_mode=body.handling_mode,
        materials=[m.to_domain() for m in body.materials],
        delivery=body.delivery,
        signer=signer,
        location=body.location,
        mailing_address=body.mailing_address,
        idempotency_key=str(uuid.uuid4()),
    )


def run_load_client(*args: str) -> dict[str, Any]:
    """Run ``python -m bench.http_load ARGS`` (a separate process); its JSON report."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.http_load", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if out.returncode != 0:
        raise RuntimeError(f"load client failed: {out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _wait_for_views(base: str, limit: float = 300.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        lags = httpx.get(f"{base}/readyz", timeout=10).json().get("view_lag", {})
        if lags and max(lags.values()) == 0:
            return
        time.sleep(0.5)


def setup(base: str, admin: str, dept: str) -> dict[str, Any]:
    with httpx.Client(base_url=base, timeout=60) as c:
        h_admin = {"Authorization": f"Bearer {admin}"}
        h_dept = {"Authorization": f"Bearer {dept}"}
        c.post(
            "/v1/admin/departments",
            headers=h_admin,
            json={"code": "GZ-SCJG", "name": "广州市市场监督管理局", "city": "广州市"},
        ).raise_for_status()
        c.post("/v1/catalogue/items", headers=h_dept, json={"guide": GUIDE}).raise_for_status()
        applicant = c.post(
            "/v1/applicants",
            headers=h_dept,
            json={
                "kind": "natural_person",
                "credential_kind": "resident_id",
                "credential": "11010519491231002X",
                "name": "张三",
                "phone": "13800138000",
                "authentication_level": "advanced",
                "authentication_method": "face",
            },
        )
        applicant.raise_for_status()
        pdf = b"%PDF-1.7\n% application form\n%%EOF\n"
        ref = c.post(
            "/v1/materials",
            headers=h_dept,
            files={"file": ("application.pdf", pdf, "application/pdf")},
        )
        ref.raise_for_status()
    return {
        "item_code": GUIDE["implementation_code"],
        "applicant_id": applicant.json()["id"],
        "channel": "window",
        "handling_mode": "window",
        "delivery": "on_site",
        "materials": [
            {
                "code": "APPLICATION",
                "form": "e_copy",
                "sha256": ref.json()["sha256"],
                "size": len(pdf),
                "media_type": "application/pdf",
            }
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--db",
        default="",
        help="the ledger's database URL as is (default: a fresh schema in --server's database)",
    )
    parser.add_argument(
        "--server",
        default="",
        help=f"PostgreSQL database for the fresh schema (default: ${PG_ENV}, else {DEFAULT_PG})",
    )
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--submit", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--kinds", default="submit,progress", help="which phases each round runs (comma-separated)"
    )
    parser.add_argument("--in-process", action="store_true", help="also time the services")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also submit to bench/http_floor.py (the chain's floor) in each round",
    )
    args = parser.parse_args()
    server_url = args.server or os.environ.get(PG_ENV) or DEFAULT_PG
    with (
        bench_ledger(args.db, "h", "caseledger-http-bench-", server_url) as (db, env),
        _floor_ledger(args.floor, server_url) as floor_db,
    ):
        report: dict[str, Any] = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "db": "postgresql" if "postgresql" in db else "sqlite",
            "workers": args.workers,
            "rounds": args.rounds,
            "load_before": os.getloadavg(),
        }
        ledger_port, baseline_port, floor_port = free_port(), free_port(), free_port()
        server = spawn_cli(env, "serve", "--port", str(ledger_port), "--workers", str(args.workers))
        baseline = spawn_app(
            "bench.http_baseline:app", {"BENCH_BASELINE_DB": db}, baseline_port, args.workers
        )
        apps = [server, baseline]
        if args.floor:
            from bench.http_floor import prepare

            floor_env = prepare(floor_db)
            apps.append(spawn_app("bench.http_floor:app", floor_env, floor_port, args.workers))
        ledger_base = f"http://127.0.0.1:{ledger_port}"
        baseline_base = f"http://127.0.0.1:{baseline_port}"
        try:
            wait_until_up(f"{ledger_base}/healthz", server)
            wait_until_up(f"{baseline_base}/docs", baseline)
            dept, payload = set_up_served(ledger_base, env)
            serials = warm_up(ledger_base, dept, payload)
            baseline_ids = warm_up(baseline_base, dept, payload)
            _wait_for_views(ledger_base)
            monitor = Monitor(db)
            report["background_per_s"] = monitor.calibrate()
            sides = {
                "ledger": Side(ledger_base, server.pid, serials, dept),
                "baseline": Side(baseline_base, baseline.pid, baseline_ids, dept),
            }
            if args.floor:
                floor_base = f"http://127.0.0.1:{floor_port}"
                wait_until_up(f"{floor_base}/docs", apps[2])
                token = floor_env["BENCH_FLOOR_TOKEN"]
                floor_ids = warm_up(floor_base, token, payload)
                sides["floor"] = Side(floor_base, apps[2].pid, floor_ids, token)
            kinds = [k for k in ("submit", "progress") if k in args.kinds.split(",")]
            rounds: dict[str, list[dict[str, float]]] = {
                f"{k}_{s}": [] for k in kinds for s in sides if _runs(k, s)
            }
            submit_args = [json.dumps(payload), str(args.submit), str(args.concurrency)]
            get_args = [str(args.rate), str(args.seconds)]
            for r in range(args.rounds):
                order = list(sides) if r % 2 == 0 else list(sides)[::-1]
                for kind in kinds:
                    if kind == "progress":
                        _wait_for_views(ledger_base)  # progress reads the view: level it first
                    for name in order:
                        if not _runs(kind, name):
                            continue
                        side = sides[name]
                        paths = json.dumps([f"/v1/cases/{k}" for k in side.keys])
                        load = (
                            ["submit", side.base, side.token, *submit_args]
                            if kind == "submit"
                            else ["get", side.base, side.token, paths, *get_args]
                        )
                        rounds[f"{kind}_{name}"].append(
                            monitor.measure(side.pid, lambda a=load: run_load_client(*a))
                        )
            report["rounds_raw"] = rounds
            report["summary"] = summarise(rounds)
        finally:
            for process in apps:
                process.terminate()
            for process in apps:
                process.wait(30)
        if args.in_process:
            report["in_process"] = in_process(env, payload, serials, args.submit, args.concurrency)
        report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=1, ensure_ascii=False))


@dataclass
class Side:
    """One server under test: its address, the process whose tree is measured, the keys
    its GETs read and the bearer token its requests carry."""

    base: str
    pid: int
    keys: list[str]
    token: str


def _runs(kind: str, side: str) -> bool:
    """Whether a phase runs against a side: the floor only takes submissions."""
    return side != "floor" or kind == "submit"


def spawn_app(app: str, env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    """A benchmark's own app (``module:app``: the trivial one, bench/http_baseline.py, or the
    floor, bench/http_floor.py) under uvicorn with ``serve``'s settings."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def warm_up(base: str, token: str, payload: dict[str, Any], count: int = 200) -> list[str]:
    """``count`` submissions one at a time (connections, caches); their serials."""
    serials = []
    with httpx.Client(base_url=base, timeout=60) as c:
        for _ in range(count):
            r = c.post(
                "/v1/cases",
                json=payload,
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
            )
            r.raise_for_status()
            serials.append(r.json()["serial"])
    return serials


def summarise(rounds: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    """Per phase the median and spread (min–max) of each figure, and the ledger/baseline
    ratios of the medians of the per-round ratios."""
    out: dict[str, Any] = {}
    for phase, values in rounds.items():
        out[phase] = {
            k: [
                median([v[k] for v in values]),
                min(v[k] for v in values),
                max(v[k] for v in values),
            ]
            for k in values[0]
        }
    for kind in {phase.split("_")[0] for phase in rounds}:
        base = rounds[f"{kind}_baseline"]
        for side, label in (("ledger", "ratios"), ("floor", "floor_ratios")):
            mine = rounds.get(f"{kind}_{side}")
            if mine is None:
                continue
            out[f"{kind}_{label}"] = {
                k: [
                    median([m[k] / b[k] for m, b in zip(mine, base, strict=True) if b[k]]),
                    min(m[k] / b[k] for m, b in zip(mine, base, strict=True) if b[k]),
                    max(m[k] / b[k] for m, b in zip(mine, base, strict=True) if b[k]),
                ]
                for k in ("per_s", "cpu_ms", "p99_ms")
            }
    return out


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


STAT_COLUMNS = ("xact_commit", "xact_rollback", "tup_returned", "tup_fetched", "tup_inserted")
STATS_FLUSH = 11.0
"""Seconds until every backend has reported its counters to pg_stat_database (PostgreSQL
flushes an idle backend's pending statistics after 10 s at most)."""


class Monitor:
    """Per request over one phase: PostgreSQL transactions and rows (pg_stat_database of the
    benchmark's database), CPU of the server's process tree and of the database's backends."""

    def __init__(self, db: str):
        self.conninfo = db.split("?", 1)[0]
        self.conn = psycopg.connect(self.conninfo, autocommit=True)
        self.background = {k: 0.0 for k in STAT_COLUMNS}

    def calibrate(self, seconds: float = 20.0) -> dict[str, float]:
        """What the database does per second with both servers idle (the read-model
        follower's and the rollback guard's polling): subtracted from every phase."""
        time.sleep(STATS_FLUSH)
        before, began = self._stats(), time.monotonic()
        time.sleep(seconds)
        after = self._stats()
        elapsed = time.monotonic() - began
        self.background = {k: (after[k] - before[k]) / elapsed for k in STAT_COLUMNS}
        return {k: round(v, 2) for k, v in self.background.items()}

    def _stats(self) -> dict[str, int]:
        row = self.conn.execute(
            "SELECT " + ", ".join(STAT_COLUMNS) + " FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()
        assert row is not None
        return dict(zip(STAT_COLUMNS, (int(v) for v in row), strict=True))

    def _backend_ticks(self) -> dict[int, int]:
        pids = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
        return {pid: _ticks(pid) for (pid,) in pids}

    def measure(self, root: int, run: Any) -> dict[str, float]:
        """Run ``run()`` (a load client; its JSON report) and what it cost per request."""
        time.sleep(STATS_FLUSH)  # the previous phase's counters are all in
        stats, backends, began = self._stats(), self._backend_ticks(), time.monotonic()
        tree = {pid: _ticks(pid) for pid in _descendants(root)}
        result = run()
        tree_after = {pid: _ticks(pid) for pid in _descendants(root)}
        backends_after = self._backend_ticks()
        time.sleep(STATS_FLUSH)
        stats_after = self._stats()
        window = time.monotonic() - began
        n = result.get("count") or result["requests"]
        hz = os.sysconf("SC_CLK_TCK")
        app_s = sum(t - tree.get(p, 0) for p, t in tree_after.items()) / hz
        db_s = sum(t - backends.get(p, 0) for p, t in backends_after.items()) / hz
        delta = {k: stats_after[k] - stats[k] - self.background[k] * window for k in STAT_COLUMNS}
        non_ok = sum(v for k, v in result["statuses"].items() if not str(k).startswith("2"))
        return {
            "per_s": result.get("commands_per_s") or result["achieved_per_s"],
            "p50_ms": result["p50_ms"],
            "p99_ms": result["p99_ms"],
            "cpu_ms": round((app_s + db_s) / n * 1000, 3),
            "app_cpu_ms": round(app_s / n * 1000, 3),
            "db_cpu_ms": round(db_s / n * 1000, 3),
            "transactions": round((delta["xact_commit"] + delta["xact_rollback"]) / n, 2),
            "rows_inserted": round(delta["tup_inserted"] / n, 2),
            "rows_returned": round(delta["tup_returned"] / n, 1),
            "rows_fetched": round(delta["tup_fetched"] / n, 1),
            "failed": non_ok,
            "load_1min": os.getloadavg()[0],
        }


def _ticks(pid: int) -> int:
    """utime + stime of a process in clock ticks (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def in_process(
    env: dict[str, str], payload: dict[str, Any], serials: list[str], count: int, concurrency: int
) -> dict[str, Any]:
    """The same submissions through CaseService and lookups through the progress view."""
    os.environ.update(env)
    from api.bootstrap import open_runtime
    from api.http.schemas import CaseCreate
    from api.services import build_services
    from api.settings import load_settings
    from projections.progress import ProgressView, by_serial
    from projections.runner import catch_up, open_view

    runtime = open_runtime(load_settings(), migrate=False)
    services = build_services(runtime)
    body = CaseCreate.model_validate(payload)
    signer = runtime.keystore.current_signer("dept:GZ-SCJG")

    def submit() -> None:
        submit_in_process(services, body, signer)

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: submit(), range(count)))
    submit_rate = count / (time.perf_counter() - began)
    view = open_view(ProgressView, runtime.settings.storage)
    catch_up(view, runtime.ledger)
    latencies = []
    for serial in serials * 5:
        t = time.perf_counter()
        by_serial(view, serial)
        latencies.append(time.perf_counter() - t)
    latencies.sort()
    runtime.close()
    return {
        "submit_commands_per_s": round(submit_rate, 1),
        "progress_p50_ms": round(latencies[len(latencies) // 2] * 1000, 3),
        "progress_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 3),
    }


if __name__ == "__main__":
    main()
