"""The signing port: what the domain needs of an actor's key, and how key ids are formed.

Layer: ledger domain (standard library only). Aggregates that seal documents take a
:class:`Signer`; the Ed25519 implementation and signature checks live in
``ledger.chain.signing`` (``pynacl``), outside the domain. Key ids: docs/FORMAT.md §3.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

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
