"""The case (办件): from submission to delivery and closing, as the regulations define it.

Layer: domain (standard library, ``eventsourcing.domain`` and ledger domain modules; the seal
that signs receipts, notices and decisions is passed in as a :class:`Sealer`). RULES.md "Case
lifecycle" and "Time". Each command checks its rules, has the department's seal issue the
document the step requires (申请回执, 补正通知书, 受理回执, 不予受理/退件通知书, 特殊程序告知书,
批准/不予批准决定书, 结果文书, 送达回证), then triggers one event whose ``apply`` only assigns —
so a refused command raises a typed :class:`~ledger.domain.rules.RuleViolation` and records nothing,
and replay re-runs no rule, clock or calendar.

Time: every command takes ``at``, an aware datetime the application service reads from its
clock (stored as UTC); business dates are the Asia/Shanghai dates of those instants and
working days come from :mod:`ledger.domain.calendar` (DESIGN invariant 7). Due dates are computed
when the step happens and stored with the holiday-table version, never recomputed on replay.

Personal data (DESIGN invariant 5): events and documents name the applicant by id; a courier
address is carried only sealed under the applicant's subject key (see ``ledger.storage.privacy``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, Protocol, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain.applicants import Action, Applicant
from ledger.domain.calendar import add_working_days, deadline, shanghai_date
from ledger.domain.catalogue import (
    ITEM_CODE_PATTERN,
    Guide,
    HandlingMode,
    MaterialSpec,
    ResultType,
    ServiceItem,
    Sharing,
)
from ledger.domain.certificate_id import CertificateIdError, parse_certificate_id
from ledger.domain.departments import Department
from ledger.domain.intake import DefectGround, check_delivery, check_grounds
from ledger.domain.keyed import NaturalKey
from ledger.domain.result_delivery import (
    DEFAULT_COURIER,
    CourierFee,
    IdCheck,
    check_courier,
    check_courier_fee,
    check_pickup,
    result_notice,
)
from ledger.domain.rules import (
    ApplicantErased,
    BlacklistedApplicant,
    CaseNotClosable,
    ChannelNotOffered,
    CorrectionNoticeOverdue,
    CorrectionOutsideGuide,
    DecisionNotSealed,
    DeemedAcceptanceNotDue,
    FeeNotInGuide,
    FeeNotPaid,
    InvalidApplicant,
    InvalidCaseStep,
    InvalidDepartment,
    InvalidMaterial,
    InvalidTransition,
    MaterialNotInGuide,
    ReasonRequired,
    RequiredMaterialsMissing,
    SecondCorrectionRequest,
    SecondTimeLimitExtension,
    ServiceItemWithdrawn,
    StepOutOfOrder,
    TimeLimitExtensionTooLate,
    TimeLimitExtensionTooLong,
)
from ledger.domain.templates import MANAGING_OFFICE
from ledger.domain.topics import keep_topics

__all__ = [
    "CASE_NAMESPACE",
    "PRE_REVIEW_WORKING_DAYS",
    "PUBLIC_NOTICE_DAYS",
    "TRANSITIONS",
    "BlacklistStatus",
    "Case",
    "CaseState",
    "Channel",
    "DeliveryMethod",
    "MaterialForm",
    "Recipient",
    "SealedDocument",
    "Sealer",
    "SpecialProcedure",
    "SubmittedMaterial",
]

CASE_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/cases")
PRE_REVIEW_WORKING_DAYS: Final = 5
"""ALL·32: missing materials are notified within 5 days, else the application counts as accepted."""
PUBLIC_NOTICE_DAYS: Final = 30
"""Default period after which a public notice (公告送达) counts as delivered, in calendar days."""
MAX_TEXT: Final = 500
MAX_REASONS: Final = 50
MAX_MATERIALS: Final = 200
MAX_PROCEDURE_DAYS: Final = 3650
MAX_EXTENSION_DAYS: Final = 10
"""ALL·42: a time limit may be extended once, by up to 10 (working) days."""
REFERENCE_PATTERN: Final = re.compile(r"[0-9A-Za-z-]{4,64}")
"""Waybill numbers and payment references (统一支付平台 流水号)."""


# --- vocabulary -------------------------------------------------------------------------------


class CaseState(StrEnum):
    """Where a 办件 stands; the terminal states are closed, not accepted, returned, withdrawn."""

    SUBMITTED = "submitted"
    """已提交，待预审"""
    CORRECTION_REQUESTED = "correction_requested"
    """待补齐补正"""
    CORRECTED = "corrected"
    """已补正，待预审"""
    PRE_REVIEWED = "pre_reviewed"
    """预审通过，待递交材料"""
    MATERIALS_RECEIVED = "materials_received"
    """材料已递交，待受理"""
    ACCEPTED = "accepted"
    """已受理，办理中（计时）"""
    SPECIAL_PROCEDURE = "special_procedure"
    """特殊程序中（暂停计时）"""
    APPROVED = "approved"
    """准予批准，待出证"""
    DISAPPROVED = "disapproved"
    """不予批准，待送达"""
    RESULT_ISSUED = "result_issued"
    """已出证，待送达"""
    DISPATCHED = "dispatched"
    """送达中"""
    DELIVERY_FAILED = "delivery_failed"
    """送达未果"""
    DELIVERED = "delivered"
    """已送达"""
    CLOSED = "closed"
    """已办结"""
    NOT_ACCEPTED = "not_accepted"
    """不予受理"""
    RETURNED = "returned"
    """已退件"""
    WITHDRAWN = "withdrawn"
    """已撤回"""

    @property
    def is_open(self) -> bool:
        return self not in _TERMINAL


_TERMINAL: Final = frozenset(
    {CaseState.CLOSED, CaseState.NOT_ACCEPTED, CaseState.RETURNED, CaseState.WITHDRAWN}
)


class Channel(StrEnum):
    """申请渠道 (GZ20·10, GZ16·14, FZ·11)."""

    WEB = "web"
    """网上办事大厅"""
    APP = "app"
    """移动端 App"""
    WECHAT = "wechat"
    """微信小程序 / 公众号"""
    KIOSK = "kiosk"
    """自助终端"""
    WINDOW = "window"
    """实体窗口"""

    @property
    def is_online(self) -> bool:
        return self is not Channel.WINDOW


class MaterialForm(StrEnum):
    """How a material is submitted (GZ20·10, GZ16·14, FZ·11)."""

    E_CERTIFICATE = "e_certificate"
    """电子证照 — referenced by its identifier, not re-uploaded"""
    E_SIGNED = "e_signed"
    """电子签名文件"""
    E_COPY = "e_copy"
    """未签名的电子复印件"""
    PAPER = "paper"
    """纸质材料（寄递或现场递交）"""


class DeliveryMethod(StrEnum):
    """送达 / 材料递交方式 (NH·13, NH·16, GZ20·15, FZ·20)."""

    ON_SITE = "on_site"
    """现场（短信通知，现场签收）"""
    COURIER = "courier"
    """邮寄（地址、收件人、签收）"""
    ONLINE = "online"
    """网上（推送 + 短信）"""
    PUBLIC_NOTICE = "public_notice"
    """公告送达 — only when the other methods failed"""


class Recipient(StrEnum):
    """Who signed for a delivery (签收人)."""

    APPLICANT = "applicant"
    """申请人本人"""
    AGENT = "agent"
    """委托代理人"""


class SpecialProcedure(StrEnum):
    """特殊程序 whose period does not count toward the time limit (NH·15, ALL·45)."""

    HEARING = "hearing"
    """听证"""
    TENDER = "tender"
    """招标"""
    AUCTION = "auction"
    """拍卖"""
    INSPECTION = "inspection"
    """检验"""
    TESTING = "testing"
    """检测"""
    QUARANTINE = "quarantine"
    """检疫"""
    APPRAISAL = "appraisal"
    """鉴定"""
    EXPERT_REVIEW = "expert_review"
    """专家评审"""
    SITE_SURVEY = "site_survey"
    """现场踏勘"""


_PRE_DECISION: Final = frozenset(
    {
        CaseState.SUBMITTED,
        CaseState.CORRECTION_REQUESTED,
        CaseState.CORRECTED,
        CaseState.PRE_REVIEWED,
        CaseState.MATERIALS_RECEIVED,
        CaseState.ACCEPTED,
        CaseState.SPECIAL_PROCEDURE,
    }
)
_PRE_ACCEPTANCE: Final = frozenset(
    {
        CaseState.SUBMITTED,
        CaseState.CORRECTION_REQUESTED,
        CaseState.CORRECTED,
        CaseState.PRE_REVIEWED,
        CaseState.MATERIALS_RECEIVED,
    }
)

TRANSITIONS: Final[Mapping[str, frozenset[CaseState]]] = {
    "pass_pre_review": frozenset({CaseState.SUBMITTED, CaseState.CORRECTED}),
    "request_correction": frozenset({CaseState.SUBMITTED, CaseState.CORRECTED}),
    "correct": frozenset({CaseState.CORRECTION_REQUESTED}),
    "record_material_delivery": frozenset({CaseState.PRE_REVIEWED}),
    "accept": _PRE_ACCEPTANCE - {CaseState.CORRECTION_REQUESTED},
    "deem_accepted": frozenset({CaseState.SUBMITTED}),
    "not_accept": _PRE_ACCEPTANCE,
    "return_case": _PRE_ACCEPTANCE,
    "start_special_procedure": frozenset({CaseState.ACCEPTED}),
    "extend_time_limit": frozenset({CaseState.ACCEPTED}),
    "end_special_procedure": frozenset({CaseState.SPECIAL_PROCEDURE}),
    "assess_fee": frozenset({CaseState.ACCEPTED}),
    "pay_fee": frozenset({CaseState.ACCEPTED}),
    "approve": frozenset({CaseState.ACCEPTED}),
    "disapprove": frozenset({CaseState.ACCEPTED}),
    "issue_result_document": frozenset({CaseState.APPROVED}),
    "record_certificate": frozenset({CaseState.APPROVED, CaseState.RESULT_ISSUED}),
    "dispatch": frozenset(
        {CaseState.RESULT_ISSUED, CaseState.DISAPPROVED, CaseState.DELIVERY_FAILED}
    ),
    "record_delivery_failure": frozenset({CaseState.DISPATCHED}),
    "sign_off": frozenset({CaseState.DISPATCHED}),
    "deliver_by_public_notice": frozenset({CaseState.DELIVERY_FAILED}),
    "close": frozenset({CaseState.DELIVERED}),
    "withdraw": _PRE_DECISION,
}
"""Each command and the states it applies in; any other state raises InvalidTransition."""

_REFUSAL_NOTICES: Final = {"not_accept": "non_acceptance_notice", "return_case": "return_notice"}
"""The notice each refusal of acceptance issues (不予受理通知书, 退件通知书)."""

Grounds = Mapping[str, DefectGround | str] | None
"""Per material code, the ground of a correction's or a refusal's reason (``ledger.domain.intake``
judges it)."""
ReasonList = Sequence[str] | str
"""The reasons of a refusal: one text or several."""

_UNRESULTED_CLOSE: Final = frozenset({"dispatch", "close"})
"""Commands that, on an approved case without its result, break GZ16·15 / NH·20 / FZ·19."""


# --- argument checks --------------------------------------------------------------------------

_E = TypeVar("_E", bound=StrEnum)


def _member(field: str, enum: type[_E], value: object) -> _E:
    try:
        return enum(value)  # type: ignore[arg-type]
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in enum)
        raise InvalidCaseStep(
            field, f"unknown value {value!r}: expected one of {allowed}"
        ) from None


def _text(field: str, value: object, *, max_length: int = MAX_TEXT, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise InvalidCaseStep(field, "must be non-empty text")
    if len(value) > max_length:
        raise InvalidCaseStep(field, f"longer than {max_length} characters")
    return value


def _reference(field: str, value: object) -> str:
    if not isinstance(value, str) or not REFERENCE_PATTERN.fullmatch(value):
        raise InvalidCaseStep(field, "must be 4–64 characters of 0-9, A-Z, a-z and '-'")
    return value


def _reasons(value: object) -> list[str]:
    """Reasons of a non-acceptance, return, disapproval or failure (GZ16·12)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Iterable):
        raise ReasonRequired("reasons", "must be a list of reasons")
    reasons = list(value)
    if not reasons or not all(isinstance(r, str) and r.strip() for r in reasons):
        raise ReasonRequired("reasons", "state at least one reason, each non-empty")
    if len(reasons) > MAX_REASONS or any(len(r) > MAX_TEXT for r in reasons):
        raise ReasonRequired("reasons", f"at most {MAX_REASONS} reasons of {MAX_TEXT} characters")
    return reasons


