"""Demo stage "http": the HTTP API as a real ``caseledger serve --workers 2`` process.

Layer: api (demo). Runs last, when nothing else writes to the demo's ledger. Starts
``caseledger serve --workers 2`` on a free loopback port against the demo's own storage and
keystore (the passphrase through ``--passphrase-file`` or the environment, never in argv),
creates department tokens in-process (as ``caseledger token create`` does) and, with the
standard library only, walks a window application of a GZ-SCJG item the case stage published
(docs/HTTP.md): uploads every required material (multipart built by hand), registers an
enterprise applicant, submits the case with an ``Idempotency-Key`` and repeats it (same
serial), reads its progress from the read model, and shows that another department's token
gets 404 (docs/HTTP.md: another department's case answers 404, not 403). Then a short,
bounded burst of progress GETs over keep-alive connections (requests/s, p50/p99, which worker
process answered, from each process's ``caseledger_serve_worker`` gauge), and SIGTERM: the
server must exit 0. The child process never outlives the stage.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Final

from api.demo import accountability
from api.demo.anchoring import free_port
from api.demo.main import DemoContext, Stage
from api.lifetime import child_environment
from ledger.storage.keystore import PASSPHRASE_ENV
from ledger.storage.urls import StorageURL

WORKERS: Final = 2
READY_SECONDS: Final = 90.0
"""Bound on the wait for ``/healthz`` (worker 0 first catches the read models up)."""
SECOND_WORKER_SECONDS: Final = 20.0
"""Bound on the wait until both worker processes answer, before the burst."""
STOP_SECONDS: Final = 45.0
"""Bound on the wait for exit after SIGTERM (serve gives its workers 30 s)."""
GROUP_SECONDS: Final = 5.0
"""Bound on the wait for the rest of the server's process group once it has exited."""
REQUEST_SECONDS: Final = 30.0
BURST_REQUESTS: Final = 300
BURST_CONNECTIONS: Final = 8
DEPARTMENT: Final = "GZ-SCJG"
OTHER_DEPARTMENT: Final = "GZ-GA"
APPLICANT: Final = {
    "kind": "enterprise",
    "credential_kind": "uscc",
    "credential": "91440106AY4CL12T2G",
    "name": "广州市天河区示范餐饮管理有限公司",
    "phone": "02038880000",
    "address": "广州市天河区体育西路 1 号",
}
_WORKER_GAUGE: Final = re.compile(r"^caseledger_serve_worker\{([^}]*)\}", re.MULTILINE)
_LABEL: Final = re.compile(r'(\w+)="([^"]*)"')


# --- the server process --------------------------------------------------------------------


def _check_unlocked(storage: StorageURL) -> None:
    """On SQLite, fail early unless a write transaction can begin now (nothing in this
    process is holding the write lock the server's workers will need)."""
    if not storage.is_sqlite:
        return
    conn = sqlite3.connect(storage.path, timeout=5, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        raise RuntimeError(f"the demo ledger is still locked for writing: {exc}") from None
    finally:
        conn.close()


def _serve_command(ctx: DemoContext, port: int) -> tuple[list[str], dict[str, str]]:
    """argv and environment of ``caseledger serve``: the demo's storage (in the environment,
    as it may carry a password) and keystore; the passphrase from the demo's own file when it
    wrote one for this run, else in the environment, as the demo itself got it."""
    settings = ctx.runtime.settings
    argv = [sys.executable, "-m", "api.cli", "serve", "--workers", str(WORKERS)]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--keystore", str(settings.keystore_dir)]
    env = child_environment(  # ends with the demo, even a killed one
        {k: v for k, v in os.environ.items() if k not in ("CASELEDGER_NODE", PASSPHRASE_ENV)}
    )
    env["CASELEDGER_DB"] = settings.storage.url()
    secret_file = ctx.out / "keystore-passphrase.txt"
    try:
        written = secret_file.read_text(encoding="utf-8").strip()
    except OSError:
        written = ""
    if written and written == settings.passphrase:
        argv += ["--passphrase-file", str(secret_file)]
    else:
        env[PASSPHRASE_ENV] = settings.passphrase
    return argv, env


def _start(ctx: DemoContext, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    argv, env = _serve_command(ctx, port)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the workers go with it on kill
        )
    return process, port


def _wait_healthy(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"caseledger serve exited ({process.returncode}) before it answered: " + _tail(log)
            )
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"caseledger serve did not answer /healthz in {READY_SECONDS:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM, a bounded wait, then SIGKILL to its whole process group (its own session:
    only what this stage started); its exit code, or None when it had to be killed."""
    code: int | None = process.poll()
    if code is None:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            process.wait(10)
    # Its helpers (multiprocessing's resource tracker) end with it; give them a moment.
    deadline = time.monotonic() + GROUP_SECONDS
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _group_alive(process.pid):
        _kill_group(process.pid)
    return code


def _group_alive(group: int) -> bool:
    """Whether a process of ``group`` still runs (on Linux, an exited one waiting to be
    reaped by init does not count)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and fields[2] == str(group) and fields[0] != "Z":
            return True
    return False


