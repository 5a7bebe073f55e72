"""Domain commands over HTTP: departments, catalogue, applicants, materials, e-certificates,
ratings, appointments, consultations and complaints, blacklist, supervision orders.

Layer: api (HTTP). One router per resource, gathered in ``router``. Each endpoint resolves who
signs (``routes_common.Wiring``), keeps a department token to its own department (404
otherwise), and calls the application services (``ledger.services.domain_services``) — no rule lives
here. Every POST takes ``Idempotency-Key``.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from fastapi import APIRouter, Depends, File, Header, Path, Query, UploadFile, status

from api.http import command as commands
from api.http.context import ApiContext
from api.http.deps import Admin, require
from api.http.problems import Problem
from api.http.routes_common import (
    SUPERVISION_OFFICE,
    IdempotencyKey,
    Wired,
    Wiring,
    edge,
    in_scope,
    jsonable,
    respond,
)
from api.http.routes_common import (
    install as install_wiring,
)
from api.http.routes_privacy import (
    MAX_PURPOSE_HEADER,
    hidden,
    personal_data,
    purpose_of,
)
from api.http.schemas_domain import (
    AppealCreate,
    AppealDecision,
    ApplicantCreate,
    ApplicantPublic,
    AuthenticationChange,
    BlacklistCreate,
    BookingCreate,
    BookingRefusal,
    CertificateIssue,
    CertificateRevoke,
    CertificateUpdate,
    ConsultationAnswer,
    ConsultationCreate,
    DepartmentCreate,
    DisputeAnswer,
    DisputeCreate,
    ErasureCreate,
    GuidePublish,
    MaterialPublic,
    NoticeReceipt,
    OrderAnswer,
    OrderClose,
    OrderCreate,
    RatingCreate,
    RatingDispute,
    RatingDisputeDecision,
    RatingNote,
    RatingRectify,
    Recorded,
    RemovalCreate,
    SlotCreate,
    UntrueFinding,
)
from api.tokens import Principal, Role
from ledger.domain.applicants import Applicant, AuthenticationLevel
from ledger.domain.cases import Case
from ledger.domain.catalogue import Guide, ServiceItem
from ledger.domain.departments import Department
from ledger.domain.identity import CredentialError, parse_credential
from ledger.domain.keys import KeyRole
from ledger.domain.personal_data import Erased, PersonalData
from ledger.domain.rules import InvalidSerial
from ledger.domain.sealed import SealedRecord
from ledger.errors import LedgerError
from ledger.services.cases import CaseNotFound
from ledger.services.personal_data import UnknownApplicant

router = APIRouter()

Department_ = Annotated[Principal, Depends(require(Role.DEPARTMENT))]
ApplicantSide = Annotated[Principal, Depends(require(Role.DEPARTMENT, Role.KIOSK))]
Supervisor = Annotated[Principal, Depends(require(Role.SUPERVISOR))]
Reader = Annotated[Principal, Depends(require(Role.DEPARTMENT, Role.SUPERVISOR))]
CheckIn = Annotated[Principal, Depends(require(Role.DEPARTMENT, Role.KIOSK))]
Purpose = Annotated[
    str | None,
    Header(
        alias="X-Purpose",
        max_length=MAX_PURPOSE_HEADER,
        description="Why personal data is read (required for unmasked reads; recorded in the "
        "chain): printable text, at most 200 characters. Percent-encode non-ASCII text "
        "(UTF-8).",
    ),
]
Id = Annotated[UUID, Path()]

_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such record (or another department's)."},
    409: {"description": "The record's state does not allow the command."},
    422: {"description": "A rule refused the command (`rule`) or a field is invalid."},
}
command = partial(commands.command, responses=_ANSWERS)
"""A command endpoint of this module (:func:`api.http.command.command`), answering as
``_ANSWERS`` says unless it names its own ``responses``."""


def install(ctx: ApiContext) -> None:
    install_wiring(ctx)


def _invalid(field: str, message: str) -> Problem:
    return Problem(422, "Validation error", f"{field}: {message}", code="validation", field=field)


def _dept(who: Principal, department: str) -> str:
    """The department the caller acts for: its own, or (admin) the resource's."""
    return who.department if who.role is Role.DEPARTMENT else department


def _sealed(record: SealedRecord | None) -> dict[str, Any]:
    if record is None:
        return {}
    return {"sealed": jsonable(record.to_dict())}


