"""E-sealed receipts, notices and decisions (GZ16·14, FZ·4, NH·19): what is signed, round trips,
tampering, and the body fields each kind must carry."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace
from typing import Any
from uuid import uuid4

import pytest

from ledger.chain.seals import verify_document
from ledger.chain.signing import Ed25519Signer, verify_signature
from ledger.domain.documents import (
    DOCUMENT_CONTEXT,
    REQUIRED_BODY_FIELDS,
    DocumentKind,
    SignedDocument,
    issue_document,
)
from ledger.domain.rules import InvalidDocument
from ledger.encoding import canonical, decode
from tests.ledger.conftest import DEPARTMENT_CODE

SEAL = Ed25519Signer.generate("dept")
ISSUED = dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
SERIAL = "GZ20240301000123"

BODIES: dict[DocumentKind, dict[str, Any]] = {
    DocumentKind.APPLICATION_RECEIPT: {
        "applicant": uuid4(),
        "item_name": "食品经营许可（新办）",
        "materials": ["M01", "M02"],
        "handling_mode": "online_pre_acceptance",
        "location": "广州市政务服务中心 B 区 12 号窗口",
        "approval_code": "4401002403010001",
    },
    DocumentKind.CORRECTION_NOTICE: {  # 补齐补正通知书 / 缺件通知书, FZ·16's template
        "materials": [{"code": "M03", "problem": "缺少平面图"}],
        "round": 1,
        "basis": "GZ20·11, FZ·15",
    },
    DocumentKind.ACCEPTANCE_RECEIPT: {  # 受理承诺单, FZ·16's template
        "accepted_on": dt.date(2024, 3, 1),
        "due": dt.date(2024, 3, 15),
        "promised_limit_days": 10,
        "item_name": "食品经营许可（新办）",
        "applicant": uuid4(),
    },
    DocumentKind.NON_ACCEPTANCE_NOTICE: {  # 不予受理通知单, FZ·16's template
        "reasons": ["不属于本部门职权范围"],
        "item_name": "食品经营许可（新办）",
        "applicant": uuid4(),
    },
    DocumentKind.RETURN_NOTICE: {"reasons": ["申请人撤回"]},
    DocumentKind.SPECIAL_PROCEDURE_NOTICE: {
        "procedure": "site_survey",
        "period": [dt.date(2024, 3, 4), dt.date(2024, 3, 8)],
    },
    DocumentKind.EXTENSION_NOTICE: {  # ALL·42
        "working_days": 10,
        "reasons": ["需组织现场核查"],
        "approved_by": "局长 王五",
        "due": dt.date(2024, 3, 29),
    },
    DocumentKind.APPROVAL_DECISION: {"decision": "准予许可"},
    DocumentKind.DISAPPROVAL_DECISION: {"reasons": ["经营场所不符合要求"]},
    DocumentKind.RESULT_DOCUMENT: {"certificate_id": "1.2.156.3005.2.11100000000013338W002.X"},
    DocumentKind.DELIVERY_RECEIPT: {"method": "courier", "signed_by": "本人"},
    DocumentKind.WINDOW_VETO_REPORT: {  # 窗口否决报备单, FZ·16
        "decision": "non_acceptance_notice",
        "reasons": ["不属于本部门职权范围"],
        "item_code": "11440100MB2C92400X-FOOD-01",
        "item_name": "食品经营许可（新办）",
        "applicant": uuid4(),
        "reported_to": "行政服务管理机构",
        "basis": "FZ·16",
    },
}


def issue(kind: DocumentKind = DocumentKind.ACCEPTANCE_RECEIPT, **changes: Any) -> SignedDocument:
    values: dict[str, Any] = {
        "serial": SERIAL,
        "issuer_department": DEPARTMENT_CODE,
        "issued_at": ISSUED,
        "body": BODIES[kind],
        "signer": SEAL,
    }
    values.update(changes)
    return issue_document(kind, **values)


@pytest.mark.parametrize("kind", list(DocumentKind))
def test_every_kind_is_issued_verified_and_round_trips(kind: DocumentKind) -> None:
    document = issue(kind)
    assert verify_document(document, SEAL.public_key)
    again = SignedDocument.from_dict(decode(canonical(document.to_dict())))
    assert again == document
    assert verify_document(again, SEAL.public_key)


def test_the_seal_signs_context_and_sha256_of_the_canonical_content() -> None:
    document = issue()
    content = canonical(
        {
            "kind": "acceptance_receipt",
            "serial": SERIAL,
            "issuer": DEPARTMENT_CODE,
            "issued_at": ISSUED,
            "body": BODIES[DocumentKind.ACCEPTANCE_RECEIPT],
        }
    )
    assert document.content() == content
    assert document.content_hash == hashlib.sha256(content).digest()
    assert document.key_id == SEAL.key_id
    message = DOCUMENT_CONTEXT + document.content_hash
    assert verify_signature(SEAL.public_key, message, document.signature)


def test_issue_time_is_stored_in_utc() -> None:
    assert issue().issued_at == ISSUED
    assert issue().issued_at.tzinfo == dt.UTC


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: replace(d, body={**d.body, "due": dt.date(2024, 4, 1)}),
        lambda d: replace(d, serial="GZ20240301000124"),
        lambda d: replace(d, issuer_department="OTHER-DEPT"),
        lambda d: replace(d, issued_at=d.issued_at + dt.timedelta(seconds=1)),
        lambda d: replace(d, kind=DocumentKind.RETURN_NOTICE, body={"reasons": ["x"]}),
        lambda d: replace(d, content_hash=bytes(32)),
        lambda d: replace(d, signature=bytes(64)),
        lambda d: replace(d, key_id=bytes(8)),
    ],
)
def test_tampered_document_is_rejected(tamper: Any) -> None:
    assert not verify_document(tamper(issue()), SEAL.public_key)


def test_document_is_rejected_under_another_departments_key() -> None:
    assert not verify_document(issue(), Ed25519Signer.generate().public_key)


@pytest.mark.parametrize("public_key", [b"", b"\x00" * 31, "not bytes", None])
def test_verification_never_raises_on_a_bad_key(public_key: Any) -> None:
    assert verify_document(issue(), public_key) is False


def test_verification_never_raises_on_a_bad_document() -> None:
    assert verify_document("not a document", SEAL.public_key) is False  # type: ignore[arg-type]


def test_correction_notice_lists_the_materials_at_once_GZ20_11() -> None:
    with pytest.raises(InvalidDocument) as caught:
        issue(DocumentKind.CORRECTION_NOTICE, body={"materials": []})
    assert caught.value.field == "body.materials"


@pytest.mark.parametrize(
    "kind",
    [
        DocumentKind.NON_ACCEPTANCE_NOTICE,
        DocumentKind.RETURN_NOTICE,
        DocumentKind.DISAPPROVAL_DECISION,
    ],
)
def test_refusals_state_their_reasons_GZ16_12(kind: DocumentKind) -> None:
    with pytest.raises(InvalidDocument) as caught:
        issue(kind, body={})
    assert caught.value.field == "body.reasons"


def test_application_receipt_carries_what_GZ16_11_requires() -> None:
    assert REQUIRED_BODY_FIELDS[DocumentKind.APPLICATION_RECEIPT] == (
        "applicant",
        "item_name",
        "materials",
        "handling_mode",
        "location",
    )
    body = dict(BODIES[DocumentKind.APPLICATION_RECEIPT])
    del body["location"]
    with pytest.raises(InvalidDocument) as caught:
        issue(DocumentKind.APPLICATION_RECEIPT, body=body)
    assert caught.value.field == "body.location"


def test_special_procedure_notice_states_its_period_NH_15() -> None:
    with pytest.raises(InvalidDocument) as caught:
        issue(DocumentKind.SPECIAL_PROCEDURE_NOTICE, body={"procedure": "hearing"})
    assert caught.value.field == "body.period"


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("issued_at", {"issued_at": dt.datetime(2024, 3, 1, 9, 30)}),
        ("body", {"body": {"due": dt.date(2024, 3, 15), "fee": 1.5}}),
        ("body", {"body": {1: "not text key"}}),
        ("serial", {"serial": ""}),
        ("issuer_department", {"issuer_department": "lower"}),
    ],
)
def test_malformed_document_is_rejected_naming_the_field(field: str, changes: Any) -> None:
    with pytest.raises(InvalidDocument) as caught:
        issue(**changes)
    assert caught.value.field == field


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(InvalidDocument) as caught:
        issue_document(
            "love_letter",
            serial=SERIAL,
            issuer_department=DEPARTMENT_CODE,
            issued_at=ISSUED,
            body={},
            signer=SEAL,
        )
    assert caught.value.field == "kind"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("signature"),
        lambda d: d.update(signature=b"short"),
        lambda d: d.update(key_id="00" * 8),
        lambda d: d.update(content_hash=None),
        lambda d: d.update(extra=1),
        lambda d: d.update(kind=7),
    ],
)
def test_malformed_stored_document_raises_invalid_document(mutate: Any) -> None:
    data = issue().to_dict()
    mutate(data)
    with pytest.raises(InvalidDocument):
        SignedDocument.from_dict(data)


def test_stored_document_that_is_not_a_map_is_rejected() -> None:
    with pytest.raises(InvalidDocument):
        SignedDocument.from_dict(b"document")


def test_a_body_is_taken_as_checked_only_while_it_is_issued() -> None:
    """Issuing checks the body once; any record built from that body object afterwards (or
    on another path) is checked again: a float slipped into an issued document's body is
    refused when a record is built from it."""
    document = issue()
    document.body["fee"] = 1.5  # the issued body object, changed after the fact
    with pytest.raises(InvalidDocument) as caught:
        SignedDocument.from_dict(document.to_dict())
    assert caught.value.field == "body"
    with pytest.raises(InvalidDocument):
        replace(document)  # a copy of the record re-checks its body too


def test_an_issued_body_is_the_canonical_one_that_was_signed() -> None:
    """The body kept is the checked (encoded and decoded) one, whose content was signed."""
    body = {"due": dt.date(2024, 3, 15), "accepted_on": dt.date(2024, 3, 1)} | {
        k: v for k, v in BODIES[DocumentKind.ACCEPTANCE_RECEIPT].items() if k not in ("due",)
    }
    document = issue(body=body)
    assert document.body is not body
    assert list(document.body) == sorted(body)
    assert verify_document(document, SEAL.public_key)
