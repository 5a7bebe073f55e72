"""Offline proof bundles: round trip, and every altered byte, wrong key or missing cosignature
is rejected. The receipt comes from a real node process; verification uses bytes and a policy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anchors import note
from anchors.bundle import export_bundle, verify_bundle
from anchors.codec import canonical_json
from anchors.errors import BundleError
from anchors.policy import TrustPolicy, parse_policy
from api.cli.main import main
from tests.anchors.fixtures import (
    Anchored,
    shared_node_fixture,  # noqa: F401
    wire,
)
from tests.anchors.processes import NodeProcess
from tests.helpers import new_ledger


@pytest.fixture(scope="module")
def small(
    tmp_path_factory: pytest.TempPathFactory, shared_node: NodeProcess
) -> Iterator[tuple[bytes, TrustPolicy, str]]:
    """A bundle of a one-event aggregate in a three-entry log, and its policy."""
    url = f"sqlite:///{tmp_path_factory.mktemp('bundle') / 'ledger.sqlite3'}"
    a: Anchored = wire(new_ledger(url), shared_node.url)
    aggregate = a.ledger.note(lines=0)
    a.worker.anchor_once()
    policy = a.worker.policy()
    data = export_bundle(a.ledger.app, a.anchors.tree, policy, str(aggregate.id))
    yield data, policy, url
    a.close()


def test_a_bundle_round_trips(small: tuple[bytes, TrustPolicy, str]) -> None:
    data, policy, _ = small
    report = verify_bundle(data, policy)
    assert report.versions == 1 and report.sequences == (3,)
    assert report.commands == 3 and report.keys == 2
    assert len(report.cosigners) == policy.threshold
    assert report.policy_source == "trusted"


def test_every_flipped_byte_is_rejected(small: tuple[bytes, TrustPolicy, str]) -> None:
    data, policy, _ = small
    accepted = []
    for i in range(len(data)):
        for bit in (0x01, 0x20):
            tampered = bytearray(data)
            tampered[i] ^= bit
            try:
                verify_bundle(bytes(tampered), policy)
            except BundleError:
                continue
            accepted.append((i, bit))
    assert accepted == []


def _edit(data: bytes, change: object) -> bytes:
    value = json.loads(data)
    change(value)  # type: ignore[operator]
    return canonical_json(value)


def test_too_few_cosignatures_are_rejected(small: tuple[bytes, TrustPolicy, str]) -> None:
    data, policy, _ = small

    def drop_cosignature(value: dict) -> None:
        text = value["receipt"]["checkpoint"]
        lines = text.split("\n")
        cosig = next(i for i, line in enumerate(lines) if "validator-" in line)
        value["receipt"]["checkpoint"] = "\n".join(lines[:cosig] + lines[cosig + 1 :])

    with pytest.raises(BundleError, match="cosignature"):
        verify_bundle(_edit(data, drop_cosignature), policy)


def test_a_wrong_key_in_the_policy_is_rejected(small: tuple[bytes, TrustPolicy, str]) -> None:
    data, policy, _ = small
    other, _ = note.generate_signer(policy.origin)
    wrong = replace(policy, checkpoint_key=note.Signer.from_key(other).verifier())
    with pytest.raises(BundleError, match="not the trusted policy"):
        verify_bundle(data, wrong)
    # The same bundle rewritten to carry the wrong policy fails the checkpoint signature.
    forged = _edit(data, lambda v: v.update(policy=wrong.as_json_value()))
    with pytest.raises(BundleError, match="checkpoint"):
        verify_bundle(forged, wrong)
    strange = replace(policy, platform_keys=(bytes(32),))
    forged = _edit(data, lambda v: v.update(policy=strange.as_json_value()))
    with pytest.raises(BundleError, match="platform key is not pinned"):
        verify_bundle(forged, strange)


def test_a_missing_command_sibling_or_key_event_is_rejected(
    small: tuple[bytes, TrustPolicy, str],
) -> None:
    data, policy, _ = small
    for drop in (0, 1):
        forged = _edit(data, lambda v, d=drop: v["entries"].pop(d))
        with pytest.raises(BundleError):
            verify_bundle(forged, policy)


def test_a_non_canonical_bundle_is_rejected(small: tuple[bytes, TrustPolicy, str]) -> None:
    data, policy, _ = small
    pretty = json.dumps(json.loads(data), indent=1).encode()
    with pytest.raises(BundleError, match="canonical"):
        verify_bundle(pretty, policy)


@settings(max_examples=200, deadline=None)
@given(junk=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_malformed_input_raises_only_bundle_error(junk: bytes) -> None:
    with pytest.raises(BundleError):
        verify_bundle(junk)


def test_the_cli_exports_and_verifies_offline(
    small: tuple[bytes, TrustPolicy, str],
    tmp_path: Path,
    shared_node: NodeProcess,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data, policy, url = small
    policy_file = tmp_path / "policy.json"
    assert main(["policy", "--db", url, "--node", shared_node.url, "-o", str(policy_file)]) == 0
    assert parse_policy(policy_file.read_bytes()) == policy
    aggregate = json.loads(data)["aggregate"]
    bundle_file = tmp_path / "bundle.json"
    assert (
        main(
            ["bundle", aggregate, "--db", url, "--policy", str(policy_file), "-o", str(bundle_file)]
        )
        == 0
    )
    assert main(["bundle", "verify", str(bundle_file), "--policy", str(policy_file)]) == 0
    assert "verified: aggregate" in capsys.readouterr().out
    tampered = bytearray(bundle_file.read_bytes())
    tampered[len(tampered) // 2] ^= 1
    bundle_file.write_bytes(bytes(tampered))
    assert main(["bundle", "verify", str(bundle_file), "--policy", str(policy_file)]) == 1
    assert "REJECTED" in capsys.readouterr().out
    assert main(["checkpoint", "--db", url]) == 0
    assert capsys.readouterr().out.startswith(policy.origin + "\n")
