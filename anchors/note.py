"""Signed notes, checkpoints and witness cosignatures (anchors layer).

One responsibility: produce and verify the text formats that carry a signed Merkle tree head.

Specs followed:

* C2SP signed-note (https://c2sp.org/signed-note): text ending in a newline, a blank line, then
  one or more lines ``— <key name> base64(key ID (4 bytes) || signature)``. Ed25519 signatures
  (type 0x01) sign the note text. Key ID = SHA-256(name || 0x0A || type || public key)[:4].
  Verifier keys are ``<name>+<hex key ID>+base64(type || public key)``; signer keys are the
  golang.org/x/mod/sumdb/note form ``PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 || seed)``.
* C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): origin, tree size, base64 root hash,
  then optional non-empty extension lines.
* C2SP tlog-cosignature (https://c2sp.org/tlog-cosignature), Ed25519 ``cosignature/v1``
  (type 0x04): the signature is ``u64be timestamp || Ed25519 signature`` over
  ``"cosignature/v1\\ntime <timestamp>\\n" || checkpoint text``. A cosigner signs with an ordinary
  Ed25519 signer key; its key ID is computed with type byte 0x04.

Verification decisions (signed-note §Signatures):

* Signatures whose (key name, key ID) is not among the verifier keys are ignored.
* Every signature from a known key is verified; if any of them fails, the whole note is
  rejected (the spec's SHOULD), so ``verify_note`` returns ``[]`` and ``open_note`` raises
  ``InvalidSignatureError``. If no known key signed, ``verify_note`` returns ``[]`` and
  ``open_note`` raises ``UnverifiedNoteError``.
* A malformed note or verifier key raises ``NoteError`` (a ``ValueError``); that is the only
  exception type either function raises. Cosignature timestamps are not compared to a clock.
* Every base64 value must be in canonical standard encoding (RFC 4648 §4, padded).

Untrusted input is bounded by ``MAX_NOTE_BYTES``, ``MAX_SIGNATURES``, ``MAX_KEY_BYTES`` and
``MAX_CHECKPOINT_EXTENSION_LINES``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import nacl.exceptions
import nacl.signing

from anchors.merkle import HASH_SIZE, MAX_TREE_SIZE

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "MAX_CHECKPOINT_EXTENSION_LINES",
    "MAX_KEY_BYTES",
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "MAX_TIMESTAMP",
    "Checkpoint",
    "InvalidSignatureError",
    "Note",
    "NoteError",
    "NoteSignature",
    "Signer",
    "UnverifiedNoteError",
    "VerifiedNote",
    "VerifiedSignature",
    "Verifier",
    "add_cosignature",
    "add_signatures",
    "b64decode_canonical",
    "cosign",
    "cosignature_message",
    "generate_signer",
    "open_note",
    "parse_checkpoint",
    "parse_note",
    "sign_note",
    "verify_note",
]

ALG_ED25519 = 0x01
"""Signature type byte: Ed25519 over the note text (signed-note)."""
ALG_COSIGNATURE_V1 = 0x04
"""Signature type byte: timestamped Ed25519 witness cosignature (tlog-cosignature)."""

MAX_NOTE_BYTES = 64 * 1024
"""Largest signed note accepted, in UTF-8 bytes."""
MAX_SIGNATURES = 100
"""Most signature lines accepted in one note (the spec requires accepting at least 16)."""
MAX_KEY_BYTES = 1024
"""Longest verifier or signer key string accepted."""
MAX_CHECKPOINT_EXTENSION_LINES = 64
"""Most extension lines accepted after the three mandatory checkpoint lines."""
MAX_TIMESTAMP = 2**63 - 1
"""Largest cosignature timestamp (tlog-cosignature: MUST NOT exceed 2^63 - 1)."""

_SIG_PREFIX = "\u2014 "  # em dash, space
_COSIGNATURE_HEADER = "cosignature/v1\n"
_ED25519_KEY_SIZE = 32
_ED25519_SIG_SIZE = 64
_TIMESTAMP_SIZE = 8
_KEY_ID_SIZE = 4
_HEX_KEY_ID = re.compile(r"[0-9a-fA-F]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_SUPPORTED_ALGS = (ALG_ED25519, ALG_COSIGNATURE_V1)


class NoteError(ValueError):
    """A note, checkpoint or key is malformed (the root of every error this module raises)."""


class InvalidSignatureError(NoteError):
    """A signature from a known key failed to verify; the whole note is rejected."""

    def __init__(self, name: str, key_id: bytes) -> None:
        super().__init__(f"invalid signature for key {name}+{key_id.hex()}")
        self.name = name
        self.key_id = key_id


class UnverifiedNoteError(NoteError):
    """The note is well formed but no known key signed it."""


# --- small validators ---------------------------------------------------------------------------


def _has_control_chars(text: str) -> bool:
    return any(ch < " " and ch != "\n" for ch in text)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def _is_valid_name(name: object) -> bool:
    """Key names are non-empty and hold no Unicode space, no '+' and no control character."""
    return (
        isinstance(name, str)
        and name != ""
        and "+" not in name
        and not any(ch.isspace() for ch in name)
        and not _has_control_chars(name)
        and _is_utf8(name)
    )


def b64decode_canonical(text: str) -> bytes:
    """Strict, canonical standard base64 (re-encoding gives ``text`` back); raises NoteError."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"invalid base64 {text[:16]!r}") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"non-canonical base64 {text[:16]!r}")
    return raw


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _key_id(name: str, alg: int, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4] (signed-note, tlog-cosignature)."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public_key).digest()[
        :_KEY_ID_SIZE
    ]


