"""``caseledger demo``: the project's shop window, on the embedded SQLite default (or the
PostgreSQL database ``--db`` names).

Layer: api. Seeds a city (departments, kiosks, a supervisor, each with its own
signing key), drives the scenario through the same application services the
HTTP API uses, verifies the chain, and writes a summary under ``--out``.
Every finished capability adds a stage here. The summary ends with a "next" block of
complete commands that serve this demo's ledger (its keystore, its passphrase file, its
node's data), make a token for each role and check its proofs again.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import secrets
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from api.bootstrap import Runtime, enrol_actor, open_runtime, rotate_actor_key
from api.settings import Settings
from ledger.chain.signing import Ed25519Signer
from ledger.chain.verification import verify_chain
from ledger.domain.keys import KeyRole
from ledger.storage.keystore import PASSPHRASE_ENV
from ledger.storage.urls import parse_storage_url

#: Departments of the demo city: (code, name, city).
DEPARTMENTS: tuple[tuple[str, str, str], ...] = (
    ("GZ-ZWFW", "广州市政务服务数据管理局", "广州"),
    ("GZ-SCJG", "广州市市场监督管理局", "广州"),
    ("GZ-GA", "广州市公安局", "广州"),
    ("GZ-RSJ", "广州市人力资源和社会保障局", "广州"),
    ("GZ-ZJ", "广州市住房和城乡建设局", "广州"),
    ("NH-XZFW", "佛山市南海区行政服务中心", "佛山"),
    ("FZ-SPJ", "福州市行政审批局", "福州"),
    ("FZ-WJW", "福州市卫生健康委员会", "福州"),
)
KIOSKS: tuple[str, ...] = ("GZ-TH-001", "GZ-YX-002", "NH-GC-003", "FZ-GL-004")


@dataclass
class DemoContext:
    runtime: Runtime
    rng: random.Random
    out: Path
    signers: dict[str, Ed25519Signer] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    running: dict[str, Any] = field(default_factory=dict)  # processes and workers of stages


def _stage_city(ctx: DemoContext) -> None:
    """Enrol every department, kiosk and the supervisor with its own key."""
    for code, _name, _city in DEPARTMENTS:
        ctx.signers[f"dept:{code}"] = enrol_actor(
            ctx.runtime, f"dept:{code}", KeyRole.DEPARTMENT, department=code
        )
    for kiosk in KIOSKS:
        ctx.signers[f"kiosk:{kiosk}"] = enrol_actor(ctx.runtime, f"kiosk:{kiosk}", KeyRole.KIOSK)
    ctx.signers["supervisor"] = enrol_actor(ctx.runtime, "supervisor:city", KeyRole.SUPERVISOR)
    # Scheduled rotation of one seal key, and a kiosk key reported lost.
    ctx.signers["dept:GZ-SCJG"] = rotate_actor_key(ctx.runtime, "dept:GZ-SCJG", "annual rotation")
    lost = ctx.signers.pop(f"kiosk:{KIOSKS[-1]}")
    ctx.runtime.ledger.revoke_key(
        lost.key_id, "terminal reported lost", by=ctx.runtime.platform_signer()
    )
    ctx.runtime.keystore.retire(lost.key_id)
    ctx.summary["city"] = {
        "departments": len(DEPARTMENTS),
        "kiosks": len(KIOSKS),
        "keys_rotated": 1,
        "keys_revoked": 1,
    }


def _city_lines(ctx: DemoContext) -> list[str]:
    city = ctx.summary["city"]
    return [
        f"city           {city['departments']} departments, {city['kiosks']} kiosks, "
        f"1 supervisor; {city['keys_rotated']} seal key rotated, "
        f"{city['keys_revoked']} kiosk key revoked"
    ]


@dataclass(frozen=True)
class Stage:
    """One part of the demo: ``run`` drives it, ``lines`` reports it in the summary."""

    name: str
    run: Callable[[DemoContext], None]
    lines: Callable[[DemoContext], list[str]]


#: Stage modules added by later capabilities: each exposes ``STAGE: Stage`` (or names
#: another attribute after a colon).
STAGE_MODULES = (
    "api.demo.anchoring:START",
    "api.demo.cases",
    "api.demo.intake",
    "api.demo.services",
    "api.demo.officials",
    "api.demo.results",
    "api.demo.anchoring",
    "api.demo.supervision",
    "api.demo.archive",
    "api.demo.kiosk",
    "api.demo.http",
    "api.demo.custody",
)


def stages() -> list[Stage]:
    found = [Stage("city", _stage_city, _city_lines)]
    for spec in STAGE_MODULES:
        name, _, attribute = spec.partition(":")
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        found.append(getattr(module, attribute or "STAGE"))
    return found


def _demo_settings(db: str | None, out: Path) -> tuple[Settings, Path | None]:
    """Fresh storage under ``out`` (unless --db), and a passphrase for a throw-away keystore."""
    passphrase = os.environ.get(PASSPHRASE_ENV, "")
    secret_file = None
    if not passphrase:
        passphrase = secrets.token_urlsafe(24)
        secret_file = out / "keystore-passphrase.txt"
    storage = parse_storage_url(db or f"sqlite:///{out / 'caseledger.sqlite3'}")
    settings = Settings(storage=storage, keystore_dir=out / "keys", passphrase=passphrase)
    if secret_file is not None:
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(passphrase + "\n")
    return settings, secret_file


def _fresh(out: Path, db: str | None) -> None:
    """Remove a previous run's ledger and everything kept beside it (keys, data keys,
    materials, read models), so that a new keystore never meets old sealed data."""
    shutil.rmtree(out / "keys", ignore_errors=True)
    ledgers = [out / "caseledger.sqlite3"]
    if db is not None and parse_storage_url(db).is_sqlite:
        ledgers.append(Path(parse_storage_url(db).path))
    for ledger in ledgers:
        for path in ledger.parent.glob(ledger.name + "*"):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        shutil.rmtree(ledger.parent / f"{ledger.stem}.views", ignore_errors=True)


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """SIGTERM (a service manager's stop, ``timeout``'s) unwinds the demo as Ctrl-C does, so
    the stages' cleanups stop the node and the server they started: Python's default ends
    the process at once and left both running. Exit status 128 + 15."""

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: signals are not ours to take
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_demo(*, db: str | None, out: Path, seed: int) -> int:
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    _fresh(out, db)
    settings, secret_file = _demo_settings(db, out)
    runtime = open_runtime(settings, migrate=True)
    if runtime.ledger.chain.chain_head() is None or runtime.ledger.chain.chain_head().sequence != 1:  # type: ignore[union-attr]
        print("caseledger demo: the database is not empty; give an empty --db")
        return 2
    ctx = DemoContext(runtime=runtime, rng=random.Random(seed), out=out)
    with _sigterm_unwinds():
        try:
            for stage in stages():
                stage.run(ctx)
            report = verify_chain(runtime.ledger.chain)
        finally:
            for cleanup in ctx.running.get("cleanups", []):
                cleanup()
            runtime.close()
    ctx.summary["verify"] = report.as_dict()
    ctx.summary["seconds"] = round(time.perf_counter() - started, 2)
    (out / "summary.json").write_text(
        json.dumps(ctx.summary, indent=1, ensure_ascii=False), encoding="utf-8"
    )
    _print_summary(ctx, settings, secret_file, report.ok)
    return 0 if report.ok else 1


def _print_summary(
    ctx: DemoContext, settings: Settings, secret_file: Path | None, ok: bool
) -> None:
    s = ctx.summary
    v = s["verify"]
    where = (
        "the embedded SQLite ledger"
        if settings.storage.is_sqlite
        else f"PostgreSQL ({settings.storage.redacted()})"
    )
    print(f"caseledger demo — a city on {where}")
    print(f"  storage        {settings.storage.redacted()}")
    print(
        f"  keystore       {settings.keystore_dir} (sealed with a passphrase"
        + (f" kept in {secret_file})" if secret_file else f" from ${PASSPHRASE_ENV})")
    )
    for stage in stages():
        for line in stage.lines(ctx):
            print(f"  {line}")
    print(
        f"  chain          {v['head_sequence']:,} entries in {v['commands']:,} signed commands, "
        f"head {v['head_hash'][:16]}…"
    )
    verdict = "verified" if ok else f"FAILED: {v['failure']}"
    print(f"  verify         {verdict} ({v['checked']:,} entries, {v['seconds']} s)")
    print(f"  summary        {ctx.out / 'summary.json'}")
    print(f"  finished in {s['seconds']} s")
    print()
    for line in next_steps(ctx, settings, secret_file):
        print(line)


SERVE_PORT = 8080
NODE_PORT = 8700
#: One token per role of the HTTP API (api.tokens.Role): (variable, role, extra options).
ROLE_TOKENS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ADMIN", "admin", ("--name", "demo-admin")),
    ("DEPT", "department", ("--department", "GZ-SCJG", "--system", "--name", "demo-scjg")),
    ("SUP", "supervisor", ("--official", "ZWFW-J01", "--name", "demo-supervisor")),
    ("AUD", "auditor", ("--name", "demo-auditor")),
    ("ARCH", "archivist", ("--name", "demo-archivist")),
    ("KIOSK", "kiosk", ("--name", KIOSKS[0])),
)


def program() -> str:
    """How to run ``caseledger`` from here: the name when it is on PATH, else the console
    script beside this interpreter (``.venv/bin/caseledger``), else ``python -m api.cli``."""
    script = Path(sys.executable).with_name("caseledger")
    found = shutil.which("caseledger")
    if found and script.exists() and Path(found).resolve() == script.resolve():
        return "caseledger"
    if script.exists():
        return shlex.quote(_here(script))
    return f"{shlex.quote(sys.executable)} -m api.cli"


def _here(path: Path | str) -> str:
    """``path`` relative to the working directory when it lies inside it, else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def next_steps(ctx: DemoContext, settings: Settings, secret_file: Path | None) -> list[str]:
    """The "next" block: complete shell lines, run from this directory, that start the demo's
    node again, serve its ledger with its keystore and passphrase, make a token per role, name
    the dashboard, kiosk and API docs, and verify the chain and a proof bundle offline."""
    cl = program()
    q = shlex.quote
    db = q(settings.storage.redacted())
    base = f"http://127.0.0.1:{SERVE_PORT}"
    anchoring = ctx.summary.get("anchoring", {})
    kiosk = ctx.summary.get("kiosk", {}).get("walk_through", {})
    out = ["next — try it, from this directory (copy the lines into a shell):"]
    serve = [cl, "serve", "--db", db, "--keystore", q(_here(settings.keystore_dir))]
    if secret_file is not None:
        serve += ["--passphrase-file", q(_here(secret_file))]
    if anchoring:
        node = f"http://127.0.0.1:{NODE_PORT}"
        out.append(
            f"  {cl} node serve --data {q(_here(ctx.out / 'node'))} --port {NODE_PORT} &"
            "   # the demo's anchor node, again"
        )
        serve += ["--node", node]
    serve += ["--port", str(SERVE_PORT), "&"]
    if not settings.storage.is_sqlite and anchoring:
        serve.insert(0, f"CASELEDGER_TRUST_POLICY={q(_here(anchoring['policy']))}")
    out.append("  " + " ".join(serve))
    for variable, role, extra in ROLE_TOKENS:
        options = " ".join(q(o) for o in extra)
        out.append(f"  {variable}=$({cl} token create --db {db} --role {role} {options})")
    out.append(f'  echo "dashboard  {base}/supervision?token=$SUP"')
    if kiosk.get("serial"):
        out.append(
            f'  echo "kiosk      {base}/kiosk  (paste $KIOSK once; serial {kiosk["serial"]}, '
            f'code {kiosk["code"]})"'
        )
    else:
        out.append(f'  echo "kiosk      {base}/kiosk  (paste $KIOSK once)"')
    out.append(f'  echo "API docs   {base}/docs  (Authorize with a token, e.g. $DEPT)"')
    verify = f"  {cl} verify --db {db}"
    if anchoring:
        verify += f" --checkpoint {q(_here(anchoring['checkpoint']))}"
        verify += f" --policy {q(_here(anchoring['policy']))}"
        out.append(verify)
        out.append(
            f"  {cl} bundle verify {q(_here(anchoring['bundle']))} "
            f"--policy {q(_here(anchoring['policy']))}   # offline: no database, no network"
        )
    else:
        out.append(verify)
    if settings.storage.password:
        out.append("  (the database URLs above leave out its password: add it, or set PGPASSWORD)")
    return out
