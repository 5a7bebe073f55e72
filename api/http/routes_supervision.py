"""Supervision (电子监察): the warnings contract and the supervisors' dashboard.

Layer: api (HTTP). ``GET /v1/supervision/warnings`` answers, from the supervision view, the
light of every open case (green/yellow/red, with filters and pagination), the red cases that
need a supervision order, every raised flag and the summary counts — as of ``today``, the
Asia/Shanghai date of the server clock (``?as_of=YYYY-MM-DD`` to look at another day).

``/supervision`` is the same data as a server-rendered page (``api.http.dashboard``). Its
token is sent as ``Authorization: Bearer`` or exchanged once: ``/supervision?token=…`` (or
the form on the page) sets an HttpOnly, SameSite=Strict cookie scoped to ``/supervision`` and
redirects to the bare URL, so the token does not stay in the address bar or in history —
the kiosk's pattern (``api.http.routes_kiosk``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.http import dashboard
from api.http.deps import Ctx, require
from api.http.read_side import read_chain
from api.http.routes_reads import (
    AsOf,
    Code,
    Limit,
    Offset,
    indicators_public,
    today_for,
    view_of,
)
from api.http.schemas_reads import (
    AnchoringPublic,
    CaseLightPublic,
    DepartmentCounts,
    FlagPublic,
    LightsPage,
    SummaryPublic,
    Warnings,
)
from api.tokens import Principal, Role
from projections import indicators as ind
from projections import supervision as sv

router = APIRouter(tags=["supervision"])

COOKIE: Final = "supervision_token"
REFRESH_SECONDS: Final = 30
SupervisorCaller = Annotated[Principal, Depends(require(Role.SUPERVISOR))]


def _light(c: sv.CaseLight) -> CaseLightPublic:
    return CaseLightPublic(**vars(c))


def warnings_of(
    ctx: Any,
    today: dt.date,
    *,
    department: str | None = None,
    light: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Warnings:
    view = view_of(ctx, "supervision")
    head = read_chain(ctx).chain_head()  # the log beside the view (on the standby with it)
    now = dt.datetime.now(dt.UTC)
    log_head = head.sequence if head else 0
    summary = sv.summary(view, today=today, now=now, log_head=log_head)
    page = sv.case_lights(
        view, today=today, department=department, light=light, offset=offset, limit=limit
    )
    raised = sv.flags(view, today=today, now=now, log_head=log_head, department=department)
    return Warnings(
        today=today.isoformat(),
        summary=SummaryPublic(
            today=summary.today,
            open_cases=summary.open_cases,
            lights=summary.lights,
            flags=summary.flags,
            needs_order=summary.needs_order,
            provisional=summary.provisional,
            paused=summary.paused,
            by_department={
                d: DepartmentCounts(**vars(s)) for d, s in summary.by_department.items()
            },
            anchoring=None
            if summary.anchoring is None
            else AnchoringPublic(**vars(summary.anchoring)),
            deducted_points=summary.deducted_points,
        ),
        lights=LightsPage(
            items=[_light(c) for c in page.items],
            total=page.total,
            offset=page.offset,
            limit=page.limit,
            next=page.next_offset,
        ),
        needing_orders=[
            _light(c) for c in sv.needing_orders(view, today=today, department=department)
        ],
        flags=[FlagPublic(**vars(f)) for f in raised],
    )


@router.get(
    "/v1/supervision/warnings",
    summary="Lights per open case, cases needing an order, flags and counts (role: supervisor)",
)
def warnings(
    ctx: Ctx,
    who: SupervisorCaller,
    department: Code = None,
    light: Annotated[str | None, Query(pattern="^(green|yellow|red)$")] = None,
    as_of: AsOf = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Warnings:
    today = today_for(who, as_of)
    return warnings_of(ctx, today, department=department, light=light, offset=offset, limit=limit)


# --- the dashboard ------------------------------------------------------------------------------


def _supervisor(ctx: Any, request: Request) -> Principal | None:
    header = request.headers.get("authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    token = token or request.cookies.get(COOKIE, "")
    found: Principal | None = ctx.tokens.authenticate(token) if token else None
    if found is None or found.role not in (Role.SUPERVISOR, Role.ADMIN):
        return None
    return found


def _login(message: str = "", status: int = 200) -> HTMLResponse:
    return HTMLResponse(dashboard.login_page(message), status_code=status)


def _exchange(ctx: Any, token: str) -> Response:
    found = ctx.tokens.authenticate(token.strip())
    if found is None or found.role not in (Role.SUPERVISOR, Role.ADMIN):
        return _login("令牌无效 The token is not a supervisor token", 401)
    response = RedirectResponse("/supervision", status_code=303)
    response.set_cookie(
        COOKIE, token.strip(), httponly=True, samesite="strict", path="/supervision"
    )
    return response


@router.get("/supervision", response_class=HTMLResponse, include_in_schema=False)
def supervision_page(
    ctx: Ctx,
    request: Request,
    token: Annotated[str | None, Query(max_length=200)] = None,
    as_of: Annotated[dt.date | None, Query()] = None,
) -> Response:
    if token:
        return _exchange(ctx, token)
    who = _supervisor(ctx, request)
    if who is None:
        return _login()
    today = today_for(who, as_of)
    data = warnings_of(ctx, today, limit=500)
    indicators = [indicators_public(i) for i in ind.indicators(view_of(ctx, "indicators"))]
    html = dashboard.render(data, indicators, refresh_seconds=REFRESH_SECONDS)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.post("/supervision", response_class=HTMLResponse, include_in_schema=False)
def supervision_login(ctx: Ctx, token: Annotated[str, Form(max_length=200)]) -> Response:
    return _exchange(ctx, token)


@router.get("/supervision/data.json", include_in_schema=False)
def supervision_data(ctx: Ctx, request: Request) -> Response:
    who = _supervisor(ctx, request)
    if who is None:
        from api.http.problems import problem_response

        return problem_response(
            401, "Unauthorized", "supervisor token required", code="unauthorized"
        )
    data = warnings_of(ctx, today_for(who, None), limit=500)
    return Response(data.model_dump_json(), media_type="application/json")
