"""The case application service: the one use-case surface of the case lifecycle.

Layer: ledger services. The CLI, the HTTP API and the kiosk all call
:class:`CaseService` and hold no rule themselves (STYLE habit 4). Each command:

1. checks the signer's key and role (``LedgerApplication.check_signer``) and, for a
   department key, that the case belongs to that department (GZ20·25, NH·23, GZ16·21);
2. returns the first result again, recording nothing, when its idempotency key was seen
   (DESIGN invariant 6) — and refuses a key reused for another request;
3. loads the aggregates, reads the clock once, and calls the :class:`~ledger.domain.cases.Case`
   command, which checks the regulations' rules and has the department's seal key issue the
   step's document (refused with ``DecisionNotSealed`` unless the key is the department's
   current, registered seal);
4. saves the case (on submission with the day's serial counter when it reserves a block of
   numbers, ``ledger.services.numbering``) and the idempotency record as ONE signed command, so all
   commit atomically; a version conflict with a concurrent writer reloads and re-runs the
   rules.

Time comes from the :class:`Clock` passed in (UTC instants); no other clock is read.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from ledger.chain.recorders.base import MaterialsMissing
from ledger.domain.applicants import Applicant, Vault
from ledger.domain.calendar import shanghai_date
from ledger.domain.cases import (
    BlacklistStatus,
    Case,
    CaseState,
    Channel,
    DeliveryMethod,
    MaterialForm,
    Recipient,
    Sealer,
    SpecialProcedure,
    SubmittedMaterial,
)
from ledger.domain.catalogue import ServiceItem
from ledger.domain.city_rules import rules_for
from ledger.domain.departments import Department
from ledger.domain.documents import SignedDocument, issue_document
from ledger.domain.keys import ActorKey, KeyRole
from ledger.domain.result_delivery import DEFAULT_COURIER, CourierFee, IdCheck
from ledger.domain.rules import (
    DecisionNotSealed,
    InvalidCaseStep,
    InvalidMaterial,
    NotInDepartmentScope,
)
from ledger.domain.serials import DailyCounter, approval_code, parse_serial, serial_number
from ledger.domain.signer import Signer
from ledger.encoding import canonical
from ledger.errors import LedgerError
from ledger.services.application import KeyNotUsable, LedgerApplication
from ledger.services.idempotency import IdempotencyKeyReused, IdempotencyRecord, check_key
from ledger.services.numbering import SerialFloors, SerialNumbering
from ledger.services.officials import Authority
from ledger.storage.materials import BlobStore, MaterialRef

__all__ = [
    "APPLICANT_ROLES",
    "DEPARTMENT_ROLES",
    "ApplicantNotFound",
    "BlacklistCheck",
    "CaseNotFound",
    "CaseService",
    "Clock",
    "ConcurrentModification",
    "DepartmentNotFound",
    "NotFound",
    "Outcome",
    "ServiceItemNotFound",
    "never_blacklisted",
]

MAX_CONFLICT_RETRIES: Final = 5

DEPARTMENT_ROLES: Final = (KeyRole.OFFICIAL, KeyRole.DEPARTMENT)
"""Who drives pre-review, acceptance, decisions, results and deliveries: an official of the
department (checked against ``ledger.domain.officials.COMMAND_ROLES``), or the department's
own system key."""
APPLICANT_ROLES: Final = (
    KeyRole.APPLICANT_PORTAL,
    KeyRole.KIOSK,
    KeyRole.OFFICIAL,
    KeyRole.DEPARTMENT,
)
"""Who signs what the applicant does: the portal, a kiosk, or the window (an official)."""
SYSTEM_ROLES: Final = (KeyRole.PLATFORM, KeyRole.OFFICIAL, KeyRole.DEPARTMENT)
"""Automatic steps: deemed acceptance (ALL·32), payment notices of the payment platform."""
SIGN_OFF_ROLES: Final = (
    KeyRole.OFFICIAL,
    KeyRole.DEPARTMENT,
    KeyRole.KIOSK,
    KeyRole.APPLICANT_PORTAL,
)
"""Who records a sign-off: the window, a kiosk (self-print, locker) or the portal (online)."""

_CHANNEL_ROLES: Final = {
    Channel.WINDOW: (KeyRole.OFFICIAL, KeyRole.DEPARTMENT),
    Channel.KIOSK: (KeyRole.KIOSK,),
    Channel.WEB: (KeyRole.APPLICANT_PORTAL,),
    Channel.APP: (KeyRole.APPLICANT_PORTAL,),
    Channel.WECHAT: (KeyRole.APPLICANT_PORTAL,),
}


class Clock(Protocol):
    """Where the service reads time: an aware datetime, normally UTC."""

    def now(self) -> dt.datetime: ...


BlacklistCheck = Callable[[UUID, dt.date], tuple[bool, dt.date | None, str]]
"""``(applicant_id, on) -> (blacklisted, until, appeal route)`` — the blacklist's port."""