def _check_text(text: object) -> str:
    """Note text: a str of valid UTF-8, ending in a newline, with no other control characters."""
    if not isinstance(text, str):
        raise NoteError(f"note text must be str, not {type(text).__name__}")
    if len(text) > MAX_NOTE_BYTES or not _is_utf8(text):
        raise NoteError("note text is too long or not valid UTF-8")
    if len(text.encode("utf-8")) > MAX_NOTE_BYTES:
        raise NoteError(f"note text is longer than {MAX_NOTE_BYTES} bytes")
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if _has_control_chars(text):
        raise NoteError("note text contains a control character")
    return text


def cosignature_message(checkpoint_text: str, timestamp: int) -> bytes:
    """The bytes a cosignature/v1 signs: ``"cosignature/v1\\ntime <ts>\\n" || checkpoint text``.

    The text is used as given (callers check it); raises ``NoteError`` for a bad timestamp.
    """
    ts = _check_timestamp(timestamp)
    return f"{_COSIGNATURE_HEADER}time {ts}\n{checkpoint_text}".encode()


def _check_timestamp(timestamp: object) -> int:
    if (
        not isinstance(timestamp, int)
        or isinstance(timestamp, bool)
        or not 0 <= timestamp <= MAX_TIMESTAMP
    ):
        raise NoteError(f"cosignature timestamp must be an int in 0..2^63-1, not {timestamp!r}")
    return timestamp


