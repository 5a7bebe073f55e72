"""A bounded schemathesis pass against ``/openapi.json`` of a real ``caseledger serve``, on
SQLite and PostgreSQL: every GET operation and a few POSTs, with an admin token, a fixed
derandomised seed and a handful of examples each — no 5xx, and every response conforms to
its documented status code, content type and schema.

Also here (the served city has no anchor node): the audit anchoring endpoints answer the
documented 503 ``no-node`` problem, the one server error the pass allows.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.api import http_world
from tests.api.http_world import World

schemathesis = pytest.importorskip("schemathesis")

world = http_world.world
MAX_EXAMPLES = int(os.environ.get("CASELEDGER_FUZZ_EXAMPLES", "10"))
"""Examples per operation (raise it for a longer local run)."""
POSTS = {"/v1/cases", "/v1/applicants", "/v1/consultations"}
"""POST operations fuzzed besides every GET (the rest are state transitions of one case)."""


def test_openapi_operations_answer_within_their_schema(world: World) -> None:
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    schema = schemathesis.openapi.from_url(f"{world.served.url}/openapi.json")
    headers = {"Authorization": f"Bearer {world.tokens['admin']}"}

    def not_a_server_error_but_no_node(ctx: Any, response: Any, case: Any) -> Any:
        """The documented 503 of the anchoring reads on a server with no anchor node is the
        answer they owe here; any other 5xx is an error."""
        if response.status_code == 503 and response.json().get("type", "").endswith("/no-node"):
            return None
        return not_a_server_error(ctx, response, case)

    checks = [
        not_a_server_error_but_no_node,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    tried: list[str] = []
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        method, path = operation.method.upper(), operation.path
        if method != "GET" and path not in POSTS:
            continue
        tried.append(f"{method} {path}")
        run = _runner(operation, world.served.url, headers, checks)
        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # report every operation's failures
            failures.append(f"{method} {path}: {str(exc)[:800]}")
    assert len(tried) >= 20 and len(calls) >= 3 * len(tried), (len(calls), tried)
    assert not failures, "\n\n".join(failures)


calls: list[int] = []


def _runner(operation: Any, base_url: str, headers: dict[str, str], checks: list[Any]) -> Any:
    from hypothesis import HealthCheck, given, settings

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        calls.append(1)
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=checks)

    return run


def test_anchoring_reads_without_a_node_say_that_no_node_is_configured(world: World) -> None:
    auditor = world.as_("auditor")
    serial = world.submit()["serial"]
    for path in ("/v1/audit/checkpoint", "/v1/audit/policy", f"/v1/audit/cases/{serial}/bundle"):
        r = auditor.get(path)
        assert r.json()["type"].endswith("/no-node"), r.text
        assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
        assert "no anchor node configured" in r.json()["detail"]
        assert "caseledger serve --node URL" in r.json()["detail"]
