"""Officials over HTTP: a department administrator manages its officials and the window's
delegation; an auditor reads one official's history (FZ·26(二)(五), NH·6(二), GZ20·11).

Layer: api (HTTP). Who decides: an admin token acts with the platform key (which appoints a
department's first administrator); a department token issued to an official acts with that
official's key, and the ledger lets it through only if the official is an active
administrator of the department concerned (refused attempts are recorded). A department
system token (no official) may not manage officials.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import Field, StringConstraints

from api.http.command import command
from api.http.deps import Auditor, Ctx, require
from api.http.problems import Problem
from api.http.routes_common import Wired, Wiring, edge, jsonable
from api.http.routes_common import install as install_wiring
from api.http.schemas import Code, Frozen, Text
from api.http.schemas_domain import Name, Recorded
from api.tokens import Principal, Role
from ledger.domain.officials import Delegation, Official, OfficialRole
from ledger.domain.signer import Signer
from ledger.services.officials import OfficialNotFound, OfficialService

router = APIRouter()
admin = APIRouter(prefix="/v1/admin", tags=["admin"])
audit = APIRouter(prefix="/v1/audit", tags=["audit"])

Manager = Annotated[Principal, Depends(require(Role.DEPARTMENT))]
StaffCode = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z-]{2,32}$")]
Roles = Annotated[list[OfficialRole], Field(min_length=1, max_length=len(OfficialRole))]


def install(ctx: Any) -> None:
    install_wiring(ctx)


class OfficialAppoint(Frozen):
    """Appoint an official: their key is created in the server's keystore and registered."""

    staff_code: StaffCode
    department: Code
    roles: Roles
    display_name: Name = Field(description="public work label, not a personal record")


class OfficialRoles(Frozen):
    roles: Roles


class OfficialMove(Frozen):
    department: Code
    roles: Roles


class Reasoned(Frozen):
    reason: Text


class DelegationGrant(Frozen):
    department: Code
    window: Code
    basis: Text


class DelegationWithdraw(Frozen):
    department: Code
    window: Code
    reason: Text


def _by(wired: Wiring, who: Principal) -> Signer:
    """The platform key for an admin token; the token's official otherwise."""
    if who.role is Role.ADMIN:
        return wired.platform_signer()
    if not who.official:
        raise Problem(
            403,
            "Forbidden",
            "official: only a token issued to an administrator manages officials",
            code="forbidden",
        )
    return wired.official_signer(who.official)


def _recorded(official: Official) -> Recorded:
    return Recorded(
        id=official.staff_code,
        kind="official",
        detail={
            "department": official.department,
            "roles": list(official.roles),
            "status": official.status,
        },
    )


def _service(wired: Wiring) -> OfficialService:
    return OfficialService(wired.ctx.runtime.ledger)


def _decide(wired: Wiring, who: Principal, act: Any) -> Recorded:
    try:
        with edge():
            return _recorded(act(_service(wired), _by(wired, who)))
    except OfficialNotFound as exc:
        raise Problem(404, "Not found", str(exc), code="not-found") from None


@command(
    admin,
    "/officials",
    Recorded,
    "Appoint an official and create their personal key (role: admin, or a department "
    "administrator)",
    status=status.HTTP_201_CREATED,
)
def appoint_official(body: OfficialAppoint, who: Manager, wired: Wired) -> Recorded:
    from api.officials import appoint

    by = _by(wired, who)
    with edge(), wired.enrol:
        official, key_id = appoint(
            wired.ctx.runtime,
            body.staff_code,
            body.department,
            [r.value for r in body.roles],
            body.display_name,
            by=by,
        )
    found = _recorded(official)
    found.detail["key_id"] = key_id.hex()
    return found


@command(
    admin,
    "/officials/{staff_code}/roles",
    Recorded,
    "Change an official's roles (role: admin, or a department administrator)",
)
def change_roles(
    staff_code: StaffCode, body: OfficialRoles, who: Manager, wired: Wired
) -> Recorded:
    roles = [r.value for r in body.roles]
    return _decide(wired, who, lambda s, by: s.change_roles(staff_code, roles, by=by))


