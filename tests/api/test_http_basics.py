"""The HTTP surface every caller meets: health, auth, roles, problem details, limits, metrics.

Against a real ``caseledger serve`` on loopback, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from tests.api.conftest import Served

PROBLEM = "application/problem+json"


def test_health_and_readiness_answer_without_a_token(served: Served) -> None:
    with served.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz").json()
        assert ready["status"] == "ready" and ready["chain_head"] >= 1


def test_no_token_or_a_forged_token_is_401_problem(served: Served) -> None:
    with served.client() as c:
        r = c.get("/v1/audit/entries")
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
    assert r.json()["title"] == "Unauthorized"
    forged = served.token("auditor")[:-4] + "AAAA"
    with served.client(forged) as c:
        assert c.get("/v1/audit/entries").status_code == 401


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("admin", True),
        ("auditor", True),
        ("supervisor", True),
        ("archivist", True),
        ("kiosk", False),
    ],
)
def test_the_audit_log_is_for_auditing_roles_only(served: Served, role: str, allowed: bool) -> None:
    with served.client(served.token(role)) as c:
        r = c.get("/v1/audit/entries", params={"from": 1, "limit": 5})
    assert r.status_code == (200 if allowed else 403)
    if allowed:
        assert r.json()["entries"][0]["sequence"] == 1
    else:
        assert r.headers["content-type"] == PROBLEM


def test_a_department_token_may_not_read_the_audit_log(served: Served) -> None:
    with served.client(served.token("department", "GZ-SCJG")) as c:
        assert c.get("/v1/audit/entries").status_code == 403


def test_validation_errors_name_the_field(served: Served) -> None:
    with served.client(served.token("auditor")) as c:
        r = c.get("/v1/audit/entries", params={"from": 0})
    body = r.json()
    assert r.status_code == 422 and body["errors"][0]["field"] == "from"


def test_an_oversized_body_is_413(served: Served) -> None:
    with served.client(served.token("admin")) as c:
        r = c.post("/v1/audit/entries", content=b"x" * (2 << 20))
    assert r.status_code == 413 and r.json()["status"] == 413


def test_metrics_are_prometheus_text(served: Served) -> None:
    with served.client() as c:
        c.get("/healthz")
        text = c.get("/metrics").text
    assert "caseledger_chain_head" in text and "caseledger_http_requests_total{" in text


def test_openapi_describes_the_api(served: Served) -> None:
    with served.client() as c:
        spec = c.get("/openapi.json").json()
    assert "/v1/audit/entries" in spec["paths"]
