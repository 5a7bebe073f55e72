"""A ledger with every actor of issue 4's flows: two departments, a supervisor, the portal
and a kiosk, each with a registered key, and the application services over it.

Real storage (a SQLite file or a PostgreSQL schema), real Ed25519 keys, real calendar.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from ledger.chain.signing import Ed25519Signer
from ledger.chain.verification import verify_chain
from ledger.domain.applicants import Applicant
from ledger.domain.cases import SubmittedMaterial
from ledger.domain.catalogue import ServiceItem
from ledger.domain.departments import Department
from ledger.domain.identity import parse_credential, resident_id_check_character
from ledger.domain.keys import KeyRole
from ledger.domain.personal_data import PersonalData
from ledger.services.application import LedgerApplication
from ledger.services.cases import CaseService
from ledger.storage.materials import DirectoryBlobStore
from ledger.storage.privacy import PersonalDataVault
from ledger.storage.subject_keys import SQLiteSubjectKeyStore
from tests.helpers import bootstrapped, enrol
from tests.ledger.case_world import food_guide
from tests.ledger.domain_services_kit import DomainServices

ISSUER = "11440100MB2C92400X"
"""The issuing department (its code is its 18-character USCC)."""
ITEM = ISSUER + "-FOOD-01"
"""ISSUER's service item (the food licence guide), under which the world's cases are made."""
USER = "11440100MB2C92411Y"
"""A using department."""
OTHER = "FS-NH-01"
OFFICE = "GZ-ZWFW"
"""The online-services management office (网上办事管理部门) the supervisor acts for."""
TYPE_CODE = ISSUER + "001"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def at(day: str, hour: int = 10) -> dt.datetime:
    """An aware instant on a Shanghai date (stored as UTC by the ledger)."""
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=SHANGHAI)


@dataclass(frozen=True)
class OwnCase:
    """A submitted case (办件) and its applicant: what a rating must match (GZ20·16)."""

    id: UUID
    serial: str
    applicant: UUID


@dataclass
class World(DomainServices):
    app: LedgerApplication
    platform: Ed25519Signer
    issuer: Ed25519Signer
    user: Ed25519Signer
    other: Ed25519Signer
    supervisor: Ed25519Signer
    portal: Ed25519Signer
    kiosk: Ed25519Signer
    vault: PersonalDataVault
    blobs: Path
    registered: list[UUID] = field(default_factory=list)

    def head(self) -> int:
        entry = self.app.chain.chain_head()
        return entry.sequence if entry else 0

    def verifies(self) -> bool:
        return verify_chain(self.app.chain).ok

    def refused(self, error: type[Exception], command: Callable[[], Any]) -> Exception:
        """Run ``command``, expect ``error``, and check nothing was recorded."""
        before = self.head()
        try:
            command()
        except error as exc:
            assert self.head() == before, "a refused command moved the chain head"
            return exc
        raise AssertionError(f"{error.__name__} was not raised")

    def issue(self, holder: UUID | None = None, serial: str = "0001", **content: Any) -> str:
        certificate = self.certificates.issue(
            signer=self.issuer,
            department=ISSUER,
            case_id=uuid4(),
            case_serial=f"GZ-{serial}",
            case_department=ISSUER,
            case_decided=True,
            holder=holder or uuid4(),
            type_code=TYPE_CODE,
            serial=serial,
            content=content or {"business_scope": "餐饮服务", "valid_until": "2030-12-31"},
            at=at("2025-09-29"),
        )
        return certificate.identifier

    def applicant(self, level: str = "advanced", kind: str = "natural_person") -> UUID:
        """Register an applicant at ``level`` (FZ·8) through the portal; its id."""
        number = len(self.registered) + 1
        if kind == "natural_person":
            first17 = f"11010519491231{number:03d}"
            credential = ("resident_id", first17 + resident_id_check_character(first17))
        else:  # the one enterprise of the world
            credential = ("uscc", "914403001922038216")
        applicant = Applicant.register(
            self.vault,
            kind=kind,
            credential=parse_credential(*credential),
            personal=PersonalData("申请人", "13800138000", "广州市天河区天河路1号"),
            level=level,
            method=None if level == "none" else "face",
        )
        self.app.save_signed(applicant, signer=self.portal)
        self.registered.append(applicant.id)
        return applicant.id

    def case(self, applicant: UUID | None = None) -> OwnCase:
        """A case of ISSUER's item submitted at its window by ``applicant`` (a new one if
        ``None``) on 29 September 2025."""
        applicant = applicant or self.applicant()
        cases = CaseService(
            self.app,
            clock=_Fixed(at("2025-09-29", 9)),
            seals={ISSUER: self.issuer}.__getitem__,
            vault=self.vault,
            blobs=DirectoryBlobStore(self.blobs),
        )
        outcome = cases.submit(
            item_code=ITEM,
            applicant_id=applicant,
            channel="window",
            handling_mode="window",
            materials=[SubmittedMaterial.paper("ORIGINAL")],
            delivery="on_site",
            signer=self.issuer,
        )
        return OwnCase(cases.case(outcome.serial).id, outcome.serial, applicant)


class _Fixed:
    def __init__(self, now: dt.datetime) -> None:
        self._now = now

    def now(self) -> dt.datetime:
        return self._now


def new_world(url: str, tmp: Path) -> World:
    app, platform = bootstrapped(url)

    def key(actor: str, role: KeyRole, department: str = "") -> Ed25519Signer:
        return enrol(app, platform, actor, role, department)

    issuer = key(f"dept:{ISSUER}", KeyRole.DEPARTMENT, ISSUER)
    app.save_signed(
        Department.register(ISSUER, "广州市市场监督管理局", "广州", issuer.key_id), signer=platform
    )
    guide = food_guide(implementation_code=ITEM, department=ISSUER)
    app.save_signed(ServiceItem.publish(guide), signer=issuer)
    store = SQLiteSubjectKeyStore(tmp / f"subject-keys-{secrets.token_hex(4)}.sqlite3")
    store.migrate()
    return World(
        app=app,
        platform=platform,
        issuer=issuer,
        user=key(f"dept:{USER}", KeyRole.DEPARTMENT, USER),
        other=key(f"dept:{OTHER}", KeyRole.DEPARTMENT, OTHER),
        supervisor=key("supervisor:zwfw", KeyRole.SUPERVISOR, OFFICE),
        portal=key("portal", KeyRole.APPLICANT_PORTAL),
        kiosk=key("kiosk:TH-001", KeyRole.KIOSK),
        vault=PersonalDataVault(store, kek=os.urandom(32), index_key=os.urandom(32)),
        blobs=tmp / f"materials-{secrets.token_hex(4)}",
    )


@contextmanager
def world_at(url: str) -> Iterator[World]:
    with tempfile.TemporaryDirectory(prefix="domain-world-") as tmp:
        world = new_world(url, Path(tmp))
        try:
            yield world
        finally:
            world.app.close()