def _kill_group(group: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


def _tail(log: Path, lines: int = 12) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.strip().splitlines()[-lines:])


# --- the client (standard library only) ----------------------------------------------------


def _call(
    base: str,
    method: str,
    path: str,
    token: str,
    body: Any = None,
    *,
    key: str | None = None,
    raw: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    """One request; its status and decoded JSON answer (4xx/5xx included)."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = content_type
    if key is not None:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_SECONDS) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        with exc:
            text = exc.read()
        try:
            return exc.code, json.loads(text or b"null")
        except ValueError:
            return exc.code, text.decode("utf-8", "replace")


def _expect(what: str, status: int, answer: Any, wanted: int) -> Any:
    if status != wanted:
        raise RuntimeError(f"{what}: HTTP {status}, expected {wanted}: {answer}")
    return answer


def _multipart(filename: str, media_type: str, data: bytes) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body with one field ``file`` (RFC 7578)."""
    boundary = f"caseledger-{uuid.uuid4().hex}"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {media_type}\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


def _window_item(ledger: Any) -> Any:
    """The first published, not withdrawn item of DEPARTMENT handled at the window."""
    from ledger.domain.catalogue import HandlingMode, ServiceItem

    head = ledger.chain.chain_head()
    size = head.sequence if head else 0
    for start in range(1, size + 1, 20_000):
        for e in ledger.chain.select_entries(start, 20_000):
            if not e.topic.endswith("ServiceItem.Published"):
                continue
            item = ledger.repository.get(e.originator_id)
            if (
                isinstance(item, ServiceItem)
                and not item.withdrawn
                and item.current_guide.department == DEPARTMENT
                and HandlingMode.WINDOW in item.current_guide.handling_modes
            ):
                return item
    raise RuntimeError(f"no published {DEPARTMENT} item handled at the window")


def _walk(base: str, token: str, other: str, item: Any) -> dict[str, Any]:
    """Materials, applicant, case (twice with one key), progress, another department."""
    guide = item.current_guide
    code = guide.implementation_code
    materials = []
    for spec in guide.materials:
        if not (spec.required and spec.window):
            continue
        pdf = f"%PDF-1.7\n% {code} {spec.code} ({spec.name})\n%%EOF\n".encode()
        body, content_type = _multipart(f"{spec.code.lower()}.pdf", "application/pdf", pdf)
        status, ref = _call(
            base, "POST", "/v1/materials", token, raw=body, content_type=content_type
        )
        ref = _expect("POST /v1/materials", status, ref, 201)
        materials.append(
            {
                "code": spec.code,
                "form": "e_copy",
                "sha256": ref["sha256"],
                "size": ref["size"],
                "media_type": ref["media_type"],
            }
        )
    status, applicant = _call(base, "POST", "/v1/applicants", token, APPLICANT)
    applicant = _expect("POST /v1/applicants", status, applicant, 201)
    case = {
        "item_code": code,
        "applicant_id": applicant["id"],
        "channel": "window",
        "handling_mode": "window",
        "delivery": "on_site",
        "materials": materials,
    }
    key = str(uuid.uuid4())
    submitted, first = _call(base, "POST", "/v1/cases", token, case, key=key)
    first = _expect("POST /v1/cases", submitted, first, 201)
    repeated, again = _call(base, "POST", "/v1/cases", token, case, key=key)
    again = _expect("POST /v1/cases (repeat)", repeated, again, 201)
    serial = first["serial"]
    read, progress = _call(base, "GET", f"/v1/cases/{serial}", token)
    progress = _expect(f"GET /v1/cases/{serial}", read, progress, 200)
    elsewhere, _ = _call(base, "GET", f"/v1/cases/{serial}", other)
    return {
        "item": code,
        "materials_uploaded": len(materials),
        "applicant_id": applicant["id"],
        "serial": serial,
        "submit_status": submitted,
        "repeat_status": repeated,
        "repeat_same_serial": again.get("serial") == serial,
        "progress_status": read,
        "progress_state": progress.get("state"),
        "other_department": OTHER_DEPARTMENT,
        "other_department_status": elsewhere,
    }


# --- the burst -----------------------------------------------------------------------------


def _worker_of(conn: http.client.HTTPConnection) -> str:
    """``index [pid]`` of the worker process holding this keep-alive connection."""
    conn.request("GET", "/metrics")
    answer = conn.getresponse()
    text = answer.read().decode("utf-8", "replace")
    found = _WORKER_GAUGE.search(text)
    if found is None:
        return "?"
    labels = dict(_LABEL.findall(found.group(1)))
    return f"{labels.get('worker', '?')} [{labels.get('pid', '?')}]"


def _wait_for_workers(port: int) -> set[str]:
    """Fresh connections until both workers have answered one (bounded); the ones seen."""
    seen: set[str] = set()
    deadline = time.monotonic() + SECOND_WORKER_SECONDS
    while len(seen) < WORKERS and time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_SECONDS)
        try:
            seen.add(_worker_of(conn))
        finally:
            conn.close()
        if len(seen) < WORKERS:
            time.sleep(0.05)
    return seen


