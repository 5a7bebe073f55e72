"""A ledger with every actor of issue 4's flows: two departments, a supervisor, the portal
and a kiosk, each with a registered key, and the application services over it.

Real storage (a SQLite file or a PostgreSQL schema), real Ed25519 keys, real calendar.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from ledger.chain.signing import Ed25519Signer
from ledger.chain.verification import verify_chain
from ledger.domain.city_rules import GUANGZHOU
from ledger.domain.keys import KeyRole
from ledger.services.application import LedgerApplication
from ledger.services.domain_services import (
    AppointmentService,
    BlacklistService,
    CertificateService,
    ConsultationService,
    RatingService,
    SupervisionService,
)
from tests.helpers import bootstrapped, enrol

ISSUER = "11440100MB2C92400X"
"""The issuing department (its code is its 18-character USCC)."""
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


@dataclass
class World:
    app: LedgerApplication
    platform: Ed25519Signer
    issuer: Ed25519Signer
    user: Ed25519Signer
    other: Ed25519Signer
    supervisor: Ed25519Signer
    portal: Ed25519Signer
    kiosk: Ed25519Signer

    @property
    def certificates(self) -> CertificateService:
        return CertificateService(self.app)

    @property
    def ratings(self) -> RatingService:
        return RatingService(self.app)

    @property
    def appointments(self) -> AppointmentService:
        return AppointmentService(self.app, unregistered=GUANGZHOU)  # GZ20·9's three grounds

    @property
    def consultations(self) -> ConsultationService:
        return ConsultationService(self.app)

    @property
    def blacklist(self) -> BlacklistService:
        return BlacklistService(self.app)

    @property
    def supervision(self) -> SupervisionService:
        return SupervisionService(self.app)

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


def new_world(url: str) -> World:
    app, platform = bootstrapped(url)

    def key(actor: str, role: KeyRole, department: str = "") -> Ed25519Signer:
        return enrol(app, platform, actor, role, department)

    return World(
        app=app,
        platform=platform,
        issuer=key(f"dept:{ISSUER}", KeyRole.DEPARTMENT, ISSUER),
        user=key(f"dept:{USER}", KeyRole.DEPARTMENT, USER),
        other=key(f"dept:{OTHER}", KeyRole.DEPARTMENT, OTHER),
        supervisor=key("supervisor:zwfw", KeyRole.SUPERVISOR, OFFICE),
        portal=key("portal", KeyRole.APPLICANT_PORTAL),
        kiosk=key("kiosk:TH-001", KeyRole.KIOSK),
    )


@contextmanager
def world_at(url: str) -> Iterator[World]:
    world = new_world(url)
    try:
        yield world
    finally:
        world.app.close()
