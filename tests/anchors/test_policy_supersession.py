"""A validator rotation, end to end: the chain records the new configuration, the old policy no
longer verifies, a policy signed to supersede it does, and forged supersessions do not.

The ledger's keys live in a real keystore (``caseledger anchor`` and ``caseledger policy
--supersedes`` open it as an operator would); the rotation moves anchoring to a second node
process with validators of its own. Both backends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from anchors.checkpoints import checkpoint_signer
from anchors.node.client import NodeClient
from anchors.policy import parse_policy
from anchors.supersession import statement_text
from api.bootstrap import open_runtime
from api.cli.main import main
from api.settings import Settings
from ledger.domain.anchoring import ANCHOR_CONFIGURED_TOPIC, ANCHORED_TOPIC, AnchorLog
from ledger.storage.urls import parse_storage_url
from tests.anchors.forge import write_policy
from tests.anchors.processes import NodeProcess
from tests.helpers import Note

PASSPHRASE = "test passphrase for the keystore"


@dataclass
class Rotated:
    url: str
    keystore: Path
    old_node: NodeProcess
    new_node: NodeProcess
    old_policy: str  # the policy auditors held before the rotation
    origin: str

    def write(self, lines: int = 3) -> None:
        runtime = open_runtime(Settings(parse_storage_url(self.url), self.keystore, PASSPHRASE))
        try:
            note = Note(title="n")
            for i in range(lines):
                note.write(f"line {i}")
            runtime.ledger.save_signed(note, signer=runtime.platform_signer())
        finally:
            runtime.close()

    def sequences(self, topic: str) -> list[int]:
        from ledger.services.application import open_ledger

        ledger = open_ledger(self.url)
        try:
            entries = ledger.chain.select_entries_of(AnchorLog.create_id(self.origin))
            return [e.sequence for e in entries if e.topic == topic]
        finally:
            ledger.close()


def _anchor(url: str, node: NodeProcess) -> None:
    assert main(["anchor", "--db", url, "--node", node.url]) == 0


def _verify(url: str, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(["verify", "--db", url, "--json", *args])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip().startswith("{") else {}


@pytest.fixture
def rotated(
    storage_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Rotated]:
    """Anchored twice at node A under policy P1, then anchoring moved to node B (rotation)."""
    keystore = tmp_path / "keys"
    monkeypatch.setenv("CASELEDGER_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("CASELEDGER_KEYSTORE", str(keystore))
    open_runtime(
        Settings(parse_storage_url(storage_url), keystore, PASSPHRASE), migrate=True
    ).close()
    old_node = NodeProcess(tmp_path / "node-a").start()
    new_node = NodeProcess(tmp_path / "node-b").start()
    try:
        world = Rotated(storage_url, keystore, old_node, new_node, "", "")
        for _ in range(2):
            world.write()
            _anchor(storage_url, old_node)
        world.old_policy = str(tmp_path / "p1.json")
        assert (
            main(["policy", "--db", storage_url, "--node", old_node.url, "-o", world.old_policy])
            == 0
        )
        world.origin = parse_policy(Path(world.old_policy).read_bytes()).origin
        code, report = _verify(storage_url, "--policy", world.old_policy, capsys=capsys)
        assert code == 0, report
        # a superseding policy cannot be signed before the chain records where the old ended
        old = parse_policy(Path(world.old_policy).read_bytes())
        NodeClient(new_node.url).register(old.origin, old.checkpoint_key.to_key())
        assert (
            main(
                [
                    "policy",
                    "--db",
                    storage_url,
                    "--node",
                    new_node.url,
                    "--supersedes",
                    world.old_policy,
                    "-o",
                    str(tmp_path / "early.json"),
                ]
            )
            == 2
        )
        assert "anchor under it first" in capsys.readouterr().err
        world.write()
        _anchor(storage_url, new_node)  # the rotation: validators of node B from now on
        capsys.readouterr()
        yield world
    finally:
        old_node.stop()
        new_node.stop()


def _supersede(world: Rotated, path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    args = ["policy", "--db", world.url, "--node", world.new_node.url]
    assert main([*args, "--supersedes", world.old_policy, "-o", str(path)]) == 0
    assert "fingerprint sha256:" in capsys.readouterr().out
    return str(path)


def test_the_chain_records_the_rotation_and_the_old_policy_fails_there(
    rotated: Rotated, capsys: pytest.CaptureFixture[str]
) -> None:
    configured = rotated.sequences(ANCHOR_CONFIGURED_TOPIC)
    assert len(configured) == 2
    code, report = _verify(rotated.url, "--policy", rotated.old_policy, capsys=capsys)
    failure = report["anchors"]["failure"]
    assert code == 1
    assert (failure["reason"], failure["sequence"]) == ("policy-mismatch", configured[1])
    assert "validators only in the chain" in failure["detail"]


def test_a_policy_that_ignores_the_rotation_is_not_written(
    rotated: Rotated, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "p2.json"
    code = main(["policy", "--db", rotated.url, "--node", rotated.new_node.url, "-o", str(target)])
    assert code == 1 and not target.exists()
    err = capsys.readouterr().err
    assert "policy-mismatch" in err and "--supersedes" in err


def test_a_legitimate_superseding_policy_verifies_every_recorded_anchor(
    rotated: Rotated, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p2 = _supersede(rotated, tmp_path / "p2.json", capsys)
    policy = parse_policy(Path(p2).read_bytes())
    old = parse_policy(Path(rotated.old_policy).read_bytes())
    assert len(policy.supersedes) == 1
    assert policy.supersedes[0].config == old.anchor_config()
    anchored = rotated.sequences(ANCHORED_TOPIC)
    assert len(anchored) == 3
    code, report = _verify(rotated.url, "--policy", p2, capsys=capsys)
    assert code == 0, report
    assert report["anchors"]["anchors_recorded"] == 3
    assert report["policy"]["supersedes"] == 1
    for node in (rotated.new_node, rotated.old_node):  # each node's history, by its epoch
        code, report = _verify(rotated.url, "--policy", p2, "--node", node.url, capsys=capsys)
        assert code == 0, report
        assert report["anchors"]["anchors_ignored"] == 0
    assert main(["policy", "--check", p2]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"fingerprint {policy.fingerprint_text()}")
    assert "(statement verified)" in out


def test_a_supersession_moved_to_another_size_fails(
    rotated: Rotated, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The attacker widens the old configuration's range without its key."""
    value = json.loads(Path(_supersede(rotated, tmp_path / "p2.json", capsys)).read_bytes())
    value["supersedes"][0]["last_size"] += 100
    code, report = _verify(
        rotated.url, "--policy", write_policy(tmp_path / "moved.json", value), capsys=capsys
    )
    failure = report["anchors"]["failure"]
    assert code == 1 and failure["reason"] == "policy-supersession"
    assert "the signed statement says" in failure["detail"]
    assert main(["policy", "--check", str(tmp_path / "moved.json")]) == 1


