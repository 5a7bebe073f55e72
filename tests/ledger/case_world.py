"""A small real world for case tests: a migrated ledger (SQLite or PostgreSQL), departments
with registered seal keys, a portal and a kiosk key, two published service items, applicants
whose personal data is sealed in a real vault, a blob store and a settable clock.

Everything is real (keys, signatures, storage); only time is simulated.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from ledger.chain.signing import Ed25519Signer
from ledger.domain.applicants import Applicant
from ledger.domain.calendar import to_shanghai
from ledger.domain.cases import Case, SubmittedMaterial
from ledger.domain.catalogue import FormSpec, Guide, HandlingMode, MaterialSpec, ServiceItem
from ledger.domain.certificate_id import make_certificate_id
from ledger.domain.certificates import Certificate
from ledger.domain.departments import Department
from ledger.domain.identity import parse_credential
from ledger.domain.keys import KeyRole
from ledger.domain.personal_data import PersonalData
from ledger.services.application import LedgerApplication
from ledger.services.cases import CaseService, Outcome
from ledger.services.domain_services import CertificateService
from ledger.storage.materials import DirectoryBlobStore
from ledger.storage.privacy import PersonalDataVault
from ledger.storage.subject_keys import SQLiteSubjectKeyStore
from tests.helpers import bootstrapped
from tests.helpers import enrol as enrol_key
from tests.ledger.domain_services_kit import DomainServices

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
FOOD = "11440100MB2C92400X-FOOD-01"
CARD = "11440100MB2C92400X-CARD-02"
FOOD_DEPT = "GZ-SCJG"
CARD_DEPT = "GZ-GA"
LICENCE_TYPE = "营业执照"
ISSUER = "11440100MB2C92400X"  # the issuing department's code, as in the e-certificate id


def shanghai(day: dt.date, hour: int = 10) -> dt.datetime:
    """An instant at ``hour`` o'clock in Shanghai on ``day`` (as the clock would return it)."""
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI).astimezone(dt.UTC)


class FakeClock:
    """A clock the test sets; it never moves on its own."""

    def __init__(self, now: dt.datetime) -> None:
        self._now = now

    def now(self) -> dt.datetime:
        return self._now

    def set(self, day: dt.date, hour: int = 10) -> None:
        self._now = shanghai(day, hour)

    @property
    def today(self) -> dt.date:
        return to_shanghai(self._now).date()


def food_guide(**changes: Any) -> Guide:
    """食品经营许可: 20 promised working days, one window-only original (sent as paper online)."""
    values: dict[str, Any] = {
        "name": "食品经营许可",
        "basic_code": "00012307800Y",
        "implementation_code": FOOD,
        "item_type": "01",
        "department": FOOD_DEPT,
        "legal_basis": ("《中华人民共和国食品安全法》第三十五条", "《食品经营许可管理办法》"),
        "acceptance_conditions": "具有与经营的食品品种、数量相适应的经营场所",
        "materials": (
            MaterialSpec("APPLICATION", "食品经营许可申请书", True),
            MaterialSpec("LICENCE", "营业执照", True, (LICENCE_TYPE,)),
            MaterialSpec("FLOOR-PLAN", "经营场所平面图", True),
            MaterialSpec("HEALTH", "从业人员健康证明", False),
            MaterialSpec("ORIGINAL", "法定代表人签字的承诺书原件", True, online=False),
        ),
        "window_steps": ("受理", "审查", "决定", "送达"),
        "online_steps": ("网上申请", "审查", "决定"),
        "statutory_limit_days": 20,
        "promised_limit_days": 20,
        "handling_modes": (HandlingMode.ONLINE_PRE_ACCEPTANCE, HandlingMode.WINDOW),
        "result_type": "certificate",
        "result_sample": "食品经营许可证（样本）",
        "hotline": "12345",
        "retention": "D30",
        "forms": (
            FormSpec(
                "APPLICATION-FORM",
                "食品经营许可申请书",
                blank_form="https://gdzwfw.example/forms/food-apply.docx",
                sample_text="https://gdzwfw.example/forms/food-apply-sample.pdf",
            ),
        ),
        "full_online_exception": "《食品经营许可管理办法》第十五条：承诺书原件须签字提交",
    }
    values.update(changes)
    return Guide(**values)


FOOD_FILING = "11440100MB2C92400X-FOOD-03"
"""食品经营许可信息备案: the food guide with a filing receipt (result type "other")."""


def food_filing_guide() -> Guide:
    """食品经营许可信息备案, whose result is a document, not an e-certificate: its cases close
    with the result document alone (GZ16·15 binds certificate results only)."""
    name = "食品经营许可信息备案"
    return food_guide(name=name, implementation_code=FOOD_FILING, result_type="other")


def publish_food_filing(world: World) -> None:
    world.ledger.save_signed(ServiceItem.publish(food_filing_guide()), signer=world.food)


