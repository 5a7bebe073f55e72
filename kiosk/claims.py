"""The printed claim: CBOR claims → COSE_Sign1 (Ed25519, key id) → Base45 → QR text.

Layer: kiosk (pure: bytes in, values out; crypto through ``ledger.chain.signing``). The pipeline is
that of the EU Digital COVID Certificate, without its zlib step (our claims hold a hash and a
signature, which do not compress: measured, zlib made them longer):

1. claims: a CBOR map with small integer keys (:data:`CLAIM_KEYS`), deterministically encoded
   (RFC 8949 §4.2.1 core deterministic encoding: shortest lengths, sorted keys, no indefinite
   lengths); a parser accepts only that exact byte form;
2. COSE_Sign1 (RFC 9052 §4.2): ``18([protected, {}, payload, signature])`` with the protected
   header ``{1: -8 (EdDSA), 4: kid}`` (RFC 9053 §2.2 EdDSA, Ed25519 only); the signature is
   Ed25519 over the ``Sig_structure`` ``["Signature1", protected, h'', payload]`` (RFC 9052
   §4.4); ``kid`` is the signer's 8-byte ledger key id (docs/FORMAT.md §3). A parser accepts
   exactly one byte form: the tagged array, every head in its shortest form (RFC 8949
   §4.2.1), definite lengths, no other tag, float or simple value, nothing after the array —
   checked by a strict scan of the heads *before* ``cbor2`` decodes anything (so none of its
   semantic tags run on untrusted bytes), and again by re-encoding the parsed message, which
   must give back the same bytes;
3. Base45 (RFC 9285) of the COSE bytes, behind the prefix :data:`PREFIX` (``CL1:`` —
   caseledger printed claim, version 1, uncompressed; the DCC's ``HC1:`` means zlib), so the
   text uses only the QR alphanumeric alphabet and encodes compactly at ECC level Q.

Byte-exact description and the reasons the claim is enough: docs/FORMAT.md "Printed result
claims". Every parser here raises only :class:`~kiosk.errors.ClaimError` subclasses, checks
sizes first (:data:`MAX_QR_TEXT`, :data:`MAX_COSE_BYTES`, per-field limits) and builds frozen
values that validate in their constructor.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

import base45
import cbor2

from kiosk.errors import BadSignature, MalformedClaim, UntrustedKey
from ledger.chain.signing import verify_signature
from ledger.domain.signer import KEY_ID_SIZE, SIGNATURE_SIZE, Signer

__all__ = [
    "BASE45_TEXT",
    "CLAIM_KEYS",
    "MAX_COSE_BYTES",
    "MAX_QR_TEXT",
    "PREFIX",
    "AnchorRef",
    "ClaimKind",
    "PrintClaim",
    "SignedClaim",
    "decode_qr_text",
    "encode_qr_text",
    "parse_cose",
    "sig_structure",
    "sign_claim",
    "verify_cose",
    "verify_qr_text",
]

PREFIX: Final = "CL1:"
"""Context identifier of a caseledger printed claim, version 1 (Base45 of COSE, no zlib)."""
MAX_QR_TEXT: Final = 1600
"""Longest QR text accepted (characters): a version-25 QR at level Q holds about 1 000."""
MAX_COSE_BYTES: Final = 1000
"""Longest COSE_Sign1 accepted (bytes)."""
MAX_ORIGIN: Final = 200
MAX_SUBJECT: Final = 80
MAX_TITLE: Final = 60
MAX_ISSUER: Final = 32
MAX_KIOSK: Final = 32
HASH_SIZE: Final = 32
PRINT_ID_SIZE: Final = 8
MAX_UINT: Final = 2**53
COSE_SIGN1_TAG: Final = 18
ALG_EDDSA: Final = -8
HEADER_ALG: Final = 1
HEADER_KID: Final = 4
BASE45_TEXT: Final = re.compile(r"[0-9A-Z $%*+\-./:]*")
"""Text in the Base45 alphabet (RFC 9285 §4): what may follow :data:`PREFIX`."""


class ClaimKind(IntEnum):
    """What was printed."""

    RESULT_DOCUMENT = 1
    """结果文书 or 不予批准决定书 of a closed case (GZ16·15, FZ·19)"""
    E_CERTIFICATE = 2
    """电子证照, one version (GZ20·21)"""


CLAIM_KEYS: Final = {
    "origin": 1,
    "kind": 2,
    "subject": 3,
    "title": 4,
    "issuer": 5,
    "issued_at": 6,
    "content_hash": 7,
    "seal_key_id": 8,
    "sequence": 9,
    "anchor": 10,
    "printed_at": 11,
    "kiosk": 12,
    "print_id": 13,
}
"""Claim name → CBOR map key (docs/FORMAT.md "Printed result claims")."""


def _text(name: str, value: object, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise MalformedClaim(f"claim {name}: text of 1–{limit} characters")
    if any(ord(ch) < 0x20 for ch in value):
        raise MalformedClaim(f"claim {name}: control characters")
    return value


def _uint(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_UINT:
        raise MalformedClaim(f"claim {name}: an unsigned integer below 2^53")
    return value


def _bytes(name: str, value: object, size: int) -> bytes:
    if not isinstance(value, bytes) or len(value) != size:
        raise MalformedClaim(f"claim {name}: {size} bytes")
    return value


@dataclass(frozen=True)
class AnchorRef:
    """Where the printed document's chain entry is anchored: the cosigned checkpoint's tree
    size and the height of the block of the anchor node that sealed it."""

    checkpoint_size: int
    block_height: int

    def __post_init__(self) -> None:
        _uint("anchor.checkpoint_size", self.checkpoint_size)
        _uint("anchor.block_height", self.block_height)
        if self.checkpoint_size < 1:
            raise MalformedClaim("claim anchor.checkpoint_size: at least 1")


@dataclass(frozen=True)
class PrintClaim:
    """The claims of one printout. Building one validates every field (raises
    :class:`MalformedClaim` naming it); times are whole seconds since the Unix epoch, UTC."""

    origin: str
    kind: ClaimKind
    subject: str
    title: str
    issuer: str
    issued_at: int
    content_hash: bytes
    seal_key_id: bytes
    sequence: int
    anchor: AnchorRef
    printed_at: int
    kiosk: str
    print_id: bytes

    def __post_init__(self) -> None:
        _text("origin", self.origin, MAX_ORIGIN)
        try:
            object.__setattr__(self, "kind", ClaimKind(self.kind))
        except ValueError:
            raise MalformedClaim(f"claim kind: {self.kind!r} is not 1 or 2") from None
        _text("subject", self.subject, MAX_SUBJECT)
        _text("title", self.title, MAX_TITLE)
        _text("issuer", self.issuer, MAX_ISSUER)
        _uint("issued_at", self.issued_at)
        _bytes("content_hash", self.content_hash, HASH_SIZE)
        _bytes("seal_key_id", self.seal_key_id, KEY_ID_SIZE)
        _uint("sequence", self.sequence)
        if self.sequence < 1:
            raise MalformedClaim("claim sequence: at least 1")
        if not isinstance(self.anchor, AnchorRef):
            raise MalformedClaim("claim anchor: an AnchorRef")
        if self.sequence > self.anchor.checkpoint_size:
            raise MalformedClaim("claim sequence: beyond the anchored checkpoint size")
        _uint("printed_at", self.printed_at)
        _text("kiosk", self.kiosk, MAX_KIOSK)
        _bytes("print_id", self.print_id, PRINT_ID_SIZE)

    @property
    def issued(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.issued_at, dt.UTC)

    @property
    def printed(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.printed_at, dt.UTC)

    def to_map(self) -> dict[int, Any]:
        """The CBOR map (integer keys) of the claims."""
        k = CLAIM_KEYS
        return {
            k["origin"]: self.origin,
            k["kind"]: int(self.kind),
            k["subject"]: self.subject,
            k["title"]: self.title,
            k["issuer"]: self.issuer,
            k["issued_at"]: self.issued_at,
            k["content_hash"]: self.content_hash,
            k["seal_key_id"]: self.seal_key_id,
            k["sequence"]: self.sequence,
            k["anchor"]: [self.anchor.checkpoint_size, self.anchor.block_height],
            k["printed_at"]: self.printed_at,
            k["kiosk"]: self.kiosk,
            k["print_id"]: self.print_id,
        }

    def to_cbor(self) -> bytes:
        """The deterministic CBOR encoding (RFC 8949 §4.2.1) — the COSE payload."""
        return cbor2.dumps(self.to_map(), canonical=True)

    @classmethod
    def from_cbor(cls, payload: bytes) -> PrintClaim:
        """Parse a COSE payload. Accepts only the deterministic encoding of a map with
        exactly the keys of :data:`CLAIM_KEYS`. Raises :class:`MalformedClaim`."""
        value = _loads(payload, "claims")
        if not isinstance(value, Mapping) or set(value) != set(CLAIM_KEYS.values()):
            raise MalformedClaim(
                f"claims: a map with exactly the keys {sorted(CLAIM_KEYS.values())}"
            )
        if cbor2.dumps(dict(value), canonical=True) != payload:
            raise MalformedClaim("claims: not in deterministic CBOR encoding")
        k = CLAIM_KEYS
        anchor = value[k["anchor"]]
        if not isinstance(anchor, list | tuple) or len(anchor) != 2:
            raise MalformedClaim("claim anchor: [checkpoint size, block height]")
        return cls(
            origin=value[k["origin"]],
            kind=_claim_kind(value[k["kind"]]),
            subject=value[k["subject"]],
            title=value[k["title"]],
            issuer=value[k["issuer"]],
            issued_at=value[k["issued_at"]],
            content_hash=value[k["content_hash"]],
            seal_key_id=value[k["seal_key_id"]],
            sequence=value[k["sequence"]],
            anchor=AnchorRef(_uint("anchor", anchor[0]), _uint("anchor", anchor[1])),
            printed_at=value[k["printed_at"]],
            kiosk=value[k["kiosk"]],
            print_id=value[k["print_id"]],
        )


def _claim_kind(value: object) -> ClaimKind:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedClaim("claim kind: an integer")
    try:
        return ClaimKind(value)
    except ValueError:
        raise MalformedClaim(f"claim kind: {value} is not 1 or 2") from None


MAX_DEPTH: Final = 4
"""Deepest nesting of arrays and maps in a printed claim's CBOR (claims → anchor is 2)."""


