"""Personal data over HTTP: least privilege for applicant reads, and access grants.

Layer: api (HTTP). The rule lives in ``ledger.services.personal_data`` (GZ20·25, NH·23,
GZ16·21); this module wires it to the progress read model (which department holds a case
of which applicant), parses ``X-Purpose`` and answers:

- ``GET /v1/applicants/{id}`` (``api.http.routes_domain.read_applicant``) — a department
  that holds no case of the applicant and no grant gets 404 with exactly the body of
  another department's case, as for an applicant that does not exist; so does an oversight
  reader (supervisor, admin) asking for clear data;
- ``X-Purpose`` is percent-decoded to bytes that must be UTF-8, then checked as printable
  text of at most 200 characters (``ledger.domain.access.check_purpose``): 422 naming
  ``X-Purpose`` otherwise, and nothing is recorded;
- ``POST /v1/applicants/{id}/access-grants`` (supervisor; admin) records a grant that lets
  one department read one applicant's data for 1–168 hours.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final
from urllib.parse import unquote_to_bytes
from uuid import UUID

from fastapi import APIRouter, Depends, Path, status
from pydantic import Field

from api.http.deps import require
from api.http.problems import Problem
from api.http.routes_common import IdempotencyKey, Wired, Wiring, edge, respond
from api.http.schemas import Code, Frozen, Text
from api.http.schemas_domain import Recorded
from api.tokens import Principal, Role
from ledger.domain.access import MAX_GRANT_HOURS, check_purpose
from ledger.domain.rules import FieldViolation
from ledger.services.personal_data import PersonalDataService, UnknownApplicant
from projections.progress import case_of_applicant
from projections.runner import wait_level

__all__ = ["hidden", "personal_data", "purpose_of", "router"]

MAX_PURPOSE_HEADER: Final = 2400
"""Longest raw ``X-Purpose``: 200 characters of up to 4 UTF-8 bytes, percent-encoded."""

router = APIRouter(prefix="/v1/applicants", tags=["applicants"])
Granter = Annotated[Principal, Depends(require(Role.SUPERVISOR))]


def hidden() -> Problem:
    """The 404 of a record the caller may not see — the very body of another department's
    case (``routes_common.in_scope``), so the two cannot be told apart."""
    return Problem(404, "Not found", "no such resource", code="not-found")


def personal_data(wired: Wiring) -> PersonalDataService:
    """The process's personal-data service, its ``cases_of`` port on the progress view."""
    services = wired.ctx.services
    found = services.get("personal_data")
    if isinstance(found, PersonalDataService):
        return found
    ctx = wired.ctx

    def cases_of(applicant_id: UUID, department: str) -> str | None:
        view = ctx.views.get("progress")
        if view is None:
            raise Problem(503, "Unavailable", "the progress read model is not open", code="no-view")
        serial = case_of_applicant(view, applicant_id, department)
        if serial is None and not wait_level(view, ctx.runtime.ledger):
            return None  # a case submitted a moment ago may not be in the view yet
        return serial if serial is not None else case_of_applicant(view, applicant_id, department)

    made = PersonalDataService(ctx.runtime.ledger, cases_of)
    return services.setdefault("personal_data", made)


def purpose_of(header: str | None) -> str:
    """``X-Purpose`` as text: percent-decoded (raw UTF-8 bytes are accepted as well), valid
    UTF-8, printable, at most 200 characters. Raises a 422 problem naming ``X-Purpose``."""
    raw = (header or "").encode("latin-1", errors="replace")  # Starlette decoded it as latin-1
    try:
        text = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise _purpose_problem(
            "purpose-invalid-utf8", "not valid UTF-8 after percent-decoding"
        ) from None
    try:
        return check_purpose(text)
    except FieldViolation as exc:
        raise _purpose_problem(exc.code, exc.problem) from None


def _purpose_problem(code: str, message: str) -> Problem:
    return Problem(
        422,
        "Validation error",
        f"X-Purpose: {message}",
        code=code,
        field="X-Purpose",
        rule="GZ20·25",
        errors=[{"field": "X-Purpose", "message": message}],
    )


class AccessGrantCreate(Frozen):
    """Let one department read one applicant's personal data for a while."""

    department: Code
    reason: Text
    hours: Annotated[int, Field(ge=1, le=MAX_GRANT_HOURS)]


@router.post(
    "/{applicant_id}/access-grants",
    status_code=status.HTTP_201_CREATED,
    response_model=Recorded,
    summary="Let a department read an applicant's personal data for 1–168 hours, recorded "
    "in the chain with the reason (GZ20·25) (role: supervisor)",
    responses={
        404: {"description": "No such applicant."},
        422: {"description": "No such department, hours out of range, or a bad reason."},
    },
)
def grant_access(
    applicant_id: Annotated[UUID, Path()],
    body: AccessGrantCreate,
    who: Granter,
    wired: Wired,
    key: IdempotencyKey = None,
) -> Any:
    """Signed by the supervision office's key (an admin: the platform key). The department
    then reads the applicant, masked or clear (with ``X-Purpose``), until ``until``; each
    clear read is recorded with ``basis`` ``grant:<id>@<version>``."""

    def action() -> Recorded:
        signer = wired.platform_signer() if who.role is Role.ADMIN else wired.supervisor_signer()
        try:
            with edge():
                record = personal_data(wired).grant(
                    applicant_id,
                    body.department,
                    reason=body.reason,
                    hours=body.hours,
                    at=wired.now(),
                    signer=signer,
                )
        except UnknownApplicant:
            raise hidden() from None
        until = record.until.astimezone(dt.UTC).isoformat() if record.until else None
        return Recorded(
            id=str(record.id),
            kind="personal_data_grant",
            detail={"department": record.department, "until": until, "version": record.version},
        )

    params = {"applicant_id": applicant_id, **body.model_dump()}
    return respond(wired, who, key, "grant_access", params, action, status=201)
