"""Errors as RFC 9457 problem details: the one place that maps errors to HTTP.

Layer: api (HTTP). A rule breach answers 422 with the ``rule`` it broke
(``GZ16·14``), an invalid transition 409 with the current state, a blacklisted
applicant 403 with the end date and appeal route, validation errors 422 naming
each field. A storage fault (``ledger.storage.faults``: the database refusing
connections, a killed backend, too many clients, a locked or corrupted SQLite file) answers
503 ``storage-unavailable`` with ``Retry-After`` — whatever wraps it, it is never a 500 or a
4xx refusal, which would tell the client not to retry: a refusal raised while a storage fault
was being handled (``except Exception: raise NotFound(...)``) is that fault, so every handler
looks behind the error it is given first. A write refused because the log was rolled back answers
503 naming the finding (``ledger-rolled-back``, ``ledger-diverged``, ``anchor-node-rolled-back``
…). Unexpected errors answer 500 without internals.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import anyio.to_thread
import psycopg
from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import LedgerError, LedgerRolledBack, RuleViolation
from ledger.storage.faults import RETRY_AFTER_SECONDS, storage_fault

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


def unavailable(reason: str, *, log_it: bool = True) -> JSONResponse:
    """503 for a storage fault: the reason goes to the log (one line, no personal data),
    the client learns only that the database is unavailable and when to retry."""
    if log_it:
        log.warning("storage unavailable: %s", reason)
    return problem_response(
        503,
        "Service unavailable",
        f"the database is unavailable: retry after {RETRY_AFTER_SECONDS} s (with the same "
        "Idempotency-Key a command is never recorded twice)",
        code="storage-unavailable",
        retry_after=RETRY_AFTER_SECONDS,
    )


async def _fault(request: Request, exc: BaseException) -> JSONResponse | None:
    """503 if ``exc`` is, wraps or was raised while handling a storage fault; the process's
    storage gate (``api.http.gate``, on ``app.state.storage_gate``) hears of it."""
    reason = storage_fault(exc)
    if reason is None:
        return None
    gate = getattr(request.app.state, "storage_gate", None)
    if gate is not None:
        await anyio.to_thread.run_sync(gate.report, reason)  # it may probe the database
    return unavailable(reason)


async def _unexpected_response(request: Request, exc: BaseException) -> JSONResponse:
    if (fault := await _fault(request, exc)) is not None:
        return fault
    log.error("unexpected error: %s", type(exc).__name__)  # no payloads: they may hold PII
    return problem_response(500, "Internal error", "the error was logged", code="internal")


def _rule_status(exc: RuleViolation) -> int:
    if exc.code == "invalid-transition":
        return 409
    if exc.code in ("blacklisted-applicant", "authority-exceeded", "unknown-official"):
        return 403
    return 422


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        if 400 <= exc.status < 500 and (fault := await _fault(request, exc)) is not None:
            return fault
        return problem_response(exc.status, exc.title, exc.detail, **exc.extra)

    @app.exception_handler(RuleViolation)
    async def _rule(request: Request, exc: RuleViolation) -> JSONResponse:
        if (fault := await _fault(request, exc)) is not None:
            return fault
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
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if (fault := await _fault(request, exc)) is not None:
            return fault
        titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized"}
        return problem_response(
            exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail)
        )

    @app.exception_handler(LedgerRolledBack)
    async def _rolled_back(_: Request, exc: LedgerRolledBack) -> JSONResponse:
        return problem_response(503, "Ledger read-only", exc.detail, code=exc.code)

    @app.exception_handler(LedgerError)
    async def _ledger(request: Request, exc: LedgerError) -> JSONResponse:
        # e.g. a SubjectKeyStoreError raised from a killed backend
        if (fault := await _fault(request, exc)) is not None:
            return fault
        return problem_response(400, "Refused", str(exc), code="refused")

    # The database drivers' and eventsourcing's own errors: 503 when they are storage
    # faults, else 500. Handled here (not only by the catch-all below, which Starlette
    # re-raises after answering) so that a fault is answered and logged in one line.
    for driver_error in (psycopg.Error, sqlite3.Error, PersistenceError):

        @app.exception_handler(driver_error)
        async def _driver(request: Request, exc: Exception) -> JSONResponse:
            return await _unexpected_response(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return await _unexpected_response(request, exc)
