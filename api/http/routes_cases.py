"""Case commands over HTTP: submission, every lifecycle step, and the case read.

Layer: api (HTTP). Each endpoint resolves who signs (``routes_common.Wiring``), checks the
caller's department scope (another department's case is 404, not 403), and calls
:class:`~ledger.services.cases.CaseService` — the one use-case surface; no rule lives here. Every
POST takes ``Idempotency-Key``; the answer is the case's state after the step and the
document the step issued (RULES.md "Case lifecycle").
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, status
from fastapi.responses import Response

from api.http import command as commands
from api.http.context import ApiContext
from api.http.deps import require
from api.http.model_response import model_response
from api.http.problems import Problem
from api.http.read_side import read_view
from api.http.routes_common import (
    IdempotencyKey,
    Wired,
    Wiring,
    edge,
    in_scope,
    jsonable,
    scoped_key,
)
from api.http.routes_common import (
    install as install_wiring,
)
from api.http.schemas import (
    ApprovalCreate,
    CaseCreate,
    CasePublic,
    CaseStepPublic,
    CorrectionCreate,
    CorrectionRequestCreate,
    DeliveryFailureCreate,
    DispatchCreate,
    DocumentPublic,
    FeeAssessmentCreate,
    FeePaymentCreate,
    MaskedApplicant,
    MaterialDeliveryCreate,
    NextActionPublic,
    PublicNoticeCreate,
    ReasonsCreate,
    RefusalCreate,
    ResultDocumentCreate,
    SignOffCreate,
    SpecialProcedureCreate,
    SpecialProcedureEnd,
    StepPublic,
    TimeLimitExtensionCreate,
    WithdrawalCreate,
)
from api.tokens import Principal, Role
from ledger.domain.cases import Case, CaseState, Channel
from ledger.domain.catalogue import ServiceItem
from ledger.domain.documents import SignedDocument
from ledger.domain.result_delivery import IdCheck
from ledger.domain.rules import InvalidSerial
from ledger.domain.signer import Signer
from ledger.services.cases import Outcome, ServiceItemNotFound
from projections.progress import (
    CaseProgress,
    IdentityCache,
    IdentityPort,
    VaultMasker,
    by_serial,
    by_serial_with_position,
)
from projections.runner import position, status_of

router = APIRouter(prefix="/v1/cases", tags=["cases"])
_SERIAL = re.compile(r"[A-Za-z0-9-]{4,64}")

Serial = Annotated[str, Path(min_length=4, max_length=64, description="申请流水号")]
DepartmentCaller = Annotated[Principal, Depends(require(Role.DEPARTMENT))]
ApplicantSide = Annotated[Principal, Depends(require(Role.DEPARTMENT, Role.KIOSK))]
Reader = Annotated[Principal, Depends(require(Role.DEPARTMENT, Role.SUPERVISOR))]

_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such case (or another department's)."},
    409: {"description": "Invalid transition: the problem carries the case's `state`."},
    422: {"description": "A rule refused the command (`rule`) or a field is invalid."},
}
command = partial(commands.command, responses=_ANSWERS)
"""A case command endpoint (:func:`api.http.command.command`), answering as ``_ANSWERS``
says unless it names its own ``responses``."""


def install(ctx: ApiContext) -> None:
    install_wiring(ctx)


# --- helpers -------------------------------------------------------------------------------


def _case(wired: Wiring, who: Principal, serial: str) -> Case:
    """The case, if the caller may see it; 404 for unknown serials and other departments."""
    try:
        with edge():
            case = wired.services.cases.case(serial)
    except InvalidSerial:
        raise Problem(404, "Not found", f"serial: no case {serial}", code="not-found") from None
    authority = wired.services.cases.authority
    if not (who.official and authority.delegated(case.department, who.department)):
        in_scope(who, case.department)  # the window sees a case it was delegated (NH·6(二))
    return case


def document_public(document: SignedDocument | Mapping[str, Any] | None) -> DocumentPublic | None:
    if document is None:
        return None
    data = document.to_dict() if isinstance(document, SignedDocument) else dict(document)
    return DocumentPublic.model_validate(jsonable(data))


def step_public(outcome: Outcome) -> CaseStepPublic:
    return CaseStepPublic(
        serial=outcome.serial,
        approval_code=outcome.approval_code,
        state=outcome.state,
        version=outcome.version,
        document=document_public(outcome.document),
    )


def _department_signer(wired: Wiring, who: Principal, case: Case) -> Signer:
    return wired.acting_signer(
        who, who.department if who.role is Role.DEPARTMENT else case.department
    )


def _system_signer(wired: Wiring, who: Principal, case: Case) -> Signer:
    """Automatic steps (ALL·32, payment notices): the department, or the platform for admin."""
    if who.role is Role.ADMIN:
        return wired.platform_signer()
    return _department_signer(wired, who, case)


def _applicant_signer(wired: Wiring, who: Principal, case: Case) -> Signer:
    """The applicant's channel: a kiosk's key, the window (department key), or the portal."""
    if who.role is Role.KIOSK:
        return wired.kiosk_signer(who)
    if who.role is Role.DEPARTMENT:
        return wired.acting_signer(who, who.department)
    return wired.portal_signer()


def _step(
    wired: Wiring,
    who: Principal,
    serial: str,
    key: str | None,
    signer_of: Callable[[Wiring, Principal, Case], Signer],
    run: Callable[[Signer, str | None], Outcome],
) -> CaseStepPublic:
    """The answer to a step on the case: ``run`` with the signer ``signer_of`` picks and the
    caller's scoped key, so the ledger records the step once per key as well."""
    case = _case(wired, who, serial)
    return step_public(run(signer_of(wired, who, case), scoped_key(who, key)))