def _head(data: bytes, pos: int, what: str) -> tuple[int, int, int]:
    """(major type, argument, position after the head) of the CBOR head at ``pos``, which must
    be definite and in its shortest form (RFC 8949 §3, §4.2.1)."""
    if pos >= len(data):
        raise MalformedClaim(f"{what}: CBOR ends early (byte {pos})")
    major, info = data[pos] >> 5, data[pos] & 0x1F
    if info < 24:
        return major, info, pos + 1
    if info > 27:
        raise MalformedClaim(f"{what}: indefinite length or reserved head at byte {pos}")
    size = 1 << (info - 24)
    if pos + 1 + size > len(data):
        raise MalformedClaim(f"{what}: CBOR ends early (byte {pos})")
    argument = int.from_bytes(data[pos + 1 : pos + 1 + size], "big")
    if argument < (24 if size == 1 else 1 << (4 * size)):
        raise MalformedClaim(f"{what}: head at byte {pos} is not in its shortest form")
    return major, argument, pos + 1 + size


def _scan(data: bytes, pos: int, depth: int, what: str, tag: int | None) -> int:
    """Where the well-formed CBOR item at ``pos`` ends. Only integers, byte and text strings,
    arrays and maps at most :data:`MAX_DEPTH` deep, and the one ``tag`` at the top."""
    major, argument, pos = _head(data, pos, what)
    if major in (0, 1):
        return pos
    if major in (2, 3):
        if argument > len(data) - pos:
            raise MalformedClaim(f"{what}: a string runs past the end")
        return pos + argument
    if major in (4, 5):
        if depth >= MAX_DEPTH:
            raise MalformedClaim(f"{what}: nested deeper than {MAX_DEPTH}")
        items = argument * (2 if major == 5 else 1)
        if items > len(data) - pos:  # every item takes at least one byte
            raise MalformedClaim(f"{what}: an array or map runs past the end")
        for _ in range(items):
            pos = _scan(data, pos, depth + 1, what, None)
        return pos
    if major == 6 and tag is not None and argument == tag:
        return _scan(data, pos, depth, what, None)
    raise MalformedClaim(
        f"{what}: {'a tag' if major == 6 else 'a float or simple value'} at byte {pos - 1}"
    )


