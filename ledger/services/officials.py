"""Officials and delegations: appointing and managing them, and checking their authority.

Layer: ledger services. :class:`OfficialService` records the administrators' decisions
(appoint, change roles, move, suspend, reinstate, let leave; grant and withdraw the window's
delegation), each signed by an administrator of the department concerned or by the platform
key. :class:`Authority` is what every command asks before acting when it is signed by an
official's key: the official's current standing from the chain, the role the command needs
(``ledger.domain.officials.COMMAND_ROLES`` for case commands, ``DOMAIN_COMMAND_ROLES`` for the
other domain services), the case's department or a delegation in force.
A refusal records nothing of the command but records the attempt itself (``ActionRefused``,
signed by the official who tried): supervision evidence (FZ·26(五)).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from ledger.domain.keys import ActorKey, KeyRole
from ledger.domain.officials import (
    COMMAND_ROLES,
    DOMAIN_COMMAND_ROLES,
    Delegation,
    Official,
    OfficialRole,
    Standing,
    authority,
    staff_code_of,
)
from ledger.domain.rules import AuthorityExceeded, InvalidOfficial, UnknownOfficial
from ledger.domain.signer import Signer
from ledger.errors import LedgerError
from ledger.services.application import LedgerApplication

__all__ = ["Authority", "OfficialNotFound", "OfficialService"]

REFUSAL_RETRIES = 3


class OfficialNotFound(LedgerError, LookupError):
    """No official has that staff code (HTTP 404 at the edge)."""


class Authority:
    """Decides whether an official's key may take a command, from the chain's current state."""

    def __init__(self, ledger: LedgerApplication):
        self.ledger = ledger

    def official(self, staff_code: str) -> Official | None:
        try:
            found: Any = self.ledger.repository.get(Official.id_for(staff_code))
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Official) else None

    def standing(self, key: ActorKey) -> Standing | None:
        code = staff_code_of(key.actor)
        official = None if code is None else self.official(code)
        return None if official is None else official.standing()

    def delegated(self, department: str, window: str) -> bool:
        try:
            found: Any = self.ledger.reference(Delegation.id_for(department, window))
        except AggregateNotFoundError:
            return False
        return isinstance(found, Delegation) and found.active

    def require(
        self,
        key: ActorKey,
        signer: Signer,
        role: OfficialRole,
        department: str,
        *,
        command: str,
        subject: str = "",
        supervised: str | None = None,
    ) -> Standing | None:
        """Refuse (and record the attempt) unless ``key``'s official may act in ``role`` for
        ``department`` (over ``supervised``, for a supervision step). Keys other than
        officials' are not checked here (their role is)."""
        if key.role != KeyRole.OFFICIAL.value:
            return None
        standing = self.standing(key)
        delegated = {}
        if standing is not None and standing.department != department:
            window = standing.department
            delegated[(department, window)] = self.delegated(department, window)
        reason = authority(standing, role, department, delegated, supervised)
        if reason is None:
            return standing
        if standing is None:
            raise UnknownOfficial(f"official: key {signer.key_id.hex()}: {reason}")
        self._record_refusal(standing.staff_code, signer, command, department, subject, reason)
        raise AuthorityExceeded(f"official: {reason} ({command} on {subject or department})")

    def require_command(
        self, key: ActorKey, signer: Signer, command: str, department: str, subject: str
    ) -> Standing | None:
        """:meth:`require` with the role :data:`COMMAND_ROLES` names for a case command."""
        role, _ = COMMAND_ROLES[command]
        return self.require(key, signer, role, department, command=command, subject=subject)

    def require_domain(
        self,
        key: ActorKey,
        signer: Signer,
        command: str,
        department: str | None,
        subject: str = "",
        supervised: str | None = None,
    ) -> Standing | None:
        """:meth:`require` with the role :data:`DOMAIN_COMMAND_ROLES` names for a command of
        the other domain services; ``department`` None: the official's own (a supervision
        step that names no office is taken in the office the official belongs to)."""
        role, _ = DOMAIN_COMMAND_ROLES[command]
        if department is None:
            standing = self.standing(key) if key.role == KeyRole.OFFICIAL.value else None
            department = "" if standing is None else standing.department
        return self.require(
            key,
            signer,
            role,
            department,
            command=command,
            subject=subject or department,
            supervised=supervised,
        )

    def _record_refusal(
        self,
        staff_code: str,
        signer: Signer,
        command: str,
        department: str,
        subject: str,
        reason: str,
    ) -> None:
        for _ in range(REFUSAL_RETRIES):
            official = self.official(staff_code)
            if official is None:
                return
            official.record_refusal(command, department, subject, reason)
            try:
                self.ledger.save_signed(official, signer=signer)
            except IntegrityError:
                continue
            return


