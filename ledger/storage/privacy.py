"""Personal data protection: per-subject encryption, erasure by key destruction, blind indexes.

Layer: ledger storage (crypto). DESIGN invariant 5; RULES.md "Identity and access"
(GZ20·25, NH·23, GZ16·21: extra protection for 个人信息). Names, ID numbers, phones
and addresses never enter the immutable log in clear:

- each subject (申请人) has its own 256-bit data key; every field is sealed with
  AES-256-GCM under it, with the subject id and the field name as associated data,
  so a ciphertext moved to another field or subject fails to open;
- data keys are stored wrapped (AES-256-GCM, the subject id as associated data) under
  a key-encryption key (KEK) the caller passes in and that is never in the database;
- erasure destroys the subject's data key: every ciphertext of the subject then opens
  as :data:`ERASED`, and the chain still verifies because no chained byte changed;
- subjects are looked up by a blind index, HMAC-SHA256(index key, kind ‖ 0x00 ‖
  normalised value) — never a bare hash, which a dictionary of ID numbers would invert.

The value types (:class:`Sealed`, :class:`PersonalData`, :data:`ERASED`) live in
``ledger.domain.personal_data`` so domain aggregates can hold them; ``cryptography`` is
loaded when something is actually sealed or opened.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import unicodedata
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from ledger.domain.personal_data import (
    ERASED,
    Erased,
    PrivacyError,
    Sealed,
    check_field,
)
from ledger.errors import ConfigurationError

if TYPE_CHECKING:
    from ledger.storage.subject_keys import SubjectKeyStore

__all__ = [
    "CiphertextRejected",
    "PersonalDataVault",
    "SubjectErased",
    "UnknownSubject",
    "WrongKeyEncryptionKey",
    "normalise_index_value",
]

SECRET_SIZE: Final = 32
DATA_KEY_SIZE: Final = 32
NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16
FORMAT_V1: Final = b"\x01"
FIELD_CONTEXT: Final = b"caseledger/personal-data/v1\n"
WRAP_CONTEXT: Final = b"caseledger/subject-key/v1\n"
KEK_ID_CONTEXT: Final = b"caseledger/kek-id/v1"
KEK_ID_SIZE: Final = 8
MAX_PLAINTEXT: Final = 4096
INDEX_KIND_PATTERN: Final = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
#: Kinds whose values are identifiers: spaces dropped, letters upper-cased.
IDENTIFIER_KINDS: Final = frozenset(
    {"resident_id", "social_security", "passport", "uscc", "registration_number", "institution"}
)


class CiphertextRejected(PrivacyError, ValueError):
    """A ciphertext failed authentication: tampered, truncated, or moved to another
    field or subject (or a wrapped key unwrapped under the wrong KEK)."""


class UnknownSubject(PrivacyError, LookupError):
    """The subject has no data key: nothing was ever sealed for it."""


class SubjectErased(PrivacyError):
    """The subject was erased; no new personal data is sealed for it."""


class WrongKeyEncryptionKey(PrivacyError):
    """The subject's key was wrapped under another key-encryption key."""


def _check_secret(name: str, value: object) -> bytes:
    if not isinstance(value, bytes) or len(value) != SECRET_SIZE:
        raise ConfigurationError(f"{name}: must be a {SECRET_SIZE}-byte secret")
    return value


def normalise_index_value(kind: str, value: str) -> str:
    """The form of ``value`` that is indexed: NFKC, whitespace collapsed and trimmed, upper
    case; identifiers lose every space; phones keep only their digits (a leading 86 dropped).
    Raises :class:`PrivacyError` if nothing is left."""
    if not isinstance(value, str):
        raise PrivacyError("value: must be text")
    text = " ".join(unicodedata.normalize("NFKC", value).split()).upper()
    if kind in IDENTIFIER_KINDS:
        text = text.replace(" ", "")
    elif kind == "phone":
        text = "".join(ch for ch in text if ch.isdigit())
        if len(text) == 13 and text.startswith("86"):
            text = text[2:]
    if not text:
        raise PrivacyError(f"value: nothing to index for {kind!r}")
    return text


def _aes_gcm(key: bytes) -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_SIZE)
    return FORMAT_V1 + nonce + bytes(_aes_gcm(key).encrypt(nonce, plaintext, aad))