@command(
    admin,
    "/officials/{staff_code}/move",
    Recorded,
    "Move an official to a department (role: admin, or the receiving administrator)",
)
def move_official(
    staff_code: StaffCode, body: OfficialMove, who: Manager, wired: Wired
) -> Recorded:
    roles = [r.value for r in body.roles]
    return _decide(wired, who, lambda s, by: s.move(staff_code, body.department, roles, by=by))


@command(
    admin,
    "/officials/{staff_code}/suspension",
    Recorded,
    "Suspend an official (role: admin, or a department administrator)",
)
def suspend_official(staff_code: StaffCode, body: Reasoned, who: Manager, wired: Wired) -> Recorded:
    return _decide(wired, who, lambda s, by: s.suspend(staff_code, body.reason, by=by))


@command(
    admin,
    "/officials/{staff_code}/reinstatement",
    Recorded,
    "Reinstate an official (role: admin, or a department administrator)",
)
def reinstate_official(staff_code: StaffCode, who: Manager, wired: Wired) -> Recorded:
    return _decide(wired, who, lambda s, by: s.reinstate(staff_code, by=by))


@command(
    admin,
    "/officials/{staff_code}/departure",
    Recorded,
    "Record that an official left (role: admin, or a department administrator)",
)
def official_left(staff_code: StaffCode, body: Reasoned, who: Manager, wired: Wired) -> Recorded:
    return _decide(wired, who, lambda s, by: s.leave(staff_code, body.reason, by=by))


@command(
    admin,
    "/officials/{staff_code}/key-rotation",
    Recorded,
    "Replace an official's key, revoking the old one (role: admin)",
)
def rotate_official_key(
    staff_code: StaffCode, body: Reasoned, who: Manager, wired: Wired
) -> Recorded:
    from api.officials import rotate_official_key as rotate

    if who.role is not Role.ADMIN:
        raise Problem(
            403, "Forbidden", "keys are rotated by the platform (admin)", code="forbidden"
        )
    try:
        with edge(), wired.enrol:
            key_id = rotate(wired.ctx.runtime, staff_code, body.reason)
    except OfficialNotFound as exc:
        raise Problem(404, "Not found", str(exc), code="not-found") from None
    return Recorded(id=staff_code, kind="official_key", detail={"key_id": key_id.hex()})


@command(
    admin,
    "/delegations",
    Recorded,
    "A department delegates pre-review, receipt and consultation to the comprehensive window "
    "(role: admin, or the department's administrator)",
    status=status.HTTP_201_CREATED,
)
def grant_delegation(body: DelegationGrant, who: Manager, wired: Wired) -> Recorded:
    with edge():
        found = _service(wired).grant_delegation(
            body.department, body.window, body.basis, by=_by(wired, who)
        )
    return _delegation(found)


@command(
    admin,
    "/delegations/withdrawal",
    Recorded,
    "Withdraw a delegation to the window (role: admin, or the department's administrator)",
)
def withdraw_delegation(body: DelegationWithdraw, who: Manager, wired: Wired) -> Recorded:
    with edge():
        found = _service(wired).withdraw_delegation(
            body.department, body.window, body.reason, by=_by(wired, who)
        )
    return _delegation(found)


def _delegation(found: Delegation) -> Recorded:
    return Recorded(
        id=f"{found.department}>{found.window}", kind="delegation", detail={"active": found.active}
    )


@audit.get(
    "/officials/{staff_code}/history",
    summary="Every action of one official, with the chain verified and inclusion proofs",
    responses={404: {"description": "No official has that staff code."}},
)
def official_history(staff_code: StaffCode, ctx: Ctx, _: Auditor) -> dict[str, Any]:
    from api.officials import history_with_proofs

    found = history_with_proofs(ctx.runtime, staff_code)
    if not found["key_ids"] and not found["actions"]:
        raise Problem(404, "Not found", f"staff_code: no official {staff_code}", code="not-found")
    return jsonable(found)


router.include_router(admin)
router.include_router(audit)