# --- keys ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verifier:
    """A verifier key: who may sign (name, key ID) and with which algorithm and public key.

    ``alg`` is ``ALG_ED25519`` (note signatures) or ``ALG_COSIGNATURE_V1`` (witness
    cosignatures). Raises ``NoteError`` when built from inconsistent values.
    """

    name: str
    key_id: bytes
    alg: int
    public_key: bytes

    def __post_init__(self) -> None:
        if not _is_valid_name(self.name):
            raise NoteError(f"invalid key name {self.name!r}")
        if isinstance(self.alg, bool) or self.alg not in _SUPPORTED_ALGS:
            raise NoteError(f"unsupported signature type {self.alg!r}")
        if not isinstance(self.public_key, bytes) or len(self.public_key) != _ED25519_KEY_SIZE:
            raise NoteError("an Ed25519 public key is 32 bytes")
        if not isinstance(self.key_id, bytes) or self.key_id != _key_id(
            self.name, self.alg, self.public_key
        ):
            raise NoteError(f"key ID does not match key {self.name!r}")

    @classmethod
    def from_key(cls, vkey: str) -> Verifier:
        """Parse ``<name>+<hex key ID>+base64(type || public key)``; raises ``NoteError``."""
        if not isinstance(vkey, str) or len(vkey) > MAX_KEY_BYTES:
            raise NoteError("verifier key must be a str of bounded length")
        parts = vkey.split("+", 2)
        if len(parts) != 3 or not _HEX_KEY_ID.fullmatch(parts[1]):
            raise NoteError(f"malformed verifier key {vkey[:40]!r}")
        name, key_id_hex, key_b64 = parts
        raw = b64decode_canonical(key_b64)
        if len(raw) < 1:
            raise NoteError(f"malformed verifier key {vkey[:40]!r}")
        return cls(name, bytes.fromhex(key_id_hex), raw[0], raw[1:])

    def to_key(self) -> str:
        """The verifier key string."""
        return f"{self.name}+{self.key_id.hex()}+{_b64encode(bytes([self.alg]) + self.public_key)}"

    def verify(self, text: str, signature: bytes) -> bool:
        """True iff ``signature`` (without the key ID) is valid over note ``text``. Never raises."""
        return self._timestamp_if_valid(text, signature) is not None

    def _timestamp_if_valid(self, text: str, signature: bytes) -> int | None:
        """Verify; return the cosignature timestamp (0 for plain Ed25519) or None if invalid."""
        try:
            if not isinstance(signature, bytes) or not isinstance(text, str):
                return None
            if self.alg == ALG_ED25519:
                timestamp, message, sig = 0, text.encode("utf-8"), signature
            else:
                if len(signature) != _TIMESTAMP_SIZE + _ED25519_SIG_SIZE:
                    return None
                timestamp = int.from_bytes(signature[:_TIMESTAMP_SIZE], "big")
                if timestamp > MAX_TIMESTAMP:
                    return None
                message = cosignature_message(text, timestamp)
                sig = signature[_TIMESTAMP_SIZE:]
            if len(sig) != _ED25519_SIG_SIZE:
                return None
            nacl.signing.VerifyKey(self.public_key).verify(message, sig)
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            return None
        return timestamp


@dataclass(frozen=True)
class Signer:
    """An Ed25519 signer key (golang.org/x/mod/sumdb/note form). The seed never appears in repr.

    ``key_id`` is the note-signature (type 0x01) key ID; cosignatures use
    ``cosignature_verifier().key_id``. Raises ``NoteError`` when built from inconsistent values.
    """

    name: str
    key_id: bytes
    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not _is_valid_name(self.name):
            raise NoteError(f"invalid key name {self.name!r}")
        if not isinstance(self.seed, bytes) or len(self.seed) != _ED25519_KEY_SIZE:
            raise NoteError("an Ed25519 seed is 32 bytes")
        if not isinstance(self.key_id, bytes) or self.key_id != _key_id(
            self.name, ALG_ED25519, self.public_key
        ):
            raise NoteError(f"key ID does not match signer key {self.name!r}")

    @classmethod
    def from_key(cls, skey: str) -> Signer:
        """Parse ``PRIVATE+KEY+<name>+<hex key ID>+base64(0x01 || seed)``; raises ``NoteError``."""
        if not isinstance(skey, str) or len(skey) > MAX_KEY_BYTES:
            raise NoteError("signer key must be a str of bounded length")
        parts = skey.split("+", 4)
        if (
            len(parts) != 5
            or parts[0] != "PRIVATE"
            or parts[1] != "KEY"
            or not _HEX_KEY_ID.fullmatch(parts[3])
        ):
            raise NoteError("malformed signer key")
        raw = b64decode_canonical(parts[4])
        if len(raw) != 1 + _ED25519_KEY_SIZE or raw[0] != ALG_ED25519:
            raise NoteError("signer key is not an Ed25519 key")
        return cls(parts[2], bytes.fromhex(parts[3]), raw[1:])

    def to_key(self) -> str:
        """The private signer key string (keep it secret)."""
        key = _b64encode(bytes([ALG_ED25519]) + self.seed)
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{key}"

    @property
    def public_key(self) -> bytes:
        return bytes(nacl.signing.SigningKey(self.seed).verify_key)

    def verifier(self) -> Verifier:
        """The type 0x01 verifier for this signer's note signatures."""
        return Verifier(self.name, self.key_id, ALG_ED25519, self.public_key)

    def cosignature_verifier(self) -> Verifier:
        """The type 0x04 verifier for this signer's cosignature/v1 signatures."""
        public_key = self.public_key
        key_id = _key_id(self.name, ALG_COSIGNATURE_V1, public_key)
        return Verifier(self.name, key_id, ALG_COSIGNATURE_V1, public_key)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return nacl.signing.SigningKey(self.seed).sign(message).signature


