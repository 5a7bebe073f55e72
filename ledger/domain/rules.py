"""The typed rule violations: every refusal of a command, with its source in RULES.md.

Layer: domain (standard library and ``ledger.errors`` only). Each class names the
rule it enforces in ``rule`` (``file · article`` as RULES.md writes it, the first
source being the primary one) and a stable machine name in ``code`` (kebab-case), so
the HTTP edge maps one hierarchy in one place. Every message names the field or rule
broken; :class:`FieldViolation` subclasses also carry that ``field``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

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


class RatingNotOfCase(FieldViolation):
    """A rating (好差评) is given by the case's own applicant (服务对象), through an applicant
    channel, for that case and its department: a rating of someone else's case would feed the
    department's assessment (FZ·22) and the blacklist counts (NH·25) with fakes."""

    rule = "GZ20·16, FZ·22, NH·25"
    code = "rating-not-of-case"


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
    "RatingNotOfCase",
    "RectificationNotOpen",
    "SupervisionOrderNotOpen",
]


# --- access to personal data (GZ20·25) --------------------------------------------------------


class PurposeRequired(FieldViolation):
    """Reading personal data needs a stated purpose (X-Purpose)."""

    rule = "GZ20·25"
    code = "purpose-required"


class InvalidPurpose(FieldViolation):
    """A stated purpose (or grant reason) is too long or is not printable text."""

    rule = "GZ20·25"
    code = "invalid-purpose"


class InvalidGrant(FieldViolation):
    """A grant names no valid department, or a time limit out of range."""

    rule = "GZ20·25"
    code = "invalid-grant"


# --- archiving and backups (NH·22, FZ·21, GZ20·24) --------------------------------------------


class CaseNotArchivable(RuleViolation):
    """The case has not ended yet: only a completed case file is archived (NH·22, FZ·21,
    GZ20·24)."""

    code = "case-not-archivable"
    rule = "NH·22, FZ·21, GZ20·24"


class InvalidTransfer(FieldViolation):
    """A transfer's field is malformed (the field is named)."""

    code = "invalid-transfer"
    rule = "NH·22, FZ·21, GZ20·24"


class InvalidBackupRecord(FieldViolation):
    """A backup or restore record's field is malformed (the field is named)."""

    code = "invalid-backup-record"
    rule = "NH·22"


# --- kiosks (自助终端) -------------------------------------------------------------------------


class InvalidKiosk(FieldViolation):
    """A kiosk command argument was refused; ``field`` names it."""

    rule = "PY·21"
    code = "invalid-kiosk"


class KioskNotInService(InvalidTransition):
    """The command does not apply in the kiosk's current status."""

    rule = "PY·21"
    code = "kiosk-not-in-service"


# --- accountability of officials (FZ·26(二)(五)) ---------------------------------------------


class InvalidOfficial(FieldViolation):
    """An official's or a delegation's record holds a malformed or impossible value."""

    rule = "FZ·26(五)"
    code = "invalid-official"


class AuthorityExceeded(RuleViolation):
    """An official acted beyond the role, department or delegation held (越权操作)."""

    rule = "FZ·26(五)"
    code = "authority-exceeded"


class UnknownOfficial(AuthorityExceeded):
    """A key acts as an official nobody appointed (冒用他人名义)."""

    rule = "FZ·26(二)"
    code = "unknown-official"


__all__ += ["AuthorityExceeded", "InvalidOfficial", "UnknownOfficial"]


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


__all__ += ["SecondTimeLimitExtension", "TimeLimitExtensionTooLate", "TimeLimitExtensionTooLong"]
__all__ += ["DelayAlreadyHandled", "DelayNotOverdue", "InvalidRedLight", "SupervisionOrderNotDue"]
__all__ += ["InvalidCreditEntry", "NothingAcquired", "SingleFunctionKiosk"]


class DocumentOffTemplate(InvalidDocument):
    """A notice leaves out a field of the published standard template it is issued from
    (标准化模板, FZ·16: 受理承诺单, 不予受理通知单, 缺件通知书, 补齐补正通知书, 窗口否决报备单)."""

    rule = "FZ·16"
    code = "document-off-template"


__all__ += ["DocumentOffTemplate"]
# --- intake obligations (RULES.md "Further obligations": what may be asked of an applicant) ---


class GuideFormsOrLimitExceedWindow(GuideOnlineExceedsWindow):
    """Online forms or the online time limit exceed the window's (所需填报表单、办理时限均不得多于
    实体窗口, GZ20·12)."""

    rule = "GZ20·12"
    code = "guide-forms-or-limit-exceed-window"


