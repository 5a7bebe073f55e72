"""Accountability over HTTP against a real ``caseledger serve``: the red-light explanation and
deduction (FZ·24), credit-record entries (GZ20·28), the published templates (FZ·16), the
window-veto report of a window refusal (FZ·16), and ``serve --city`` choosing NH·25's blacklist.

An overdue case needs a past acceptance: the test writes it into the served ledger itself
(another writer beside the server, as ``serve --workers`` has), signed by the department's key
from the same keystore, on a clock 60 days back; the server then judges it by its own day."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from api.bootstrap import open_runtime
from api.services import build_services
from api.settings import Settings
from ledger.domain.cases import SubmittedMaterial
from ledger.domain.templates import templates_digest
from ledger.storage.urls import parse_storage_url
from tests.api.conftest import PASSPHRASE, start_server, stop_server
from tests.api.http_world import FOOD, ITEM, World, _setup, world

__all__ = ["world"]

PROBLEM = "application/problem+json"


class _Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.at = now

    def now(self) -> dt.datetime:
        return self.at


def _overdue_case(world: World) -> str:
    """A window case of the food department accepted 60 days ago and never decided: its
    promised 10 working days ran out long before the server's today. Its serial."""
    keys = Path(world.served.env["CASELEDGER_KEYSTORE"])
    runtime = open_runtime(Settings(parse_storage_url(world.served.db), keys, PASSPHRASE))
    try:
        clock = _Clock(dt.datetime.now(dt.UTC) - dt.timedelta(days=60))
        cases = build_services(runtime, clock=clock).cases
        seal = runtime.keystore.current_signer(f"dept:{FOOD}")
        serial = cases.submit(
            item_code=ITEM,
            applicant_id=UUID(world.applicant),
            channel="window",
            handling_mode="window",
            materials=[
                SubmittedMaterial.paper("APPLICATION"),
                SubmittedMaterial.paper("FLOOR-PLAN"),
            ],
            delivery="on_site",
            signer=seal,
        ).serial
        clock.at += dt.timedelta(hours=1)
        cases.accept(serial, signer=seal)
        return serial
    finally:
        runtime.close()


def _problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body: dict[str, Any] = r.json()
    assert body["type"].endswith(f"/{code}"), body
    return body


