"""Application services of e-certificates, ratings, appointments, consultations and
complaints, the blacklist and supervision orders.

Layer: ledger application service (the one use-case surface the HTTP API, the CLI and the
kiosk call). Each command checks the signer — a registered, current key of the right role
(``LedgerApplication.check_signer``) and, for a department key, that it acts for its own
department (:class:`~ledger.domain.rules.NotInDepartmentScope`, GZ20·25, NH·23, GZ16·21) — then
runs the aggregate command and saves every changed aggregate as ONE signed command. A
refused command raises before the save and records nothing (DESIGN invariant 6). Time is
passed in as ``at`` (aware; stored UTC); nothing here reads a clock.

Roles: department keys (部门电子印章) issue and answer; supervisor keys (电子监察 / 网上办事
管理部门, registered with the office's code as their department) issue supervision orders,
decide rating disputes and blacklist; applicant-facing channels (portal, kiosk) rate, book,
complain, reference certificates and appeal. An official's personal key may take a
department's or office's step instead, when the official holds the role
``ledger.domain.officials.DOMAIN_COMMAND_ROLES`` names there (``ledger.services.acting``:
refused and the attempt recorded otherwise, FZ·26(二)(五)); its sealed records are still
sealed by the department's or office's key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, Self, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from ledger.chain.seals import verify_sealed
from ledger.domain.applicants import (
    REQUIRED_LEVEL,
    Action,
    Applicant,
    ApplicantKind,
    AuthenticationLevel,
)
from ledger.domain.appointments import AppointmentSlot, BookingStatus, RefusalGround
from ledger.domain.blacklist import (
    APPEAL_DAYS,
    RESTRICTION_MONTHS,
    BlacklistGround,
    Blacklisting,
    Restriction,
)
from ledger.domain.cases import Case
from ledger.domain.certificates import (
    DISPUTE_ANSWER_DAYS,
    Certificate,
    CertificateDispute,
    CertificateReference,
    Wallet,
)
from ledger.domain.city_rules import STRICTER, CityRules, rules_for
from ledger.domain.complaints import (
    AnswerLimits,
    Consultation,
    ConsultationChannel,
    ConsultationKind,
)
from ledger.domain.departments import Department
from ledger.domain.keys import ActorKey, KeyRole
from ledger.domain.ratings import RECTIFICATION_DAYS, Channel, CodeSystem, Rating, RatingKind
from ledger.domain.red_light import RedLight
from ledger.domain.rules import (
    AppointmentRefusalNotAllowed,
    AuthenticationTooLow,
    BlacklistedApplicant,
    InvalidBlacklisting,
    InvalidCertificate,
    NotInDepartmentScope,
    RatingNotOfCase,
    SupervisionOrderNotDue,
)
from ledger.domain.sealed import SealedRecord
from ledger.domain.signer import Signer
from ledger.domain.supervision import ANSWER_DAYS, SupervisionOrder, SupervisionReason
from ledger.errors import LedgerError
from ledger.services.acting import Acting, Seals
from ledger.services.application import LedgerApplication

__all__ = [
    "APPLICANT_ROLES",
    "AppointmentService",
    "BlacklistService",
    "CaseRecorder",
    "CertificateService",
    "ConsultationService",
    "DomainServices",
    "RatingService",
    "SupervisionService",
    "UnknownRecord",
    "appointment_fact",
    "consultation_fact",
    "rating_fact",
]

APPLICANT_ROLES: Final = (KeyRole.APPLICANT_PORTAL, KeyRole.KIOSK)
"""Keys that act for an applicant: the portal (web, app, phone/SMS gateways) and kiosks."""

_A = TypeVar("_A", bound=Aggregate)


class UnknownRecord(LedgerError, LookupError):
    """No aggregate of that kind with that id or identifier is in the ledger."""


class CaseRecorder(Protocol):
    """What the certificate service needs of ``ledger.domain.cases.Case``."""

    def record_certificate(self, certificate_id: str, *, at: dt.datetime) -> None: ...


def _acting(seal_role: KeyRole, command: str | None) -> tuple[KeyRole, ...]:
    """The key roles that may take a step: the seal role, and an official for a ``command``
    of the role table."""
    return (seal_role,) if command is None else (seal_role, KeyRole.OFFICIAL)


class _Service:
    def __init__(self, app: LedgerApplication) -> None:
        self.app = app
        self.acting = Acting(app)

    def sealed_by(self, seals: Seals | None) -> Self:
        """This service, with ``seals(code)`` giving the current seal of a department or
        office, which seals the records of a step an official takes
        (:mod:`ledger.services.acting`); without it an official's sealed step is refused."""
        self.acting.seals = seals
        return self

    def _get(self, kind: type[_A], aggregate_id: UUID) -> _A:
        try:
            aggregate: Any = self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise UnknownRecord(f"no {kind.__name__} {aggregate_id}") from None
        if not isinstance(aggregate, kind):
            raise UnknownRecord(f"{aggregate_id} is not a {kind.__name__}")
        return aggregate

    def _find(self, kind: type[_A], aggregate_id: UUID) -> _A | None:
        try:
            return self._get(kind, aggregate_id)
        except UnknownRecord:
            return None

    def _department(
        self, signer: Signer, department: str, command: str | None = None, subject: str = ""
    ) -> ActorKey:
        """The department's seal key, or an official holding ``command``'s role in it
        (:data:`~ledger.domain.officials.DOMAIN_COMMAND_ROLES`; refused and recorded,
        FZ·26(五)). Without ``command`` only the seal key is accepted."""
        key = self.app.check_signer(signer, *_acting(KeyRole.DEPARTMENT, command))
        if key.role == KeyRole.OFFICIAL.value:
            assert command is not None
            self.acting.authority.require_domain(key, signer, command, department, subject)
        elif key.department != department:
            raise NotInDepartmentScope(
                f"department: key {signer.key_id.hex()} acts for {key.department or 'none'}, "
                f"not {department}"
            )
        return key

    def _supervisor(
        self,
        signer: Signer,
        office: str | None = None,
        command: str | None = None,
        *,
        supervised: str | None = None,
        subject: str = "",
    ) -> ActorKey:
        """The office's supervisor key (acting for ``office`` when given), or an official
        with the ``supervision`` role there (their own office when None), not over it."""
        key = self.app.check_signer(signer, *_acting(KeyRole.SUPERVISOR, command))
        if key.role == KeyRole.OFFICIAL.value:
            assert command is not None
            self.acting.authority.require_domain(key, signer, command, office, subject, supervised)
        elif office is not None and key.department != office:
            raise NotInDepartmentScope(
                f"authority: key {signer.key_id.hex()} acts for {key.department or 'none'}, "
                f"not {office}"
            )
        return key

    def _seal(self, key: ActorKey, signer: Signer, department: str) -> Signer:
        """Who seals a department's record: its seal key, also when an official signed."""
        return self.acting.seal(key, signer, department, KeyRole.DEPARTMENT)

    def _office_seal(self, key: ActorKey, signer: Signer, office: str) -> Signer:
        """Who seals an office's record: its supervisor key, also when an official signed."""
        return self.acting.seal(key, signer, office, KeyRole.SUPERVISOR)

    def _applicant_channel(self, signer: Signer) -> ActorKey:
        return self.app.check_signer(signer, *APPLICANT_ROLES)

    def _authorised(self, applicant_id: UUID, action: Action) -> Applicant:
        """The registered applicant whose authentication level grants ``action`` (FZ·8); an
        unknown applicant has no level at all."""
        applicant = self._find(Applicant, applicant_id) if isinstance(applicant_id, UUID) else None
        if applicant is None:
            raise AuthenticationTooLow(
                f"applicant_id: no registered applicant {applicant_id}; {action.value} needs "
                "an authenticated account",
                action=action.value,
                required=REQUIRED_LEVEL[action].value,
                actual=AuthenticationLevel.NONE.value,
            )
        applicant.authorise(action)
        return applicant

    def _verify(self, record: SealedRecord) -> bool:
        key = self.app.actor_key(record.key_id)
        return key is not None and verify_sealed(record, key.public_key)


