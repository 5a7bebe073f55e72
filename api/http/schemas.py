"""Request (``*Create``) and response (``*Public``) bodies of the case commands.

Layer: api (HTTP). Untrusted input is parsed into frozen Pydantic models with constrained
fields (lengths, patterns, enums), so a validation error names the field; the domain checks
every rule again when the command runs. Response models carry no personal data: applicants
are named by id, courier addresses only sealed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.dataclasses import dataclass as response

from ledger.domain.cases import (
    CaseState,
    Channel,
    DeliveryMethod,
    MaterialForm,
    Recipient,
    SpecialProcedure,
    SubmittedMaterial,
)
from ledger.domain.catalogue import HandlingMode
from ledger.domain.intake import DefectGround
from projections.progress import Step

Code = Annotated[str, StringConstraints(pattern=r"^[0-9A-Z-]{2,64}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]
OptionalText = Annotated[str, StringConstraints(max_length=500)]
Reference = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z-]{4,64}$")]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Reasons = Annotated[list[Text], Field(min_length=1, max_length=50)]
Address = Annotated[str, StringConstraints(min_length=1, max_length=300)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MaterialIn(Frozen):
    """One submitted material: an uploaded file (by its sha256 from ``POST /v1/materials``),
    an e-certificate (by identifier) or paper (with the courier waybill when posted)."""

    code: Code
    form: MaterialForm
    sha256: Sha256Hex | None = None
    size: Annotated[int, Field(ge=1, le=1 << 31)] | None = None
    media_type: Annotated[str, StringConstraints(max_length=100)] | None = None
    certificate_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    certificate_type: Annotated[str, StringConstraints(max_length=100)] | None = None
    waybill: Reference | None = None

    def to_domain(self) -> SubmittedMaterial:
        """The domain value; raises ``InvalidMaterial`` naming the field if it does not fit."""
        if self.form is MaterialForm.E_CERTIFICATE:
            return SubmittedMaterial.e_certificate(
                self.code, self.certificate_id or "", self.certificate_type or ""
            )
        if self.form is MaterialForm.PAPER:
            return SubmittedMaterial.paper(self.code, self.waybill or "")
        make = (
            SubmittedMaterial.e_signed
            if self.form is MaterialForm.E_SIGNED
            else SubmittedMaterial.e_copy
        )
        sha = bytes.fromhex(self.sha256) if self.sha256 else b""
        return make(self.code, sha, self.size or 0, self.media_type or "")


Materials = Annotated[list[MaterialIn], Field(min_length=1, max_length=200)]


class CaseCreate(Frozen):
    """An application (申请): the item, the applicant, how and with which materials."""

    item_code: Code
    applicant_id: UUID
    channel: Channel
    handling_mode: HandlingMode
    materials: Materials
    delivery: DeliveryMethod
    location: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    mailing_address: Address | None = Field(
        default=None, description="Courier address in clear; sealed before it is recorded."
    )


class DefectIn(Frozen):
    code: Code
    reason: Text
    ground: DefectGround | None = None
    """The ground of the reason, as a code the ledger judges (NH·18, PY·12(一), FZ·23, FZ·13)."""


class CorrectionRequestCreate(Frozen):
    """The one-time correction notice (一次性告知): every defective material at once."""

    materials: Annotated[list[DefectIn], Field(min_length=1, max_length=200)]


class CorrectionCreate(Frozen):
    applicant_id: UUID
    materials: Materials


class MaterialDeliveryCreate(Frozen):
    method: DeliveryMethod
    waybill: Reference | Literal[""] = ""


class ReasonsCreate(Frozen):
    reasons: Reasons


class RefusalCreate(ReasonsCreate):
    """A non-acceptance or return: its reasons and, per material code, their ground."""

    grounds: Annotated[dict[str, DefectGround], Field(max_length=200)] = {}


class SpecialProcedureCreate(Frozen):
    procedure: SpecialProcedure
    expected_days: Annotated[int, Field(ge=1, le=3650)]


class SpecialProcedureEnd(Frozen):
    outcome: Text


class TimeLimitExtensionCreate(Frozen):
    """ALL·42: once, by up to 10 working days (more is refused as a rule violation)."""

    days: Annotated[int, Field(ge=1, le=3650, description="Working days (ALL·42: at most 10).")]
    reasons: Reasons
    approved_by: Text = Field(description="The department head who approved (负责人).")


class FeeAssessmentCreate(Frozen):
    amount: Annotated[Decimal, Field(ge=0, le=Decimal("100000000"), decimal_places=2)]


class FeePaymentCreate(Frozen):
    payment_reference: Reference
    amount: Annotated[Decimal, Field(ge=0, le=Decimal("100000000"), decimal_places=2)]


class ApprovalCreate(Frozen):
    conclusion: Text = "准予许可"


class ResultDocumentCreate(Frozen):
    title: OptionalText = ""


class DispatchCreate(Frozen):
    method: DeliveryMethod
    waybill: Reference | Literal[""] = ""
    mailing_address: Address | None = None
    courier: Annotated[str, StringConstraints(max_length=32)] = "ems"
    """By courier: one licensed for official documents (GZ16·16): ``ems``, ``china_post``."""
    courier_fee: Annotated[str, StringConstraints(max_length=32)] = "cash_on_delivery"
    """By courier: ``cash_on_delivery`` (到付, PY·16), or ``prepaid_by_department`` where the
    city carries the postage."""


class DeliveryFailureCreate(Frozen):
    reason: Text


class IdCheckCreate(Frozen):
    """The ID shown at a pick-up (FZ·20): its type and whether it was valid, not its number."""

    document: Annotated[str, StringConstraints(max_length=32)]
    valid: bool = True


class SignOffCreate(Frozen):
    recipient: Recipient = Recipient.APPLICANT
    id_check: IdCheckCreate | None = None
    """Required for a pick-up at the hall (an ``on_site`` dispatch, FZ·20)."""


class PublicNoticeCreate(Frozen):
    notice_days: Annotated[int, Field(ge=1, le=365)] | None = None


class WithdrawalCreate(Frozen):
    applicant_id: UUID
    reason: OptionalText = ""


class DocumentPublic(BaseModel):
    """An e-sealed document (receipt, notice, decision): bytes as hex, times ISO 8601."""

    kind: str
    serial: str
    issuer_department: str
    issued_at: str
    body: dict[str, Any]
    content_hash: str
    key_id: str
    signature: str


class CaseStepPublic(BaseModel):
    """What a case command answers: the case's state after it and the document it issued
    (the application receipt on submission)."""

    serial: str
    approval_code: str
    state: CaseState
    version: int
    document: DocumentPublic | None
    verification_code: str | None = Field(
        default=None,
        description="On the application receipt (the submission's answer) only: the six-digit "
        "kiosk verification code (查询验证码) that, with the serial number, queries the case "
        "at a kiosk. Give it to the applicant; it is derived, never stored or logged.",
    )


class NextActionPublic(BaseModel):
    """What the applicant must do next (code), in words, with its particulars."""

    code: str
    text: str
    detail: dict[str, Any]


@response(frozen=True)
class StepPublic(Step):
    """One step of a case: what happened, when (UTC and Asia/Shanghai), by whom."""


class MaskedApplicant(BaseModel):
    """The applicant as the progress query shows it: masked name and credential only."""

    kind: str
    credential_kind: str
    name: str
    credential: str


class CasePublic(BaseModel):
    """A case's progress (办件进度), without personal data: read from the progress view; the
    applicant appears masked (``张*``, ``4401**********1234``)."""

    serial: str
    approval_code: str
    department: str
    item_code: str
    item_name: str
    guide_version: int
    state: CaseState
    channel: Channel
    handling_mode: str
    submitted_at: str
    pre_review_due: str
    accepted_on: str | None
    deemed_accepted: bool
    due: str | None
    due_provisional: bool
    decided_on: str | None
    delivered_on: str | None
    closed_at: str | None
    certificate_ids: list[str]
    documents: list[str] = Field(description="Kinds of the documents issued, in order.")
    version: int
    state_label: str | None = Field(None, description="The state as the applicant reads it.")
    promised_days: int | None = None
    paused_since: str | None = None
    next_action: NextActionPublic | None = None
    steps: list[StepPublic] = Field(default_factory=list)
    applicant: MaskedApplicant | None = None
