"""Certificates (GZ20·21, GZ20·23, GZ16·15), ratings (NH·17, FZ·22), blacklist (NH·25,
GZ16·22) and indicators (NH·6, GZ20·27) on the scripted city."""

from __future__ import annotations

import datetime as dt

import pytest

from ledger.domain.certificate_id import make_certificate_id
from ledger.domain.rules import InvalidCertificate
from projections.blacklist import counters, proposals, restrictions
from projections.certificates import status, wallet
from projections.indicators import Rate, indicators
from projections.ratings import bad_ratings, distribution
from tests.ledger.case_world import CARD_DEPT, FOOD_DEPT, ISSUER
from tests.projections.city import TYPE_CODE, City
from tests.projections.conftest import Views

D = dt.date


def test_a_certificate_version_is_valid_superseded_disputed_or_revoked(
    city: City, views: Views
) -> None:
    view = views["certificates"]
    v1, v2 = city.certificates["v1"], city.certificates["v2"]
    old = status(view, v1)
    assert old is not None and (old.status, old.version, old.current_identifier) == (
        "superseded",
        1,
        v2,
    )
    current = status(view, v2)
    assert current is not None and (current.status, current.open_disputes) == ("disputed", 1)
    assert [(v.number, v.status, v.reason) for v in current.versions] == [
        (1, "superseded", ""),
        (2, "disputed", "经营范围变更"),
    ]
    assert current.case_serial == city.serials["certified"]
    gone = status(view, city.certificates["revoked"])
    assert gone is not None and (gone.status, gone.revocation_reason) == ("revoked", "申请人注销")


def test_an_unknown_or_malformed_identifier(city: City, views: Views) -> None:
    view = views["certificates"]
    never = make_certificate_id(TYPE_CODE, ISSUER, "2026000777", 3)
    assert status(view, never) is None  # version 3 was never issued
    wrong = never[:-1] + ("A" if never[-1] != "A" else "B")
    with pytest.raises(InvalidCertificate):
        status(view, wrong)  # wrong check character
    with pytest.raises(InvalidCertificate):
        status(view, "not an identifier")


def test_a_holders_wallet_lists_their_certificates_with_status(city: City, views: Views) -> None:
    view, w = views["certificates"], city.world
    (mine,) = wallet(view, w.enterprise.id)
    assert (mine.identifier, mine.status, mine.versions) == (city.certificates["v2"], "disputed", 2)
    (revoked,) = wallet(view, w.person.id)
    assert revoked.status == "revoked"
    assert wallet(view, w.basic_person.id) == ()


def test_ratings_distribution_excludes_upheld_disputes(city: City, views: Views) -> None:
    (october,) = distribution(views["ratings"], department=FOOD_DEPT)
    assert october.month == "2026-10"
    assert october.counts == {
        "very_satisfied": 1,
        "satisfied": 1,
        "basically_satisfied": 0,
        "dissatisfied": 1,
        "very_dissatisfied": 0,  # the upheld dispute removed it
    }
    assert (october.total, october.satisfied, october.excluded) == (3, 2, 1)
    assert october.satisfaction_rate == pytest.approx(0.6667)
    assert distribution(views["ratings"], department=CARD_DEPT) == []


def test_bad_ratings_show_callback_and_rectification(city: City, views: Views) -> None:
    page = bad_ratings(views["ratings"], FOOD_DEPT, today=D(2026, 11, 20))
    (bad,) = page.items  # the upheld one is excluded
    assert (bad.case_serial, bad.level, bad.state, bad.rectification_due) == (
        city.serials["certified"],
        "dissatisfied",
        "rectified",
        "2026-10-22",  # 5 working days after 15 October
    )
    assert bad.callback_at is not None and not bad.rectified_late
    assert (
        bad_ratings(views["ratings"], FOOD_DEPT, today=D(2026, 11, 20), state="overdue").total == 0
    )
    with pytest.raises(ValueError, match="state"):
        bad_ratings(views["ratings"], FOOD_DEPT, today=D(2026, 11, 20), state="odd")


def test_blacklist_counts_facts_and_proposes_past_three(city: City, views: Views) -> None:
    view, w = views["blacklist"], city.world
    basic = counters(view, w.basic_person.id)
    assert basic.facts["missed_appointments"] == 5 and basic.unused["missed_appointments"] == 1
    person = counters(view, w.person.id)
    assert person.facts["missed_appointments"] == 4
    enterprise = counters(view, w.enterprise.id)
    assert enterprise.facts["untrue_complaints_or_ratings"] == 1  # the upheld rating dispute
    (proposal,) = proposals(view, today=D(2026, 11, 20))
    assert (proposal.applicant_id, proposal.ground) == (str(w.person.id), "missed_appointments")
    assert sorted(proposal.facts) == sorted(city.facts["person"])


def test_blacklist_lists_restrictions_in_force_with_their_end(city: City, views: Views) -> None:
    view, w = views["blacklist"], city.world
    page = restrictions(view, today=D(2026, 11, 20))
    (entry,) = page.items
    assert (entry.applicant_id, entry.starts, entry.until) == (
        str(w.basic_person.id),
        "2026-10-20",
        "2027-01-19",  # three calendar months, the last blocked day
    )
    assert restrictions(view, today=D(2027, 1, 20)).total == 0
    assert restrictions(view, today=D(2026, 10, 19)).total == 0


def test_indicators_per_department_and_month(city: City, views: Views) -> None:
    rows = {(r.department, r.month): r for r in indicators(views["indicators"])}
    september = rows[(FOOD_DEPT, "2026-09")]
    # G and H closed 30 September: submitted on the web, paper original by courier.
    assert september.fully_online == Rate(0, 2)
    assert september.online_completion == Rate(2, 2)
    # G and H both record their e-certificate: the ledger closes no certificate result
    # without one (GZ16·15, NH·20, FZ·19).
    assert september.certificate_electronisation == Rate(2, 2)
    assert september.on_time == Rate(2, 2)
    assert september.satisfaction == Rate(0, 0)
    october = rows[(FOOD_DEPT, "2026-10")]
    assert october.satisfaction == Rate(2, 3) and october.satisfaction.value == pytest.approx(
        0.6667
    )
    assert (CARD_DEPT, "2026-09") not in rows  # nothing closed, decided or rated
    assert indicators(views["indicators"], department=FOOD_DEPT, month="2026-10") == [october]