# --- e-certificates (电子证照) --------------------------------------------------------------------


class CertificateService(_Service):
    """Issue, update, revoke, dispute and reference e-certificates (GZ20·21, GZ20·23, GZ16·15)."""

    def issue(
        self,
        *,
        signer: Signer,
        department: str,
        case_id: UUID,
        case_serial: str,
        case_department: str,
        case_decided: bool,
        holder: UUID,
        type_code: str,
        serial: str,
        content: Mapping[str, Any],
        at: dt.datetime,
        issuer_code: str | None = None,
        case: CaseRecorder | None = None,
    ) -> Certificate:
        """Issue version 001, sealed with the department's key, gather it into the holder's
        wallet and, when ``case`` is given, record it on the case — one signed command. An
        official with the certificate role signs it; the department's seal key seals it."""
        key = self._department(signer, department, "certificates.issue", case_serial)
        if case is not None and case_department != department:
            self._department(signer, case_department, "certificates.issue", case_serial)
        seal = self._seal(key, signer, department)
        certificate = Certificate.issue(
            case_id=case_id,
            case_serial=case_serial,
            case_department=case_department,
            case_decided=case_decided,
            issuer_department=department,
            issuer_code=issuer_code,
            type_code=type_code,
            serial=serial,
            holder=holder,
            content=content,
            at=at,
            seal_key=seal,
        )
        if self._find(Certificate, certificate.id) is not None:
            raise InvalidCertificate("serial", f"{certificate.identifier} was already issued")
        wallet = self._find(Wallet, Wallet.id_for(holder)) or Wallet.open(holder)
        wallet.gather(certificate)
        changed: list[Any] = [certificate, wallet]
        if case is not None:
            case.record_certificate(certificate.identifier, at=at)
            changed.append(case)
        self.app.save_signed(*changed, signer=signer)
        return certificate

    def certificate(self, identifier: str) -> Certificate:
        """The certificate any version's identifier names (validated first)."""
        return self._get(Certificate, Certificate.id_for(identifier))

    def update(
        self,
        identifier: str,
        *,
        signer: Signer,
        department: str,
        content: Mapping[str, Any],
        reason: str,
        at: dt.datetime,
    ) -> str:
        """Issue the next version with a reason; returns its identifier."""
        key = self._department(signer, department, "certificates.update", identifier)
        seal = self._seal(key, signer, department)
        certificate = self.certificate(identifier)
        new = certificate.update(
            department=department, content=content, reason=reason, at=at, seal_key=seal
        )
        self.app.save_signed(certificate, signer=signer)
        return new

    def revoke(
        self, identifier: str, *, signer: Signer, department: str, reason: str, at: dt.datetime
    ) -> None:
        self._department(signer, department, "certificates.revoke", identifier)
        certificate = self.certificate(identifier)
        certificate.revoke(department=department, reason=reason, at=at)
        self.app.save_signed(certificate, signer=signer)

    def verify(self, identifier: str) -> bool:
        """True when the version ``identifier`` names verifies under the key that sealed it
        (superseded and revoked versions still verify)."""
        version = self.certificate(identifier).version_of(identifier)
        return self._verify(version.record)

    def wallet(self, holder: UUID) -> list[Certificate]:
        """The holder's certificates (证照汇集), in the order issued."""
        wallet = self._find(Wallet, Wallet.id_for(holder))
        if wallet is None:
            return []
        return [self._get(Certificate, cid) for cid in wallet.certificate_ids]

    # -- disputes (GZ20·23) -----------------------------------------------------------------

    def raise_dispute(
        self,
        identifier: str,
        *,
        signer: Signer,
        department: str,
        reasons: str,
        evidence: Sequence[str],
        at: dt.datetime,
        answer_days: int = DISPUTE_ANSWER_DAYS,
    ) -> CertificateDispute:
        """A using department objects to the current version with reasons and evidence."""
        self._department(signer, department, "certificates.raise_dispute", identifier)
        certificate = self.certificate(identifier)
        dispute = CertificateDispute.raise_objection(
            certificate,
            identifier=identifier,
            using_department=department,
            reasons=reasons,
            evidence=evidence,
            at=at,
            answer_days=answer_days,
        )
        self.app.save_signed(dispute, signer=signer)
        return dispute

    def dispute(self, dispute_id: UUID) -> CertificateDispute:
        return self._get(CertificateDispute, dispute_id)

    def request_extension(
        self,
        dispute_id: UUID,
        *,
        signer: Signer,
        department: str,
        reason: str,
        days: int,
        at: dt.datetime,
    ) -> None:
        self._department(signer, department, "certificates.request_extension", str(dispute_id))
        dispute = self.dispute(dispute_id)
        dispute.request_extension(department=department, reason=reason, days=days, at=at)
        self.app.save_signed(dispute, signer=signer)

    def uphold_dispute(
        self,
        dispute_id: UUID,
        *,
        signer: Signer,
        department: str,
        content: Mapping[str, Any],
        reason: str,
        answer: str,
        at: dt.datetime,
    ) -> str:
        """Correct the certificate by an update and answer the using department, as one
        command; returns the corrected version's identifier."""
        key = self._department(signer, department, "certificates.uphold_dispute", str(dispute_id))
        seal = self._seal(key, signer, department)
        dispute = self.dispute(dispute_id)
        certificate = self._get(Certificate, dispute.certificate_id)
        new = certificate.update(
            department=department, content=content, reason=reason, at=at, seal_key=seal
        )
        dispute.uphold(certificate, department=department, answer=answer, at=at, seal_key=seal)
        self.app.save_signed(certificate, dispute, signer=signer)
        return new

    def reject_dispute(
        self, dispute_id: UUID, *, signer: Signer, department: str, answer: str, at: dt.datetime
    ) -> None:
        """Answer in writing that the objection does not hold."""
        key = self._department(signer, department, "certificates.reject_dispute", str(dispute_id))
        dispute = self.dispute(dispute_id)
        seal = self._seal(key, signer, department)
        dispute.reject(department=department, answer=answer, at=at, seal_key=seal)
        self.app.save_signed(dispute, signer=signer)

    # -- use in new applications (GZ16·15, GZ20·13) --------------------------------------------

    def reference(
        self,
        identifier: str,
        *,
        signer: Signer,
        case_id: UUID,
        case_serial: str,
        material_code: str,
        applicant_id: UUID,
        at: dt.datetime,
    ) -> CertificateReference:
        """The applicant references a held certificate for a material instead of an upload;
        using one's certificates needs the advanced authentication level (FZ·8 (三))."""
        self._applicant_channel(signer)
        holder = self._find(Applicant, applicant_id) if isinstance(applicant_id, UUID) else None
        enterprise = holder is not None and holder.kind is not ApplicantKind.NATURAL_PERSON
        self._authorised(
            applicant_id,
            Action.ENTERPRISE_CERTIFICATES if enterprise else Action.PERSONAL_CERTIFICATES,
        )
        certificate = self.certificate(identifier)
        wallet = self._find(Wallet, Wallet.id_for(applicant_id)) or Wallet.open(applicant_id)
        reference = CertificateReference.reference(
            certificate,
            wallet,
            case_id=case_id,
            case_serial=case_serial,
            material_code=material_code,
            applicant_id=applicant_id,
            at=at,
        )
        if self._find(CertificateReference, reference.id) is not None:
            raise InvalidCertificate("material_code", f"{material_code} is already referenced")
        self.app.save_signed(reference, signer=signer)
        return reference

    def record_reupload_demand(
        self,
        case_id: UUID,
        material_code: str,
        *,
        signer: Signer,
        department: str,
        note: str,
        at: dt.datetime,
    ) -> None:
        """Record (as a violation) that ``department`` asked for the referenced certificate
        again; reported by the applicant's channel or a supervisor (an official with the
        supervision role, of an office other than ``department``)."""
        key = self.app.check_signer(signer, *APPLICANT_ROLES, KeyRole.SUPERVISOR, KeyRole.OFFICIAL)
        if key.role == KeyRole.OFFICIAL.value:
            self._supervisor(
                signer, None, "certificates.record_reupload_demand", supervised=department
            )
        reference = self._get(
            CertificateReference, CertificateReference.id_for(case_id, material_code)
        )
        reference.record_reupload_demand(department=department, note=note, at=at)
        self.app.save_signed(reference, signer=signer)