# --- submission and reading ----------------------------------------------------------------


@command(
    router,
    "",
    CaseStepPublic,
    "Submit an application; 201 with the application receipt (roles: department, kiosk)",
    status=status.HTTP_201_CREATED,
    responses={
        403: {"description": "Blacklisted applicant: `until` and `appeal_route`."},
        **_ANSWERS,
    },
)
def submit(
    body: CaseCreate, who: ApplicantSide, wired: Wired, key: IdempotencyKey = None
) -> CaseStepPublic:
    """A department submits at its window (channel ``window``, signed by its seal key) or for
    the portal (``web``/``app``/``wechat``, signed by the portal key) — for its own items
    only; a kiosk token submits with channel ``kiosk``, signed by the kiosk's key."""
    with edge():
        try:
            item: Any = wired.ctx.runtime.ledger.reference(ServiceItem.id_for(body.item_code))
        except Exception:
            raise ServiceItemNotFound(f"item_code: no service item {body.item_code}") from None
        if not isinstance(item, ServiceItem):
            raise ServiceItemNotFound(f"item_code: no service item {body.item_code}")
    department = item.current_guide.department
    in_scope(who, department)
    if who.role is Role.KIOSK:
        if body.channel is not Channel.KIOSK:
            raise Problem(
                422,
                "Validation error",
                "channel: a kiosk submits with channel kiosk",
                code="validation",
                field="channel",
            )
        signer = wired.kiosk_signer(who)
    elif body.channel is Channel.KIOSK:
        raise Problem(
            422,
            "Validation error",
            "channel: only kiosk tokens submit with channel kiosk",
            code="validation",
            field="channel",
        )
    elif body.channel is Channel.WINDOW:
        signer = wired.acting_signer(who, department)
    else:
        signer = wired.portal_signer()
    materials = [m.to_domain() for m in body.materials]
    outcome = wired.services.cases.submit(
        item_code=body.item_code,
        applicant_id=body.applicant_id,
        channel=body.channel,
        handling_mode=body.handling_mode,
        materials=materials,
        delivery=body.delivery,
        signer=signer,
        location=body.location,
        mailing_address=body.mailing_address,
        idempotency_key=scoped_key(who, key),
    )
    return step_public(outcome)


