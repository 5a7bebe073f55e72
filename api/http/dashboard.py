"""The supervision dashboard (电子监察看板): server-rendered HTML with inline SVG charts.

Layer: api (HTTP presentation). Pure functions of the data ``routes_supervision`` reads; no
script, no external asset (a CSP forbids both): the page refreshes itself with a meta refresh.
Labels are Chinese with English. Every value is escaped.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from api.http.schemas_reads import IndicatorsPublic, Warnings

COLOURS: Final = {"green": "#2e7d32", "yellow": "#f9a825", "red": "#c62828"}
LIGHT_LABELS: Final = {"green": "绿灯 Green", "yellow": "黄灯 Yellow", "red": "红灯 Red"}
FLAG_LABELS: Final = {
    "second_correction": "二次补正 Second correction",
    "paper_demanded": "索要纸质材料 Paper demanded",
    "reupload_demanded": "要求重复提交 Re-upload demanded",
    "closed_without_certificate": "办结未出电子证照 Closed without e-certificate",
    "backfilled": "事后补录 Back-filled",
    "consultation_overdue": "咨询逾期 Consultation overdue",
    "complaint_overdue": "投诉逾期 Complaint overdue",
    "certificate_dispute_overdue": "证照异议逾期 Certificate dispute overdue",
    "supervision_order_overdue": "督办逾期 Supervision order overdue",
    "anchoring_lag": "上链滞后 Anchoring lag",
}
INDICATOR_LABELS: Final = {
    "fully_online": "全程网办率 Fully online",
    "online_completion": "网上办结率 Online completion",
    "certificate_electronisation": "证照电子化率 E-certificates",
    "on_time": "按时办结率 On time",
    "satisfaction": "满意率 Satisfaction",
}
CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'"

_STYLE: Final = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei",sans-serif;margin:0;background:#f5f6f8;
color:#1d2330}
header{background:#12355b;color:#fff;padding:12px 24px}header h1{margin:0;font-size:22px}
header .en{color:#c5d3e6}
main{padding:16px 24px}section{background:#fff;border-radius:6px;padding:12px 16px;
margin-bottom:16px;box-shadow:0 1px 2px #0002}h2{font-size:17px;margin:4px 0 10px}
.en{color:#5b6577;font-size:.85em}.tiles{display:flex;gap:12px;flex-wrap:wrap}
.tile{flex:1;min-width:140px;padding:10px;border-radius:6px;color:#fff}
.tile b{display:block;font-size:30px}.tile.open{background:#37474f}
.tile.green{background:#2e7d32}.tile.yellow{background:#f9a825;color:#222}
.tile.red{background:#c62828}.tile.order{background:#6a1b9a}
table{border-collapse:collapse;width:100%;font-size:14px}th,td{border-bottom:1px solid #e3e6eb;
padding:4px 6px;text-align:left}.dot{display:inline-block;width:12px;height:12px;
border-radius:50%;vertical-align:middle;margin-right:4px}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _page(title: str, body: str, refresh_seconds: int | None = None) -> str:
    refresh = (
        f"<meta http-equiv='refresh' content='{int(refresh_seconds)}'>" if refresh_seconds else ""
    )
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">{refresh}"
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def login_page(message: str = "") -> str:
    note = f"<p role='alert'>{_e(message)}</p>" if message else ""
    return _page(
        "电子监察 Supervision",
        "<header><h1>电子监察看板 <span class='en'>Supervision dashboard</span></h1></header>"
        f"<main><section>{note}<form method='post' action='/supervision'>"
        "<label for='token'>监察令牌 <span class='en'>Supervisor token</span></label> "
        "<input id='token' name='token' type='password' autocomplete='off' required> "
        "<button type='submit'>进入 Enter</button></form></section></main>",
    )


def bar_chart(
    title: str, rows: list[tuple[str, float | None, str]], *, width: int = 560, chart_id: str = ""
) -> str:
    """A horizontal bar chart of values in 0..1 (``None`` drawn as "—"), one bar per row."""
    label_w, bar_w, row_h = 230, width - 230 - 60, 22
    height = row_h * max(1, len(rows)) + 28
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' role='img' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' id='{_e(chart_id)}' aria-label='{_e(title)}'>",
        f"<text x='0' y='14' font-size='13' font-weight='bold'>{_e(title)}</text>",
    ]
    for i, (label, value, colour) in enumerate(rows):
        y = 24 + i * row_h
        parts.append(f"<text x='0' y='{y + 14}' font-size='12'>{_e(label)}</text>")
        parts.append(
            f"<rect x='{label_w}' y='{y + 3}' width='{bar_w}' height='{row_h - 8}' fill='#eceff1'/>"
        )
        if value is not None:
            w = max(0.0, min(1.0, value)) * bar_w
            parts.append(
                f"<rect class='bar' x='{label_w}' y='{y + 3}' width='{w:.1f}' "
                f"height='{row_h - 8}' fill='{_e(colour)}' data-value='{value:.4f}'/>"
            )
        shown = "—" if value is None else f"{value * 100:.1f}%"
        parts.append(
            f"<text x='{label_w + bar_w + 6}' y='{y + 14}' font-size='12'>{_e(shown)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def stacked_lights(by_department: dict[str, dict[str, int]], *, width: int = 560) -> str:
    """Per department, one bar stacked green/yellow/red by open-case count."""
    label_w, bar_w, row_h = 120, width - 120 - 50, 22
    most = max([sum(c.values()) for c in by_department.values()] + [1])
    height = row_h * max(1, len(by_department)) + 8
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' role='img' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' id='lights-chart' aria-label='lights per department'>"
    ]
    for i, (department, counts) in enumerate(sorted(by_department.items())):
        y = 4 + i * row_h
        parts.append(f"<text x='0' y='{y + 14}' font-size='12'>{_e(department)}</text>")
        x = float(label_w)
        for light in ("green", "yellow", "red"):
            n = counts.get(light, 0)
            w = n / most * bar_w
            if n:
                parts.append(
                    f"<rect class='bar {light}' x='{x:.1f}' y='{y + 3}' width='{w:.1f}' "
                    f"height='{row_h - 8}' fill='{COLOURS[light]}' data-count='{n}'/>"
                )
            x += w
        parts.append(
            f"<text x='{x + 6:.1f}' y='{y + 14}' font-size='12'>{sum(counts.values())}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _tile(kind: str, label: str, value: int, element_id: str) -> str:
    return f"<div class='tile {kind}'>{label}<b id='{element_id}'>{value}</b></div>"


def render(data: Warnings, indicators: list[IndicatorsPublic], *, refresh_seconds: int) -> str:
    s = data.summary
    tiles = "".join(
        [
            _tile("open", "在办 <span>Open</span>", s.open_cases, "count-open"),
            *(
                _tile(light, _e(LIGHT_LABELS[light]), s.lights.get(light, 0), f"count-{light}")
                for light in ("green", "yellow", "red")
            ),
            _tile("order", "需督办 Needs order", s.needs_order, "count-needs-order"),
        ]
    )
    per_department = {d: c.lights for d, c in s.by_department.items()}
    department_rows = "".join(
        f"<tr data-department='{_e(d)}'><td>{_e(d)}</td>"
        + "".join(f"<td class='{k}'>{c.lights.get(k, 0)}</td>" for k in ("green", "yellow", "red"))
        + f"<td>{c.needs_order}</td><td>{sum(c.flags.values())}</td></tr>"
        for d, c in sorted(s.by_department.items())
    )
    case_rows = "".join(
        f"<tr class='case {c.light}'><td><span class='dot' style='background:"
        f"{COLOURS[c.light]}'></span>{_e(LIGHT_LABELS[c.light])}</td><td>{_e(c.serial)}</td>"
        f"<td>{_e(c.department)}</td><td>{_e(c.state)}</td><td>{_e(c.due or '—')}</td>"
        f"<td>{'' if c.days_left is None else c.days_left}</td></tr>"
        for c in data.lights.items
    )
    flag_rows = "".join(
        f"<tr class='flag'><td>{_e(FLAG_LABELS.get(f.flag, f.flag))}</td>"
        f"<td>{_e(f.department)}</td>"
        f"<td>{_e(f.case_serial)}</td><td>{_e(f.at)}</td><td>{_e(f.detail)}</td></tr>"
        for f in data.flags
    )
    order_rows = "".join(
        f"<tr class='needs-order'><td>{_e(c.serial)}</td><td>{_e(c.department)}</td>"
        f"<td>{_e(c.due or '—')}</td>"
        f"<td>{'已发督办 order issued' if c.order_open else '待督办 none yet'}</td></tr>"
        for c in data.needing_orders
    )
    charts = (
        "".join(
            bar_chart(
                f"{i.department} · {i.month}",
                [
                    (INDICATOR_LABELS[name], getattr(i, name).value, "#1565c0")
                    for name in INDICATOR_LABELS
                ],
                chart_id=f"indicators-{i.department}-{i.month}",
            )
            for i in indicators
        )
        or "<p>暂无指标 <span class='en'>No indicators yet</span></p>"
    )
    anchoring = ""
    if s.anchoring is not None:
        a = s.anchoring
        anchoring = (
            f"<p>上链 <span class='en'>Anchored</span>: {a.anchored_size} / {a.log_head} "
            f"({'滞后 lagging' if a.lagging else '正常 ok'})</p>"
        )

    def section(title: str, english: str, body: str, sid: str) -> str:
        heading = f"<h2>{title} <span class='en'>{english}</span></h2>"
        return f"<section id='{sid}'>{heading}{body}</section>"

    def table(head: list[str], rows: str, empty: str) -> str:
        if not rows:
            return f"<p>{empty}</p>"
        ths = "".join(f"<th>{h}</th>" for h in head)
        return f"<table><thead><tr>{ths}</tr></thead><tbody>{rows}</tbody></table>"

    body = (
        "<header><h1>电子监察看板 <span class='en'>Supervision dashboard</span></h1>"
        f"<div>日期 Date <span id='today'>{_e(data.today)}</span> · 每 {refresh_seconds} 秒刷新 "
        f"refreshes every {refresh_seconds} s</div></header><main>"
        + section("总览", "Overview", f"<div class='tiles'>{tiles}</div>{anchoring}", "overview")
        + section(
            "各部门亮灯",
            "Lights per department",
            stacked_lights(per_department)
            + table(
                [
                    "部门 Department",
                    "绿 Green",
                    "黄 Yellow",
                    "红 Red",
                    "需督办 Orders",
                    "标记 Flags",
                ],
                department_rows,
                "暂无在办件 No open cases",
            ),
            "departments",
        )
        + section("监察指标", "Indicators", charts, "indicators")
        + section(
            "需督办",
            "Cases needing a supervision order",
            table(
                ["流水号 Serial", "部门 Department", "期限 Due", "督办 Order"],
                order_rows,
                "无 None",
            ),
            "orders",
        )
        + section(
            "异常标记",
            f"Flags ({len(data.flags)})",
            table(
                ["标记 Flag", "部门 Department", "流水号 Serial", "时间 At", "说明 Detail"],
                flag_rows,
                "无 None",
            ),
            "flags",
        )
        + section(
            "在办件亮灯",
            f"Lights per case ({data.lights.total})",
            table(
                [
                    "灯 Light",
                    "流水号 Serial",
                    "部门 Department",
                    "状态 State",
                    "期限 Due",
                    "剩余 Left",
                ],
                case_rows,
                "暂无在办件 No open cases",
            ),
            "cases",
        )
        + "</main>"
    )
    return _page("电子监察看板 Supervision", body, refresh_seconds)
