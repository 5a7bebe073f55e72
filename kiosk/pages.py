"""The kiosk's pages: server-rendered HTML, Chinese first with English, no external assets.

Layer: kiosk (pure rendering: values in, escaped HTML text out). GZ20·14, PY·18–23. Large touch
targets, no scripts, fonts or images from anywhere; every value is escaped. Every text meets
WCAG 2.1 AA contrast (1.4.3: 4.5:1, 3:1 for large text) against what is painted behind it —
the English labels on buttons take the button's white (tests/kiosk/test_ui.py measures each
text element in Chromium). The HTTP routes
(``api.http.routes_kiosk``) wrap these in responses with their status and security headers.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Final

from kiosk.progress import CaseView
from ledger.domain.calendar import to_shanghai
from ledger.domain.kiosks import PublicNotice

__all__ = ["case_body", "enrol_form", "esc", "hidden", "page", "query_form", "rate_form"]

RATING_LEVELS: Final = (
    (1, "非常满意", "Very satisfied"),
    (2, "满意", "Satisfied"),
    (3, "基本满意", "Basically satisfied"),
    (4, "不满意", "Dissatisfied"),
    (5, "非常不满意", "Very dissatisfied"),
)

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
button .en,.button .en{color:inherit}
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


def esc(value: object) -> str:
    """``value`` as text safe in HTML content and attribute values."""
    return html.escape(str(value), quote=True)


def page(title: str, title_en: str, body: str, *, kiosk: str = "") -> str:
    """A whole kiosk page: header, title, ``body`` (already escaped HTML), footer."""
    who = f"自助终端 {esc(kiosk)} <span class='en'>Kiosk</span>" if kiosk else ""
    text = (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)} · {esc(title_en)}</title><style>{_CSS}</style></head><body>"
        f"<header><div><h1>政务服务自助终端</h1><div class='en'>Government services kiosk</div>"
        f"</div><div>{who}</div></header><main><h2>{esc(title)} <span class='en'>{esc(title_en)}"
        f"</span></h2>{body}</main><footer>24 小时自助服务 · 24-hour self-service · 12345</footer>"
        "</body></html>"
    )
    return text


_NOTICE_TITLES: Final = {
    "repair": ("暂停服务：设备维修中", "Out of service: under repair"),
    "suspended": ("暂停服务公告", "Service suspended"),
    "announced": ("暂停服务预告", "Service will be suspended"),
    "withdrawn": ("本终端已停止服务", "This kiosk is out of service"),
}


def suspension_notice(notice: PublicNotice) -> str:
    """The 暂停服务 notice shown on the kiosk's own screen (PY·18(七), PY·21(四))."""
    title, title_en = _NOTICE_TITLES.get(notice.kind, _NOTICE_TITLES["withdrawn"])

    def when(instant: object) -> str:
        return to_shanghai(instant).strftime("%Y-%m-%d %H:%M")  # type: ignore[arg-type]

    period = ""
    if notice.start is not None:
        period = (
            when(notice.start) + " – " + (when(notice.end) if notice.end else "恢复前 until fixed")
        )
    return (
        f"<div class='card bad' id='suspension-notice'><strong>{esc(title)}</strong> "
        f"<span class='en'>{esc(title_en)}</span><br>{esc(period)} {esc(notice.reason)}"
        f"<br><span class='en'>({esc(notice.rule)}) 如需办理请前往服务窗口或其他终端 · "
        "Please use a service window or another kiosk</span></div>"
    )


def card_swallow_contact(plan: Mapping[str, object] | None) -> str:
    """The kiosk's published card-swallow help (吞卡, PY·21(二)): whom to call, on a
    non-working day too, what is done and how soon; empty when none is published."""
    if not plan:
        return ""
    return (
        "<div class='card' id='card-swallow-contact'><strong>吞卡紧急联系 "
        f"<span class='en'>Card swallowed?</span></strong> {esc(str(plan['contact']))}<br>"
        f"{esc(str(plan['retrieval_measure']))}<br>工作日 {esc(str(plan['working_day_hours']))} "
        f"小时内、非工作日 {esc(str(plan['non_working_day_hours']))} 小时内处理 <span class='en'>"
        "resolved within these hours on working and non-working days (PY·21(二))</span></div>"
    )


