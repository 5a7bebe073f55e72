"""Officials taking a department's or the supervision office's step outside the case commands.

Layer: ledger services. The e-certificate, rating, appointment, consultation, blacklist,
supervision, credit and red-light services (``ledger.services.domain_services._Service`` and
its subclasses) accept two kinds of signer for a department's or an office's step:

- the department's seal key (部门电子印章) or the office's supervisor key, acting for its own
  department or office (:class:`~ledger.domain.rules.NotInDepartmentScope` otherwise) — a
  system acting for the department as a whole;
- an official's personal key (actor ``official:<staff code>``), which must hold the role
  :data:`~ledger.domain.officials.DOMAIN_COMMAND_ROLES` names for the command, in that
  department or office, at that moment — decided by the one
  :func:`~ledger.domain.officials.authority` the case commands and verification use; a
  refusal raises :class:`~ledger.domain.rules.AuthorityExceeded` and records the attempt on
  the official's record (FZ·26(二)(五)), as for the case commands.

A step that issues a sealed record (an e-certificate version, a sealed answer, a blacklisting
notice) is still sealed by the department's seal key or the office's key when an official
takes it (``seals(code)`` gives the current one), so the record shows both the seal and, in
the chain, the person who signed the command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from ledger.domain.departments import Department
from ledger.domain.keys import ActorKey, KeyRole
from ledger.domain.rules import DecisionNotSealed
from ledger.domain.signer import Signer
from ledger.services.application import KeyNotUsable, LedgerApplication
from ledger.services.officials import Authority

__all__ = ["Acting", "Seals"]

Seals = Callable[[str], Signer]
"""The current seal signer of a department (``dept:<code>``) or office (``supervisor:<code>``)."""


class Acting:
    """The authority check of an official's step and the seal of its records."""

    def __init__(self, app: LedgerApplication, seals: Seals | None = None) -> None:
        self.app = app
        self.seals = seals
        self.authority = Authority(app)

    def seal(self, key: ActorKey, signer: Signer, code: str, role: KeyRole) -> Signer:
        """Who seals the step's record: the signer itself when it is the seal key, else (an
        official signed) the current seal of ``code`` — a ``role`` key of that department
        or office (and the department's registered e-seal, when it is registered)."""
        if key.role != KeyRole.OFFICIAL.value:
            return signer
        if self.seals is None:
            raise DecisionNotSealed(f"seal: no seal of {code} is at hand for an official's step")
        seal = self.seals(code)
        try:
            found: ActorKey | None = self.app.check_signer(seal, role)
        except KeyNotUsable:
            found = None
        registered = self._department(code) if role is KeyRole.DEPARTMENT else None
        if (
            found is None
            or found.department != code
            or (registered is not None and registered.seal_key_id != seal.key_id)
        ):
            raise DecisionNotSealed(
                f"seal: key {seal.key_id.hex()} is not the current seal of {code}"
            )
        return seal

    def _department(self, code: str) -> Department | None:
        try:
            found: Any = self.app.reference(Department.id_for(code))
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Department) else None