# --- ratings (好差评) -----------------------------------------------------------------------------


class RatingService(_Service):
    """Rate cases, call back, rectify and dispute ratings (GZ20·16, NH·17, FZ·22)."""

    def __init__(
        self, app: LedgerApplication, *, rectification_days: int = RECTIFICATION_DAYS
    ) -> None:
        super().__init__(app)
        self.rectification_days = rectification_days

    def rating(self, case_id: UUID) -> Rating:
        return self._get(Rating, Rating.id_for(case_id))

    def rate(
        self,
        *,
        signer: Signer,
        case_id: UUID,
        case_serial: str,
        department: str,
        applicant_id: UUID,
        system: CodeSystem | str,
        code: int,
        channel: Channel | str,
        reason: str = "",
        at: dt.datetime,
    ) -> Rating:
        """The first rating of a case, or its follow-up when the case was rated already.

        Only the case's own applicant rates it (through the portal or a kiosk), for the
        case's serial and department (:class:`RatingNotOfCase`, GZ20·16, FZ·22, NH·25): the
        ``applicant_id`` a channel passes on is checked against the case, not trusted."""
        self._applicant_channel(signer)
        self._own_case(case_id, case_serial, department, applicant_id)
        existing = self._find(Rating, Rating.id_for(case_id))
        if existing is None:
            rating = Rating.rate(
                case_id=case_id,
                case_serial=case_serial,
                department=department,
                applicant_id=applicant_id,
                system=system,
                code=code,
                channel=channel,
                reason=reason,
                at=at,
                rectification_days=self.rectification_days,
            )
        else:
            rating = existing
            rating.follow_up(
                applicant_id=applicant_id,
                system=system,
                code=code,
                channel=channel,
                reason=reason,
                at=at,
                rectification_days=self.rectification_days,
            )
        self.app.save_signed(rating, signer=signer)
        return rating

    def _own_case(
        self, case_id: UUID, case_serial: str, department: str, applicant_id: UUID
    ) -> None:
        case = self._find(Case, case_id) if isinstance(case_id, UUID) else None
        if case is None:
            raise RatingNotOfCase("case_id", f"no case {case_id} to rate")
        if case_serial != case.serial:
            raise RatingNotOfCase("case_serial", f"{case_serial!r} is not the serial of that case")
        if department != case.department:
            raise RatingNotOfCase(
                "department", f"case {case.serial} is handled by {case.department}"
            )
        if applicant_id != case.applicant_id:
            raise RatingNotOfCase(
                "applicant_id", f"only the applicant of case {case.serial} rates it"
            )

    def record_callback(
        self,
        case_id: UUID,
        *,
        signer: Signer,
        department: str,
        kind: RatingKind | str,
        note: str,
        at: dt.datetime,
    ) -> None:
        self._department(signer, department, "ratings.record_callback", str(case_id))
        rating = self.rating(case_id)
        rating.record_callback(kind=kind, department=department, note=note, at=at)
        self.app.save_signed(rating, signer=signer)

    def rectify(
        self,
        case_id: UUID,
        *,
        signer: Signer,
        department: str,
        kind: RatingKind | str,
        measures: str,
        at: dt.datetime,
    ) -> None:
        key = self._department(signer, department, "ratings.rectify", str(case_id))
        rating = self.rating(case_id)
        seal = self._seal(key, signer, department)
        rating.rectify(kind=kind, department=department, measures=measures, at=at, seal_key=seal)
        self.app.save_signed(rating, signer=signer)

    def dispute(
        self,
        case_id: UUID,
        *,
        signer: Signer,
        department: str,
        kind: RatingKind | str,
        reasons: str,
        evidence: list[str],
        at: dt.datetime,
    ) -> None:
        self._department(signer, department, "ratings.dispute", str(case_id))
        rating = self.rating(case_id)
        rating.dispute(kind=kind, department=department, reasons=reasons, evidence=evidence, at=at)
        self.app.save_signed(rating, signer=signer)

    def decide_dispute(
        self,
        case_id: UUID,
        *,
        signer: Signer,
        kind: RatingKind | str,
        upheld: bool,
        reasons: str,
        at: dt.datetime,
        office: str | None = None,
    ) -> None:
        """The supervision office decides a department's dispute of a rating (``office``:
        the office acting, when the caller pins it; else the signer's own)."""
        rating = self.rating(case_id)
        self._supervisor(
            signer,
            office,
            "ratings.decide_dispute",
            supervised=rating.department,
            subject=str(case_id),
        )
        rating.decide_dispute(kind=kind, upheld=upheld, reasons=reasons, at=at)
        self.app.save_signed(rating, signer=signer)


