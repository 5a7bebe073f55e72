"""Officials as actors: who they are, where and in which roles they may act (FZ·26(二)(五)).

Layer: domain (standard library, ``eventsourcing.domain``, ``ledger.domain.rules``).
Every command is attributable to the individual official who took it, not only to the
department's seal (RULES.md "Accountability of officials"). An :class:`Official` is found by
its staff code (工号); its events — appointed, roles changed, moved, suspended, reinstated,
left — are signed by an administrator of its department (or the platform key, which appoints
a department's first administrator). A :class:`Delegation` records that a department lets the
comprehensive window (综合窗口) do its pre-review, receipt and consultation (NH·6(二),
GZ20·6(二), GZ20·11), so the window's officials act for that department under it.

:data:`COMMAND_ROLES` is the one table of which role each case command needs; the service
checks it before acting and verification (``ledger.chain.authority``) checks it again from
the chain's own events. :func:`authority` is the single decision both use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain.keyed import NaturalKey
from ledger.domain.rules import InvalidOfficial
from ledger.domain.topics import keep_topics

__all__ = [
    "ACTOR_PREFIX",
    "COMMAND_ROLES",
    "DELEGABLE_ROLES",
    "DOMAIN_COMMAND_ROLES",
    "DOMAIN_TOPIC_ROLES",
    "TOPIC_ROLES",
    "Delegation",
    "Official",
    "OfficialRole",
    "OfficialStatus",
    "Standing",
    "actor_of",
    "authority",
    "staff_code_of",
]

OFFICIAL_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/officials")
DELEGATION_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/delegations")
STAFF_CODE_PATTERN: Final = re.compile(r"[0-9A-Za-z-]{2,32}")
DEPARTMENT_PATTERN: Final = re.compile(r"[0-9A-Z-]{2,32}")
ACTOR_PREFIX: Final = "official:"
"""Keystore actor of an official's personal key: ``official:<staff code>``."""
MAX_TEXT: Final = 200


class OfficialRole(StrEnum):
    """The steps an official may take (a small set drawn from the case steps)."""

    RECEPTION = "reception"  # 收件、预审、补正告知、咨询 — delegable to the window
    ACCEPTANCE = "acceptance"  # 受理、不予受理、退件、特别程序、收费
    DECISION = "decision"  # 批准、不予批准
    CERTIFICATE = "certificate"  # 结果文书、电子证照
    DELIVERY = "delivery"  # 送达、签收、公告送达、办结
    ADMIN = "admin"  # 管理本部门人员与授权委托
    SUPERVISION = "supervision"  # 电子监察 (officials of the supervision office)


class OfficialStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    LEFT = "left"


_R = OfficialRole
COMMAND_ROLES: Final[Mapping[str, tuple[OfficialRole, tuple[str, ...]]]] = {
    # command (CaseService method): (role needed, case events it records)
    "submit": (_R.RECEPTION, ("Submitted",)),  # at the window (收件)
    "pass_pre_review": (_R.RECEPTION, ("PreReviewPassed",)),
    "request_correction": (_R.RECEPTION, ("CorrectionRequested",)),
    "correct": (_R.RECEPTION, ("Corrected",)),  # materials handed in at the window
    "record_material_delivery": (_R.RECEPTION, ("MaterialsDelivered",)),
    "withdraw": (_R.RECEPTION, ("Withdrawn",)),
    "accept": (_R.ACCEPTANCE, ("Accepted",)),
    "deem_accepted": (_R.ACCEPTANCE, ("Accepted",)),
    "not_accept": (_R.ACCEPTANCE, ("Refused",)),
    "return_case": (_R.ACCEPTANCE, ("Refused",)),
    "start_special_procedure": (_R.ACCEPTANCE, ("SpecialProcedureStarted",)),
    "end_special_procedure": (_R.ACCEPTANCE, ("SpecialProcedureEnded",)),
    "assess_fee": (_R.ACCEPTANCE, ("FeeAssessed",)),
    "pay_fee": (_R.ACCEPTANCE, ("FeePaid",)),
    "approve": (_R.DECISION, ("Decided",)),
    "extend_time_limit": (_R.DECISION, ("TimeLimitExtended",)),  # approved by the head (ALL·42)
    "disapprove": (_R.DECISION, ("Decided",)),
    "issue_result_document": (_R.CERTIFICATE, ("ResultIssued",)),
    "record_certificate": (_R.CERTIFICATE, ("CertificateRecorded",)),
    "dispatch": (_R.DELIVERY, ("Dispatched",)),
    "record_delivery_failure": (_R.DELIVERY, ("DeliveryFailed",)),
    "sign_off": (_R.DELIVERY, ("Delivered",)),
    "deliver_by_public_notice": (_R.DELIVERY, ("Delivered",)),
    "close": (_R.DELIVERY, ("Closed",)),
}
"""Command → the role it needs (and the case events it records): the one mapping table."""

