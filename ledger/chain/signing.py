"""Ed25519 signing keys of actors (department seals, kiosks, the platform), and signature checks.

Layer: ledger chain (crypto), ``pynacl``. Key ids and what is signed: docs/FORMAT.md §3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nacl.exceptions
import nacl.signing

from ledger.domain.signer import key_id_of


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