# --- appointments (网上预约) ----------------------------------------------------------------------


_GROUNDS: Final = frozenset(g.value for g in RefusalGround)


class AppointmentService(_Service):
    """Open slots, book, cancel, check in, refuse and record no-shows (GZ20·9, NH·9).

    Whether a successful appointment may be refused at all is a per-city rule
    (:mod:`ledger.domain.city_rules`): the slot's department's registered city chooses it;
    ``unregistered`` applies to a department the ledger does not know (default: the stricter
    rule, NH·9: no refusal)."""

    def __init__(self, app: LedgerApplication, *, unregistered: CityRules = STRICTER) -> None:
        super().__init__(app)
        self.unregistered = unregistered

    def city_of(self, department: str) -> CityRules:
        """The per-city rules of ``department`` (by its registered city)."""
        found = self._find(Department, Department.id_for(department))
        return self.unregistered if found is None else rules_for(found.city)

    def slot(self, slot_id: UUID) -> AppointmentSlot:
        return self._get(AppointmentSlot, slot_id)

    def open_slot(
        self,
        *,
        signer: Signer,
        department: str,
        hall: str,
        service_item: str,
        starts_at: dt.datetime,
        ends_at: dt.datetime,
        capacity: int,
    ) -> AppointmentSlot:
        self._department(signer, department, "appointments.open_slot", service_item)
        slot = AppointmentSlot.open(
            hall=hall,
            service_item=service_item,
            department=department,
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=capacity,
        )
        if self._find(AppointmentSlot, slot.id) is not None:
            raise LedgerError(f"slot {hall}/{service_item} at {starts_at} is already open")
        self.app.save_signed(slot, signer=signer)
        return slot

    def book(self, slot_id: UUID, *, signer: Signer, applicant_id: UUID, at: dt.datetime) -> UUID:
        """Book through the portal or a kiosk: the applicant needs the basic authentication
        level (FZ·8 (二) 办事预约; :class:`AuthenticationTooLow` otherwise)."""
        self._applicant_channel(signer)
        self._authorised(applicant_id, Action.APPOINTMENT)
        slot = self.slot(slot_id)
        booking = slot.book(applicant_id=applicant_id, at=at)
        self.app.save_signed(slot, signer=signer)
        return booking

    def cancel(self, slot_id: UUID, *, signer: Signer, booking_id: UUID, at: dt.datetime) -> None:
        self._applicant_channel(signer)
        slot = self.slot(slot_id)
        slot.cancel(booking_id=booking_id, at=at)
        self.app.save_signed(slot, signer=signer)

    def check_in(self, slot_id: UUID, *, signer: Signer, booking_id: UUID, at: dt.datetime) -> None:
        """Check-in at the hall: by a hall kiosk, or by the slot's department at the window."""
        key = self.app.check_signer(signer, KeyRole.KIOSK, KeyRole.DEPARTMENT, KeyRole.OFFICIAL)
        slot = self.slot(slot_id)
        if key.role != KeyRole.KIOSK:
            self._department(signer, slot.department, "appointments.check_in", str(slot_id))
        slot.check_in(booking_id=booking_id, at=at)
        self.app.save_signed(slot, signer=signer)

    def refuse(
        self,
        slot_id: UUID,
        *,
        signer: Signer,
        booking_id: UUID,
        ground: RefusalGround | str,
        details: str,
        at: dt.datetime,
    ) -> None:
        slot = self.slot(slot_id)
        self._department(signer, slot.department, "appointments.refuse", str(slot_id))
        city = self.city_of(slot.department)
        allowed = city.appointment_refusal_grounds
        if str(ground) in _GROUNDS and RefusalGround(ground) not in allowed:
            raise AppointmentRefusalNotAllowed(
                f"ground: a successful appointment may not be refused in {city.name} "
                f"({city.appointment_rule}: "
                + (", ".join(sorted(g.value for g in allowed)) or "none")
                + " allowed)",
                rule=city.appointment_rule,
            )
        slot.refuse(booking_id=booking_id, ground=ground, details=details, at=at)
        self.app.save_signed(slot, signer=signer)

    def record_no_shows(self, slot_id: UUID, *, signer: Signer, at: dt.datetime) -> list[UUID]:
        """After the slot: record its no-shows (by the department or the platform's job)."""
        key = self.app.check_signer(signer, KeyRole.DEPARTMENT, KeyRole.PLATFORM, KeyRole.OFFICIAL)
        slot = self.slot(slot_id)
        if key.role != KeyRole.PLATFORM:
            self._department(signer, slot.department, "appointments.record_no_shows", str(slot_id))
        missed = slot.record_no_shows(at=at)
        if missed:
            self.app.save_signed(slot, signer=signer)
        return missed


