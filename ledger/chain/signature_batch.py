"""Ed25519 signature checks in batches, for verification worker processes.

Layer: ledger chain (crypto). Imports only ``pynacl``; the verification workers
(``ledger.chain.page_check``) check the signatures of a range in one batch
(libsodium verifies ~15 k signatures/s per core).
"""

from __future__ import annotations

from collections.abc import Sequence

import nacl.bindings
import nacl.exceptions


def first_bad(items: Sequence[tuple[bytes, bytes, bytes]]) -> int | None:
    """Index of the first (public key, message, signature) that fails, or None.

    libsodium's ``crypto_sign_open`` directly: what ``VerifyKey(key).verify(message,
    signature)`` runs, without a key object per item (the same checks: a key or signature
    of the wrong length raises ``ValueError``/``TypeError``, a wrong signature
    ``BadSignatureError``)."""
    open_ = nacl.bindings.crypto_sign_open
    key_size, signature_size = (
        nacl.bindings.crypto_sign_PUBLICKEYBYTES,
        nacl.bindings.crypto_sign_BYTES,
    )
    for index, (public_key, message, signature) in enumerate(items):
        try:
            if not isinstance(public_key, bytes) or not isinstance(signature, bytes):
                raise TypeError("key and signature are bytes")
            if len(public_key) != key_size or len(signature) != signature_size:
                raise ValueError("key or signature of the wrong length")
            open_(signature + message, public_key)
        except (
            nacl.exceptions.BadSignatureError,
            nacl.exceptions.ValueError,
            ValueError,
            TypeError,
        ):
            return index
    return None
