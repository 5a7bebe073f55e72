"""Demo stage "supervision": every read model caught up, the 电子监察 summary, indicators.

Layer: api (demo). Issue 6 "Done when": ``caseledger demo`` prints a supervision summary
(how many open cases are green, yellow and red, and each flag) and department indicators,
all computed by the read models of ``projections`` (RULES.md "Supervision": FZ·24,
GZ20·26, FZ·26; indicators NH·6, GZ20·27). Runs after the case stage; the lights are
computed as of the demo's simulated "today" (``ctx.summary["cases"]["today"]`` when the
case stage records one, else 2026-11-20), anchoring lag against the wall clock.

The demo drives a simulated clock over past business dates, so every case step is recorded
after the time it reports: the back-filling flag counts them all, and the summary says why.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Final

from api.demo.main import DemoContext, Stage
from projections.indicators import Indicators, IndicatorsView, Rate, indicators
from projections.registry import VIEWS
from projections.runner import catch_up, open_view, position
from projections.supervision import FLAGS, Light, SupervisionView, summary
from projections.view import View

DEMO_TODAY: Final = dt.date(2026, 11, 20)
FLAG_NAMES: Final = {
    "second_correction": "second correction",
    "paper_demanded": "paper demanded",
    "reupload_demanded": "re-upload demanded",
    "closed_without_certificate": "closed without e-certificate",
    "backfilled": "back-filled",
    "consultation_overdue": "consultation overdue",
    "complaint_overdue": "complaint overdue",
    "certificate_dispute_overdue": "certificate dispute overdue",
    "supervision_order_overdue": "supervision order overdue",
    "repeated_refusals": "official with repeated refused attempts",
    "window_veto": "window veto reported",
    "duplicate_registration": "duplicate account registration",
    "anchoring_lag": "anchoring lag",
}


def _today(ctx: DemoContext) -> dt.date:
    recorded = ctx.summary.get("cases", {}).get("today")
    return dt.date.fromisoformat(recorded) if isinstance(recorded, str) else DEMO_TODAY


def _reset_if_stale(view: View, head: int, app: Any) -> None:
    """A view ahead of the (fresh) demo log belongs to an earlier run: empty it."""
    if position(view, app) <= head:
        return
    store: Any = view.store
    with store.transaction() as tx:
        for table in store.tables:
            tx.execute(f"DELETE FROM {table.name}")
        tx.execute(f"DELETE FROM {getattr(store, 'tracking_table_name', 'tracking')}")


def _total(rows: list[Indicators], name: str) -> Rate:
    rates = [getattr(r, name) for r in rows]
    return Rate(sum(r.numerator for r in rates), sum(r.denominator for r in rates))


def run(ctx: DemoContext) -> None:
    started = time.perf_counter()
    app = ctx.runtime.ledger
    storage = ctx.runtime.settings.storage
    head = app.recorder.max_notification_id() or 0
    applied: dict[str, int] = {}
    views: dict[str, View] = {}
    for cls in VIEWS:
        view = open_view(cls, storage)
        _reset_if_stale(view, head, app)
        applied[cls.name] = catch_up(view, app)
        views[cls.name] = view
    today = _today(ctx)
    supervision = views[SupervisionView.name]
    assert isinstance(supervision, SupervisionView)
    s = summary(supervision, today=today, now=dt.datetime.now(dt.UTC), log_head=head)
    rows = indicators(views[IndicatorsView.name])  # type: ignore[arg-type]
    per_department: dict[str, dict[str, Any]] = {}
    for department in sorted({r.department for r in rows}):
        mine = [r for r in rows if r.department == department]
        per_department[department] = {
            name: {"numerator": rate.numerator, "denominator": rate.denominator}
            for name in (
                "fully_online",
                "online_completion",
                "certificate_electronisation",
                "on_time",
                "satisfaction",
            )
            for rate in [_total(mine, name)]
        }
    ctx.summary["supervision"] = {
        "today": today.isoformat(),
        "open_cases": s.open_cases,
        "lights": s.lights,
        "needs_supervision_order": s.needs_order,
        "paused": s.paused,
        "provisional": s.provisional,
        "flags": s.flags,
        "by_department": {
            d: {"lights": v.lights, "flags": v.flags, "needs_order": v.needs_order}
            for d, v in s.by_department.items()
        },
        "anchoring": None
        if s.anchoring is None
        else {"anchored_size": s.anchoring.anchored_size, "waiting": s.anchoring.waiting},
        "indicators": per_department,
        "events_applied": applied,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _pct(cell: dict[str, int]) -> str:
    n, d = cell["numerator"], cell["denominator"]
    return f"{100 * n / d:5.1f}%" if d else "    –"


def lines(ctx: DemoContext) -> list[str]:
    s = ctx.summary.get("supervision")
    if not s:
        return []
    lights = ", ".join(f"{light} {s['lights'][light]}" for light in Light.ALL)
    raised = ", ".join(f"{FLAG_NAMES[f]} {s['flags'][f]}" for f in FLAGS if s["flags"][f])
    out = [
        f"supervision    as of {s['today']}: {s['open_cases']} open cases — {lights}; "
        f"{s['needs_supervision_order']} red without an answered order, {s['paused']} paused, "
        f"{s['provisional']} provisional ({s['seconds']} s, "
        f"{sum(s['events_applied'].values()):,} events into {len(s['events_applied'])} views)",
        f"  flags        {raised or 'none'}",
    ]
    if s["flags"]["backfilled"]:
        out.append(
            "               (back-filled: the demo's clock is simulated, so its steps are "
            "recorded after the business dates they report)"
        )
    out.append("  indicators   department  fully-online  online  e-cert  on-time  satisfaction")
    for department, cells in s["indicators"].items():
        out.append(
            f"               {department:<10}  {_pct(cells['fully_online']):>12}  "
            f"{_pct(cells['online_completion']):>6}  "
            f"{_pct(cells['certificate_electronisation']):>6}  {_pct(cells['on_time']):>7}  "
            f"{_pct(cells['satisfaction']):>12}"
        )
    return out


STAGE = Stage("supervision", run, lines)