def _case(wired: Wiring, who: Principal, serial: str) -> Case:
    try:
        with edge():
            case = wired.services.cases.case(serial)
    except InvalidSerial:
        raise CaseNotFound(f"serial: no case {serial}") from None
    in_scope(who, case.department)
    return case


# --- admin: departments --------------------------------------------------------------------

admin = APIRouter(prefix="/v1/admin", tags=["admin"])


@command(
    admin,
    "/departments",
    Recorded,
    "Enrol a department: create its seal key and register it (role: admin)",
    status=status.HTTP_201_CREATED,
    responses={409: {"description": "The department is registered already."}},
)
def enrol_department(body: DepartmentCreate, who: Admin, wired: Wired) -> Recorded:
    """Creates the department's seal key in the server's keystore (actor ``dept:<code>``),
    registers it in the chain, then registers the Department aggregate — both signed by the
    platform key. A fresh server is set up with this and ``POST /v1/catalogue/items``."""
    runtime = wired.ctx.runtime
    try:
        runtime.ledger.repository.get(Department.id_for(body.code))
    except AggregateNotFoundError:
        pass
    else:
        raise Problem(
            409, "Conflict", f"department {body.code} is registered already", code="exists"
        )
    with wired.enrol:
        try:
            seal = runtime.keystore.current_signer(f"dept:{body.code}")
        except LedgerError:
            from api.bootstrap import enrol_actor

            seal = enrol_actor(
                runtime, f"dept:{body.code}", KeyRole.DEPARTMENT, department=body.code
            )
    department = Department.register(body.code, body.name, body.city, seal.key_id)
    runtime.ledger.save_signed(department, signer=runtime.platform_signer())
    return Recorded(id=body.code, kind="department", detail={"seal_key_id": seal.key_id.hex()})


# --- catalogue -----------------------------------------------------------------------------

catalogue = APIRouter(prefix="/v1/catalogue", tags=["catalogue"])


@command(
    catalogue,
    "/items",
    Recorded,
    "Publish a service item's guide (version 1, or the next version) "
    "(role: department — its own items)",
    status=status.HTTP_201_CREATED,
)
def publish_item(body: GuidePublish, who: Department_, wired: Wired) -> Recorded:
    guide = Guide.from_dict(body.guide)
    in_scope(who, guide.department)
    signer = wired.department_signer(guide.department)
    ledger = wired.ctx.runtime.ledger
    try:
        item: Any = ledger.repository.get(ServiceItem.id_for(guide.implementation_code))
    except AggregateNotFoundError:
        item = ServiceItem.publish(guide)
        version = 1
    else:
        in_scope(who, item.current_guide.department)
        version = item.publish_version(guide)
    ledger.save_signed(item, signer=signer)
    return Recorded(id=guide.implementation_code, kind="service_item", detail={"version": version})


# --- applicants ----------------------------------------------------------------------------

applicants = APIRouter(prefix="/v1/applicants", tags=["applicants"])


def _applicant(wired: Wiring, applicant_id: UUID) -> Applicant:
    try:
        found: Any = wired.ctx.runtime.ledger.repository.get(applicant_id)
    except AggregateNotFoundError:
        found = None
    if not isinstance(found, Applicant):
        raise Problem(404, "Not found", f"applicant: no {applicant_id}", code="not-found")
    return found


@command(
    applicants,
    "",
    Recorded,
    "Register an applicant (credential and personal data sealed) "
    "(roles: department, kiosk; signed by the portal or the kiosk)",
    status=status.HTTP_201_CREATED,
)
def register_applicant(body: ApplicantCreate, who: ApplicantSide, wired: Wired) -> Recorded:
    try:
        credential = parse_credential(body.credential_kind, body.credential, body.country)
    except CredentialError as exc:
        raise _invalid("credential", str(exc)) from None
    applicant = Applicant.register(
        wired.services.vault,
        kind=body.kind,
        credential=credential,
        personal=PersonalData(body.name, body.phone, body.address),
        level=body.authentication_level,
        method=body.authentication_method,
    )
    wired.ctx.runtime.ledger.save_signed(applicant, signer=wired.applicant_signer(who))
    return Recorded(
        id=str(applicant.id),
        kind="applicant",
        detail={"authentication_level": applicant.authentication_level.value},
    )