def _instant(value: object) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise InvalidCaseStep("at", "must be a time-zone-aware datetime")
    return value.astimezone(dt.UTC)


# --- values -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmittedMaterial:
    """One material as the applicant supplied it: an e-certificate reference, an e-signed file,
    an unsigned e-copy (both by the SHA-256 of the blob store, never the bytes), or paper.

    Build with the class methods; building validates and raises :class:`InvalidMaterial`
    naming the field."""

    code: str
    form: MaterialForm
    certificate_id: str = ""
    certificate_type: str = ""
    sha256: bytes = b""
    size: int = 0
    media_type: str = ""
    waybill: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not ITEM_CODE_PATTERN.fullmatch(self.code):
            raise InvalidMaterial("materials.code", "must be a material code of the guide")
        where = f"materials[{self.code}]"
        try:
            form = MaterialForm(self.form)
        except ValueError:
            raise InvalidMaterial(f"{where}.form", f"unknown form {self.form!r}") from None
        object.__setattr__(self, "form", form)
        is_cert = form is MaterialForm.E_CERTIFICATE
        is_blob = form in (MaterialForm.E_SIGNED, MaterialForm.E_COPY)
        if is_cert:
            try:
                parse_certificate_id(self.certificate_id)
            except CertificateIdError as exc:
                raise InvalidMaterial(f"{where}.certificate_id", exc.problem) from None
            if not isinstance(self.certificate_type, str) or not self.certificate_type.strip():
                raise InvalidMaterial(f"{where}.certificate_type", "names the e-certificate type")
        elif self.certificate_id or self.certificate_type:
            raise InvalidMaterial(
                f"{where}.certificate_id", f"only for {MaterialForm.E_CERTIFICATE}"
            )
        if is_blob:
            if not isinstance(self.sha256, bytes) or len(self.sha256) != 32:
                raise InvalidMaterial(f"{where}.sha256", "must be the 32-byte SHA-256 of the file")
            if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
                raise InvalidMaterial(f"{where}.size", "must be a positive number of bytes")
            if not isinstance(self.media_type, str) or not self.media_type:
                raise InvalidMaterial(f"{where}.media_type", "must name the media type")
        elif self.sha256 or self.size or self.media_type:
            raise InvalidMaterial(f"{where}.sha256", "only an e-signed file or e-copy has bytes")
        if form is MaterialForm.PAPER:
            if self.waybill and not REFERENCE_PATTERN.fullmatch(self.waybill):
                raise InvalidMaterial(f"{where}.waybill", "must be a courier waybill number")
        elif self.waybill:
            raise InvalidMaterial(f"{where}.waybill", "only paper materials travel by courier")

    @classmethod
    def e_certificate(
        cls, code: str, certificate_id: str, certificate_type: str
    ) -> SubmittedMaterial:
        return cls(code, MaterialForm.E_CERTIFICATE, certificate_id, certificate_type)

    @classmethod
    def e_signed(cls, code: str, sha256: bytes, size: int, media_type: str) -> SubmittedMaterial:
        return cls(code, MaterialForm.E_SIGNED, sha256=sha256, size=size, media_type=media_type)

    @classmethod
    def e_copy(cls, code: str, sha256: bytes, size: int, media_type: str) -> SubmittedMaterial:
        return cls(code, MaterialForm.E_COPY, sha256=sha256, size=size, media_type=media_type)

    @classmethod
    def paper(cls, code: str, waybill: str = "") -> SubmittedMaterial:
        return cls(code, MaterialForm.PAPER, waybill=waybill)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "form": self.form.value,
            "certificate_id": self.certificate_id,
            "certificate_type": self.certificate_type,
            "sha256": self.sha256,
            "size": self.size,
            "media_type": self.media_type,
            "waybill": self.waybill,
        }

    @classmethod
    def from_dict(cls, data: object) -> SubmittedMaterial:
        """Parse a stored or submitted material; raises :class:`InvalidMaterial`."""
        names = _MATERIAL_FIELDS
        if not isinstance(data, Mapping) or set(data) != set(names):
            raise InvalidMaterial("materials", f"each material is a map of {', '.join(names)}")
        return cls(**{name: data[name] for name in names})


