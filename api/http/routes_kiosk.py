"""The kiosk UI at ``/kiosk`` and the public status endpoint, served by ``caseledger serve``.

Layer: api (the kiosk's HTTP edge: pages from ``kiosk.pages``, use cases from ``kiosk.service``,
``kiosk.progress``, ``kiosk.fleet`` and the rating service; holds no rule). GZ20·14, PY·18–23:
self-service query, printing and rating.

Pages are server-rendered HTML with no external assets (no scripts, fonts or images from
anywhere), large touch targets, Chinese first with English. A kiosk authenticates with its own
API token (role ``kiosk``, token name = kiosk id): entered once at ``/kiosk`` it is kept in an
HttpOnly, SameSite=Strict cookie (or sent as ``Authorization: Bearer``); what the kiosk does in
the ledger (prints, ratings) is signed by the kiosk's own key from the server's keystore
(actor ``kiosk:<id>``). A query needs the serial number AND its six-digit verification code
(``kiosk.codes``) and is rate limited per kiosk and client (429 with ``Retry-After``).

Routes: ``GET /kiosk`` (start), ``POST /kiosk/enrol``, ``POST /kiosk/query`` (timeline, next
step, due date), ``POST /kiosk/print`` (verified print of a closed case's result),
``GET /kiosk/printouts/{id}.pdf``, ``POST /kiosk/rate`` (rating from the kiosk channel),
``GET /kiosk/api/status`` (certificate-status endpoint for ``caseledger kiosk verify --online``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Literal
from uuid import UUID

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from api.http.deps import Ctx
from api.http.problems import Problem
from api.http.ratelimit import RateLimiter
from api.tokens import Role
from kiosk.codes import SECRET_NAME, check_code
from kiosk.errors import KioskError, PrintRefused
from kiosk.fleet import FleetService
from kiosk.pages import (
    card_swallow_contact,
    case_body,
    enrol_form,
    esc,
    page,
    query_form,
    rate_form,
    suspension_notice,
)
from kiosk.printing import FontCache, Printout
from kiosk.progress import CaseView, case_view
from kiosk.service import KioskService, document_status
from kiosk.trust import load_trust_policy
from ledger.domain.kiosks import KIOSK_ID_PATTERN
from ledger.errors import LedgerError
from projections.progress import IdentityCache, IdentityPort, VaultMasker

__all__ = ["KioskRuntime", "install", "router"]

log = logging.getLogger("caseledger.kiosk")

COOKIE: Final = "kiosk_token"
PRINTOUT_TTL_SECONDS: Final = 600
MAX_PRINTOUTS: Final = 256
SERIAL_PATTERN: Final = re.compile(r"[0-9A-Za-z-]{1,64}")
HASH_PATTERN: Final = re.compile(r"[0-9a-f]{64}")

router = APIRouter(tags=["kiosk"])


@dataclass
class KioskRuntime:
    """What the kiosk routes hold for one ``caseledger serve`` process."""

    service: KioskService | None
    unavailable: str
    code_secret: bytes
    queries: RateLimiter
    """Case queries per kiosk and client: 0.5/s, bursts of 10, for the server as a whole."""
    status_queries: RateLimiter
    """Certificate-status queries per address: 2/s, bursts of 30, for the server as a whole."""
    printouts: OrderedDict[str, tuple[float, str, Printout]] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keep(self, kiosk_id: str, printout: Printout) -> str:
        name = printout.claim.print_id.hex()
        with self.lock:
            now = time.monotonic()
            for key in [k for k, v in self.printouts.items() if now - v[0] > PRINTOUT_TTL_SECONDS]:
                del self.printouts[key]
            while len(self.printouts) >= MAX_PRINTOUTS:
                self.printouts.popitem(last=False)
            self.printouts[name] = (now, kiosk_id, printout)
        return name


def install(ctx: Any) -> None:
    """Build the kiosk runtime on ``ctx`` (trust policy, Merkle tree, font cache, code secret).
    Without a trust policy the kiosk still answers queries but refuses to print, saying why."""
    from anchors.tree import open_tree_store
    from api.services import build_kiosk_service

    runtime = ctx.runtime
    secret = runtime.keystore.secret(SECRET_NAME)
    service: KioskService | None = None
    unavailable = ""
    try:
        policy = load_trust_policy(None, runtime.settings.storage)
        store = open_tree_store(runtime.settings.storage)
        store.migrate()
        fonts = FontCache.default()
        service = build_kiosk_service(runtime, policy, store, fonts=fonts, identity=_identity(ctx))
        threading.Thread(target=_warm, args=(fonts,), daemon=True, name="kiosk-fonts").start()
    except Exception as exc:  # printing is optional; queries go on
        unavailable = str(exc)
        log.warning("kiosk printing unavailable: %s", exc)
    ctx.services["kiosk"] = KioskRuntime(
        service,
        unavailable,
        secret,
        queries=RateLimiter.shared(0.5, 10, ctx.workers),
        status_queries=RateLimiter.shared(2.0, 30, ctx.workers),
    )


def _identity(ctx: Any) -> IdentityPort:
    """The process's masker of applicants (shared with the progress routes): a certificate's
    holder is printed masked, as the progress query shows applicants."""
    from api.services import build_services

    found: IdentityPort | None = ctx.services.get("progress_identity")
    if found is None:
        wiring = ctx.services.get("wiring")
        vault = wiring.services.vault if wiring is not None else build_services(ctx.runtime).vault
        masker = VaultMasker(ctx.runtime.ledger.repository.get, vault)
        found = ctx.services.setdefault("progress_identity", IdentityCache(masker))
    return found


def _warm(fonts: FontCache) -> None:
    try:
        fonts.subset()
    except KioskError as exc:
        log.warning("kiosk font: %s", exc)


def _page(
    title: str, title_en: str, body: str, *, kiosk: str = "", status: int = 200
) -> HTMLResponse:
    return HTMLResponse(
        page(title, title_en, body, kiosk=kiosk),
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; "
            "style-src 'unsafe-inline'; img-src 'self'; form-action 'self'",
        },
    )


# --- authentication and checks ------------------------------------------------------------------


@dataclass(frozen=True)
class _Kiosk:
    kiosk_id: str
    signer: Any


def _runtime(ctx: Any) -> KioskRuntime:
    found = ctx.services.get("kiosk")
    if not isinstance(found, KioskRuntime):
        raise Problem(503, "Kiosk unavailable", "the kiosk is not installed", code="kiosk-off")
    return found


def _token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip()
    return request.cookies.get(COOKIE, "")


def _kiosk(ctx: Any, request: Request) -> _Kiosk | None:
    token = _token(request)
    principal = ctx.tokens.authenticate(token) if token else None
    if principal is None or principal.role is not Role.KIOSK:
        return None
    if not KIOSK_ID_PATTERN.fullmatch(principal.name):
        return None
    try:
        signer = ctx.runtime.keystore.current_signer(f"kiosk:{principal.name}")
    except LedgerError:
        return None
    key = ctx.runtime.ledger.actor_key(signer.key_id)
    if key is None or key.revoked:
        return None
    return _Kiosk(principal.name, signer)


def _enrol_page(message: str = "", status: int = 200) -> HTMLResponse:
    return _page("终端登记", "Enrol this kiosk", enrol_form(message), status=status)


def _limit(runtime: KioskRuntime, limiter: RateLimiter, key: str) -> HTMLResponse | None:
    try:
        limiter.take(key)
    except Problem as exc:
        wait = int(exc.extra.get("retry_after", 1))
        response = _page(
            "请稍后再试",
            "Too many attempts",
            f"<div class='card bad'>查询过于频繁，请 {wait} 秒后再试。"
            f"<span class='en'>Please wait {wait} s and try again.</span></div>",
            status=429,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    return None


def _serving(ctx: Any, kiosk: _Kiosk) -> str:
    """Empty when the kiosk may serve now, else why not (fleet status, PY·21)."""
    found = FleetService(ctx.runtime.ledger).kiosk(kiosk.kiosk_id)
    if found is not None and not found.serves_at(dt.datetime.now(dt.UTC)):
        return f"本终端暂停服务（{found.status.value}）"
    return ""


def _checked_case(
    ctx: Any, request: Request, serial: str, code: str
) -> tuple[_Kiosk | None, CaseView | None, Response | None]:
    """The kiosk and the case for a query; or the response that refuses it."""
    kiosk = _kiosk(ctx, request)
    if kiosk is None:
        return None, None, _enrol_page("请先登记本终端 Please enrol this kiosk", 401)
    runtime = _runtime(ctx)
    client = request.client.host if request.client else "-"
    limited = _limit(runtime, runtime.queries, f"{kiosk.kiosk_id}|{client}")
    if limited is not None:
        return kiosk, None, limited
    stopped = _serving(ctx, kiosk)
    if stopped:
        return (
            kiosk,
            None,
            _page(
                "暂停服务",
                "Out of service",
                f"<div class='card bad'>{esc(stopped)}</div>",
                kiosk=kiosk.kiosk_id,
                status=503,
            ),
        )
    serial = serial.strip().upper()
    view = None
    if SERIAL_PATTERN.fullmatch(serial) and check_code(runtime.code_secret, serial, code):
        view = case_view(ctx.runtime.ledger, serial)
    if view is None:
        body = query_form(
            "办件编号或验证码不正确。<span class='en'>The serial number or the verification code "
            "is not right.</span>"
        )
        return (
            kiosk,
            None,
            _page("办件查询", "Find your case", body, kiosk=kiosk.kiosk_id, status=404),
        )
    return kiosk, view, None


# --- routes -------------------------------------------------------------------------------------


@router.get("/kiosk", response_class=HTMLResponse, include_in_schema=False)
def kiosk_home(ctx: Ctx, request: Request) -> Response:
    kiosk = _kiosk(ctx, request)
    if kiosk is None:
        return _enrol_page()
    found = FleetService(ctx.runtime.ledger).kiosk(kiosk.kiosk_id)
    now = dt.datetime.now(dt.UTC)
    notice = None if found is None else found.public_notice(now)
    contact = card_swallow_contact(None if found is None else found.emergency)  # PY·21(二)
    if notice is None:
        return _page("办件查询", "Find your case", query_form() + contact, kiosk=kiosk.kiosk_id)
    serving = found is not None and found.serves_at(now)  # PY·18(七), PY·21(四)
    body = suspension_notice(notice) + (query_form() if serving else "") + contact
    return _page("办件查询", "Find your case", body, kiosk=kiosk.kiosk_id)


@router.post("/kiosk/enrol", include_in_schema=False)
def kiosk_enrol(ctx: Ctx, token: Annotated[str, Form(max_length=200)]) -> Response:
    principal = ctx.tokens.authenticate(token.strip())
    if principal is None or principal.role is not Role.KIOSK:
        return _enrol_page("令牌无效 The token is not a kiosk token", 401)
    response = RedirectResponse("/kiosk", status_code=303)
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", path="/kiosk")
    return response


@router.post("/kiosk/query", response_class=HTMLResponse, include_in_schema=False)
def kiosk_query(
    ctx: Ctx,
    request: Request,
    serial: Annotated[str, Form(max_length=64)],
    code: Annotated[str, Form(max_length=12)],
) -> Response:
    kiosk, view, refused = _checked_case(ctx, request, serial, code)
    if refused is not None:
        return refused
    assert kiosk is not None and view is not None
    return _page("办理进度", "Progress", case_body(view, code), kiosk=kiosk.kiosk_id)


@router.post("/kiosk/print", response_class=HTMLResponse, include_in_schema=False)
def kiosk_print(
    ctx: Ctx,
    request: Request,
    serial: Annotated[str, Form(max_length=64)],
    code: Annotated[str, Form(max_length=12)],
) -> Response:
    kiosk, view, refused = _checked_case(ctx, request, serial, code)
    if refused is not None:
        return refused
    assert kiosk is not None and view is not None
    runtime = _runtime(ctx)
    if runtime.service is None:
        message = (
            "本终端暂不能打印。<span class='en'>Printing is unavailable: "
            f"{esc(runtime.unavailable)}</span>"
        )
        extra = f"<div class='card bad' id='print-result'>{message}</div>"
        return _page(
            "无法打印",
            "Cannot print",
            case_body(view, code, extra),
            kiosk=kiosk.kiosk_id,
            status=503,
        )
    try:
        printout = runtime.service.print_result(
            view.serial, kiosk_id=kiosk.kiosk_id, kiosk_signer=kiosk.signer
        )
    except PrintRefused as exc:
        extra = (
            "<div class='card bad' id='print-result'>核验未通过，未打印。"
            f"<span class='en'>Verification failed: nothing was printed.</span><br>"
            f"{esc(exc.check)}: {esc(exc.reason)}</div>"
        )
        return _page(
            "无法打印",
            "Cannot print",
            case_body(view, code, extra),
            kiosk=kiosk.kiosk_id,
            status=409,
        )
    name = runtime.keep(kiosk.kiosk_id, printout)
    c = printout.claim
    extra = (
        "<div class='card ok' id='print-result'>已核验并打印，请取走打印件。"
        "<span class='en'>Verified and printed — please take your printout.</span><br>"
        f"区块链存证：检查点 {c.anchor.checkpoint_size}，区块 {c.anchor.block_height}　"
        f"打印编号 <span id='print-id'>{esc(name)}</span><br>"
        f"<a class='button secondary' id='pdf' href='/kiosk/printouts/{esc(name)}.pdf'>打印件 PDF "
        "<span class='en'>Printout (PDF)</span></a></div>"
    )
    return _page("打印完成", "Printed", case_body(view, code, extra), kiosk=kiosk.kiosk_id)


@router.get("/kiosk/printouts/{name}.pdf", include_in_schema=False)
def kiosk_printout(ctx: Ctx, request: Request, name: str) -> Response:
    kiosk = _kiosk(ctx, request)
    if kiosk is None:
        raise Problem(401, "Unauthorized", "kiosk token required", code="unauthorized")
    runtime = _runtime(ctx)
    with runtime.lock:
        kept = runtime.printouts.get(name)
    if kept is None or kept[1] != kiosk.kiosk_id:
        raise Problem(404, "Not found", "no such printout at this kiosk", code="not-found")
    return Response(
        kept[2].pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f"inline; filename=printout-{name}.pdf"},
    )


@router.post("/kiosk/rate-form", response_class=HTMLResponse, include_in_schema=False)
def kiosk_rate_form(
    ctx: Ctx,
    request: Request,
    serial: Annotated[str, Form(max_length=64)],
    code: Annotated[str, Form(max_length=12)],
) -> Response:
    kiosk, view, refused = _checked_case(ctx, request, serial, code)
    if refused is not None:
        return refused
    assert kiosk is not None and view is not None
    body = rate_form(view, code)
    return _page("服务评价", "Rate the service", body, kiosk=kiosk.kiosk_id)


@router.post("/kiosk/rate", response_class=HTMLResponse, include_in_schema=False)
def kiosk_rate(
    ctx: Ctx,
    request: Request,
    serial: Annotated[str, Form(max_length=64)],
    code: Annotated[str, Form(max_length=12)],
    level: Annotated[int, Form(ge=1, le=5)],
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    from ledger.services.domain_services import RatingService

    kiosk, view, refused = _checked_case(ctx, request, serial, code)
    if refused is not None:
        return refused
    assert kiosk is not None and view is not None
    try:
        RatingService(ctx.runtime.ledger).rate(
            signer=kiosk.signer,
            case_id=UUID(view.case_id),
            case_serial=view.serial,
            department=view.department,
            applicant_id=UUID(view.applicant_id),
            system="gbt39046",
            code=level,
            channel="kiosk",
            reason=reason.strip(),
            at=dt.datetime.now(dt.UTC),
        )
    except LedgerError as exc:
        extra = f"<div class='card bad' id='rating-result'>未能评价 Not rated: {esc(exc)}</div>"
        return _page(
            "服务评价",
            "Rate the service",
            case_body(view, code, extra),
            kiosk=kiosk.kiosk_id,
            status=422,
        )
    body = (
        "<div class='card ok' id='rating-result'>感谢您的评价！<span class='en'>Thank you for "
        "your rating.</span></div><a class='button' href='/kiosk'>完成 <span class='en'>Done"
        "</span></a>"
    )
    return _page("评价完成", "Rated", body, kiosk=kiosk.kiosk_id)


class DocumentStatus(BaseModel):
    """What the status endpoint says of a printed document."""

    subject: str
    status: Literal["valid", "superseded", "revoked", "unknown"]
    checked_at: str


@router.get(
    "/kiosk/api/status",
    tags=["kiosk"],
    response_model=DocumentStatus,
    responses={
        422: {"description": "A query parameter is malformed (named in the problem)."},
        429: {"description": "Too many status queries from this address; see Retry-After."},
    },
)
def kiosk_status(
    ctx: Ctx,
    request: Request,
    subject: Annotated[str, Query(min_length=1, max_length=120)],
    hash: Annotated[str, Query(min_length=64, max_length=64, pattern="^[0-9a-f]{64}$")],
) -> JSONResponse:
    """Certificate-status endpoint: is the printed document (``subject`` = case serial or
    certificate identifier, ``hash`` = its content SHA-256 in hex) still valid? Answers
    ``valid``, ``superseded``, ``revoked`` or ``unknown``. Public, rate limited."""
    runtime = _runtime(ctx)
    runtime.status_queries.take(request.client.host if request.client else "-")
    if not HASH_PATTERN.fullmatch(hash):
        raise Problem(422, "Validation error", "hash: 64 lower-case hex digits", code="validation")
    status = document_status(ctx.runtime.ledger, subject, bytes.fromhex(hash))
    return JSONResponse(
        {"subject": subject, "status": status, "checked_at": dt.datetime.now(dt.UTC).isoformat()},
        headers={"Cache-Control": "no-store"},
    )
