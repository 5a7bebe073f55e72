"""Sealed records: e-certificate versions and written answers signed with a seal key.

Layer: ledger domain (values plus the signing port; ``ledger.chain.seals`` verifies).
An e-sealed document equals a sealed paper one (GZ16·14, FZ·4, NH·19); seals come from
the trusted-authentication platform (GZ20·19). This module holds the documents of the
e-certificate, rating, complaint, blacklist and supervision flows that
``ledger.domain.documents`` (the documents of a case) does not: the content of each
e-certificate version (电子证照, GZ20·21, GZ16·15), the written answer to a certificate
dispute (书面告知, GZ20·23), a rectification report (整改反馈, FZ·22), the answer to a
consultation or complaint (答复, GZ20·8, FZ·9), a blacklist notice and an appeal decision
(通知书, 申诉决定, GZ16·22, NH·25, PY·28), and the answer to a supervision order (督办回复,
FZ·24).

What is signed: ``content = canonical({kind, subject, issuer, issued_at, body})``;
``content_hash = SHA-256(content)``; the seal key signs
``b"caseledger/sealed/v1\\n" ‖ content_hash`` with Ed25519. The context differs from that
of ``ledger.domain.documents``, so a signature over one kind of document never verifies as the
other. ``subject`` names what the record is about (a certificate identifier, a case
serial number, or an aggregate id as text). Bodies name people by id, never by clear
personal data (DESIGN invariant 5).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from ledger.domain.departments import DEPARTMENT_CODE_PATTERN
from ledger.domain.documents import aware_utc, body_of, checked_body, fixed_bytes, issued
from ledger.domain.rules import FieldViolation, InvalidDocument
from ledger.domain.signer import KEY_ID_SIZE, SIGNATURE_SIZE, Signer
from ledger.domain.templates import check_against_template
from ledger.encoding import canonical

__all__ = [
    "REQUIRED_BODY_FIELDS",
    "SEALED_CONTEXT",
    "SealedKind",
    "SealedRecord",
    "seal",
    "sealed_message",
]

SEALED_CONTEXT: Final = b"caseledger/sealed/v1\n"
HASH_SIZE: Final = 32
MAX_SUBJECT: Final = 200
MAX_BODY_BYTES: Final = 256 * 1024


class SealedKind(StrEnum):
    """The sealed records of issue 4's flows."""

    E_CERTIFICATE = "e_certificate"
    """电子证照 (one version's content) (GZ20·21, GZ16·15)"""
    CERTIFICATE_DISPUTE_ANSWER = "certificate_dispute_answer"
    """电子证照异议书面答复 (GZ20·23)"""
    RECTIFICATION_REPORT = "rectification_report"
    """差评整改反馈 (FZ·22)"""
    CONSULTATION_ANSWER = "consultation_answer"
    """咨询投诉答复 (GZ20·8, FZ·9)"""
    BLACKLIST_NOTICE = "blacklist_notice"
    """纳入网上办事黑名单通知书 (GZ16·22, NH·25, PY·28)"""
    APPEAL_DECISION = "appeal_decision"
    """申诉处理决定 (GZ16·22, NH·25, PY·28)"""
    SUPERVISION_ANSWER = "supervision_answer"
    """督办回复 (FZ·24)"""
    DELAY_EXPLANATION = "delay_explanation"
    """超期主动说明 — a department's own explanation of a red-light case (FZ·24)"""


REQUIRED_BODY_FIELDS: Final[Mapping[SealedKind, tuple[str, ...]]] = {
    SealedKind.E_CERTIFICATE: ("certificate_id", "holder", "type_code", "content"),
    SealedKind.CERTIFICATE_DISPUTE_ANSWER: ("dispute", "finding", "answer"),
    SealedKind.RECTIFICATION_REPORT: ("rating", "measures"),
    SealedKind.CONSULTATION_ANSWER: ("consultation", "answer"),
    SealedKind.BLACKLIST_NOTICE: ("applicant", "ground", "until", "appeal_route"),
    SealedKind.APPEAL_DECISION: ("applicant", "finding", "reasons"),
    SealedKind.SUPERVISION_ANSWER: ("order", "answer"),
    SealedKind.DELAY_EXPLANATION: ("case", "explanation"),
}
"""Body fields each kind must carry, non-empty."""


def _kind(value: object) -> SealedKind:
    try:
        return SealedKind(value)  # type: ignore[arg-type]
    except ValueError:
        allowed = ", ".join(k.value for k in SealedKind)
        raise InvalidDocument(
            "kind", f"unknown kind {value!r}: expected one of {allowed}"
        ) from None