class WindowApplicantForcedOnline(FieldViolation):
    """A guide sends window applicants through an online step first: an online pre-step mode
    without window handling (不得强制要求其先到线上预约或在线提交申请材料, GZ20·12)."""

    rule = "GZ20·12"
    code = "window-applicant-forced-online"


class OnlineBackfillDemanded(FieldViolation):
    """A case handled at the window is made to go through the online process afterwards
    (已在实体大厅办理的事项，不得要求申请人补填网上流程, FZ·23)."""

    rule = "FZ·23"
    code = "online-backfill-demanded"


class FullOnlineBasisMissing(FieldViolation):
    """A guide without full-online handling cites no law requiring paper or presence
    (除法律法规要求必须提供纸质材料或必须到现场外，应提供全流程网上办理服务能力, GZ20·10)."""

    rule = "GZ20·10"
    code = "full-online-basis-missing"


class ElectronicMaterialRefused(FieldViolation):
    """A correction or non-acceptance on the ground that a material is electronic
    (部门不得拒收和拒用电子材料, NH·18)."""

    rule = "NH·18"
    code = "electronic-material-refused"


class PaperResignatureDemanded(FieldViolation):
    """A paper re-signature is demanded of a material submitted e-signed
    (已经提交符合电子签名要求的电子材料，各部门不得要求服务对象在书式材料上重新签名, PY·12(一))."""

    rule = "PY·12(一)"
    code = "paper-resignature-demanded"


class SharingBasisMissing(FieldViolation):
    """A material whose data is not shared states no legal basis for the applicant
    (对无法共享的信息，信息所属部门需提供充分的法律依据，并告知服务对象, GZ16·4, PY·4(六))."""

    rule = "GZ16·4, PY·4(六)"
    code = "sharing-basis-missing"


class SharedDataNotFetched(FieldViolation):
    """An application is not accepted because shared data could not be fetched; the applicant
    may submit the material instead (应允许群众提交资质材料, FZ·13)."""

    rule = "FZ·13"
    code = "shared-data-not-fetched"


class GuideSamplesMissing(FieldViolation):
    """A guide lacks the blank form and sample text of a form, or its result sample
    (示范文本及空表, GZ16·18, PY·24; 结果样本, FZ·7)."""

    rule = "GZ16·18, PY·24, FZ·7"
    code = "guide-samples-missing"


__all__ += [
    "ElectronicMaterialRefused",
    "FullOnlineBasisMissing",
    "GuideFormsOrLimitExceedWindow",
    "GuideSamplesMissing",
    "OnlineBackfillDemanded",
    "PaperResignatureDemanded",
    "SharedDataNotFetched",
    "SharingBasisMissing",
    "WindowApplicantForcedOnline",
]


class CourierNotLicensed(FieldViolation):
    """A result travels by post only with a courier the law allows to carry official documents
    (通过国家法律、法规认可的从事运输国家公文材料的快递企业递送, GZ16·16)."""

    rule = "GZ16·16"
    code = "courier-not-licensed"


class CourierFeeNotOnDelivery(FieldViolation):
    """Courier fees are settled by the applicant on delivery (快递服务费用一律采用“到付”的方式由
    服务对象自行结算, PY·16): never charged in advance, nor carried by the department unless the
    city so chose."""

    rule = "PY·16"
    code = "courier-fee-not-on-delivery"


class PickupWithoutValidId(FieldViolation):
    """A paper result is collected only on a valid identity document (由申请人携有效证件前往服务
    大厅领取, FZ·20)."""

    rule = "FZ·20"
    code = "pickup-without-valid-id"


__all__ += ["CourierFeeNotOnDelivery", "CourierNotLicensed", "PickupWithoutValidId"]


# --- the registry: every refusal with its article, where it is enforced ----------------------


@dataclass(frozen=True)
class RuleEntry:
    """One refusal class of the registry: the rule ids and code it carries, the RULES.md
    section (``article``) that states the rule, and the module(s) that raise it
    (``enforced_in``, dotted module names) — so the rules can be audited as data
    (``caseledger rules``)."""

    violation: type[RuleViolation]
    article: str
    enforced_in: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.violation.__name__

    @property
    def rule(self) -> str:
        return self.violation.rule

    @property
    def code(self) -> str:
        return self.violation.code

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """The article ids ``rule`` cites (``GZ16·15, NH·20`` → both; a range ``NH·11–NH·22``
        as its two ends; a clause ``FZ·26(五)`` as its article ``FZ·26``)."""
        parts = (re.sub(r"\(.*\)$", "", part.strip()) for part in re.split(r"[,–]", self.rule))
        return tuple(part for part in parts if part)