@router.get(
    "/{serial}",
    response_model=CasePublic,
    summary="A case's progress, without personal data (roles: department — own cases — supervisor)",
    responses={404: _ANSWERS[404]},
)
def read(serial: Serial, who: Reader, wired: Wired) -> Response:
    """From the progress view (``projections.progress``) alone: scope, state, dates, steps,
    document kinds and version, the applicant masked (through the vault once per applicant
    and process, ``[erased]`` from the view). The view is first brought level with the log
    head this request saw (bounded wait), so a client reads its own writes; on a read side's
    standby (``api.http.read_side``), once it has replayed the client's last write. The
    ``CasePublic`` built here is sent as is (``api.http.model_response``: no second
    validation in another thread hand-off)."""
    view = read_view(wired.ctx, "progress")
    if view is None:
        raise Problem(503, "Unavailable", "the progress read model is not open", code="no-view")
    if not _SERIAL.fullmatch(serial):  # checked before it reaches SQL (no NUL on PostgreSQL)
        raise Problem(404, "Not found", f"serial: no case {serial}", code="not-found")
    progress = _read_own_writes(wired, view, serial)
    if progress is None:
        raise Problem(404, "Not found", f"serial: no case {serial}", code="not-found")
    in_scope(who, progress.department)
    steps = {s.step: s for s in progress.steps}
    submitted = progress.steps[0]  # every case begins with its Submitted step
    accepted = steps.get("Accepted")
    decided = steps.get("Decided")
    delivered = steps.get("Delivered")
    closed = steps.get("Closed")
    case = CasePublic(
        serial=progress.serial,
        approval_code=progress.approval_code,
        department=progress.department,
        item_code=progress.item_code,
        item_name=progress.item_name,
        guide_version=progress.guide_version,
        state=CaseState(progress.state),
        channel=Channel(progress.channel),
        handling_mode=progress.handling_mode,
        submitted_at=submitted.at_utc,
        pre_review_due=progress.pre_review_due or "",
        accepted_on=progress.accepted_on,
        deemed_accepted=bool(accepted and accepted.detail.get("deemed")),
        due=progress.due,
        due_provisional=progress.due_provisional,
        decided_on=decided.at_shanghai[:10] if decided else None,
        delivered_on=delivered.detail.get("delivered_on") if delivered else None,
        closed_at=closed.at_utc if closed else None,
        certificate_ids=[
            str(s.detail["certificate_id"])
            for s in progress.steps
            if s.step == "CertificateRecorded"
        ],
        documents=list(progress.documents),
        version=progress.version,
        state_label=progress.state_label,
        promised_days=progress.promised_days,
        paused_since=progress.paused_since,
        next_action=NextActionPublic(**vars(progress.next_action)),
        steps=[StepPublic(**vars(s)) for s in progress.steps],
        applicant=None
        if progress.applicant is None
        else MaskedApplicant(**vars(progress.applicant)),
    )
    return model_response(case)


def _identity(wired: Wiring) -> IdentityPort:
    """The process's one masker: the vault behind a cache of masked identities."""
    services = wired.ctx.services
    found = services.get("progress_identity")
    if found is None:
        masker = VaultMasker(wired.ctx.runtime.ledger.repository.get, wired.services.vault)
        found = services.setdefault("progress_identity", IdentityCache(masker))
    return found


def _read_own_writes(wired: Wiring, view: Any, serial: str) -> CaseProgress | None:
    """The case as of a view level with the log head this request saw.

    On PostgreSQL, where the view and the log share the database, the case, the view's
    position and the head are read by one statement: a level view answers in one round trip
    and one transaction. Otherwise (or if the view lags) the view is waited for first."""
    ledger = wired.ctx.runtime.ledger
    head_statement = getattr(ledger.recorder, "max_notification_id_statement", None)
    identity = _identity(wired)
    if view.store.dialect == "postgres" and head_statement is not None:
        found = by_serial_with_position(
            view, serial, ledger.name, head_statement.as_string(None), identity=identity
        )
        if found is not None and found[1] >= found[2]:
            return found[0]
    _wait_for_view(wired.ctx, view)
    return by_serial(view, serial, identity=identity)


def _wait_for_view(ctx: ApiContext, view: Any, timeout: float = 2.0) -> None:
    """Wait (bounded) until ``view`` has processed the log up to the head seen now.

    A level view costs one query (position and head together on PostgreSQL)."""
    ledger = ctx.runtime.ledger
    seen = status_of(view, ledger)
    if seen.lag == 0:
        return
    deadline = time.monotonic() + timeout
    while position(view, ledger) < seen.head and time.monotonic() < deadline:
        time.sleep(0.02)


# --- pre-review, correction, acceptance ----------------------------------------------------


@command(
    router,
    "/{serial}/pre-review",
    CaseStepPublic,
    "Pre-review found the application complete (预审通过) (role: department)",
)
def pass_pre_review(
    serial: Serial, who: DepartmentCaller, wired: Wired, key: IdempotencyKey = None
) -> CaseStepPublic:
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _department_signer,
        lambda s, k: cases.pass_pre_review(serial, signer=s, idempotency_key=k),
    )


