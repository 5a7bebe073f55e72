"""A case driven entirely over HTTP, from submission to closing, on SQLite and PostgreSQL —
and the chain still verifies afterwards.
"""

from __future__ import annotations

from tests.api import http_world
from tests.api.http_world import World

world = http_world.world  # the served city, one per backend and module
PROBLEM = "application/problem+json"


def test_a_case_goes_from_submission_to_closing_over_http(world: World) -> None:
    receipt = world.submit()
    serial = receipt["serial"]
    assert receipt["state"] == "submitted" and receipt["approval_code"]
    assert receipt["document"]["kind"] == "application_receipt"
    food = world.as_("food")
    steps = [
        ("pre-review", None, "pre_reviewed"),
        ("acceptance", None, "accepted"),
        ("approval", {"conclusion": "准予许可"}, "approved"),
        ("result-document", {"title": "食品经营许可证"}, "result_issued"),
    ]
    for path, body, state in steps:
        r = food.post(f"/v1/cases/{serial}/{path}", json=body)
        assert r.status_code == 200, (path, r.text)
        assert r.json()["state"] == state
    certificate = world.issue_certificate(serial, "JY14401060000001")
    for path, body, state in [
        ("dispatches", {"method": "online"}, "dispatched"),
        ("sign-off", {"recipient": "applicant"}, "delivered"),
        ("close", None, "closed"),
    ]:
        r = food.post(f"/v1/cases/{serial}/{path}", json=body)
        assert r.status_code == 200, (path, r.text)
        assert r.json()["state"] == state
    progress = food.get(f"/v1/cases/{serial}").json()
    assert progress["state"] == "closed"
    assert progress["certificate_ids"] == [certificate]
    assert progress["documents"][0] == "application_receipt"
    assert "applicant_id" not in progress and "mailing_address" not in progress


def test_correction_then_acceptance_and_withdrawal(world: World) -> None:
    food = world.as_("food")
    serial = world.submit()["serial"]
    r = food.post(
        f"/v1/cases/{serial}/correction-requests",
        json={"materials": [{"code": "FLOOR-PLAN", "reason": "未标注加工区"}]},
    )
    assert r.status_code == 200 and r.json()["state"] == "correction_requested"
    assert r.json()["document"]["kind"] == "correction_notice"
    r = food.post(
        f"/v1/cases/{serial}/corrections",
        json={
            "applicant_id": world.applicant,
            "materials": [{"code": "FLOOR-PLAN", "form": "e_copy", **world.material}],
        },
    )
    assert r.status_code == 200 and r.json()["state"] == "corrected", r.text
    r = food.post(
        f"/v1/cases/{serial}/withdrawal",
        json={"applicant_id": world.applicant, "reason": "不再经营"},
    )
    assert r.status_code == 200 and r.json()["state"] == "withdrawn"


def test_refusals_disapproval_and_delivery_failure_paths(world: World) -> None:
    food = world.as_("food")
    refused = world.submit()["serial"]
    r = food.post(f"/v1/cases/{refused}/non-acceptance", json={"reasons": ["不属于本机关职权"]})
    assert r.json()["state"] == "not_accepted"
    returned = world.submit()["serial"]
    r = food.post(f"/v1/cases/{returned}/return", json={"reasons": ["材料不符合法定形式"]})
    assert r.json()["state"] == "returned"
    serial = world.submit()["serial"]
    for path, body in [("pre-review", None), ("acceptance", None)]:
        assert food.post(f"/v1/cases/{serial}/{path}", json=body).status_code == 200
    r = food.post(
        f"/v1/cases/{serial}/special-procedures",
        json={"procedure": "site_survey", "expected_days": 3},
    )
    assert r.json()["state"] == "special_procedure", r.text
    r = food.post(f"/v1/cases/{serial}/special-procedures/end", json={"outcome": "现场核查合格"})
    assert r.json()["state"] == "accepted", r.text
    extension = {"days": 10, "reasons": ["需专家评审"], "approved_by": "局长 王五"}  # ALL·42
    r = food.post(f"/v1/cases/{serial}/time-limit-extension", json=extension)
    assert r.status_code == 200 and r.json()["document"]["kind"] == "extension_notice", r.text
    r = food.post(f"/v1/cases/{serial}/time-limit-extension", json=extension)
    assert r.status_code == 422 and r.json()["rule"] == "ALL·42", r.text
    assert r.json()["type"].endswith("/second-time-limit-extension")
    r = food.post(f"/v1/cases/{serial}/disapproval", json={"reasons": ["场所不符合要求"]})
    assert r.json()["state"] == "disapproved", r.text
    r = food.post(f"/v1/cases/{serial}/dispatches", json={"method": "online"})
    assert r.json()["state"] == "dispatched", r.text
    r = food.post(f"/v1/cases/{serial}/delivery-failures", json={"reason": "系统退信"})
    assert r.json()["state"] == "delivery_failed", r.text
    r = food.post(f"/v1/cases/{serial}/public-notice", json={"notice_days": 30})
    assert r.status_code == 200 and r.json()["state"] == "delivered", r.text
    r = food.post(f"/v1/cases/{serial}/close")
    assert r.status_code == 422 and r.json()["rule"], r.text  # the notice period runs first


def test_caseledger_verify_passes_after_the_http_run(world: World) -> None:
    world.submit()
    done = world.cli("verify", "--db", world.served.db)
    assert done.returncode == 0, done.stdout + done.stderr
