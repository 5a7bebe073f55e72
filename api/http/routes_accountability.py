"""Accountability over HTTP: red-light explanations and deductions (FZ·24), credit-record
entries (GZ20·28), and the published standard templates (FZ·16).

Layer: api (HTTP). The commands call :class:`~ledger.services.red_light.RedLightService` and
:class:`~ledger.services.credit.CreditService` with the signers of
:mod:`api.http.routes_common`: a department's explanation and credit entry are signed (and the
explanation sealed) by the department's e-seal key, a deduction by the supervision office's
key. Refusals answer Problem+JSON like every command (the rule's ``code`` and ``rule``);
another department's case is 404. ``install`` also applies the server's city
(``serve --city``, ``CASELEDGER_CITY``) to the blacklist service: NH·25's unlimited restriction
in Nanhai, 3 months elsewhere (:mod:`ledger.domain.city_rules`).
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.http.command import command
from api.http.context import ApiContext
from api.http.routes_cases import Serial
from api.http.routes_common import SUPERVISION_OFFICE, Wired, edge, in_scope, jsonable
from api.http.routes_common import install as install_wiring
from api.http.routes_domain import Department_, Id, Reader, Supervisor
from api.http.schemas import Frozen, Text
from api.http.schemas_domain import Recorded
from api.tokens import Principal, Role
from ledger.domain.templates import BASIS, PUBLISHED_TEMPLATES, templates_digest
from ledger.services.credit import CreditService
from ledger.services.red_light import RedLightService

router = APIRouter()

_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such case or applicant (or another department's case)."},
    409: {"description": "Already explained or deducted; the department is not enrolled."},
    422: {"description": "A rule refused the command (`rule`) or a field is invalid."},
}


def install(ctx: ApiContext) -> None:
    """The services (the server's city rules for the blacklist, NH·25, are wired there)."""
    install_wiring(ctx)


# --- schemas --------------------------------------------------------------------------------


class DelayExplanation(Frozen):
    """The department's own explanation of its overdue case (主动说明, FZ·24)."""

    explanation: Text


class Deduction(Frozen):
    """The assessment points deducted from the department for a red light (考核扣分, FZ·24)."""

    points: int = Field(ge=1, le=100)
    reasons: Text


class CreditEntry(Frozen):
    """An entry of the applicant's credit record (失信信用记录, GZ20·28)."""

    misconduct: Literal[
        "improper_licence",
        "improper_payment",
        "improper_award",
        "improper_compensation",
        "untrue_commitment",
    ]
    details: Text
    evidence: Annotated[tuple[Text, ...], Field(min_length=1, max_length=50)]
    case_serial: Annotated[str, Field(max_length=64)] = ""
    serious: bool = False
    legal_basis: Annotated[str, Field(max_length=500)] = ""


class CreditPublic(BaseModel):
    applicant_id: str
    joint_punishment: bool
    entries: list[dict[str, Any]]


class TemplatePublic(BaseModel):
    title: str
    kind: str
    fields: list[str]
    issued_by: str
    articles: str
    note: str


class TemplatesPublic(BaseModel):
    basis: str
    digest: str
    templates: list[TemplatePublic]


# --- red light (FZ·24) ----------------------------------------------------------------------


def _case_department(wired: Wired, who: Principal, serial: str) -> str:
    """The case's department, as the caller may see it (another department's case: 404)."""
    with edge():
        case = wired.services.cases.case(serial)
    in_scope(who, case.department)
    return str(case.department)


@command(
    router,
    "/v1/cases/{serial}/red-light/explanation",
    Recorded,
    "The department explains its overdue case itself; no supervision order is due for it "
    "any more (FZ·24) (role: department)",
    responses=_ANSWERS,
)
def explain_delay(
    serial: Serial, body: DelayExplanation, who: Department_, wired: Wired
) -> Recorded:
    department = _case_department(wired, who, serial)
    with edge():
        record = (
            RedLightService(wired.ctx.runtime.ledger)
            .sealed_by(wired.seal_signer)
            .explain(
                serial,
                signer=wired.acting_signer(who, department),
                department=department,
                at=wired.now(),
                **body.model_dump(),
            )
        )
    return Recorded(id=serial, kind="red_light", detail={"sealed": jsonable(record.to_dict())})


@command(
    router,
    "/v1/cases/{serial}/red-light/deduction",
    Recorded,
    "Record the assessment points deducted from the department for an overdue case "
    "(考核扣分, FZ·24) (role: supervisor)",
    responses=_ANSWERS,
)
def deduct_points(serial: Serial, body: Deduction, who: Supervisor, wired: Wired) -> Recorded:
    with edge():
        RedLightService(wired.ctx.runtime.ledger).sealed_by(wired.seal_signer).deduct(
            serial,
            signer=wired.supervising_signer(who),
            office=SUPERVISION_OFFICE,
            at=wired.now(),
            **body.model_dump(),
        )
    return Recorded(id=serial, kind="red_light", detail={"deducted_points": body.points})


# --- credit record (GZ20·28) ----------------------------------------------------------------


@command(
    router,
    "/v1/applicants/{applicant_id}/credit-entries",
    Recorded,
    "Enter an improper acquisition or an untrue commitment in the applicant's credit record; "
    "a serious one, with its legal basis, puts them on the joint-punishment list (GZ20·28) "
    "(role: department)",
    status=201,
    responses=_ANSWERS,
)
def enter_credit(applicant_id: Id, body: CreditEntry, who: Department_, wired: Wired) -> Recorded:
    department = who.department
    if who.role is Role.ADMIN and body.case_serial:
        department = _case_department(wired, who, body.case_serial)
    service = CreditService(wired.ctx.runtime.ledger).sealed_by(wired.seal_signer)
    with edge():
        entry = service.enter(
            applicant_id,
            signer=wired.acting_signer(who, department),
            department=department,
            at=wired.now(),
            **body.model_dump(),
        )
    return Recorded(
        id=str(applicant_id),
        kind="credit_record",
        detail={
            "entry": jsonable(entry),
            "joint_punishment": service.on_joint_punishment_list(applicant_id),
        },
    )


@router.get(
    "/v1/applicants/{applicant_id}/credit",
    response_model=CreditPublic,
    summary="The applicant's credit-record entries and whether they are on the "
    "joint-punishment list (GZ20·28) (role: department, supervisor)",
)
def read_credit(applicant_id: Id, who: Reader, wired: Wired) -> CreditPublic:
    found = CreditService(wired.ctx.runtime.ledger).record(applicant_id)
    entries = [] if found is None else [jsonable(e) for e in found.entries]
    return CreditPublic(
        applicant_id=str(applicant_id),
        joint_punishment=found is not None and found.joint_punishment,
        entries=entries,
    )


# --- published templates (FZ·16) ------------------------------------------------------------


@router.get(
    "/v1/templates",
    response_model=TemplatesPublic,
    summary="The published standard templates (标准化模板) with the fields each document "
    "states, and the digest of the set (FZ·16) (anyone)",
)
def templates() -> TemplatesPublic:
    return TemplatesPublic(
        basis=BASIS,
        digest=templates_digest(),
        templates=[TemplatePublic(**dataclasses.asdict(t)) for t in PUBLISHED_TEMPLATES],
    )
