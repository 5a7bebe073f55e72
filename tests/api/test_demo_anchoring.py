"""The demo's anchoring stage on both backends, as ``caseledger demo`` runs it (the city, then the
node as a real process, anchoring, offline proofs and the tamper demonstration on copies): on
PostgreSQL too, a whole command deleted and relinked without a key is caught by plain verify,
and the truncated and the every-key rewritten copies pass the chain check alone and are caught
by the anchors; the summary names the backend it ran on (never "embedded SQLite" for
PostgreSQL) and ends with its "next" block."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from api.bootstrap import open_runtime
from api.demo.main import DemoContext, _print_summary, stages
from api.settings import Settings
from ledger.chain.verification import verify_chain
from ledger.storage.urls import parse_storage_url

pytestmark = pytest.mark.slow

PASSPHRASE = "demo anchoring test passphrase"
RAN = ("city", "anchoring-start", "anchoring")


@pytest.fixture
def demo(storage_url: str, tmp_path: Path) -> Iterator[tuple[DemoContext, Settings]]:
    settings = Settings(parse_storage_url(storage_url), tmp_path / "keys", PASSPHRASE)
    runtime = open_runtime(settings, migrate=True)
    ctx = DemoContext(runtime=runtime, rng=random.Random(20261123), out=tmp_path)
    try:
        for stage in stages():
            if stage.name in RAN:
                stage.run(ctx)
        ctx.summary["verify"] = verify_chain(runtime.ledger.chain).as_dict()
        ctx.summary["seconds"] = 0.0
    finally:
        for cleanup in ctx.running.get("cleanups", []):
            cleanup()
        runtime.close()
    try:
        yield ctx, settings
    finally:
        if not settings.storage.is_sqlite:  # the copies are schemas beside the ledger's
            with psycopg.connect(settings.storage.conninfo, autocommit=True) as conn:
                for kind in ("keyless", "truncated", "rewritten"):
                    schema = f"{settings.storage.schema}_tampered_{kind}"
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_the_tamper_stage_catches_every_copy_on_either_backend(
    demo: tuple[DemoContext, Settings],
) -> None:
    ctx, settings = demo
    tamper = ctx.summary["anchoring"]["tamper"]
    assert set(tamper) == {"keyless", "truncated", "rewritten"}
    keyless = tamper["keyless"]
    assert keyless["plain_verify"] == "fails" and keyless["caught_by"] == "plain verify"
    assert keyless["reason"] == "bad-signature", keyless
    for kind in ("truncated", "rewritten"):
        found = tamper[kind]
        assert found["plain_verify"] == "passes", (kind, found)
        assert found["caught_by"] == "anchors", (kind, found)
        assert found["caught"] and found["reason"] == kind, (kind, found)
    assert tamper["rewritten"]["sequence"] == 2
    size = ctx.summary["anchoring"]["anchored_size"]
    assert tamper["truncated"]["sequence"] == size - 6  # the first entry the copy lacks
    if settings.storage.is_sqlite:
        assert (ctx.out / "anchoring" / "tampered-rewritten.sqlite3").exists()
    else:
        copy = tamper["rewritten"]["database"]
        assert f"schema={settings.storage.schema}_tampered_rewritten" in copy


def test_the_summary_names_its_backend_and_prints_the_tamper_results(
    demo: tuple[DemoContext, Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    ctx, settings = demo
    _print_summary(ctx, settings, None, True)
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    if settings.storage.is_sqlite:
        assert first == "caseledger demo — a city on the embedded SQLite ledger"
    else:
        assert first == f"caseledger demo — a city on PostgreSQL ({settings.storage.redacted()})"
        assert "SQLite" not in out
    for attack, caught in (
        ("a whole command deleted, chain relinked without a key", "plain verify"),
        ("the tail cut", "anchors"),
        ("an event rewritten and re-signed with every key", "anchors"),
    ):
        assert any(
            line.startswith(f"  tamper         {attack}: caught by {caught} at sequence ")
            for line in out.splitlines()
        ), (attack, out)
    assert "\nnext — try it, from this directory" in out
    assert " node serve --data " in out and " --node http://127.0.0.1:8700 --port 8080 &" in out
