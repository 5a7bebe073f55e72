"""Benchmark: the HTTP API under load, beside the same operations in-process.

Run: ``python -m bench.http [--db URL] [--submit N] [--concurrency C] [--rate R] [--seconds S]
[--workers W]``. Starts a real ``caseledger serve --workers W`` on loopback (default: one HTTP
worker process per CPU, on a fresh PostgreSQL schema), sets a department, an item and an
applicant up over HTTP (as docs/HTTP.md does), then runs the load client (bench/http_load.py)
in a separate process: case submissions with C concurrent clients, and progress GETs at a
fixed rate. The same submissions and lookups are then timed in-process through the
application services. Bounded in count and time; loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.api.conftest import free_port, run_cli

ROOT = Path(__file__).resolve().parents[1]
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
    "result_sample": "",
    "hotline": "12345",
    "retention": "D30",
}


def _cli(env: dict[str, str], *args: str) -> str:
    return run_cli(*args, env=env, check=True).stdout.strip()


@contextmanager
def bench_ledger(db: str, tag: str, prefix: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The storage URL and ``caseledger`` environment of a benchmark run: ``db``, or else a
    fresh PostgreSQL schema named ``<tag>_…``, with a keystore in a temporary folder
    (``prefix``); the schema and the folder are removed on exit."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    schema = ""
    if not db:
        schema = f"{tag}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect("host=127.0.0.1 user=root dbname=test", autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        db = f"postgresql://root@127.0.0.1:5432/test?schema={schema}"
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
            with psycopg.connect("host=127.0.0.1 user=root dbname=test", autocommit=True) as c:
                c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        shutil.rmtree(tmp, ignore_errors=True)


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
    dept = _cli(env, "token", "create", "--role", "department", "--department", "GZ-SCJG")
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
    parser.add_argument("--db", default="")
    parser.add_argument("--submit", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with bench_ledger(args.db, "h", "caseledger-http-bench-") as (db, env):
        port = free_port()
        server = spawn_cli(env, "serve", "--port", str(port), "--workers", str(args.workers))
        base = f"http://127.0.0.1:{port}"
        report: dict[str, Any] = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "db": "postgresql" if "postgresql" in db else "sqlite",
            "workers": args.workers,
            "load_before": os.getloadavg(),
        }
        try:
            wait_until_up(f"{base}/healthz", server)
            dept, payload = set_up_served(base, env)
            serials = []
            with httpx.Client(base_url=base, timeout=60) as c:
                for _ in range(200):
                    r = c.post(
                        "/v1/cases",
                        json=payload,
                        headers={
                            "Authorization": f"Bearer {dept}",
                            "Idempotency-Key": str(uuid.uuid4()),
                        },
                    )
                    r.raise_for_status()
                    serials.append(r.json()["serial"])
            time.sleep(1.0)  # let the read models catch up
            report["http_submit"] = run_load_client(
                "submit", base, dept, json.dumps(payload), str(args.submit), str(args.concurrency)
            )
            _wait_for_views(base)  # the GET reads the progress view: let it catch up first
            report["http_progress"] = run_load_client(
                "progress", base, dept, json.dumps(serials), str(args.rate), str(args.seconds)
            )
        finally:
            server.terminate()
            server.wait(30)
        report["in_process"] = in_process(env, payload, serials, args.submit, args.concurrency)
        report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=1, ensure_ascii=False))


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