CASE_TOPIC_PREFIX: Final = "ledger.cases:Case."
TOPIC_ROLES: Final[Mapping[str, OfficialRole]] = {
    CASE_TOPIC_PREFIX + name: role for role, names in COMMAND_ROLES.values() for name in names
}
"""Case event topic → the role an official needs to record it (derived from the table)."""

_CERT: Final = "ledger.certificates:"
_RATING: Final = "ledger.ratings:Rating."
_SLOT: Final = "ledger.appointments:AppointmentSlot."
_CONSULT: Final = "ledger.complaints:Consultation."
_BLACKLIST: Final = "ledger.blacklist:Blacklisting."
_ORDER: Final = "ledger.supervision:SupervisionOrder."
DOMAIN_COMMAND_ROLES: Final[Mapping[str, tuple[OfficialRole, tuple[str, ...]]]] = {
    # command of the other domain services: (role needed, events it records). A department
    # role is needed in the department acting; ``supervision`` in the supervision office
    # acting (named by the command, else the official's own), never over that office itself.
    "certificates.issue": (_R.CERTIFICATE, (_CERT + "Certificate.Issued",)),
    "certificates.update": (_R.CERTIFICATE, (_CERT + "Certificate.Updated",)),
    "certificates.revoke": (_R.CERTIFICATE, (_CERT + "Certificate.Revoked",)),
    # the using department objects when it checks the materials (受理 side, GZ20·23)
    "certificates.raise_dispute": (_R.ACCEPTANCE, (_CERT + "CertificateDispute.Raised",)),
    "certificates.request_extension": (
        _R.CERTIFICATE,
        (_CERT + "CertificateDispute.ExtensionRequested",),
    ),
    "certificates.uphold_dispute": (
        _R.CERTIFICATE,
        (_CERT + "Certificate.Updated", _CERT + "CertificateDispute.Answered"),
    ),
    "certificates.reject_dispute": (_R.CERTIFICATE, (_CERT + "CertificateDispute.Answered",)),
    "certificates.record_reupload_demand": (
        _R.SUPERVISION,
        (_CERT + "CertificateReference.ReuploadDemanded",),
    ),
    "ratings.record_callback": (_R.RECEPTION, (_RATING + "CallbackRecorded",)),  # 回访
    # a rectification report and a dispute of a rating answer for the department (整改、申诉)
    "ratings.rectify": (_R.DECISION, (_RATING + "Rectified",)),
    "ratings.dispute": (_R.DECISION, (_RATING + "Disputed",)),
    "ratings.decide_dispute": (_R.SUPERVISION, (_RATING + "DisputeDecided",)),
    "appointments.open_slot": (_R.RECEPTION, (_SLOT + "Opened",)),
    "appointments.check_in": (_R.RECEPTION, (_SLOT + "CheckedIn",)),
    "appointments.refuse": (_R.RECEPTION, (_SLOT + "Refused",)),
    "appointments.record_no_shows": (_R.RECEPTION, (_SLOT + "NoShowRecorded",)),
    "consultations.answer": (_R.RECEPTION, (_CONSULT + "Answered",)),  # 咨询、投诉答复
    "consultations.find_untrue": (_R.RECEPTION, (_CONSULT + "FoundUntrue",)),
    "blacklist.blacklist": (_R.SUPERVISION, (_BLACKLIST + "Blacklisted",)),
    "blacklist.record_notice_receipt": (_R.SUPERVISION, (_BLACKLIST + "NoticeReceived",)),
    "blacklist.decide_appeal": (_R.SUPERVISION, (_BLACKLIST + "AppealDecided",)),
    "blacklist.remove": (_R.SUPERVISION, (_BLACKLIST + "Removed",)),
    "supervision.issue": (_R.SUPERVISION, (_ORDER + "Issued",)),
    "supervision.answer": (_R.DECISION, (_ORDER + "Answered",)),  # 督办回复: the department's
    "supervision.close": (_R.SUPERVISION, (_ORDER + "Closed",)),
    "credit.enter": (_R.DECISION, ("ledger.credit:CreditRecord.Entered",)),
    "red_light.explain": (_R.DECISION, ("ledger.red_light:RedLight.Explained",)),
    "red_light.deduct": (_R.SUPERVISION, ("ledger.red_light:RedLight.Deducted",)),
}
"""The same table for the other domain services (``<service>.<command>``): e-certificates,
ratings, appointments, consultations, the blacklist, supervision orders, credit, red lights."""

