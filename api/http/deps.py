"""Request dependencies: who is calling, and may they.

Layer: api (HTTP). ``Annotated`` aliases in the style of full-stack-fastapi-template. The
dependencies are ``async``: FastAPI runs a plain ``def`` dependency in the thread pool, a hand-off
per dependency and request; these do no I/O but a token look-up on a cache miss, which alone goes
to a worker thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, Header, Request

from api.http.context import ApiContext
from api.http.problems import Problem
from api.tokens import Principal, Role


def api_context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


async def context(request: Request) -> ApiContext:
    return api_context(request)


Ctx = Annotated[ApiContext, Depends(context)]


async def principal(ctx: ApiContext, authorization: str | None) -> Principal:
    """The caller of the ``Authorization: Bearer`` token; 401 without a valid one."""
    if not authorization or not authorization.startswith("Bearer "):
        raise Problem(
            401, "Unauthorized", "send Authorization: Bearer <token>", code="unauthorized"
        )
    token = authorization.removeprefix("Bearer ").strip()
    found = ctx.tokens.cached(token)
    if found is None:  # not seen lately: ask the database, off the event loop
        found = await anyio.to_thread.run_sync(ctx.tokens.authenticate, token)
    if found is None:
        raise Problem(401, "Unauthorized", "the token is not valid", code="unauthorized")
    return found


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets only ``roles`` (and admin) through; 403 otherwise. One
    dependency, not a chain of them: each costs its resolution on every request."""

    async def check(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Principal:
        who = await principal(api_context(request), authorization)
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
