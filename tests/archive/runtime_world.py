"""A ledger whose keys live in a real keystore (as ``caseledger`` opens it), with one closed and
one open case: for the CLI and HTTP tests, which open the ledger themselves."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from api.bootstrap import enrol_actor, open_runtime
from api.services import build_services
from api.settings import Settings
from ledger.domain.applicants import Applicant
from ledger.domain.cases import SubmittedMaterial
from ledger.domain.catalogue import ServiceItem
from ledger.domain.certificate_id import make_certificate_id
from ledger.domain.departments import Department
from ledger.domain.identity import parse_credential
from ledger.domain.keys import KeyRole
from ledger.domain.personal_data import PersonalData
from ledger.storage.urls import parse_storage_url
from tests.archive.world import JPEG, pdf, png
from tests.ledger.case_world import (
    FOOD,
    FOOD_DEPT,
    ISSUER,
    LICENCE_TYPE,
    FakeClock,
    food_guide,
    shanghai,
)

PASSPHRASE = "test passphrase for the keystore"


@dataclass(frozen=True)
class RuntimeWorld:
    db: str
    keystore: Path
    closed: str
    open: str


def build_runtime_world(db: str, keystore: Path) -> RuntimeWorld:
    settings = Settings(parse_storage_url(db), keystore, PASSPHRASE)
    runtime = open_runtime(settings, migrate=True)
    try:
        seal = enrol_actor(runtime, f"dept:{FOOD_DEPT}", KeyRole.DEPARTMENT, FOOD_DEPT)
        portal = enrol_actor(runtime, "portal:gd", KeyRole.APPLICANT_PORTAL)
        platform = runtime.platform_signer()
        ledger = runtime.ledger
        ledger.save_signed(
            Department.register(FOOD_DEPT, "广州市市场监督管理局", "广州", seal.key_id),
            signer=platform,
        )
        ledger.save_signed(ServiceItem.publish(food_guide()), signer=seal)
        services = build_services(runtime, clock=FakeClock(shanghai(dt.date(2026, 9, 28))))
        applicant = Applicant.register(
            services.vault,
            kind="enterprise",
            credential=parse_credential("uscc", "914403001922038216"),
            personal=PersonalData("广州某某餐饮有限公司", "13800138000", "广州市天河区天河路1号"),
            level="advanced",
            method="face",
        )
        ledger.save_signed(applicant, signer=portal)
        cases = services.cases

        def upload(code: str, data: bytes, media: str) -> SubmittedMaterial:
            ref = cases.upload(data, media)
            return SubmittedMaterial.e_copy(code, ref.sha256, ref.size, ref.media_type)

        def submit() -> str:
            return cases.submit(
                item_code=FOOD,
                applicant_id=applicant.id,
                channel="web",
                handling_mode="online_pre_acceptance",
                materials=[
                    upload("APPLICATION", pdf("application"), "application/pdf"),
                    SubmittedMaterial.e_certificate(
                        "LICENCE",
                        make_certificate_id(ISSUER + "001", ISSUER, "2026000123", 1),
                        LICENCE_TYPE,
                    ),
                    upload("FLOOR-PLAN", png(), "image/png"),
                    upload("HEALTH", JPEG, "image/jpeg"),
                    SubmittedMaterial.paper("ORIGINAL", "SF1234567890"),
                ],
                delivery="online",
                signer=portal,
            ).serial

        closed = submit()
        cases.pass_pre_review(closed, signer=seal)
        cases.record_material_delivery(closed, "courier", waybill="SF1234567890", signer=seal)
        cases.accept(closed, signer=seal)
        cases.disapprove(closed, ["经营场所不符合要求"], signer=seal)
        cases.dispatch(closed, "online", signer=seal)
        cases.sign_off(closed, signer=portal)
        cases.close(closed, signer=seal)
        still_open = submit()
    finally:
        runtime.close()
    return RuntimeWorld(db, keystore, closed, still_open)