DOMAIN_TOPIC_ROLES: Final[Mapping[str, OfficialRole]] = {
    topic: role for role, topics in DOMAIN_COMMAND_ROLES.values() for topic in topics
}
"""Event topic of those services → the role an official needs to record it."""

DELEGABLE_ROLES: Final = frozenset({_R.RECEPTION})
"""What a department may delegate to the comprehensive window: pre-review, receipt and
consultation (NH·6(二), GZ20·6(二), GZ20·11)."""


def actor_of(staff_code: str) -> str:
    return ACTOR_PREFIX + staff_code


def staff_code_of(actor: str) -> str | None:
    """The staff code of an ``official:<code>`` actor, else None."""
    return actor[len(ACTOR_PREFIX) :] if actor.startswith(ACTOR_PREFIX) else None


def _code(value: object) -> str:
    if not isinstance(value, str) or not STAFF_CODE_PATTERN.fullmatch(value):
        raise InvalidOfficial("staff_code", "must be 2–32 characters of 0-9, A-Z, a-z and '-'")
    return value


def _department(field: str, value: object) -> str:
    if not isinstance(value, str) or not DEPARTMENT_PATTERN.fullmatch(value):
        raise InvalidOfficial(field, "must be a department code (2–32 of 0-9, A-Z, '-')")
    return value