def test_a_department_explains_its_red_case_and_the_office_deducts_FZ_24(world: World) -> None:
    serial = _overdue_case(world)
    food, supervisor = world.as_("food"), world.as_("supervisor")
    # another department's case is not found; a deduction is the supervisor's, not the
    # department's; nothing is recorded by either refusal
    head = world.chain_head()
    r = world.as_("transport").post(
        f"/v1/cases/{serial}/red-light/explanation", json={"explanation": "x"}
    )
    _problem(r, 404, "not-found")
    r = food.post(f"/v1/cases/{serial}/red-light/deduction", json={"points": 2, "reasons": "x"})
    _problem(r, 403, "forbidden")
    r = supervisor.post(
        f"/v1/cases/{serial}/red-light/deduction", json={"points": 0, "reasons": "x"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "points", r.text
    assert world.chain_head() == head

    r = food.post(
        f"/v1/cases/{serial}/red-light/explanation",
        json={"explanation": "专家评审延误，已协调加快"},
    )
    assert r.status_code == 200, r.text
    sealed = r.json()["detail"]["sealed"]
    assert sealed["kind"] == "delay_explanation" and sealed["issuer"] == FOOD
    r = food.post(f"/v1/cases/{serial}/red-light/explanation", json={"explanation": "再次说明"})
    _problem(r, 409 if r.status_code == 409 else 422, "delay-already-handled")

    r = supervisor.post(
        f"/v1/cases/{serial}/red-light/deduction", json={"points": 2, "reasons": "超期未办结"}
    )
    assert r.status_code == 200 and r.json()["detail"] == {"deducted_points": 2}, r.text
    # the supervision view (it follows the log): explained by the department, so no order is
    # needed, and 2 points deducted
    row = _eventually(lambda: _red_row(supervisor, serial), lambda c: c["deducted_points"] == 2)
    assert row["explained_by_department"] and row["light"] == "red"
    warnings = supervisor.get("/v1/supervision/warnings").json()
    assert serial not in [c["serial"] for c in warnings["needing_orders"]]


def _red_row(supervisor: Any, serial: str) -> dict[str, Any]:
    warnings = supervisor.get("/v1/supervision/warnings", params={"light": "red"}).json()
    return next((c for c in warnings["lights"]["items"] if c["serial"] == serial), {})


def _eventually(read: Any, done: Any, seconds: float = 20) -> Any:
    """``read()`` once ``done`` holds of it (the read models follow the log)."""
    deadline = time.monotonic() + seconds
    while True:
        found = read()
        if found and done(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {seconds} s: {found}")
        time.sleep(0.2)


def test_a_case_on_time_has_no_red_light_to_explain_or_deduct_FZ_24(world: World) -> None:
    serial = world.submit()["serial"]
    r = world.as_("food").post(f"/v1/cases/{serial}/acceptance")
    assert r.status_code == 200, r.text
    head = world.chain_head()
    r = world.as_("food").post(
        f"/v1/cases/{serial}/red-light/explanation", json={"explanation": "提前说明"}
    )
    assert _problem(r, 422, "delay-not-overdue")["rule"] == "FZ·24"
    r = world.as_("supervisor").post(
        f"/v1/cases/{serial}/red-light/deduction", json={"points": 1, "reasons": "x"}
    )
    _problem(r, 422, "delay-not-overdue")
    r = world.as_("supervisor").post(
        "/v1/cases/GZ-2026-99999999/red-light/deduction", json={"points": 1, "reasons": "x"}
    )
    assert r.status_code in (404, 422), r.text
    assert world.chain_head() == head


def test_credit_entries_are_the_granting_departments_GZ20_28(world: World) -> None:
    food = world.as_("food")
    serial = world.submit()["serial"]
    assert food.post(f"/v1/cases/{serial}/acceptance").status_code == 200
    entry = {
        "misconduct": "improper_licence",
        "details": "以虚假场所证明取得食品经营许可",
        "evidence": ["sha256:" + "cd" * 32],
        "case_serial": serial,
    }
    head = world.chain_head()
    r = food.post(f"/v1/applicants/{world.applicant}/credit-entries", json=entry)
    assert _problem(r, 422, "nothing-acquired")["rule"] == "GZ20·28"  # not approved yet
    r = world.as_("transport").post(f"/v1/applicants/{world.applicant}/credit-entries", json=entry)
    _problem(r, 404, "not-found")  # another department's case
    r = world.as_("supervisor").post(f"/v1/applicants/{world.applicant}/credit-entries", json=entry)
    _problem(r, 403, "forbidden")
    assert world.chain_head() == head

    assert food.post(f"/v1/cases/{serial}/approval", json={}).status_code == 200
    r = food.post(
        f"/v1/applicants/{world.applicant}/credit-entries", json=entry | {"serious": True}
    )
    body = _problem(r, 422, "invalid-credit-entry")
    assert body["field"] == "legal_basis"
    r = food.post(
        f"/v1/applicants/{world.applicant}/credit-entries",
        json=entry | {"serious": True, "legal_basis": "《行政许可法》第七十九条"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["detail"]["joint_punishment"] is True
    assert r.json()["detail"]["entry"]["basis"] == "GZ20·28"
    r = world.as_("supervisor").get(f"/v1/applicants/{world.applicant}/credit")
    assert r.status_code == 200 and r.json()["joint_punishment"] is True, r.text
    assert [e["case_serial"] for e in r.json()["entries"]] == [serial]


def test_the_published_templates_and_a_window_veto_report_FZ_16(world: World) -> None:
    r = world.served.client().get("/v1/templates")  # published: no token needed
    assert r.status_code == 200, r.text
    assert r.json()["digest"] == templates_digest()
    titles = {t["title"]: t["kind"] for t in r.json()["templates"]}
    assert titles["窗口否决报备单"] == "window_veto_report"
    assert titles["不予受理通知单"] == "non_acceptance_notice"

    body = world.submit_body(
        channel="window",
        handling_mode="window",
        materials=[
            {"code": "APPLICATION", "form": "paper"},
            {"code": "FLOOR-PLAN", "form": "paper"},
        ],
        delivery="on_site",
    )
    r = world.as_("food").post("/v1/cases", json=body)
    assert r.status_code == 201, r.text
    serial = r.json()["serial"]
    r = world.as_("food").post(
        f"/v1/cases/{serial}/non-acceptance", json={"reasons": ["不属于本机关职权范围"]}
    )
    assert r.status_code == 200 and r.json()["document"]["kind"] == "non_acceptance_notice"
    # reported to the managing office: the supervision view lists it with its reasons
    flags = _eventually(
        lambda: world.as_("supervisor").get("/v1/supervision/warnings").json()["flags"],
        lambda flags: serial in [f["case_serial"] for f in flags if f["flag"] == "window_veto"],
    )
    veto = next(f for f in flags if f["flag"] == "window_veto" and f["case_serial"] == serial)
    assert veto["department"] == FOOD
    assert veto["detail"] == "non_acceptance_notice: 不属于本机关职权范围 (FZ·16)"


@pytest.fixture(scope="module")
def nanhai(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A server whose city is Nanhai (``serve --city 南海``), on SQLite."""
    tmp = tmp_path_factory.mktemp("nanhai")
    served = start_server(f"sqlite:///{tmp / 'ledger.sqlite3'}", tmp / "keys", "--city", "南海")
    try:
        yield _setup(served)
    finally:
        stop_server(served)


def test_serve_city_nanhai_blacklists_without_a_time_limit_NH_25(nanhai: World) -> None:
    serial = nanhai.submit()["serial"]
    r = nanhai.as_("supervisor").post(
        "/v1/blacklist",
        json={
            "applicant_id": nanhai.applicant,
            "ground": "false_materials",
            "facts": [serial],
            "details": "提交虚假材料",
        },
    )
    assert r.status_code == 201, r.text
    assert (
        r.json()["detail"]["sealed"]["body"]["until"]
        == "until removed (除名), no time limit (NH·25)"
    )
    r = nanhai.as_("food").post("/v1/cases", json=nanhai.submit_body())
    body = _problem(r, 403, "blacklisted-applicant")
    assert body.get("until") is None and "further notice" in body["detail"], body


def test_serve_refuses_a_city_without_rules(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="--city: 'Nanhia' has no rules preset"):
        start_server(f"sqlite:///{tmp_path / 'l.sqlite3'}", tmp_path / "keys", "--city", "Nanhia")
