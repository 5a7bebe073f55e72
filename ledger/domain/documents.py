"""Receipts, notices and decisions as documents signed with the department's seal key.

Layer: ledger domain (values plus the signing port; ``ledger.chain.seals`` verifies).
An e-sealed document equals a sealed paper one (GZ16·14, FZ·4, NH·19); receipts
(GZ16·11, PY·11, NH·14), the one-time correction notice (GZ20·11, FZ·15),
non-acceptance and return notices with reasons (GZ16·12), special-procedure notices
(NH·15), decisions (GZ20·12) and delivery receipts (GZ20·15, NH·16, FZ·20).

What is signed (docs/FORMAT.md, "documents"): ``content = canonical({kind, serial,
issuer, issued_at, body})``; ``content_hash = SHA-256(content)``; the seal key signs
``b"caseledger/document/v1\\n" ‖ content_hash`` with Ed25519. ``serial`` is the case's
申请流水号. Bodies name the applicant by id, never by clear personal data (DESIGN
invariant 5).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, TypeVar

from ledger.domain.departments import DEPARTMENT_CODE_PATTERN
from ledger.domain.rules import InvalidDocument
from ledger.domain.signer import KEY_ID_SIZE, SIGNATURE_SIZE, Signer
from ledger.domain.templates import check_against_template
from ledger.encoding import EncodingError, canonical, decode

__all__ = [
    "DOCUMENT_CONTEXT",
    "REQUIRED_BODY_FIELDS",
    "DocumentKind",
    "SignedDocument",
    "document_message",
    "issue_document",
]

R = TypeVar("R")

DOCUMENT_CONTEXT: Final = b"caseledger/document/v1\n"
HASH_SIZE: Final = 32
SERIAL_PATTERN: Final = re.compile(r"[0-9A-Za-z-]{1,64}")
MAX_BODY_BYTES: Final = 256 * 1024


class DocumentKind(StrEnum):
    """The documents of a case."""

    APPLICATION_RECEIPT = "application_receipt"
    """申请回执 (GZ16·11, PY·11)"""
    CORRECTION_NOTICE = "correction_notice"
    """补齐补正通知书 — 一次性告知 (GZ20·11, FZ·15)"""
    ACCEPTANCE_RECEIPT = "acceptance_receipt"
    """受理回执 / 受理承诺单 (NH·14, FZ·15)"""
    NON_ACCEPTANCE_NOTICE = "non_acceptance_notice"
    """不予受理通知书 (GZ16·12)"""
    RETURN_NOTICE = "return_notice"
    """退件通知书 (GZ16·12)"""
    SPECIAL_PROCEDURE_NOTICE = "special_procedure_notice"
    """特殊程序告知书 (NH·15, ALL·45)"""
    EXTENSION_NOTICE = "extension_notice"
    """延长期限告知书 — the reasons of an extension told to the applicant (ALL·42)"""
    APPROVAL_DECISION = "approval_decision"
    """批准决定书 (GZ20·12, NH·15)"""
    DISAPPROVAL_DECISION = "disapproval_decision"
    """不予批准决定书 (GZ20·12, NH·15)"""
    RESULT_DOCUMENT = "result_document"
    """结果文书 (GZ16·15, FZ·19)"""
    DELIVERY_RECEIPT = "delivery_receipt"
    """送达回证 (GZ20·15, NH·16, FZ·20)"""
    WINDOW_VETO_REPORT = "window_veto_report"
    """窗口否决报备单 — a window application refused, reported to the managing office (FZ·16)"""


REQUIRED_BODY_FIELDS: Final[Mapping[DocumentKind, tuple[str, ...]]] = {
    DocumentKind.APPLICATION_RECEIPT: (
        "applicant",
        "item_name",
        "materials",
        "handling_mode",
        "location",
    ),
    DocumentKind.CORRECTION_NOTICE: ("materials",),
    DocumentKind.ACCEPTANCE_RECEIPT: ("due",),
    DocumentKind.NON_ACCEPTANCE_NOTICE: ("reasons",),
    DocumentKind.RETURN_NOTICE: ("reasons",),
    DocumentKind.SPECIAL_PROCEDURE_NOTICE: ("procedure", "period"),
    DocumentKind.EXTENSION_NOTICE: ("working_days", "reasons", "approved_by", "due"),
    DocumentKind.APPROVAL_DECISION: (),
    DocumentKind.DISAPPROVAL_DECISION: ("reasons",),
    DocumentKind.RESULT_DOCUMENT: (),
    DocumentKind.DELIVERY_RECEIPT: ("method",),
    DocumentKind.WINDOW_VETO_REPORT: ("decision", "reasons", "reported_to"),
}
"""Body fields each kind must carry, non-empty (the regulations cited on each kind)."""


def _kind(value: object) -> DocumentKind:
    try:
        return DocumentKind(value)  # type: ignore[arg-type]
    except ValueError:
        allowed = ", ".join(k.value for k in DocumentKind)
        raise InvalidDocument(
            "kind", f"unknown kind {value!r}: expected one of {allowed}"
        ) from None


def aware_utc(value: object) -> dt.datetime:
    """``issued_at`` checked (aware) and in UTC; shared by every signed form."""
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise InvalidDocument("issued_at", "must be a time-zone-aware datetime")
    return value.astimezone(dt.UTC)


class _Issuing(threading.local):
    """The body an issuing function of this thread has just checked, while it builds the
    record from it (:func:`issued`)."""

    body: object = None


_issuing = _Issuing()


def issued(record: Callable[..., R], body: dict[str, Any], **fields: Any) -> R:
    """``record(body=body, **fields)``, taking ``body`` as checked (:func:`body_of`): the very
    object :func:`checked_body` returned to the issuing function, unchanged since. A sealed
    document's body is checked, encoded and decoded once to be signed; building the record
    checked it all again (a second encoding and decoding of every receipt and decision)."""
    _issuing.body = body
    try:
        return record(body=body, **fields)
    finally:
        _issuing.body = None


def body_of(kind: str, required: Sequence[str], value: object) -> dict[str, Any]:
    """What a record's ``__post_init__`` keeps as its body: ``value`` itself when it is the
    body being issued (:func:`issued`), else :func:`checked_body` of it (a record parsed from
    storage, or built by hand)."""
    if value is not None and value is _issuing.body:
        return value  # type: ignore[return-value]
    return checked_body(kind, required, value)


def checked_body(kind: str, required: Sequence[str], value: object) -> dict[str, Any]:
    """A body that is a canonical-encodable map within MAX_BODY_BYTES stating ``required``."""
    if not isinstance(value, Mapping):
        raise InvalidDocument("body", "must be a map with text keys")
    try:
        encoded = canonical(value)
    except EncodingError as exc:
        raise InvalidDocument("body", f"not canonical-encodable: {exc}") from None
    if len(encoded) > MAX_BODY_BYTES:
        raise InvalidDocument("body", f"larger than {MAX_BODY_BYTES} bytes")
    body: dict[str, Any] = decode(encoded)
    for name in required:
        if body.get(name) in (None, "", [], {}):
            raise InvalidDocument(f"body.{name}", f"a {kind} states its {name}")
    return body


def fixed_bytes(field: str, value: object, size: int) -> bytes:
    if not isinstance(value, bytes) or len(value) != size:
        raise InvalidDocument(field, f"must be {size} bytes")
    return value


def _body(kind: DocumentKind, value: object) -> dict[str, Any]:
    return body_of(kind.value, REQUIRED_BODY_FIELDS[kind], value)


def document_content(
    kind: DocumentKind, serial: str, issuer: str, issued_at: dt.datetime, body: Mapping[str, Any]
) -> bytes:
    """The canonical bytes whose SHA-256 is signed."""
    return canonical(
        {
            "kind": kind.value,
            "serial": serial,
            "issuer": issuer,
            "issued_at": issued_at,
            "body": body,
        }
    )


def document_message(content_hash: bytes) -> bytes:
    """The exact bytes the seal key signs."""
    return DOCUMENT_CONTEXT + content_hash


@dataclass(frozen=True, eq=True)
class SignedDocument:
    """An e-sealed receipt, notice or decision. Building one checks its shape (raising
    :class:`InvalidDocument` naming the field), not its signature: see
    :func:`ledger.chain.seals.verify_document`."""

    kind: DocumentKind
    serial: str
    issuer_department: str
    issued_at: dt.datetime
    body: dict[str, Any]
    content_hash: bytes
    key_id: bytes
    signature: bytes

    __hash__ = None  # type: ignore[assignment]  # the body is a dict

    def __post_init__(self) -> None:
        kind = _kind(self.kind)
        object.__setattr__(self, "kind", kind)
        if not isinstance(self.serial, str) or not SERIAL_PATTERN.fullmatch(self.serial):
            raise InvalidDocument("serial", "must be 1–64 characters of 0-9, A-Z, a-z, '-'")
        if not isinstance(self.issuer_department, str) or not DEPARTMENT_CODE_PATTERN.fullmatch(
            self.issuer_department
        ):
            raise InvalidDocument("issuer_department", "must be a department code")
        object.__setattr__(self, "issued_at", aware_utc(self.issued_at))
        object.__setattr__(self, "body", _body(kind, self.body))
        fixed_bytes("content_hash", self.content_hash, HASH_SIZE)
        fixed_bytes("key_id", self.key_id, KEY_ID_SIZE)
        fixed_bytes("signature", self.signature, SIGNATURE_SIZE)

    def content(self) -> bytes:
        return document_content(
            self.kind, self.serial, self.issuer_department, self.issued_at, self.body
        )

    def to_dict(self) -> dict[str, Any]:
        """The document as canonical-encodable values (event attribute)."""
        return {
            "kind": self.kind.value,
            "serial": self.serial,
            "issuer_department": self.issuer_department,
            "issued_at": self.issued_at,
            "body": self.body,
            "content_hash": self.content_hash,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, data: object) -> SignedDocument:
        """Parse a stored document; raises :class:`InvalidDocument` naming the field."""
        if not isinstance(data, Mapping):
            raise InvalidDocument("document", "must be a map")
        names = (
            "kind",
            "serial",
            "issuer_department",
            "issued_at",
            "body",
            "content_hash",
            "key_id",
            "signature",
        )
        for name in names:
            if name not in data:
                raise InvalidDocument(name, "missing")
        extra = set(data) - set(names)
        if extra:
            raise InvalidDocument("document", f"unknown fields {sorted(map(str, extra))}")
        return cls(**{name: data[name] for name in names})


def issue_document(
    kind: DocumentKind | str,
    *,
    serial: str,
    issuer_department: str,
    issued_at: dt.datetime,
    body: Mapping[str, Any],
    signer: Signer,
) -> SignedDocument:
    """Seal a new document with ``signer`` (the issuing department's seal key).

    Raises :class:`InvalidDocument` naming the field when the document is malformed or leaves
    out a field of its published template (FZ·16, :mod:`ledger.domain.templates`).
    """
    checked_kind = _kind(kind)
    checked = checked_body(checked_kind.value, REQUIRED_BODY_FIELDS[checked_kind], body)
    check_against_template(checked_kind.value, checked)
    when = aware_utc(issued_at)
    content_hash = hashlib.sha256(
        document_content(checked_kind, serial, issuer_department, when, checked)
    ).digest()
    signature = signer.sign(document_message(content_hash))
    return issued(
        SignedDocument,
        checked,
        kind=checked_kind,
        serial=serial,
        issuer_department=issuer_department,
        issued_at=when,
        content_hash=content_hash,
        key_id=signer.key_id,
        signature=signature,
    )
