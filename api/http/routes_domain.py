"""Domain commands over HTTP: departments, catalogue, applicants, materials, e-certificates,
ratings, appointments, consultations and complaints, blacklist, supervision orders.

Layer: api (HTTP). One router per resource, gathered in ``router``. Each endpoint resolves who
signs (``routes_common.Wiring``), keeps a department token to its own department (404
otherwise), and calls the application services (``ledger.services.domain_services``) — no rule lives
here. Every POST takes ``Idempotency-Key``.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from fastapi import APIRouter, Depends, File, Header, Path, Query, UploadFile, status

from api.http.context import ApiContext
from api.http.deps import Admin, require
from api.http.problems import Problem
from api.http.routes_common import (
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


@admin.post(
    "/departments",
    status_code=status.HTTP_201_CREATED,
    response_model=Recorded,
    summary="Enrol a department: create its seal key and register it (role: admin)",
    responses={409: {"description": "The department is registered already."}},
)
def enrol_department(
    body: DepartmentCreate, who: Admin, wired: Wired, key: IdempotencyKey = None
) -> Any:
    """Creates the department's seal key in the server's keystore (actor ``dept:<code>``),
    registers it in the chain, then registers the Department aggregate — both signed by the
    platform key. A fresh server is set up with this and ``POST /v1/catalogue/items``."""

    def action() -> Recorded:
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

    return respond(wired, who, key, "enrol_department", body.model_dump(), action, status=201)


# --- catalogue -----------------------------------------------------------------------------

catalogue = APIRouter(prefix="/v1/catalogue", tags=["catalogue"])


@catalogue.post(
    "/items",
    status_code=status.HTTP_201_CREATED,
    response_model=Recorded,
    summary="Publish a service item's guide (version 1, or the next version) "
    "(role: department — its own items)",
    responses=_ANSWERS,
)
def publish_item(
    body: GuidePublish, who: Department_, wired: Wired, key: IdempotencyKey = None
) -> Any:
    def action() -> Recorded:
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
        return Recorded(
            id=guide.implementation_code, kind="service_item", detail={"version": version}
        )

    return respond(wired, who, key, "publish_item", body.model_dump(), action, status=201)


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


@applicants.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Recorded,
    summary="Register an applicant (credential and personal data sealed) "
    "(roles: department, kiosk; signed by the portal or the kiosk)",
    responses=_ANSWERS,
)
def register_applicant(
    body: ApplicantCreate, who: ApplicantSide, wired: Wired, key: IdempotencyKey = None
) -> Any:
    def action() -> Recorded:
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

    return respond(wired, who, key, "register_applicant", body.model_dump(), action, status=201)


@applicants.post(
    "/{applicant_id}/authentication",
    response_model=Recorded,
    summary="Raise or lower an applicant's authentication level (roles: department, kiosk)",
    responses=_ANSWERS,
)
def change_authentication(
    applicant_id: Id,
    body: AuthenticationChange,
    who: ApplicantSide,
    wired: Wired,
    key: IdempotencyKey = None,
) -> Any:
    def action() -> Recorded:
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

    params = {"applicant_id": applicant_id, **body.model_dump()}
    return respond(wired, who, key, "change_authentication", params, action)


@applicants.post(
    "/{applicant_id}/erasure",
    response_model=Recorded,
    summary="Erase an applicant's personal data: record it, destroy the data key (role: admin)",
    responses=_ANSWERS,
)
def erase_applicant(
    applicant_id: Id, body: ErasureCreate, who: Admin, wired: Wired, key: IdempotencyKey = None
) -> Any:
    def action() -> Recorded:
        applicant = _applicant(wired, applicant_id)
        applicant.erase(body.reason)
        wired.ctx.runtime.ledger.save_signed(applicant, signer=wired.platform_signer())
        wired.services.vault.erase(applicant.id)
        return Recorded(id=str(applicant.id), kind="applicant", detail={"erased": True})

    params = {"applicant_id": applicant_id, **body.model_dump()}
    return respond(wired, who, key, "erase_applicant", params, action)


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


@certificates.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Recorded,
    summary="Issue the e-certificate of a decided case (version 001), recorded on the case "
    "(role: department)",
    responses=_ANSWERS,
)
def issue_certificate(
    body: CertificateIssue, who: Department_, wired: Wired, key: IdempotencyKey = None
) -> Any:
    def action() -> Recorded:
        case = _case(wired, who, body.case_serial)
        department = _dept(who, case.department)
        certificate = wired.certificates.issue(
            signer=wired.department_signer(department),
            department=department,
            case_id=case.id,
            case_serial=case.serial,
            case_department=case.department,
            case_decided=case.decided_on is not None,
            holder=case.applicant_id,
            type_code=body.type_code,
            serial=body.serial,
            content=body.content,
            at=wired.now(),
            issuer_code=body.issuer_code,
            case=case,
        )
        return Recorded(id=certificate.identifier, kind="certificate")

    return respond(wired, who, key, "issue_certificate", body.model_dump(), action, status=201)


def _certificate_department(wired: Wiring, who: Principal, identifier: str) -> str:
    try:
        with edge():
            certificate = wired.certificates.certificate(identifier)
    except LedgerError:  # a malformed identifier names no certificate either
        raise Problem(404, "Not found", f"certificate: no {identifier}", code="not-found") from None
    in_scope(who, certificate.issuer_department)
    return _dept(who, certificate.issuer_department)


@certificates.post(
    "/{identifier}/versions",
    status_code=status.HTTP_201_CREATED,
    response_model=Recorded,
    summary="Update: issue the next version with a reason (role: department — the issuer)",
    responses=_ANSWERS,
)
def update_certificate(
    identifier: str,
    body: CertificateUpdate,
    who: Department_,
    wired: Wired,
    key: IdempotencyKey = None,
) -> Any:
    def action() -> Recorded:
        department = _certificate_department(wired, who, identifier)
        new = wired.certificates.update(
            identifier,
            signer=wired.department_signer(department),
            department=department,
            content=body.content,
            reason=body.reason,
            at=wired.now(),
        )
        return Recorded(id=new, kind="certificate")

    params = {"identifier": identifier, **body.model_dump()}
    return respond(wired, who, key, "update_certificate", params, action, status=201)


@certificates.post(
    "/{identifier}/revocation",
    response_model=Recorded,
    summary="Revoke the certificate with a reason (role: department — the issuer)",
    responses=_ANSWERS,
)
def revoke_certificate(
    identifier: str,
    body: CertificateRevoke,
    who: Department_,
    wired: Wired,
    key: IdempotencyKey = None,
) -> Any:
    def action() -> Recorded:
        department = _certificate_department(wired, who, identifier)
        wired.certificates.revoke(
            identifier,
            signer=wired.department_signer(department),
            department=department,
            reason=body.reason,
            at=wired.now(),
        )
        return Recorded(id=identifier, kind="certificate", detail={"revoked": True})

    params = {"identifier": identifier, **body.model_dump()}
    return respond(wired, who, key, "revoke_certificate", params, action)


@certificates.post(
    "/{identifier}/disputes",
    status_code=status.HTTP_201_CREATED,
    response_model=Recorded,
    summary="A using department objects to a certificate (异议, GZ20·23) (role: department)",
    responses=_ANSWERS,
)
def dispute_certificate(
    identifier: str, body: DisputeCreate, who: Department_, wired: Wired, key: IdempotencyKey = None
) -> Any:
    if who.role is not Role.DEPARTMENT:
        raise Problem(
            403, "Forbidden", "a dispute is raised by a using department", code="forbidden"
        )

    def action() -> Recorded:
        dispute = wired.certificates.raise_dispute(
            identifier,
            signer=wired.department_signer(who.department),
            department=who.department,
            reasons=body.reasons,
            evidence=list(body.evidence),
            at=wired.now(),
        )
        return Recorded(id=str(dispute.id), kind="certificate_dispute")

    params = {"identifier": identifier, **body.model_dump()}
    return respond(wired, who, key, "dispute_certificate", params, action, status=201)


@certificates.post(
    "/disputes/{dispute_id}/answer",
    response_model=Recorded,
    summary="The issuer upholds (corrects by an update) or rejects a dispute "
    "(role: department — the issuer)",
    responses=_ANSWERS,
)
def answer_dispute(
    dispute_id: Id, body: DisputeAnswer, who: Department_, wired: Wired, key: IdempotencyKey = None
) -> Any:
    def action() -> Recorded:
        with edge():
            dispute = wired.certificates.dispute(dispute_id)
            certificate: Any = wired.ctx.runtime.ledger.repository.get(dispute.certificate_id)
        in_scope(who, certificate.issuer_department)
        department = _dept(who, certificate.issuer_department)
        signer = wired.department_signer(department)
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

    params = {"dispute_id": dispute_id, **body.model_dump()}
    return respond(wired, who, key, "answer_dispute", params, action)


# --- ratings -------------------------------------------------------------------------------

ratings = APIRouter(prefix="/v1/cases/{serial}/rating", tags=["ratings"])


@ratings.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Recorded,
    summary="Rate a case (好差评), or follow up on an earlier rating "
    "(roles: department for the portal, kiosk)",
    responses=_ANSWERS,
)
def rate(
    serial: str, body: RatingCreate, who: ApplicantSide, wired: Wired, key: IdempotencyKey = None
) -> Any:
    def action() -> Recorded:
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

    params = {"serial": serial, **body.model_dump()}
    return respond(wired, who, key, "rate", params, action, status=201)


def _rating_case(wired: Wiring, who: Principal, serial: str) -> tuple[Case, str]:
    case = _case(wired, who, serial)
    return case, _dept(who, case.department)


@ratings.post(
    "/callback",
    response_model=Recorded,
    summary="Record the department's callback on a bad rating (role: department)",
    responses=_ANSWERS,
)
def rating_callback(
    serial: str, body: RatingNote, who: Department_, wired: Wired, key: IdempotencyKey = None
) -> Any:
    def action() -> Recorded:
        case, department = _rating_case(wired, who, serial)
        wired.ratings.record_callback(
            case.id,
            signer=wired.department_signer(department),
            department=department,
            kind=body.kind,
            note=body.note,
            at=wired.now(),
        )
        return Recorded(id=str(case.id), kind="rating", detail={"callback": True})

    params = {"serial": serial, **body.model_dump()}
    return respond(wired, who, key, "rating_callback", params, action)


@ratings.post(
    "/rectification",
    response_model=Recorded,
    summary="Record the rectification of a bad rating, sealed (role: department)",
    responses=_ANSWERS,
)
def rating_rectify(
    serial: str, body: RatingRectify, who: Department_, wired: Wired, key: IdempotencyKey = None
) -> Any:
    def action() -> Recorded:
        case, department = _rating_case(wired, who, serial)
        wired.ratings.rectify(
            case.id,
            signer=wired.department_signer(department),
            department=department,
            kind=body.kind,
            measures=body.measures,
            at=wired.now(),
        )
        return Recorded(id=str(case.id), kind="rating", detail={"rectified": True})

    params = {"serial": serial, **body.model_dump()}
    return respond(wired, who, key, "rating_rectify", params, action)


@ratings.post(
    "/disputes",
    response_model=Recorded,
    summary="The department disputes a rating as untrue (role: department)",
    responses=_ANSWERS,
)
def rating_dispute(
    serial: str, body: RatingDispute, who: Department_, wired: Wired, key: IdempotencyKey = None
) -> Any:
    def action() -> Recorded:
        case, department = _rating_case(wired, who, serial)
        wired.ratings.dispute(
            case.id,
            signer=wired.department_signer(department),
            department=department,
            kind=body.kind,
            reasons=body.reasons,
            evidence=list(body.evidence),
            at=wired.now(),
        )
        return Recorded(id=str(case.id), kind="rating", detail={"disputed": True})

    params = {"serial": serial, **body.model_dump()}
    return respond(wired, who, key, "rating_dispute", params, action)


@ratings.post(
    "/dispute-decision",
    response_model=Recorded,
    summary="Decide a rating dispute (role: supervisor)",
    responses=_ANSWERS,
)
def rating_dispute_decision(
    serial: str,
    body: RatingDisputeDecision,
    who: Supervisor,
    wired: Wired,
    key: IdempotencyKey = None,
) -> Any:
    def action() -> Recorded:
        case = _case(wired, who, serial)
        wired.ratings.decide_dispute(
            case.id,
            signer=wired.supervisor_signer(),
            kind=body.kind,
            upheld=body.upheld,
            reasons=body.reasons,
            at=wired.now(),
        )
        return Recorded(id=str(case.id), kind="rating", detail={"upheld": body.upheld})

    params = {"serial": serial, **body.model_dump()}
    return respond(wired, who, key, "rating_dispute_decision", params, action)


# --- appointments --------------------------------------------------------------------------

appointments = APIRouter(prefix="/v1/appointment-slots", tags=["appointments"])


def _slot_department(wired: Wiring, who: Principal, slot_id: UUID) -> str:
    with edge():
        slot = wired.appointments.slot(slot_id)
    in_scope(who, slot.department)
    return slot.department


@appointments.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Recorded,
    summary="Open an appointment slot at a hall (role: department)",
    responses=_ANSWERS,
)
def open_slot(body: SlotCreate, who: Department_, wired: Wired, key: IdempotencyKey = None) -> Any:
    def action() -> Recorded:
        department = (
            who.department
            if who.role is Role.DEPARTMENT
            else _item_department(wired, body.service_item)
        )
        slot = wired.appointments.open_slot(
            signer=wired.department_signer(department),
            department=department,
            hall=body.hall,
            service_item=body.service_item,
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            capacity=body.capacity,
        )
        return Recorded(id=str(slot.id), kind="appointment_slot")

    return respond(wired, who, key, "open_slot", body.model_dump(), action, status=201)


def _item_department(wired: Wiring, code: str) -> str:
    try:
        item: Any = wired.ctx.runtime.ledger.repository.get(ServiceItem.id_for(code))
    except AggregateNotFoundError:
        raise Problem(404, "Not found", f"service_item: no {code}", code="not-found") from None
    return str(item.current_guide.department)


@appointments.post(
    "/{slot_id}/bookings",
    status_code=status.HTTP_201_CREATED,
    response_model=Recorded,
    summary="Book a slot for an applicant (roles: department for the portal, kiosk)",
    responses=_ANSWERS,
)
def book(
    slot_id: Id, body: BookingCreate, who: ApplicantSide, wired: Wired, key: IdempotencyKey = None
) -> Any:
    def action() -> Recorded:
        _slot_department(wired, who, slot_id)
        booking = wired.appointments.book(
            slot_id,
            signer=wired.applicant_signer(who),
            applicant_id=body.applicant_id,
            at=wired.now(),
        )
        return Recorded(id=str(booking), kind="booking", detail={"slot_id": str(slot_id)})

    params = {"slot_id": slot_id, **body.model_dump()}
    return respond(wired, who, key, "book", params, action, status=201)


@appointments.post(
    "/{slot_id}/bookings/{booking_id}/cancellation",
    response_model=Recorded,
    summary="Cancel a booking (roles: department for the portal, kiosk)",
    responses=_ANSWERS,
)
def cancel_booking(
    slot_id: Id, booking_id: Id, who: ApplicantSide, wired: Wired, key: IdempotencyKey = None
) -> Any:
    def action() -> Recorded:
        _slot_department(wired, who, slot_id)
        wired.appointments.cancel(
            slot_id, signer=wired.applicant_signer(who), booking_id=booking_id, at=wired.now()
        )
        return Recorded(id=str(booking_id), kind="booking", detail={"status": "cancelled"})

    params = {"slot_id": slot_id, "booking_id": booking_id}
    return respond(wired, who, key, "cancel_booking", params, action)


@appointments.post(
    "/{slot_id}/bookings/{booking_id}/check-in",
    response_model=Recorded,
    summary="Check in at the hall (roles: kiosk, department at its window)",
    responses=_ANSWERS,
)
def check_in(
    slot_id: Id, booking_id: Id, who: CheckIn, wired: Wired, key: IdempotencyKey = None
) -> Any:
    def action() -> Recorded:
        department = _slot_department(wired, who, slot_id)
        signer = (
            wired.kiosk_signer(who)
            if who.role is Role.KIOSK
            else wired.department_signer(_dept(who, department))
        )
        wired.appointments.check_in(slot_id, signer=signer, booking_id=booking_id, at=wired.now())
        return Recorded(id=str(booking_id), kind="booking", detail={"status": "checked_in"})

    params = {"slot_id": slot_id, "booking_id": booking_id}
    return respond(wired, who, key, "check_in", params, action)


@appointments.post(
    "/{slot_id}/bookings/{booking_id}/refusal",
    response_model=Recorded,
    summary="Refuse a booked applicant on a lawful ground (role: department)",
    responses=_ANSWERS,
)
def refuse_booking(
    slot_id: Id,
    booking_id: Id,
    body: BookingRefusal,
    who: Department_,
    wired: Wired,
    key: IdempotencyKey = None,
) -> Any:
    def action() -> Recorded:
        department = _dept(who, _slot_department(wired, who, slot_id))
        wired.appointments.refuse(
            slot_id,
            signer=wired.department_signer(department),
            booking_id=booking_id,
            ground=body.ground,
            details=body.details,
            at=wired.now(),
        )
        return Recorded(id=str(booking_id), kind="booking", detail={"status": "refused"})

    params = {"slot_id": slot_id, "booking_id": booking_id, **body.model_dump()}
    return respond(wired, who, key, "refuse_booking", params, action)


@appointments.post(
    "/{slot_id}/no-shows",
    response_model=Recorded,
    summary="After the slot, record its no-shows (roles: department; admin signs as platform)",
    responses=_ANSWERS,
)
def record_no_shows(slot_id: Id, who: Department_, wired: Wired, key: IdempotencyKey = None) -> Any:
    def action() -> Recorded:
        department = _slot_department(wired, who, slot_id)
        signer = (
            wired.platform_signer()
            if who.role is Role.ADMIN
            else wired.department_signer(department)
        )
        missed = wired.appointments.record_no_shows(slot_id, signer=signer, at=wired.now())
        return Recorded(
            id=str(slot_id), kind="appointment_slot", detail={"no_shows": [str(b) for b in missed]}
        )

    return respond(wired, who, key, "record_no_shows", {"slot_id": slot_id}, action)


# --- consultations and complaints ----------------------------------------------------------

consultations = APIRouter(prefix="/v1/consultations", tags=["consultations"])


def _consultation_department(wired: Wiring, who: Principal, consultation_id: UUID) -> str:
    with edge():
        consultation = wired.consultations.consultation(consultation_id)
    in_scope(who, consultation.department)
    return _dept(who, consultation.department)


@consultations.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Recorded,
    summary="Receive a consultation, complaint or suggestion (12345) (roles: department for "
    "the portal, kiosk; admin signs as platform)",
    responses=_ANSWERS,
)
def receive_consultation(
    body: ConsultationCreate, who: ApplicantSide, wired: Wired, key: IdempotencyKey = None
) -> Any:
    def action() -> Recorded:
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

    return respond(wired, who, key, "receive_consultation", body.model_dump(), action, status=201)


@consultations.post(
    "/{consultation_id}/answer",
    response_model=Recorded,
    summary="Answer a consultation or complaint, sealed (role: department — the addressee)",
    responses=_ANSWERS,
)
def answer_consultation(
    consultation_id: Id,
    body: ConsultationAnswer,
    who: Department_,
    wired: Wired,
    key: IdempotencyKey = None,
) -> Any:
    def action() -> Recorded:
        department = _consultation_department(wired, who, consultation_id)
        record = wired.consultations.answer(
            consultation_id,
            signer=wired.department_signer(department),
            department=department,
            answer=body.answer,
            at=wired.now(),
        )
        return Recorded(id=str(consultation_id), kind="consultation", detail=_sealed(record))

    params = {"consultation_id": consultation_id, **body.model_dump()}
    return respond(wired, who, key, "answer_consultation", params, action)


@consultations.post(
    "/{consultation_id}/untrue",
    response_model=Recorded,
    summary="Find a complaint untrue, with reasons and evidence (role: department)",
    responses=_ANSWERS,
)
def find_untrue(
    consultation_id: Id,
    body: UntrueFinding,
    who: Department_,
    wired: Wired,
    key: IdempotencyKey = None,
) -> Any:
    def action() -> Recorded:
        department = _consultation_department(wired, who, consultation_id)
        wired.consultations.find_untrue(
            consultation_id,
            signer=wired.department_signer(department),
            department=department,
            reasons=body.reasons,
            evidence=list(body.evidence),
            at=wired.now(),
        )
        return Recorded(id=str(consultation_id), kind="consultation", detail={"untrue": True})

    params = {"consultation_id": consultation_id, **body.model_dump()}
    return respond(wired, who, key, "find_untrue", params, action)


# --- blacklist -----------------------------------------------------------------------------

blacklist = APIRouter(prefix="/v1/blacklist", tags=["blacklist"])


@blacklist.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Recorded,
    summary="Blacklist an applicant with a sealed notice (GZ16·22) (role: supervisor)",
    responses=_ANSWERS,
)
def blacklist_applicant(
    body: BlacklistCreate, who: Supervisor, wired: Wired, key: IdempotencyKey = None
) -> Any:
    def action() -> Recorded:
        from api.http.routes_common import SUPERVISION_OFFICE

        notice = wired.blacklist.blacklist(
            body.applicant_id,
            signer=wired.supervisor_signer(),
            authority=SUPERVISION_OFFICE,
            ground=body.ground,
            facts=body.facts,
            details=body.details,
            at=wired.now(),
            credit_referral=body.credit_referral,
        )
        return Recorded(id=str(body.applicant_id), kind="blacklisting", detail=_sealed(notice))

    return respond(wired, who, key, "blacklist", body.model_dump(), action, status=201)


@blacklist.post(
    "/{applicant_id}/appeals",
    response_model=Recorded,
    summary="The applicant appeals a blacklisting (roles: department for the portal, kiosk)",
    responses=_ANSWERS,
)
def lodge_appeal(
    applicant_id: Id,
    body: AppealCreate,
    who: ApplicantSide,
    wired: Wired,
    key: IdempotencyKey = None,
) -> Any:
    def action() -> Recorded:
        wired.blacklist.lodge_appeal(
            applicant_id,
            signer=wired.applicant_signer(who),
            reasons=body.reasons,
            evidence=list(body.evidence),
            at=wired.now(),
        )
        return Recorded(id=str(applicant_id), kind="blacklisting", detail={"appealed": True})

    params = {"applicant_id": applicant_id, **body.model_dump()}
    return respond(wired, who, key, "lodge_appeal", params, action)


@blacklist.post(
    "/{applicant_id}/appeal-decision",
    response_model=Recorded,
    summary="Decide an appeal, sealed (role: supervisor)",
    responses=_ANSWERS,
)
def decide_appeal(
    applicant_id: Id,
    body: AppealDecision,
    who: Supervisor,
    wired: Wired,
    key: IdempotencyKey = None,
) -> Any:
    def action() -> Recorded:
        from api.http.routes_common import SUPERVISION_OFFICE

        decision = wired.blacklist.decide_appeal(
            applicant_id,
            signer=wired.supervisor_signer(),
            authority=SUPERVISION_OFFICE,
            unintentional=body.unintentional,
            reasons=body.reasons,
            at=wired.now(),
        )
        return Recorded(id=str(applicant_id), kind="blacklisting", detail=_sealed(decision))

    params = {"applicant_id": applicant_id, **body.model_dump()}
    return respond(wired, who, key, "decide_appeal", params, action)


@blacklist.post(
    "/{applicant_id}/removal",
    response_model=Recorded,
    summary="Remove an applicant from the blacklist, sealed (role: supervisor)",
    responses=_ANSWERS,
)
def remove_from_blacklist(
    applicant_id: Id, body: RemovalCreate, who: Supervisor, wired: Wired, key: IdempotencyKey = None
) -> Any:
    def action() -> Recorded:
        from api.http.routes_common import SUPERVISION_OFFICE

        decision = wired.blacklist.remove(
            applicant_id,
            signer=wired.supervisor_signer(),
            authority=SUPERVISION_OFFICE,
            reasons=body.reasons,
            evidence=list(body.evidence),
            at=wired.now(),
        )
        return Recorded(id=str(applicant_id), kind="blacklisting", detail=_sealed(decision))

    params = {"applicant_id": applicant_id, **body.model_dump()}
    return respond(wired, who, key, "remove_from_blacklist", params, action)


# --- supervision orders --------------------------------------------------------------------

supervision = APIRouter(prefix="/v1/supervision/orders", tags=["supervision"])


@supervision.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Recorded,
    summary="Issue a supervision order (督办) to a department (role: supervisor)",
    responses=_ANSWERS,
)
def issue_order(
    body: OrderCreate, who: Supervisor, wired: Wired, key: IdempotencyKey = None
) -> Any:
    def action() -> Recorded:
        case_id = None
        if body.case_serial:
            case_id = _case(wired, who, body.case_serial).id
        extra: dict[str, Any] = {}
        if body.answer_days is not None:
            extra["answer_days"] = body.answer_days
        order = wired.supervision.issue(
            signer=wired.supervisor_signer(),
            department=body.department,
            reason=body.reason,
            details=body.details,
            at=wired.now(),
            case_id=case_id,
            case_serial=body.case_serial,
            **extra,
        )
        return Recorded(id=str(order.id), kind="supervision_order")

    return respond(wired, who, key, "issue_order", body.model_dump(), action, status=201)


@supervision.post(
    "/{order_id}/answer",
    response_model=Recorded,
    summary="The department answers a supervision order, sealed (role: department)",
    responses=_ANSWERS,
)
def answer_order(
    order_id: Id, body: OrderAnswer, who: Department_, wired: Wired, key: IdempotencyKey = None
) -> Any:
    def action() -> Recorded:
        with edge():
            order = wired.supervision.order(order_id)
        in_scope(who, order.department)
        department = _dept(who, order.department)
        record = wired.supervision.answer(
            order_id,
            signer=wired.department_signer(department),
            department=department,
            answer=body.answer,
            at=wired.now(),
        )
        return Recorded(id=str(order_id), kind="supervision_order", detail=_sealed(record))

    params = {"order_id": order_id, **body.model_dump()}
    return respond(wired, who, key, "answer_order", params, action)


@supervision.post(
    "/{order_id}/close",
    response_model=Recorded,
    summary="Close a supervision order with a conclusion (role: supervisor)",
    responses=_ANSWERS,
)
def close_order(
    order_id: Id, body: OrderClose, who: Supervisor, wired: Wired, key: IdempotencyKey = None
) -> Any:
    def action() -> Recorded:
        wired.supervision.close(
            order_id, signer=wired.supervisor_signer(), conclusion=body.conclusion, at=wired.now()
        )
        return Recorded(id=str(order_id), kind="supervision_order", detail={"closed": True})

    params = {"order_id": order_id, **body.model_dump()}
    return respond(wired, who, key, "close_order", params, action)


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
