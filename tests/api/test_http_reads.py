"""The read contract over a real ``caseledger serve --node`` on SQLite and PostgreSQL: the case
progress, worklists, supervision warnings, indicators, certificates, ratings, the blacklist,
the audit checkpoint/policy/bundle, and the per-route body limit."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from ledger.domain.certificate_id import make_certificate_id
from tests.api import reads_world
from tests.api.conftest import ROOT
from tests.api.http_world import FOOD, ISSUER, PDF, TRANSPORT
from tests.api.reads_world import ReadsWorld

rworld = reads_world.rworld
PROBLEM = "application/problem+json"


def test_a_case_is_read_from_the_progress_view_within_scope(rworld: ReadsWorld) -> None:
    w = rworld.world
    progress = w.as_("food").get(f"/v1/cases/{rworld.open_serial}")
    assert progress.status_code == 200, progress.text
    body = progress.json()
    assert body["state"] == "accepted" and body["state_label"] == "已受理，办理中"
    assert [s["step"] for s in body["steps"]][:1] == ["Submitted"]
    assert body["next_action"]["code"] == "none"
    assert body["applicant"]["name"] == "张*丰"
    assert body["applicant"]["credential"] == "1101**********002X"
    assert body["guide_version"] == 1 and body["channel"] == "web"
    # another department's case is 404, a supervisor sees every case
    other = w.as_("food").get(f"/v1/cases/{rworld.other_serial}")
    assert other.status_code == 404 and other.headers["content-type"] == PROBLEM
    assert w.as_("supervisor").get(f"/v1/cases/{rworld.other_serial}").status_code == 200
    closed = w.as_("food").get(f"/v1/cases/{rworld.closed_serial}").json()
    assert closed["state"] == "closed" and closed["certificate_ids"] == [rworld.certificate]
    assert closed["closed_at"] and closed["decided_on"]


def test_a_department_reads_its_own_worklist_only(rworld: ReadsWorld) -> None:
    w = rworld.world
    food = w.as_("food")
    page = food.get(f"/v1/departments/{FOOD}/worklist").json()
    serials = [i["serial"] for i in page["items"]]
    assert rworld.open_serial in serials and rworld.closed_serial not in serials
    assert rworld.other_serial not in serials and page["counts"]["accepted"] >= 1
    assert food.get(f"/v1/departments/{TRANSPORT}/worklist").status_code == 404
    assert w.as_("supervisor").get(f"/v1/departments/{TRANSPORT}/worklist").json()["total"] == 1
    filtered = food.get(f"/v1/departments/{FOOD}/worklist", params={"state": "submitted"})
    assert all(i["state"] == "submitted" for i in filtered.json()["items"])
    assert (
        food.get(f"/v1/departments/{FOOD}/worklist", params={"state": "bogus"}).status_code == 422
    )
    first = food.get(f"/v1/departments/{FOOD}/worklist", params={"limit": 1}).json()
    assert len(first["items"]) == 1 and (first["next"] == 1) == (first["total"] > 1)
    # overdue is evaluated on the server's Shanghai date; another day is for supervisors
    late = dt.date.fromisoformat(rworld.due) + dt.timedelta(days=40)
    assert (
        food.get(f"/v1/departments/{FOOD}/worklist", params={"as_of": late.isoformat()}).status_code
        == 403
    )
    overdue = w.as_("supervisor").get(
        f"/v1/departments/{FOOD}/worklist", params={"overdue": "true", "as_of": late.isoformat()}
    )
    assert rworld.open_serial in [i["serial"] for i in overdue.json()["items"]]
    assert w.as_("kiosk").get(f"/v1/departments/{FOOD}/worklist").status_code == 403


def test_supervision_warnings_light_the_cases(rworld: ReadsWorld) -> None:
    w = rworld.world
    sup = w.as_("supervisor")
    now = sup.get("/v1/supervision/warnings")
    assert now.status_code == 200, now.text
    body = now.json()
    assert body["summary"]["open_cases"] >= 2 and body["summary"]["lights"]["green"] >= 1
    late = (dt.date.fromisoformat(rworld.due) + dt.timedelta(days=40)).isoformat()
    later = sup.get("/v1/supervision/warnings", params={"as_of": late}).json()
    assert later["today"] == late
    red = {c["serial"] for c in later["lights"]["items"] if c["light"] == "red"}
    assert {rworld.open_serial, rworld.other_serial} <= red
    assert rworld.open_serial in {c["serial"] for c in later["needing_orders"]}
    assert later["summary"]["by_department"][FOOD]["lights"]["red"] >= 1
    only = sup.get(
        "/v1/supervision/warnings", params={"as_of": late, "department": TRANSPORT, "light": "red"}
    ).json()
    assert [c["serial"] for c in only["lights"]["items"]] == [rworld.other_serial]
    for who in ("food", "auditor", "kiosk"):
        assert w.as_(who).get("/v1/supervision/warnings").status_code == 403
    assert w.as_("admin").get("/v1/supervision/warnings").status_code == 200
    assert sup.get("/v1/supervision/warnings", params={"light": "blue"}).status_code == 422


def test_indicators_per_department(rworld: ReadsWorld) -> None:
    w = rworld.world
    found = w.as_("food").get("/v1/indicators")
    assert found.status_code == 200, found.text
    mine = found.json()
    assert mine and {i["department"] for i in mine} == {FOOD}
    assert mine[0]["on_time"]["denominator"] >= 1
    assert w.as_("food").get("/v1/indicators", params={"department": TRANSPORT}).status_code == 404
    month = mine[0]["month"]
    assert w.as_("supervisor").get("/v1/indicators", params={"month": month}).status_code == 200
    assert w.as_("auditor").get("/v1/indicators").status_code == 200
    assert w.as_("food").get("/v1/indicators", params={"month": "2025-13"}).status_code == 422


def test_ratings_per_department(rworld: ReadsWorld) -> None:
    w = rworld.world
    assert w.as_("food").get("/v1/ratings/distribution").json() == []
    bad = w.as_("food").get(f"/v1/departments/{FOOD}/bad-ratings").json()
    assert bad["total"] == 0
    assert w.as_("food").get(f"/v1/departments/{TRANSPORT}/bad-ratings").status_code == 404


def test_certificate_status_and_identifier_errors(rworld: ReadsWorld) -> None:
    w = rworld.world
    for who in ("food", "kiosk", "auditor"):
        r = w.as_(who).get(f"/v1/certificates/{rworld.certificate}")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "valid" and r.json()["case_serial"] == rworld.closed_serial
    broken = rworld.certificate[:-1] + ("A" if rworld.certificate[-1] != "A" else "B")
    r = w.as_("kiosk").get(f"/v1/certificates/{broken}")
    assert r.status_code == 422 and r.json()["field"].startswith("certificate_id.")
    unknown = make_certificate_id(ISSUER + "001", ISSUER, "NEVERISSUED1", 1)
    assert w.as_("kiosk").get(f"/v1/certificates/{unknown}").status_code == 404
    assert w.as_("archivist").get(f"/v1/certificates/{unknown}").status_code == 403


def test_blacklist_lookup(rworld: ReadsWorld) -> None:
    w = rworld.world
    r = w.as_("kiosk").get(f"/v1/blacklist/{w.applicant}")
    assert r.status_code == 200, r.text
    assert r.json()["restricted"] is False and r.json()["restrictions"] == []
    assert set(r.json()["facts"]) and all(v == 0 for v in r.json()["facts"].values())
    assert w.as_("supervisor").get("/v1/blacklist/proposals").json() == []
    assert w.as_("auditor").get(f"/v1/blacklist/{w.applicant}").status_code == 403
    assert w.as_("kiosk").get("/v1/blacklist/not-a-uuid").status_code == 422


def test_checkpoint_policy_and_a_bundle_that_verifies_offline(rworld: ReadsWorld) -> None:
    w = rworld.world
    rworld.wait_anchored()
    auditor = w.as_("auditor")
    checkpoint = auditor.get("/v1/audit/checkpoint")
    assert checkpoint.status_code == 200, checkpoint.text
    assert checkpoint.headers["content-type"].startswith("text/plain")
    assert checkpoint.text.count("\n\n") == 1 and "\u2014 " in checkpoint.text  # signed note
    policy = auditor.get("/v1/audit/policy")
    assert policy.status_code == 200, policy.text
    bundle = auditor.get(f"/v1/audit/cases/{rworld.closed_serial}/bundle")
    assert bundle.status_code == 200, bundle.text
    (rworld.tmp / "policy.json").write_bytes(policy.content)
    (rworld.tmp / "case.bundle.json").write_bytes(bundle.content)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli",
            "bundle",
            "verify",
            str(rworld.tmp / "case.bundle.json"),
            "--policy",
            str(rworld.tmp / "policy.json"),
        ],
        cwd=ROOT,
        env=w.served.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for who in ("supervisor", "archivist", "admin"):
        assert w.as_(who).get("/v1/audit/checkpoint").status_code == 200
    for who in ("food", "kiosk"):
        assert w.as_(who).get("/v1/audit/policy").status_code == 403
    assert auditor.get("/v1/audit/cases/GZ-SCJG-20200101-999999/bundle").status_code == 404


def test_bodies_are_limited_per_route(rworld: ReadsWorld) -> None:
    food = rworld.world.as_("food")
    big = food.post(
        "/v1/materials", files={"file": ("big.pdf", PDF + b"x" * (3 << 20), "application/pdf")}
    )
    assert big.status_code == 201, big.text
    r = food.post(
        "/v1/cases",
        content=b"{" + b" " * (1 << 20) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM
