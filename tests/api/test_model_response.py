"""``api.http.model_response``: a plain ``def`` endpoint sends its response model without
FastAPI's second validation (a thread hand-off), byte for byte as the ``response_model`` path
does, and the route's OpenAPI schema is unchanged — checked against FastAPI itself and on the
progress GET of a real ``caseledger serve`` (the small app is served by uvicorn on loopback
too)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, Field

from api.http.model_response import model_response
from api.http.schemas import CasePublic
from tests.api.conftest import Served, free_port
from tests.api.http_world import World, _setup


class Inner(BaseModel):
    at: str
    amount: float


class Outer(BaseModel):
    serial: str = Field(alias="serialNumber")
    name: str
    steps: list[Inner]
    note: str | None = None


MODEL = Outer(serialNumber="S-1", name="食品经营许可", steps=[Inner(at="2026-12-07", amount=1.5)])


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/framework", response_model=Outer)
    def framework() -> Outer:
        return MODEL

    @app.get("/lean", response_model=Outer)
    def lean() -> object:
        return model_response(MODEL)

    return app


@contextmanager
def _on_loopback(app: FastAPI) -> Iterator[httpx.Client]:
    """``app`` served by uvicorn on a loopback port (in a thread), and a client of it."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def test_the_body_and_headers_are_those_of_the_response_model_path() -> None:
    with _on_loopback(_app()) as client:
        framework, lean = client.get("/framework"), client.get("/lean")
    assert lean.status_code == framework.status_code == 200
    assert lean.content == framework.content
    assert lean.headers["content-type"] == framework.headers["content-type"]
    assert lean.json()["serialNumber"] == "S-1"  # by alias, as FastAPI sends it


def test_the_openapi_schema_still_names_the_response_model() -> None:
    with _on_loopback(_app()) as client:
        spec = client.get("/openapi.json").json()
    ok = {p: spec["paths"][p]["get"]["responses"]["200"] for p in ("/framework", "/lean")}
    assert ok["/lean"] == ok["/framework"]
    assert ok["/lean"]["content"]["application/json"]["schema"]["$ref"].endswith("/Outer")


def test_the_progress_get_sends_a_case_public_and_documents_it(served: Served) -> None:
    world: World = _setup(served)
    serial = world.submit()["serial"]
    with served.client(world.tokens["food"]) as c:
        r = c.get(f"/v1/cases/{serial}")
        spec = c.get("/openapi.json").json()
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    sent = CasePublic.model_validate_json(r.content)
    assert r.content == sent.model_dump_json(by_alias=True).encode()
    ok = spec["paths"]["/v1/cases/{serial}"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/CasePublic")