def _subject(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_SUBJECT:
        raise InvalidDocument("subject", f"must be 1–{MAX_SUBJECT} characters of text")
    return value


def _issuer(value: object) -> str:
    if not isinstance(value, str) or not DEPARTMENT_CODE_PATTERN.fullmatch(value):
        raise InvalidDocument("issuer", "must be a department code")
    return value


def _body(kind: SealedKind, value: object) -> dict[str, Any]:
    return body_of(kind.value, REQUIRED_BODY_FIELDS[kind], value)


def sealed_content(
    kind: SealedKind, subject: str, issuer: str, issued_at: dt.datetime, body: Mapping[str, Any]
) -> bytes:
    """The canonical bytes whose SHA-256 is signed."""
    return canonical(
        {
            "kind": kind.value,
            "subject": subject,
            "issuer": issuer,
            "issued_at": issued_at,
            "body": body,
        }
    )


def sealed_message(content_hash: bytes) -> bytes:
    """The exact bytes the seal key signs."""
    return SEALED_CONTEXT + content_hash


_NAMES: Final = (
    "kind",
    "subject",
    "issuer",
    "issued_at",
    "body",
    "content_hash",
    "key_id",
    "signature",
)


@dataclass(frozen=True, eq=True)
class SealedRecord:
    """A sealed record. Building one checks its shape (raising :class:`InvalidDocument`
    naming the field), not its signature: see :func:`ledger.chain.seals.verify_sealed`."""

    kind: SealedKind
    subject: str
    issuer: str
    issued_at: dt.datetime
    body: dict[str, Any]
    content_hash: bytes
    key_id: bytes
    signature: bytes

    __hash__ = None  # type: ignore[assignment]  # the body is a dict

    def __post_init__(self) -> None:
        kind = _kind(self.kind)
        object.__setattr__(self, "kind", kind)
        _subject(self.subject)
        _issuer(self.issuer)
        object.__setattr__(self, "issued_at", aware_utc(self.issued_at))
        object.__setattr__(self, "body", _body(kind, self.body))
        fixed_bytes("content_hash", self.content_hash, HASH_SIZE)
        fixed_bytes("key_id", self.key_id, KEY_ID_SIZE)
        fixed_bytes("signature", self.signature, SIGNATURE_SIZE)

    def content(self) -> bytes:
        return sealed_content(self.kind, self.subject, self.issuer, self.issued_at, self.body)

    def to_dict(self) -> dict[str, Any]:
        """The record as canonical-encodable values (an event attribute)."""
        return {
            "kind": self.kind.value,
            "subject": self.subject,
            "issuer": self.issuer,
            "issued_at": self.issued_at,
            "body": self.body,
            "content_hash": self.content_hash,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, data: object) -> SealedRecord:
        """Parse a stored record; raises :class:`InvalidDocument` naming the field."""
        if not isinstance(data, Mapping):
            raise InvalidDocument("record", "must be a map")
        for name in _NAMES:
            if name not in data:
                raise InvalidDocument(name, "missing")
        extra = set(data) - set(_NAMES)
        if extra:
            raise InvalidDocument("record", f"unknown fields {sorted(map(str, extra))}")
        return cls(**{name: data[name] for name in _NAMES})


def seal(
    kind: SealedKind | str,
    *,
    subject: str,
    issuer: str,
    issued_at: dt.datetime,
    body: Mapping[str, Any],
    signer: Signer,
    refuse: type[FieldViolation] = InvalidDocument,
) -> SealedRecord:
    """Seal a new record with ``signer`` (the issuer's seal key).

    Raises ``refuse`` (by default :class:`InvalidDocument`) naming the field when the record is
    malformed: an aggregate passes its own refusal, so its callers see one error type.
    """
    try:
        checked_kind = _kind(kind)
        checked_subject = _subject(subject)
        checked_issuer = _issuer(issuer)
        when = aware_utc(issued_at)
        checked = checked_body(checked_kind.value, REQUIRED_BODY_FIELDS[checked_kind], body)
        check_against_template(checked_kind.value, checked)
    except InvalidDocument as exc:
        if refuse is InvalidDocument:
            raise
        raise refuse(exc.field, exc.problem) from None
    content_hash = hashlib.sha256(
        sealed_content(checked_kind, checked_subject, checked_issuer, when, checked)
    ).digest()
    signature = signer.sign(sealed_message(content_hash))
    return issued(
        SealedRecord,
        checked,
        kind=checked_kind,
        subject=checked_subject,
        issuer=checked_issuer,
        issued_at=when,
        content_hash=content_hash,
        key_id=signer.key_id,
        signature=signature,
    )