RULE_REGISTRY: tuple[RuleEntry, ...] = (
    RuleEntry(InvalidGuide, "Service catalogue", ("ledger.domain.catalogue",)),
    RuleEntry(GuideOnlineExceedsWindow, "Service catalogue", ("ledger.domain.catalogue",)),
    RuleEntry(PromisedLimitExceedsStatutory, "Service catalogue", ("ledger.domain.catalogue",)),
    RuleEntry(GuideCodeChanged, "Service catalogue", ("ledger.domain.catalogue",)),
    RuleEntry(UnknownGuideVersion, "Service catalogue", ("ledger.domain.catalogue",)),
    RuleEntry(
        ServiceItemWithdrawn,
        "Service catalogue",
        ("ledger.domain.cases", "ledger.domain.catalogue"),
    ),
    RuleEntry(
        InvalidDepartment,
        "Identity and access",
        ("ledger.domain.cases", "ledger.domain.departments"),
    ),
    RuleEntry(
        InvalidApplicant,
        "Identity and access",
        ("ledger.domain.applicants", "ledger.domain.cases", "ledger.domain.personal_data"),
    ),
    RuleEntry(
        AuthenticationTooLow,
        "Identity and access",
        ("ledger.domain.applicants", "ledger.services.domain_services"),
    ),
    RuleEntry(
        ApplicantErased, "Identity and access", ("ledger.domain.applicants", "ledger.domain.cases")
    ),
    RuleEntry(
        BlacklistedApplicant,
        "Case lifecycle 2",
        ("ledger.domain.cases", "ledger.services.domain_services"),
    ),
    RuleEntry(
        NotInDepartmentScope,
        "Identity and access",
        ("ledger.services.cases", "ledger.services.domain_services", "projections.archive.service"),
    ),
    RuleEntry(InvalidTransition, "Case lifecycle", ("ledger.domain.cases",)),
    RuleEntry(AppointmentRefusalNotAllowed, "Case lifecycle 1", ("ledger.domain.appointments",)),
    RuleEntry(ChannelNotOffered, "Case lifecycle 2", ("ledger.domain.cases",)),
    RuleEntry(MaterialNotInGuide, "Case lifecycle 5", ("ledger.domain.cases",)),
    RuleEntry(RequiredMaterialsMissing, "Case lifecycle 4", ("ledger.domain.cases",)),
    RuleEntry(CorrectionOutsideGuide, "Case lifecycle 5", ("ledger.domain.cases",)),
    RuleEntry(SecondCorrectionRequest, "Case lifecycle 5", ("ledger.domain.cases",)),
    RuleEntry(CorrectionNoticeOverdue, "Case lifecycle 5", ("ledger.domain.cases",)),
    RuleEntry(ResubmissionDemanded, "Case lifecycle", ("ledger.domain.certificates",)),
    RuleEntry(ReasonRequired, "Case lifecycle 7", ("ledger.domain.cases",)),
    RuleEntry(
        DecisionNotSealed, "Case lifecycle 10", ("ledger.domain.cases", "ledger.services.cases")
    ),
    RuleEntry(CaseNotClosable, "Case lifecycle 11", ("ledger.domain.cases",)),
    RuleEntry(InvalidCaseStep, "Case lifecycle", ("ledger.domain.cases", "ledger.services.cases")),
    RuleEntry(StepOutOfOrder, "Case lifecycle", ("ledger.domain.cases",)),
    RuleEntry(DeemedAcceptanceNotDue, "Case lifecycle 5", ("ledger.domain.cases",)),
    RuleEntry(FeeNotInGuide, "Case lifecycle 9", ("ledger.domain.cases",)),
    RuleEntry(FeeNotPaid, "Case lifecycle 9", ("ledger.domain.cases",)),
    RuleEntry(InvalidSerial, "Case lifecycle 3", ("ledger.domain.serials",)),
    RuleEntry(
        InvalidDocument, "Case lifecycle 3", ("ledger.domain.documents", "ledger.domain.sealed")
    ),
    RuleEntry(
        InvalidMaterial,
        "Case lifecycle 2",
        ("ledger.domain.cases", "ledger.services.cases", "ledger.storage.materials"),
    ),
    RuleEntry(MaterialTooLarge, "Case lifecycle 2", ("ledger.storage.materials",)),
    RuleEntry(MediaTypeNotAllowed, "Case lifecycle 2", ("ledger.storage.materials",)),
    RuleEntry(MediaTypeMismatch, "Case lifecycle 2", ("ledger.storage.materials",)),
    RuleEntry(ActiveContentRefused, "Case lifecycle 2", ("ledger.storage.materials",)),
    RuleEntry(
        InvalidCertificate,
        "E-certificates and seals",
        ("ledger.domain.certificates", "ledger.services.domain_services"),
    ),
    RuleEntry(CaseNotDecided, "Case lifecycle 11", ("ledger.domain.certificates",)),
    RuleEntry(NotIssuingDepartment, "E-certificates and seals", ("ledger.domain.certificates",)),
    RuleEntry(CertificateNotCurrent, "E-certificates and seals", ("ledger.domain.certificates",)),
    RuleEntry(CertificateNotHeld, "E-certificates and seals", ("ledger.domain.certificates",)),
    RuleEntry(CertificateReuploadDemanded, "Case lifecycle", ("ledger.domain.certificates",)),
    RuleEntry(
        EvidenceRequired,
        "E-certificates and seals",
        ("ledger.domain.certificates", "ledger.domain.ratings"),
    ),
    RuleEntry(DisputeNotOpen, "E-certificates and seals", ("ledger.domain.certificates",)),
    RuleEntry(ExtensionOutOfTime, "E-certificates and seals", ("ledger.domain.certificates",)),
    RuleEntry(InvalidRating, "Ratings", ("ledger.domain.ratings",)),
    RuleEntry(RatingReasonRequired, "Ratings", ("ledger.domain.ratings",)),
    RuleEntry(RatingAlreadyGiven, "Ratings", ("ledger.domain.ratings",)),
    RuleEntry(RatingNotOfCase, "Ratings", ("ledger.services.domain_services",)),
    RuleEntry(RatingNotDisputable, "Ratings", ("ledger.domain.ratings",)),
    RuleEntry(RectificationNotOpen, "Ratings", ("ledger.domain.ratings",)),
    RuleEntry(InvalidAppointment, "Case lifecycle 1", ("ledger.domain.appointments",)),
    RuleEntry(AppointmentSlotFull, "Case lifecycle 1", ("ledger.domain.appointments",)),
    RuleEntry(AppointmentNotActive, "Case lifecycle 1", ("ledger.domain.appointments",)),
    RuleEntry(InvalidConsultation, "Consultations and complaints", ("ledger.domain.complaints",)),
    RuleEntry(ConsultationNotOpen, "Consultations and complaints", ("ledger.domain.complaints",)),
    RuleEntry(
        InvalidBlacklisting,
        "Blacklist and credit",
        ("ledger.domain.blacklist", "ledger.services.domain_services"),
    ),
    RuleEntry(BlacklistThresholdNotMet, "Blacklist and credit", ("ledger.domain.blacklist",)),
    RuleEntry(AppealOutOfTime, "Blacklist and credit", ("ledger.domain.blacklist",)),
    RuleEntry(InvalidBlacklistTransition, "Blacklist and credit", ("ledger.domain.blacklist",)),
    RuleEntry(InvalidSupervisionOrder, "Supervision", ("ledger.domain.supervision",)),
    RuleEntry(SupervisionOrderNotOpen, "Supervision", ("ledger.domain.supervision",)),
    RuleEntry(PurposeRequired, "Identity and access", ("ledger.domain.access",)),
    RuleEntry(InvalidPurpose, "Identity and access", ("ledger.domain.access",)),
    RuleEntry(InvalidGrant, "Identity and access", ("ledger.domain.access",)),
    RuleEntry(CaseNotArchivable, "Archiving", ("ledger.domain.archiving",)),
    RuleEntry(InvalidTransfer, "Archiving", ("ledger.domain.archiving",)),
    RuleEntry(InvalidBackupRecord, "Archiving", ("ledger.domain.backups",)),
    RuleEntry(InvalidKiosk, "Kiosks", ("ledger.domain.kiosks",)),
    RuleEntry(KioskNotInService, "Kiosks", ("ledger.domain.kiosks",)),
    RuleEntry(
        InvalidOfficial,
        "Accountability of officials",
        ("ledger.domain.officials", "ledger.services.officials", "api.officials"),
    ),
    RuleEntry(AuthorityExceeded, "Accountability of officials", ("ledger.services.officials",)),
    RuleEntry(UnknownOfficial, "Accountability of officials", ("ledger.services.officials",)),
    RuleEntry(TimeLimitExtensionTooLong, "Further obligations", ("ledger.domain.cases",)),
    RuleEntry(SecondTimeLimitExtension, "Further obligations", ("ledger.domain.cases",)),
    RuleEntry(TimeLimitExtensionTooLate, "Further obligations", ("ledger.domain.cases",)),
    RuleEntry(InvalidRedLight, "Further obligations", ("ledger.domain.red_light",)),
    RuleEntry(DelayNotOverdue, "Further obligations", ("ledger.domain.red_light",)),
    RuleEntry(DelayAlreadyHandled, "Further obligations", ("ledger.domain.red_light",)),
    RuleEntry(SupervisionOrderNotDue, "Further obligations", ("ledger.services.domain_services",)),
    RuleEntry(
        InvalidCreditEntry,
        "Further obligations",
        ("ledger.domain.credit", "ledger.services.credit"),
    ),
    RuleEntry(NothingAcquired, "Further obligations", ("ledger.services.credit",)),
    RuleEntry(SingleFunctionKiosk, "Further obligations", ("ledger.domain.kiosks",)),
    RuleEntry(DocumentOffTemplate, "Further obligations", ("ledger.domain.templates",)),
    RuleEntry(GuideFormsOrLimitExceedWindow, "Further obligations", ("ledger.domain.catalogue",)),
    RuleEntry(WindowApplicantForcedOnline, "Further obligations", ("ledger.domain.catalogue",)),
    RuleEntry(OnlineBackfillDemanded, "Further obligations", ("ledger.domain.intake",)),
    RuleEntry(FullOnlineBasisMissing, "Further obligations", ("ledger.domain.catalogue",)),
    RuleEntry(ElectronicMaterialRefused, "Further obligations", ("ledger.domain.intake",)),
    RuleEntry(PaperResignatureDemanded, "Further obligations", ("ledger.domain.intake",)),
    RuleEntry(SharingBasisMissing, "Further obligations", ("ledger.domain.catalogue",)),
    RuleEntry(SharedDataNotFetched, "Further obligations", ("ledger.domain.intake",)),
    RuleEntry(GuideSamplesMissing, "Further obligations", ("ledger.domain.catalogue",)),
    RuleEntry(CourierNotLicensed, "Further obligations", ("ledger.domain.result_delivery",)),
    RuleEntry(CourierFeeNotOnDelivery, "Further obligations", ("ledger.domain.result_delivery",)),
    RuleEntry(PickupWithoutValidId, "Further obligations", ("ledger.domain.result_delivery",)),
)
"""Every concrete rule violation with its article and where it is enforced; one line each
(add new violations here, next to their kin)."""

