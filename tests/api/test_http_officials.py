"""Officials over HTTP (FZ·26(二)(五)): appointed by an administrator, tokens issued to them,
steps signed by their own keys and refused outside their roles (the attempt recorded), and
the auditor's per-official history under /v1/audit."""

from __future__ import annotations

from urllib.parse import quote

from tests.api.http_world import FOOD, World
from tests.api.http_world import world as world  # the served city, per backend


def _appoint(
    world: World,
    by: str,
    code: str,
    roles: list[str],
    department: str = FOOD,
    token: str = "department",
) -> None:
    r = world.as_(by).post(
        "/v1/admin/officials",
        json={"staff_code": code, "department": department, "roles": roles, "display_name": code},
    )
    assert r.status_code == 201, r.text
    assert len(r.json()["detail"]["key_id"]) == 16
    world.tokens[code] = world.served.token(token, official=code)


def test_officials_act_in_their_roles_and_the_auditor_reads_their_history(world: World) -> None:
    _appoint(world, "admin", "HA-001", ["admin"])  # the first administrator, by the platform
    _appoint(world, "HA-001", "HR-001", ["reception"])
    _appoint(world, "HA-001", "HD-001", ["decision"])
    serial = world.submit()["serial"]
    head = world.chain_head()
    r = world.as_("HD-001").post(f"/v1/cases/{serial}/pre-review")
    assert r.status_code == 403, r.text
    assert r.json()["type"].endswith("/authority-exceeded")
    assert world.commands_since(head) == [["ledger.officials:Official.ActionRefused"]]
    r = world.as_("HR-001").post(f"/v1/cases/{serial}/pre-review")
    assert r.status_code == 200, r.text

    r = world.as_("auditor").get("/v1/audit/officials/HR-001/history")
    assert r.status_code == 200, r.text
    history = r.json()
    assert history["verification"]["ok"]
    mine = [a for a in history["actions"] if a["signed_by_official"]]
    assert [a["case_serial"] for a in mine] == [serial]
    assert mine[0]["topics"] == ["ledger.cases:Case.PreReviewPassed"]
    assert len(mine[0]["proofs"]) == 1 and history["tree"]["size"] >= mine[0]["sequence"]
    refused = world.as_("auditor").get("/v1/audit/officials/HD-001/history").json()
    assert refused["actions"][-1]["topics"] == ["ledger.officials:Official.ActionRefused"]
    assert world.as_("food").get("/v1/audit/officials/HR-001/history").status_code == 403
    assert world.as_("auditor").get("/v1/audit/officials/NOBODY/history").status_code == 404


def test_only_administrators_manage_officials(world: World) -> None:
    body = {"staff_code": "HX-001", "department": FOOD, "roles": ["decision"], "display_name": "x"}
    r = world.as_("food").post("/v1/admin/officials", json=body)  # a system token
    assert r.status_code == 403, r.text
    if "HR-001" not in world.tokens:
        _appoint(world, "admin", "HR-001", ["reception"])
    r = world.as_("HR-001").post("/v1/admin/officials", json=body)
    assert r.status_code == 403 and r.json()["type"].endswith("/authority-exceeded"), r.text
    r = world.as_("admin").post("/v1/admin/officials/HR-001/suspension", json={"reason": "审查"})
    assert r.status_code == 200 and r.json()["detail"]["status"] == "suspended", r.text
    serial = world.submit()["serial"]
    assert world.as_("HR-001").post(f"/v1/cases/{serial}/pre-review").status_code == 403
    r = world.as_("admin").post("/v1/admin/officials/HR-001/reinstatement")
    assert r.status_code == 200, r.text
    assert world.as_("HR-001").post(f"/v1/cases/{serial}/pre-review").status_code == 200
    assert world.cli("verify", "--db", world.served.db).returncode == 0


