"""A ledger built the way ``caseledger serve`` opens it (keystore, services), with closed
cases, a registered kiosk, anchoring to a real node, and the trust policy beside the ledger.

Used by the tests that drive a real ``caseledger serve`` (and a real Chromium) and the CLI.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from anchors.node.client import NodeClient
from anchors.worker import AnchoringWorker, open_ledger_anchors
from api.bootstrap import Runtime, enrol_actor, open_runtime
from api.services import build_services
from api.settings import Settings
from kiosk.codes import SECRET_NAME, verification_code
from kiosk.fleet import FleetService
from ledger.domain.catalogue import ServiceItem
from ledger.domain.departments import Department
from ledger.domain.keys import KeyRole
from ledger.storage.urls import parse_storage_url
from tests.api.conftest import PASSPHRASE
from tests.ledger.case_world import (
    FOOD,
    FOOD_DEPT,
    FOOD_FILING,
    ISSUER,
    FakeClock,
    _register,
    food_filing_guide,
    food_guide,
    shanghai,
)

KIOSK_ID = "GZ-TH-001"


@dataclass
class ServedWorld:
    db: str
    keystore: Path
    policy: Path
    closed: str
    certificate: str
    certificate_id: str
    open_case: str
    codes: dict[str, str]


def _anchor(runtime: Runtime, node_url: str, policy_path: Path) -> None:
    anchors = open_ledger_anchors(
        runtime.ledger, runtime.settings.storage, runtime.keystore, runtime.platform_signer()
    )
    worker = AnchoringWorker(anchors, NodeClient(node_url, timeout=5.0))
    worker.anchor_once()
    worker.anchor_once()
    policy_path.write_bytes(worker.policy().to_json())
    close = getattr(anchors.tree.store, "close", None)
    if close is not None:
        close()


def anchor_again(db: str, keystore: Path, node_url: str) -> None:
    """Anchor what was written since (e.g. by a running server), from a second process view."""
    settings = Settings(parse_storage_url(db), keystore, PASSPHRASE)
    runtime = open_runtime(settings)
    try:
        anchors = open_ledger_anchors(
            runtime.ledger, runtime.settings.storage, runtime.keystore, runtime.platform_signer()
        )
        AnchoringWorker(anchors, NodeClient(node_url, timeout=5.0)).anchor_once()
    finally:
        runtime.close()


def build_served_world(tmp: Path, node_url: str) -> ServedWorld:
    from ledger.services.domain_services import CertificateService

    db = f"sqlite:///{tmp / 'ledger.sqlite3'}"
    keystore = tmp / "keys"
    runtime = open_runtime(Settings(parse_storage_url(db), keystore, PASSPHRASE), migrate=True)
    try:
        platform = runtime.platform_signer()
        seal = enrol_actor(runtime, f"dept:{FOOD_DEPT}", KeyRole.DEPARTMENT, FOOD_DEPT)
        portal = enrol_actor(runtime, "portal:gd", KeyRole.APPLICANT_PORTAL)
        kiosk = enrol_actor(runtime, f"kiosk:{KIOSK_ID}", KeyRole.KIOSK)
        runtime.ledger.save_signed(
            Department.register(FOOD_DEPT, "广州市市场监督管理局", "广州", seal.key_id),
            signer=platform,
        )
        runtime.ledger.save_signed(ServiceItem.publish(food_guide()), signer=seal)
        runtime.ledger.save_signed(ServiceItem.publish(food_filing_guide()), signer=seal)
        clock = FakeClock(shanghai(dt.date(2026, 9, 28)))
        services = build_services(runtime, clock=clock)
        enterprise = _register(
            services.vault,
            "enterprise",
            ("uscc", "914403001922038216"),
            "广州某某餐饮有限公司",
            "advanced",
        )
        runtime.ledger.save_signed(enterprise, signer=portal)
        cases = services.cases

        def submit(item_code: str = FOOD) -> str:
            from tests.ledger.case_world import SubmittedMaterial

            materials = []
            for code in ("APPLICATION", "FLOOR-PLAN"):
                ref = cases.upload(b"%PDF-1.7\n" + code.encode() + b"\n%%EOF", "application/pdf")
                materials.append(
                    SubmittedMaterial.e_copy(code, ref.sha256, ref.size, ref.media_type)
                )
            from ledger.domain.certificate_id import make_certificate_id

            licence = make_certificate_id(ISSUER + "001", ISSUER, "2026000123", 1)
            materials.append(SubmittedMaterial.e_certificate("LICENCE", licence, "营业执照"))
            materials.append(SubmittedMaterial.paper("ORIGINAL", "SF1234567890"))
            serial = cases.submit(
                item_code=item_code,
                applicant_id=enterprise.id,
                channel="web",
                handling_mode="online_pre_acceptance",
                materials=materials,
                delivery="online",
                signer=portal,
            ).serial
            cases.pass_pre_review(serial, signer=seal)
            cases.record_material_delivery(serial, "courier", waybill="SF1234567890", signer=seal)
            cases.accept(serial, signer=seal)
            return serial

        closed = submit(FOOD_FILING)  # a filing: the result document is the whole result
        cases.approve(closed, signer=seal)
        cases.issue_result_document(closed, signer=seal)
        cases.dispatch(closed, "online", signer=seal)
        cases.sign_off(closed, signer=portal)
        cases.close(closed, signer=seal)

        certificate = submit()
        cases.approve(certificate, signer=seal)
        case = cases.case(certificate)
        issued = CertificateService(runtime.ledger).issue(
            signer=seal,
            department=FOOD_DEPT,
            case_id=case.id,
            case_serial=certificate,
            case_department=FOOD_DEPT,
            case_decided=True,
            holder=case.applicant_id,
            type_code=ISSUER + "001",
            issuer_code=ISSUER,
            serial="2026000888",
            content={"名称": "广州某某餐饮有限公司", "经营项目": "热食类食品制售"},
            at=clock.now(),
            case=case,
        )
        cases.dispatch(certificate, "online", signer=seal)
        cases.sign_off(certificate, signer=portal)
        cases.close(certificate, signer=seal)

        open_case = submit()
        FleetService(runtime.ledger).register(
            kiosk_id=KIOSK_ID,
            location="广州市天河区政务服务中心一楼大厅",
            key_id=kiosk.key_id,
            department=FOOD_DEPT,
            at=shanghai(dt.date(2026, 9, 1)),
            signer=platform,
        )
        policy = tmp / "trust-policy.json"
        _anchor(runtime, node_url, policy)
        secret = runtime.keystore.secret(SECRET_NAME)
        codes = {s: verification_code(secret, s) for s in (closed, certificate, open_case)}
        return ServedWorld(
            db, keystore, policy, closed, certificate, issued.identifier, open_case, codes
        )
    finally:
        runtime.close()