def _decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Open ``blob``; raises :class:`CiphertextRejected` when it does not authenticate."""
    from cryptography.exceptions import InvalidTag

    if (
        not isinstance(blob, bytes)
        or len(blob) < 1 + NONCE_SIZE + TAG_SIZE
        or blob[:1] != FORMAT_V1
    ):
        raise CiphertextRejected("ciphertext: malformed (wrong version or too short)")
    nonce, body = blob[1 : 1 + NONCE_SIZE], blob[1 + NONCE_SIZE :]
    try:
        return bytes(_aes_gcm(key).decrypt(nonce, body, aad))
    except InvalidTag:
        raise CiphertextRejected(
            "ciphertext: authentication failed (tampered, or moved to another field or subject)"
        ) from None


class PersonalDataVault:
    """Seals, opens, indexes and erases personal data (DESIGN invariant 5).

    ``kek`` and ``index_key`` are distinct 32-byte secrets kept outside the database
    (the composition root loads them from the passphrase-sealed keystore).
    """

    def __init__(self, store: SubjectKeyStore, *, kek: bytes, index_key: bytes) -> None:
        _check_secret("kek", kek)
        _check_secret("index_key", index_key)
        if hmac.compare_digest(kek, index_key):
            raise ConfigurationError("index_key: must differ from the key-encryption key")
        self._store = store
        self._kek = kek
        self._index_key = index_key
        self.kek_id = hmac.new(kek, KEK_ID_CONTEXT, hashlib.sha256).digest()[:KEK_ID_SIZE]

    def __repr__(self) -> str:
        return f"PersonalDataVault(kek_id={self.kek_id.hex()})"

    # -- data keys --------------------------------------------------------------------------

    def _data_key(self, subject_id: UUID, *, create: bool) -> bytes | None:
        """The subject's data key, ``None`` if erased. Creates one if asked and absent."""
        if not isinstance(subject_id, UUID):
            raise PrivacyError("subject_id: must be a UUID")
        record = self._store.get(subject_id)
        if record is None:
            if not create:
                raise UnknownSubject(f"subject_id: no data key for subject {subject_id}")
            key = os.urandom(DATA_KEY_SIZE)
            wrapped = _encrypt(self._kek, key, WRAP_CONTEXT + subject_id.bytes)
            record = self._store.insert(subject_id, self.kek_id, wrapped)
        if record.wrapped_key is None:
            return None
        if not hmac.compare_digest(record.kek_id, self.kek_id):
            raise WrongKeyEncryptionKey(
                f"kek: subject {subject_id} is wrapped under key {record.kek_id.hex()}, "
                f"not {self.kek_id.hex()}"
            )
        return _decrypt(self._kek, record.wrapped_key, WRAP_CONTEXT + subject_id.bytes)

    # -- fields -----------------------------------------------------------------------------

    def seal(self, subject_id: UUID, field: str, plaintext: str) -> Sealed:
        """Encrypt ``plaintext`` as ``field`` of the subject (creating its key on first use).
        Raises :class:`SubjectErased` for an erased subject."""
        check_field(field)
        if not isinstance(plaintext, str):
            raise PrivacyError(f"{field}: must be text")
        data = plaintext.encode("utf-8")
        if len(data) > MAX_PLAINTEXT:
            raise PrivacyError(f"{field}: longer than {MAX_PLAINTEXT} bytes")
        key = self._data_key(subject_id, create=True)
        if key is None:
            raise SubjectErased(f"subject_id: subject {subject_id} was erased")
        aad = FIELD_CONTEXT + subject_id.bytes + field.encode("ascii")
        return Sealed(subject_id, field, _encrypt(key, data, aad))

    def open(self, sealed: Sealed) -> str | Erased:
        """The clear text of ``sealed``, or :data:`ERASED` if the subject's key is destroyed.
        Raises :class:`CiphertextRejected` for a tampered or moved ciphertext."""
        if not isinstance(sealed, Sealed):
            raise PrivacyError("sealed: expected a Sealed value")
        key = self._data_key(sealed.subject_id, create=False)
        if key is None:
            return ERASED
        aad = FIELD_CONTEXT + sealed.subject_id.bytes + sealed.field.encode("ascii")
        data = _decrypt(key, sealed.ciphertext, aad)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise CiphertextRejected(f"{sealed.field}: decrypted bytes are not UTF-8") from None

    def erase(self, subject_id: UUID) -> bool:
        """Destroy the subject's data key (idempotent); ``True`` if a key was destroyed now."""
        if not isinstance(subject_id, UUID):
            raise PrivacyError("subject_id: must be a UUID")
        return self._store.destroy(subject_id)

    def is_erased(self, subject_id: UUID) -> bool:
        record = self._store.get(subject_id)
        return record is not None and record.erased

    # -- blind index ------------------------------------------------------------------------

    def blind_index(self, kind: str, value: str) -> bytes:
        """HMAC-SHA256(index key, kind ‖ 0x00 ‖ normalised value): a keyed look-up token."""
        if not isinstance(kind, str) or not INDEX_KIND_PATTERN.fullmatch(kind):
            raise PrivacyError("kind: an index kind is 1–64 characters of a-z, 0-9, '_.:-'")
        message = kind.encode("ascii") + b"\x00" + normalise_index_value(kind, value).encode()
        return hmac.new(self._index_key, message, hashlib.sha256).digest()

    def matches(self, kind: str, value: str, index: bytes) -> bool:
        """Whether ``value`` has blind index ``index`` (constant-time comparison)."""
        return hmac.compare_digest(self.blind_index(kind, value), index)
