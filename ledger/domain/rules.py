"""The typed rule violations: every refusal of a command, with its source in RULES.md.

Layer: domain (standard library and ``ledger.errors`` only). Each class names the
rule it enforces in ``rule`` (``file · article`` as RULES.md writes it, the first
source being the primary one) and a stable machine name in ``code`` (kebab-case), so
the HTTP edge maps one hierarchy in one place. Every message names the field or rule
broken; :class:`FieldViolation` subclasses also carry that ``field``.
"""

from __future__ import annotations

import datetime as dt

from ledger.errors import RuleViolation

__all__ = [
    "RULE_VIOLATIONS",
    "ActiveContentRefused",
    "ApplicantErased",
    "AppointmentRefusalNotAllowed",
    "AuthenticationTooLow",
    "BlacklistedApplicant",
    "CaseNotClosable",
    "ChannelNotOffered",
    "CorrectionNoticeOverdue",
    "CorrectionOutsideGuide",
    "DecisionNotSealed",
    "DeemedAcceptanceNotDue",
    "FeeNotInGuide",
    "FeeNotPaid",
    "FieldViolation",
    "GuideCodeChanged",
    "GuideOnlineExceedsWindow",
    "InvalidApplicant",
    "InvalidCaseStep",
    "InvalidDepartment",
    "InvalidDocument",
    "InvalidGuide",
    "InvalidMaterial",
    "InvalidSerial",
    "InvalidTransition",
    "MaterialNotInGuide",
    "MaterialTooLarge",
    "MediaTypeMismatch",
    "MediaTypeNotAllowed",
    "NotInDepartmentScope",
    "PromisedLimitExceedsStatutory",
    "ReasonRequired",
    "RequiredMaterialsMissing",
    "ResubmissionDemanded",
    "SecondCorrectionRequest",
    "ServiceItemWithdrawn",
    "StepOutOfOrder",
    "UnknownGuideVersion",
]