def _grounds(body: RefusalCreate) -> dict[str, str] | None:
    """The grounds of a refusal by material code (``ledger.domain.intake``), if any."""
    return {code: ground.value for code, ground in body.grounds.items()} or None


def _defects(body: CorrectionRequestCreate) -> dict[str, str]:
    """The defective materials by code; 422 if a code is listed twice."""
    defects = {m.code: m.reason for m in body.materials}
    if len(defects) != len(body.materials):
        raise Problem(
            422,
            "Validation error",
            "materials: each material code once",
            code="validation",
            field="materials",
        )
    return defects


def _correction_params(serial: str, body: CorrectionRequestCreate, **_: Any) -> dict[str, Any]:
    """A correction request is digested by its defects (so the order of the list is not)."""
    return {"serial": serial, "defects": _defects(body)}


@command(
    router,
    "/{serial}/correction-requests",
    CaseStepPublic,
    "The one-time correction notice listing every defective material (一次性告知) "
    "(role: department)",
    params=_correction_params,
)
def request_correction(
    serial: Serial,
    body: CorrectionRequestCreate,
    who: DepartmentCaller,
    wired: Wired,
    key: IdempotencyKey = None,
) -> CaseStepPublic:
    defects = _defects(body)
    grounds = {m.code: m.ground.value for m in body.materials if m.ground is not None}
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _department_signer,
        lambda s, k: cases.request_correction(
            serial, defects, signer=s, grounds=grounds or None, idempotency_key=k
        ),
    )


@command(
    router,
    "/{serial}/corrections",
    CaseStepPublic,
    "The applicant supplies the corrected materials (补正) (roles: department at the "
    "window, kiosk)",
)
def correct(
    serial: Serial,
    body: CorrectionCreate,
    who: ApplicantSide,
    wired: Wired,
    key: IdempotencyKey = None,
) -> CaseStepPublic:
    cases = wired.services.cases

    def run(s: Signer, k: str | None) -> Outcome:
        materials = [m.to_domain() for m in body.materials]
        return cases.correct(serial, body.applicant_id, materials, signer=s, idempotency_key=k)

    return _step(wired, who, serial, key, _applicant_signer, run)


@command(
    router,
    "/{serial}/material-deliveries",
    CaseStepPublic,
    "How the materials reached the department after pre-review (NH·13) (role: department)",
)
def record_material_delivery(
    serial: Serial,
    body: MaterialDeliveryCreate,
    who: DepartmentCaller,
    wired: Wired,
    key: IdempotencyKey = None,
) -> CaseStepPublic:
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _department_signer,
        lambda s, k: cases.record_material_delivery(
            serial, body.method, signer=s, waybill=body.waybill, idempotency_key=k
        ),
    )


@command(
    router,
    "/{serial}/acceptance",
    CaseStepPublic,
    "Accept the case with the acceptance receipt; the time limit starts (role: department)",
)
def accept(
    serial: Serial, who: DepartmentCaller, wired: Wired, key: IdempotencyKey = None
) -> CaseStepPublic:
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _department_signer,
        lambda s, k: cases.accept(serial, signer=s, idempotency_key=k),
    )


@command(
    router,
    "/{serial}/deemed-acceptance",
    CaseStepPublic,
    "ALL·32: record deemed acceptance (after the 5th working day without pre-review "
    "findings; accepted from the submission date) (roles: department; admin signs as platform)",
)
def deem_accepted(
    serial: Serial, who: DepartmentCaller, wired: Wired, key: IdempotencyKey = None
) -> CaseStepPublic:
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _system_signer,
        lambda s, k: cases.deem_accepted(serial, signer=s, idempotency_key=k),
    )


@command(
    router,
    "/{serial}/non-acceptance",
    CaseStepPublic,
    "Refuse acceptance with reasons (不予受理) (role: department)",
)
def not_accept(
    serial: Serial,
    body: RefusalCreate,
    who: DepartmentCaller,
    wired: Wired,
    key: IdempotencyKey = None,
) -> CaseStepPublic:
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _department_signer,
        lambda s, k: cases.not_accept(
            serial, body.reasons, signer=s, grounds=_grounds(body), idempotency_key=k
        ),
    )


