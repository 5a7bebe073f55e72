"""Verification of officials' authority: did the signer hold the role, there, at that sequence?

Layer: ledger chain. DESIGN invariant 2: "the signer must have held the needed role at that
moment". The walk (``ledger.chain.verification``) hands every verified command here; from
the chain's own events — officials appointed, moved, suspended …, delegations granted and
withdrawn, each case's department from its submission, the department of each e-certificate,
rating, slot, consultation, blacklisting, supervision order and red light from its first
event (``OWNERS``) — this replays who could do what, and finds a command signed by an
official's key beyond that authority (FORMAT.md §5, ``authority-exceeded``): a case event
needs its ``COMMAND_ROLES`` role in the case's department, another domain event its
``DOMAIN_TOPIC_ROLES`` role where it was taken (``PLACES``) — a supervision step in the
official's own office and never over that office itself. The decision itself is
``ledger.domain.officials.authority``, the one the service applies before acting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from ledger.chain.recorders.base import LinkedEvent
from ledger.domain.keys import KeyRole
from ledger.domain.officials import (
    CASE_TOPIC_PREFIX,
    DELEGATION_TOPIC_PREFIX,
    DOMAIN_TOPIC_ROLES,
    OFFICIAL_REFUSED_TOPIC,
    OFFICIAL_TOPIC_PREFIX,
    TOPIC_ROLES,
    Official,
    OfficialRole,
    OfficialStatus,
    Standing,
    authority,
    staff_code_of,
)
from ledger.encoding import EncodingError, decode

SUBMITTED_TOPIC = CASE_TOPIC_PREFIX + "Submitted"

OWNER = "owner"
"""A place read from the aggregate's own department, as its first event recorded it."""
_CERT = "ledger.certificates:"
_RATING = "ledger.ratings:Rating."
_SLOT = "ledger.appointments:AppointmentSlot."
_CONSULT = "ledger.complaints:Consultation."
_BLACKLIST = "ledger.blacklist:Blacklisting."
_ORDER = "ledger.supervision:SupervisionOrder."
_RED = "ledger.red_light:RedLight."
OWNERS: dict[str, str] = {
    # event → the state field naming the department (or office) the aggregate belongs to
    _CERT + "Certificate.Issued": "issuer_department",
    _CERT + "CertificateDispute.Raised": "issuer_department",
    _RATING + "Rated": "department",
    _SLOT + "Opened": "department",
    _CONSULT + "Received": "department",
    _BLACKLIST + "Blacklisted": "authority",
    _ORDER + "Issued": "department",
    _RED + "Opened": "department",
}

Place = tuple[str | None, str | None]
"""(where the official acts, whom a supervision step concerns): a state field (``a.b``
nested), OWNER, or None — the official's own office."""


def _at(place: Place, prefix: str, names: str) -> dict[str, Place]:
    return {prefix + name: place for name in names.split()}


PLACES: dict[str, Place] = {
    # taken in the department (or office) the aggregate belongs to
    **_at((OWNER, None), _CERT, "Certificate.Updated Certificate.Revoked"),
    **_at((OWNER, None), _CERT + "CertificateDispute.", "ExtensionRequested Answered"),
    **_at((OWNER, None), _RATING, "CallbackRecorded Rectified Disputed"),
    **_at((OWNER, None), _SLOT, "CheckedIn Refused NoShowRecorded"),
    **_at((OWNER, None), _CONSULT, "Answered FoundUntrue"),
    **_at((OWNER, None), _BLACKLIST, "NoticeReceived"),
    **_at((OWNER, None), _ORDER, "Answered"),
    # supervision steps in the official's own office, over the aggregate's department
    **_at((None, OWNER), _RATING, "DisputeDecided"),
    **_at((None, OWNER), _ORDER, "Closed"),
    # the event itself names where it was taken (or whom it supervises)
    _CERT + "Certificate.Issued": ("issuer_department", None),
    _CERT + "CertificateDispute.Raised": ("using_department", None),
    _CERT + "CertificateReference.ReuploadDemanded": (None, "department"),
    _SLOT + "Opened": ("department", None),
    _BLACKLIST + "Blacklisted": ("authority", None),
    _BLACKLIST + "AppealDecided": ("decision.issuer", None),
    _BLACKLIST + "Removed": ("decision.issuer", None),
    _ORDER + "Issued": (None, "department"),
    "ledger.credit:CreditRecord.Entered": ("entry.department", None),
    _RED + "Explained": ("department", None),
    _RED + "Deducted": ("office", OWNER),
}
"""Where each event of the other domain services is taken, for the authority check."""


