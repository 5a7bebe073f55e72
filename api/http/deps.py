"""Request dependencies: who is calling, and may they.

Layer: api (HTTP). ``Annotated`` aliases in the style of full-stack-fastapi-template.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, Request

from api.http.context import ApiContext
from api.http.problems import Problem
from api.tokens import Principal, Role


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ApiContext, Depends(context)]


def principal(ctx: Ctx, authorization: Annotated[str | None, Header()] = None) -> Principal:
    if not authorization or not authorization.startswith("Bearer "):
        raise Problem(
            401, "Unauthorized", "send Authorization: Bearer <token>", code="unauthorized"
        )
    found = ctx.tokens.authenticate(authorization.removeprefix("Bearer ").strip())
    if found is None:
        raise Problem(401, "Unauthorized", "the token is not valid", code="unauthorized")
    return found


CurrentPrincipal = Annotated[Principal, Depends(principal)]


def require(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets only ``roles`` (and admin) through; 403 otherwise."""

    def check(who: CurrentPrincipal) -> Principal:
        if who.role is not Role.ADMIN and who.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Problem(
                403,
                "Forbidden",
                f"role {who.role} may not do this (needs {allowed})",
                code="forbidden",
            )
        return who

    return check


Auditor = Annotated[Principal, Depends(require(Role.AUDITOR, Role.SUPERVISOR, Role.ARCHIVIST))]
Admin = Annotated[Principal, Depends(require())]
