"""Kiosk fixtures: one anchor node process per module, a kiosk world on it, and a real
``caseledger serve`` over a ledger prepared the way serve opens it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.anchors.processes import NodeProcess
from tests.api.conftest import Served, start_server, stop_server
from tests.kiosk.served import ServedWorld, build_served_world
from tests.kiosk.world import KioskWorld, build_kiosk_world


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    with NodeProcess(tmp_path_factory.mktemp("node")).start() as process:
        yield process


@pytest.fixture(scope="module")
def kw(tmp_path_factory: pytest.TempPathFactory, node: NodeProcess) -> Iterator[KioskWorld]:
    tmp = tmp_path_factory.mktemp("kiosk")
    with closing(build_kiosk_world(f"sqlite:///{tmp / 'ledger.sqlite3'}", tmp, node.url)) as world:
        yield world


@pytest.fixture(scope="module")
def served_world(tmp_path_factory: pytest.TempPathFactory, node: NodeProcess) -> ServedWorld:
    return build_served_world(tmp_path_factory.mktemp("served"), node.url)


@pytest.fixture(scope="module")
def server(served_world: ServedWorld) -> Iterator[Served]:
    served = start_server(served_world.db, served_world.keystore)
    try:
        yield served
    finally:
        stop_server(served)


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path