@dataclass
class _Official:
    staff_code: str
    department: str
    roles: frozenset[str]
    status: str = OfficialStatus.ACTIVE.value

    def standing(self) -> Standing:
        return Standing(self.staff_code, self.department, self.roles, self.status)


@dataclass
class AuthorityState:
    """Officials, delegations and case departments as the chain has recorded them so far."""

    officials: dict[UUID, _Official] = field(default_factory=dict)
    delegations: dict[UUID, tuple[str, str]] = field(default_factory=dict)
    delegated: dict[tuple[str, str], bool] = field(default_factory=dict)
    cases: dict[UUID, str] = field(default_factory=dict)
    owners: dict[UUID, str] = field(default_factory=dict)
    """Department (or office) of each e-certificate, dispute, rating, slot, consultation,
    blacklisting, supervision order and red light (``OWNERS``)."""
    enabled: bool = True
    """Off when the walk starts after a trusted prefix it did not replay (``start > 1``)."""

    def check(self, group: Sequence[LinkedEvent], role: str, actor: str) -> tuple[int, str] | None:
        """The first (sequence, why) of ``group`` beyond the signer's authority, or None;
        then records the group's own official, delegation and case events."""
        found = self._check(group, role, actor) if self.enabled else None
        if found is None:
            for link in group:
                self._apply(link)
        return found

    def _check(self, group: Sequence[LinkedEvent], role: str, actor: str) -> tuple[int, str] | None:
        official = role == KeyRole.OFFICIAL.value
        code = staff_code_of(actor) if official else None
        me = None if code is None else self.officials.get(Official.id_for(code))
        standing = None if me is None else me.standing()
        for link in group:
            entry = link.entry
            topic = entry.topic
            if topic.startswith((OFFICIAL_TOPIC_PREFIX, DELEGATION_TOPIC_PREFIX)):
                if role == KeyRole.PLATFORM.value:
                    continue
                if not official:
                    return entry.sequence, f"{topic} is signed by an official or the platform"
                why = self._admin_event(link, standing, code)
            elif not official:
                continue
            elif topic in TOPIC_ROLES:
                department = self._case_department(link)
                if department is None:
                    continue  # a case this walk has not seen submitted (checked elsewhere)
                why = authority(standing, TOPIC_ROLES[topic], department, self.delegated)
            elif topic in DOMAIN_TOPIC_ROLES:
                why = self._domain_event(link, standing)
            else:  # counters, idempotency records, other records: an official in office
                why = _in_office(standing)
            if why is not None:
                return entry.sequence, f"{actor}: {why} ({topic})"
        return None

    def _admin_event(
        self, link: LinkedEvent, standing: Standing | None, code: str | None
    ) -> str | None:
        entry = link.entry
        if entry.topic == OFFICIAL_REFUSED_TOPIC:
            if code is not None and entry.originator_id == Official.id_for(code):
                return None
            return "an official records only their own refused attempts"
        departments = self._departments_concerned(link)
        why: str | None = "no department concerned"
        for department in departments:
            why = authority(standing, OfficialRole.ADMIN, department)
            if why is None:
                return None
        return why

    def _departments_concerned(self, link: LinkedEvent) -> list[str]:
        """Whose administrator may sign this official or delegation event."""
        entry = link.entry
        oid = entry.originator_id
        state = _state(link)
        if entry.topic.startswith(DELEGATION_TOPIC_PREFIX):
            known = self.delegations.get(oid)  # type: ignore[arg-type]
            return [known[0]] if known else [str(state.get("department", ""))]
        if "department" in state:  # appointed into, or moved to: that department decides
            return [str(state["department"])]
        current = self.officials.get(oid)  # type: ignore[arg-type]
        return [current.department] if current else []

    def _domain_event(self, link: LinkedEvent, standing: Standing | None) -> str | None:
        """An e-certificate, rating, appointment, consultation, blacklist, supervision,
        credit or red-light event: the role ``DOMAIN_TOPIC_ROLES`` names, where it was taken."""
        topic = link.entry.topic
        where, over = PLACES.get(topic, (None, None))
        department = self._place(link, where)
        if where is not None and department is None:
            return _in_office(standing)  # an aggregate this walk has not seen begin
        if department is None:
            department = "" if standing is None else standing.department
        role = DOMAIN_TOPIC_ROLES[topic]
        supervised = self._place(link, over) if over is not None else None
        return authority(standing, role, department, None, supervised)

    def _place(self, link: LinkedEvent, where: str | None) -> str | None:
        if where is None:
            return None
        if where == OWNER:
            return self.owners.get(link.entry.originator_id)  # type: ignore[arg-type]
        value: Any = _state(link)
        for part in where.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value if isinstance(value, str) else None

    def _case_department(self, link: LinkedEvent) -> str | None:
        if link.entry.topic == SUBMITTED_TOPIC:
            department = _state(link).get("department")
            return department if isinstance(department, str) else None
        return self.cases.get(link.entry.originator_id)  # type: ignore[arg-type]

    def _apply(self, link: LinkedEvent) -> None:
        entry = link.entry
        topic = entry.topic
        oid: Any = entry.originator_id
        if topic == SUBMITTED_TOPIC:
            department = _state(link).get("department")
            if isinstance(department, str):
                self.cases[oid] = department
            return
        if topic in OWNERS:
            owner = _state(link).get(OWNERS[topic])
            if isinstance(owner, str):
                self.owners[oid] = owner
        if topic.startswith(OFFICIAL_TOPIC_PREFIX):
            self._apply_official(oid, topic[len(OFFICIAL_TOPIC_PREFIX) :], _state(link))
        elif topic.startswith(DELEGATION_TOPIC_PREFIX):
            name = topic[len(DELEGATION_TOPIC_PREFIX) :]
            state = _state(link)
            if name == "Granted":
                pair = (str(state.get("department", "")), str(state.get("window", "")))
                self.delegations[oid] = pair
            pair = self.delegations.get(oid, ("", ""))
            self.delegated[pair] = name in ("Granted", "Regranted")

    def _apply_official(self, oid: UUID, name: str, state: dict[str, Any]) -> None:
        if name == "Appointed":
            self.officials[oid] = _Official(
                str(state.get("staff_code", "")),
                str(state.get("department", "")),
                frozenset(_strings(state.get("roles"))),
            )
            return
        official = self.officials.get(oid)
        if official is None:
            return
        if name == "RolesChanged":
            official.roles = frozenset(_strings(state.get("roles")))
        elif name == "Moved":
            official.department = str(state.get("department", ""))
            official.roles = frozenset(_strings(state.get("roles")))
        elif name == "Suspended":
            official.status = OfficialStatus.SUSPENDED.value
        elif name == "Reinstated":
            official.status = OfficialStatus.ACTIVE.value
        elif name == "Left":
            official.status = OfficialStatus.LEFT.value


def replayed(topic: str) -> bool:
    """Whether :meth:`AuthorityState.check` reads or records an event of this topic in a
    command *not* signed by an official (every event of an official's command it checks):
    what a verification worker hands back for the replay, all else passes it unread."""
    return (
        topic == SUBMITTED_TOPIC
        or topic in OWNERS
        or topic.startswith((OFFICIAL_TOPIC_PREFIX, DELEGATION_TOPIC_PREFIX))
    )


def _in_office(standing: Standing | None) -> str | None:
    if standing is None:
        return "no official with this key was appointed"
    if standing.status != OfficialStatus.ACTIVE.value:
        return f"official {standing.staff_code} is {standing.status}"
    return None


def _state(link: LinkedEvent) -> dict[str, Any]:
    if link.event is None:
        return {}
    try:
        state = decode(link.event.state)
    except EncodingError:
        return {}
    return state if isinstance(state, dict) else {}


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