@command(
    applicants,
    "/{applicant_id}/authentication",
    Recorded,
    "Raise or lower an applicant's authentication level (roles: department, kiosk)",
)
def change_authentication(
    applicant_id: Id, body: AuthenticationChange, who: ApplicantSide, wired: Wired
) -> Recorded:
    applicant = _applicant(wired, applicant_id)
    try:
        level = AuthenticationLevel(body.level)
    except ValueError:
        raise _invalid("level", f"one of {[v.value for v in AuthenticationLevel]}") from None
    if level.rank > applicant.authentication_level.rank:
        applicant.raise_authentication(level, body.method or "")
    else:
        applicant.lower_authentication(level, body.reason)
    wired.ctx.runtime.ledger.save_signed(applicant, signer=wired.applicant_signer(who))
    return Recorded(
        id=str(applicant.id),
        kind="applicant",
        detail={"authentication_level": applicant.authentication_level.value},
    )


@command(
    applicants,
    "/{applicant_id}/erasure",
    Recorded,
    "Erase an applicant's personal data: record it, destroy the data key (role: admin)",
)
def erase_applicant(applicant_id: Id, body: ErasureCreate, who: Admin, wired: Wired) -> Recorded:
    applicant = _applicant(wired, applicant_id)
    applicant.erase(body.reason)
    wired.ctx.runtime.ledger.save_signed(applicant, signer=wired.platform_signer())
    wired.services.vault.erase(applicant.id)
    return Recorded(id=str(applicant.id), kind="applicant", detail={"erased": True})


def _masked(value: str | Erased | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, Erased):
        return str(value)
    return value[0] + "*" * (len(value) - 2) + value[-1] if len(value) > 2 else "*" * len(value)


@applicants.get(
    "/{applicant_id}",
    response_model=ApplicantPublic,
    summary="An applicant, masked; ?unmasked=true needs X-Purpose and is recorded in the "
    "chain (GZ20·25) (roles: department — holding a case of the applicant, or a grant — "
    "supervisor, masked only)",
    responses={
        404: {"description": "No such applicant, or none the caller may read."},
        422: {
            "description": "X-Purpose missing or not printable text (purpose-required, "
            "invalid-purpose)."
        },
    },
)
def read_applicant(
    applicant_id: Id,
    who: Reader,
    wired: Wired,
    purpose: Purpose = None,
    unmasked: Annotated[bool, Query()] = False,
) -> ApplicantPublic:
    """Least privilege (``ledger.services.personal_data``): a department reads an applicant
    it holds a case of, or has a grant for — anything else is 404 with the body of another
    department's case; supervisors and admin read masked data only. A clear read is
    recorded (who, whose, which fields, why, on what basis) before it is answered."""
    service = personal_data(wired)
    try:
        applicant = service.applicant(applicant_id)
    except UnknownApplicant:
        raise hidden() from None
    department = who.department if who.role is Role.DEPARTMENT else None
    basis = service.basis(applicant.id, department=department, at=wired.now())
    if basis is None or (unmasked and not basis.clear):
        raise hidden()
    reason = purpose_of(purpose) if unmasked else None  # 422 before anything is decrypted
    data = applicant.personal_data(wired.services.vault)
    clear = unmasked and not applicant.erased
    if clear:
        service.record_read(
            applicant.id,
            list(PersonalData.FIELDS),
            basis=basis,
            reader=who.token_id,
            reader_role=who.role.value,
            reader_department=who.department,
            purpose=reason,
            signer=wired.reader_signer(who),
        )
        show = lambda v: None if v is None else str(v)  # noqa: E731
    else:
        show = _masked
    return ApplicantPublic(
        id=str(applicant.id),
        kind=applicant.kind.value,
        authentication_level=applicant.authentication_level.value,
        erased=applicant.erased,
        unmasked=clear,
        name=show(data.name),
        phone=show(data.phone),
        address=show(data.address),
    )


# --- materials -----------------------------------------------------------------------------

materials = APIRouter(prefix="/v1/materials", tags=["materials"])


