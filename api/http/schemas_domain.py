"""Request and response bodies of the domain commands: departments, catalogue, applicants,
materials, e-certificates, ratings, appointments, consultations, blacklist, supervision.

Layer: api (HTTP). Frozen Pydantic models with constrained fields; the domain validates every
rule again. Responses name applicants by id; unmasked personal data appears only in
``ApplicantPublic`` when a stated purpose was recorded in the chain.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from api.http.schemas import Code, Frozen, OptionalText, Text
from ledger.domain.appointments import RefusalGround
from ledger.domain.blacklist import BlacklistGround
from ledger.domain.complaints import ConsultationChannel, ConsultationKind
from ledger.domain.ratings import Channel as RatingChannel
from ledger.domain.ratings import CodeSystem, RatingKind
from ledger.domain.supervision import SupervisionReason

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Evidence = Annotated[tuple[Text, ...], Field(max_length=50)]
Identifier = Annotated[str, StringConstraints(min_length=4, max_length=80)]
Content = Annotated[dict[str, Any], Field(max_length=100)]


class Recorded(BaseModel):
    """What a domain command answers: the record it changed and what it issued."""

    id: str
    kind: str
    detail: dict[str, Any] = Field(default_factory=dict)


# --- departments and catalogue -------------------------------------------------------------


class DepartmentCreate(Frozen):
    """Enrol a department: a seal key (actor ``dept:<code>``) and its registration."""

    code: Code
    name: Name
    city: Name


class GuidePublish(Frozen):
    """A 办事指南 version with every FZ·7 / GZ16·18 field (``ledger.domain.catalogue.Guide``);
    publishing an existing item's code publishes its next version."""

    guide: Annotated[dict[str, Any], Field(max_length=40)]


# --- applicants ----------------------------------------------------------------------------


class ApplicantCreate(Frozen):
    """Register an applicant: credential and personal data are sealed, never stored clear."""

    kind: Annotated[str, StringConstraints(max_length=32)]
    credential_kind: Annotated[str, StringConstraints(max_length=32)]
    credential: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    country: Annotated[str, StringConstraints(max_length=3)] | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    phone: Annotated[str, StringConstraints(max_length=24)] | None = None
    address: Annotated[str, StringConstraints(max_length=300)] | None = None
    authentication_level: Annotated[str, StringConstraints(max_length=16)] = "none"
    authentication_method: Annotated[str, StringConstraints(max_length=32)] | None = None


class AuthenticationChange(Frozen):
    """Raise (with how it was verified) or lower (with the reason) the authentication level."""

    level: Annotated[str, StringConstraints(max_length=16)]
    method: Annotated[str, StringConstraints(max_length=32)] | None = None
    reason: OptionalText = ""


class ErasureCreate(Frozen):
    reason: Text


class ApplicantPublic(BaseModel):
    """An applicant: masked by default; clear only for a read with a stated purpose."""

    id: str
    kind: str
    authentication_level: str
    erased: bool
    unmasked: bool
    name: str | None
    phone: str | None
    address: str | None


class MaterialPublic(BaseModel):
    """An uploaded material: submit it as ``{"form": "e_copy", "sha256": …, …}``."""

    sha256: str
    size: int
    media_type: str


# --- certificates --------------------------------------------------------------------------


class CertificateIssue(Frozen):
    case_serial: Annotated[str, StringConstraints(min_length=4, max_length=64)]
    type_code: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    serial: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    issuer_code: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    content: Content


class CertificateUpdate(Frozen):
    content: Content
    reason: Text


class CertificateRevoke(Frozen):
    reason: Text


class DisputeCreate(Frozen):
    reasons: Text
    evidence: Evidence = ()


class DisputeAnswer(Frozen):
    """Uphold (correct the certificate with ``content``) or reject, answering in writing."""

    upheld: bool
    answer: Text
    content: Content | None = None
    reason: OptionalText = ""


# --- ratings -------------------------------------------------------------------------------


class RatingCreate(Frozen):
    applicant_id: UUID = Field(description="The applicant (UUID) rating the case.")
    system: CodeSystem
    code: Annotated[int, Field(ge=0, le=99)]
    channel: RatingChannel
    reason: OptionalText = ""


class RatingNote(Frozen):
    kind: RatingKind = RatingKind.FIRST
    note: Text


class RatingRectify(Frozen):
    kind: RatingKind = RatingKind.FIRST
    measures: Text


class RatingDispute(Frozen):
    kind: RatingKind = RatingKind.FIRST
    reasons: Text
    evidence: Evidence = ()


class RatingDisputeDecision(Frozen):
    kind: RatingKind = RatingKind.FIRST
    upheld: bool
    reasons: Text


# --- appointments --------------------------------------------------------------------------


class SlotCreate(Frozen):
    hall: Name
    service_item: Code
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    capacity: Annotated[int, Field(ge=1, le=10_000)]


class BookingCreate(Frozen):
    applicant_id: UUID = Field(description="The applicant (UUID) booking the slot.")


class BookingRefusal(Frozen):
    ground: RefusalGround
    details: Text


# --- consultations and complaints ----------------------------------------------------------


class ConsultationCreate(Frozen):
    kind: ConsultationKind
    channel: ConsultationChannel
    department: Code
    applicant_id: UUID | None = Field(default=None, description="UUID, or absent (anonymous).")
    summary: Text
    case_serial: Annotated[str, StringConstraints(max_length=64)] = ""


class ConsultationAnswer(Frozen):
    answer: Text


class UntrueFinding(Frozen):
    reasons: Text
    evidence: Evidence = ()


# --- blacklist -----------------------------------------------------------------------------


class BlacklistCreate(Frozen):
    applicant_id: UUID = Field(description="The applicant (UUID).")
    ground: BlacklistGround
    facts: Annotated[list[Annotated[str, StringConstraints(max_length=200)]], Field(max_length=50)]
    details: Text
    credit_referral: bool = False


class AppealCreate(Frozen):
    reasons: Text
    evidence: Evidence = ()


class NoticeReceipt(Frozen):
    """When the applicant received the notice or learned of the decision: the appeal period
    runs from that day (GZ16·22, PY·28)."""

    received_on: dt.date = Field(description="The day of receipt or knowledge (Asia/Shanghai).")
    how: Literal["received", "learned"] = "received"
    evidence: Evidence = ()


class AppealDecision(Frozen):
    unintentional: bool
    reasons: Text


class RemovalCreate(Frozen):
    reasons: Text
    evidence: Evidence = ()


# --- supervision ---------------------------------------------------------------------------


class OrderCreate(Frozen):
    department: Code
    reason: SupervisionReason
    details: Text
    case_serial: Annotated[str, StringConstraints(max_length=64)] = ""
    answer_days: Annotated[int, Field(ge=1, le=365)] | None = None


class OrderAnswer(Frozen):
    answer: Text


class OrderClose(Frozen):
    conclusion: Text


def iso(value: dt.date | dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()