RULE_VIOLATIONS: tuple[type[RuleViolation], ...] = tuple(e.violation for e in RULE_REGISTRY)
"""Every concrete rule violation, for the edge's error mapping and for tests."""


@dataclass(frozen=True)
class RuleDefault:
    """A value no seed states, shipped as a configurable default — shown as a default, never
    as a rule of a seed (RULES.md "Further obligations", last item)."""

    name: str
    value: str
    setting: str
    """The constant or setting that holds it (``module.NAME`` or ``module.Class.field``)."""
    basis: str


RULE_DEFAULTS: tuple[RuleDefault, ...] = (
    RuleDefault(
        "follow-up ratings per case",
        "1 (one first rating, one follow-up)",
        "ledger.domain.ratings.Rating.follow_up",
        "national practice; no seed states it",
    ),
    RuleDefault(
        "consultation answer limit",
        "3 working days",
        "ledger.domain.complaints.AnswerLimits.enquiry",
        "12345 practice; local limits vary",
    ),
    RuleDefault(
        "complaint answer limit",
        "13 working days",
        "ledger.domain.complaints.AnswerLimits.complaint",
        "12345 practice; local limits vary",
    ),
    RuleDefault(
        "yellow light",
        "≤ 20 % of the promised working days left, or ≤ 2 working days",
        "projections.supervision.SupervisionThresholds",
        "FZ·24 names the lights, not the threshold",
    ),
    RuleDefault(
        "rectification deadline",
        "5 working days (configurable; practice 5–15)",
        "ledger.domain.ratings.RECTIFICATION_DAYS",
        "national practice 5–15 working days by locality",
    ),
)
"""The labelled defaults (values no seed states); ``tests/test_rule_registry.py`` checks each
against the constant it names."""

__all__ += [
    "RULE_DEFAULTS",
    "RULE_REGISTRY",
    "CaseNotArchivable",
    "InvalidBackupRecord",
    "InvalidGrant",
    "InvalidKiosk",
    "InvalidPurpose",
    "InvalidTransfer",
    "KioskNotInService",
    "PurposeRequired",
    "RuleDefault",
    "RuleEntry",
]