def never_blacklisted(applicant_id: UUID, on: dt.date) -> tuple[bool, dt.date | None, str]:
    """The default until the blacklist is built: nobody is blocked."""
    return False, None, ""


class NotFound(LedgerError, LookupError):
    """Root of the look-up failures of the service (HTTP 404 at the edge)."""


class CaseNotFound(NotFound):
    """No case has that serial number."""


class ServiceItemNotFound(NotFound):
    """No service item has that implementation code."""


class ApplicantNotFound(NotFound):
    """No applicant has that id."""


class DepartmentNotFound(NotFound):
    """No department has that code."""


class _AlreadyRecorded(Exception):
    """A submission found to be a repeat before it reserved numbers: its first outcome."""

    def __init__(self, outcome: Outcome):
        super().__init__("already recorded")
        self.outcome = outcome


class ConcurrentModification(LedgerError):
    """The case kept changing under the command; the caller may retry later."""


@dataclass(frozen=True)
class Outcome:
    """What a case command returns — and what a retry with the same idempotency key returns
    again: the case, its state after the command, and the document the command issued."""

    case_id: UUID
    serial: str
    approval_code: str
    state: CaseState
    version: int
    document: SignedDocument | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "serial": self.serial,
            "approval_code": self.approval_code,
            "state": self.state.value,
            "version": self.version,
            "document": None if self.document is None else self.document.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Outcome:
        document = data["document"]
        return cls(
            case_id=data["case_id"],
            serial=data["serial"],
            approval_code=data["approval_code"],
            state=CaseState(data["state"]),
            version=data["version"],
            document=None if document is None else SignedDocument.from_dict(document),
        )


_A = TypeVar("_A", bound=Aggregate)


def _electronic(materials: Sequence[SubmittedMaterial]) -> list[SubmittedMaterial]:
    """The materials submitted as files (an e-signed original or an e-copy)."""
    return [m for m in materials if m.form in (MaterialForm.E_SIGNED, MaterialForm.E_COPY)]


def _not_uploaded(
    materials: Sequence[SubmittedMaterial], missing: Collection[bytes]
) -> InvalidMaterial:
    """The refusal naming the first of ``materials`` whose file is ``missing``."""
    code = next(m.code for m in _electronic(materials) if m.sha256 in missing)
    return InvalidMaterial(f"materials[{code}].sha256", "was not uploaded to the material store")