def query_form(message: str = "") -> str:
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


def hidden(serial: str, code: str) -> str:
    return (
        f"<input type='hidden' name='serial' value='{esc(serial)}'>"
        f"<input type='hidden' name='code' value='{esc(code)}'>"
    )


def case_body(view: CaseView, code: str, extra: str = "") -> str:
    steps = "".join(
        f"<li><time>{esc(s.at)}</time>{esc(s.zh)} <span class='en'>{esc(s.en)}</span></li>"
        for s in view.steps
    )
    due = esc(view.due) if view.due else "—"
    actions = ""
    if view.closed:
        actions += (
            "<form method='post' action='/kiosk/print' style='display:inline'>"
            f"{hidden(view.serial, code)}<button id='print' type='submit'>打印结果 "
            "<span class='en'>Print result</span></button></form>"
        )
    actions += (
        "<form method='post' action='/kiosk/rate-form' style='display:inline'>"
        f"{hidden(view.serial, code)}<button id='rate' type='submit' class='secondary'>评价服务 "
        "<span class='en'>Rate the service</span></button></form>"
        "<a class='button secondary' href='/kiosk'>结束 <span class='en'>Finish</span></a>"
    )
    return (
        f"{extra}<div class='card'><dl>"
        f"<dt>办件编号 <span class='en'>Serial</span></dt>"
        f"<dd id='serial-no'>{esc(view.serial)}</dd>"
        f"<dt>事项 <span class='en'>Service</span></dt><dd>{esc(view.item_name)}</dd>"
        f"<dt>办理部门 <span class='en'>Department</span></dt><dd>{esc(view.department_name)}</dd>"
        f"<dt>当前状态 <span class='en'>Status</span></dt><dd id='state'>{esc(view.state_zh)} "
        f"<span class='en'>{esc(view.state_en)}</span></dd>"
        f"<dt>承诺办结日期 <span class='en'>Due date</span></dt><dd id='due'>{due}</dd>"
        "</dl></div>"
        f"<div class='card ok' id='next'><b>您需要做的 <span class='en'>What you do next</span></b>"
        f"<br>{esc(view.next_zh)} <span class='en'>{esc(view.next_en)}</span></div>"
        f"<div class='card'><b>办理进度 <span class='en'>Timeline</span></b>"
        f"<ol class='timeline' id='timeline'>{steps}</ol></div>{actions}"
    )


def enrol_form(message: str = "") -> str:
    """The form where a kiosk's token is entered once (kept in an HttpOnly cookie)."""
    note = f"<div class='card bad'>{esc(message)}</div>" if message else ""
    return (
        f"{note}<form method='post' action='/kiosk/enrol' class='card'>"
        "<label for='token'>终端令牌 <span class='en'>Kiosk token</span></label>"
        "<input id='token' name='token' type='password' autocomplete='off' required>"
        "<button id='enrol' type='submit'>登记 <span class='en'>Enrol</span></button></form>"
    )


def rate_form(view: CaseView, code: str) -> str:
    """The rating form of one case: five levels (FZ·22), a reason for a poor rating."""
    levels = "".join(
        f"<label><input type='radio' name='level' value='{n}' id='level-{n}' required>{zh} "
        f"<span class='en'>{en}</span></label>"
        for n, zh, en in RATING_LEVELS
    )
    body = (
        f"<form method='post' action='/kiosk/rate' class='card'>{hidden(view.serial, code)}"
        f"<p>{esc(view.item_name)} · {esc(view.department_name)}</p>"
        f"<div class='levels'>{levels}</div>"
        "<label for='reason'>不满意请说明理由 <span class='en'>Reason (needed for "
        "dissatisfied)</span></label><textarea id='reason' name='reason' rows='2' "
        "maxlength='500'></textarea><button id='submit-rating' type='submit'>提交评价 "
        "<span class='en'>Submit</span></button></form>"
    )
    return body
