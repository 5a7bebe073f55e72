"""The FastAPI application: routers, problem details, body limit, metrics.

Layer: api (HTTP). ``create_app`` builds nothing at import; the composition root
passes in the ``ApiContext``. One router per resource.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response

from api.http import problems, routes_audit, routes_health
from api.http.context import ApiContext

ASGIApp = Callable[
    [dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


class BodyLimit:
    """Refuse bodies over ``limit`` bytes with 413 before they are read whole."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(self.limit)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(self.limit)(scope, receive, send)


class _TooLarge(Exception):
    pass


def _too_large(limit: int) -> Any:
    return problems.problem_response(
        413, "Payload too large", f"request bodies are limited to {limit} bytes", code="too-large"
    )


def create_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(
        title="caseledger",
        version="0.1.0",
        description="Event-sourced case ledger for online government services (网上办事), "
        "with an audit chain anchored to a municipal blockchain node.",
        openapi_url="/openapi.json",
    )
    app.state.ctx = ctx
    problems.install(app)
    app.include_router(routes_health.router)
    app.include_router(routes_audit.router)
    for router in ctx.services.get("routers", ()):
        app.include_router(router)

    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        began = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        ctx.metrics.requests.labels(path, request.method, str(response.status_code)).inc()
        ctx.metrics.latency.labels(path).observe(time.perf_counter() - began)
        return response

    app.add_middleware(BodyLimit, limit=ctx.max_body_bytes)
    return app