def generate_signer(name: str) -> tuple[str, str]:
    """Generate a fresh Ed25519 key: returns (signer key string, verifier key string).

    Raises ``NoteError`` for an invalid key name.
    """
    if not _is_valid_name(name):
        raise NoteError(f"invalid key name {name!r}")
    signing_key = nacl.signing.SigningKey.generate()
    public_key = bytes(signing_key.verify_key)
    signer = Signer(name, _key_id(name, ALG_ED25519, public_key), bytes(signing_key))
    return signer.to_key(), signer.verifier().to_key()


# --- notes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, key ID and the signature bytes after the key ID."""

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if not _is_valid_name(self.name):
            raise NoteError(f"invalid key name {self.name!r}")
        if not isinstance(self.key_id, bytes) or len(self.key_id) != _KEY_ID_SIZE:
            raise NoteError("a key ID is 4 bytes")
        if not isinstance(self.signature, bytes) or not self.signature:
            raise NoteError("a signature is at least one byte")

    def line(self) -> str:
        """The signature line, newline included."""
        return f"{_SIG_PREFIX}{self.name} {_b64encode(self.key_id + self.signature)}\n"

    def cosignature_timestamp(self) -> int:
        """The timestamp of a cosignature/v1 signature (``u64be ts || 64-byte signature``).

        Does not verify anything. Raises ``NoteError`` if the signature has the wrong size
        for a cosignature/v1 (e.g. a plain 64-byte Ed25519 signature) or the timestamp is
        above ``MAX_TIMESTAMP``.
        """
        if len(self.signature) != _TIMESTAMP_SIZE + _ED25519_SIG_SIZE:
            raise NoteError(f"signature of {self.name!r} is not a cosignature/v1 signature")
        return _check_timestamp(int.from_bytes(self.signature[:_TIMESTAMP_SIZE], "big"))


@dataclass(frozen=True)
class Note:
    """A parsed (not yet verified) signed note: its text and its signature lines.

    Raises ``NoteError`` unless the text is valid note text and there are 1 to
    ``MAX_SIGNATURES`` signatures.
    """

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        _check_text(self.text)
        if not isinstance(self.signatures, tuple) or not all(
            isinstance(s, NoteSignature) for s in self.signatures
        ):
            raise NoteError("signatures must be a tuple of NoteSignature")
        if not 1 <= len(self.signatures) <= MAX_SIGNATURES:
            raise NoteError(f"a signed note has 1 to {MAX_SIGNATURES} signatures")

    def format(self) -> str:
        """The signed note: text, blank line, signature lines."""
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_SIG_PREFIX):
        raise NoteError("signature line does not start with an em dash and a space")
    name, sep, sig_b64 = line[len(_SIG_PREFIX) :].partition(" ")
    if not sep or not _is_valid_name(name):
        raise NoteError(f"malformed signature line for key {name[:40]!r}")
    raw = b64decode_canonical(sig_b64)
    if len(raw) < _KEY_ID_SIZE + 1:
        raise NoteError(f"signature of key {name!r} is too short")
    return NoteSignature(name, raw[:_KEY_ID_SIZE], raw[_KEY_ID_SIZE:])


def parse_note(text: str) -> Note:
    """Split a signed note into its text and signature lines, checking only its syntax.

    The text is the part before the LAST blank line, final newline included. Signatures are
    not verified. Raises ``NoteError`` for anything that is not a well-formed signed note.
    """
    # 1. bounded, valid UTF-8, no control characters but newline.
    _check_text(text)
    # 2. the text is separated from the signatures by the last blank line.
    split = text.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    body, block = text[: split + 1], text[split + 2 :]
    if not block:
        raise NoteError("note has no signature lines")
    # 3. one or more signature lines, each ending in a newline (guaranteed by step 1).
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
    return Note(body, tuple(_parse_signature_line(line) for line in lines))


