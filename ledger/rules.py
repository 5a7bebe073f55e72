"""The typed rule violations: every refusal of a command, with its source in RULES.md.

Layer: domain (standard library and ``ledger.errors`` only). Each class names the
rule it enforces in ``rule`` (``file · article`` as RULES.md writes it, the first
source being the primary one) and a stable machine name in ``code`` (kebab-case), so
the HTTP edge maps one hierarchy in one place. Every message names the field or rule
broken; :class:`FieldViolation` subclasses also carry that ``field``.
"""

from __future__ import annotations

from ledger.errors import RuleViolation

__all__ = [
    "RULE_VIOLATIONS",
    "ApplicantErased",
    "AppointmentRefusalNotAllowed",
    "AuthenticationTooLow",
    "BlacklistedApplicant",
    "CaseNotClosable",
    "ChannelNotOffered",
    "CorrectionNoticeOverdue",
    "CorrectionOutsideGuide",
    "DecisionNotSealed",
    "FieldViolation",
    "GuideCodeChanged",
    "GuideOnlineExceedsWindow",
    "InvalidApplicant",
    "InvalidDepartment",
    "InvalidDocument",
    "InvalidGuide",
    "InvalidMaterial",
    "InvalidTransition",
    "MaterialNotInGuide",
    "MaterialTooLarge",
    "MediaTypeMismatch",
    "MediaTypeNotAllowed",
    "PromisedLimitExceedsStatutory",
    "ReasonRequired",
    "RequiredMaterialsMissing",
    "ResubmissionDemanded",
    "SecondCorrectionRequest",
    "ServiceItemWithdrawn",
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
    """A blacklisted applicant (黑名单) may not apply online during the block."""

    rule = "GZ16·22, PY·28"
    code = "blacklisted-applicant"


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
    InvalidDocument,
    InvalidMaterial,
    MaterialTooLarge,
    MediaTypeNotAllowed,
    MediaTypeMismatch,
)
"""Every concrete rule violation, for the edge's error mapping and for tests."""