def test_a_supersession_signed_by_the_attacker_fails(
    rotated: Rotated, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A statement in the right words, signed by a key named like the checkpoint key."""
    import os

    from anchors import note

    value = json.loads(Path(_supersede(rotated, tmp_path / "p2.json", capsys)).read_bytes())
    policy = parse_policy(json.dumps(value))
    s = policy.supersedes[0]
    text = statement_text(s.config, policy.anchor_config(), s.last_size)
    value["supersedes"][0]["statement"] = note.sign_note(
        text, [checkpoint_signer(rotated.origin, os.urandom(32))]
    )
    code, report = _verify(
        rotated.url, "--policy", write_policy(tmp_path / "forged.json", value), capsys=capsys
    )
    failure = report["anchors"]["failure"]
    assert code == 1 and failure["reason"] == "policy-supersession"
    assert "not signed by the superseded configuration's checkpoint key" in failure["detail"]


def test_a_superseding_policy_stripped_of_its_history_fails_at_the_old_configuration(
    rotated: Rotated, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    value = json.loads(Path(_supersede(rotated, tmp_path / "p2.json", capsys)).read_bytes())
    del value["supersedes"]
    code, report = _verify(
        rotated.url, "--policy", write_policy(tmp_path / "bare.json", value), capsys=capsys
    )
    failure = report["anchors"]["failure"]
    assert code == 1 and failure["reason"] == "policy-mismatch"
    assert failure["sequence"] == rotated.sequences(ANCHOR_CONFIGURED_TOPIC)[0]