@materials.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MaterialPublic,
    summary="Upload a material (multipart field `file`; PDF, PNG, JPEG, OFD, XML, JSON; "
    "the bytes must match the declared type) (roles: department, kiosk)",
    responses={413: {"description": "Larger than the server's body limit."}, **_ANSWERS},
)
async def upload_material(
    who: ApplicantSide,
    wired: Wired,
    file: Annotated[UploadFile, File(description="The material's bytes")],
    key: IdempotencyKey = None,
) -> Any:
    data = await file.read()
    media_type = (file.content_type or "").split(";", 1)[0].strip()

    def action() -> MaterialPublic:
        ref = wired.services.cases.upload(data, media_type)
        return MaterialPublic(sha256=ref.hex, size=ref.size, media_type=ref.media_type)

    import hashlib

    params = {"sha256": hashlib.sha256(data).hexdigest(), "media_type": media_type}
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(
        respond, wired, who, key, "upload_material", params, action, status=201
    )


# --- e-certificates ------------------------------------------------------------------------

certificates = APIRouter(prefix="/v1/certificates", tags=["certificates"])


@command(
    certificates,
    "",
    Recorded,
    "Issue the e-certificate of a decided case (version 001), recorded on the case "
    "(role: department)",
    status=status.HTTP_201_CREATED,
)
def issue_certificate(body: CertificateIssue, who: Department_, wired: Wired) -> Recorded:
    case = _case(wired, who, body.case_serial)
    department = _dept(who, case.department)
    certificate = wired.certificates.issue(
        signer=wired.acting_signer(who, department),
        department=department,
        case_id=case.id,
        case_serial=case.serial,
        case_department=case.department,
        case_decided=case.approved,
        holder=case.applicant_id,
        type_code=body.type_code,
        serial=body.serial,
        content=body.content,
        at=wired.now(),
        issuer_code=body.issuer_code,
        case=case,
    )
    return Recorded(id=certificate.identifier, kind="certificate")


def _certificate_department(wired: Wiring, who: Principal, identifier: str) -> str:
    try:
        with edge():
            certificate = wired.certificates.certificate(identifier)
    except LedgerError:  # a malformed identifier names no certificate either
        raise Problem(404, "Not found", f"certificate: no {identifier}", code="not-found") from None
    in_scope(who, certificate.issuer_department)
    return _dept(who, certificate.issuer_department)


@command(
    certificates,
    "/{identifier}/versions",
    Recorded,
    "Update: issue the next version with a reason (role: department — the issuer)",
    status=status.HTTP_201_CREATED,
)
def update_certificate(
    identifier: str, body: CertificateUpdate, who: Department_, wired: Wired
) -> Recorded:
    department = _certificate_department(wired, who, identifier)
    new = wired.certificates.update(
        identifier,
        signer=wired.acting_signer(who, department),
        department=department,
        content=body.content,
        reason=body.reason,
        at=wired.now(),
    )
    return Recorded(id=new, kind="certificate")


@command(
    certificates,
    "/{identifier}/revocation",
    Recorded,
    "Revoke the certificate with a reason (role: department — the issuer)",
)
def revoke_certificate(
    identifier: str, body: CertificateRevoke, who: Department_, wired: Wired
) -> Recorded:
    department = _certificate_department(wired, who, identifier)
    wired.certificates.revoke(
        identifier,
        signer=wired.acting_signer(who, department),
        department=department,
        reason=body.reason,
        at=wired.now(),
    )
    return Recorded(id=identifier, kind="certificate", detail={"revoked": True})


def _using_department(who: Principal, **_: Any) -> None:
    """A dispute is raised by a using department: 403 for anyone else (checked before the
    Idempotency-Key is claimed)."""
    if who.role is not Role.DEPARTMENT:
        raise Problem(
            403, "Forbidden", "a dispute is raised by a using department", code="forbidden"
        )


@command(
    certificates,
    "/{identifier}/disputes",
    Recorded,
    "A using department objects to a certificate (异议, GZ20·23) (role: department)",
    status=status.HTTP_201_CREATED,
    check=_using_department,
)
def dispute_certificate(
    identifier: str, body: DisputeCreate, who: Department_, wired: Wired
) -> Recorded:
    dispute = wired.certificates.raise_dispute(
        identifier,
        signer=wired.acting_signer(who, who.department),
        department=who.department,
        reasons=body.reasons,
        evidence=list(body.evidence),
        at=wired.now(),
    )
    return Recorded(id=str(dispute.id), kind="certificate_dispute")


