"""Ed25519 signing keys of actors (department seals, kiosks, the platform).

Layer: ledger edge (crypto), ``pynacl``. Key ids and what is signed: docs/FORMAT.md §3.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Protocol

import nacl.exceptions
import nacl.signing

KEY_ID_CONTEXT = b"caseledger/key/v1\n"
KEY_ID_SIZE = 8
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


def key_id_of(public_key: bytes) -> bytes:
    """The 8-byte id of an Ed25519 public key: SHA-256(context ‖ key)[:8]."""
    return hashlib.sha256(KEY_ID_CONTEXT + public_key).digest()[:KEY_ID_SIZE]


class Signer(Protocol):
    """Something that signs on behalf of one actor key."""

    @property
    def key_id(self) -> bytes: ...

    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True)
class Ed25519Signer:
    """An actor's signing key held in memory (loaded from the keystore)."""

    seed: bytes = field(repr=False)
    actor: str = ""

    def __post_init__(self) -> None:
        if len(self.seed) != 32:
            raise ValueError("seed: an Ed25519 seed is 32 bytes")
        object.__setattr__(self, "_key", nacl.signing.SigningKey(self.seed))

    @classmethod
    def generate(cls, actor: str = "") -> Ed25519Signer:
        return cls(bytes(nacl.signing.SigningKey.generate()), actor)

    @property
    def public_key(self) -> bytes:
        return bytes(self._key.verify_key)  # type: ignore[attr-defined]

    @property
    def key_id(self) -> bytes:
        return key_id_of(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return bytes(self._key.sign(message).signature)  # type: ignore[attr-defined]


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature; never raises."""
    try:
        nacl.signing.VerifyKey(bytes(public_key)).verify(bytes(message), bytes(signature))
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError, TypeError):
        return False
    return True
