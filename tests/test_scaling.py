"""Sharding by jurisdiction (DESIGN "Scale", docs/SCALING.md), rehearsed on one machine.

Three district ledgers — two SQLite files and one PostgreSQL schema — each with its own
chain, origin and keys, anchor to the same consortium node; each verifies on its own, and a
checkpoint of one district never verifies as another's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from anchors.anchored_verify import collect_anchors, verify_against_anchors
from anchors.errors import AnchorError
from ledger.chain.verification import verify_chain
from tests.anchors.fixtures import Anchored, wire
from tests.anchors.processes import NodeProcess
from tests.helpers import new_ledger

pytestmark = pytest.mark.slow


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeProcess]:
    with NodeProcess(tmp_path / "node").start() as process:
        yield process


def test_district_ledgers_anchor_to_one_node_and_stay_separate(
    tmp_path: Path, node: NodeProcess, pg_schema_url: str
) -> None:
    urls = [
        f"sqlite:///{tmp_path / 'tianhe.sqlite3'}",
        f"sqlite:///{tmp_path / 'nanhai.sqlite3'}",
        pg_schema_url,
    ]
    districts: list[Anchored] = []
    try:
        for i, url in enumerate(urls):
            led = new_ledger(url)
            for _ in range(i + 2):
                led.note(lines=3)
            districts.append(wire(led, node.url))
        for d in districts:
            d.worker.anchor_once()
        origins = {d.anchors.origin for d in districts}
        assert len(origins) == 3  # one chain and one log origin per district
        checkpoints = []
        for d in districts:
            assert verify_chain(d.ledger.app.chain).ok
            log = d.anchors.anchor_log()
            assert log is not None and log.size >= 1
            checkpoints.append(log.checkpoint)
            anchors, _ = collect_anchors([log.checkpoint], d.worker.policy())
            report = verify_against_anchors(d.ledger.app.chain, anchors, tree=d.anchors.tree)
            assert report.ok, report.failure
        # A district's trust policy accepts its own checkpoint and no other district's.
        policy = districts[0].worker.policy()
        accepted, ignored = collect_anchors(checkpoints, policy)
        assert [c.checkpoint.origin for c in accepted] == [districts[0].anchors.origin]
        assert ignored == 2
        with pytest.raises(AnchorError):
            verify_against_anchors(districts[0].ledger.app.chain, [])
    finally:
        for d in districts:
            d.close()