@command(
    certificates,
    "/disputes/{dispute_id}/answer",
    Recorded,
    "The issuer upholds (corrects by an update) or rejects a dispute "
    "(role: department — the issuer)",
)
def answer_dispute(dispute_id: Id, body: DisputeAnswer, who: Department_, wired: Wired) -> Recorded:
    with edge():
        dispute = wired.certificates.dispute(dispute_id)
        certificate: Any = wired.ctx.runtime.ledger.repository.get(dispute.certificate_id)
    in_scope(who, certificate.issuer_department)
    department = _dept(who, certificate.issuer_department)
    signer = wired.acting_signer(who, department)
    if body.upheld:
        if body.content is None:
            raise _invalid("content", "an upheld dispute corrects the content")
        new = wired.certificates.uphold_dispute(
            dispute_id,
            signer=signer,
            department=department,
            content=body.content,
            reason=body.reason or body.answer,
            answer=body.answer,
            at=wired.now(),
        )
        return Recorded(id=str(dispute_id), kind="certificate_dispute", detail={"new": new})
    wired.certificates.reject_dispute(
        dispute_id, signer=signer, department=department, answer=body.answer, at=wired.now()
    )
    return Recorded(id=str(dispute_id), kind="certificate_dispute", detail={"new": None})


# --- ratings -------------------------------------------------------------------------------

ratings = APIRouter(prefix="/v1/cases/{serial}/rating", tags=["ratings"])


@command(
    ratings,
    "",
    Recorded,
    "Rate a case (好差评), or follow up on an earlier rating "
    "(roles: department for the portal, kiosk)",
    status=status.HTTP_201_CREATED,
)
def rate(serial: str, body: RatingCreate, who: ApplicantSide, wired: Wired) -> Recorded:
    case = _case(wired, who, serial)
    rating = wired.ratings.rate(
        signer=wired.applicant_signer(who),
        case_id=case.id,
        case_serial=case.serial,
        department=case.department,
        applicant_id=body.applicant_id,
        system=body.system,
        code=body.code,
        channel=body.channel,
        reason=body.reason,
        at=wired.now(),
    )
    return Recorded(id=str(rating.id), kind="rating", detail={"version": rating.version})


def _rating_case(wired: Wiring, who: Principal, serial: str) -> tuple[Case, str]:
    case = _case(wired, who, serial)
    return case, _dept(who, case.department)


@command(
    ratings,
    "/callback",
    Recorded,
    "Record the department's callback on a bad rating (role: department)",
)
def rating_callback(serial: str, body: RatingNote, who: Department_, wired: Wired) -> Recorded:
    case, department = _rating_case(wired, who, serial)
    wired.ratings.record_callback(
        case.id,
        signer=wired.acting_signer(who, department),
        department=department,
        kind=body.kind,
        note=body.note,
        at=wired.now(),
    )
    return Recorded(id=str(case.id), kind="rating", detail={"callback": True})


@command(
    ratings,
    "/rectification",
    Recorded,
    "Record the rectification of a bad rating, sealed (role: department)",
)
def rating_rectify(serial: str, body: RatingRectify, who: Department_, wired: Wired) -> Recorded:
    case, department = _rating_case(wired, who, serial)
    wired.ratings.rectify(
        case.id,
        signer=wired.acting_signer(who, department),
        department=department,
        kind=body.kind,
        measures=body.measures,
        at=wired.now(),
    )
    return Recorded(id=str(case.id), kind="rating", detail={"rectified": True})


@command(
    ratings,
    "/disputes",
    Recorded,
    "The department disputes a rating as untrue (role: department)",
)
def rating_dispute(serial: str, body: RatingDispute, who: Department_, wired: Wired) -> Recorded:
    case, department = _rating_case(wired, who, serial)
    wired.ratings.dispute(
        case.id,
        signer=wired.acting_signer(who, department),
        department=department,
        kind=body.kind,
        reasons=body.reasons,
        evidence=list(body.evidence),
        at=wired.now(),
    )
    return Recorded(id=str(case.id), kind="rating", detail={"disputed": True})


@command(ratings, "/dispute-decision", Recorded, "Decide a rating dispute (role: supervisor)")
def rating_dispute_decision(
    serial: str, body: RatingDisputeDecision, who: Supervisor, wired: Wired
) -> Recorded:
    case = _case(wired, who, serial)
    wired.ratings.decide_dispute(
        case.id,
        signer=wired.supervising_signer(who),
        kind=body.kind,
        upheld=body.upheld,
        reasons=body.reasons,
        at=wired.now(),
        office=SUPERVISION_OFFICE,
    )
    return Recorded(id=str(case.id), kind="rating", detail={"upheld": body.upheld})