def _loads(data: bytes, what: str, *, tag: int | None = None) -> Any:
    """Decode one CBOR item that is all of ``data``: scanned strictly first (:func:`_scan`),
    so ``cbor2`` only ever decodes plain integers, strings, arrays and maps."""
    end = _scan(data, 0, 0, what, tag)
    if end != len(data):
        raise MalformedClaim(f"{what}: {len(data) - end} bytes after the CBOR item")
    try:
        return cbor2.loads(data)
    except Exception as exc:  # cbor2 raises several types on malformed input (bad UTF-8)
        raise MalformedClaim(f"{what}: not CBOR ({type(exc).__name__})") from None


@dataclass(frozen=True)
class SignedClaim:
    """A parsed, not yet verified COSE_Sign1 of a printed claim."""

    protected: bytes
    key_id: bytes
    payload: bytes
    signature: bytes
    claim: PrintClaim


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """RFC 9052 §4.4: ``["Signature1", body_protected, external_aad = h'', payload]``."""
    return cbor2.dumps(["Signature1", protected, b"", payload])


def _protected_header(key_id: bytes) -> bytes:
    return cbor2.dumps({HEADER_ALG: ALG_EDDSA, HEADER_KID: key_id}, canonical=True)


def sign_claim(claim: PrintClaim, signer: Signer) -> bytes:
    """The tagged COSE_Sign1 of ``claim``, Ed25519 by ``signer`` with its key id as ``kid``."""
    protected = _protected_header(bytes(signer.key_id))
    payload = claim.to_cbor()
    signature = signer.sign(sig_structure(protected, payload))
    return _cose_bytes(protected, payload, signature)