@command(
    router,
    "/{serial}/return",
    CaseStepPublic,
    "Return the application with reasons (退件) (role: department)",
)
def return_case(
    serial: Serial,
    body: RefusalCreate,
    who: DepartmentCaller,
    wired: Wired,
    key: IdempotencyKey = None,
) -> CaseStepPublic:
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _department_signer,
        lambda s, k: cases.return_case(
            serial, body.reasons, signer=s, grounds=_grounds(body), idempotency_key=k
        ),
    )


# --- processing ----------------------------------------------------------------------------


@command(
    router,
    "/{serial}/special-procedures",
    CaseStepPublic,
    "Start a special procedure with its notice; the time limit pauses (role: department)",
)
def start_special_procedure(
    serial: Serial,
    body: SpecialProcedureCreate,
    who: DepartmentCaller,
    wired: Wired,
    key: IdempotencyKey = None,
) -> CaseStepPublic:
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _department_signer,
        lambda s, k: cases.start_special_procedure(
            serial, body.procedure, body.expected_days, signer=s, idempotency_key=k
        ),
    )


@command(
    router,
    "/{serial}/special-procedures/end",
    CaseStepPublic,
    "End the special procedure; the due date moves by its working days (role: department)",
)
def end_special_procedure(
    serial: Serial,
    body: SpecialProcedureEnd,
    who: DepartmentCaller,
    wired: Wired,
    key: IdempotencyKey = None,
) -> CaseStepPublic:
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _department_signer,
        lambda s, k: cases.end_special_procedure(serial, body.outcome, signer=s, idempotency_key=k),
    )


@command(
    router,
    "/{serial}/time-limit-extension",
    CaseStepPublic,
    "Extend the time limit once by up to 10 working days, approved, the reasons told to the "
    "applicant (ALL·42) (role: department)",
)
def extend_time_limit(
    serial: Serial,
    body: TimeLimitExtensionCreate,
    who: DepartmentCaller,
    wired: Wired,
    key: IdempotencyKey = None,
) -> CaseStepPublic:
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _department_signer,
        lambda s, k: cases.extend_time_limit(
            serial, body.days, list(body.reasons), body.approved_by, signer=s, idempotency_key=k
        ),
    )


@command(
    router,
    "/{serial}/fee-assessment",
    CaseStepPublic,
    "Assess the guide's fee (FZ·18) (role: department)",
)
def assess_fee(
    serial: Serial,
    body: FeeAssessmentCreate,
    who: DepartmentCaller,
    wired: Wired,
    key: IdempotencyKey = None,
) -> CaseStepPublic:
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _department_signer,
        lambda s, k: cases.assess_fee(serial, body.amount, signer=s, idempotency_key=k),
    )


@command(
    router,
    "/{serial}/fee-payment",
    CaseStepPublic,
    "Record the payment the unified payment platform confirmed (FZ·18) "
    "(roles: department; admin signs as platform)",
)
def pay_fee(
    serial: Serial,
    body: FeePaymentCreate,
    who: DepartmentCaller,
    wired: Wired,
    key: IdempotencyKey = None,
) -> CaseStepPublic:
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _system_signer,
        lambda s, k: cases.pay_fee(
            serial, body.payment_reference, body.amount, signer=s, idempotency_key=k
        ),
    )


@command(
    router,
    "/{serial}/approval",
    CaseStepPublic,
    "Approve with an e-sealed decision (批准决定书) (role: department)",
)
def approve(
    serial: Serial,
    who: DepartmentCaller,
    wired: Wired,
    body: ApprovalCreate | None = None,
    key: IdempotencyKey = None,
) -> CaseStepPublic:
    conclusion = (body or ApprovalCreate()).conclusion
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _department_signer,
        lambda s, k: cases.approve(serial, signer=s, conclusion=conclusion, idempotency_key=k),
    )


@command(
    router,
    "/{serial}/disapproval",
    CaseStepPublic,
    "Disapprove with reasons (不予批准决定书) (role: department)",
)
def disapprove(
    serial: Serial,
    body: ReasonsCreate,
    who: DepartmentCaller,
    wired: Wired,
    key: IdempotencyKey = None,
) -> CaseStepPublic:
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _department_signer,
        lambda s, k: cases.disapprove(serial, body.reasons, signer=s, idempotency_key=k),
    )