def card_guide() -> Guide:
    """居民身份证换领: fully online, a fee of 20 yuan."""
    return Guide(
        name="居民身份证换领",
        basic_code="00012200300Y",
        implementation_code=CARD,
        item_type="20",
        department=CARD_DEPT,
        legal_basis=("《中华人民共和国居民身份证法》",),
        acceptance_conditions="居民身份证有效期满或者登记项目有误",
        materials=(MaterialSpec("PHOTO", "数码照片回执", True),),
        window_steps=("受理", "审核", "制证", "发证"),
        online_steps=("网上申请", "审核", "发证"),
        statutory_limit_days=60,
        promised_limit_days=15,
        fee=Decimal("20"),
        fee_basis="《居民身份证工本费标准》",
        handling_modes=(HandlingMode.FULL_ONLINE, HandlingMode.WINDOW),
        result_type="certificate",
        result_sample="居民身份证（样本）",
        hotline="12345",
        retention="D10",
        forms=(
            FormSpec(
                "CARD-FORM",
                "居民身份证申领登记表",
                blank_form="https://gdzwfw.example/forms/id-card.pdf",
                sample_text="https://gdzwfw.example/forms/id-card-sample.pdf",
            ),
        ),
    )


@dataclass
class World(DomainServices):
    url: str
    ledger: LedgerApplication
    cases: CaseService
    clock: FakeClock
    vault: PersonalDataVault
    platform: Ed25519Signer
    portal: Ed25519Signer
    kiosk: Ed25519Signer
    seals: dict[str, Ed25519Signer]
    person: Applicant
    basic_person: Applicant
    enterprise: Applicant
    blacklisted: set[UUID] = field(default_factory=set)

    @property
    def food(self) -> Ed25519Signer:
        return self.seals[FOOD_DEPT]

    @property
    def card(self) -> Ed25519Signer:
        return self.seals[CARD_DEPT]

    def head(self) -> int:
        head = self.ledger.chain.chain_head()
        return 0 if head is None else head.sequence

    def case(self, serial: str) -> Case:
        return self.cases.case(serial)

    def licence(self) -> SubmittedMaterial:
        cert = make_certificate_id(ISSUER + "001", ISSUER, "2026000123", 1)
        return SubmittedMaterial.e_certificate("LICENCE", cert, LICENCE_TYPE)

    def copy(self, code: str, text: str = "") -> SubmittedMaterial:
        ref = self.cases.upload(
            b"%PDF-1.7\n" + (text or code).encode() + b"\n%%EOF", "application/pdf"
        )
        return SubmittedMaterial.e_copy(code, ref.sha256, ref.size, ref.media_type)

    def full_food_materials(self) -> list[SubmittedMaterial]:
        return [
            self.copy("APPLICATION"),
            self.licence(),
            self.copy("FLOOR-PLAN"),
            SubmittedMaterial.paper("ORIGINAL", "SF1234567890"),
        ]

    def submit_food(
        self,
        materials: Sequence[SubmittedMaterial] | None = None,
        *,
        channel: str = "web",
        signer: Ed25519Signer | None = None,
        applicant: Applicant | None = None,
        delivery: str = "online",
        handling_mode: str | None = None,
        **kwargs: Any,
    ) -> Outcome:
        return self.cases.submit(
            item_code=kwargs.pop("item_code", FOOD),
            applicant_id=(applicant or self.enterprise).id,
            channel=channel,
            handling_mode=handling_mode
            or ("online_pre_acceptance" if channel != "window" else "window"),
            materials=self.full_food_materials() if materials is None else materials,
            delivery=delivery,
            signer=signer or (self.food if channel == "window" else self.portal),
            **kwargs,
        )

    def submit_card(self, **kwargs: Any) -> Outcome:
        return self.cases.submit(
            item_code=CARD,
            applicant_id=self.person.id,
            channel="app",
            handling_mode="full_online",
            materials=[self.copy("PHOTO", "photo receipt 440106")],
            delivery="courier",
            signer=self.portal,
            **kwargs,
        )

    def to_accepted(self, serial: str) -> None:
        """Pre-review passed, paper original delivered, accepted."""
        self.cases.pass_pre_review(serial, signer=self.food)
        self.cases.record_material_delivery(
            serial, "courier", waybill="SF1234567890", signer=self.food
        )
        self.cases.accept(serial, signer=self.food)

    def issue_certificate(self, case_serial: str, /, **fields: Any) -> Certificate:
        """The case's department issues an e-certificate from the approved case, now.

        ``fields`` override the certificate's own fields (``holder``, the case's applicant;
        ``type_code``, ``issuer_code``, ``serial`` and ``content``, a food licence)."""
        case = self.case(case_serial)
        own: dict[str, Any] = {
            "holder": case.applicant_id,
            "type_code": ISSUER + "002",
            "issuer_code": ISSUER,
            "serial": "2026000456",
            "content": {"licence": "食品经营许可证", "valid_until": "2031-09-27"},
        }
        return CertificateService(self.ledger).issue(
            signer=self.seals[case.department],
            department=case.department,
            case_id=case.id,
            case_serial=case.serial,
            case_department=case.department,
            case_decided=case.approved,
            at=self.clock.now(),
            case=case,
            **(own | fields),
        )

    @property
    def app(self) -> LedgerApplication:  # type: ignore[override]
        """The ledger, under the name :class:`DomainServices` reads."""
        return self.ledger

    def to_delivered(self, serial: str) -> None:
        """From accepted: approved, result document issued, and the e-certificate too when the
        guide's result is a certificate (no dispatch before it, GZ16·15), delivered online and
        signed off."""
        self.cases.approve(serial, signer=self.food)
        self.cases.issue_result_document(serial, signer=self.food)
        if self.case(serial).awaits_certificate:
            self.issue_certificate(serial, serial=re.sub(r"[^0-9A-Z]", "", serial.upper())[-12:])
        self.cases.dispatch(serial, "online", signer=self.food)
        self.cases.sign_off(serial, signer=self.portal)

    def to_closed(self, serial: str) -> None:
        """From accepted: delivered (``to_delivered``), then closed by the food department."""
        self.to_delivered(serial)
        self.cases.close(serial, signer=self.food)


