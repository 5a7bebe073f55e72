"""Errors as RFC 9457 problem details: the one place that maps errors to HTTP.

Layer: api (HTTP). A rule breach answers 422 with the ``rule`` it broke
(``GZ16·14``), an invalid transition 409 with the current state, a blacklisted
applicant 403 with the end date and appeal route, validation errors 422 naming
each field, a write refused because the log was rolled back 503 naming the finding
(``ledger-rolled-back``, ``ledger-diverged``, ``anchor-node-rolled-back`` …).
Unexpected errors answer 500 without internals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import LedgerError, LedgerRolledBack, RuleViolation

PROBLEM = "application/problem+json"
TYPE_BASE = "https://caseledger.invalid/problems/"
log = logging.getLogger("caseledger.http")


class Problem(Exception):
    """Raise to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str = "", **extra: Any):
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def problem_response(
    status: int, title: str, detail: str = "", *, code: str | None = None, **extra: Any
) -> JSONResponse:
    slug = code or title.lower().replace(" ", "-")
    body = {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"Retry-After": str(extra["retry_after"])} if "retry_after" in extra else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _rule_status(exc: RuleViolation) -> int:
    if exc.code == "invalid-transition":
        return 409
    if exc.code == "blacklisted-applicant":
        return 403
    return 422


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, **exc.extra)

    @app.exception_handler(RuleViolation)
    async def _rule(_: Request, exc: RuleViolation) -> JSONResponse:
        extra: dict[str, Any] = {"rule": exc.rule or None}
        for attr in ("state", "field", "until", "appeal_route"):
            value = getattr(exc, attr, None)
            if value is not None:
                extra[attr] = str(value)
        status = _rule_status(exc)
        title = {409: "Invalid transition", 403: "Forbidden"}.get(status, "Rule violation")
        return problem_response(status, title, str(exc), code=exc.code, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ())[1:]) or "body",
                "message": e.get("msg", ""),
            }
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(422, "Validation error", detail, code="validation", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized"}
        return problem_response(
            exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail)
        )

    @app.exception_handler(LedgerRolledBack)
    async def _rolled_back(_: Request, exc: LedgerRolledBack) -> JSONResponse:
        return problem_response(503, "Ledger read-only", exc.detail, code=exc.code)

    @app.exception_handler(LedgerError)
    async def _ledger(_: Request, exc: LedgerError) -> JSONResponse:
        return problem_response(400, "Refused", str(exc), code="refused")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error: %s", type(exc).__name__)  # no payloads: they may hold PII
        return problem_response(500, "Internal error", "the error was logged", code="internal")