def parse_cose(data: bytes) -> SignedClaim:
    """Parse a tagged COSE_Sign1 of a printed claim, without verifying it.

    Steps: 1. size; 2. one well-formed CBOR item that is all of ``data``, tag 18 around an
    array of four, shortest heads (:func:`_loads`); 3. protected header is exactly
    ``{1: -8, 4: kid(8 bytes)}`` in deterministic encoding, unprotected header empty;
    4. payload parses as claims; 5. signature is 64 bytes; 6. re-encoding the message gives
    ``data`` back (the one byte form of docs/FORMAT.md §7). Raises :class:`MalformedClaim`.
    """
    if not isinstance(data, bytes) or not 0 < len(data) <= MAX_COSE_BYTES:
        raise MalformedClaim(f"COSE_Sign1: 1–{MAX_COSE_BYTES} bytes")
    value = _loads(data, "COSE_Sign1", tag=COSE_SIGN1_TAG)
    if not isinstance(value, cbor2.CBORTag) or value.tag != COSE_SIGN1_TAG:
        raise MalformedClaim(f"COSE: expected tag {COSE_SIGN1_TAG} (COSE_Sign1)")
    value = value.value
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise MalformedClaim("COSE_Sign1: an array of four items")
    protected, unprotected, payload, signature = value
    if not isinstance(protected, bytes) or not isinstance(payload, bytes):
        raise MalformedClaim("COSE_Sign1: protected header and payload are byte strings")
    if not isinstance(unprotected, Mapping) or len(unprotected) != 0:
        raise MalformedClaim("COSE_Sign1: the unprotected header must be empty")
    header = _loads(protected, "protected header")
    if not isinstance(header, Mapping) or set(header) != {HEADER_ALG, HEADER_KID}:
        raise MalformedClaim("protected header: exactly alg (1) and kid (4)")
    if header[HEADER_ALG] != ALG_EDDSA or isinstance(header[HEADER_ALG], bool):
        raise MalformedClaim(f"protected header: alg {header[HEADER_ALG]!r}, expected -8 (EdDSA)")
    key_id = header[HEADER_KID]
    if not isinstance(key_id, bytes) or len(key_id) != KEY_ID_SIZE:
        raise MalformedClaim(f"protected header: kid must be {KEY_ID_SIZE} bytes")
    if _protected_header(key_id) != protected:
        raise MalformedClaim("protected header: not in deterministic CBOR encoding")
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        raise MalformedClaim(f"COSE_Sign1: signature must be {SIGNATURE_SIZE} bytes")
    claim = PrintClaim.from_cbor(payload)
    if _cose_bytes(protected, payload, signature) != data:
        raise MalformedClaim("COSE_Sign1: not in its one deterministic encoding (FORMAT.md §7)")
    return SignedClaim(protected, key_id, payload, signature, claim)


