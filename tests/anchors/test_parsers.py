"""Parsers of untrusted anchoring input raise only their package's error, never a stray one;
every serializer round-trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anchors import merkle, note
from anchors.checkpoints import checkpoint_signer, ledger_origin, sign_checkpoint
from anchors.errors import AnchorError, NodeRefused, PolicyError, ReceiptError
from anchors.node.protocol import AddCheckpoint, parse_add_checkpoint
from anchors.policy import TrustPolicy, parse_policy
from anchors.receipt import BlockHeader, parse_block_header, receipt_from_value


def _policy() -> TrustPolicy:
    origin = ledger_origin("testcity", bytes(range(32)))
    validators = tuple(
        note.Signer.from_key(note.generate_signer(f"v{i}.node.example")[0]).cosignature_verifier()
        for i in range(4)
    )
    return TrustPolicy(
        origin,
        checkpoint_signer(origin, bytes(32)).verifier(),
        (bytes(range(32)),),
        "node.example",
        validators,
        3,
    )


def test_a_policy_round_trips() -> None:
    policy = _policy()
    assert parse_policy(policy.to_json()) == policy


@pytest.mark.parametrize(
    "change",
    [
        lambda v: v.update(format="other"),
        lambda v: v["anchor_node"].update(threshold=5),
        lambda v: v["anchor_node"].update(threshold=True),
        lambda v: v["ledger"].update(platform_keys=["AB" * 32]),
        lambda v: v["ledger"].update(extra=1),
        lambda v: v["anchor_node"].update(validators=[]),
    ],
)
def test_a_malformed_policy_is_refused(change: object) -> None:
    import json

    value = json.loads(_policy().to_json())
    change(value)  # type: ignore[operator]
    with pytest.raises(PolicyError):
        parse_policy(json.dumps(value))


@settings(max_examples=200, deadline=None)
@given(junk=st.binary(max_size=200))
def test_policy_parser_raises_only_policy_error(junk: bytes) -> None:
    with pytest.raises(PolicyError):
        parse_policy(junk)


def test_a_block_header_round_trips_and_rejects_variants() -> None:
    header = BlockHeader("node.example", 7, bytes(32), 1_700_000_000_000, 2, merkle.EMPTY_ROOT)
    assert parse_block_header(header.text) == header
    for bad in (header.text.replace("height 7", "height 07"), header.text + "x\n", ""):
        with pytest.raises(ReceiptError):
            parse_block_header(bad)


@settings(max_examples=200, deadline=None)
@given(
    value=st.recursive(
        st.none() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
        max_leaves=10,
    )
)
def test_receipt_parser_raises_only_receipt_error(value: object) -> None:
    with pytest.raises(ReceiptError):
        receipt_from_value(value)


def test_an_add_checkpoint_body_round_trips() -> None:
    origin = ledger_origin("testcity", bytes(32))
    signed = sign_checkpoint(checkpoint_signer(origin, bytes(32)), 5, bytes(32))
    request = AddCheckpoint(3, (bytes(32), bytes(range(32))), signed)
    assert parse_add_checkpoint(request.format().encode()) == request


@settings(max_examples=300, deadline=None)
@given(junk=st.binary(max_size=300))
def test_add_checkpoint_parser_refuses_with_400_only(junk: bytes) -> None:
    try:
        parse_add_checkpoint(junk)
    except NodeRefused as refused:
        assert refused.status == 400


def test_origin_needs_a_dns_label_city() -> None:
    with pytest.raises(AnchorError):
        ledger_origin("Guang Zhou", bytes(32))