class CaseService:
    """Drives cases through the lifecycle on a :class:`LedgerApplication`.

    ``seals(department_code)`` returns that department's current seal signer (from the
    keystore); ``vault`` seals courier addresses; ``blobs`` holds uploaded materials (a
    submitted e-copy must be in it); ``is_blacklisted`` is the blacklist's port.
    """

    def __init__(
        self,
        ledger: LedgerApplication,
        *,
        clock: Clock,
        seals: Callable[[str], Signer],
        vault: Vault | None = None,
        blobs: BlobStore | None = None,
        blobs_at_write: bool = False,
        is_blacklisted: BlacklistCheck = never_blacklisted,
        serial_floors: SerialFloors | None = None,
    ) -> None:
        if blobs_at_write and (blobs is None or not ledger.checks_materials):
            raise ValueError("blobs_at_write: the ledger does not check materials as it writes")
        self.ledger = ledger
        self.clock = clock
        self.seals = seals
        self.vault = vault
        self.blobs = blobs
        self.blobs_at_write = blobs_at_write
        """A submission's materials are looked up by its write (the ledger's recorder was
        told this store's table: ``check_materials_in``), not by a round trip of their own."""
        self.is_blacklisted = is_blacklisted
        self.numbering = SerialNumbering(floors=serial_floors)
        self.authority = Authority(ledger)

    # -- queries ------------------------------------------------------------------------------

    def case(self, serial: str) -> Case:
        """The case with this serial number. Raises ``InvalidSerial`` or :class:`CaseNotFound`."""
        parse_serial(serial)
        return self._get(Case, Case.id_for(serial), CaseNotFound, f"serial: no case {serial}")

    def documents(self, serial: str) -> list[SignedDocument]:
        """Every signed document of the case, in the order issued."""
        return [SignedDocument.from_dict(d) for d in self.case(serial).documents]

    def upload(self, data: bytes, media_type: str) -> MaterialRef:
        """Store an uploaded material in the blob store (content-addressed, size and type
        checked); submit it as ``SubmittedMaterial.e_copy(code, ref.sha256, …)``."""
        if self.blobs is None:
            raise InvalidMaterial("materials", "this service has no blob store")
        return self.blobs.put(data, media_type)

    # -- submission ---------------------------------------------------------------------------

    def submit(
        self,
        *,
        item_code: str,
        applicant_id: UUID,
        channel: Channel | str,
        handling_mode: str,
        materials: Sequence[SubmittedMaterial],
        delivery: DeliveryMethod | str,
        signer: Signer,
        location: str | None = None,
        mailing_address: str | None = None,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Submit an application; returns the case with its application receipt.

        The signer matches the channel: the portal for web/app/WeChat, a kiosk key at a kiosk,
        the department's key at its window. ``mailing_address`` (clear text) is sealed under
        the applicant's subject key; without it a courier delivery uses the applicant's
        registered address, still sealed."""
        with self.ledger.optimistic_reads():  # the key too: from cache, checked at the write
            key = self.ledger.check_signer(signer, *APPLICANT_ROLES)
            try:
                channel = Channel(channel)
            except ValueError:
                raise InvalidCaseStep("channel", f"unknown channel {channel!r}") from None
            if key.role not in _CHANNEL_ROLES[channel]:
                raise KeyNotUsable(
                    f"key {signer.key_id.hex()} has role {key.role}; the {channel} channel is "
                    f"signed by a {' or '.join(r.value for r in _CHANNEL_ROLES[channel])} key"
                )
            params = {
                "item_code": item_code,
                "applicant_id": applicant_id,
                "channel": channel.value,
                "handling_mode": str(handling_mode),
                "materials": [m.to_dict() for m in materials],
                "delivery": str(delivery),
                "location": location,
                "mailing_address": mailing_address,
            }
            digest = _digest("submit", params)
            try:
                return self._submit_checked(
                    item_code,
                    applicant_id,
                    channel,
                    signer,
                    idempotency_key,
                    digest,
                    handling_mode=handling_mode,
                    materials=materials,
                    delivery=delivery,
                    location=location,
                    mailing_address=mailing_address,
                )
            except _AlreadyRecorded as repeat:
                return repeat.outcome
            except LedgerError:
                # A repeat is answered from its record even if the rules refuse it now.
                first = self._replay(idempotency_key, "submit", digest)
                if first is not None:
                    return first
                raise

    def _submit_checked(self, *args: Any, **details: Any) -> Outcome:
        """:meth:`_submit`, once more if it was refused on a copy that had moved on."""
        try:
            return self._submit(*args, **details)
        except LedgerError:
            if not self.ledger.refresh_reads():
                raise
        return self._submit(*args, **details)

    def _submit(
        self,
        item_code: str,
        applicant_id: UUID,
        channel: Channel,
        signer: Signer,
        idempotency_key: str | None,
        digest: bytes,
        **details: Any,
    ) -> Outcome:
        """Submit, retrying lost races. A repeat of a recorded submission is found by its
        idempotency record: at the write (the record's version conflicts), or before the
        submission would reserve serial numbers (:class:`_AlreadyRecorded`), so a repeat
        never reserves any. Without a reservation no read precedes the write: what the
        command reads is checked there (``LedgerApplication.optimistic_reads``)."""
        materials: Sequence[SubmittedMaterial] = details["materials"]
        cited: frozenset[bytes] = frozenset()  # looked up by the write, when it can
        if self.blobs_at_write:
            cited = frozenset(m.sha256 for m in _electronic(materials))
        else:
            self._check_blobs(materials)
        for _ in range(MAX_CONFLICT_RETRIES):
            # Each attempt: after a stale read, the signer's key may be what moved on (revoked).
            key = self.ledger.check_signer(signer, *APPLICANT_ROLES)
            item = self._get(
                ServiceItem,
                ServiceItem.id_for(item_code),
                ServiceItemNotFound,
                f"item_code: no service item {item_code}",
                read_only=True,
            )
            department = self._department(item.current_guide.department)
            self._check_scope(key, signer, "submit", department.code, item_code)
            applicant = self._get(
                Applicant,
                applicant_id,
                ApplicantNotFound,
                f"applicant_id: no {applicant_id}",
                read_only=True,
            )
            build = functools.partial(
                self._submitted_case,
                item=item,
                department=department,
                applicant=applicant,
                channel=channel,
                **details,
            )
            try:
                outcome = self._submit_once(
                    department.code, build, signer, idempotency_key, digest, cited
                )
            except MaterialsMissing as exc:
                raise _not_uploaded(materials, exc.missing) from None
            if outcome is not None:
                return outcome
            first = self._replay(idempotency_key, "submit", digest)
            if first is not None:
                return first
        raise ConcurrentModification("submit: the day's serial counter kept changing; retry")

    def _submit_once(
        self,
        department: str,
        build: Callable[[int, dt.datetime], tuple[Case, Outcome]],
        signer: Signer,
        idempotency_key: str | None,
        digest: bytes,
        cited: frozenset[bytes],
    ) -> Outcome | None:
        """Number, build and save the case — with the day's counter when this submission
        reserved a block of numbers (``ledger.services.numbering``); None on a lost race.
        ``cited``: the SHA-256 of its electronic materials for the write to look up (empty
        unless :attr:`blobs_at_write`)."""
        at = self.clock.now()
        on = shanghai_date(at)

        def load() -> DailyCounter:  # only when reserving: a repeat must not reserve
            first = self._replay(idempotency_key, "submit", digest)
            if first is not None:
                raise _AlreadyRecorded(first)
            return self._counter(department, on)

        with self.numbering.ticket(department, on, load) as t:
            case, outcome = build(t.number, at)
            counter = [] if t.counter is None else [t.counter]
            t.recorded = self._save(
                signer,
                [*counter, case],
                idempotency_key,
                "submit",
                digest,
                outcome,
                materials=cited,
            )
            return outcome if t.recorded else None

    def _submitted_case(
        self,
        number: int,
        at: dt.datetime,
        *,
        item: ServiceItem,
        department: Department,
        applicant: Applicant,
        channel: Channel,
        handling_mode: str,
        materials: Sequence[SubmittedMaterial],
        delivery: DeliveryMethod | str,
        location: str | None,
        mailing_address: str | None,
    ) -> tuple[Case, Outcome]:
        """The case numbered ``number`` as submitted at ``at``, and what the command answers."""
        on = shanghai_date(at)
        serial = serial_number(department.code, on, number)
        seal, issued = self._sealer(serial, department, at)
        case = Case.submit(
            serial=serial,
            approval_code=approval_code(item.implementation_code, on, number),
            item=item,
            department=department,
            applicant=applicant,
            channel=channel,
            handling_mode=handling_mode,
            materials=materials,
            delivery=delivery,
            location=location or f"{department.name} 政务服务窗口",
            at=at,
            seal=seal,
            mailing_address=self._sealed_address(applicant, delivery, mailing_address),
            blacklisted=self._blacklist(applicant.id, on),
        )
        return case, _outcome(case, issued)

    # -- pre-review, correction, acceptance ---------------------------------------------------

    def pass_pre_review(
        self, serial: str, *, signer: Signer, idempotency_key: str | None = None
    ) -> Outcome:
        """Record that pre-review found the application complete (预审通过)."""
        return self._command(
            "pass_pre_review",
            serial,
            {},
            signer,
            DEPARTMENT_ROLES,
            idempotency_key,
            lambda case, at, seal: case.pass_pre_review(at=at),
        )

    def request_correction(
        self,
        serial: str,
        defects: Mapping[str, str],
        *,
        signer: Signer,
        grounds: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Issue the one-time correction notice (一次性告知) listing every defective material;
        ``grounds`` codes the ground of each reason (``ledger.domain.intake.DefectGround``)."""
        defects = dict(defects)
        params, coded = _with_grounds({"defects": defects}, grounds)
        return self._command(
            "request_correction",
            serial,
            params,
            signer,
            DEPARTMENT_ROLES,
            idempotency_key,
            lambda case, at, seal: case.request_correction(
                defects, at=at, seal=seal, grounds=coded
            ),
        )

    def correct(
        self,
        serial: str,
        applicant_id: UUID,
        materials: Sequence[SubmittedMaterial],
        *,
        signer: Signer,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """The applicant supplies the materials the notice asked for (补齐补正)."""
        self._check_blobs(materials)
        return self._command(
            "correct",
            serial,
            {"applicant_id": applicant_id, "materials": [m.to_dict() for m in materials]},
            signer,
            APPLICANT_ROLES,
            idempotency_key,
            lambda case, at, seal: case.correct(applicant_id, materials, at=at),
        )

    def record_material_delivery(
        self,
        serial: str,
        method: DeliveryMethod | str,
        *,
        signer: Signer,
        waybill: str = "",
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Record how the materials reached the department after pre-review (NH·13)."""
        return self._command(
            "record_material_delivery",
            serial,
            {"method": str(method), "waybill": waybill},
            signer,
            DEPARTMENT_ROLES,
            idempotency_key,
            lambda case, at, seal: case.record_material_delivery(method, at=at, waybill=waybill),
        )

    def accept(self, serial: str, *, signer: Signer, idempotency_key: str | None = None) -> Outcome:
        """Accept the case and issue the acceptance receipt; the time limit starts."""
        return self._command(
            "accept",
            serial,
            {},
            signer,
            DEPARTMENT_ROLES,
            idempotency_key,
            lambda case, at, seal: case.accept(at=at, seal=seal),
        )

    def deem_accepted(
        self, serial: str, *, signer: Signer, idempotency_key: str | None = None
    ) -> Outcome:
        """ALL·32: record the deemed acceptance of a case without timely pre-review findings.

        Available only after the 5th working day after submission; the acceptance date
        recorded is the submission date (the day the materials were received)."""
        return self._command(
            "deem_accepted",
            serial,
            {},
            signer,
            SYSTEM_ROLES,
            idempotency_key,
            lambda case, at, seal: case.deem_accepted(at=at, seal=seal),
        )

    def not_accept(
        self,
        serial: str,
        reasons: Sequence[str],
        *,
        signer: Signer,
        grounds: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Refuse acceptance with reasons (不予受理通知书); ``grounds`` as for corrections."""
        reasons = list(reasons)
        params, coded = _with_grounds({"reasons": reasons}, grounds)
        return self._command(
            "not_accept",
            serial,
            params,
            signer,
            DEPARTMENT_ROLES,
            idempotency_key,
            lambda case, at, seal: case.not_accept(reasons, at=at, seal=seal, grounds=coded),
        )

    def return_case(
        self,
        serial: str,
        reasons: Sequence[str],
        *,
        signer: Signer,
        grounds: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Return the application with reasons (退件通知书); ``grounds`` as for corrections."""
        reasons = list(reasons)
        params, coded = _with_grounds({"reasons": reasons}, grounds)
        return self._command(
            "return_case",
            serial,
            params,
            signer,
            DEPARTMENT_ROLES,
            idempotency_key,
            lambda case, at, seal: case.return_case(reasons, at=at, seal=seal, grounds=coded),
        )

    # -- processing ---------------------------------------------------------------------------

    def start_special_procedure(
        self,
        serial: str,
        procedure: SpecialProcedure | str,
        expected_days: int,
        *,
        signer: Signer,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Start a special procedure with its notice; the time limit pauses."""
        return self._command(
            "start_special_procedure",
            serial,
            {"procedure": str(procedure), "expected_days": expected_days},
            signer,
            DEPARTMENT_ROLES,
            idempotency_key,
            lambda case, at, seal: case.start_special_procedure(
                procedure, expected_days, at=at, seal=seal
            ),
        )

    def end_special_procedure(
        self, serial: str, outcome: str, *, signer: Signer, idempotency_key: str | None = None
    ) -> Outcome:
        """End the special procedure; the due date moves by the working days it took."""
        return self._command(
            "end_special_procedure",
            serial,
            {"outcome": outcome},
            signer,
            DEPARTMENT_ROLES,
            idempotency_key,
            lambda case, at, seal: case.end_special_procedure(outcome, at=at),
        )

    def extend_time_limit(
        self,
        serial: str,
        days: int,
        reasons: Sequence[str] | str,
        approved_by: str,
        *,
        signer: Signer,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Extend the time limit once by up to 10 working days, approved by the department's
        head, the reasons told to the applicant in a sealed notice (ALL·42)."""
        return self._command(
            "extend_time_limit",
            serial,
            {"days": days, "reasons": reasons, "approved_by": approved_by},
            signer,
            DEPARTMENT_ROLES,
            idempotency_key,
            lambda case, at, seal: case.extend_time_limit(
                days, reasons, approved_by, at=at, seal=seal
            ),
        )

    def assess_fee(
        self, serial: str, amount: Decimal, *, signer: Signer, idempotency_key: str | None = None
    ) -> Outcome:
        """Assess the guide's fee for the unified payment platform (FZ·18)."""
        return self._command(
            "assess_fee",
            serial,
            {"amount": amount},
            signer,
            DEPARTMENT_ROLES,
            idempotency_key,
            lambda case, at, seal: case.assess_fee(amount, at=at),
        )

    def pay_fee(
        self,
        serial: str,
        payment_reference: str,
        amount: Decimal,
        *,
        signer: Signer,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Record the payment the unified payment platform confirmed (FZ·18)."""
        return self._command(
            "pay_fee",
            serial,
            {"payment_reference": payment_reference, "amount": amount},
            signer,
            SYSTEM_ROLES,
            idempotency_key,
            lambda case, at, seal: case.pay_fee(payment_reference, amount, at=at),
        )

    def approve(
        self,
        serial: str,
        *,
        signer: Signer,
        conclusion: str = "准予许可",
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Approve with an e-sealed approval decision (批准决定书)."""
        return self._command(
            "approve",
            serial,
            {"conclusion": conclusion},
            signer,
            DEPARTMENT_ROLES,
            idempotency_key,
            lambda case, at, seal: case.approve(at=at, seal=seal, conclusion=conclusion),
        )

    def disapprove(
        self,
        serial: str,
        reasons: Sequence[str],
        *,
        signer: Signer,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Disapprove with reasons (不予批准决定书)."""
        reasons = list(reasons)
        return self._command(
            "disapprove",
            serial,
            {"reasons": reasons},
            signer,
            DEPARTMENT_ROLES,
            idempotency_key,
            lambda case, at, seal: case.disapprove(reasons, at=at, seal=seal),
        )

    def issue_result_document(
        self, serial: str, *, signer: Signer, title: str = "", idempotency_key: str | None = None
    ) -> Outcome:
        """Issue the result document of an approved case (until e-certificates exist)."""
        return self._command(
            "issue_result_document",
            serial,
            {"title": title},
            signer,
            DEPARTMENT_ROLES,
            idempotency_key,
            lambda case, at, seal: case.issue_result_document(at=at, seal=seal, title=title),
        )

    def record_certificate(
        self,
        serial: str,
        certificate_id: str,
        *,
        signer: Signer,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Record the e-certificate issued for the case (it lets the case close)."""
        return self._command(
            "record_certificate",
            serial,
            {"certificate_id": certificate_id},
            signer,
            DEPARTMENT_ROLES,
            idempotency_key,
            lambda case, at, seal: case.record_certificate(certificate_id, at=at),
        )

    # -- delivery and closing -----------------------------------------------------------------

    def dispatch(
        self,
        serial: str,
        method: DeliveryMethod | str,
        *,
        signer: Signer,
        waybill: str = "",
        mailing_address: str | None = None,
        courier: str = DEFAULT_COURIER,
        courier_fee: CourierFee | str = CourierFee.CASH_ON_DELIVERY,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Send the result on site, by courier or online, with the result SMS to the applicant's
        sealed phone number (FZ·20); a courier is licensed for official documents (GZ16·16) and
        paid on delivery unless the department's city carries the postage (PY·16)."""
        params = {
            "method": str(method),
            "waybill": waybill,
            "mailing_address": mailing_address,
            "courier": courier,
            "courier_fee": str(courier_fee),
        }

        def act(case: Case, at: dt.datetime, seal: Sealer) -> None:
            sealed = None
            if mailing_address is not None:
                sealed = self._seal_text(case.applicant_id, mailing_address)
            city = rules_for(self._department(case.department).city)
            case.dispatch(
                method,
                at=at,
                waybill=waybill,
                mailing_address=sealed,
                courier=courier,
                courier_fee=courier_fee,
                department_paid_postage=city.department_paid_postage,
                sms_to=self._sealed_phone(case.applicant_id),
            )

        return self._command(
            "dispatch", serial, params, signer, DEPARTMENT_ROLES, idempotency_key, act
        )

    def record_delivery_failure(
        self, serial: str, reason: str, *, signer: Signer, idempotency_key: str | None = None
    ) -> Outcome:
        """Record that a delivery failed."""
        return self._command(
            "record_delivery_failure",
            serial,
            {"reason": reason},
            signer,
            DEPARTMENT_ROLES,
            idempotency_key,
            lambda case, at, seal: case.record_delivery_failure(reason, at=at),
        )

    def sign_off(
        self,
        serial: str,
        recipient: Recipient | str = Recipient.APPLICANT,
        *,
        signer: Signer,
        id_check: IdCheck | None = None,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Record the sign-off and issue the delivery receipt (送达回证); a pick-up at the hall
        checks a valid ID (FZ·20)."""
        return self._command(
            "sign_off",
            serial,
            {
                "recipient": str(recipient),
                "id_check": None if id_check is None else id_check.to_dict(),
            },
            signer,
            SIGN_OFF_ROLES,
            idempotency_key,
            lambda case, at, seal: case.sign_off(recipient, at=at, seal=seal, id_check=id_check),
        )

    def deliver_by_public_notice(
        self,
        serial: str,
        *,
        signer: Signer,
        notice_days: int | None = None,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Deliver by public notice after failed deliveries (公告送达)."""

        def act(case: Case, at: dt.datetime, seal: Sealer) -> None:
            if notice_days is None:
                case.deliver_by_public_notice(at=at, seal=seal)
            else:
                case.deliver_by_public_notice(at=at, seal=seal, notice_days=notice_days)

        return self._command(
            "deliver_by_public_notice",
            serial,
            {"notice_days": notice_days},
            signer,
            DEPARTMENT_ROLES,
            idempotency_key,
            act,
        )

    def close(self, serial: str, *, signer: Signer, idempotency_key: str | None = None) -> Outcome:
        """Close the case (办结) once its result is issued and delivered."""
        return self._command(
            "close",
            serial,
            {},
            signer,
            DEPARTMENT_ROLES,
            idempotency_key,
            lambda case, at, seal: case.close(at=at),
        )

    def withdraw(
        self,
        serial: str,
        applicant_id: UUID,
        reason: str = "",
        *,
        signer: Signer,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """The applicant withdraws before the decision."""
        return self._command(
            "withdraw",
            serial,
            {"applicant_id": applicant_id, "reason": reason},
            signer,
            APPLICANT_ROLES,
            idempotency_key,
            lambda case, at, seal: case.withdraw(applicant_id, reason, at=at),
        )

    # -- the command pipeline -----------------------------------------------------------------

    def _command(
        self,
        name: str,
        serial: str,
        params: dict[str, Any],
        signer: Signer,
        roles: Sequence[KeyRole],
        idempotency_key: str | None,
        act: Callable[[Case, dt.datetime, Sealer], None],
    ) -> Outcome:
        with self.ledger.optimistic_reads():
            key = self.ledger.check_signer(signer, *roles)
            digest = _digest(name, {"serial": serial, **params})
            first = self._replay(idempotency_key, name, digest)
            if first is not None:
                return first
            for _ in range(MAX_CONFLICT_RETRIES):
                case = self.case(serial)
                self._check_scope(key, signer, name, case.department, serial)
                at = self.clock.now()
                seal, issued = self._sealer(case.serial, case.department, at)
                try:
                    act(case, at, seal)
                except LedgerError:
                    # A concurrent duplicate of this keyed command may have moved the case on
                    # after the check above: then its outcome is this command's answer.
                    first = self._replay(idempotency_key, name, digest)
                    if first is not None:
                        return first
                    if self.ledger.refresh_reads():
                        continue  # refused on a copy that had moved on: once more, afresh
                    raise
                outcome = _outcome(case, issued)
                if self._save(signer, [case], idempotency_key, name, digest, outcome):
                    return outcome
                first = self._replay(idempotency_key, name, digest)
                if first is not None:
                    return first
            raise ConcurrentModification(f"{name}: case {serial} kept changing; retry")

    def _save(
        self,
        signer: Signer,
        aggregates: list[Aggregate],
        idempotency_key: str | None,
        command: str,
        digest: bytes,
        outcome: Outcome,
        *,
        materials: frozenset[bytes] = frozenset(),
    ) -> bool:
        """Save as one signed command; ``False`` on a version conflict (nothing recorded).
        ``materials`` are checked by the write (``LedgerApplication.save_signed``)."""
        if idempotency_key is not None:
            aggregates.append(
                IdempotencyRecord(
                    key=idempotency_key,
                    command=command,
                    request_digest=digest,
                    result=outcome.to_dict(),
                )
            )
        try:
            self.ledger.save_signed(*aggregates, signer=signer, materials=materials)
        except IntegrityError:
            return False
        return True

    def _replay(self, idempotency_key: str | None, command: str, digest: bytes) -> Outcome | None:
        if idempotency_key is None:
            return None
        try:
            record: Aggregate = self.ledger.repository.get(
                IdempotencyRecord.id_for(check_key(idempotency_key))
            )
        except AggregateNotFoundError:
            return None
        assert isinstance(record, IdempotencyRecord)
        if not record.matches(command, digest):
            raise IdempotencyKeyReused(
                f"idempotency_key: first used for {record.command} with other arguments"
            )
        return Outcome.from_dict(record.result)

    def _check_scope(
        self, key: ActorKey, signer: Signer, command: str, department: str, subject: str
    ) -> None:
        """A department key acts for its department; an official needs the command's role
        there or under a delegation (refused and the attempt recorded, FZ·26(五))."""
        self.authority.require_command(key, signer, command, department, subject)
        if key.role == KeyRole.DEPARTMENT.value and key.department != department:
            raise NotInDepartmentScope(
                f"department: key of {key.department or 'no department'} may not act on a case "
                f"of {department}"
            )

    def _sealer(
        self, serial: str, department: str | Department, at: dt.datetime
    ) -> tuple[Sealer, list[SignedDocument]]:
        """A seal issuing this case's documents with the department's current seal key
        (``department``: its code, or the department the command has already loaded)."""
        issued: list[SignedDocument] = []
        code = department if isinstance(department, str) else department.code

        def seal(kind: str, body: Mapping[str, Any]) -> SignedDocument:
            issuer = self._department(code) if isinstance(department, str) else department
            document = issue_document(
                kind,
                serial=serial,
                issuer_department=code,
                issued_at=at,
                body=body,
                signer=self._seal_signer(issuer),
            )
            issued.append(document)
            return document

        return seal, issued

    def _seal_signer(self, department: Department) -> Signer:
        """The department's seal signer, if it is the department's current registered key."""
        code = department.code
        signer = self.seals(code)
        try:
            key = self.ledger.check_signer(signer, KeyRole.DEPARTMENT)
        except KeyNotUsable:
            key = None
        if signer.key_id != department.seal_key_id or key is None or key.department != code:
            raise DecisionNotSealed(
                f"seal: key {signer.key_id.hex()} is not the current e-seal of {code}"
            )
        return signer

    # -- look-ups -----------------------------------------------------------------------------

    def _get(
        self,
        cls: type[_A],
        aggregate_id: UUID,
        missing: type[NotFound],
        message: str,
        *,
        read_only: bool = False,
    ) -> _A:
        """The aggregate; ``read_only`` for one the command reads but does not save
        (``LedgerApplication.reference``)."""
        load = self.ledger.reference if read_only else self.ledger.repository.get
        try:
            aggregate: Aggregate = load(aggregate_id)
        except AggregateNotFoundError:
            raise missing(message) from None
        if not isinstance(aggregate, cls):
            raise missing(message)
        return aggregate

    def _department(self, code: str) -> Department:
        return self._get(
            Department,
            Department.id_for(code),
            DepartmentNotFound,
            f"department: no {code}",
            read_only=True,
        )

    def _counter(self, department: str, on: dt.date) -> DailyCounter:
        try:
            counter: Aggregate = self.ledger.repository.get(DailyCounter.id_for(department, on))
        except AggregateNotFoundError:
            return DailyCounter.open(department, on)
        assert isinstance(counter, DailyCounter)
        return counter

    def _blacklist(self, applicant_id: UUID, on: dt.date) -> BlacklistStatus | None:
        blocked, until, appeal_route = self.is_blacklisted(applicant_id, on)
        return BlacklistStatus(until, appeal_route) if blocked else None

    def _check_blobs(self, materials: Sequence[SubmittedMaterial]) -> None:
        """Every electronic material was uploaded: one look-up for all of them."""
        if self.blobs is None:
            return
        electronic = _electronic(materials)
        missing = self.blobs.missing({m.sha256 for m in electronic})
        if missing:
            raise _not_uploaded(electronic, missing)

    def _seal_text(self, applicant_id: UUID, address: str) -> bytes:
        if self.vault is None:
            raise InvalidCaseStep("mailing_address", "this service has no personal-data vault")
        return self.vault.seal(applicant_id, "mailing_address", address).ciphertext

    def _sealed_phone(self, applicant_id: UUID) -> bytes | None:
        """The applicant's phone number as sealed at registration (``None``: none on file, the
        applicant erased, or not registered here) — the result SMS's number (FZ·20)."""
        try:
            applicant: Aggregate = self.ledger.reference(applicant_id)
        except AggregateNotFoundError:
            return None
        if not isinstance(applicant, Applicant):
            return None
        phone = applicant.sealed("phone")
        return None if phone is None else phone.ciphertext

    def _sealed_address(
        self, applicant: Applicant, delivery: DeliveryMethod | str, address: str | None
    ) -> bytes | None:
        if address is not None:
            return self._seal_text(applicant.id, address)
        if delivery != DeliveryMethod.COURIER.value:
            return None
        registered = applicant.sealed("address")
        return None if registered is None else registered.ciphertext


def _with_grounds(
    params: dict[str, Any], grounds: Mapping[str, str] | None
) -> tuple[dict[str, Any], dict[str, str] | None]:
    """The command's parameters with its grounds (only when given, so a request without grounds
    keeps its idempotency digest), and the grounds as text for the domain to check."""
    if grounds is not None and not isinstance(grounds, Mapping):
        raise InvalidCaseStep("grounds", "must map material codes to grounds")
    coded = None if grounds is None else {str(k): str(v) for k, v in grounds.items()}
    return (params | {"grounds": coded}) if coded else params, coded


def _digest(command: str, params: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(canonical({"command": command, "params": dict(params)})).digest()


def _outcome(case: Case, issued: list[SignedDocument]) -> Outcome:
    return Outcome(
        case_id=case.id,
        serial=case.serial,
        approval_code=case.approval_code,
        state=case.state,
        version=case.version,
        document=issued[-1] if issued else None,
    )
