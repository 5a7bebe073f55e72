"""``caseledger verify`` with anchors catches truncation and rewrite, on SQLite and PostgreSQL.

The node runs as its own process; the CLI runs its real code (``api.cli.main.main``); the attacks
are raw SQL on the real database (api.demo.attacks). A rewrite re-signed with every stolen key
passes the chain check alone and is caught against the cosigned checkpoints, naming the first
rewritten entry; so is a cut tail.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anchors.tree import NODES_TABLE, STATE_TABLE
from api.cli.main import main
from api.demo.attacks import rename_actor, truncate
from ledger.chain.verification import verify_chain
from tests.anchors.fixtures import (
    Anchored,
    shared_node_fixture,  # noqa: F401
    wire,
)
from tests.anchors.processes import NodeProcess
from tests.helpers import new_ledger, run_sql


@pytest.fixture
def anchored(storage_url: str, shared_node: NodeProcess, tmp_path: Path) -> Anchored:
    a = wire(new_ledger(storage_url), shared_node.url)
    for _ in range(3):
        a.ledger.note(lines=3)
        a.worker.anchor_once()
    (tmp_path / "policy.json").write_bytes(a.worker.policy().to_json())
    found = a.anchors.anchor_log()
    assert found is not None
    (tmp_path / "checkpoint.txt").write_text(found.checkpoint, encoding="utf-8")
    a.ledger.note(lines=1)  # not anchored yet
    return a


def _verify(url: str, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(["verify", "--db", url, "--json", *args])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip().startswith("{") else {}


def _offline(tmp_path: Path) -> tuple[str, ...]:
    """The offline check's arguments: the exported checkpoint and the trust policy."""
    return (
        "--checkpoint",
        str(tmp_path / "checkpoint.txt"),
        "--policy",
        str(tmp_path / "policy.json"),
    )


def test_an_honest_ledger_verifies_and_reports_its_anchoring_lag(
    anchored: Anchored, shared_node: NodeProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _verify(anchored.ledger.url, "--node", shared_node.url, capsys=capsys)
    assert code == 0, report
    anchors = report["anchors"]
    assert anchors["ok"] and anchors["anchors_checked"] >= 3
    assert anchors["unanchored_entries"] == 2 + 1  # the last receipt and the last note
    assert 0 < anchors["anchored_fraction"] < 1
    assert anchors["lag_seconds"] >= 0
    code, report = _verify(anchored.ledger.url, *_offline(tmp_path), capsys=capsys)
    assert code == 0 and report["anchors"]["ok"]
    anchored.close()


def test_a_truncated_ledger_fails_naming_the_missing_sequences(
    anchored: Anchored, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    size = anchored.worker.anchored_size
    truncate(anchored.ledger.url, size - 4)
    assert verify_chain(anchored.ledger.app.chain).ok  # the chain alone cannot tell
    code, report = _verify(anchored.ledger.url, *_offline(tmp_path), capsys=capsys)
    failure = report["anchors"]["failure"]
    assert code == 1
    assert failure["reason"] == "truncated" and failure["sequence"] == size - 3
    assert f"{size - 3}..{size}" in failure["detail"]
    anchored.close()


def test_a_rewritten_ledger_fails_naming_the_first_rewritten_entry(
    anchored: Anchored, shared_node: NodeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    rename_actor(anchored.ledger.url, 2, anchored.ledger.keys)
    assert verify_chain(anchored.ledger.app.chain).ok  # every key stolen: the chain alone passes
    code, report = _verify(anchored.ledger.url, "--node", shared_node.url, capsys=capsys)
    failure = report["anchors"]["failure"]
    assert code == 1
    assert failure["reason"] == "rewritten" and failure["sequence"] == 2
    anchored.close()


def test_a_rewrite_that_also_rebuilt_the_tree_store_is_still_caught(
    anchored: Anchored, shared_node: NodeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    url = anchored.ledger.url
    rename_actor(url, 2, anchored.ledger.keys)
    run_sql(url, f"DELETE FROM {NODES_TABLE}")
    run_sql(url, f"UPDATE {STATE_TABLE} SET size = 0")
    anchored.anchors.tree.catch_up(anchored.ledger.app.chain)  # a consistent forged tree
    code, report = _verify(url, "--node", shared_node.url, capsys=capsys)
    failure = report["anchors"]["failure"]
    assert code == 1 and failure["reason"] == "rewritten"
    assert failure["sequence"] == 1  # no anchored size still matches: from the start
    anchored.close()


def test_a_checkpoint_without_keys_is_a_usage_error(
    anchored: Anchored, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["verify", "--db", anchored.ledger.url, "--checkpoint", str(tmp_path / "checkpoint.txt")]
    )
    assert code == 2
    code = main(["verify", "--db", anchored.ledger.url, "--node", "http://127.0.0.1:9"])
    assert code == 2
    assert "--node" in capsys.readouterr().err
    anchored.close()


def test_a_forged_checkpoint_file_fails(
    anchored: Anchored, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (tmp_path / "checkpoint.txt").read_text(encoding="utf-8")
    lines = text.split("\n")
    lines[1] = str(int(lines[1]) + 1)
    (tmp_path / "forged.txt").write_text("\n".join(lines), encoding="utf-8")
    code = main(
        [
            "verify",
            "--db",
            anchored.ledger.url,
            "--checkpoint",
            str(tmp_path / "forged.txt"),
            "--policy",
            str(tmp_path / "policy.json"),
        ]
    )
    assert code == 1
    assert "does not verify" in capsys.readouterr().err
    anchored.close()


def test_plain_verify_checks_the_recorded_receipts_and_reports_what_is_sealed(
    anchored: Anchored, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["verify", "--db", anchored.ledger.url])
    out = capsys.readouterr().out
    head = anchored.ledger.app.chain.chain_head()
    assert code == 0 and head is not None
    assert f"sealed: {head.sequence:,} of {head.sequence:,} entries" in out
    assert "unsealed tail 0" in out
    assert "recorded in the chain, each verified" in out
    anchored.close()


def test_plain_verify_catches_a_rewrite_with_every_key_against_the_recorded_receipts(
    anchored: Anchored, capsys: pytest.CaptureFixture[str]
) -> None:
    rename_actor(anchored.ledger.url, 2, anchored.ledger.keys)
    assert verify_chain(anchored.ledger.app.chain).ok  # every key stolen: the chain alone passes
    code, report = _verify(anchored.ledger.url, capsys=capsys)  # no flags at all
    assert code == 1 and report["chain_ok"]
    failure = report["anchors"]["failure"]
    assert (failure["reason"], failure["sequence"]) == ("rewritten", 2)
    anchored.close()
