"""The FastAPI application: routers, problem details, body limit, metrics, storage gate.

Layer: api (HTTP). ``create_app`` builds nothing at import; the composition root
passes in the ``ApiContext``. One router per resource.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from fastapi import FastAPI

from api.http import problems, routes_audit, routes_health
from api.http.context import ApiContext
from api.http.gate import GateMiddleware, StorageGate
from ledger.storage.materials import MAX_MATERIAL_BYTES

ASGIApp = Callable[
    [dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


MULTIPART_SLACK: Final = 64 * 1024
"""Room for the multipart framing around an upload of the largest allowed material."""
UPLOAD_LIMITS: Final[dict[tuple[str, str], int]] = {
    ("POST", "/v1/materials"): MAX_MATERIAL_BYTES + MULTIPART_SLACK,
}
"""Per-route body limits (method, exact path); every other request gets the default."""


class BodyLimit:
    """Refuse bodies over the route's limit with 413 before they are read whole: ``limit``
    bytes by default, ``overrides[(method, path)]`` for the routes named there (uploads)."""

    def __init__(self, app: Any, limit: int, overrides: dict[tuple[str, str], int] | None = None):
        self.app, self.default = app, limit
        self.overrides = dict(overrides or {})

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", "")).rstrip("/") or "/"
        limit = self.overrides.get((str(scope.get("method", "")), path), self.default)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(limit)(scope, receive, send)


class Measure:
    """Count requests and time them per route template (a pure ASGI middleware: Starlette's
    ``BaseHTTPMiddleware`` costs more per request than the routes it measures)."""

    def __init__(self, app: Any, metrics: Any):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(path, scope["method"], str(status)).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - began)


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

    gate = app.state.storage_gate = StorageGate(ctx.runtime.settings.storage)
    app.add_middleware(GateMiddleware, gate=gate)
    app.add_middleware(Measure, metrics=ctx.metrics)
    app.add_middleware(BodyLimit, limit=ctx.max_body_bytes, overrides=UPLOAD_LIMITS)
    read_side = ctx.services.get("read_side")
    if read_side is not None:  # outermost: it stamps writes with their committed position
        from api.http.read_side import ReadYourWrites

        app.add_middleware(ReadYourWrites, side=read_side)
    return app
