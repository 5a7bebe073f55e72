"""The intake obligations over HTTP (RULES.md "Further obligations"): a guide is published with
its forms, samples and time limits (GZ16·18, PY·24, FZ·7, GZ20·12, GZ20·10), and a correction or
refusal carries its grounds, refused where the article forbids them (NH·18, FZ·23, FZ·13).

Against a real ``caseledger serve`` on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from tests.api import http_world
from tests.api.http_world import World, guide

world = http_world.world


def _problem(r: Any, code: str, field: str) -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["type"].endswith(f"/{code}") and body["field"] == field, body


def test_a_guide_is_published_only_with_samples_and_window_bounded_limits_GZ16_18_GZ20_12(
    world: World,
) -> None:
    food = world.as_("food")
    head = world.chain_head()
    no_forms = guide("GZ-SCJG-TEST-101") | {"forms": []}
    _problem(food.post("/v1/catalogue/items", json={"guide": no_forms}),
             "guide-samples-missing", "forms")  # fmt: skip
    slower = guide("GZ-SCJG-TEST-102") | {"online_promised_limit_days": 11}
    _problem(food.post("/v1/catalogue/items", json={"guide": slower}),
             "guide-forms-or-limit-exceed-window", "online_promised_limit_days")  # fmt: skip
    window_only = guide("GZ-SCJG-TEST-103") | {"handling_modes": ["window"]}
    _problem(food.post("/v1/catalogue/items", json={"guide": window_only}),
             "full-online-basis-missing", "full_online_exception")  # fmt: skip
    assert world.chain_head() == head
    cited = window_only | {"full_online_exception": "《食品安全法》第三十五条：现场核查"}
    r = food.post("/v1/catalogue/items", json={"guide": cited})
    assert r.status_code == 201, r.text


def test_correction_and_refusal_grounds_are_judged_NH_18_FZ_23_FZ_13(world: World) -> None:
    food = world.as_("food")
    serial = world.submit(channel="window", handling_mode="window")["serial"]
    head = world.chain_head()
    electronic = {"code": "FLOOR-PLAN", "reason": "请交纸质件", "ground": "electronic_not_paper"}
    r = food.post(f"/v1/cases/{serial}/correction-requests", json={"materials": [electronic]})
    _problem(r, "electronic-material-refused", "grounds[FLOOR-PLAN]")
    backfill = {"code": "FLOOR-PLAN", "reason": "请网上补填", "ground": "online_backfill"}
    r = food.post(f"/v1/cases/{serial}/correction-requests", json={"materials": [backfill]})
    _problem(r, "online-backfill-demanded", "grounds[FLOOR-PLAN]")
    r = food.post(
        f"/v1/cases/{serial}/non-acceptance",
        json={
            "reasons": ["共享数据无法调取"],
            "grounds": {"APPLICATION": "shared_data_unavailable"},
        },
    )
    _problem(r, "shared-data-not-fetched", "grounds[APPLICATION]")
    assert world.chain_head() == head
    illegible = {"code": "FLOOR-PLAN", "reason": "平面图不清晰", "ground": "illegible"}
    r = food.post(f"/v1/cases/{serial}/correction-requests", json={"materials": [illegible]})
    assert r.status_code in (200, 201), r.text
    assert r.json()["state"] == "correction_requested"