def _burst(port: int, token: str, serial: str) -> dict[str, Any]:
    """BURST_REQUESTS progress GETs of ``serial`` over BURST_CONNECTIONS keep-alive
    connections, one thread each, started together after one untimed GET each (the first
    read in a process opens the vault for the masked applicant)."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    by_worker: Counter[str] = Counter()
    errors: list[str] = []
    lock = threading.Lock()
    gate = threading.Barrier(BURST_CONNECTIONS + 1)

    def client(count: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_SECONDS)
        mine: list[float] = []
        codes: Counter[int] = Counter()
        worker = "?"
        try:
            worker = _worker_of(conn)
            conn.request("GET", f"/v1/cases/{serial}", headers=headers)  # warm-up, not timed
            conn.getresponse().read()
            gate.wait()
            for _ in range(count):
                began = time.perf_counter()
                conn.request("GET", f"/v1/cases/{serial}", headers=headers)
                answer = conn.getresponse()
                answer.read()
                mine.append(time.perf_counter() - began)
                codes[answer.status] += 1
        except Exception as exc:  # reported, not raised: the stage stops the server next
            errors.append(f"{type(exc).__name__}: {exc}")
            gate.abort()
        finally:
            conn.close()
        with lock:
            latencies.extend(mine)
            statuses.update(codes)
            by_worker[worker] += len(mine)

    counts = [
        BURST_REQUESTS // BURST_CONNECTIONS + (i < BURST_REQUESTS % BURST_CONNECTIONS)
        for i in range(BURST_CONNECTIONS)
    ]
    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in counts]
    for t in threads:
        t.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # a client failed: reported
        gate.wait(REQUEST_SECONDS)
    began = time.perf_counter()
    for t in threads:
        t.join(REQUEST_SECONDS * 2)
    seconds = time.perf_counter() - began
    latencies.sort()

    def quantile(q: float) -> float:
        if not latencies:
            return 0.0
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * q))] * 1000, 2)

    return {
        "requests": len(latencies),
        "connections": BURST_CONNECTIONS,
        "seconds": round(seconds, 3),
        "per_second": round(len(latencies) / seconds, 1) if seconds > 0 else 0.0,
        "p50_ms": quantile(0.50),
        "p99_ms": quantile(0.99),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "by_worker": dict(sorted(by_worker.items())),
        "errors": errors,
    }


# --- the stage -----------------------------------------------------------------------------


def run(ctx: DemoContext) -> None:
    from api.tokens import Role, token_store

    started = time.perf_counter()
    runtime = ctx.runtime
    storage = runtime.settings.storage
    item = _window_item(runtime.ledger)
    tokens = token_store(storage)
    tokens.migrate()
    token = tokens.create(Role.DEPARTMENT.value, DEPARTMENT, "demo http stage", system=True)
    other = tokens.create(Role.DEPARTMENT.value, OTHER_DEPARTMENT, "demo http stage", system=True)
    supervisor = tokens.create(Role.SUPERVISOR.value, "", "demo http stage", system=True)
    out = ctx.out / "http"
    out.mkdir(parents=True, exist_ok=True)
    log = out / "serve.log"
    _check_unlocked(storage)
    process, port = _start(ctx, log)
    base = f"http://127.0.0.1:{port}"
    summary: dict[str, Any] = {"address": f"127.0.0.1:{port}", "workers": WORKERS}
    summary.update(server_pid=process.pid, log=str(log))
    try:
        _wait_healthy(process, base, log)
        summary["ready_seconds"] = round(time.perf_counter() - started, 2)
        summary.update(_walk(base, token, other, item))
        summary["accountability"] = accountability.walk(
            _call,
            base,
            runtime.ledger,
            {DEPARTMENT: token, OTHER_DEPARTMENT: other},
            supervisor,
            APPLICANT,
        )
        seen = sorted(_wait_for_workers(port))
        summary["workers_seen"] = seen
        summary["worker_pids"] = [int(p) for w in seen for p in re.findall(r"\[(\d+)\]", w)]
        summary["burst"] = _burst(port, token, summary["serial"])
    finally:
        stopping = time.perf_counter()
        code = _stop(process)
        summary["stop_seconds"] = round(time.perf_counter() - stopping, 2)
        for t in (token, other, supervisor):
            tokens.revoke(t.split("_")[1])
    summary["exit_code"] = code
    summary["stopped"] = "SIGTERM" if code is not None else "killed after SIGTERM timed out"
    summary["seconds"] = round(time.perf_counter() - started, 2)
    ctx.summary["http"] = summary
    if code != 0:
        raise RuntimeError(f"caseledger serve did not exit 0 on SIGTERM ({code}): {_tail(log)}")


def lines(ctx: DemoContext) -> list[str]:
    s = ctx.summary.get("http")
    if not s:
        return []
    repeat = "same serial" if s["repeat_same_serial"] else "A DIFFERENT SERIAL"
    out = [
        f"http           serve --workers {s['workers']} on {s['address']} (own process, "
        f"ready in {s['ready_seconds']} s): {s['materials_uploaded']} materials uploaded; "
        f"POST /v1/cases {s['submit_status']} {s['serial']} ({s['item']}, window), repeat "
        f"with its Idempotency-Key {s['repeat_status']} → {repeat}; GET progress "
        f"{s['progress_state']}; {s['other_department']} token {s['other_department_status']}"
    ]
    b = s["burst"]
    workers = ", ".join(f"{w} ×{n}" for w, n in b["by_worker"].items())
    failed = sum(n for code, n in b["statuses"].items() if code != "200") + len(b["errors"])
    out.append(
        f"http burst     {b['requests']} progress GETs over {b['connections']} keep-alive "
        f"connections in {b['seconds']} s: {b['per_second']:,.0f}/s, p50 {b['p50_ms']} ms, "
        f"p99 {b['p99_ms']} ms"
        + (f", {failed} FAILED" if failed else "")
        + f"; answered by workers {workers}; SIGTERM → exit {s['exit_code']}"
    )
    if "accountability" in s:
        out.extend(accountability.lines(s["accountability"]))
    return out


STAGE = Stage("http", run, lines)
