"""Trust roots cannot be swapped quietly: ``caseledger verify --policy`` against forged policies.

Written as an attacker with write access to the database (and, where said, a stolen platform
key) but not the ledger's checkpoint key nor the node's validators. Each attack runs on a real
SQLite file and a real PostgreSQL schema, with a real node process; ``caseledger`` runs its real
code (``api.cli.main.main``). Ledgers "anchored before Configured existed" are built with the
old recording behaviour (``tests.anchors.forge.LegacyAnchors``): they record the checkpoint key
only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from anchors.codec import canonical_json
from anchors.policy import parse_policy
from anchors.policy_check import verify_as_recorded
from anchors.recorded import read_recorded
from anchors.worker import AnchoringWorker
from api.cli.main import main
from api.demo import attacks
from ledger.chain.verification import verify_chain
from ledger.domain.anchoring import (
    ANCHOR_CONFIGURED_TOPIC,
    ANCHOR_OPENED_TOPIC,
    ANCHORED_TOPIC,
    AnchorLog,
)
from ledger.encoding import canonical, decode
from tests.anchors.fixtures import (
    Anchored,
    shared_node_fixture,  # noqa: F401
    wire,
)
from tests.anchors.forge import (
    LegacyAnchors,
    attacker_keys,
    forged_checkpoint,
    forged_policy,
    write_policy,
)
from tests.anchors.processes import NodeProcess
from tests.helpers import new_ledger


def rewrite_chain(
    a: Anchored, sequence: int, change: Callable[[dict[str, Any]], None] | None = None
) -> None:
    """Alter the event at ``sequence`` (its actor, or what ``change`` does to its state) and
    re-sign every later command: an attacker holding every key of the ledger."""
    url = a.ledger.url
    ((state,),) = attacks.run_sql(
        url,
        "SELECT state FROM stored_events WHERE rowid = "
        "(SELECT notification_id FROM chain_entries WHERE sequence = ?)",
        (sequence,),
    )
    value = decode(bytes(state))
    if change is None:
        value["actor"] = str(value.get("actor", "")) + " (rewritten)"
    else:
        change(value)
    attacks.rewrite_event(url, sequence, canonical(value), a.ledger.keys)


def _legacy(a: Anchored) -> Anchored:
    legacy = LegacyAnchors(
        a.anchors.app,
        a.anchors.tree,
        a.anchors.origin,
        a.anchors.checkpoint_key,
        a.anchors.platform,
    )
    worker = AnchoringWorker(legacy, a.worker.client)
    return dataclasses.replace(a, anchors=legacy, worker=worker)


def _anchor(a: Anchored, rounds: int = 3) -> None:
    for _ in range(rounds):
        a.ledger.note(lines=3)
        a.worker.anchor_once()


@pytest.fixture(params=["current", "legacy"])
def anchored(
    request: pytest.FixtureRequest, storage_url: str, shared_node: NodeProcess, tmp_path: Path
) -> Iterator[Anchored]:
    """A ledger anchored three times, with the honest policy at tmp_path/policy.json."""
    a = wire(new_ledger(storage_url), shared_node.url)
    if request.param == "legacy":
        a = _legacy(a)
    _anchor(a)
    a.ledger.note(lines=1)
    yield a
    a.close()


def _policy_file(
    a: Anchored, node: NodeProcess, path: Path, capsys: pytest.CaptureFixture[str]
) -> str:
    assert main(["policy", "--db", a.ledger.url, "--node", node.url, "-o", str(path)]) == 0
    out = capsys.readouterr().out
    assert "fingerprint sha256:" in out
    return str(path)


def _verify(url: str, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(["verify", "--db", url, "--json", *args])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip().startswith("{") else {}


def _sequences(a: Anchored, topic: str) -> list[int]:
    entries = a.ledger.app.chain.select_entries_of(AnchorLog.create_id(a.anchors.origin))
    return [e.sequence for e in entries if e.topic == topic]


def _failure(report: dict) -> dict:
    failure = report["anchors"]["failure"]
    assert failure is not None, report
    return failure


# --- the honest case ---------------------------------------------------------------------------


def test_the_honest_policy_alone_checks_every_recorded_anchor(
    anchored: Anchored, shared_node: NodeProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = _policy_file(anchored, shared_node, tmp_path / "policy.json", capsys)
    code, report = _verify(anchored.ledger.url, "--policy", policy, capsys=capsys)
    assert code == 0, report
    assert report["anchors"]["anchors_recorded"] == 3
    fingerprint = parse_policy(Path(policy).read_bytes()).fingerprint_text()
    assert report["policy"]["fingerprint"] == fingerprint
    assert report["anchors"]["policy_fingerprint"] == fingerprint
    # the recorded receipts also verify under the configuration the chain itself recorded,
    # except on a ledger anchored before that record existed
    recorded = read_recorded(anchored.ledger.app.chain, anchored.anchors.origin)
    assert recorded is not None
    verified, unchecked, failure = verify_as_recorded(
        recorded, (anchored.ledger.platform.public_key,)
    )
    legacy = not _sequences(anchored, ANCHOR_CONFIGURED_TOPIC)
    assert failure is None
    assert (len(verified), unchecked) == ((0, 3) if legacy else (3, 0))


def test_the_chain_records_the_configuration_it_was_anchored_under(
    storage_url: str, shared_node: NodeProcess
) -> None:
    a = wire(new_ledger(storage_url), shared_node.url)
    _anchor(a, 2)
    log = a.anchors.anchor_log()
    policy = a.worker.policy()
    assert log is not None
    assert (log.checkpoint_key, log.node, log.threshold) == (
        policy.checkpoint_key.to_key(),
        policy.node,
        policy.threshold,
    )
    assert log.validators == [v.to_key() for v in policy.validators]
    # recorded once, in the first receipt's command, not again while it does not change
    assert len(_sequences(a, ANCHOR_CONFIGURED_TOPIC)) == 1
    opened, configured = _sequences(a, ANCHOR_OPENED_TOPIC), _sequences(a, ANCHOR_CONFIGURED_TOPIC)
    assert configured[0] == opened[0] + 1 == _sequences(a, ANCHORED_TOPIC)[0] - 1
    a.close()


# --- forged policies ---------------------------------------------------------------------------


def test_a_forged_policy_and_checkpoint_over_a_rewritten_ledger_fail(
    anchored: Anchored, shared_node: NodeProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's attack: rewrite with a stolen platform key, then bring a policy naming the
    attacker's checkpoint key and validators and a checkpoint they signed of the rewritten log."""
    a = anchored
    honest = parse_policy(
        Path(_policy_file(a, shared_node, tmp_path / "p.json", capsys)).read_bytes()
    )
    rewrite_chain(a, 2)
    assert verify_chain(a.ledger.app.chain).ok  # every key stolen: the chain alone passes
    keys = attacker_keys(a.anchors.origin)
    policy = write_policy(tmp_path / "forged.json", forged_policy(honest, keys))
    checkpoint = tmp_path / "forged.txt"
    checkpoint.write_text(forged_checkpoint(a.ledger.app.chain, keys), encoding="utf-8")
    code, report = _verify(
        a.ledger.url, "--policy", policy, "--checkpoint", str(checkpoint), capsys=capsys
    )
    assert code == 1 and not report["ok"]
    failure = _failure(report)
    assert failure["reason"] == "policy-mismatch"
    assert failure["sequence"] == _sequences(a, ANCHOR_OPENED_TOPIC)[0]
    assert "checkpoint key" in failure["detail"]
    # Plain text names the sequence and the forged policy's fingerprint.
    assert main(["verify", "--db", a.ledger.url, "--policy", policy]) == 1
    out = capsys.readouterr().out
    assert f"FAILED at sequence {failure['sequence']}" in out
    assert parse_policy(Path(policy).read_bytes()).fingerprint_text() in out


