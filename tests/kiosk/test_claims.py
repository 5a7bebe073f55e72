"""The printed claim: CBOR → COSE_Sign1 (RFC 9052) → Base45 (RFC 9285), and every malformed,
altered, truncated or wrongly signed claim is refused with a typed error."""

from __future__ import annotations

import dataclasses

import base45
import cbor2
import pytest

from kiosk.claims import (
    PREFIX,
    AnchorRef,
    ClaimKind,
    PrintClaim,
    decode_qr_text,
    encode_qr_text,
    parse_cose,
    sig_structure,
    sign_claim,
    verify_cose,
    verify_qr_text,
)
from kiosk.errors import BadSignature, ClaimError, MalformedClaim, UntrustedKey
from kiosk.printing import qr_code
from ledger.chain.signing import Ed25519Signer


def claim(**changes: object) -> PrintClaim:
    values: dict[str, object] = {
        "origin": "caseledger.guangzhou.example/0123456789abcdef",
        "kind": ClaimKind.RESULT_DOCUMENT,
        "subject": "GZ-SCJG-20260928-000001E",
        "title": "食品经营许可",
        "issuer": "GZ-SCJG",
        "issued_at": 1_790_000_000,
        "content_hash": bytes(range(32)),
        "seal_key_id": b"\x01" * 8,
        "sequence": 20,
        "anchor": AnchorRef(36, 1),
        "printed_at": 1_790_001_000,
        "kiosk": "GZ-TH-001",
        "print_id": b"\x02" * 8,
    }
    values.update(changes)
    return PrintClaim(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def signer() -> Ed25519Signer:
    return Ed25519Signer(bytes(range(32)), "platform")


def keys(*signers: Ed25519Signer) -> dict[bytes, bytes]:
    return {s.key_id: s.public_key for s in signers}


def test_a_claim_round_trips_through_cose_base45_and_back(signer: Ed25519Signer) -> None:
    text = encode_qr_text(sign_claim(claim(), signer))
    assert text.startswith(PREFIX)
    assert verify_qr_text(text, keys(signer)) == claim()


def test_the_claim_is_deterministic_cbor_with_integer_keys() -> None:
    payload = claim().to_cbor()
    assert payload == cbor2.dumps(claim().to_map(), canonical=True)
    assert sorted(cbor2.loads(payload)) == list(range(1, 14))
    assert PrintClaim.from_cbor(payload) == claim()


def test_the_signature_covers_the_rfc_9052_sig_structure(signer: Ed25519Signer) -> None:
    signed = parse_cose(sign_claim(claim(), signer))
    assert cbor2.loads(signed.protected) == {1: -8, 4: signer.key_id}
    message = cbor2.dumps(["Signature1", signed.protected, b"", signed.payload])
    assert message == sig_structure(signed.protected, signed.payload)
    assert signed.signature == signer.sign(message)  # Ed25519 is deterministic


def test_a_pycose_signed_message_verifies_here() -> None:
    pycose = pytest.importorskip("pycose.messages")
    from pycose.algorithms import EdDSA
    from pycose.headers import KID, Algorithm
    from pycose.keys import OKPKey
    from pycose.keys.curves import Ed25519

    ours = Ed25519Signer(bytes(range(32)))
    message = pycose.Sign1Message(
        phdr={Algorithm: EdDSA, KID: ours.key_id}, payload=claim().to_cbor()
    )
    message.key = OKPKey(crv=Ed25519, d=bytes(range(32)))
    assert verify_cose(message.encode(), keys(ours)) == claim()


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        (b"AB", "BB8"),
        (b"Hello!!", "%69 VD92EX0"),
        (b"base-45", "UJCLQE7W581"),
        (b"ietf!", "QED8WEX0"),
    ],
)
def test_base45_matches_the_rfc_9285_examples(raw: bytes, encoded: str) -> None:
    assert base45.b45encode(raw).decode() == encoded
    assert decode_qr_text(PREFIX + encoded) == raw


def test_an_altered_claim_fails_the_signature(signer: Ed25519Signer) -> None:
    signed = parse_cose(sign_claim(claim(), signer))
    forged = claim(title="食品经营许可（伪）").to_cbor()
    tampered = cbor2.dumps(cbor2.CBORTag(18, [signed.protected, {}, forged, signed.signature]))
    with pytest.raises(BadSignature):
        verify_cose(tampered, keys(signer))