class FieldViolation(RuleViolation, ValueError):
    """A value was refused; ``field`` names it (the message starts with it)."""

    code = "invalid-field"

    def __init__(
        self, field: str, problem: str, *, rule: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(f"{field}: {problem}", rule=rule, code=code)
        self.field = field
        self.problem = problem


# --- service catalogue (政务服务事项, 办事指南) ---------------------------------------------


class InvalidGuide(FieldViolation):
    """A 办事指南 lacks a field the regulations require, or holds a malformed one."""

    rule = "FZ·7, GZ16·18"
    code = "invalid-guide"


class GuideOnlineExceedsWindow(FieldViolation):
    """Online steps or materials exceed those at the window (网上办事不得多于窗口)."""

    rule = "GZ16·10, GZ16·14, NH·10, FZ·23"
    code = "guide-online-exceeds-window"


class PromisedLimitExceedsStatutory(FieldViolation):
    """The promised time limit (承诺时限) is longer than the statutory one (法定时限)."""

    rule = "FZ·7, GZ16·18"
    code = "promised-limit-exceeds-statutory"


class GuideCodeChanged(FieldViolation):
    """A new guide version names another item (its 实施编码 differs)."""

    rule = "FZ·7"
    code = "guide-code-changed"


class UnknownGuideVersion(RuleViolation, LookupError):
    """No guide of that version was published; a case is judged by its own version."""

    rule = "FZ·7, GZ16·18"
    code = "unknown-guide-version"


class ServiceItemWithdrawn(RuleViolation):
    """The 政务服务事项 was withdrawn: no new guide and no new application."""

    rule = "FZ·7, GZ16·18"
    code = "service-item-withdrawn"


# --- departments (事项实施主体) ---------------------------------------------------------------


class InvalidDepartment(FieldViolation):
    """A department's code, name, city or seal key is malformed."""

    rule = "GZ20·19, GZ20·25"
    code = "invalid-department"


# --- identity and access (实名认证) -----------------------------------------------------------


class InvalidApplicant(FieldViolation):
    """An applicant's kind, credential or personal data is refused."""

    rule = "GZ16·7, PY·7, FZ·8"
    code = "invalid-applicant"


class AuthenticationTooLow(RuleViolation):
    """The applicant's authentication level does not grant the action (FZ·8 三级权限)."""

    rule = "FZ·8"
    code = "authentication-too-low"

    def __init__(self, message: str, *, action: str = "", required: str = "", actual: str = ""):
        super().__init__(message)
        self.action = action
        self.required = required
        self.actual = actual


class ApplicantErased(RuleViolation):
    """The applicant's personal data was erased; nothing more is done in their name."""

    rule = "GZ20·25, NH·23, GZ16·21"
    code = "applicant-erased"


class BlacklistedApplicant(RuleViolation):
    """A blacklisted applicant (黑名单) may not apply online during the block.

    ``until`` is the last day of the block (``None``: until further notice) and
    ``appeal_route`` how to appeal, so the refusal can tell the applicant both."""

    rule = "GZ16·22, PY·28"
    code = "blacklisted-applicant"

    def __init__(
        self,
        message: str,
        *,
        until: dt.date | None = None,
        appeal_route: str | None = None,
        rule: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, rule=rule, code=code)
        self.until = until
        self.appeal_route = appeal_route or None


class NotInDepartmentScope(RuleViolation):
    """A department key acted on a case of another department (按部门授权)."""

    rule = "GZ20·25, NH·23, GZ16·21"
    code = "not-in-department-scope"


# --- case lifecycle (办件) --------------------------------------------------------------------


class InvalidTransition(RuleViolation):
    """The command does not apply to the case in its current ``state``."""

    rule = "NH·11–NH·22"
    code = "invalid-transition"

    def __init__(
        self, message: str, *, state: str, rule: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, rule=rule, code=code)
        self.state = state


class AppointmentRefusalNotAllowed(RuleViolation):
    """A successful appointment may be refused only for the grounds the rules list."""

    rule = "GZ20·9, GZ16·9, FZ·10"
    code = "appointment-refusal-not-allowed"


class ChannelNotOffered(FieldViolation):
    """The application came through a channel or handling mode the guide does not offer."""

    rule = "GZ20·10, GZ16·14, FZ·11"
    code = "channel-not-offered"


class MaterialNotInGuide(FieldViolation):
    """A submitted material is not one the guide lists."""

    rule = "GZ16·14, PY·14"
    code = "material-not-in-guide"


class RequiredMaterialsMissing(FieldViolation):
    """A required material of the guide is missing (补齐补正 first)."""

    rule = "GZ16·12, FZ·15"
    code = "required-materials-missing"


class CorrectionOutsideGuide(FieldViolation):
    """A correction request asks for a material the guide does not list (清单之外不得要求)."""

    rule = "GZ16·14, GZ16·4, PY·14"
    code = "correction-outside-guide"


class SecondCorrectionRequest(RuleViolation):
    """Correction is requested ONCE, listing every missing material (一次性告知)."""

    rule = "GZ20·11, FZ·15"
    code = "second-correction-request"


class CorrectionNoticeOverdue(RuleViolation):
    """Missing materials were not notified within 5 days: the application counts as accepted."""

    rule = "ALL·32"
    code = "correction-notice-overdue"


class ResubmissionDemanded(FieldViolation):
    """The window asked again for what was submitted online or is obtainable by data sharing."""

    rule = "GZ16·10, NH·21, GZ20·13, FZ·13"
    code = "resubmission-demanded"


class ReasonRequired(FieldViolation):
    """Non-acceptance, return and disapproval state their reasons."""

    rule = "GZ16·12"
    code = "reason-required"


class DecisionNotSealed(RuleViolation):
    """A decision or result document lacks the department's valid e-seal (电子印章)."""

    rule = "GZ20·12, NH·15, GZ16·14"
    code = "decision-not-sealed"


class CaseNotClosable(RuleViolation):
    """A case closes (办结) only after its e-certificate (电子证照) is issued."""

    rule = "GZ16·15, NH·20, FZ·19"
    code = "case-not-closable"


class InvalidCaseStep(FieldViolation):
    """A case command's argument is malformed (delivery method, procedure, period, reference)."""

    rule = "NH·11–NH·22"
    code = "invalid-case-step"


class StepOutOfOrder(FieldViolation):
    """A step is dated before the case's previous step (time runs forward in a 办件)."""

    rule = "NH·11–NH·22"
    code = "step-out-of-order"


class DeemedAcceptanceNotDue(RuleViolation):
    """Deemed acceptance (视为受理) only once 5 working days passed without a pre-review finding."""

    rule = "ALL·32"
    code = "deemed-acceptance-not-due"


class FeeNotInGuide(FieldViolation):
    """The fee assessed is not the fee of the guide (收费标准 published in the 办事指南)."""

    rule = "FZ·18, FZ·7"
    code = "fee-not-in-guide"


class FeeNotPaid(RuleViolation):
    """An assessed fee is paid in full through the unified payment platform before approval."""

    rule = "FZ·18"
    code = "fee-not-paid"


class InvalidSerial(FieldViolation):
    """A serial number (申请流水号) or approval code (统一审批编码) is malformed."""

    rule = "GZ16·11, PY·11, NH·11"
    code = "invalid-serial"


# --- documents and materials -----------------------------------------------------------------


class InvalidDocument(FieldViolation):
    """A receipt, notice or decision is malformed or lacks a field its kind requires."""

    rule = "GZ16·11, PY·11, GZ20·11, GZ16·12"
    code = "invalid-document"


class InvalidMaterial(FieldViolation):
    """An uploaded material or its reference (hash, size, media type) is malformed or empty."""

    rule = "GZ20·10, FZ·11"
    code = "invalid-material"


class MaterialTooLarge(FieldViolation):
    """An uploaded material (电子材料) is larger than the size limit."""

    rule = "GZ20·10, FZ·11"
    code = "material-too-large"


class MediaTypeNotAllowed(FieldViolation):
    """An uploaded material's media type is not on the allow-list."""

    rule = "GZ20·10, FZ·11"
    code = "media-type-not-allowed"


class MediaTypeMismatch(FieldViolation):
    """An uploaded material's bytes are not what its declared media type says."""

    rule = "GZ20·10, FZ·11"
    code = "media-type-mismatch"


class ActiveContentRefused(FieldViolation):
    """An uploaded material carries active content (scripts, executables, embedded files,
    macros) or cannot be inspected for it: materials are plain e-copies (GZ20·10), and the
    platform keeps its systems secure (GZ20·25)."""

    rule = "GZ20·10, GZ20·25"
    code = "active-content"


RULE_VIOLATIONS: tuple[type[RuleViolation], ...] = (
    InvalidGuide,
    GuideOnlineExceedsWindow,
    PromisedLimitExceedsStatutory,
    GuideCodeChanged,
    UnknownGuideVersion,
    ServiceItemWithdrawn,
    InvalidDepartment,
    InvalidApplicant,
    AuthenticationTooLow,
    ApplicantErased,
    BlacklistedApplicant,
    NotInDepartmentScope,
    InvalidTransition,
    AppointmentRefusalNotAllowed,
    ChannelNotOffered,
    MaterialNotInGuide,
    RequiredMaterialsMissing,
    CorrectionOutsideGuide,
    SecondCorrectionRequest,
    CorrectionNoticeOverdue,
    ResubmissionDemanded,
    ReasonRequired,
    DecisionNotSealed,
    CaseNotClosable,
    InvalidCaseStep,
    StepOutOfOrder,
    DeemedAcceptanceNotDue,
    FeeNotInGuide,
    FeeNotPaid,
    InvalidSerial,
    InvalidDocument,
    InvalidMaterial,
    MaterialTooLarge,
    MediaTypeNotAllowed,
    MediaTypeMismatch,
    ActiveContentRefused,
)
"""Every concrete rule violation, for the edge's error mapping and for tests."""


# --- e-certificates (电子证照) -----------------------------------------------------------------


class InvalidCertificate(FieldViolation):
    """An e-certificate's identifier, content, reason or reference is malformed."""

    rule = "GZ20·21, GZ16·15"
    code = "invalid-certificate"


class CaseNotDecided(RuleViolation):
    """An e-certificate is issued only from a case with an approval decision (批准决定)."""

    rule = "GZ16·15, NH·20, FZ·19"
    code = "case-not-decided"


class NotIssuingDepartment(RuleViolation):
    """Only the issuing department (签发单位) issues, updates, revokes and answers for it."""

    rule = "GZ20·21, GZ16·15"
    code = "not-issuing-department"


class CertificateNotCurrent(InvalidTransition):
    """The e-certificate was revoked (注销): no update, dispute or use any more."""

    rule = "GZ20·21, GZ16·15"
    code = "certificate-not-current"


class CertificateNotHeld(RuleViolation):
    """A material may reference only a current e-certificate its applicant holds (向本人汇集)."""

    rule = "GZ16·15, GZ20·13"
    code = "certificate-not-held"


class CertificateReuploadDemanded(ResubmissionDemanded):
    """The applicant was asked to upload again an e-certificate obtainable by sharing."""

    rule = "GZ16·15, GZ20·13"
    code = "certificate-reupload-demanded"


class EvidenceRequired(FieldViolation):
    """An objection (异议) states its reasons and carries evidence (举证)."""

    rule = "GZ20·23, NH·17"
    code = "evidence-required"


class DisputeNotOpen(InvalidTransition):
    """The certificate dispute (电子证照异议) was already answered, or its extension used."""

    rule = "GZ20·23"
    code = "dispute-not-open"


class ExtensionOutOfTime(RuleViolation):
    """An extension (延期申请) is requested before the answer is due, not after."""

    rule = "GZ20·23"
    code = "extension-out-of-time"


# --- ratings (好差评) ---------------------------------------------------------------------------


class InvalidRating(FieldViolation):
    """A rating's level, code system, channel or case is malformed."""

    rule = "GZ20·16, FZ·22"
    code = "invalid-rating"


class RatingReasonRequired(FieldViolation):
    """A 不满意 or 非常不满意 rating states its reason (应同时明确原因)."""

    rule = "GZ16·17, NH·17, PY·17, FZ·22"
    code = "rating-reason-required"


class RatingAlreadyGiven(RuleViolation):
    """A case has one first rating and one follow-up (追评), no more."""

    rule = "GZ20·16"
    code = "rating-already-given"


class RatingNotDisputable(InvalidTransition):
    """The rated department disputes (异议) a rating once, before it is decided."""

    rule = "NH·17"
    code = "rating-not-disputable"


class RectificationNotOpen(InvalidTransition):
    """No callback and rectification (回访整改) is open for that rating."""

    rule = "FZ·22"
    code = "rectification-not-open"


# --- appointments (网上预约) -------------------------------------------------------------------


class InvalidAppointment(FieldViolation):
    """An appointment slot or booking is malformed."""

    rule = "GZ20·9, NH·9"
    code = "invalid-appointment"


class AppointmentSlotFull(RuleViolation):
    """The slot has no capacity left: the booking is refused."""

    rule = "GZ20·9"
    code = "appointment-slot-full"


class AppointmentNotActive(InvalidTransition):
    """The booking is not in a state the command applies to."""

    rule = "GZ20·9, NH·9"
    code = "appointment-not-active"


# --- consultations and complaints (咨询投诉, 12345) ----------------------------------------------


class InvalidConsultation(FieldViolation):
    """A consultation, complaint or suggestion, or its answer, is malformed."""

    rule = "GZ20·8, GZ16·8, NH·8"
    code = "invalid-consultation"


class ConsultationNotOpen(InvalidTransition):
    """The consultation or complaint was already answered or found untrue."""

    rule = "GZ20·8, FZ·9"
    code = "consultation-not-open"


# --- blacklist (黑名单) -------------------------------------------------------------------------


class InvalidBlacklisting(FieldViolation):
    """A blacklisting decision, notice or appeal is malformed."""

    rule = "GZ16·22, NH·25, PY·28"
    code = "invalid-blacklisting"


class BlacklistThresholdNotMet(RuleViolation):
    """A counted ground needs more than three facts (超过三次)."""

    rule = "NH·25"
    code = "blacklist-threshold-not-met"


class AppealOutOfTime(RuleViolation):
    """An appeal (申诉) is lodged within 30 working days of the notice."""

    rule = "GZ16·22, NH·25, PY·28"
    code = "appeal-out-of-time"


class InvalidBlacklistTransition(InvalidTransition):
    """The blacklisting is not in a state the command applies to."""

    rule = "GZ16·22, NH·25, PY·28"
    code = "invalid-blacklist-transition"


# --- supervision orders (督办) ------------------------------------------------------------------


class InvalidSupervisionOrder(FieldViolation):
    """A supervision order, its answer or its conclusion is malformed."""

    rule = "FZ·24, GZ20·26, FZ·26"
    code = "invalid-supervision-order"


class SupervisionOrderNotOpen(InvalidTransition):
    """The supervision order was already answered or closed."""

    rule = "FZ·24"
    code = "supervision-order-not-open"


RULE_VIOLATIONS += (
    InvalidCertificate,
    CaseNotDecided,
    NotIssuingDepartment,
    CertificateNotCurrent,
    CertificateNotHeld,
    CertificateReuploadDemanded,
    EvidenceRequired,
    DisputeNotOpen,
    ExtensionOutOfTime,
    InvalidRating,
    RatingReasonRequired,
    RatingAlreadyGiven,
    RatingNotDisputable,
    RectificationNotOpen,
    InvalidAppointment,
    AppointmentSlotFull,
    AppointmentNotActive,
    InvalidConsultation,
    ConsultationNotOpen,
    InvalidBlacklisting,
    BlacklistThresholdNotMet,
    AppealOutOfTime,
    InvalidBlacklistTransition,
    InvalidSupervisionOrder,
    SupervisionOrderNotOpen,
)

__all__ += [
    "AppealOutOfTime",
    "AppointmentNotActive",
    "AppointmentSlotFull",
    "BlacklistThresholdNotMet",
    "CaseNotDecided",
    "CertificateNotCurrent",
    "CertificateNotHeld",
    "CertificateReuploadDemanded",
    "ConsultationNotOpen",
    "DisputeNotOpen",
    "EvidenceRequired",
    "ExtensionOutOfTime",
    "InvalidAppointment",
    "InvalidBlacklistTransition",
    "InvalidBlacklisting",
    "InvalidCertificate",
    "InvalidConsultation",
    "InvalidRating",
    "InvalidSupervisionOrder",
    "NotIssuingDepartment",
    "RatingAlreadyGiven",
    "RatingNotDisputable",
    "RectificationNotOpen",
    "SupervisionOrderNotOpen",
]


# --- further obligations (RULES.md "Further obligations") ----------------------------------------


class TimeLimitExtensionTooLong(FieldViolation):
    """A time limit is extended by at most 10 (working) days (可以延长十日, ALL·42)."""

    rule = "ALL·42"
    code = "time-limit-extension-too-long"


class SecondTimeLimitExtension(RuleViolation):
    """A time limit is extended once (ALL·42): a second extension is refused."""

    rule = "ALL·42"
    code = "second-time-limit-extension"


class TimeLimitExtensionTooLate(RuleViolation):
    """An extension is decided within the time limit (二十日内不能作出决定的), not after it
    ran out."""

    rule = "ALL·42"
    code = "time-limit-extension-too-late"


class InvalidRedLight(FieldViolation):
    """A delay explanation or an assessment deduction is malformed (the field is named)."""

    rule = "FZ·24"
    code = "invalid-red-light"


class DelayNotOverdue(RuleViolation):
    """A delay is explained, and points deducted, only for a case past its time limit (红灯)."""

    rule = "FZ·24"
    code = "delay-not-overdue"


class DelayAlreadyHandled(InvalidTransition):
    """The delay of the case was explained, or its points deducted, already (once per case)."""

    rule = "FZ·24"
    code = "delay-already-handled"


class SupervisionOrderNotDue(RuleViolation):
    """No overdue supervision order for a case whose department explained the delay itself
    (若未主动说明情况，应按程序进行挂号督办)."""

    rule = "FZ·24"
    code = "supervision-order-not-due"


class InvalidCreditEntry(FieldViolation):
    """A credit-record entry (失信信用记录) is malformed: an improper acquisition names its
    case, a serious case (联合惩戒) its legal basis (GZ20·28)."""

    rule = "GZ20·28"
    code = "invalid-credit-entry"


class NothingAcquired(RuleViolation):
    """An improper acquisition is entered only for a case that granted something (an approval
    decision, GZ20·28)."""

    rule = "GZ20·28"
    code = "nothing-acquired"


class SingleFunctionKiosk(FieldViolation):
    """No new single-function kiosk (各级政府部门不再新建单一功能的自助终端, GZ20·14): a kiosk
    offers at least two of query, printing and application."""

    rule = "GZ20·14"
    code = "single-function-kiosk"


RULE_VIOLATIONS += (TimeLimitExtensionTooLong,)
RULE_VIOLATIONS += (SecondTimeLimitExtension,)
RULE_VIOLATIONS += (TimeLimitExtensionTooLate,)
RULE_VIOLATIONS += (InvalidRedLight,)
RULE_VIOLATIONS += (DelayNotOverdue,)
RULE_VIOLATIONS += (DelayAlreadyHandled,)
RULE_VIOLATIONS += (SupervisionOrderNotDue,)
RULE_VIOLATIONS += (InvalidCreditEntry,)
RULE_VIOLATIONS += (NothingAcquired,)
RULE_VIOLATIONS += (SingleFunctionKiosk,)

__all__ += ["SecondTimeLimitExtension", "TimeLimitExtensionTooLate", "TimeLimitExtensionTooLong"]
__all__ += ["DelayAlreadyHandled", "DelayNotOverdue", "InvalidRedLight", "SupervisionOrderNotDue"]
__all__ += ["InvalidCreditEntry", "NothingAcquired", "SingleFunctionKiosk"]