class OfficialService:
    """The department administrator's decisions about officials and the window's delegation."""

    def __init__(self, ledger: LedgerApplication):
        self.ledger = ledger
        self.authority = Authority(ledger)

    def get(self, staff_code: str) -> Official:
        official = self.authority.official(staff_code)
        if official is None:
            raise OfficialNotFound(f"staff_code: no official {staff_code}")
        return official

    def _admin(self, by: Signer, *departments: str, command: str) -> None:
        """``by`` is the platform key or an active administrator of one of ``departments``."""
        key = self.ledger.check_signer(by, KeyRole.PLATFORM, KeyRole.OFFICIAL)
        if key.role == KeyRole.PLATFORM.value:
            return
        failure: AuthorityExceeded | None = None
        for department in departments:
            try:
                self.authority.require(
                    key, by, OfficialRole.ADMIN, department, command=command, subject=department
                )
                return
            except AuthorityExceeded as exc:
                failure = exc
        assert failure is not None
        raise failure

    def appoint(
        self,
        staff_code: str,
        department: str,
        roles: Iterable[str],
        display_name: str,
        *,
        by: Signer,
    ) -> Official:
        """Appoint an official; their personal key is registered (actor ``official:<code>``)
        through the ordinary key registration, by the platform key."""
        official = Official.appoint(staff_code, department, roles, display_name)
        if self.authority.official(staff_code) is not None:
            raise InvalidOfficial("staff_code", f"{staff_code} is already appointed")
        self._admin(by, department, command="appoint")
        self.ledger.save_signed(official, signer=by)
        return official

    def _decide(
        self,
        staff_code: str,
        command: str,
        by: Signer,
        decide: Callable[[Official], None],
        department: str | None = None,
    ) -> Official:
        """Apply one administrator's decision to an official and record it, signed by ``by``
        (an administrator of ``department``, default the official's own)."""
        official = self.get(staff_code)
        self._admin(by, department or official.department, command=command)
        decide(official)
        self.ledger.save_signed(official, signer=by)
        return official

    def change_roles(self, staff_code: str, roles: Iterable[str], *, by: Signer) -> Official:
        roles = list(roles)
        return self._decide(staff_code, "change_roles", by, lambda o: o.change_roles(roles))

    def move(
        self, staff_code: str, department: str, roles: Iterable[str], *, by: Signer
    ) -> Official:
        """Move an official (the receiving department's administrator decides: an
        administrator may not place people, or themselves, in another department)."""
        roles = list(roles)
        return self._decide(staff_code, "move", by, lambda o: o.move(department, roles), department)

    def suspend(self, staff_code: str, reason: str, *, by: Signer) -> Official:
        return self._decide(staff_code, "suspend", by, lambda o: o.suspend(reason))

    def reinstate(self, staff_code: str, *, by: Signer) -> Official:
        return self._decide(staff_code, "reinstate", by, lambda o: o.reinstate())

    def leave(self, staff_code: str, reason: str, *, by: Signer) -> Official:
        return self._decide(staff_code, "leave", by, lambda o: o.leave(reason))

    def grant_delegation(
        self, department: str, window: str, basis: str, *, by: Signer
    ) -> Delegation:
        """The department delegates pre-review, receipt and consultation to ``window``."""
        try:
            found: Any = self.ledger.repository.get(Delegation.id_for(department, window))
        except AggregateNotFoundError:
            found = None
        self._admin(by, department, command="grant_delegation")
        if isinstance(found, Delegation):
            found.regrant(basis)
            delegation = found
        else:
            delegation = Delegation.grant(department, window, basis)
        self.ledger.save_signed(delegation, signer=by)
        return delegation

    def withdraw_delegation(
        self, department: str, window: str, reason: str, *, by: Signer
    ) -> Delegation:
        try:
            found: Any = self.ledger.repository.get(Delegation.id_for(department, window))
        except AggregateNotFoundError:
            raise InvalidOfficial(
                "delegation", f"{department} never delegated to {window}"
            ) from None
        self._admin(by, department, command="withdraw_delegation")
        found.withdraw(reason)
        self.ledger.save_signed(found, signer=by)
        assert isinstance(found, Delegation)
        return found
