"""Supervision lights and flags (FZ·24, GZ20·26, FZ·26) on the scripted city.

Lights are computed from the rows and the caller's ``today``; the expectations below are
counted by hand on the 2026 schedule (National Day 1–7 October off; 8 October and Saturday
10 October working days).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from ledger.domain.anchoring import AnchorLog
from ledger.storage.urls import parse_storage_url
from projections.runner import catch_up, open_view
from projections.supervision import (
    CaseLight,
    SupervisionThresholds,
    SupervisionView,
    anchoring_status,
    case_lights,
    flags,
    needing_orders,
    summary,
)
from tests.ledger.case_world import CARD_DEPT, FOOD_DEPT, build_world
from tests.projections.city import City
from tests.projections.conftest import Views

D = dt.date


def _light(view: Any, serial: str, today: dt.date, **kw: Any) -> CaseLight:
    page = case_lights(view, today=today, limit=500, **kw)
    return next(c for c in page.items if c.serial == serial)


@pytest.mark.parametrize(
    ("today", "light", "left"),
    [
        (D(2026, 10, 23), "green", 5),  # Friday: 26–30 October left
        (D(2026, 10, 24), "green", 5),  # Saturday: a weekend day uses up nothing
        (D(2026, 10, 25), "green", 5),  # Sunday
        (D(2026, 10, 26), "yellow", 4),  # Monday: 4 ≤ 20 % of 20
        (D(2026, 10, 30), "yellow", 0),  # due today
        (D(2026, 10, 31), "red", 0),  # Saturday after the due date: overdue
        (D(2026, 11, 2), "red", -1),  # Monday: one working day late
    ],
)
def test_the_promised_limit_turns_yellow_then_red_across_a_weekend(
    city: City, views: Views, today: dt.date, light: str, left: int
) -> None:
    c = _light(views["supervision"], city.serials["accepted"], today)
    assert (c.light, c.days_left, c.clock, c.due) == (light, left, "promised", "2026-10-30")


@pytest.mark.parametrize(
    ("today", "light", "left"),
    [
        (D(2026, 9, 29), "green", 4),  # 30 Sep, 8, 9, 10 Oct left
        (D(2026, 9, 30), "green", 3),
        (D(2026, 10, 5), "green", 3),  # the holiday stops nothing being counted
        (D(2026, 10, 7), "green", 3),  # last day off; weekdays alone would be overdue
        (D(2026, 10, 8), "yellow", 2),  # ≤ 2 working days
        (D(2026, 10, 10), "yellow", 0),  # Saturday make-up working day: due today
        (D(2026, 10, 11), "red", 0),
    ],
)
def test_pre_review_counts_working_days_through_the_national_day_holiday(
    city: City, views: Views, today: dt.date, light: str, left: int
) -> None:
    c = _light(views["supervision"], city.serials["pre_review"], today)
    assert (c.light, c.days_left, c.clock, c.due) == (light, left, "pre_review", "2026-10-10")


def test_a_special_procedure_stops_the_clock(city: City, views: Views) -> None:
    view, s = views["supervision"], city.serials
    # Paused on 19 October with 16 working days left: frozen, even a month after the due date.
    for today in (D(2026, 10, 19), D(2026, 11, 9), D(2026, 11, 20)):
        c = _light(view, s["paused"], today)
        assert (c.light, c.days_left, c.paused) == ("green", 16, True)
    # Resumed 13 November, due 7 December: yellow at 4 left, red after.
    assert _light(view, s["resumed"], D(2026, 11, 27)).days_left == 6
    december = _light(view, s["resumed"], D(2026, 12, 1))
    assert (december.light, december.days_left) == ("yellow", 4)
    assert _light(view, s["resumed"], D(2026, 12, 8)).light == "red"


def test_a_year_without_a_published_schedule_marks_the_light_provisional(
    city: City, views: Views
) -> None:
    view, serial = views["supervision"], city.serials["provisional"]
    december = _light(view, serial, D(2026, 12, 22))
    assert (december.light, december.provisional, december.due) == ("green", True, "2027-01-18")
    # 2027 counted on weekdays: 14, 15, 18 January left.
    january = _light(view, serial, D(2027, 1, 13))
    assert (january.light, january.days_left, january.provisional) == ("yellow", 3, True)
    # A case due in a published year is not provisional.
    assert not _light(view, city.serials["accepted"], D(2026, 10, 20)).provisional


def test_thresholds_are_configurable(city: City, views: Views) -> None:
    strict = SupervisionThresholds(yellow_percent=50, yellow_days=0)
    c = _light(views["supervision"], city.serials["accepted"], D(2026, 10, 16), thresholds=strict)
    assert (c.light, c.days_left) == ("yellow", 10)  # 10 ≤ 50 % of 20
    with pytest.raises(ValueError, match="yellow_percent"):
        SupervisionThresholds(yellow_percent=120)


def test_cases_waiting_for_the_applicant_are_not_timed(city: City, views: Views) -> None:
    c = _light(views["supervision"], city.serials["second_correction"], D(2026, 11, 20))
    assert (c.clock, c.light, c.days_left) == ("applicant", "green", None)


def test_red_cases_without_an_answered_order_need_one(city: City, views: Views) -> None:
    view, s = views["supervision"], city.serials
    needing = {c.serial: c for c in needing_orders(view, today=D(2026, 11, 20))}
    # A and F (materials received 29 September, not accepted) are overdue with no order;
    # B's order is issued but unanswered.
    assert set(needing) == {s["accepted"], s["paper"], s["pre_review"]}
    assert needing[s["paper"]].clock == "review" and needing[s["paper"]].due == "2026-10-12"
    assert needing[s["pre_review"]].order_open and not needing[s["accepted"]].order_open
    card = needing_orders(view, today=D(2026, 11, 20), department=CARD_DEPT)
    assert {c.department for c in card} == {CARD_DEPT}


def test_flags_name_each_supervised_irregularity(city: City, views: Views) -> None:
    s, today = city.serials, D(2026, 11, 20)
    raised = flags(
        views["supervision"],
        today=today,
        thresholds=SupervisionThresholds(backfill=dt.timedelta(days=3650)),
    )
    by_flag: dict[str, list[str]] = {}
    for f in raised:
        by_flag.setdefault(f.flag, []).append(f.case_serial or f.subject)
    assert by_flag["second_correction"] == [s["second_correction"]]
    assert by_flag["paper_demanded"] == [s["paper"]]
    assert by_flag["reupload_demanded"] == [s["accepted"]]
    # The ledger refuses to close a certificate result without its e-certificate (GZ16·15,
    # NH·20, FZ·19), so the flag (kept for ledgers written before that refusal) stays down.
    assert "closed_without_certificate" not in by_flag
    assert len(by_flag["complaint_overdue"]) == 1  # the enquiry was answered in time
    assert "consultation_overdue" not in by_flag
    (dispute,) = [f for f in raised if f.flag == "certificate_dispute_overdue"]
    assert dispute.detail == f"{city.certificates['v2']}: due 2026-10-15, unanswered"
    assert by_flag["supervision_order_overdue"] == [s["pre_review"]]
    assert "backfilled" not in by_flag
    # Before their due dates the deadline flags are not raised.
    early = {f.flag for f in flags(views["supervision"], today=D(2026, 10, 14))}
    assert not early & {
        "complaint_overdue",
        "certificate_dispute_overdue",
        "supervision_order_overdue",
    }


def test_the_summary_counts_lights_and_flags_per_department(city: City, views: Views) -> None:
    result = summary(views["supervision"], today=D(2026, 11, 20))
    # Open: A red, B red, E (applicant) green, F review from 29 Sep red, C paused green,
    # C2 green (due 7 Dec, 11 left), D green.
    assert result.open_cases == 7
    assert result.lights == {"green": 4, "yellow": 0, "red": 3}
    assert result.needs_order == 3 and result.paused == 1 and result.provisional == 1
    assert result.by_department[CARD_DEPT].lights == {"green": 0, "yellow": 0, "red": 2}
    assert result.by_department[FOOD_DEPT].flags["closed_without_certificate"] == 0
    assert result.flags["second_correction"] == 1 and result.flags["paper_demanded"] == 1


def test_back_filling_is_a_step_recorded_long_after_the_time_it_reports(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    w = build_world(f"sqlite:///{tmp_path / 'l.sqlite3'}", tmp_path)
    w.clock._now = now - dt.timedelta(days=3)  # work done off the system three days ago
    late = w.submit_food().serial
    w.clock._now = now
    timely = w.submit_card().serial
    view: Any = open_view(SupervisionView, parse_storage_url(w.url))
    catch_up(view, w.ledger)
    today = now.date()
    found = [f for f in flags(view, today=today) if f.flag == "backfilled"]
    assert [f.case_serial for f in found] == [late]
    assert found[0].detail.startswith("Submitted recorded 7")  # 72 h late
    lenient = SupervisionThresholds(backfill=dt.timedelta(days=4))
    assert not [f for f in flags(view, today=today, thresholds=lenient) if f.flag == "backfilled"]
    assert timely


def test_anchoring_lag_is_flagged_when_events_wait_too_long(tmp_path: Path) -> None:
    w = build_world(f"sqlite:///{tmp_path / 'l.sqlite3'}", tmp_path)
    log = AnchorLog(origin="test.example/log", checkpoint_key="k")
    log.anchored(5, b"\x00" * 32, "c", "b", 0, [])
    w.ledger.save_signed(log, signer=w.platform)
    view: Any = open_view(SupervisionView, parse_storage_url(w.url))
    catch_up(view, w.ledger)
    head = w.ledger.recorder.max_notification_id() or 0
    now = dt.datetime.now(dt.UTC)
    fresh = anchoring_status(view, now=now, log_head=head)
    assert fresh is not None and fresh.waiting == head - 5 and not fresh.lagging
    later = now + dt.timedelta(hours=2)
    stale = anchoring_status(view, now=later, log_head=head)
    assert stale is not None and stale.lagging
    assert [f.flag for f in flags(view, today=later.date(), now=later, log_head=head)] == [
        "anchoring_lag"
    ]
    assert anchoring_status(view, now=None, log_head=head) is None
