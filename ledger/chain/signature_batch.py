"""Ed25519 signature checks in batches, for verification worker processes.

Layer: ledger chain (crypto). Imports only ``pynacl`` so that worker processes
start fast; ``ledger.chain.verification`` sends it batches when a log is large enough
for a second core to pay off (libsodium verifies ~15 k signatures/s per core).
"""

from __future__ import annotations

from collections.abc import Sequence

import nacl.exceptions
import nacl.signing


def first_bad(items: Sequence[tuple[bytes, bytes, bytes]]) -> int | None:
    """Index of the first (public key, message, signature) that fails, or None."""
    for index, (public_key, message, signature) in enumerate(items):
        try:
            nacl.signing.VerifyKey(public_key).verify(message, signature)
        except (
            nacl.exceptions.BadSignatureError,
            nacl.exceptions.ValueError,
            ValueError,
            TypeError,
        ):
            return index
    return None
