"""The command surface over HTTP: roles, department isolation, idempotency (retries and
concurrent duplicates), every error class, personal-data reads, and the domain commands.

Against a real ``caseledger serve`` on loopback, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from ledger.domain.identity import resident_id_check_character
from ledger.storage.materials import MAX_MATERIAL_BYTES
from tests.api import http_world
from tests.api.http_world import FOOD, ITEM, OTHER_ITEM, PDF, World

world = http_world.world  # the served city, one per backend and module
PROBLEM = "application/problem+json"
SERIAL = "GZ-SCJG-20260928-000001"


def resident_id(first17: str) -> str:
    return first17 + resident_id_check_character(first17)


def key() -> str:
    return str(uuid.uuid4())


# --- role matrix ---------------------------------------------------------------------------

EMPTY = "00000000-0000-4000-8000-000000000000"
ENDPOINTS: dict[str, tuple[str, str, set[str]]] = {
    "submit": ("POST", "/v1/cases", {"food", "kiosk"}),
    "read case": ("GET", f"/v1/cases/{SERIAL}", {"food", "supervisor"}),
    "department step": ("POST", f"/v1/cases/{SERIAL}/acceptance", {"food"}),
    "applicant step": ("POST", f"/v1/cases/{SERIAL}/withdrawal", {"food", "kiosk"}),
    "enrol department": ("POST", "/v1/admin/departments", set()),
    "publish item": ("POST", "/v1/catalogue/items", {"food"}),
    "register applicant": ("POST", "/v1/applicants", {"food", "kiosk"}),
    "read applicant": ("GET", f"/v1/applicants/{EMPTY}", {"food", "supervisor"}),
    "erase applicant": ("POST", f"/v1/applicants/{EMPTY}/erasure", set()),
    "upload material": ("POST", "/v1/materials", {"food", "kiosk"}),
    "issue certificate": ("POST", "/v1/certificates", {"food"}),
    "rate": ("POST", f"/v1/cases/{SERIAL}/rating", {"food", "kiosk"}),
    "decide rating dispute": (
        "POST",
        f"/v1/cases/{SERIAL}/rating/dispute-decision",
        {"supervisor"},
    ),
    "open slot": ("POST", "/v1/appointment-slots", {"food"}),
    "check in": (
        "POST",
        f"/v1/appointment-slots/{EMPTY}/bookings/{EMPTY}/check-in",
        {"food", "kiosk"},
    ),
    "receive consultation": ("POST", "/v1/consultations", {"food", "kiosk"}),
    "answer consultation": ("POST", f"/v1/consultations/{EMPTY}/answer", {"food"}),
    "blacklist": ("POST", "/v1/blacklist", {"supervisor"}),
    "appeal": ("POST", f"/v1/blacklist/{EMPTY}/appeals", {"food", "kiosk"}),
    "issue order": ("POST", "/v1/supervision/orders", {"supervisor"}),
    "answer order": ("POST", f"/v1/supervision/orders/{EMPTY}/answer", {"food"}),
}
ROLES = ("admin", "food", "kiosk", "supervisor", "auditor", "archivist")


def test_each_role_may_use_only_its_endpoints(world: World) -> None:
    refused: list[str] = []
    for name, (method, path, allowed) in ENDPOINTS.items():
        for role in ROLES:
            r = world.as_(role).request(method, path, json={} if method == "POST" else None)
            may = role == "admin" or role in allowed
            if (r.status_code == 403) == may or r.status_code in (401, 500):
                refused.append(f"{role} {name}: {r.status_code}")
            if r.status_code == 403:
                assert r.headers["content-type"] == PROBLEM
    assert not refused, refused


def test_without_a_token_commands_are_401(world: World) -> None:
    with world.served.client() as anonymous:
        assert anonymous.post("/v1/cases", json={}).status_code == 401


# --- department isolation ------------------------------------------------------------------


def test_another_departments_case_is_404_not_403(world: World) -> None:
    serial = world.submit()["serial"]
    other = world.as_("transport")
    for r in (
        other.get(f"/v1/cases/{serial}"),
        other.post(f"/v1/cases/{serial}/acceptance"),
        other.post(
            f"/v1/cases/{serial}/correction-requests",
            json={"materials": [{"code": "FLOOR-PLAN", "reason": "x"}]},
        ),
    ):
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, r.text
    assert world.as_("food").get(f"/v1/cases/{serial}").json()["state"] == "submitted"


def test_a_department_submits_only_for_its_own_items(world: World) -> None:
    r = world.as_("transport").post("/v1/cases", json=world.submit_body())
    assert r.status_code == 404
    r = world.as_("food").post("/v1/cases", json=world.submit_body(item_code=OTHER_ITEM))
    assert r.status_code == 404


# --- idempotency ---------------------------------------------------------------------------


def test_a_retried_submission_returns_the_first_answer_and_records_nothing(world: World) -> None:
    food, k = world.as_("food"), key()
    first = food.post("/v1/cases", json=world.submit_body(), headers={"Idempotency-Key": k})
    head = world.chain_head()
    again = food.post("/v1/cases", json=world.submit_body(), headers={"Idempotency-Key": k})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert world.chain_head() == head


def test_a_retried_step_returns_the_first_answer(world: World) -> None:
    food, k = world.as_("food"), key()
    serial = world.submit()["serial"]
    first = food.post(f"/v1/cases/{serial}/pre-review", headers={"Idempotency-Key": k})
    head = world.chain_head()
    again = food.post(f"/v1/cases/{serial}/pre-review", headers={"Idempotency-Key": k})
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert world.chain_head() == head
    without = food.post(f"/v1/cases/{serial}/pre-review")
    assert without.status_code == 409  # no key: a second pre-review is a real second request


def test_a_key_reused_for_another_request_is_refused(world: World) -> None:
    food, k = world.as_("food"), key()
    assert (
        food.post("/v1/cases", json=world.submit_body(), headers={"Idempotency-Key": k}).status_code
        == 201
    )
    r = food.post(
        "/v1/cases", json=world.submit_body(delivery="on_site"), headers={"Idempotency-Key": k}
    )
    assert r.status_code == 422 and r.json()["field"] == "Idempotency-Key"


def _race(
    world: World, who: str, method: str, path: str, body: Any, k: str
) -> list[httpx.Response]:
    def send(_: int) -> httpx.Response:
        with world.served.client(world.tokens[who]) as c:
            return c.request(method, path, json=body, headers={"Idempotency-Key": k})

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(send, range(8)))


def test_concurrent_duplicate_submissions_all_get_the_winners_answer(world: World) -> None:
    head = world.chain_head()
    answers = _race(world, "food", "POST", "/v1/cases", world.submit_body(), key())
    assert {r.status_code for r in answers} == {201}
    assert len({r.text for r in answers}) == 1
    assert len(world.commands_since(head)) == 1  # one command recorded


def test_concurrent_duplicate_steps_all_get_the_winners_answer(world: World) -> None:
    serial = world.submit()["serial"]
    world.as_("food").post(f"/v1/cases/{serial}/pre-review")
    answers = _race(world, "food", "POST", f"/v1/cases/{serial}/acceptance", None, key())
    assert {r.status_code for r in answers} == {200}, [r.text for r in answers]
    assert len({r.text for r in answers}) == 1


def test_concurrent_duplicate_domain_commands_record_once(world: World) -> None:
    body = {
        "kind": "enquiry",
        "channel": "online",
        "department": FOOD,
        "applicant_id": world.applicant,
        "summary": "食品经营许可需要哪些材料？",
    }
    head = world.chain_head()
    answers = _race(world, "food", "POST", "/v1/consultations", body, key())
    assert {r.status_code for r in answers} == {201}, [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    assert len(world.commands_since(head)) == 1


# --- error classes -------------------------------------------------------------------------


def test_an_unknown_serial_is_404(world: World) -> None:
    food = world.as_("food")
    for r in (
        food.get("/v1/cases/GZ-SCJG-20200101-999999"),
        food.post("/v1/cases/GZ-SCJG-20200101-999999/acceptance"),
        food.get("/v1/cases/not-a-serial"),
    ):
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM


def test_an_invalid_transition_is_409_with_the_current_state(world: World) -> None:
    serial = world.submit()["serial"]
    r = world.as_("food").post(f"/v1/cases/{serial}/close")
    body = r.json()
    assert r.status_code == 409 and body["state"] == "submitted" and body["rule"]


def test_a_rule_breach_is_422_with_its_rule(world: World) -> None:
    food = world.as_("food")
    serial = world.submit()["serial"]
    r = food.post(
        f"/v1/cases/{serial}/correction-requests",
        json={"materials": [{"code": "NOT-IN-GUIDE", "reason": "x"}]},
    )
    assert r.status_code == 422 and r.json()["rule"] and r.json()["field"], r.text
    r = food.post(f"/v1/cases/{serial}/withdrawal", json={"applicant_id": EMPTY, "reason": ""})
    assert r.status_code == 422 and r.json()["rule"], r.text


def test_validation_errors_name_the_field(world: World) -> None:
    r = world.as_("food").post("/v1/cases", json=world.submit_body(item_code="lower case"))
    body = r.json()
    assert r.status_code == 422 and body["errors"][0]["field"] == "item_code"
    r = world.as_("food").post(
        f"/v1/cases/{SERIAL}/correction-requests", json={"materials": [{"code": "X1"}]}
    )
    assert r.json()["errors"][0]["field"] == "materials.0.reason"
    r = world.as_("food").post(
        "/v1/cases", json=world.submit_body(), headers={"Idempotency-Key": "short"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "Idempotency-Key"


def test_a_blacklisted_applicant_is_403_with_the_end_date_and_appeal_route(world: World) -> None:
    blocked = world.register_applicant(resident_id("11010519491231003"))
    serial = world.submit(applicant=blocked)["serial"]
    r = world.as_("supervisor").post(
        "/v1/blacklist",
        json={
            "applicant_id": blocked,
            "ground": "false_materials",
            "facts": [serial],
            "details": "提交虚假材料",
        },
    )
    assert r.status_code == 201, r.text
    r = world.as_("food").post("/v1/cases", json=world.submit_body(applicant=blocked))
    body = r.json()
    assert r.status_code == 403, r.text
    assert body["until"] and body["appeal_route"] and body["rule"]
    r = world.as_("kiosk").post(
        f"/v1/blacklist/{blocked}/appeals", json={"reasons": "并非故意", "evidence": []}
    )
    assert r.status_code == 200, r.text
    # GZ16·22, PY·28: the appeal period runs from the notice's receipt, recorded by the office
    r = world.as_("supervisor").post(
        f"/v1/blacklist/{blocked}/notice-receipt", json={"received_on": "2000-01-01"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/invalid-blacklisting") and r.json()["field"] == "received_on"
    decided_on = r.json()["detail"].split("decision day ")[1][:10]  # the server's day
    r = world.as_("supervisor").post(
        f"/v1/blacklist/{blocked}/notice-receipt",
        json={"received_on": decided_on, "evidence": ["sha256:" + "ab" * 32]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["detail"]["appeal_due"] > decided_on


def test_a_department_without_a_seal_key_is_409(world: World) -> None:
    from tests.api.http_world import guide

    r = world.as_("stranger").post(
        "/v1/catalogue/items", json={"guide": guide("ZZ-NONE-X-001", "ZZ-NONE")}
    )
    assert r.status_code == 409 and r.json()["type"].endswith("department-not-enrolled")


def test_materials_are_checked_for_type_and_content(world: World) -> None:
    food = world.as_("food")
    r = food.post(
        "/v1/materials", files={"file": ("a.exe", b"MZ\x90\x00", "application/x-msdownload")}
    )
    assert r.status_code == 422 and r.json()["field"] == "media_type"
    r = food.post(
        "/v1/materials", files={"file": ("a.pdf", b"\x89PNG\r\n\x1a\nxx", "application/pdf")}
    )
    assert r.status_code == 422 and r.json()["field"] == "content"
    # uploads may exceed the 1 MiB default body limit, up to MAX_MATERIAL_BYTES
    r = food.post(
        "/v1/materials", files={"file": ("big.pdf", PDF + b"x" * (2 << 20), "application/pdf")}
    )
    assert r.status_code == 201, r.text
    huge = PDF + b"x" * (MAX_MATERIAL_BYTES + (128 << 10))
    r = food.post("/v1/materials", files={"file": ("huge.pdf", huge, "application/pdf")})
    assert r.status_code == 413 and r.json()["status"] == 413


def test_a_pdf_with_javascript_in_an_object_stream_is_refused_and_not_stored(
    world: World,
) -> None:
    from tests.hostile_files import javascript_in_object_stream_pdf

    data = javascript_in_object_stream_pdf()
    r = world.as_("food").post(
        "/v1/materials", files={"file": ("form.pdf", data, "application/pdf")}
    )
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["field"] == "file" and problem["rule"] == "GZ20·10, GZ20·25"
    assert problem["type"].endswith("active-content") and "/JavaScript" in problem["detail"]
    cited = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    body = world.submit_body()
    body["materials"][0].update(cited)
    head = world.chain_head()
    r = world.as_("food").post("/v1/cases", json=body)
    assert r.status_code == 422 and "was not uploaded" in r.json()["detail"]  # nothing stored
    # on PostgreSQL the write looked the material up (api.services): the same refusal
    assert r.json()["field"] == f"materials[{body['materials'][0]['code']}].sha256"
    assert world.chain_head() == head


# --- personal data -------------------------------------------------------------------------


def test_an_unmasked_applicant_read_needs_a_purpose_and_is_recorded(world: World) -> None:
    world.submit()  # food holds a case of the applicant (tests/api/test_http_personal_data.py)
    food = world.as_("food")
    masked = food.get(f"/v1/applicants/{world.applicant}").json()
    assert masked["unmasked"] is False and masked["name"] == "张*丰"
    r = food.get(f"/v1/applicants/{world.applicant}", params={"unmasked": "true"})
    assert r.status_code == 422 and r.json()["rule"] == "GZ20·25"
    head = world.chain_head()
    r = food.get(
        f"/v1/applicants/{world.applicant}",
        params={"unmasked": "true"},
        headers={"X-Purpose": quote("核对申请人身份（受理审查）")},
    )
    assert r.status_code == 200 and r.json()["name"] == "张三丰"
    entries = world.as_("auditor").get("/v1/audit/entries", params={"from": head + 1}).json()
    assert any("PersonalDataRead" in e["topic"] for e in entries["entries"])


def test_erasure_is_for_admins_and_destroys_the_data(world: World) -> None:
    gone = world.register_applicant(resident_id("11010519491231004"))
    r = world.as_("admin").post(f"/v1/applicants/{gone}/erasure", json={"reason": "依法删除"})
    assert r.status_code == 200, r.text
    read = world.as_("supervisor").get(f"/v1/applicants/{gone}").json()
    assert read["erased"] is True and read["name"] == "[erased]"


# --- domain commands -----------------------------------------------------------------------


def test_appointments_consultations_and_supervision_over_http(world: World) -> None:
    food, kiosk, supervisor = world.as_("food"), world.as_("kiosk"), world.as_("supervisor")
    r = food.post(
        "/v1/appointment-slots",
        json={
            "hall": "天河区政务服务中心",
            "service_item": ITEM,
            "starts_at": "2030-01-07T09:00:00+08:00",
            "ends_at": "2030-01-07T09:30:00+08:00",
            "capacity": 2,
        },
    )
    assert r.status_code == 201, r.text
    slot = r.json()["id"]
    r = kiosk.post(f"/v1/appointment-slots/{slot}/bookings", json={"applicant_id": world.applicant})
    assert r.status_code == 201, r.text
    booking = r.json()["id"]
    r = kiosk.post(f"/v1/appointment-slots/{slot}/bookings/{booking}/cancellation")
    assert r.status_code == 200, r.text
    assert world.as_("transport").post(f"/v1/appointment-slots/{slot}/no-shows").status_code == 404

    r = kiosk.post(
        "/v1/consultations",
        json={
            "kind": "complaint",
            "channel": "kiosk",
            "department": FOOD,
            "applicant_id": world.applicant,
            "summary": "窗口人员态度差",
        },
    )
    assert r.status_code == 201, r.text
    consultation = r.json()["id"]
    other = world.as_("transport").post(
        f"/v1/consultations/{consultation}/answer", json={"answer": "x"}
    )
    assert other.status_code == 404
    r = food.post(f"/v1/consultations/{consultation}/answer", json={"answer": "已核实并整改"})
    assert r.status_code == 200 and r.json()["detail"]["sealed"], r.text

    r = supervisor.post(
        "/v1/supervision/orders",
        json={"department": FOOD, "reason": "overdue", "details": "办件超期未办结"},
    )
    assert r.status_code == 201, r.text
    order = r.json()["id"]
    r = food.post(f"/v1/supervision/orders/{order}/answer", json={"answer": "已加快办理"})
    assert r.status_code == 200, r.text
    r = supervisor.post(f"/v1/supervision/orders/{order}/close", json={"conclusion": "整改到位"})
    assert r.status_code == 200, r.text


def test_openapi_documents_every_command_with_its_role(world: World) -> None:
    spec = world.as_("food").get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/v1/cases", "/v1/cases/{serial}", "/v1/cases/{serial}/correction-requests"):
        assert path in paths
    posts = {
        f"POST {path}": op.get("summary", "")
        for path, item in paths.items()
        for method, op in item.items()
        if method == "post" and not path.startswith(("/v1/audit", "/v1/archive", "/v1/kiosk"))
    }
    assert len(posts) >= 45
    assert not [p for p, summary in posts.items() if "role" not in summary]


@pytest.mark.parametrize("path", ["/v1/cases/{s}/acceptance", "/v1/cases/{s}/close"])
def test_admin_acts_with_the_cases_department_key(world: World, path: str) -> None:
    serial = world.submit()["serial"]
    r = world.as_("admin").post(path.format(s=serial))
    assert r.status_code in (200, 409), r.text