# --- consultations and complaints (12345) ---------------------------------------------------------


class ConsultationService(_Service):
    """Receive, answer and find untrue consultations and complaints (GZ20·8, FZ·9)."""

    def __init__(self, app: LedgerApplication, *, limits: AnswerLimits | None = None) -> None:
        super().__init__(app)
        self.limits = limits or AnswerLimits()

    def consultation(self, consultation_id: UUID) -> Consultation:
        return self._get(Consultation, consultation_id)

    def receive(
        self,
        *,
        signer: Signer,
        kind: ConsultationKind | str,
        channel: ConsultationChannel | str,
        department: str,
        applicant_id: UUID | None,
        summary: str,
        at: dt.datetime,
        case_serial: str = "",
    ) -> Consultation:
        """Recorded by the applicant's channel, the 12345 centre (platform) or a kiosk."""
        self.app.check_signer(signer, *APPLICANT_ROLES, KeyRole.PLATFORM)
        consultation = Consultation.receive(
            kind=kind,
            channel=channel,
            department=department,
            applicant_id=applicant_id,
            summary=summary,
            at=at,
            case_serial=case_serial,
            limits=self.limits,
        )
        self.app.save_signed(consultation, signer=signer)
        return consultation

    def answer(
        self,
        consultation_id: UUID,
        *,
        signer: Signer,
        department: str,
        answer: str,
        at: dt.datetime,
    ) -> SealedRecord:
        key = self._department(signer, department, "consultations.answer", str(consultation_id))
        seal = self._seal(key, signer, department)
        consultation = self.consultation(consultation_id)
        record = consultation.answer_with(
            department=department, answer=answer, at=at, seal_key=seal
        )
        self.app.save_signed(consultation, signer=signer)
        return record

    def find_untrue(
        self,
        consultation_id: UUID,
        *,
        signer: Signer,
        department: str,
        reasons: str,
        evidence: list[str],
        at: dt.datetime,
    ) -> None:
        self._department(signer, department, "consultations.find_untrue", str(consultation_id))
        consultation = self.consultation(consultation_id)
        consultation.find_untrue(department=department, reasons=reasons, evidence=evidence, at=at)
        self.app.save_signed(consultation, signer=signer)


# --- blacklist (黑名单) ---------------------------------------------------------------------------


UNRELATED_CONTENT: Final = "unrelated_content:"
"""Prefix of a fact: content unrelated to the matter filled in or uploaded (NH·25(二))."""


def appointment_fact(slot_id: UUID, booking_id: UUID) -> str:
    """The fact reference of a missed appointment."""
    return f"appointment:{slot_id}:{booking_id}"


def consultation_fact(consultation_id: UUID) -> str:
    """The fact reference of a complaint found untrue."""
    return f"consultation:{consultation_id}"


def rating_fact(case_id: UUID, kind: RatingKind | str = RatingKind.FIRST) -> str:
    """The fact reference of a rating found untrue (dispute upheld)."""
    return f"rating:{case_id}:{RatingKind(kind).value}"


class BlacklistService(_Service):
    """Blacklist, appeal, remove, and answer ``is_blacklisted`` (GZ16·22, NH·25, PY·28)."""

    def __init__(
        self,
        app: LedgerApplication,
        *,
        restriction_months: int | None = RESTRICTION_MONTHS,
        appeal_days: int = APPEAL_DAYS,
        city: CityRules | None = None,
    ) -> None:
        """``city`` (:mod:`ledger.domain.city_rules`) sets the restriction's length (``None``:
        until removed, NH·25) and whether unrelated form content counts toward NH·25(二);
        without it the restriction is ``restriction_months`` and it does not count."""
        super().__init__(app)
        self.restriction_months = (
            restriction_months if city is None else city.blacklist_restriction_months
        )
        self.appeal_days = appeal_days
        self.unrelated_counts = city is not None and city.unrelated_form_content_counts

    def record(self, applicant_id: UUID) -> Blacklisting | None:
        return self._find(Blacklisting, Blacklisting.id_for(applicant_id))

    def is_blacklisted(self, applicant_id: UUID, on: dt.date) -> Restriction:
        """``(blocked, until, appeal_route)`` for online application on ``on``: a read-only
        look-up (``LedgerApplication.reference``), so a submission checking it pays no round
        trip for an applicant never blacklisted."""
        try:
            record = self.app.reference(Blacklisting.id_for(applicant_id))
        except AggregateNotFoundError:
            return Restriction(False, None, "")
        return (
            record.restriction(on)
            if isinstance(record, Blacklisting)
            else Restriction(False, None, "")
        )

    def refuse_if_blacklisted(self, applicant_id: UUID, on: dt.date) -> None:
        """Raise :class:`BlacklistedApplicant` (with the end date and how to appeal) when the
        applicant may not apply online on ``on``."""
        blocked, until, route = self.is_blacklisted(applicant_id, on)
        if blocked:
            end = until.isoformat() if until else "further notice"
            raise BlacklistedApplicant(
                f"applicant: blocked from online applications until {end}; appeal: {route}"
            )

    def blacklist(
        self,
        applicant_id: UUID,
        *,
        signer: Signer,
        authority: str,
        ground: BlacklistGround | str,
        facts: Iterable[str],
        details: str,
        at: dt.datetime,
        credit_referral: bool = False,
    ) -> SealedRecord:
        """Decide a blacklisting with its sealed notice; counted facts are checked against
        the ledger (no-shows, untrue complaints, untrue ratings of this applicant)."""
        key = self._supervisor(signer, authority, "blacklist.blacklist")
        seal = self._office_seal(key, signer, authority)
        refs = list(facts)
        self._check_facts(applicant_id, refs)
        self._check_unrelated(ground, refs)
        record = self.record(applicant_id) or Blacklisting.open(applicant_id)
        notice = record.blacklist(
            ground=ground,
            facts=refs,
            authority=authority,
            details=details,
            at=at,
            seal_key=seal,
            restriction_months=self.restriction_months,
            appeal_days=self.appeal_days,
            credit_referral=credit_referral,
        )
        self.app.save_signed(record, signer=signer)
        return notice

    def record_notice_receipt(
        self,
        applicant_id: UUID,
        *,
        signer: Signer,
        authority: str,
        received_on: dt.date,
        how: str,
        evidence: Sequence[str],
        at: dt.datetime,
    ) -> dt.date:
        """The deciding authority records when the applicant received the notice or learned of
        the decision; the appeal period runs from that day (GZ16·22, PY·28). Returns its end."""
        self._supervisor(signer, authority, "blacklist.record_notice_receipt")
        record = self._get(Blacklisting, Blacklisting.id_for(applicant_id))
        if record.entries and record.entries[-1]["authority"] != authority:
            raise InvalidBlacklisting("authority", "the deciding authority records the receipt")
        due = record.record_notice_receipt(
            received_on=received_on,
            how=how,
            evidence=evidence,
            at=at,
            appeal_days=self.appeal_days,
        )
        self.app.save_signed(record, signer=signer)
        return due

    def lodge_appeal(
        self,
        applicant_id: UUID,
        *,
        signer: Signer,
        reasons: str,
        evidence: Sequence[str] = (),
        at: dt.datetime,
    ) -> None:
        self._applicant_channel(signer)
        record = self._get(Blacklisting, Blacklisting.id_for(applicant_id))
        record.lodge_appeal(reasons=reasons, evidence=evidence, at=at)
        self.app.save_signed(record, signer=signer)

    def decide_appeal(
        self,
        applicant_id: UUID,
        *,
        signer: Signer,
        authority: str,
        unintentional: bool,
        reasons: str,
        at: dt.datetime,
    ) -> SealedRecord:
        key = self._supervisor(signer, authority, "blacklist.decide_appeal")
        seal = self._office_seal(key, signer, authority)
        record = self._get(Blacklisting, Blacklisting.id_for(applicant_id))
        decision = record.decide_appeal(
            unintentional=unintentional,
            reasons=reasons,
            authority=authority,
            at=at,
            seal_key=seal,
        )
        self.app.save_signed(record, signer=signer)
        return decision

    def remove(
        self,
        applicant_id: UUID,
        *,
        signer: Signer,
        authority: str,
        reasons: str,
        evidence: Sequence[str],
        at: dt.datetime,
    ) -> SealedRecord:
        key = self._supervisor(signer, authority, "blacklist.remove")
        record = self._get(Blacklisting, Blacklisting.id_for(applicant_id))
        seal = self._office_seal(key, signer, authority)
        decision = record.remove(
            reasons=reasons, evidence=evidence, authority=authority, at=at, seal_key=seal
        )
        self.app.save_signed(record, signer=signer)
        return decision

    def _check_unrelated(self, ground: BlacklistGround | str, facts: list[str]) -> None:
        """Facts ``unrelated_content:<ref>`` (content unrelated to the matter filled in or
        uploaded) count toward ground (二) of NH·25 only where the city's rules say so."""
        unrelated = [f for f in facts if isinstance(f, str) and f.startswith(UNRELATED_CONTENT)]
        counts = self.unrelated_counts and str(ground) == BlacklistGround.MATERIALS_NOT_SUBMITTED
        if unrelated and not counts:
            raise InvalidBlacklisting(
                "facts",
                f"{unrelated[0]!r}: unrelated content in forms is a ground only under NH·25(二), "
                "counted with materials_not_submitted, where the city's rules apply it",
                rule="NH·25",
            )

    def _check_facts(self, applicant_id: UUID, facts: list[str]) -> None:
        for i, fact in enumerate(facts):
            field = f"facts[{i}]"
            kind, _, rest = fact.partition(":") if isinstance(fact, str) else ("", "", "")
            try:
                if kind == "appointment":
                    slot_text, _, booking_text = rest.partition(":")
                    slot = self._get(AppointmentSlot, UUID(slot_text))
                    booking = UUID(booking_text)
                    ok = (
                        slot.status(booking) is BookingStatus.NO_SHOW
                        and slot.applicant_of(booking) == applicant_id
                    )
                elif kind == "consultation":
                    consultation = self._get(Consultation, UUID(rest))
                    ok = consultation.untrue and consultation.applicant_id == applicant_id
                elif kind == "rating":
                    case_text, _, which = rest.partition(":")
                    rating = self._get(Rating, Rating.id_for(UUID(case_text)))
                    ok = rating.applicant_id == applicant_id and rating.is_untrue(which)
                else:
                    continue  # other facts (case serials, material hashes) are the authority's
            except (ValueError, LedgerError):
                ok = False
            if not ok:
                raise InvalidBlacklisting(field, f"{fact!r} is not such a fact of this applicant")


