"""The kiosk fleet's use cases: register, announce suspensions, faults, resume, retire.

Layer: kiosk application service over ``ledger.domain.kiosks`` (STYLE habit 4). Each command checks
the signer — a registered, current key (``LedgerApplication.check_signer``) of an operator
role (platform, department, supervisor), or for faults and resumptions also the kiosk's own
key — runs the aggregate command and saves it as ONE signed command (DESIGN invariant 2). A
refused command raises and records nothing. Time is passed in (aware, stored UTC).
RULES.md "Kiosks" (PY·21); the rules themselves live in ``ledger.domain.kiosks``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Final

from eventsourcing.application import AggregateNotFoundError

from ledger.domain.keys import KeyRole
from ledger.domain.kiosks import CardSwallowPlan, Cause, InvalidKiosk, Kiosk, NoticeRule
from ledger.domain.signer import Signer
from ledger.services.application import KeyNotUsable, LedgerApplication

__all__ = ["OPERATOR_ROLES", "FleetService"]

OPERATOR_ROLES: Final = (KeyRole.PLATFORM, KeyRole.DEPARTMENT, KeyRole.SUPERVISOR)
"""Who registers kiosks, announces suspensions and retires them: the operating authority."""


class FleetService:
    """Commands on the kiosk fleet of one ledger."""

    def __init__(self, ledger: LedgerApplication) -> None:
        self.ledger = ledger

    def kiosk(self, kiosk_id: str) -> Kiosk | None:
        """The kiosk with this id, or None."""
        try:
            found: Any = self.ledger.repository.get(Kiosk.id_for(kiosk_id))
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Kiosk) else None

    def _get(self, kiosk_id: str) -> Kiosk:
        found = self.kiosk(kiosk_id)
        if found is None:
            raise InvalidKiosk("kiosk_id", f"no kiosk {kiosk_id} in the fleet")
        return found

    def _operator(self, signer: Signer) -> None:
        self.ledger.check_signer(signer, *OPERATOR_ROLES)

    def _operator_or_self(self, signer: Signer, kiosk: Kiosk) -> None:
        key = self.ledger.check_signer(signer, *OPERATOR_ROLES, KeyRole.KIOSK)
        if key.role == KeyRole.KIOSK.value and key.key_id != kiosk.key_id:
            raise KeyNotUsable(
                f"key {signer.key_id.hex()} is not the key of kiosk {kiosk.kiosk_id}"
            )

    def register(
        self,
        *,
        kiosk_id: str,
        location: str,
        key_id: bytes,
        department: str,
        at: dt.datetime,
        signer: Signer,
        functions: Iterable[str] | None = None,
    ) -> Kiosk:
        """Register a kiosk with its location and its (already registered) kiosk key, offering
        ``functions`` (default: query, print and apply; a single one is refused, GZ20·14)."""
        self._operator(signer)
        key = self.ledger.actor_key(key_id)
        if key is None or key.revoked or key.role != KeyRole.KIOSK.value:
            raise InvalidKiosk("key_id", "must be a registered, current kiosk key")
        if self.kiosk(kiosk_id) is not None:
            raise InvalidKiosk("kiosk_id", f"kiosk {kiosk_id} is already registered")
        kiosk = Kiosk.register(
            kiosk_id=kiosk_id,
            location=location,
            key_id=key_id,
            department=department,
            at=at,
            functions=functions,
        )
        self.ledger.save_signed(kiosk, signer=signer)
        return kiosk

    def plan_suspension(
        self,
        kiosk_id: str,
        *,
        start: dt.datetime,
        end: dt.datetime,
        notified_at: dt.datetime,
        reason: str,
        signer: Signer,
    ) -> NoticeRule:
        """Record a planned suspension's notice (PY·21); returns the rule it fell under."""
        self._operator(signer)
        kiosk = self._get(kiosk_id)
        rule = kiosk.plan_suspension(start=start, end=end, notified_at=notified_at, reason=reason)
        self.ledger.save_signed(kiosk, signer=signer)
        return rule

    def report_fault(
        self, kiosk_id: str, *, at: dt.datetime, cause: Cause | str, note: str = "", signer: Signer
    ) -> None:
        kiosk = self._get(kiosk_id)
        self._operator_or_self(signer, kiosk)
        kiosk.report_fault(at=at, cause=cause, note=note)
        self.ledger.save_signed(kiosk, signer=signer)

    def resume(self, kiosk_id: str, *, at: dt.datetime, signer: Signer) -> None:
        kiosk = self._get(kiosk_id)
        self._operator_or_self(signer, kiosk)
        kiosk.resume(at=at)
        self.ledger.save_signed(kiosk, signer=signer)

    def reregister(
        self, kiosk_id: str, *, location: str, key_id: bytes, at: dt.datetime, signer: Signer
    ) -> None:
        self._operator(signer)
        kiosk = self._get(kiosk_id)
        kiosk.reregister(location=location, key_id=key_id, at=at)
        self.ledger.save_signed(kiosk, signer=signer)

    def retire(self, kiosk_id: str, *, at: dt.datetime, reason: str, signer: Signer) -> None:
        self._operator(signer)
        kiosk = self._get(kiosk_id)
        kiosk.retire(at=at, reason=reason)
        self.ledger.save_signed(kiosk, signer=signer)

    # -- card swallowing (吞卡, PY·21(二)) ------------------------------------------------------

    def publish_emergency_contact(
        self, kiosk_id: str, plan: CardSwallowPlan, *, at: dt.datetime, signer: Signer
    ) -> None:
        """Publish the kiosk's card-swallow emergency contact and resolution limits."""
        self._operator(signer)
        kiosk = self._get(kiosk_id)
        kiosk.publish_emergency_contact(plan, at=at)
        self.ledger.save_signed(kiosk, signer=signer)

    def record_card_swallow(self, kiosk_id: str, *, at: dt.datetime, signer: Signer) -> int:
        """A card was swallowed (by the kiosk itself or an operator); its number."""
        kiosk = self._get(kiosk_id)
        self._operator_or_self(signer, kiosk)
        number = kiosk.record_card_swallow(at=at)
        self.ledger.save_signed(kiosk, signer=signer)
        return number

    def resolve_card_swallow(
        self, kiosk_id: str, number: int, *, at: dt.datetime, how: str, signer: Signer
    ) -> bool:
        """The swallowed card was given back; whether that was past the limit."""
        kiosk = self._get(kiosk_id)
        self._operator_or_self(signer, kiosk)
        late = kiosk.resolve_card_swallow(number, at=at, how=how)
        self.ledger.save_signed(kiosk, signer=signer)
        return late