def test_honest_recorded_anchors_that_disagree_with_the_policy_fail_naming_the_first(
    storage_url: str, shared_node: NodeProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a ledger that recorded only its checkpoint key, a policy keeping that key but naming
    other validators meets receipts it cannot verify: a failure at the first, never 'ignored'."""
    a = _legacy(wire(new_ledger(storage_url), shared_node.url))
    _anchor(a)
    honest = parse_policy(
        Path(_policy_file(a, shared_node, tmp_path / "p.json", capsys)).read_bytes()
    )
    keys = attacker_keys(a.anchors.origin)
    policy = write_policy(
        tmp_path / "swapped.json", forged_policy(honest, keys, checkpoint_key=honest.checkpoint_key)
    )
    code, report = _verify(a.ledger.url, "--policy", policy, capsys=capsys)
    failure = _failure(report)
    assert code == 1
    assert failure["reason"] == "anchor-rejected"
    assert failure["sequence"] == _sequences(a, ANCHORED_TOPIC)[0]
    assert "does not verify" in failure["detail"]
    # With the node as well: its honest checkpoints do not rescue the policy either.
    code, report = _verify(
        a.ledger.url, "--policy", policy, "--node", shared_node.url, capsys=capsys
    )
    assert code == 1 and _failure(report)["reason"] == "anchor-rejected"
    a.close()


def test_a_recorded_receipt_altered_with_the_stolen_platform_key_fails_at_its_sequence(
    storage_url: str, shared_node: NodeProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = wire(new_ledger(storage_url), shared_node.url)
    _anchor(a)
    policy = _policy_file(a, shared_node, tmp_path / "p.json", capsys)
    second = _sequences(a, ANCHORED_TOPIC)[1]

    def drop_a_cosignature(value: dict) -> None:
        lines = value["checkpoint"].split("\n")
        del lines[-2]  # the last cosignature line (the note ends with a newline)
        value["checkpoint"] = "\n".join(lines)

    rewrite_chain(a, second, drop_a_cosignature)
    assert verify_chain(a.ledger.app.chain).ok
    code, report = _verify(a.ledger.url, "--policy", policy, capsys=capsys)
    failure = _failure(report)
    assert code == 1
    assert (failure["reason"], failure["sequence"]) == ("anchor-rejected", second)
    assert "2 validator cosignature(s), the policy needs 3" in failure["detail"]
    # with no policy at all, under the configuration the chain itself recorded
    recorded = read_recorded(a.ledger.app.chain, a.anchors.origin)
    assert recorded is not None
    verified, unchecked, failure_ = verify_as_recorded(recorded, (a.ledger.platform.public_key,))
    assert failure_ is not None and (failure_.reason, failure_.sequence) == (
        "anchor-rejected",
        second,
    )
    assert len(verified) == 1 and unchecked == 0
    a.close()


def test_a_threshold_lowered_to_one_is_refused(
    anchored: Anchored, shared_node: NodeProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = anchored
    value = json.loads(Path(_policy_file(a, shared_node, tmp_path / "p.json", capsys)).read_bytes())
    value["anchor_node"]["threshold"] = 1
    lowered = write_policy(tmp_path / "k1.json", value)
    legacy = not _sequences(a, ANCHOR_CONFIGURED_TOPIC)
    if not legacy:  # the chain recorded k: refused from the database alone
        code, report = _verify(a.ledger.url, "--policy", lowered, capsys=capsys)
        failure = _failure(report)
        assert code == 1 and failure["reason"] == "threshold-lowered"
        assert failure["sequence"] == _sequences(a, ANCHOR_CONFIGURED_TOPIC)[0]
    # asked with the node: refused against the k the node publishes, whatever the chain holds
    code, report = _verify(
        a.ledger.url, "--policy", lowered, "--node", shared_node.url, capsys=capsys
    )
    failure = _failure(report)
    assert code == 1 and failure["reason"] == "threshold-lowered"
    assert "requires 3" in failure["detail"]


def test_a_policy_for_another_ledger_or_origin_fails(
    anchored: Anchored, shared_node: NodeProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = anchored
    honest = parse_policy(
        Path(_policy_file(a, shared_node, tmp_path / "p.json", capsys)).read_bytes()
    )
    keys = attacker_keys("caseledger.elsewhere.example/0000000000000000")
    other = forged_policy(honest, keys, origin="caseledger.elsewhere.example/0000000000000000")
    code, report = _verify(
        a.ledger.url, "--policy", write_policy(tmp_path / "o.json", other), capsys=capsys
    )
    assert code == 1 and _failure(report)["reason"] == "policy-origin"
    # the same ledger id under another city: this ledger never anchored under that origin
    origin = a.anchors.origin.replace("testcity", "othercity")
    keys = attacker_keys(origin)
    renamed = forged_policy(honest, keys, origin=origin)
    code, report = _verify(
        a.ledger.url, "--policy", write_policy(tmp_path / "r.json", renamed), capsys=capsys
    )
    failure = _failure(report)
    assert code == 1 and failure["reason"] == "not-anchored"
    assert a.anchors.origin in failure["detail"]


def test_a_malformed_full_policy_never_degrades_to_pinning_less(
    anchored: Anchored, shared_node: NodeProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    value = json.loads(
        Path(_policy_file(anchored, shared_node, tmp_path / "p.json", capsys)).read_bytes()
    )
    value["anchor_node"]["threshold"] = 0
    code = main(
        [
            "verify",
            "--db",
            anchored.ledger.url,
            "--policy",
            write_policy(tmp_path / "b.json", value),
        ]
    )
    assert code == 2
    assert "threshold" in capsys.readouterr().err


# --- fingerprints ------------------------------------------------------------------------------


def test_the_fingerprint_is_printed_stable_and_pinnable(
    anchored: Anchored, shared_node: NodeProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = anchored
    first = _policy_file(a, shared_node, tmp_path / "a.json", capsys)
    assert (
        main(
            [
                "policy",
                "--db",
                a.ledger.url,
                "--node",
                shared_node.url,
                "-o",
                str(tmp_path / "b.json"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert Path(first).read_bytes() == (tmp_path / "b.json").read_bytes()
    # SHA-256 over the canonical JSON of the policy, computed here without our code's help
    value = json.loads(Path(first).read_bytes())
    expected = (
        "sha256:"
        + hashlib.sha256(
            json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        ).hexdigest()
    )
    assert expected == "sha256:" + hashlib.sha256(canonical_json(value)).hexdigest()
    assert f"fingerprint {expected}" in printed
    # re-indenting the file keeps the fingerprint
    reindented = tmp_path / "c.json"
    reindented.write_text(json.dumps(value, indent=4), encoding="utf-8")
    assert main(["verify", "--db", a.ledger.url, "--policy", str(reindented)]) == 0
    out = capsys.readouterr().out
    assert f"trust policy {expected} (--policy {reindented})" in out
    # pinned: the same policy passes, any other fails with exit 1
    grouped = " ".join(expected[7:][i : i + 8] for i in range(0, 64, 8)).upper()
    assert main(["verify", "--db", a.ledger.url, "--policy", first, "--fingerprint", grouped]) == 0
    capsys.readouterr()
    value["anchor_node"]["threshold"] = 2
    other = write_policy(tmp_path / "d.json", value)
    assert main(["verify", "--db", a.ledger.url, "--policy", other, "--fingerprint", expected]) == 1
    assert "not the policy you pinned" in capsys.readouterr().out
    # offline, with no database: policy --check
    assert main(["policy", "--check", first, "--fingerprint", expected]) == 0
    assert capsys.readouterr().out.startswith(f"fingerprint {expected}\n")
    assert main(["policy", "--check", other, "--fingerprint", expected]) == 1
    capsys.readouterr()


def test_fingerprint_usage_errors_exit_2(
    anchored: Anchored, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = anchored.ledger.url
    assert main(["verify", "--db", url, "--fingerprint", "sha256:" + "00" * 32]) == 2
    pin_only = tmp_path / "pin.json"
    pin_only.write_text(
        json.dumps({"ledger": {"platform_keys": [anchored.ledger.platform.key_id.hex()]}})
    )
    assert main(["verify", "--db", url, "--policy", str(pin_only), "--fingerprint", "ab"]) == 2
    assert "--fingerprint" in capsys.readouterr().err


def test_a_node_run_by_the_attacker_is_not_trusted_on_first_use(
    anchored: Anchored, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``verify --node EVIL``: the attacker's node publishes their checkpoint key for the origin
    and cosigns their checkpoint of the rewritten log; the chain's own record disagrees."""
    from anchors import merkle
    from anchors.checkpoints import sign_checkpoint
    from anchors.node.client import NodeClient
    from anchors.node.protocol import AddCheckpoint

    a = anchored
    rewrite_chain(a, 2)
    keys = attacker_keys(a.anchors.origin)
    chain = a.ledger.app.chain
    head = chain.chain_head()
    leaves = [merkle.leaf_hash(e.entry_hash) for e in chain.select_entries(1, head.sequence)]
    evil = NodeProcess(tmp_path / "evil").start()
    try:
        client = NodeClient(evil.url)
        client.register(a.anchors.origin, keys.checkpoint.verifier().to_key())
        signed = sign_checkpoint(keys.checkpoint, len(leaves), merkle.root(leaves))
        client.add_checkpoint(AddCheckpoint(0, (), signed))
        code, report = _verify(a.ledger.url, "--node", evil.url, capsys=capsys)
    finally:
        evil.stop()
    failure = _failure(report)
    assert code == 1 and failure["reason"] == "policy-mismatch"
    assert failure["sequence"] == _sequences(a, ANCHOR_OPENED_TOPIC)[0]
    assert report["policy"]["source"].startswith("trusted on first use")


def test_a_history_invented_in_front_of_the_honest_configuration_fails(
    anchored: Anchored, shared_node: NodeProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The attacker prepends a configuration of their own, 'superseded' by the honest one,
    covering every size the honest receipts anchored. They can sign the statement as its old
    key, but a change of checkpoint key must be signed by the new (honest) key as well."""
    from anchors import note
    from anchors.policy import Supersession
    from anchors.supersession import SupersessionError, sign_supersession, statement_text

    a = anchored
    honest = parse_policy(
        Path(_policy_file(a, shared_node, tmp_path / "p.json", capsys)).read_bytes()
    )
    keys = attacker_keys(a.anchors.origin)
    invented = forged_policy(honest, keys).anchor_config()
    last = a.worker.anchored_size
    with pytest.raises(SupersessionError, match="needs the signature"):
        sign_supersession(invented, honest.anchor_config(), last, [keys.checkpoint])
    text = statement_text(invented, honest.anchor_config(), last)
    statement = note.sign_note(text, [keys.checkpoint])
    policy = dataclasses.replace(honest, supersedes=(Supersession(invented, last, statement),))
    code, report = _verify(
        a.ledger.url, "--policy", write_policy(tmp_path / "i.json", policy), capsys=capsys
    )
    failure = _failure(report)
    assert code == 1 and failure["reason"] == "policy-supersession"
    assert f"no signature of {honest.checkpoint_key.to_key()}" in failure["detail"]