@dataclass(frozen=True)
class VerifiedSignature:
    """A signature from a known key that verified; ``timestamp`` is set for cosignatures."""

    name: str
    key_id: bytes
    alg: int
    timestamp: int | None


@dataclass(frozen=True)
class VerifiedNote:
    """A note whose text is vouched for by at least one known key."""

    text: str
    signatures: tuple[VerifiedSignature, ...]

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.signatures]


def _index_verifiers(verifier_keys: Iterable[str | Verifier]) -> dict[tuple[str, bytes], Verifier]:
    if isinstance(verifier_keys, str | bytes):
        raise NoteError("verifier_keys must be an iterable of keys, not one string")
    try:
        keys = list(verifier_keys)
    except TypeError as exc:
        raise NoteError("verifier_keys must be an iterable of keys") from exc
    known: dict[tuple[str, bytes], Verifier] = {}
    for key in keys:
        if isinstance(key, str):
            verifier = Verifier.from_key(key)
        elif isinstance(key, Verifier):
            verifier = key
        else:
            raise NoteError(f"a verifier key must be a str or Verifier, not {type(key).__name__}")
        previous = known.setdefault((verifier.name, verifier.key_id), verifier)
        if previous != verifier:
            raise NoteError(f"ambiguous verifier keys for {verifier.name}+{verifier.key_id.hex()}")
    return known


def open_note(text: str, verifier_keys: Iterable[str | Verifier]) -> VerifiedNote:
    """Verify a signed note against trusted verifier keys.

    Steps (signed-note §Signatures): 1. parse the keys; 2. parse the note; 3. ignore
    signatures whose (name, key ID) is unknown; 4. verify every other one, rejecting the whole
    note if any fails; 5. require at least one. Each known key is reported once, in note order.

    Raises ``NoteError`` for a malformed note or key, ``InvalidSignatureError`` when a known
    key's signature fails, ``UnverifiedNoteError`` when no known key signed.
    """
    known = _index_verifiers(verifier_keys)
    note = parse_note(text)
    verified: dict[tuple[str, bytes], VerifiedSignature] = {}
    for sig in note.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        timestamp = verifier._timestamp_if_valid(note.text, sig.signature)
        if timestamp is None:
            raise InvalidSignatureError(sig.name, sig.key_id)
        verified.setdefault(
            (sig.name, sig.key_id),
            VerifiedSignature(
                sig.name,
                sig.key_id,
                verifier.alg,
                timestamp if verifier.alg == ALG_COSIGNATURE_V1 else None,
            ),
        )
    if not verified:
        raise UnverifiedNoteError("no signature from a known key")
    return VerifiedNote(note.text, tuple(verified.values()))


def verify_note(text: str, verifier_keys: Iterable[str | Verifier]) -> list[str]:
    """Return the names of the known keys whose signatures verified (each once, note order).

    Returns ``[]`` when no known key signed or when any known key's signature fails (the whole
    note is then rejected). Unknown signers are ignored. Raises only ``NoteError``, for a
    malformed note or verifier key.
    """
    try:
        return open_note(text, verifier_keys).names
    except (InvalidSignatureError, UnverifiedNoteError):
        return []


def _assemble(text: str, existing: tuple[NoteSignature, ...], new: list[NoteSignature]) -> str:
    """Keep existing lines except those from a key that signs again; append the new ones."""
    replaced = {(s.name, s.key_id) for s in new}
    kept = [s for s in existing if (s.name, s.key_id) not in replaced]
    signed = Note(text, (*kept, *new)).format()
    parse_note(signed)  # the result must itself be a well-formed, bounded note
    return signed


def _check_signers(signers: Iterable[Signer]) -> list[Signer]:
    listed = list(signers)
    if not listed or not all(isinstance(s, Signer) for s in listed):
        raise NoteError("at least one Signer is needed")
    return listed


def sign_note(text: str, signers: Iterable[Signer]) -> str:
    """Sign note ``text`` (ending in a newline) with each signer; returns the signed note.

    Raises ``NoteError`` for invalid text, no signers, or a result over the size limits.
    """
    body = _check_text(text)
    new = [
        NoteSignature(s.name, s.key_id, s.sign(body.encode("utf-8")))
        for s in _check_signers(signers)
    ]
    return _assemble(body, (), new)