# --- appointments --------------------------------------------------------------------------

appointments = APIRouter(prefix="/v1/appointment-slots", tags=["appointments"])


def _slot_department(wired: Wiring, who: Principal, slot_id: UUID) -> str:
    with edge():
        slot = wired.appointments.slot(slot_id)
    in_scope(who, slot.department)
    return slot.department


@command(
    appointments,
    "",
    Recorded,
    "Open an appointment slot at a hall (role: department)",
    status=status.HTTP_201_CREATED,
)
def open_slot(body: SlotCreate, who: Department_, wired: Wired) -> Recorded:
    department = (
        who.department
        if who.role is Role.DEPARTMENT
        else _item_department(wired, body.service_item)
    )
    slot = wired.appointments.open_slot(
        signer=wired.acting_signer(who, department),
        department=department,
        hall=body.hall,
        service_item=body.service_item,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        capacity=body.capacity,
    )
    return Recorded(id=str(slot.id), kind="appointment_slot")


def _item_department(wired: Wiring, code: str) -> str:
    try:
        item: Any = wired.ctx.runtime.ledger.repository.get(ServiceItem.id_for(code))
    except AggregateNotFoundError:
        raise Problem(404, "Not found", f"service_item: no {code}", code="not-found") from None
    return str(item.current_guide.department)


@command(
    appointments,
    "/{slot_id}/bookings",
    Recorded,
    "Book a slot for an applicant (roles: department for the portal, kiosk)",
    status=status.HTTP_201_CREATED,
)
def book(slot_id: Id, body: BookingCreate, who: ApplicantSide, wired: Wired) -> Recorded:
    _slot_department(wired, who, slot_id)
    booking = wired.appointments.book(
        slot_id, signer=wired.applicant_signer(who), applicant_id=body.applicant_id, at=wired.now()
    )
    return Recorded(id=str(booking), kind="booking", detail={"slot_id": str(slot_id)})


@command(
    appointments,
    "/{slot_id}/bookings/{booking_id}/cancellation",
    Recorded,
    "Cancel a booking (roles: department for the portal, kiosk)",
)
def cancel_booking(slot_id: Id, booking_id: Id, who: ApplicantSide, wired: Wired) -> Recorded:
    _slot_department(wired, who, slot_id)
    wired.appointments.cancel(
        slot_id, signer=wired.applicant_signer(who), booking_id=booking_id, at=wired.now()
    )
    return Recorded(id=str(booking_id), kind="booking", detail={"status": "cancelled"})


@command(
    appointments,
    "/{slot_id}/bookings/{booking_id}/check-in",
    Recorded,
    "Check in at the hall (roles: kiosk, department at its window)",
)
def check_in(slot_id: Id, booking_id: Id, who: CheckIn, wired: Wired) -> Recorded:
    department = _slot_department(wired, who, slot_id)
    signer = (
        wired.kiosk_signer(who)
        if who.role is Role.KIOSK
        else wired.acting_signer(who, _dept(who, department))
    )
    wired.appointments.check_in(slot_id, signer=signer, booking_id=booking_id, at=wired.now())
    return Recorded(id=str(booking_id), kind="booking", detail={"status": "checked_in"})


@command(
    appointments,
    "/{slot_id}/bookings/{booking_id}/refusal",
    Recorded,
    "Refuse a booked applicant on a lawful ground (role: department)",
)
def refuse_booking(
    slot_id: Id, booking_id: Id, body: BookingRefusal, who: Department_, wired: Wired
) -> Recorded:
    department = _dept(who, _slot_department(wired, who, slot_id))
    wired.appointments.refuse(
        slot_id,
        signer=wired.acting_signer(who, department),
        booking_id=booking_id,
        ground=body.ground,
        details=body.details,
        at=wired.now(),
    )
    return Recorded(id=str(booking_id), kind="booking", detail={"status": "refused"})