def _text(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidOfficial(field, "must be non-empty text")
    if len(value) > MAX_TEXT:
        raise InvalidOfficial(field, f"longer than {MAX_TEXT} characters")
    return value


def _roles(values: Iterable[object]) -> list[str]:
    if isinstance(values, str):
        raise InvalidOfficial("roles", "must be a list of roles")
    roles: list[str] = []
    for value in values:
        try:
            role = OfficialRole(str(value))
        except ValueError:
            allowed = ", ".join(r.value for r in OfficialRole)
            raise InvalidOfficial("roles", f"{value!r} is not one of {allowed}") from None
        if role.value not in roles:
            roles.append(role.value)
    if not roles:
        raise InvalidOfficial("roles", "an official holds at least one role")
    return sorted(roles)


class Official(NaturalKey, Aggregate):
    """One official (工作人员): department, roles, status — and the attempts refused."""

    @staticmethod
    def create_id(staff_code: str) -> UUID:
        return uuid5(OFFICIAL_NAMESPACE, staff_code)

    @classmethod
    def appoint(
        cls, staff_code: str, department: str, roles: Iterable[str], display_name: str
    ) -> Official:
        """Appoint an official. ``display_name`` is the public work label (e.g. the badge's
        "3号窗口 王工"), not a personal record: personal data stays out of the log."""
        return cls(
            staff_code=_code(staff_code),
            department=_department("department", department),
            roles=_roles(roles),
            display_name=_text("display_name", display_name),
        )

    @event("Appointed")
    def __init__(
        self, staff_code: str, department: str, roles: list[str], display_name: str
    ) -> None:
        self.staff_code = staff_code
        self.department = department
        self.roles = roles
        self.display_name = display_name
        self.status = OfficialStatus.ACTIVE.value
        self.refusals = 0

    @property
    def active(self) -> bool:
        return self.status == OfficialStatus.ACTIVE.value

    def change_roles(self, roles: Iterable[str]) -> None:
        checked = _roles(roles)
        self._require_not_left()
        if checked == self.roles:
            raise InvalidOfficial("roles", "are already the official's roles")
        self._roles_changed(roles=checked)

    @event("RolesChanged")
    def _roles_changed(self, roles: list[str]) -> None:
        self.roles = roles

    def move(self, department: str, roles: Iterable[str]) -> None:
        """Move to another department with the roles held there (调岗)."""
        department = _department("department", department)
        checked = _roles(roles)
        self._require_not_left()
        if department == self.department:
            raise InvalidOfficial("department", "is already the official's department")
        self._moved(department=department, roles=checked, previous=self.department)

    @event("Moved")
    def _moved(self, department: str, roles: list[str], previous: str) -> None:
        self.department = department
        self.roles = roles

    def suspend(self, reason: str) -> None:
        reason = _text("reason", reason)
        if self.status != OfficialStatus.ACTIVE.value:
            raise InvalidOfficial("status", f"the official is {self.status}, not active")
        self._suspended(reason=reason)

    @event("Suspended")
    def _suspended(self, reason: str) -> None:
        self.status = OfficialStatus.SUSPENDED.value

    def reinstate(self) -> None:
        if self.status != OfficialStatus.SUSPENDED.value:
            raise InvalidOfficial("status", f"the official is {self.status}, not suspended")
        self._reinstated()

    @event("Reinstated")
    def _reinstated(self) -> None:
        self.status = OfficialStatus.ACTIVE.value

    def leave(self, reason: str) -> None:
        reason = _text("reason", reason)
        self._require_not_left()
        self._left(reason=reason)

    @event("Left")
    def _left(self, reason: str) -> None:
        self.status = OfficialStatus.LEFT.value

    def record_refusal(self, command: str, department: str, subject: str, reason: str) -> None:
        """Record an attempt the ledger refused (supervision evidence, FZ·26(五)); signed by
        the official's own key, so the record shows who tried."""
        self._action_refused(
            staff_code=self.staff_code,
            command=command[:MAX_TEXT],
            department=department,
            subject=subject[:MAX_TEXT],
            reason=reason[: MAX_TEXT * 2],
        )

    @event("ActionRefused")
    def _action_refused(
        self, staff_code: str, command: str, department: str, subject: str, reason: str
    ) -> None:
        self.refusals += 1

    def _require_not_left(self) -> None:
        if self.status == OfficialStatus.LEFT.value:
            raise InvalidOfficial("status", "the official has left")

    def standing(self) -> Standing:
        return Standing(self.staff_code, self.department, frozenset(self.roles), self.status)


class Delegation(Aggregate):
    """A department's delegation of reception (预审、收件、咨询) to the comprehensive window."""

    @staticmethod
    def create_id(department: str, window: str) -> UUID:
        return uuid5(DELEGATION_NAMESPACE, f"{department}>{window}")

    @classmethod
    def id_for(cls, department: str, window: str) -> UUID:
        return cls.create_id(department, window)

    @classmethod
    def grant(cls, department: str, window: str, basis: str) -> Delegation:
        department = _department("department", department)
        window = _department("window", window)
        if department == window:
            raise InvalidOfficial("window", "a department does not delegate to itself")
        return cls(
            department=department,
            window=window,
            roles=sorted(r.value for r in DELEGABLE_ROLES),
            basis=_text("basis", basis),
        )

    @event("Granted")
    def __init__(self, department: str, window: str, roles: list[str], basis: str) -> None:
        self.department = department
        self.window = window
        self.roles = roles
        self.basis = basis
        self.active = True

    def regrant(self, basis: str) -> None:
        basis = _text("basis", basis)
        if self.active:
            raise InvalidOfficial("delegation", "is already in force")
        self._regranted(basis=basis)

    @event("Regranted")
    def _regranted(self, basis: str) -> None:
        self.active = True
        self.basis = basis

    def withdraw(self, reason: str) -> None:
        reason = _text("reason", reason)
        if not self.active:
            raise InvalidOfficial("delegation", "is not in force")
        self._withdrawn(reason=reason)

    @event("Withdrawn")
    def _withdrawn(self, reason: str) -> None:
        self.active = False


@dataclass(frozen=True)
class Standing:
    """An official's standing at one moment: enough to decide authority."""

    staff_code: str
    department: str
    roles: frozenset[str]
    status: str


def authority(
    standing: Standing | None,
    role: OfficialRole,
    department: str,
    delegated: Mapping[tuple[str, str], bool] | None = None,
    supervised: str | None = None,
) -> str | None:
    """Why ``standing`` may not act in ``role`` for ``department`` — or None if it may.

    ``delegated[(department, window)]`` says whether a delegation is in force; ``supervised``
    is the department a supervision step concerns, which may not be the office's own (no one
    supervises themselves). Used by the service before a command and by verification for
    every recorded one."""
    if standing is None:
        return "no official with this key was appointed"
    if standing.status != OfficialStatus.ACTIVE.value:
        return f"official {standing.staff_code} is {standing.status}"
    if role.value not in standing.roles:
        return f"official {standing.staff_code} does not hold the {role.value} role"
    if role is OfficialRole.SUPERVISION and supervised is not None and supervised == department:
        return f"official {standing.staff_code} of {department} may not supervise {department}"
    if standing.department == department:
        return None
    if role in DELEGABLE_ROLES and (delegated or {}).get((department, standing.department)):
        return None
    return (
        f"official {standing.staff_code} of {standing.department} may not act for "
        f"{department} (no delegation in force)"
    )


OFFICIAL_TOPIC_PREFIX: Final = "ledger.officials:Official."
DELEGATION_TOPIC_PREFIX: Final = "ledger.officials:Delegation."
OFFICIAL_REFUSED_TOPIC: Final = OFFICIAL_TOPIC_PREFIX + "ActionRefused"

keep_topics(globals(), "ledger.officials")
