"""Case results over HTTP: the public announcement and the applicant's own results page.

Layer: api (HTTP). Both read the ``results`` view (``projections.results``), never the
aggregates:

- ``GET /v1/results`` — results announced to the public ("向社会公布事项办理结果", GZ20·18,
  GZ16·18): no token, and nothing personal — serial, matter, department, result, dates;
- ``GET /v1/results/mine`` — the applicant's own page (市民个人网页 / 企业专属网页, GZ16·13,
  PY·13), reached through the applicant's channel (the portal's department token, or a kiosk)
  with the applicant's proof: a serial of theirs and its verification code from the application
  receipt (``X-Serial``, ``X-Verification-Code``, as at the kiosk; in headers so that no access
  log holds them). Any mismatch answers the same 404; attempts are rate-limited per token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Header, Query
from pydantic import BaseModel

from api.http.deps import Ctx, require
from api.http.problems import Problem
from api.http.ratelimit import RateLimiter
from api.http.routes_cases import _wait_for_view
from api.http.routes_reads import Limit, Offset, bad_value, view_of
from api.tokens import Principal, Role
from kiosk.codes import SECRET_NAME, check_code
from projections import results as rs

__all__ = ["install", "router"]

router = APIRouter(tags=["results"])
_SERIAL: Final = re.compile(r"[A-Za-z0-9-]{4,64}")

ApplicantChannel = Annotated[Principal, Depends(require(Role.DEPARTMENT, Role.KIOSK))]
DepartmentFilter = Annotated[
    str | None,
    Query(min_length=2, max_length=32, pattern=r"^[A-Za-z0-9_-]+$", description="部门编码"),
]
ItemFilter = Annotated[
    str | None,
    Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="事项编码"),
]


@dataclass
class _Proofs:
    """The code secret and the limiter of applicant proofs, one per process."""

    secret: bytes
    attempts: RateLimiter
    """Proof attempts per token: 0.5/s, bursts of 10, for the server as a whole."""


def install(ctx: Any) -> None:
    ctx.services["result_proofs"] = _Proofs(
        ctx.runtime.keystore.secret(SECRET_NAME), RateLimiter.shared(0.5, 10, ctx.workers)
    )


class AnnouncementPage(BaseModel):
    """Results announced to the public (GZ20·18, GZ16·18), newest first."""

    items: list[rs.AnnouncedResult]
    total: int
    offset: int
    limit: int
    next: int | None


class ApplicantResultsPage(BaseModel):
    """The applicant's own page (GZ16·13, PY·13): every decided case, latest first."""

    page: str
    items: list[rs.ApplicantResult]


_NOT_FOUND: Final[dict[int | str, dict[str, Any]]] = {
    404: {"description": "No case with this serial and verification code."},
    429: {"description": "Too many attempts from this token; see Retry-After."},
}


@router.get(
    "/v1/results",
    response_model=AnnouncementPage,
    summary="Results announced to the public (向社会公布事项办理结果, GZ20·18, GZ16·18): closed "
    "cases, nothing personal (anyone, no token)",
)
def announcement(
    ctx: Ctx,
    department: DepartmentFilter = None,
    item: ItemFilter = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> AnnouncementPage:
    view = view_of(ctx, "results")
    _wait_for_view(ctx, view)  # bounded: a case closed a moment ago is announced
    try:
        page = rs.announced(view, department=department, item_code=item, offset=offset, limit=limit)
    except ValueError as exc:
        raise bad_value(exc) from None
    counts = {"total": page.total, "offset": page.offset, "limit": page.limit}
    return AnnouncementPage(items=list(page.items), next=page.next_offset, **counts)


@router.get(
    "/v1/results/mine",
    response_model=ApplicantResultsPage,
    summary="The applicant's own results page (GZ16·13, PY·13), proven by a serial of theirs "
    "and its verification code (roles: department — the portal — kiosk)",
    responses=_NOT_FOUND,
)
def applicant_page(
    ctx: Ctx,
    who: ApplicantChannel,
    x_serial: Annotated[str, Header(max_length=64)],
    x_verification_code: Annotated[str, Header(max_length=16)],
) -> ApplicantResultsPage:
    proofs: _Proofs = ctx.services["result_proofs"]
    proofs.attempts.take(who.token_id)
    serial = x_serial.strip().upper()
    view = view_of(ctx, "results")
    _wait_for_view(ctx, view)  # bounded: the applicant sees a result dispatched a moment ago
    applicant = None
    if _SERIAL.fullmatch(serial) and check_code(proofs.secret, serial, x_verification_code):
        applicant = rs.applicant_of(view, serial)
    if applicant is None:
        raise Problem(404, "Not found", "no such resource", code="not-found")
    return ApplicantResultsPage(
        page=rs.page_of(view, applicant),
        items=rs.applicant_results(view, applicant),
    )
