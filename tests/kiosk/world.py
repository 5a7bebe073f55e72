"""A small real world for kiosk tests: the case world (tests/ledger/case_world.py) with a
closed case whose result is a sealed result document, a closed case whose result is an
e-certificate, anchoring to a real node process, and a kiosk service.

Everything is real (keys, seals, chain, cosigned checkpoints, blocks); only time is simulated.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from anchors.checkpoints import checkpoint_signer, ledger_origin
from anchors.node.client import NodeClient
from anchors.policy import TrustPolicy
from anchors.tree import PersistentTree, open_tree_store
from anchors.worker import AnchoringWorker, LedgerAnchors
from kiosk.printing import FontCache
from kiosk.service import KioskService
from ledger.domain.certificate_id import make_certificate_id
from ledger.storage.urls import parse_storage_url
from projections.progress import VaultMasker
from tests.ledger.case_world import (
    FOOD_FILING,
    ISSUER,
    World,
    build_world,
    publish_food_filing,
)

KIOSK_ID = "GZ-TH-001"


@dataclass
class KioskWorld:
    world: World
    worker: AnchoringWorker
    anchors: LedgerAnchors
    policy: TrustPolicy
    service: KioskService
    document_serial: str
    certificate_serial: str
    certificate_id: str

    def anchor(self) -> None:
        self.worker.anchor_once()
        self.worker.anchor_once()

    def close(self) -> None:
        self.worker.stop()
        close = getattr(self.anchors.tree.store, "close", None)
        if close is not None:
            close()
        self.world.ledger.close()


def closed_document_case(world: World) -> str:
    """A closed 食品经营许可信息备案 case: its result is the result document alone."""
    serial = world.submit_food(item_code=FOOD_FILING).serial
    world.to_accepted(serial)
    world.to_closed(serial)
    return serial


def closed_certificate_case(world: World, number: str = "2026000777") -> tuple[str, str]:
    serial = world.submit_food().serial
    world.to_accepted(serial)
    world.cases.approve(serial, signer=world.food)
    case = world.cases.case(serial)
    certificate = world.issue_certificate(
        serial,
        type_code=ISSUER + "001",
        serial=number,
        content={  # the keys the demo's departments use, and a department's own Chinese ones
            "holder": str(case.applicant_id),
            "item": case.item_name,
            "item_code": case.item_code,
            "case_serial": serial,
            "valid_from": "2026-09-28",
            "valid_until": "2031-09-27",
            "名称": "广州某某餐饮有限公司",
            "经营项目": "热食类食品制售",
        },
    )
    world.cases.dispatch(serial, "online", signer=world.food)
    world.cases.sign_off(serial, signer=world.portal)
    world.cases.close(serial, signer=world.food)
    assert certificate.identifier == make_certificate_id(ISSUER + "001", ISSUER, number, 1)
    return serial, certificate.identifier


def build_kiosk_world(url: str, tmp: Path, node_url: str) -> KioskWorld:
    world = build_world(url, tmp)
    publish_food_filing(world)
    document_serial = closed_document_case(world)
    certificate_serial, certificate_id = closed_certificate_case(world)
    store = open_tree_store(parse_storage_url(url))
    store.migrate()
    genesis = world.ledger.chain.select_entries(1, 1)[0]
    origin = store.set_meta_once("origin", ledger_origin("testcity", genesis.entry_hash))
    anchors = LedgerAnchors(
        world.ledger,
        PersistentTree(store),
        origin,
        checkpoint_signer(origin, os.urandom(32)),
        world.platform,
    )
    worker = AnchoringWorker(anchors, NodeClient(node_url, timeout=5.0))
    worker.anchor_once()
    policy = worker.policy()
    service = KioskService(
        world.ledger,
        policy,
        anchors.tree,
        world.platform,
        FontCache.default(),
        identity=VaultMasker(world.ledger.repository.get, world.vault),
    )
    return KioskWorld(
        world,
        worker,
        anchors,
        policy,
        service,
        document_serial,
        certificate_serial,
        certificate_id,
    )
