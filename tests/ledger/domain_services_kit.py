"""The six domain services over a test world's ledger, shared by the domain world
(``domain_world``) and the case world (``case_world``), so neither imports the other."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from ledger.chain.signing import Ed25519Signer
from ledger.domain.appointments import AppointmentSlot
from ledger.domain.city_rules import GUANGZHOU
from ledger.services.application import LedgerApplication
from ledger.services.domain_services import (
    AppointmentService,
    BlacklistService,
    CertificateService,
    ConsultationService,
    RatingService,
    SupervisionService,
    appointment_fact,
)


class DomainServices:
    """The domain services over a world's ledger ``app`` (built per use: they keep no state).
    Shared by this world and the case world of ``case_world``."""

    app: LedgerApplication
    portal: Ed25519Signer
    platform: Ed25519Signer

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

    def booked_slot(
        self,
        signer: Ed25519Signer,
        department: str,
        applicant: UUID,
        start: dt.datetime,
        booked_at: dt.datetime,
        *,
        hall: str = "TH-HALL",
        length: dt.timedelta = dt.timedelta(hours=1),
        service: AppointmentService | None = None,
    ) -> tuple[AppointmentSlot, UUID]:
        """``department`` opens a slot of ``length`` at ``start`` in ``hall`` (through
        ``service``, by default this world's) and ``applicant`` books it through the portal."""
        service = service or self.appointments
        slot = service.open_slot(
            signer=signer,
            department=department,
            hall=hall,
            service_item="440100-001",
            starts_at=start,
            ends_at=start + length,
            capacity=2,
        )
        return slot, service.book(slot.id, signer=self.portal, applicant_id=applicant, at=booked_at)

    def missed_appointment(
        self,
        signer: Ed25519Signer,
        department: str,
        applicant: UUID,
        start: dt.datetime,
        booked_at: dt.datetime,
    ) -> str:
        """``department`` opens a one-hour slot at ``start``, ``applicant`` books it through
        the portal and misses it; the fact that counts towards a blacklisting (NH·25)."""
        slot, booking = self.booked_slot(signer, department, applicant, start, booked_at)
        self.appointments.record_no_shows(
            slot.id, signer=self.platform, at=start + dt.timedelta(hours=2)
        )
        return appointment_fact(slot.id, booking)