def test_the_window_acts_for_a_department_only_under_its_delegation_NH_6_2(world: World) -> None:
    if "HA-001" not in world.tokens:
        _appoint(world, "admin", "HA-001", ["admin"])
    _appoint(world, "admin", "HW-001", ["reception"], department="GZ-ZHCK")
    serial = world.submit()["serial"]
    assert world.as_("HW-001").post(f"/v1/cases/{serial}/pre-review").status_code == 404
    grant = {"department": FOOD, "window": "GZ-ZHCK", "basis": "一窗受理委托书"}
    r = world.as_("HA-001").post("/v1/admin/delegations", json=grant)
    assert r.status_code == 201 and r.json()["detail"] == {"active": True}, r.text
    r = world.as_("HW-001").post(f"/v1/cases/{serial}/pre-review")
    assert r.status_code == 200, r.text
    r = world.as_("HW-001").post(f"/v1/cases/{serial}/acceptance")
    assert r.status_code == 403 and r.json()["type"].endswith("/authority-exceeded"), r.text
    withdraw = {"department": FOOD, "window": "GZ-ZHCK", "reason": "收回"}
    r = world.as_("HA-001").post("/v1/admin/delegations/withdrawal", json=withdraw)
    assert r.status_code == 200 and r.json()["detail"] == {"active": False}, r.text


def test_a_supervision_official_orders_and_a_named_official_answers_FZ_26(world: World) -> None:
    """Supervisors are individuals too: a supervisor token issued to an official of the
    supervision office signs with that official's key; the department's answer is signed by
    its decision official and sealed by the department (outside the case commands)."""
    if "HA-001" not in world.tokens:
        _appoint(world, "admin", "HA-001", ["admin"])
    _appoint(world, "admin", "HJ-001", ["supervision"], department="ZWFW", token="supervisor")
    _appoint(world, "HA-001", "HE-001", ["decision"])
    _appoint(world, "HA-001", "HQ-001", ["reception"])
    order = {"department": FOOD, "reason": "not_handled", "details": "网上申请三个工作日未处理"}
    assert world.as_("HE-001").post("/v1/supervision/orders", json=order).status_code == 403
    r = world.as_("HJ-001").post("/v1/supervision/orders", json=order)
    assert r.status_code == 201, r.text
    order_id = r.json()["id"]
    head = world.chain_head()
    answer = {"answer": "已处理并整改"}
    r = world.as_("HQ-001").post(f"/v1/supervision/orders/{order_id}/answer", json=answer)
    assert r.status_code == 403 and r.json()["type"].endswith("/authority-exceeded"), r.text
    assert world.commands_since(head) == [["ledger.officials:Official.ActionRefused"]]
    r = world.as_("HE-001").post(f"/v1/supervision/orders/{order_id}/answer", json=answer)
    assert r.status_code == 200, r.text
    r = world.as_("HJ-001").post(
        f"/v1/supervision/orders/{order_id}/close", json={"conclusion": "已整改"}
    )
    assert r.status_code == 200, r.text
    history = world.as_("auditor").get("/v1/audit/officials/HJ-001/history").json()
    assert history["verification"]["ok"]
    assert [a["topics"] for a in history["actions"] if a["signed_by_official"]] == [
        ["ledger.supervision:SupervisionOrder.Issued"],
        ["ledger.supervision:SupervisionOrder.Closed"],
    ]
    answered = world.as_("auditor").get("/v1/audit/officials/HE-001/history").json()
    assert answered["actions"][-1]["topics"] == ["ledger.supervision:SupervisionOrder.Answered"]
    assert world.cli("verify", "--db", world.served.db).returncode == 0


def test_an_officials_clear_read_of_personal_data_is_signed_by_them_and_in_their_history(
    world: World,
) -> None:
    """Who saw an applicant's data is a person, not only a department (FZ·26(二)): the read
    record is signed with the official's key, so the auditor finds it under their name."""
    _appoint(world, "admin", "PA-001", ["admin"])
    _appoint(world, "PA-001", "PR-001", ["reception"])
    world.submit()
    path = f"/v1/applicants/{world.applicant}"
    purpose = {"X-Purpose": quote("核对申请人身份（受理审查）")}
    r = world.as_("PR-001").get(path, params={"unmasked": "true"}, headers=purpose)
    assert r.status_code == 200 and r.json()["unmasked"] is True, r.text
    history = world.as_("auditor").get("/v1/audit/officials/PR-001/history").json()
    mine = [a for a in history["actions"] if a["signed_by_official"]]
    assert [a["topics"] for a in mine] == [["ledger.access:PersonalDataAccess.PersonalDataRead"]]
    assert history["verification"]["ok"]