@command(
    router,
    "/{serial}/result-document",
    CaseStepPublic,
    "Issue the result document of an approved case (role: department)",
)
def issue_result_document(
    serial: Serial,
    who: DepartmentCaller,
    wired: Wired,
    body: ResultDocumentCreate | None = None,
    key: IdempotencyKey = None,
) -> CaseStepPublic:
    title = (body or ResultDocumentCreate()).title
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _department_signer,
        lambda s, k: cases.issue_result_document(serial, signer=s, title=title, idempotency_key=k),
    )


# --- delivery and closing ------------------------------------------------------------------


@command(
    router,
    "/{serial}/dispatches",
    CaseStepPublic,
    "Send the result on site, by courier or online (role: department)",
)
def dispatch(
    serial: Serial,
    body: DispatchCreate,
    who: DepartmentCaller,
    wired: Wired,
    key: IdempotencyKey = None,
) -> CaseStepPublic:
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _department_signer,
        lambda s, k: cases.dispatch(
            serial,
            body.method,
            signer=s,
            waybill=body.waybill,
            mailing_address=body.mailing_address,
            courier=body.courier,
            courier_fee=body.courier_fee,
            idempotency_key=k,
        ),
    )


@command(
    router,
    "/{serial}/delivery-failures",
    CaseStepPublic,
    "Record that a delivery failed (role: department)",
)
def record_delivery_failure(
    serial: Serial,
    body: DeliveryFailureCreate,
    who: DepartmentCaller,
    wired: Wired,
    key: IdempotencyKey = None,
) -> CaseStepPublic:
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _department_signer,
        lambda s, k: cases.record_delivery_failure(
            serial, body.reason, signer=s, idempotency_key=k
        ),
    )


def _sign_off_signer(wired: Wiring, who: Principal, case: Case) -> Signer:
    """A kiosk signs the sign-off it takes; a department (or admin) with the seal key."""
    if who.role is Role.KIOSK:
        return wired.kiosk_signer(who)
    return _department_signer(wired, who, case)


@command(
    router,
    "/{serial}/sign-off",
    CaseStepPublic,
    "Record the sign-off and issue the delivery receipt (送达回证) (roles: department, kiosk)",
)
def sign_off(
    serial: Serial,
    who: ApplicantSide,
    wired: Wired,
    body: SignOffCreate | None = None,
    key: IdempotencyKey = None,
) -> CaseStepPublic:
    given = body or SignOffCreate()
    found = given.id_check  # a rule violation (FZ·20) becomes a 422 naming the field
    checked = None if found is None else IdCheck(found.document, found.valid)
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _sign_off_signer,
        lambda s, k: cases.sign_off(
            serial, given.recipient, signer=s, id_check=checked, idempotency_key=k
        ),
    )


@command(
    router,
    "/{serial}/public-notice",
    CaseStepPublic,
    "Deliver by public notice after failed deliveries (公告送达) (role: department)",
)
def deliver_by_public_notice(
    serial: Serial,
    who: DepartmentCaller,
    wired: Wired,
    body: PublicNoticeCreate | None = None,
    key: IdempotencyKey = None,
) -> CaseStepPublic:
    days = (body or PublicNoticeCreate()).notice_days
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _department_signer,
        lambda s, k: cases.deliver_by_public_notice(
            serial, signer=s, notice_days=days, idempotency_key=k
        ),
    )


@command(
    router,
    "/{serial}/close",
    CaseStepPublic,
    "Close the case (办结) once its result is issued and delivered (role: department)",
)
def close(
    serial: Serial, who: DepartmentCaller, wired: Wired, key: IdempotencyKey = None
) -> CaseStepPublic:
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _department_signer,
        lambda s, k: cases.close(serial, signer=s, idempotency_key=k),
    )


@command(
    router,
    "/{serial}/withdrawal",
    CaseStepPublic,
    "The applicant withdraws before the decision (roles: department at the window, kiosk)",
)
def withdraw(
    serial: Serial,
    body: WithdrawalCreate,
    who: ApplicantSide,
    wired: Wired,
    key: IdempotencyKey = None,
) -> CaseStepPublic:
    cases = wired.services.cases
    return _step(
        wired,
        who,
        serial,
        key,
        _applicant_signer,
        lambda s, k: cases.withdraw(
            serial, body.applicant_id, body.reason, signer=s, idempotency_key=k
        ),
    )