def test_every_flipped_payload_bit_is_refused(signer: Ed25519Signer) -> None:
    cose = sign_claim(claim(), signer)
    accepted = 0
    for i in range(len(cose)):
        data = bytearray(cose)
        data[i] ^= 0x01
        try:
            verify_cose(bytes(data), keys(signer))
            accepted += 1
        except ClaimError:
            pass
    assert accepted == 0


def test_a_claim_signed_by_an_unpinned_key_is_refused(signer: Ed25519Signer) -> None:
    other = Ed25519Signer.generate()
    with pytest.raises(UntrustedKey, match="does not pin"):
        verify_qr_text(encode_qr_text(sign_claim(claim(), other)), keys(signer))


def test_a_wrong_key_under_a_pinned_key_id_is_refused(signer: Ed25519Signer) -> None:
    other = Ed25519Signer.generate()
    text = encode_qr_text(sign_claim(claim(), signer))
    with pytest.raises(BadSignature):
        verify_qr_text(text, {signer.key_id: other.public_key})


@pytest.mark.parametrize("cut", [1, 2, 3, 10, 100])
def test_a_truncated_qr_text_is_refused(signer: Ed25519Signer, cut: int) -> None:
    text = encode_qr_text(sign_claim(claim(), signer))
    with pytest.raises(MalformedClaim):
        verify_qr_text(text[:-cut], keys(signer))


@pytest.mark.parametrize(
    "text",
    ["", "HC1:ABC", "CL1:abc", "CL1:" + "A" * 5000, "CL1:A", "CL1:::::", "CL1:" + "0" * 3],
)
def test_malformed_qr_text_is_refused_with_one_error_root(text: str, signer: Ed25519Signer) -> None:
    with pytest.raises(MalformedClaim):
        verify_qr_text(text, keys(signer))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p, u, pl, s: [p, {1: 1}, pl, s],  # unprotected header not empty
        lambda p, u, pl, s: [cbor2.dumps({1: -7, 4: b"\x00" * 8}), u, pl, s],  # ES256
        lambda p, u, pl, s: [p, u, pl, s[:63]],  # short signature
        lambda p, u, pl, s: [p, u, pl],  # three items
        lambda p, u, pl, s: [p, u, cbor2.dumps({1: "x"}), s],  # claims missing
        lambda p, u, pl, s: [p, u, cbor2.dumps([1, 2]), s],  # claims not a map
    ],
)
def test_malformed_cose_structures_are_refused(mutate: object, signer: Ed25519Signer) -> None:
    signed = parse_cose(sign_claim(claim(), signer))
    items = mutate(signed.protected, {}, signed.payload, signed.signature)  # type: ignore[operator]
    with pytest.raises(MalformedClaim):
        verify_cose(cbor2.dumps(cbor2.CBORTag(18, items)), keys(signer))


def test_a_non_deterministic_encoding_of_the_claims_is_refused() -> None:
    loose = cbor2.dumps(dict(reversed(list(claim().to_map().items()))))
    with pytest.raises(MalformedClaim, match="deterministic"):
        PrintClaim.from_cbor(loose)


@pytest.mark.parametrize(
    "change",
    [
        {"subject": ""},
        {"subject": "x" * 81},
        {"content_hash": b"short"},
        {"seal_key_id": b"\x00" * 7},
        {"sequence": 0},
        {"sequence": 37},  # beyond the anchored checkpoint
        {"kind": 3},
        {"kiosk": "GZ\nTH"},
        {"issued_at": -1},
    ],
)
def test_claim_fields_validate_when_built(change: dict[str, object]) -> None:
    with pytest.raises(MalformedClaim):
        claim(**change)


def test_a_typical_claim_fits_a_small_qr_at_level_q(signer: Ed25519Signer) -> None:
    text = encode_qr_text(sign_claim(claim(), signer))
    code = qr_code(text)
    assert code.error == "Q" and code.mode == "alphanumeric"
    assert isinstance(code.version, int) and code.version <= 17
    assert dataclasses.replace(claim(), title="x").to_cbor() != claim().to_cbor()
