"""Personal data as the domain holds it: sealed fields, clear values, the erased marker.

Layer: ledger domain (standard library only). DESIGN invariant 5: aggregates hold
:class:`Sealed` fields, never clear text; sealing and opening (AES-GCM, per-subject keys) is
``ledger.storage.privacy``'s job. ``repr`` of :class:`PersonalData` masks every field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Final
from uuid import UUID

from ledger.domain.rules import InvalidApplicant
from ledger.errors import LedgerError

__all__ = ["ERASED", "Erased", "PersonalData", "PrivacyError", "Sealed", "check_field"]

FIELD_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,31}")


class PrivacyError(LedgerError):
    """Root of the personal-data errors."""


class Erased(Enum):
    """The marker read in place of personal data whose key was destroyed (已删除)."""

    ERASED = "erased"

    def __str__(self) -> str:
        return "[erased]"

    def __repr__(self) -> str:
        return "ERASED"


ERASED: Final = Erased.ERASED


@dataclass(frozen=True)
class Sealed:
    """One sealed field of one subject: ``0x01 ‖ nonce ‖ AES-GCM(ciphertext ‖ tag)``."""

    subject_id: UUID
    field: str
    ciphertext: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.subject_id, UUID):
            raise PrivacyError("subject_id: must be a UUID")
        check_field(self.field)
        if not isinstance(self.ciphertext, bytes):
            raise PrivacyError("ciphertext: must be bytes")

    def to_dict(self) -> dict[str, Any]:
        return {"subject_id": self.subject_id, "field": self.field, "ciphertext": self.ciphertext}

    @classmethod
    def from_dict(cls, data: object) -> Sealed:
        """Parse a stored sealed field; raises :class:`PrivacyError` naming the field."""
        if not isinstance(data, Mapping):
            raise PrivacyError("sealed: must be a map")
        for name in ("subject_id", "field", "ciphertext"):
            if name not in data:
                raise PrivacyError(f"sealed.{name}: missing")
        if set(data) != {"subject_id", "field", "ciphertext"}:
            raise PrivacyError("sealed: unknown fields")
        return cls(data["subject_id"], data["field"], data["ciphertext"])


_PHONE: Final = re.compile(r"\+?[0-9][0-9 -]{4,23}")
MAX_NAME: Final = 100
MAX_ADDRESS: Final = 300


def _mask(value: str | Erased | None) -> str:
    if value is None or isinstance(value, Erased):
        return repr(value)
    if len(value) <= 2:
        return "'" + "*" * len(value) + "'"
    return "'" + value[0] + "*" * (len(value) - 2) + value[-1] + "'"


@dataclass(frozen=True, repr=False)
class PersonalData:
    """The clear personal fields of one subject (姓名, 电话, 地址): input to sealing and what
    opening gives back, where an erased field reads :data:`ERASED`. ``repr`` masks them."""

    name: str | Erased
    phone: str | Erased | None = None
    address: str | Erased | None = None

    FIELDS: ClassVar[tuple[str, ...]] = ("name", "phone", "address")

    def __post_init__(self) -> None:
        """Raises :class:`~ledger.domain.rules.InvalidApplicant` naming the field."""
        if not isinstance(self.name, Erased):
            if not isinstance(self.name, str) or not self.name.strip():
                raise InvalidApplicant("name", "must be non-empty text")
            if len(self.name) > MAX_NAME:
                raise InvalidApplicant("name", f"longer than {MAX_NAME} characters")
        if (
            self.phone is not None
            and not isinstance(self.phone, Erased)
            and (not isinstance(self.phone, str) or not _PHONE.fullmatch(self.phone))
        ):
            raise InvalidApplicant("phone", "must be a telephone number (digits, '+', ' ', '-')")
        if self.address is not None and not isinstance(self.address, Erased):
            if not isinstance(self.address, str) or not self.address.strip():
                raise InvalidApplicant("address", "must be non-empty text when given")
            if len(self.address) > MAX_ADDRESS:
                raise InvalidApplicant("address", f"longer than {MAX_ADDRESS} characters")

    @property
    def erased(self) -> bool:
        return isinstance(self.name, Erased)

    def __repr__(self) -> str:
        return (
            f"PersonalData(name={_mask(self.name)}, phone={_mask(self.phone)}, "
            f"address={_mask(self.address)})"
        )


def check_field(field: object) -> str:
    if not isinstance(field, str) or not FIELD_PATTERN.fullmatch(field):
        raise PrivacyError("field: a field name is 1–32 characters of a-z, 0-9, '_'")
    return field