def add_signatures(note_text: str, signers: Iterable[Signer]) -> str:
    """Add the signers' signatures to a signed note, replacing earlier lines of the same keys.

    Existing signatures are kept without being verified. Raises ``NoteError``.
    """
    note = parse_note(note_text)
    new = [
        NoteSignature(s.name, s.key_id, s.sign(note.text.encode("utf-8")))
        for s in _check_signers(signers)
    ]
    return _assemble(note.text, note.signatures, new)


def _cosignature(checkpoint_text: str, signer: Signer, timestamp: int) -> NoteSignature:
    parse_checkpoint(checkpoint_text)
    ts = _check_timestamp(timestamp)
    if not isinstance(signer, Signer):
        raise NoteError("cosign needs a Signer")
    key_id = signer.cosignature_verifier().key_id
    sig = signer.sign(cosignature_message(checkpoint_text, ts))
    return NoteSignature(signer.name, key_id, ts.to_bytes(_TIMESTAMP_SIZE, "big") + sig)


def cosign(checkpoint_text: str, signer: Signer, timestamp: int) -> str:
    """Return the cosignature/v1 signature line (newline included) over a checkpoint's text.

    ``checkpoint_text`` is the checkpoint note text (no signatures); ``timestamp`` is POSIX
    seconds. Raises ``NoteError`` if the text is not a checkpoint or the timestamp is invalid.
    """
    return _cosignature(checkpoint_text, signer, timestamp).line()


def add_cosignature(note_text: str, signer: Signer, timestamp: int) -> str:
    """Append a cosignature/v1 line to a signed checkpoint, replacing the key's earlier one.

    Existing signatures are kept without being verified. Raises ``NoteError``.
    """
    note = parse_note(note_text)
    return _assemble(note.text, note.signatures, [_cosignature(note.text, signer, timestamp)])


# --- checkpoints ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A tlog-checkpoint body: origin, tree size, root hash and optional extension lines.

    Raises ``NoteError`` when built from values that cannot be formatted as a checkpoint.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _is_line(self.origin):
            raise NoteError("checkpoint origin must be a non-empty line")
        if (
            not isinstance(self.size, int)
            or isinstance(self.size, bool)
            or not 0 <= self.size <= MAX_TREE_SIZE
        ):
            raise NoteError(f"checkpoint size must be an int in 0..2^64-1, not {self.size!r}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise NoteError("checkpoint root hash must be 32 bytes")
        if not isinstance(self.extensions, tuple) or not all(_is_line(e) for e in self.extensions):
            raise NoteError("checkpoint extension lines must be non-empty lines")
        if len(self.extensions) > MAX_CHECKPOINT_EXTENSION_LINES:
            raise NoteError(f"more than {MAX_CHECKPOINT_EXTENSION_LINES} extension lines")

    def format(self) -> str:
        """The checkpoint note text (the part that is signed), final newline included."""
        lines = [self.origin, str(self.size), _b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)


def _is_line(value: object) -> bool:
    return (
        isinstance(value, str)
        and value != ""
        and "\n" not in value
        and not _has_control_chars(value)
        and _is_utf8(value)
    )


def parse_checkpoint(body: str) -> Checkpoint:
    """Parse a checkpoint note text (a verified note's ``text``, without signature lines).

    Raises ``NoteError`` unless it is: a non-empty origin, a decimal size without leading
    zeroes, a canonical base64 32-byte root hash, then at most
    ``MAX_CHECKPOINT_EXTENSION_LINES`` non-empty extension lines, each line ending in a newline.
    """
    _check_text(body)
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("checkpoint needs origin, size and root hash lines")
    if len(lines) > 3 + MAX_CHECKPOINT_EXTENSION_LINES:
        raise NoteError(f"more than {MAX_CHECKPOINT_EXTENSION_LINES} extension lines")
    origin, size_text, root_b64, *extensions = lines
    if not _DECIMAL.fullmatch(size_text) or len(size_text) > 20:
        raise NoteError(f"malformed checkpoint size {size_text[:24]!r}")
    return Checkpoint(origin, int(size_text), b64decode_canonical(root_b64), tuple(extensions))
