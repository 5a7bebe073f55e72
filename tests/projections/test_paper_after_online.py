"""No paper after online delivery (NH·13: "网上已提交的材料……直接用于受理"): a paper delivery for a
case whose every material came online is recorded as the supervised ``paper_demanded`` flag,
beside GZ20·26's fully online items; a case with a paper original delivered by courier is not."""

from __future__ import annotations

import datetime as dt

from ledger.storage.urls import parse_storage_url
from projections.runner import catch_up, open_view
from projections.supervision import SupervisionView, flags
from tests.ledger import test_case_lifecycle as lifecycle
from tests.ledger.case_world import World

world = lifecycle.world  # the lifecycle tests' fixture: a fresh SQLite world per test


def test_a_paper_delivery_after_online_delivery_is_flagged_NH_13(world: World) -> None:
    online = world.submit_food(
        [world.copy("APPLICATION"), world.licence(), world.copy("FLOOR-PLAN")]
    ).serial
    with_paper = world.submit_food().serial  # carries the paper original (sent by courier)
    for serial in (online, with_paper):
        world.cases.pass_pre_review(serial, signer=world.food)
        world.cases.record_material_delivery(
            serial, "courier", waybill="SF1234567890", signer=world.food
        )
    view = open_view(SupervisionView, parse_storage_url(world.url))
    catch_up(view, world.ledger)
    raised = [f for f in flags(view, today=dt.date(2026, 9, 29)) if f.flag == "paper_demanded"]
    assert [(f.case_serial, "NH·13" in f.detail) for f in raised] == [(online, True)]
