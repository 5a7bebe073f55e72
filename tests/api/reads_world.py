"""A served, anchored city for the read-contract tests: one anchor node and one real
``caseledger serve --node`` per backend and module, seeded over HTTP with an open case per
department and one case taken to closing with an e-certificate."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.anchors.processes import NodeProcess
from tests.api.conftest import start_server, stop_server
from tests.api.http_world import OTHER_ITEM, TRANSPORT, World, _setup, _storage


@dataclass
class ReadsWorld:
    world: World
    backend: str
    tmp: Path
    open_serial: str
    other_serial: str
    closed_serial: str
    certificate: str
    due: str

    def wait_anchored(self, timeout: float = 30.0) -> None:
        """Until the anchoring worker has anchored the whole log as it is now."""
        head = self.world.chain_head()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = self.world.as_("auditor").get("/readyz").json()
            if ready["anchoring"].get("anchored_size", 0) >= head:
                return
            time.sleep(0.2)
        raise AssertionError(f"not anchored to {head} within {timeout} s: {ready}")


def _seed(world: World) -> tuple[str, str, str, str, str]:
    food, transport = world.as_("food"), world.as_("transport")
    opened = world.submit()["serial"]
    for path in ("pre-review", "acceptance"):
        assert food.post(f"/v1/cases/{opened}/{path}").status_code == 200
    other = world.submit("transport", item_code=OTHER_ITEM)["serial"]
    for path in ("pre-review", "acceptance"):
        r = transport.post(f"/v1/cases/{other}/{path}")
        assert r.status_code == 200, r.text
    closed = world.submit()["serial"]
    for path, body in (
        ("pre-review", None),
        ("acceptance", None),
        ("approval", {"conclusion": "准予许可"}),
        ("result-document", {"title": "食品经营许可证"}),
    ):
        r = food.post(f"/v1/cases/{closed}/{path}", json=body)
        assert r.status_code == 200, (path, r.text)
    certificate = str(world.issue_certificate(closed, "JY14401060000002")["id"])
    for path, body in (
        ("dispatches", {"method": "online"}),
        ("sign-off", {"recipient": "applicant"}),
        ("close", None),
    ):
        r = food.post(f"/v1/cases/{closed}/{path}", json=body)
        assert r.status_code == 200, (path, r.text)
    due = str(food.get(f"/v1/cases/{opened}").json()["due"])
    return opened, other, closed, certificate, due


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def rworld(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReadsWorld]:
    yield from _reads_world(request, tmp_path_factory)


@pytest.fixture(scope="module", params=["sqlite"])
def rworld_sqlite(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReadsWorld]:
    """The same city on SQLite only (for the browser checks)."""
    yield from _reads_world(request, tmp_path_factory)


def _reads_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReadsWorld]:
    yield from reads_world_in(str(request.param), tmp_path_factory.mktemp("reads"))


def reads_world_in(backend: str, tmp: Path) -> Iterator[ReadsWorld]:
    """The served city in ``tmp``. Whatever fails on the way (the node, the PostgreSQL schema,
    ``serve``, the seeding), everything started so far is stopped: each start is followed at
    once by its stop's registration."""
    with ExitStack() as started:
        node = NodeProcess(tmp / "node")
        started.callback(node.stop)
        node.start()
        storage = _storage(_Param(backend), tmp)  # type: ignore[arg-type]  (a request's .param)
        started.callback(_drain, storage)  # drops the PostgreSQL schema
        served = start_server(next(storage), tmp / "keys", "--node", node.url)
        started.callback(stop_server, served)
        world = _setup(served)
        seeded = _seed(world)
        yield ReadsWorld(world, backend, tmp, *seeded)


@dataclass(frozen=True)
class _Param:
    """What ``_storage`` reads of a fixture request: the backend."""

    param: str


def _drain(storage: Iterator[str]) -> None:
    for _ in storage:
        pass


__all__ = ["TRANSPORT", "ReadsWorld", "rworld", "rworld_sqlite"]
