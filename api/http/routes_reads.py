"""Contract reads over the read models: worklists, indicators, certificates, ratings, blacklist.

Layer: api (HTTP). Every answer comes from a view in ``ctx.views`` (kept up to date by the
``BatchFollower`` of ``caseledger serve``), never from replaying aggregates. Scope rules:

- a department token sees its own department only — another department's code answers 404
  (not 403, so codes are not probed), and filters default to its own code;
- ``today`` is the Asia/Shanghai date of the server clock; supervisors (and admin) may ask
  ``?as_of=YYYY-MM-DD`` to see the lights/worklists of another day, others get 403.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query

from api.http.deps import Ctx, require
from api.http.problems import Problem
from api.http.read_side import read_view
from api.http.schemas_reads import (
    ApplicantRestrictions,
    BadRatingPublic,
    BadRatingsPage,
    CertificateStatusPublic,
    DistributionPublic,
    IndicatorsPublic,
    ProposalPublic,
    RatePublic,
    RestrictionPublic,
    VersionPublic,
    WorkItemPublic,
    WorklistPage,
)
from api.tokens import Principal, Role
from ledger.domain.calendar import to_shanghai
from ledger.domain.cases import CaseState
from projections import blacklist as bl
from projections import certificates as certs
from projections import indicators as ind
from projections import ratings as rt
from projections import worklist as wl
from projections.common import MAX_PAGE

router = APIRouter(tags=["reads"])

DepartmentCode = Annotated[
    str, Path(min_length=2, max_length=32, pattern=r"^[A-Za-z0-9_-]+$", description="部门编码")
]
Code = Annotated[
    str | None,
    Query(min_length=2, max_length=32, pattern=r"^[A-Za-z0-9_-]+$", description="部门编码"),
]
Month = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
AsOf = Annotated[
    dt.date | None,
    Query(description="Supervisors only: the Asia/Shanghai day to evaluate (default today)"),
]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]

Reader = Annotated[Principal, Depends(require(Role.DEPARTMENT, Role.SUPERVISOR))]
StatsReader = Annotated[Principal, Depends(require(Role.DEPARTMENT, Role.SUPERVISOR, Role.AUDITOR))]
CertificateReader = Annotated[
    Principal,
    Depends(require(Role.DEPARTMENT, Role.KIOSK, Role.AUDITOR, Role.SUPERVISOR)),
]
RestrictionReader = Annotated[
    Principal, Depends(require(Role.DEPARTMENT, Role.KIOSK, Role.SUPERVISOR))
]
Supervisor = Annotated[Principal, Depends(require(Role.SUPERVISOR))]

_NOT_FOUND: Final[dict[int | str, dict[str, Any]]] = {
    404: {"description": "No such resource (or another department's)."}
}


# --- shared helpers -----------------------------------------------------------------------------


def shanghai_today() -> dt.date:
    """The Asia/Shanghai date of the server clock."""
    return to_shanghai(dt.datetime.now(dt.UTC)).date()


def today_for(who: Principal, as_of: dt.date | None) -> dt.date:
    """``as_of`` for supervisors and admin; anyone else asking for another day gets 403."""
    if as_of is None:
        return shanghai_today()
    if who.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise Problem(403, "Forbidden", "as_of is for supervisors", code="forbidden")
    return as_of


def view_of(ctx: Any, name: str) -> Any:
    """The view ``name`` this request reads (on the read side's standby when there is one)."""
    found = read_view(ctx, name)
    if found is None:
        raise Problem(503, "Unavailable", f"the {name} read model is not open", code="no-view")
    return found


def department_scope(who: Principal, requested: str | None) -> str | None:
    """The department a caller may look at: its own (another's → 404), or any for others."""
    if who.role is Role.DEPARTMENT:
        if requested is not None and requested != who.department:
            raise Problem(404, "Not found", "no such department", code="not-found")
        return who.department
    return requested


def bad_value(exc: ValueError) -> Problem:
    text = str(exc)
    field, _, message = text.partition(": ")
    return Problem(
        422,
        "Validation error",
        text,
        code="validation",
        errors=[{"field": field if message else "query", "message": message or text}],
    )


# --- worklist -----------------------------------------------------------------------------------


@router.get(
    "/v1/departments/{code}/worklist",
    tags=["worklist"],
    summary="A department's open cases, soonest due first (roles: department — own — supervisor)",
    responses=_NOT_FOUND,
)
def department_worklist(
    ctx: Ctx,
    who: Reader,
    code: DepartmentCode,
    state: Annotated[CaseState | None, Query()] = None,
    item: Annotated[
        str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    ] = None,
    overdue: Annotated[bool | None, Query()] = None,
    as_of: AsOf = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> WorklistPage:
    department = department_scope(who, code) or code
    today = today_for(who, as_of)
    view = view_of(ctx, "worklist")
    try:
        page = wl.worklist(
            view,
            department,
            today=today,
            state=None if state is None else state.value,
            item_code=item,
            overdue=overdue,
            offset=offset,
            limit=limit,
        )
    except ValueError as exc:
        raise bad_value(exc) from None
    return WorklistPage(
        department=department,
        today=today.isoformat(),
        items=[WorkItemPublic(**vars(i)) for i in page.items],
        total=page.total,
        offset=page.offset,
        limit=page.limit,
        next=page.next_offset,
        counts=wl.state_counts(view, department),
    )


# --- indicators ---------------------------------------------------------------------------------


INDICATOR_NAMES: Final = (
    "fully_online",
    "online_completion",
    "certificate_electronisation",
    "on_time",
    "satisfaction",
)


def indicators_public(found: ind.Indicators) -> IndicatorsPublic:
    rates = {
        name: RatePublic(
            numerator=getattr(found, name).numerator,
            denominator=getattr(found, name).denominator,
            value=getattr(found, name).value,
        )
        for name in INDICATOR_NAMES
    }
    return IndicatorsPublic(department=found.department, month=found.month, **rates)


@router.get(
    "/v1/indicators",
    tags=["indicators"],
    summary="The five indicators per department and month (roles: department — own — "
    "supervisor, auditor)",
    responses=_NOT_FOUND,
)
def indicators(
    ctx: Ctx,
    who: StatsReader,
    department: Code = None,
    month: Month = None,
) -> list[IndicatorsPublic]:
    scope = department_scope(who, department)
    found = ind.indicators(view_of(ctx, "indicators"), department=scope, month=month)
    return [indicators_public(i) for i in found]


# --- certificates -------------------------------------------------------------------------------


@router.get(
    "/v1/certificates/{identifier}",
    tags=["certificates"],
    summary="The status of an e-certificate version: valid, superseded, revoked or disputed "
    "(roles: department, kiosk, auditor, supervisor)",
    responses={
        404: {"description": "Never issued."},
        422: {"description": "Malformed identifier; `field` names the part."},
    },
)
def certificate_status(
    ctx: Ctx,
    _: CertificateReader,
    identifier: Annotated[str, Path(min_length=1, max_length=128)],
) -> CertificateStatusPublic:
    found = certs.status(view_of(ctx, "certificates"), identifier)  # InvalidCertificate → 422
    if found is None:
        raise Problem(404, "Not found", "no certificate has this identifier", code="not-found")
    data = vars(found).copy()
    data["versions"] = [VersionPublic(**vars(v)) for v in found.versions]
    return CertificateStatusPublic(**data)


# --- ratings ------------------------------------------------------------------------------------


@router.get(
    "/v1/ratings/distribution",
    tags=["ratings"],
    summary="Counted ratings per department and month with the satisfaction rate "
    "(roles: department — own — supervisor, auditor)",
    responses=_NOT_FOUND,
)
def rating_distribution(
    ctx: Ctx,
    who: StatsReader,
    department: Code = None,
    month: Month = None,
) -> list[DistributionPublic]:
    scope = department_scope(who, department)
    found = rt.distribution(view_of(ctx, "ratings"), department=scope, month=month)
    return [DistributionPublic(**vars(d)) for d in found]


@router.get(
    "/v1/departments/{code}/bad-ratings",
    tags=["ratings"],
    summary="A department's bad ratings (差评) and their callback/rectification "
    "(roles: department — own — supervisor)",
    responses=_NOT_FOUND,
)
def department_bad_ratings(
    ctx: Ctx,
    who: Reader,
    code: DepartmentCode,
    state: Annotated[str | None, Query(pattern="^(" + "|".join(rt.BAD_STATES) + ")$")] = None,
    as_of: AsOf = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> BadRatingsPage:
    department = department_scope(who, code) or code
    today = today_for(who, as_of)
    try:
        page = rt.bad_ratings(
            view_of(ctx, "ratings"),
            department,
            today=today,
            state=state,
            offset=offset,
            limit=limit,
        )
    except ValueError as exc:
        raise bad_value(exc) from None
    return BadRatingsPage(
        department=department,
        today=today.isoformat(),
        items=[BadRatingPublic(**vars(b)) for b in page.items],
        total=page.total,
        offset=page.offset,
        limit=page.limit,
        next=page.next_offset,
    )


# --- blacklist ----------------------------------------------------------------------------------


@router.get(
    "/v1/blacklist/proposals",
    tags=["blacklist"],
    summary="Applicants whose counted facts cross the threshold (role: supervisor)",
)
def blacklist_proposals(ctx: Ctx, who: Supervisor, as_of: AsOf = None) -> list[ProposalPublic]:
    today = today_for(who, as_of)
    return [
        ProposalPublic(applicant_id=p.applicant_id, ground=p.ground, facts=list(p.facts))
        for p in bl.proposals(view_of(ctx, "blacklist"), today=today)
    ]


@router.get(
    "/v1/blacklist/{applicant_id}",
    tags=["blacklist"],
    summary="Whether an applicant is restricted today, with the counted facts "
    "(roles: department, kiosk, supervisor)",
)
def blacklist_lookup(
    ctx: Ctx, who: RestrictionReader, applicant_id: UUID, as_of: AsOf = None
) -> ApplicantRestrictions:
    today = today_for(who, as_of)
    view = view_of(ctx, "blacklist")
    page = bl.restrictions(view, today=today, applicant_id=applicant_id, limit=MAX_PAGE)
    counted = bl.counters(view, applicant_id)
    return ApplicantRestrictions(
        applicant_id=str(applicant_id),
        today=today.isoformat(),
        restricted=bool(page.items),
        restrictions=[RestrictionPublic(**vars(r)) for r in page.items],
        facts=counted.facts,
        unused=counted.unused,
    )