# --- supervision orders (督办) --------------------------------------------------------------------


class SupervisionService(_Service):
    """Issue, answer and close supervision orders (FZ·24, GZ20·26, FZ·26)."""

    def order(self, order_id: UUID) -> SupervisionOrder:
        return self._get(SupervisionOrder, order_id)

    def issue(
        self,
        *,
        signer: Signer,
        department: str,
        reason: SupervisionReason | str,
        details: str,
        at: dt.datetime,
        case_id: UUID | None = None,
        case_serial: str = "",
        answer_days: int = ANSWER_DAYS,
        office: str | None = None,
    ) -> SupervisionOrder:
        """Issue an order to ``department`` (``office``: the supervision office acting, when
        the caller pins it; else the signer's own)."""
        key = self._supervisor(
            signer, office, "supervision.issue", supervised=department, subject=case_serial
        )
        if case_serial and str(reason) == SupervisionReason.OVERDUE.value:
            red = self._find(RedLight, RedLight.id_for(case_serial))
            if red is not None and red.explained:
                raise SupervisionOrderNotDue(
                    f"case_serial: {red.department} explained the delay of {case_serial} itself "
                    "(主动说明情况): no supervision order is due"
                )
        order = SupervisionOrder.issue(
            supervisor=key.actor,
            department=department,
            reason=reason,
            details=details,
            at=at,
            case_id=case_id,
            case_serial=case_serial,
            answer_days=answer_days,
        )
        self.app.save_signed(order, signer=signer)
        return order

    def answer(
        self, order_id: UUID, *, signer: Signer, department: str, answer: str, at: dt.datetime
    ) -> SealedRecord:
        key = self._department(signer, department, "supervision.answer", str(order_id))
        order = self.order(order_id)
        seal = self._seal(key, signer, department)
        record = order.answer_with(department=department, answer=answer, at=at, seal_key=seal)
        self.app.save_signed(order, signer=signer)
        return record

    def close(
        self,
        order_id: UUID,
        *,
        signer: Signer,
        conclusion: str,
        at: dt.datetime,
        office: str | None = None,
    ) -> None:
        order = self.order(order_id)
        key = self._supervisor(
            signer, office, "supervision.close", supervised=order.department, subject=str(order_id)
        )
        order.close(supervisor=key.actor, conclusion=conclusion, at=at)
        self.app.save_signed(order, signer=signer)

    def verify_answer(self, order_id: UUID) -> bool:
        record = self.order(order_id).answer_record
        return record is not None and self._verify(record)


@dataclass
class DomainServices:
    """The six domain services over one ledger, built together in one place: the HTTP
    wiring and the demo use the same set."""

    certificates: CertificateService
    ratings: RatingService
    appointments: AppointmentService
    consultations: ConsultationService
    blacklist: BlacklistService
    supervision: SupervisionService

    @classmethod
    def over(
        cls,
        app: LedgerApplication,
        *,
        unregistered: CityRules = STRICTER,
        seals: Seals | None = None,
        city: CityRules | None = None,
    ) -> DomainServices:
        """The services over ``app``; ``unregistered`` as :class:`AppointmentService` takes it,
        ``seals`` (the current seal of a department or office) seals officials' steps, ``city``
        as :class:`BlacklistService` takes it (the server's city, NH·25)."""
        return cls(
            certificates=CertificateService(app).sealed_by(seals),
            ratings=RatingService(app).sealed_by(seals),
            appointments=AppointmentService(app, unregistered=unregistered).sealed_by(seals),
            consultations=ConsultationService(app).sealed_by(seals),
            blacklist=BlacklistService(app, city=city).sealed_by(seals),
            supervision=SupervisionService(app).sealed_by(seals),
        )