def _cose_bytes(protected: bytes, payload: bytes, signature: bytes) -> bytes:
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def verify_cose(data: bytes, keys: Mapping[bytes, bytes]) -> PrintClaim:
    """Parse and verify a COSE_Sign1 against ``keys`` (kid → Ed25519 public key).

    Raises :class:`MalformedClaim`, :class:`UntrustedKey` (kid not pinned) or
    :class:`BadSignature`."""
    signed = parse_cose(data)
    public_key = next(
        (pk for kid, pk in keys.items() if hmac.compare_digest(kid, signed.key_id)), None
    )
    if public_key is None:
        raise UntrustedKey(
            f"signed by key {signed.key_id.hex()}, which the trust policy does not pin "
            f"(trusted: {', '.join(sorted(k.hex() for k in keys)) or 'none'})"
        )
    if not verify_signature(
        public_key, sig_structure(signed.protected, signed.payload), signed.signature
    ):
        raise BadSignature(f"the Ed25519 signature by key {signed.key_id.hex()} does not verify")
    return signed.claim


def encode_qr_text(cose: bytes) -> str:
    """``PREFIX`` + Base45 (RFC 9285) of the COSE bytes."""
    return PREFIX + base45.b45encode(cose).decode("ascii")


def decode_qr_text(text: str) -> bytes:
    """The COSE bytes of QR text. Raises :class:`MalformedClaim` for a missing prefix, a
    character outside the Base45 alphabet, a length that is 1 mod 3, or an oversized text."""
    if not isinstance(text, str):
        raise MalformedClaim("QR text: must be text")
    text = text.strip()
    if len(text) > MAX_QR_TEXT:
        raise MalformedClaim(f"QR text: longer than {MAX_QR_TEXT} characters")
    if not text.startswith(PREFIX):
        raise MalformedClaim(f"QR text: does not start with {PREFIX!r}")
    body = text[len(PREFIX) :]
    if not BASE45_TEXT.fullmatch(body):
        raise MalformedClaim("QR text: a character outside the Base45 alphabet (RFC 9285 §4)")
    try:
        return bytes(base45.b45decode(body))
    except Exception:  # the library raises ValueError on a bad length or value
        raise MalformedClaim("QR text: invalid Base45 (RFC 9285 §4.2: length or value)") from None


def verify_qr_text(text: str, keys: Mapping[bytes, bytes]) -> PrintClaim:
    """:func:`decode_qr_text` then :func:`verify_cose`."""
    return verify_cose(decode_qr_text(text), keys)