_MATERIAL_FIELDS: Final = (
    "code",
    "form",
    "certificate_id",
    "certificate_type",
    "sha256",
    "size",
    "media_type",
    "waybill",
)


@dataclass(frozen=True)
class BlacklistStatus:
    """An applicant's block on online applications (黑名单, GZ16·22, PY·28)."""

    until: dt.date | None
    appeal_route: str


class SealedDocument(Protocol):
    """What the case needs of a ``ledger.domain.documents.SignedDocument``."""

    @property
    def kind(self) -> str: ...

    @property
    def serial(self) -> str: ...

    @property
    def issuer_department(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


class Sealer(Protocol):
    """The department's e-seal (电子印章): turns a document body into a signed document of
    this case's serial, issued by its department at the command's time (GZ16·14, FZ·4, NH·19).
    Raises when the seal is not the department's valid key (``DecisionNotSealed``)."""

    def __call__(self, kind: str, body: Mapping[str, Any]) -> SealedDocument: ...


def _guide_terms(item: ServiceItem, guide: Guide, channel: Channel) -> dict[str, Any]:
    """What of the guide version a case is judged by (FZ·7): kept with the case. An online
    application is promised the online limit, never more than the window's (GZ20·12)."""
    return {
        "item_code": item.implementation_code,
        "version": item.current_version,
        "item_name": guide.name,
        "item_type": guide.item_type.value,
        "legal_basis": list(guide.legal_basis),
        "materials": [m.to_dict() for m in guide.materials],
        "statutory_limit_days": guide.statutory_limit_days,
        "promised_limit_days": (
            guide.online_limit_days if channel.is_online else guide.promised_limit_days
        ),
        "fee": guide.fee,
        "fee_basis": guide.fee_basis,
        "result_type": guide.result_type.value,
    }


# --- the aggregate ----------------------------------------------------------------------------


class Case(NaturalKey, Aggregate):
    """A 办件, found by its serial number (申请流水号)."""

    @staticmethod
    def create_id(serial: str) -> UUID:
        return uuid5(CASE_NAMESPACE, serial)

    # -- submission (GZ20·10, GZ16·14, FZ·11; receipt GZ16·11, PY·11, NH·11) -----------------

    @classmethod
    def submit(
        cls,
        *,
        serial: str,
        approval_code: str,
        item: ServiceItem,
        department: Department,
        applicant: Applicant,
        channel: Channel | str,
        handling_mode: HandlingMode | str,
        materials: Sequence[SubmittedMaterial],
        delivery: DeliveryMethod | str,
        location: str,
        at: dt.datetime,
        seal: Sealer,
        mailing_address: bytes | None = None,
        blacklisted: BlacklistStatus | None = None,
    ) -> Case:
        """Submit an application under the item's current guide version, and issue the
        application receipt at once. ``mailing_address`` is the courier address sealed under
        the applicant's subject key. An incomplete application is accepted for pre-review
        (the correction request lists what is missing)."""
        at = _instant(at)
        if item.withdrawn:
            raise ServiceItemWithdrawn(f"item: {item.implementation_code} was withdrawn")
        guide = item.current_guide
        if department.code != guide.department:
            raise InvalidDepartment(
                "department", f"{item.implementation_code} is handled by {guide.department}"
            )
        channel = _member("channel", Channel, channel)
        try:
            mode = HandlingMode(handling_mode)
        except ValueError:
            raise ChannelNotOffered("handling_mode", f"unknown mode {handling_mode!r}") from None
        if mode not in guide.handling_modes:
            offered = ", ".join(m.value for m in guide.handling_modes)
            raise ChannelNotOffered("handling_mode", f"the guide offers {offered}, not {mode}")
        if channel.is_online and not mode.is_online:
            raise ChannelNotOffered("channel", f"{mode} is not handled through {channel}")
        if not channel.is_online and mode is HandlingMode.FULL_ONLINE:
            raise ChannelNotOffered("channel", "a fully online application is not made at a window")
        if applicant.erased:
            raise ApplicantErased(f"applicant: {applicant.id} was erased")
        if channel.is_online:
            applicant.authorise(Action.ONLINE_APPLICATION)  # FZ·8
            if blacklisted is not None:
                until = blacklisted.until.isoformat() if blacklisted.until else "further notice"
                raise BlacklistedApplicant(
                    f"applicant: blocked from online applications until {until}; "
                    f"appeal: {blacklisted.appeal_route}",
                    until=blacklisted.until,
                    appeal_route=blacklisted.appeal_route,
                )
        checked = _check_materials(guide.materials, materials, channel, mode)
        if not checked:
            raise RequiredMaterialsMissing("materials", "an application submits its materials")
        delivery = _member("delivery", DeliveryMethod, delivery)
        if delivery is DeliveryMethod.PUBLIC_NOTICE:
            raise InvalidCaseStep("delivery", "public notice is not a preference (GZ20·15)")
        if delivery is DeliveryMethod.COURIER and not mailing_address:
            raise InvalidCaseStep("mailing_address", "a courier delivery needs the address")
        if mailing_address is not None and not isinstance(mailing_address, bytes):
            raise InvalidCaseStep("mailing_address", "must be the sealed address (bytes)")
        location = _text("location", location)
        submitted_on = shanghai_date(at)
        pre_review_due = add_working_days(submitted_on, PRE_REVIEW_WORKING_DAYS)
        terms = _guide_terms(item, guide, channel)
        material_list = [m.to_dict() for m in checked]
        body: dict[str, Any] = {
            "approval_code": approval_code,
            "applicant": applicant.id,
            "item_name": guide.name,
            "item_code": item.implementation_code,
            "guide_version": item.current_version,
            "department": department.code,
            "department_name": department.name,
            "channel": channel.value,
            "handling_mode": mode.value,
            "materials": [
                {"code": m.code, "name": _name(terms, m.code), "form": m.form.value}
                for m in checked
            ],
            "location": location,
            "delivery": delivery.value,
            "submitted_at": at,
            "pre_review_due": pre_review_due,
        }
        if mailing_address:
            body["mailing_address"] = {"sealed": mailing_address, "subject": applicant.id}
        not_shared = [
            {"code": m.code, "name": m.name, "basis": m.sharing_basis}
            for m in guide.materials
            if m.sharing is Sharing.NOT_SHAREABLE
        ]
        if not_shared:  # the legal basis told to the applicant (GZ16·4, PY·4(六))
            body["not_shared"] = not_shared
        receipt = _sealed(seal, "application_receipt", body, serial, department.code)
        return cls(
            serial=serial,
            approval_code=approval_code,
            department=department.code,
            applicant_id=applicant.id,
            terms=terms,
            channel=channel.value,
            handling_mode=mode.value,
            materials=material_list,
            delivery=delivery.value,
            location=location,
            mailing_address=mailing_address,
            at=at,
            submitted_on=submitted_on,
            pre_review_due=pre_review_due,
            receipt=receipt,
        )

    @event("Submitted")
    def __init__(
        self,
        serial: str,
        approval_code: str,
        department: str,
        applicant_id: UUID,
        terms: dict[str, Any],
        channel: str,
        handling_mode: str,
        materials: list[dict[str, Any]],
        delivery: str,
        location: str,
        mailing_address: bytes | None,
        at: dt.datetime,
        submitted_on: dt.date,
        pre_review_due: dt.date,
        receipt: dict[str, Any],
    ) -> None:
        self.serial = serial
        self.approval_code = approval_code
        self.department = department
        self.applicant_id = applicant_id
        self.terms = terms
        self.channel = Channel(channel)
        self.handling_mode = HandlingMode(handling_mode)
        self.materials: dict[str, dict[str, Any]] = {m["code"]: m for m in materials}
        self.delivery_preference = DeliveryMethod(delivery)
        self.location = location
        self.mailing_address = mailing_address
        self.submitted_at = at
        self.submitted_on = submitted_on
        self.pre_review_due = pre_review_due
        self.state = CaseState.SUBMITTED
        self.last_at = at
        self.documents: list[dict[str, Any]] = [receipt]
        self.corrections: list[dict[str, Any]] = []
        self.last_corrected: list[str] = []
        self.materials_delivery: str | None = "on_site" if channel == "window" else None
        self.accepted_on: dt.date | None = None
        self.deemed_accepted = False
        self.due: dt.date | None = None
        self.due_provisional = False
        self.calendar_version = ""
        self.pauses: list[tuple[dt.date, dt.date]] = []
        self.extension_days = 0
        self.special_procedure: dict[str, Any] | None = None
        self.fee_assessed: Decimal | None = None
        self.fee_payment_reference: str | None = None
        self.decided_on: dt.date | None = None
        self.reasons: list[str] = []
        self.result_issued = False
        self.approved = False
        self.certificate_ids: list[str] = []
        self.dispatches: list[dict[str, Any]] = []
        self.delivered_on: dt.date | None = None
        self.delivery_method: DeliveryMethod | None = None
        self.closed_at: dt.datetime | None = None

    # -- queries ------------------------------------------------------------------------------

    @property
    def item_code(self) -> str:
        return str(self.terms["item_code"])

    @property
    def item_name(self) -> str:
        return str(self.terms["item_name"])

    @property
    def guide_version(self) -> int:
        return int(self.terms["version"])

    @property
    def promised_limit_days(self) -> int:
        return int(self.terms["promised_limit_days"])

    @property
    def is_open(self) -> bool:
        return self.state.is_open

    def allows(self, command: str) -> bool:
        """Whether ``command`` applies in the current state (TRANSITIONS)."""
        return self.state in TRANSITIONS[command]

    # -- shared checks ------------------------------------------------------------------------

    def _require(self, command: str) -> None:
        if self.state not in TRANSITIONS[command]:
            raise InvalidTransition(
                f"{command}: not allowed while the case {self.serial} is {self.state.value}",
                state=self.state.value,
            )

    def _when(self, at: dt.datetime) -> dt.datetime:
        at = _instant(at)
        if at < self.last_at:
            raise StepOutOfOrder(
                "at", f"{at.isoformat()} is before the case's last step {self.last_at.isoformat()}"
            )
        return at

    def _seal(self, seal: Sealer, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        return _sealed(seal, kind, body, self.serial, self.department)

    def _spec(self, code: str) -> dict[str, Any] | None:
        return next((m for m in self.terms["materials"] if m["code"] == code), None)

    # -- pre-review and correction (NH·12, GZ20·11, FZ·15, GZ16·14, ALL·32) -------------------

    def _check_pre_review_in_time(self, command: str, today: dt.date) -> None:
        if self.state is CaseState.SUBMITTED and today > self.pre_review_due:
            raise CorrectionNoticeOverdue(
                f"{command}: pre-review findings were due by {self.pre_review_due}; the "
                "application counts as accepted"
            )

    def pass_pre_review(self, *, at: dt.datetime) -> None:
        """Record that pre-review found the application complete (预审通过, NH·12)."""
        self._require("pass_pre_review")
        at = self._when(at)
        self._pre_reviewed(at=at)

    @event("PreReviewPassed")
    def _pre_reviewed(self, at: dt.datetime) -> None:
        self.state = CaseState.PRE_REVIEWED
        self.last_at = at

    def request_correction(
        self,
        defects: Mapping[str, str],
        *,
        at: dt.datetime,
        seal: Sealer,
        grounds: Grounds = None,
    ) -> None:
        """Issue the ONE correction notice listing every defective material with its reason
        (一次性告知). Only materials of the guide may be asked for; a later request is allowed
        only for materials the correction itself changed, and is recorded as a repeat.
        ``grounds`` names, per material, the ground of its reason (``ledger.domain.intake``)."""
        self._require("request_correction")
        at = self._when(at)
        if not isinstance(defects, Mapping) or not defects:
            raise ReasonRequired("defects", "list every defective material with its reason")
        outside = sorted(str(code) for code in defects if self._spec(str(code)) is None)
        if outside:
            raise CorrectionOutsideGuide(
                "defects", f"{outside} are not materials of guide version {self.guide_version}"
            )
        for code, reason in defects.items():
            if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_TEXT:
                raise ReasonRequired(f"defects[{code}]", "state why the material is defective")
        checked_grounds = self._grounds(grounds, frozenset(map(str, defects)), refusal=False)
        repeat = bool(self.corrections)
        if repeat:
            unchanged = sorted(set(defects) - set(self.last_corrected))
            if unchanged:
                raise SecondCorrectionRequest(
                    f"defects: {unchanged} were not changed by the correction; everything "
                    "defective had to be in the first notice"
                )
        else:
            self._check_pre_review_in_time("request_correction", shanghai_date(at))
        listed = [
            {"code": code, "name": _name(self.terms, code), "reason": defects[code]}
            | ({"ground": checked_grounds[code].value} if code in checked_grounds else {})
            for code in sorted(defects)
        ]
        round_ = len(self.corrections) + 1
        body = {
            "materials": listed,
            "round": round_,
            "one_time_notice": not repeat,
            "basis": "GZ20·11, FZ·15",
        }
        notice = self._seal(seal, "correction_notice", body)
        self._correction_requested(
            at=at, round_number=round_, materials=sorted(defects), repeat=repeat, notice=notice
        )

    @event("CorrectionRequested")
    def _correction_requested(
        self,
        at: dt.datetime,
        round_number: int,
        materials: list[str],
        repeat: bool,
        notice: dict[str, Any],
    ) -> None:
        self.state = CaseState.CORRECTION_REQUESTED
        self.last_at = at
        self.corrections.append(
            {"round": round_number, "materials": materials, "repeat": repeat, "at": at}
        )
        self.documents.append(notice)

    @property
    def one_time_notice_breaches(self) -> int:
        """How many correction requests came after the first (recorded, GZ20·11, FZ·15)."""
        return sum(1 for c in self.corrections if c["repeat"])

    def correct(
        self, applicant_id: UUID, materials: Sequence[SubmittedMaterial], *, at: dt.datetime
    ) -> None:
        """The applicant supplies every material the notice asked for (补齐补正)."""
        self._require("correct")
        at = self._when(at)
        self._check_applicant(applicant_id)
        asked = set(self.corrections[-1]["materials"])
        guide = [MaterialSpec.from_dict(m) for m in self.terms["materials"]]
        checked = _check_materials(guide, materials, self.channel, self.handling_mode)
        given = {m.code for m in checked}
        missing = sorted(asked - given)
        if missing:
            raise RequiredMaterialsMissing("materials", f"the notice asked for {missing} too")
        extra = sorted(given - asked)
        if extra:
            raise InvalidMaterial("materials", f"{extra} were not asked for in the notice")
        self._corrected(at=at, materials=[m.to_dict() for m in checked])

    @event("Corrected")
    def _corrected(self, at: dt.datetime, materials: list[dict[str, Any]]) -> None:
        self.state = CaseState.CORRECTED
        self.last_at = at
        for material in materials:
            self.materials[material["code"]] = material
        self.last_corrected = sorted(m["code"] for m in materials)

    def _grounds(
        self, grounds: object, codes: frozenset[str], *, refusal: bool
    ) -> dict[str, DefectGround]:
        forms = {code: str(m["form"]) for code, m in self.materials.items()}
        return check_grounds(
            grounds,
            codes=codes,
            forms=forms,
            at_window=self.channel is Channel.WINDOW,
            refusal=refusal,
        )

    def _check_applicant(self, applicant_id: UUID) -> None:
        if applicant_id != self.applicant_id:
            raise InvalidApplicant("applicant_id", "is not the applicant of this case")

    def record_material_delivery(
        self, method: DeliveryMethod | str, *, at: dt.datetime, waybill: str = ""
    ) -> None:
        """Record how the materials reached the department after pre-review (NH·13)."""
        self._require("record_material_delivery")
        at = self._when(at)
        method = _member("method", DeliveryMethod, method)
        if method is DeliveryMethod.PUBLIC_NOTICE:
            raise InvalidCaseStep("method", "materials come on site, by courier or online")
        check_delivery(method.value, at_window=self.channel is Channel.WINDOW)  # FZ·23
        if method is DeliveryMethod.COURIER:
            waybill = _reference("waybill", waybill)
        elif waybill:
            raise InvalidCaseStep("waybill", "only a courier delivery has a waybill")
        self._materials_delivered(at=at, method=method.value, waybill=waybill)

    @event("MaterialsDelivered")
    def _materials_delivered(self, at: dt.datetime, method: str, waybill: str) -> None:
        self.state = CaseState.MATERIALS_RECEIVED
        self.last_at = at
        self.materials_delivery = method

    # -- acceptance (NH·14, FZ·15, GZ16·12, ALL·32) -------------------------------------------

    def accept(self, *, at: dt.datetime, seal: Sealer) -> None:
        """Accept the case and issue the acceptance receipt; the time limit starts here.

        Refused while a required material is missing or paper originals are not delivered.
        Never later than the deemed acceptance of ALL·32: a case without pre-review findings
        within 5 working days counts as accepted from the day its materials were received
        (the submission date), and an acceptance recorded later says so."""
        self._require("accept")
        at = self._when(at)
        required = [m["code"] for m in self.terms["materials"] if m["required"]]
        missing = sorted(set(required) - set(self.materials))
        if missing:
            raise RequiredMaterialsMissing("materials", f"required materials {missing} missing")
        paper = sorted(c for c, m in self.materials.items() if m["form"] == MaterialForm.PAPER)
        if paper and self.materials_delivery is None:
            raise RequiredMaterialsMissing(
                "materials", f"paper materials {paper} are not delivered yet (NH·13)"
            )
        today = shanghai_date(at)
        deemed = self.state is CaseState.SUBMITTED and today > self.pre_review_due
        self._accept(at, self.submitted_on if deemed else today, deemed, seal)

    def deem_accepted(self, *, at: dt.datetime, seal: Sealer) -> None:
        """ALL·32: no pre-review finding within 5 working days — the case counts as accepted.

        The command becomes available only after the 5th working day after submission
        (refused with ``DeemedAcceptanceNotDue`` until that day has passed). Following ALL·32's
        text — 逾期不告知的，自收到申请材料之日起即为受理 — the acceptance date recorded is
        the day the application materials were received (the submission date), and the time
        limit runs from there: the stricter reading for the department."""
        self._require("deem_accepted")
        at = self._when(at)
        if shanghai_date(at) <= self.pre_review_due:
            raise DeemedAcceptanceNotDue(
                f"deem_accepted: pre-review findings may still be notified until "
                f"{self.pre_review_due}"
            )
        self._accept(at, self.submitted_on, True, seal)

    def _accept(self, at: dt.datetime, accepted_on: dt.date, deemed: bool, seal: Sealer) -> None:
        due = deadline(accepted_on, self.promised_limit_days)
        body = {
            "accepted_on": accepted_on,
            "due": due.due,
            "promised_limit_days": self.promised_limit_days,
            "due_provisional": due.provisional,
            "calendar": due.table_version,
            "deemed": deemed,
            "item_name": self.item_name,
            "applicant": self.applicant_id,
        }
        if deemed:
            body["basis"] = "ALL·32"
        receipt = self._seal(seal, "acceptance_receipt", body)
        self._accepted(
            at=at,
            accepted_on=accepted_on,
            deemed=deemed,
            due=due.due,
            due_provisional=due.provisional,
            calendar_version=due.table_version,
            receipt=receipt,
        )

    @event("Accepted")
    def _accepted(
        self,
        at: dt.datetime,
        accepted_on: dt.date,
        deemed: bool,
        due: dt.date,
        due_provisional: bool,
        calendar_version: str,
        receipt: dict[str, Any],
    ) -> None:
        self.state = CaseState.ACCEPTED
        self.last_at = at
        self.accepted_on = accepted_on
        self.deemed_accepted = deemed
        self.due = due
        self.due_provisional = due_provisional
        self.calendar_version = calendar_version
        self.documents.append(receipt)

    def not_accept(
        self, reasons: ReasonList, *, at: dt.datetime, seal: Sealer, grounds: Grounds = None
    ) -> None:
        """Refuse acceptance with reasons (不予受理, GZ16·12); ``grounds`` names, per material,
        the ground of the refusal (``ledger.domain.intake``)."""
        self._refuse("not_accept", CaseState.NOT_ACCEPTED, reasons, at, seal, grounds)

    def return_case(
        self, reasons: ReasonList, *, at: dt.datetime, seal: Sealer, grounds: Grounds = None
    ) -> None:
        """Return the application and its materials with reasons (退件, GZ16·12)."""
        self._refuse("return_case", CaseState.RETURNED, reasons, at, seal, grounds)

    def _refuse(
        self,
        command: str,
        state: CaseState,
        reasons: Sequence[str] | str,
        at: dt.datetime,
        seal: Sealer,
        grounds: Grounds,
    ) -> None:
        kind = _REFUSAL_NOTICES[command]
        self._require(command)
        at = self._when(at)
        checked = _reasons(reasons)
        codes = frozenset(str(m["code"]) for m in self.terms["materials"])
        checked_grounds = self._grounds(grounds, codes, refusal=True)
        self._check_pre_review_in_time(command, shanghai_date(at))
        body: dict[str, Any] = {
            "reasons": checked,
            "item_name": self.item_name,
            "applicant": self.applicant_id,
        }
        if checked_grounds:
            body["grounds"] = {code: g.value for code, g in sorted(checked_grounds.items())}
        report = None
        if self.channel is Channel.WINDOW:
            report = self._seal(seal, "window_veto_report", self._veto_report(kind, checked))
        notice = self._seal(seal, kind, body)
        self._refused(at=at, state=state.value, reasons=checked, notice=notice, report=report)

    def _veto_report(self, notice_kind: str, reasons: list[str]) -> dict[str, Any]:
        """The 窗口否决报备单 of a window application refused (FZ·16): what was refused, why,
        for whom, reported to the managing office that supervises the hall."""
        return {
            "decision": notice_kind,
            "reasons": reasons,
            "item_code": self.item_code,
            "item_name": self.item_name,
            "applicant": self.applicant_id,
            "submitted_at": self.submitted_at,
            "reported_to": MANAGING_OFFICE,
            "basis": "FZ·16",
        }

    @event("Refused")
    def _refused(
        self,
        at: dt.datetime,
        state: str,
        reasons: list[str],
        notice: dict[str, Any],
        report: dict[str, Any] | None = None,
    ) -> None:
        self.state = CaseState(state)
        self.last_at = at
        self.reasons = reasons
        if report is not None:  # 窗口否决报备单 (FZ·16), before the notice it reports
            self.documents.append(report)
        self.documents.append(notice)

    # -- special procedures (NH·15, ALL·45, FZ·17) --------------------------------------------

    def start_special_procedure(
        self,
        procedure: SpecialProcedure | str,
        expected_days: int,
        *,
        at: dt.datetime,
        seal: Sealer,
    ) -> None:
        """Start a special procedure with a written notice of its expected period; the time
        limit pauses until it ends."""
        self._require("start_special_procedure")
        at = self._when(at)
        procedure = _member("procedure", SpecialProcedure, procedure)
        if isinstance(expected_days, bool) or not isinstance(expected_days, int):
            raise InvalidCaseStep("expected_days", "must be a whole number of working days")
        if not 1 <= expected_days <= MAX_PROCEDURE_DAYS:
            raise InvalidCaseStep("expected_days", f"must be 1–{MAX_PROCEDURE_DAYS} working days")
        started_on = shanghai_date(at)
        expected_end = add_working_days(started_on, expected_days - 1)
        body = {
            "procedure": procedure.value,
            "period": {
                "working_days": expected_days,
                "from": started_on,
                "expected_end": expected_end,
            },
            "basis": "NH·15, ALL·45",
            "applicant": self.applicant_id,
        }
        notice = self._seal(seal, "special_procedure_notice", body)
        self._special_procedure_started(
            at=at,
            procedure=procedure.value,
            started_on=started_on,
            expected_days=expected_days,
            notice=notice,
        )

    @event("SpecialProcedureStarted")
    def _special_procedure_started(
        self,
        at: dt.datetime,
        procedure: str,
        started_on: dt.date,
        expected_days: int,
        notice: dict[str, Any],
    ) -> None:
        self.state = CaseState.SPECIAL_PROCEDURE
        self.last_at = at
        self.special_procedure = {
            "procedure": procedure,
            "started_on": started_on,
            "expected_days": expected_days,
        }
        self.documents.append(notice)

    def end_special_procedure(self, outcome: str, *, at: dt.datetime) -> None:
        """End the special procedure: the clock resumes and the due date moves by the working
        days it took (first and last day included)."""
        self._require("end_special_procedure")
        at = self._when(at)
        outcome = _text("outcome", outcome)
        assert self.special_procedure is not None and self.accepted_on is not None
        pause = (self.special_procedure["started_on"], shanghai_date(at))
        limit = self.promised_limit_days + self.extension_days
        due = deadline(self.accepted_on, limit, [*self.pauses, pause])
        self._special_procedure_ended(
            at=at,
            outcome=outcome,
            paused_from=pause[0],
            paused_to=pause[1],
            due=due.due,
            due_provisional=due.provisional,
        )

    @event("SpecialProcedureEnded")
    def _special_procedure_ended(
        self,
        at: dt.datetime,
        outcome: str,
        paused_from: dt.date,
        paused_to: dt.date,
        due: dt.date,
        due_provisional: bool,
    ) -> None:
        self.state = CaseState.ACCEPTED
        self.last_at = at
        self.special_procedure = None
        self.pauses.append((paused_from, paused_to))
        self.due = due
        self.due_provisional = due_provisional

    # -- extension of the time limit (ALL·42) ----------------------------------------------------

    def extend_time_limit(
        self,
        days: int,
        reasons: Sequence[str] | str,
        approved_by: str,
        *,
        at: dt.datetime,
        seal: Sealer,
    ) -> None:
        """Extend the time limit once, by at most 10 working days, approved by the head of the
        department (经本行政机关负责人批准), with the reasons told to the applicant in a sealed
        extension notice (ALL·42). Decided within the time limit, never after it ran out; the
        extended days count like the promised ones (working days, ALL·82)."""
        self._require("extend_time_limit")
        at = self._when(at)
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise InvalidCaseStep("days", "must be a whole number of working days, at least 1")
        if days > MAX_EXTENSION_DAYS:
            raise TimeLimitExtensionTooLong(
                "days", f"{days} working days: ALL·42 allows at most {MAX_EXTENSION_DAYS}"
            )
        if self.extension_days:
            raise SecondTimeLimitExtension(
                f"extend_time_limit: the time limit of {self.serial} was already extended by "
                f"{self.extension_days} working days; ALL·42 allows one extension"
            )
        checked = _reasons(reasons)
        approver = _text("approved_by", approved_by, max_length=200)
        assert self.accepted_on is not None and self.due is not None
        if shanghai_date(at) > self.due:
            raise TimeLimitExtensionTooLate(
                f"extend_time_limit: the time limit ran out on {self.due}; an extension is "
                "decided within it (ALL·42)"
            )
        due = deadline(self.accepted_on, self.promised_limit_days + days, self.pauses)
        body = {
            "working_days": days,
            "reasons": checked,
            "approved_by": approver,
            "previous_due": self.due,
            "due": due.due,
            "basis": "ALL·42",
            "item_name": self.item_name,
            "applicant": self.applicant_id,
        }
        notice = self._seal(seal, "extension_notice", body)
        self._time_limit_extended(at, days, due.due, due.provisional, notice)

    @event("TimeLimitExtended")
    def _time_limit_extended(
        self,
        at: dt.datetime,
        days: int,
        due: dt.date,
        due_provisional: bool,
        notice: dict[str, Any],
    ) -> None:
        """The reasons and the approver are in the sealed ``notice`` (its body)."""
        self.last_at = at
        self.extension_days = days
        self.due = due
        self.due_provisional = due_provisional
        self.documents.append(notice)

    # -- fees (FZ·18) -------------------------------------------------------------------------

    def assess_fee(self, amount: Decimal, *, at: dt.datetime) -> None:
        """Assess the guide's fee (yuan) for payment through the unified payment platform."""
        self._require("assess_fee")
        at = self._when(at)
        if self.fee_assessed is not None:
            raise InvalidTransition(
                "assess_fee: the fee is already assessed", state=self.state.value
            )
        fee = Decimal(self.terms["fee"])
        if not isinstance(amount, Decimal) or not amount.is_finite():
            raise FeeNotInGuide("amount", "must be a Decimal amount of yuan")
        if fee == 0:
            raise FeeNotInGuide("amount", "the guide charges no fee")
        if amount != fee:
            raise FeeNotInGuide("amount", f"the guide's fee is {fee} yuan, not {amount}")
        self._fee_assessed(at=at, amount=amount)

    @event("FeeAssessed")
    def _fee_assessed(self, at: dt.datetime, amount: Decimal) -> None:
        self.last_at = at
        self.fee_assessed = amount

    def pay_fee(self, payment_reference: str, amount: Decimal, *, at: dt.datetime) -> None:
        """Record the payment confirmed by the unified payment platform (统一支付平台)."""
        self._require("pay_fee")
        at = self._when(at)
        if self.fee_assessed is None or self.fee_payment_reference is not None:
            status = "no fee is assessed" if self.fee_assessed is None else "the fee is paid"
            raise InvalidTransition(f"pay_fee: {status}", state=self.state.value)
        reference = _reference("payment_reference", payment_reference)
        if amount != self.fee_assessed:
            raise FeeNotPaid(f"amount: {amount} yuan paid, {self.fee_assessed} assessed")
        self._fee_paid(at=at, payment_reference=reference, amount=amount)

    @event("FeePaid")
    def _fee_paid(self, at: dt.datetime, payment_reference: str, amount: Decimal) -> None:
        self.last_at = at
        self.fee_payment_reference = payment_reference

    @property
    def fee_outstanding(self) -> bool:
        return self.fee_assessed is not None and self.fee_payment_reference is None

    # -- decision (GZ20·12, NH·15) ------------------------------------------------------------

    def approve(self, *, at: dt.datetime, seal: Sealer, conclusion: str = "准予许可") -> None:
        """Approve with an e-sealed approval decision (批准决定书). Refused while an assessed fee
        is unpaid (FZ·18)."""
        self._require("approve")
        at = self._when(at)
        if self.fee_outstanding:
            raise FeeNotPaid(f"approve: {self.fee_assessed} yuan assessed and not yet paid")
        body = self._decision_body(at, _text("conclusion", conclusion))
        decision = self._seal(seal, "approval_decision", body)
        self._decided(at=at, state=CaseState.APPROVED.value, reasons=[], decision=decision)

    def disapprove(self, reasons: Sequence[str] | str, *, at: dt.datetime, seal: Sealer) -> None:
        """Disapprove with reasons and the remedies open (不予批准决定书, GZ16·12); the decision
        is the case's result."""
        self._require("disapprove")
        at = self._when(at)
        checked = _reasons(reasons)
        body = self._decision_body(at, "不予许可")
        body["reasons"] = checked
        body["remedies"] = "申请人可依法申请行政复议或者提起行政诉讼"
        decision = self._seal(seal, "disapproval_decision", body)
        self._decided(at=at, state=CaseState.DISAPPROVED.value, reasons=checked, decision=decision)

    def _decision_body(self, at: dt.datetime, conclusion: str) -> dict[str, Any]:
        decided_on = shanghai_date(at)
        return {
            "conclusion": conclusion,
            "item_name": self.item_name,
            "applicant": self.applicant_id,
            "legal_basis": list(self.terms["legal_basis"]),
            "decided_on": decided_on,
            "due": self.due,
            "on_time": self.due is not None and decided_on <= self.due,
        }

    @event("Decided")
    def _decided(
        self, at: dt.datetime, state: str, reasons: list[str], decision: dict[str, Any]
    ) -> None:
        self.state = CaseState(state)
        self.last_at = at
        self.decided_on = decision["body"]["decided_on"]
        self.reasons = reasons
        self.result_issued = self.state is CaseState.DISAPPROVED
        self.approved = self.state is CaseState.APPROVED
        self.documents.append(decision)

    # -- result (GZ16·15, NH·20, FZ·19) -------------------------------------------------------

    def issue_result_document(self, *, at: dt.datetime, seal: Sealer, title: str = "") -> None:
        """Issue the e-sealed result document (结果文书) of an approved case."""
        self._require("issue_result_document")
        at = self._when(at)
        body = {
            "title": _text("title", title or self.item_name, max_length=200),
            "result_type": self.terms["result_type"],
            "item_name": self.item_name,
            "applicant": self.applicant_id,
            "approval_code": self.approval_code,
        }
        result = self._seal(seal, "result_document", body)
        self._result_issued(at=at, result=result)

    @event("ResultIssued")
    def _result_issued(self, at: dt.datetime, result: dict[str, Any]) -> None:
        self.state = CaseState.RESULT_ISSUED
        self.last_at = at
        self.result_issued = True
        self.documents.append(result)

    def record_certificate(self, certificate_id: str, *, at: dt.datetime) -> None:
        """Record the e-certificate (电子证照) issued for this case: it satisfies the rule that
        the case closes only after its certificate is issued."""
        self._require("record_certificate")
        at = self._when(at)
        try:
            parsed = parse_certificate_id(certificate_id)
        except CertificateIdError as exc:
            raise InvalidCaseStep("certificate_id", exc.problem) from None
        text = str(parsed)
        if text in self.certificate_ids:
            raise InvalidCaseStep("certificate_id", "is already recorded for this case")
        self._certificate_recorded(at=at, certificate_id=text)

    @event("CertificateRecorded")
    def _certificate_recorded(self, at: dt.datetime, certificate_id: str) -> None:
        self.state = CaseState.RESULT_ISSUED
        self.last_at = at
        self.result_issued = True
        self.certificate_ids.append(certificate_id)

    # -- delivery (GZ20·15, NH·16, FZ·20) -----------------------------------------------------

    @property
    def awaits_certificate(self) -> bool:
        """Approved, its guide's result is an e-certificate (结果类型: 证照), and none is
        recorded yet: the case may be neither dispatched nor closed (GZ16·15, NH·20, FZ·19)."""
        return (
            self.approved
            and self.terms["result_type"] == ResultType.CERTIFICATE.value
            and not self.certificate_ids
        )

    def _require_result(self, command: str) -> None:
        if self.state is CaseState.APPROVED and command in _UNRESULTED_CLOSE:
            raise CaseNotClosable(
                f"{command}: the case {self.serial} has no result issued yet (e-certificate or "
                "result document)"
            )
        self._require(command)
        if command in _UNRESULTED_CLOSE and self.awaits_certificate:
            raise CaseNotClosable(
                f"{command}: the result of {self.item_name} is an e-certificate (电子证照) and "
                f"none is issued for the case {self.serial} yet (certificate_ids is empty)"
            )

    def dispatch(
        self,
        method: DeliveryMethod | str,
        *,
        at: dt.datetime,
        waybill: str = "",
        mailing_address: bytes | None = None,
        courier: str = DEFAULT_COURIER,
        courier_fee: CourierFee | str = CourierFee.CASH_ON_DELIVERY,
        department_paid_postage: bool = False,
        sms_to: bytes | None = None,
    ) -> None:
        """Send the result: on site (SMS notice to collect), by courier (waybill, sealed
        address) or online (push + SMS). Public notice is a separate step after failures.

        By courier, only one licensed for official documents (GZ16·16) and with the fee paid on
        delivery (PY·16; by the department only where ``department_paid_postage``, the city's
        choice). Every dispatch records the result SMS (FZ·20) to ``sms_to``, the applicant's
        sealed phone number (``None``: none on file, recorded as not sent)."""
        self._require_result("dispatch")
        at = self._when(at)
        method = _member("method", DeliveryMethod, method)
        if method is DeliveryMethod.PUBLIC_NOTICE:
            raise InvalidCaseStep("method", "public notice only after a failed delivery")
        address = mailing_address or self.mailing_address
        notices = {
            DeliveryMethod.ON_SITE: ["sms"],
            DeliveryMethod.COURIER: ["sms"],
            DeliveryMethod.ONLINE: ["push", "sms"],
        }[method]
        fee = ""
        if method is DeliveryMethod.COURIER:
            waybill = _reference("waybill", waybill)
            if not isinstance(address, bytes) or not address:
                raise InvalidCaseStep("mailing_address", "a courier delivery needs the address")
            courier = check_courier(courier)
            fee = check_courier_fee(
                courier_fee, department_paid_allowed=department_paid_postage is True
            ).value
        else:
            if waybill:
                raise InvalidCaseStep("waybill", "only a courier delivery has a waybill")
            address = None
            courier = ""
        if sms_to is not None and (not isinstance(sms_to, bytes) or not sms_to):
            raise InvalidCaseStep("sms_to", "must be the sealed phone number")
        case = (self.serial, self.item_name, self.result_conclusion)
        sms = result_notice(*case, method.value, at, sms_to, courier, waybill, fee).to_dict()
        self._dispatched(at, method.value, notices, waybill, address, courier, fee, sms)

    @property
    def result_conclusion(self) -> str:
        """The conclusion of the case's decision (准予许可 / 不予许可 …), "" before it."""
        for document in reversed(self.documents):
            if document["kind"] in ("approval_decision", "disapproval_decision"):
                return str(document["body"]["conclusion"])
        return ""

    @event("Dispatched")
    def _dispatched(
        self,
        at: dt.datetime,
        method: str,
        notices: list[str],
        waybill: str,
        mailing_address: bytes | None,
        courier: str = "",
        courier_fee: str = "",
        result_notice: dict[str, Any] | None = None,
    ) -> None:
        """``courier``, ``courier_fee`` (GZ16·16, PY·16) and ``result_notice`` (the result SMS,
        FZ·20) are absent from dispatches recorded before they were."""
        self.state = CaseState.DISPATCHED
        self.last_at = at
        self.dispatches.append({"method": method, "at": at, "waybill": waybill, "failed": ""})

    def record_delivery_failure(self, reason: str, *, at: dt.datetime) -> None:
        """Record that the delivery failed (refused, unreachable, not collected)."""
        self._require("record_delivery_failure")
        at = self._when(at)
        reason = _reasons([reason])[0]
        self._delivery_failed(at=at, reason=reason)

    @event("DeliveryFailed")
    def _delivery_failed(self, at: dt.datetime, reason: str) -> None:
        self.state = CaseState.DELIVERY_FAILED
        self.last_at = at
        self.dispatches[-1] = {**self.dispatches[-1], "failed": reason}

    def sign_off(
        self,
        recipient: Recipient | str = Recipient.APPLICANT,
        *,
        at: dt.datetime,
        seal: Sealer,
        id_check: IdCheck | None = None,
    ) -> None:
        """Record the sign-off (签收) and issue the delivery receipt (送达回证). A pick-up at the
        hall needs a valid ID (FZ·20): the receipt records the document type checked."""
        self._require("sign_off")
        at = self._when(at)
        recipient = _member("recipient", Recipient, recipient)
        last = self.dispatches[-1]
        checked = check_pickup(last["method"], id_check)
        body = {
            "method": last["method"],
            "dispatched_at": last["at"],
            "signed_off_at": at,
            "recipient": recipient.value,
            "applicant": self.applicant_id,
            "waybill": last["waybill"],
        }
        if checked is not None:
            body["id_check"] = checked
        receipt = self._seal(seal, "delivery_receipt", body)
        self._delivered(
            at=at, method=last["method"], delivered_on=shanghai_date(at), receipt=receipt
        )

    def deliver_by_public_notice(
        self, *, at: dt.datetime, seal: Sealer, notice_days: int = PUBLIC_NOTICE_DAYS
    ) -> None:
        """Deliver by public notice (公告送达) after the other methods failed; the result counts
        as delivered when the notice period ends."""
        self._require("deliver_by_public_notice")
        at = self._when(at)
        if isinstance(notice_days, bool) or not isinstance(notice_days, int):
            raise InvalidCaseStep("notice_days", "must be a whole number of days")
        if not 1 <= notice_days <= 365:
            raise InvalidCaseStep("notice_days", "must be 1–365 days")
        published_on = shanghai_date(at)
        delivered_on = published_on + dt.timedelta(days=notice_days)
        body = {
            "method": DeliveryMethod.PUBLIC_NOTICE.value,
            "published_on": published_on,
            "notice_days": notice_days,
            "deemed_delivered_on": delivered_on,
            "failed_attempts": [
                {"method": d["method"], "reason": d["failed"]} for d in self.dispatches
            ],
            "applicant": self.applicant_id,
        }
        receipt = self._seal(seal, "delivery_receipt", body)
        self._delivered(
            at=at,
            method=DeliveryMethod.PUBLIC_NOTICE.value,
            delivered_on=delivered_on,
            receipt=receipt,
        )

    @event("Delivered")
    def _delivered(
        self, at: dt.datetime, method: str, delivered_on: dt.date, receipt: dict[str, Any]
    ) -> None:
        self.state = CaseState.DELIVERED
        self.last_at = at
        self.delivered_on = delivered_on
        self.delivery_method = DeliveryMethod(method)
        self.documents.append(receipt)

    def close(self, *, at: dt.datetime) -> None:
        """Close the case (办结): only once its result is issued and delivered
        (GZ16·15, NH·20, FZ·19), and a public notice's period has run."""
        self._require_result("close")
        at = self._when(at)
        assert self.delivered_on is not None
        if shanghai_date(at) < self.delivered_on:
            raise CaseNotClosable(
                f"close: the public notice counts as delivered on {self.delivered_on}"
            )
        self._closed(at=at)

    @event("Closed")
    def _closed(self, at: dt.datetime) -> None:
        self.state = CaseState.CLOSED
        self.last_at = at
        self.closed_at = at

    # -- withdrawal ---------------------------------------------------------------------------

    def withdraw(self, applicant_id: UUID, reason: str = "", *, at: dt.datetime) -> None:
        """The applicant withdraws the application, at any point before the decision."""
        self._require("withdraw")
        at = self._when(at)
        self._check_applicant(applicant_id)
        reason = _text("reason", reason, empty=True)
        self._withdrawn(at=at, reason=reason)

    @event("Withdrawn")
    def _withdrawn(self, at: dt.datetime, reason: str) -> None:
        self.state = CaseState.WITHDRAWN
        self.last_at = at
        self.reasons = [reason] if reason else []


# --- helpers ----------------------------------------------------------------------------------


def _name(terms: Mapping[str, Any], code: str) -> str:
    return next((str(m["name"]) for m in terms["materials"] if m["code"] == code), code)


def _check_materials(
    specs: Sequence[MaterialSpec],
    materials: Sequence[SubmittedMaterial],
    channel: Channel,
    mode: HandlingMode,
) -> list[SubmittedMaterial]:
    """Materials only from the guide (GZ16·14, PY·14), each in a form the guide and the channel
    allow: e-certificates of a type the guide names, online only what is accepted online
    (window-only materials travel as paper), and no paper for a fully online item."""
    if isinstance(materials, str | bytes) or not isinstance(materials, Sequence):
        raise InvalidMaterial("materials", "must be a list of SubmittedMaterial")
    if len(materials) > MAX_MATERIALS:
        raise InvalidMaterial("materials", f"more than {MAX_MATERIALS} materials")
    by_code = {spec.code: spec for spec in specs}
    seen: set[str] = set()
    for material in materials:
        if not isinstance(material, SubmittedMaterial):
            raise InvalidMaterial("materials", f"expected SubmittedMaterial, got {material!r}")
        where = f"materials[{material.code}]"
        spec = by_code.get(material.code)
        if spec is None:
            raise MaterialNotInGuide(where, "is not a material of the guide")
        if material.code in seen:
            raise InvalidMaterial(where, "submitted twice")
        seen.add(material.code)
        if (
            material.form is MaterialForm.E_CERTIFICATE
            and material.certificate_type not in spec.certificate_types
        ):
            raise MaterialNotInGuide(
                f"{where}.certificate_type",
                f"{material.certificate_type!r} is not an e-certificate type the guide accepts",
            )
        if material.form is MaterialForm.PAPER:
            if mode is HandlingMode.FULL_ONLINE:
                raise ChannelNotOffered(f"{where}.form", "a fully online item takes no paper")
        elif channel.is_online and not spec.online:
            raise ChannelNotOffered(f"{where}.form", "accepted at the window only: send paper")
    return list(materials)


def _sealed(
    seal: Sealer, kind: str, body: dict[str, Any], serial: str, department: str
) -> dict[str, Any]:
    document = seal(kind, body)
    if (
        str(document.kind) != kind
        or document.serial != serial
        or document.issuer_department != department
    ):
        raise DecisionNotSealed(
            f"{kind}: the seal issued a {document.kind} of {document.serial} for "
            f"{document.issuer_department}, not this case's department {department}"
        )
    return document.to_dict()


keep_topics(globals(), "ledger.cases")