@command(
    appointments,
    "/{slot_id}/no-shows",
    Recorded,
    "After the slot, record its no-shows (roles: department; admin signs as platform)",
)
def record_no_shows(slot_id: Id, who: Department_, wired: Wired) -> Recorded:
    department = _slot_department(wired, who, slot_id)
    signer = (
        wired.platform_signer() if who.role is Role.ADMIN else wired.acting_signer(who, department)
    )
    missed = wired.appointments.record_no_shows(slot_id, signer=signer, at=wired.now())
    return Recorded(
        id=str(slot_id), kind="appointment_slot", detail={"no_shows": [str(b) for b in missed]}
    )


# --- consultations and complaints ----------------------------------------------------------

consultations = APIRouter(prefix="/v1/consultations", tags=["consultations"])


def _consultation_department(wired: Wiring, who: Principal, consultation_id: UUID) -> str:
    with edge():
        consultation = wired.consultations.consultation(consultation_id)
    in_scope(who, consultation.department)
    return _dept(who, consultation.department)


@command(
    consultations,
    "",
    Recorded,
    "Receive a consultation, complaint or suggestion (12345) (roles: department for "
    "the portal, kiosk; admin signs as platform)",
    status=status.HTTP_201_CREATED,
)
def receive_consultation(body: ConsultationCreate, who: ApplicantSide, wired: Wired) -> Recorded:
    signer = wired.platform_signer() if who.role is Role.ADMIN else wired.applicant_signer(who)
    consultation = wired.consultations.receive(
        signer=signer,
        kind=body.kind,
        channel=body.channel,
        department=body.department,
        applicant_id=body.applicant_id,
        summary=body.summary,
        at=wired.now(),
        case_serial=body.case_serial,
    )
    return Recorded(
        id=str(consultation.id), kind="consultation", detail={"department": body.department}
    )


@command(
    consultations,
    "/{consultation_id}/answer",
    Recorded,
    "Answer a consultation or complaint, sealed (role: department — the addressee)",
)
def answer_consultation(
    consultation_id: Id, body: ConsultationAnswer, who: Department_, wired: Wired
) -> Recorded:
    department = _consultation_department(wired, who, consultation_id)
    record = wired.consultations.answer(
        consultation_id,
        signer=wired.acting_signer(who, department),
        department=department,
        answer=body.answer,
        at=wired.now(),
    )
    return Recorded(id=str(consultation_id), kind="consultation", detail=_sealed(record))


@command(
    consultations,
    "/{consultation_id}/untrue",
    Recorded,
    "Find a complaint untrue, with reasons and evidence (role: department)",
)
def find_untrue(
    consultation_id: Id, body: UntrueFinding, who: Department_, wired: Wired
) -> Recorded:
    department = _consultation_department(wired, who, consultation_id)
    wired.consultations.find_untrue(
        consultation_id,
        signer=wired.acting_signer(who, department),
        department=department,
        reasons=body.reasons,
        evidence=list(body.evidence),
        at=wired.now(),
    )
    return Recorded(id=str(consultation_id), kind="consultation", detail={"untrue": True})


# --- blacklist -----------------------------------------------------------------------------

blacklist = APIRouter(prefix="/v1/blacklist", tags=["blacklist"])


@command(
    blacklist,
    "",
    Recorded,
    "Blacklist an applicant with a sealed notice (GZ16·22) (role: supervisor)",
    status=status.HTTP_201_CREATED,
    name="blacklist",
)
def blacklist_applicant(body: BlacklistCreate, who: Supervisor, wired: Wired) -> Recorded:
    notice = wired.blacklist.blacklist(
        body.applicant_id,
        signer=wired.supervising_signer(who),
        authority=SUPERVISION_OFFICE,
        ground=body.ground,
        facts=body.facts,
        details=body.details,
        at=wired.now(),
        credit_referral=body.credit_referral,
    )
    return Recorded(id=str(body.applicant_id), kind="blacklisting", detail=_sealed(notice))


@command(
    blacklist,
    "/{applicant_id}/appeals",
    Recorded,
    "The applicant appeals a blacklisting (roles: department for the portal, kiosk)",
)
def lodge_appeal(
    applicant_id: Id, body: AppealCreate, who: ApplicantSide, wired: Wired
) -> Recorded:
    wired.blacklist.lodge_appeal(
        applicant_id,
        signer=wired.applicant_signer(who),
        reasons=body.reasons,
        evidence=list(body.evidence),
        at=wired.now(),
    )
    return Recorded(id=str(applicant_id), kind="blacklisting", detail={"appealed": True})


