"""The kiosk UI at ``/kiosk`` and the public status endpoint, served by ``caseledger serve``.

Layer: kiosk (HTTP edge over ``kiosk.service``, ``kiosk.progress``, ``kiosk.fleet`` and the
rating service; holds no rule). GZ20·14, PY·18–23: self-service query, printing and rating.

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
import html
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
from kiosk.printing import FontCache, Printout
from kiosk.progress import CaseView, case_view
from kiosk.service import KioskService, document_status
from kiosk.trust import load_trust_policy
from ledger.errors import LedgerError
from ledger.kiosks import KIOSK_ID_PATTERN

__all__ = ["KioskRuntime", "install", "router"]

log = logging.getLogger("caseledger.kiosk")

COOKIE: Final = "kiosk_token"
PRINTOUT_TTL_SECONDS: Final = 600
MAX_PRINTOUTS: Final = 256
SERIAL_PATTERN: Final = re.compile(r"[0-9A-Za-z-]{1,64}")
HASH_PATTERN: Final = re.compile(r"[0-9a-f]{64}")
RATING_LEVELS: Final = (
    (1, "非常满意", "Very satisfied"),
    (2, "满意", "Satisfied"),
    (3, "基本满意", "Basically satisfied"),
    (4, "不满意", "Dissatisfied"),
    (5, "非常不满意", "Very dissatisfied"),
)

router = APIRouter(tags=["kiosk"])


@dataclass
class KioskRuntime:
    """What the kiosk routes hold for one ``caseledger serve`` process."""

    service: KioskService | None
    unavailable: str
    code_secret: bytes
    queries: RateLimiter = field(default_factory=lambda: RateLimiter(rate=0.5, burst=10))
    status_queries: RateLimiter = field(default_factory=lambda: RateLimiter(rate=2.0, burst=30))
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
    from anchors.tree import PersistentTree, open_tree_store

    runtime = ctx.runtime
    secret = runtime.keystore.secret(SECRET_NAME)
    service: KioskService | None = None
    unavailable = ""
    try:
        policy = load_trust_policy(None, runtime.settings.storage)
        store = open_tree_store(runtime.settings.storage)
        store.migrate()
        fonts = FontCache.default()
        service = KioskService(
            runtime.ledger, policy, PersistentTree(store), runtime.platform_signer(), fonts
        )
        threading.Thread(target=_warm, args=(fonts,), daemon=True, name="kiosk-fonts").start()
    except Exception as exc:  # printing is optional; queries go on
        unavailable = str(exc)
        log.warning("kiosk printing unavailable: %s", exc)
    ctx.services["kiosk"] = KioskRuntime(service, unavailable, secret)


def _warm(fonts: FontCache) -> None:
    try:
        fonts.subset()
    except KioskError as exc:
        log.warning("kiosk font: %s", exc)


# --- HTML ---------------------------------------------------------------------------------------

_CSS: Final = """
*{box-sizing:border-box}
body{margin:0;font-family:"WenQuanYi Zen Hei","Noto Sans CJK SC","Microsoft YaHei",sans-serif;
background:#f4f1ea;color:#1d1d1d;font-size:26px;line-height:1.45}
header{background:#b40000;color:#fff;padding:22px 36px;display:flex;justify-content:space-between;
align-items:center}
header h1{margin:0;font-size:36px}header .en{font-size:20px;color:#ffe7e7}
main{max-width:1100px;margin:0 auto;padding:28px 36px}
.en{color:#555;font-size:.72em}
label{display:block;margin:22px 0 8px;font-weight:bold}
input,select,textarea{font-size:32px;padding:16px;width:100%;border:3px solid #888;
border-radius:12px}
button,.button{display:inline-block;font-size:32px;min-height:96px;min-width:300px;
padding:18px 36px;margin:24px 18px 0 0;border:0;border-radius:16px;background:#b40000;
color:#fff;cursor:pointer;text-decoration:none;text-align:center}
button.secondary,.button.secondary{background:#4a4a4a}
.card{background:#fff;border-radius:16px;padding:24px 30px;margin:20px 0;
box-shadow:0 2px 6px rgba(0,0,0,.12)}
.ok{border-left:14px solid #1a7f37}.bad{border-left:14px solid #b40000}
ol.timeline{list-style:none;padding:0;margin:0}
ol.timeline li{padding:12px 0 12px 28px;border-left:6px solid #b40000;margin-left:10px;
position:relative}
ol.timeline li time{display:block;font-size:20px;color:#555}
.levels{display:flex;flex-wrap:wrap}
.levels label{display:flex;align-items:center;min-height:80px;margin:8px 14px 8px 0;
padding:10px 18px;border:3px solid #888;border-radius:12px;font-weight:normal;background:#fff}
.levels input{width:36px;height:36px;margin-right:12px}
dl{display:grid;grid-template-columns:300px 1fr;gap:10px 20px;margin:0}dt{font-weight:bold}
footer{font-size:18px;color:#666;text-align:center;padding:24px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _page(
    title: str, title_en: str, body: str, *, kiosk: str = "", status: int = 200
) -> HTMLResponse:
    who = f"自助终端 {_e(kiosk)} <span class='en'>Kiosk</span>" if kiosk else ""
    text = (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)} · {_e(title_en)}</title><style>{_CSS}</style></head><body>"
        f"<header><div><h1>政务服务自助终端</h1><div class='en'>Government services kiosk</div>"
        f"</div><div>{who}</div></header><main><h2>{_e(title)} <span class='en'>{_e(title_en)}"
        f"</span></h2>{body}</main><footer>24 小时自助服务 · 24-hour self-service · 12345</footer>"
        "</body></html>"
    )
    return HTMLResponse(
        text,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; "
            "style-src 'unsafe-inline'; img-src 'self'; form-action 'self'",
        },
    )


def _query_form(message: str = "") -> str:
    note = f"<div class='card bad'>{message}</div>" if message else ""
    return (
        f"{note}<form method='post' action='/kiosk/query' class='card'>"
        "<label for='serial'>办件编号（申请流水号）<span class='en'>Serial number</span></label>"
        "<input id='serial' name='serial' autocomplete='off' required maxlength='64'>"
        "<label for='code'>查询验证码（见申请回执）<span class='en'>Verification code "
        "(on your application receipt)</span></label>"
        "<input id='code' name='code' inputmode='numeric' autocomplete='off' required "
        "maxlength='6'>"
        "<button id='query' type='submit'>查询 <span class='en'>Search</span></button></form>"
    )


def _hidden(serial: str, code: str) -> str:
    return (
        f"<input type='hidden' name='serial' value='{_e(serial)}'>"
        f"<input type='hidden' name='code' value='{_e(code)}'>"
    )


def _case_body(view: CaseView, code: str, extra: str = "") -> str:
    steps = "".join(
        f"<li><time>{_e(s.at)}</time>{_e(s.zh)} <span class='en'>{_e(s.en)}</span></li>"
        for s in view.steps
    )
    due = _e(view.due) if view.due else "—"
    actions = ""
    if view.closed:
        actions += (
            "<form method='post' action='/kiosk/print' style='display:inline'>"
            f"{_hidden(view.serial, code)}<button id='print' type='submit'>打印结果 "
            "<span class='en'>Print result</span></button></form>"
        )
    actions += (
        "<form method='post' action='/kiosk/rate-form' style='display:inline'>"
        f"{_hidden(view.serial, code)}<button id='rate' type='submit' class='secondary'>评价服务 "
        "<span class='en'>Rate the service</span></button></form>"
        "<a class='button secondary' href='/kiosk'>结束 <span class='en'>Finish</span></a>"
    )
    return (
        f"{extra}<div class='card'><dl>"
        f"<dt>办件编号 <span class='en'>Serial</span></dt><dd id='serial-no'>{_e(view.serial)}</dd>"
        f"<dt>事项 <span class='en'>Service</span></dt><dd>{_e(view.item_name)}</dd>"
        f"<dt>办理部门 <span class='en'>Department</span></dt><dd>{_e(view.department_name)}</dd>"
        f"<dt>当前状态 <span class='en'>Status</span></dt><dd id='state'>{_e(view.state_zh)} "
        f"<span class='en'>{_e(view.state_en)}</span></dd>"
        f"<dt>承诺办结日期 <span class='en'>Due date</span></dt><dd id='due'>{due}</dd>"
        "</dl></div>"
        f"<div class='card ok' id='next'><b>您需要做的 <span class='en'>What you do next</span></b>"
        f"<br>{_e(view.next_zh)} <span class='en'>{_e(view.next_en)}</span></div>"
        f"<div class='card'><b>办理进度 <span class='en'>Timeline</span></b>"
        f"<ol class='timeline' id='timeline'>{steps}</ol></div>{actions}"
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
    note = f"<div class='card bad'>{_e(message)}</div>" if message else ""
    return _page(
        "终端登记",
        "Enrol this kiosk",
        f"{note}<form method='post' action='/kiosk/enrol' class='card'>"
        "<label for='token'>终端令牌 <span class='en'>Kiosk token</span></label>"
        "<input id='token' name='token' type='password' autocomplete='off' required>"
        "<button id='enrol' type='submit'>登记 <span class='en'>Enrol</span></button></form>",
        status=status,
    )


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
                f"<div class='card bad'>{_e(stopped)}</div>",
                kiosk=kiosk.kiosk_id,
                status=503,
            ),
        )
    serial = serial.strip().upper()
    view = None
    if SERIAL_PATTERN.fullmatch(serial) and check_code(runtime.code_secret, serial, code):
        view = case_view(ctx.runtime.ledger, serial)
    if view is None:
        body = _query_form(
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
    return _page("办件查询", "Find your case", _query_form(), kiosk=kiosk.kiosk_id)


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
    return _page("办理进度", "Progress", _case_body(view, code), kiosk=kiosk.kiosk_id)


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
            f"{_e(runtime.unavailable)}</span>"
        )
        extra = f"<div class='card bad' id='print-result'>{message}</div>"
        return _page(
            "无法打印",
            "Cannot print",
            _case_body(view, code, extra),
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
            f"{_e(exc.check)}: {_e(exc.reason)}</div>"
        )
        return _page(
            "无法打印",
            "Cannot print",
            _case_body(view, code, extra),
            kiosk=kiosk.kiosk_id,
            status=409,
        )
    name = runtime.keep(kiosk.kiosk_id, printout)
    c = printout.claim
    extra = (
        "<div class='card ok' id='print-result'>已核验并打印，请取走打印件。"
        "<span class='en'>Verified and printed — please take your printout.</span><br>"
        f"区块链存证：检查点 {c.anchor.checkpoint_size}，区块 {c.anchor.block_height}　"
        f"打印编号 <span id='print-id'>{_e(name)}</span><br>"
        f"<a class='button secondary' id='pdf' href='/kiosk/printouts/{_e(name)}.pdf'>打印件 PDF "
        "<span class='en'>Printout (PDF)</span></a></div>"
    )
    return _page("打印完成", "Printed", _case_body(view, code, extra), kiosk=kiosk.kiosk_id)


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
    levels = "".join(
        f"<label><input type='radio' name='level' value='{n}' id='level-{n}' required>{zh} "
        f"<span class='en'>{en}</span></label>"
        for n, zh, en in RATING_LEVELS
    )
    body = (
        f"<form method='post' action='/kiosk/rate' class='card'>{_hidden(view.serial, code)}"
        f"<p>{_e(view.item_name)} · {_e(view.department_name)}</p>"
        f"<div class='levels'>{levels}</div>"
        "<label for='reason'>不满意请说明理由 <span class='en'>Reason (needed for "
        "dissatisfied)</span></label><textarea id='reason' name='reason' rows='2' "
        "maxlength='500'></textarea><button id='submit-rating' type='submit'>提交评价 "
        "<span class='en'>Submit</span></button></form>"
    )
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
    from ledger.services_domain import RatingService

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
        extra = f"<div class='card bad' id='rating-result'>未能评价 Not rated: {_e(exc)}</div>"
        return _page(
            "服务评价",
            "Rate the service",
            _case_body(view, code, extra),
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
