"""Checks of the department's seal on signed documents and sealed records.

Layer: ledger chain (crypto through ``ledger.chain.signing``). The domain builds and seals
documents (``ledger.domain.documents``, ``ledger.domain.sealed``) through the signing port;
checking a seal needs Ed25519, so it lives here. Steps: docs/FORMAT.md §3.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from ledger.chain.signing import verify_signature
from ledger.domain.documents import SignedDocument, document_message
from ledger.domain.sealed import SealedRecord, sealed_message
from ledger.domain.signer import key_id_of

__all__ = ["verify_document", "verify_sealed", "verify_signed_content"]


def verify_signed_content(
    content: Callable[[], bytes],
    content_hash: bytes,
    key_id: bytes,
    signature: bytes,
    public_key: bytes,
    message: Callable[[bytes], bytes],
) -> bool:
    """The check every signed form shares; never raises.

    Steps: 1. recompute the content hash and compare; 2. the key id is that of
    ``public_key``; 3. the Ed25519 signature over ``message(content hash)`` verifies.
    """
    try:
        recomputed = hashlib.sha256(content()).digest()
        if not hmac.compare_digest(recomputed, content_hash):
            return False
        if not hmac.compare_digest(key_id_of(bytes(public_key)), key_id):
            return False
        return verify_signature(public_key, message(recomputed), signature)
    except Exception:
        return False


def verify_document(document: SignedDocument, public_key: bytes) -> bool:
    """True when the document's hash, key id and seal signature all check; never raises."""
    try:
        parts = (document.content, document.content_hash, document.key_id, document.signature)
    except AttributeError:
        return False
    return verify_signed_content(*parts, public_key, document_message)


def verify_sealed(record: SealedRecord, public_key: bytes) -> bool:
    """True when the record's hash, key id and seal signature all check; never raises."""
    try:
        parts = (record.content, record.content_hash, record.key_id, record.signature)
    except AttributeError:
        return False
    return verify_signed_content(*parts, public_key, sealed_message)