@command(
    blacklist,
    "/{applicant_id}/notice-receipt",
    Recorded,
    "Record when the applicant received the notice or learned of the decision; the appeal "
    "period runs from then (GZ16·22, PY·28) (role: supervisor)",
)
def record_notice_receipt(
    applicant_id: Id, body: NoticeReceipt, who: Supervisor, wired: Wired
) -> Recorded:
    due = wired.blacklist.record_notice_receipt(
        applicant_id,
        signer=wired.supervising_signer(who),
        authority=SUPERVISION_OFFICE,
        received_on=body.received_on,
        how=body.how,
        evidence=list(body.evidence),
        at=wired.now(),
    )
    return Recorded(
        id=str(applicant_id), kind="blacklisting", detail={"appeal_due": due.isoformat()}
    )


@command(
    blacklist,
    "/{applicant_id}/appeal-decision",
    Recorded,
    "Decide an appeal, sealed (role: supervisor)",
)
def decide_appeal(
    applicant_id: Id, body: AppealDecision, who: Supervisor, wired: Wired
) -> Recorded:
    decision = wired.blacklist.decide_appeal(
        applicant_id,
        signer=wired.supervising_signer(who),
        authority=SUPERVISION_OFFICE,
        unintentional=body.unintentional,
        reasons=body.reasons,
        at=wired.now(),
    )
    return Recorded(id=str(applicant_id), kind="blacklisting", detail=_sealed(decision))


@command(
    blacklist,
    "/{applicant_id}/removal",
    Recorded,
    "Remove an applicant from the blacklist, sealed (role: supervisor)",
)
def remove_from_blacklist(
    applicant_id: Id, body: RemovalCreate, who: Supervisor, wired: Wired
) -> Recorded:
    decision = wired.blacklist.remove(
        applicant_id,
        signer=wired.supervising_signer(who),
        authority=SUPERVISION_OFFICE,
        reasons=body.reasons,
        evidence=list(body.evidence),
        at=wired.now(),
    )
    return Recorded(id=str(applicant_id), kind="blacklisting", detail=_sealed(decision))


# --- supervision orders --------------------------------------------------------------------

supervision = APIRouter(prefix="/v1/supervision/orders", tags=["supervision"])


@command(
    supervision,
    "",
    Recorded,
    "Issue a supervision order (督办) to a department (role: supervisor)",
    status=status.HTTP_201_CREATED,
)
def issue_order(body: OrderCreate, who: Supervisor, wired: Wired) -> Recorded:
    case_id = None
    if body.case_serial:
        case_id = _case(wired, who, body.case_serial).id
    extra: dict[str, Any] = {}
    if body.answer_days is not None:
        extra["answer_days"] = body.answer_days
    order = wired.supervision.issue(
        signer=wired.supervising_signer(who),
        department=body.department,
        reason=body.reason,
        details=body.details,
        at=wired.now(),
        case_id=case_id,
        case_serial=body.case_serial,
        office=SUPERVISION_OFFICE,
        **extra,
    )
    return Recorded(id=str(order.id), kind="supervision_order")


@command(
    supervision,
    "/{order_id}/answer",
    Recorded,
    "The department answers a supervision order, sealed (role: department)",
)
def answer_order(order_id: Id, body: OrderAnswer, who: Department_, wired: Wired) -> Recorded:
    with edge():
        order = wired.supervision.order(order_id)
    in_scope(who, order.department)
    department = _dept(who, order.department)
    record = wired.supervision.answer(
        order_id,
        signer=wired.acting_signer(who, department),
        department=department,
        answer=body.answer,
        at=wired.now(),
    )
    return Recorded(id=str(order_id), kind="supervision_order", detail=_sealed(record))


@command(
    supervision,
    "/{order_id}/close",
    Recorded,
    "Close a supervision order with a conclusion (role: supervisor)",
)
def close_order(order_id: Id, body: OrderClose, who: Supervisor, wired: Wired) -> Recorded:
    wired.supervision.close(
        order_id,
        signer=wired.supervising_signer(who),
        conclusion=body.conclusion,
        at=wired.now(),
        office=SUPERVISION_OFFICE,
    )
    return Recorded(id=str(order_id), kind="supervision_order", detail={"closed": True})


for _resource in (
    admin,
    catalogue,
    applicants,
    materials,
    certificates,
    ratings,
    appointments,
    consultations,
    blacklist,
    supervision,
):
    router.include_router(_resource)