def _register(
    vault: PersonalDataVault, kind: str, credential: tuple[str, str], name: str, level: str
) -> Applicant:
    return Applicant.register(
        vault,
        kind=kind,
        credential=parse_credential(*credential),
        personal=PersonalData(name, "13800138000", "广州市天河区天河路1号"),
        level=level,
        method=None if level == "none" else "face",
    )


def build_world(url: str, tmp: Path, *, start: dt.date = dt.date(2026, 9, 28)) -> World:
    """Open a fresh ledger at ``url`` and populate it (everything signed, everything real)."""
    ledger, platform = bootstrapped(url)

    def enrol(actor: str, role: KeyRole, department: str = "") -> Ed25519Signer:
        return enrol_key(ledger, platform, actor, role, department)

    seals = {
        code: enrol(f"dept:{code}", KeyRole.DEPARTMENT, code) for code in (FOOD_DEPT, CARD_DEPT)
    }
    portal = enrol("portal:gd", KeyRole.APPLICANT_PORTAL)
    kiosk = enrol("kiosk:GZ-TH-001", KeyRole.KIOSK)
    for code, name in ((FOOD_DEPT, "广州市市场监督管理局"), (CARD_DEPT, "广州市公安局")):
        ledger.save_signed(
            Department.register(code, name, "广州", seals[code].key_id), signer=platform
        )
    ledger.save_signed(ServiceItem.publish(food_guide()), signer=seals[FOOD_DEPT])
    ledger.save_signed(ServiceItem.publish(card_guide()), signer=seals[CARD_DEPT])

    store = SQLiteSubjectKeyStore(tmp / f"subject-keys-{secrets.token_hex(4)}.sqlite3")
    store.migrate()
    vault = PersonalDataVault(store, kek=os.urandom(32), index_key=os.urandom(32))
    person = _register(
        vault, "natural_person", ("resident_id", "11010519491231002X"), "张三", "advanced"
    )
    basic = _basic(vault)
    enterprise = _register(
        vault, "enterprise", ("uscc", "914403001922038216"), "广州某某餐饮有限公司", "advanced"
    )
    ledger.save_signed(person, basic, enterprise, signer=portal)

    clock = FakeClock(shanghai(start))
    blacklisted: set[UUID] = set()

    def is_blacklisted(applicant_id: UUID, on: dt.date) -> tuple[bool, dt.date | None, str]:
        if applicant_id in blacklisted:
            return True, on + dt.timedelta(days=90), "12345 热线或原决定机关申诉"
        return False, None, ""

    cases = CaseService(
        ledger,
        clock=clock,
        seals=seals.__getitem__,
        vault=vault,
        blobs=DirectoryBlobStore(tmp / f"materials-{secrets.token_hex(4)}"),
        is_blacklisted=is_blacklisted,
    )
    return World(
        url=url,
        ledger=ledger,
        cases=cases,
        clock=clock,
        vault=vault,
        platform=platform,
        portal=portal,
        kiosk=kiosk,
        seals=seals,
        person=person,
        basic_person=basic,
        enterprise=enterprise,
        blacklisted=blacklisted,
    )


@contextmanager
def opened_world(url: str, tmp: Path) -> Iterator[World]:
    """``build_world``, its ledger closed again afterwards (for fixtures)."""
    world = build_world(url, tmp)
    try:
        yield world
    finally:
        world.ledger.close()


def _basic(vault: PersonalDataVault) -> Applicant:
    return _register(
        vault, "natural_person", ("resident_id", "110105198001010016"), "李四", "basic"
    )


Step = Callable[[World, str], Any]
