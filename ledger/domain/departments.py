"""Departments (事项实施主体 / 行政服务部门) and the seal key each signs with.

Layer: domain (standard library, ``eventsourcing.domain``, ``ledger.domain.rules``).
A department is found by its code (its 统一社会信用代码 or a local code): the
aggregate id is derived from it. Its current seal key id names the Ed25519 key
of its 电子印章 (GZ20·19); the key itself is registered and revoked in
``ledger.domain.keys`` — this aggregate only records which key the department uses now.
"""

from __future__ import annotations

import re
from typing import Final
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain.keyed import NaturalKey
from ledger.domain.rules import InvalidDepartment
from ledger.domain.signer import KEY_ID_SIZE
from ledger.domain.topics import keep_topics

__all__ = ["DEPARTMENT_CODE_PATTERN", "DEPARTMENT_NAMESPACE", "SEAL_KEY_ID_SIZE", "Department"]

DEPARTMENT_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/departments")
DEPARTMENT_CODE_PATTERN: Final = re.compile(r"[0-9A-Z-]{2,32}")
SEAL_KEY_ID_SIZE: Final = KEY_ID_SIZE
MAX_NAME: Final = 200


def _check_code(code: object) -> str:
    if not isinstance(code, str) or not DEPARTMENT_CODE_PATTERN.fullmatch(code):
        raise InvalidDepartment("code", "must be 2–32 characters of 0-9, A-Z and '-'")
    return code


def _check_text(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidDepartment(field, "must be non-empty text")
    if len(value) > MAX_NAME:
        raise InvalidDepartment(field, f"longer than {MAX_NAME} characters")
    return value


def _check_key_id(key_id: object) -> bytes:
    if not isinstance(key_id, bytes) or len(key_id) != SEAL_KEY_ID_SIZE:
        raise InvalidDepartment("seal_key_id", f"must be a {SEAL_KEY_ID_SIZE}-byte key id")
    return key_id


class Department(NaturalKey, Aggregate):
    """One department: code, name, city and the key id of its current 电子印章."""

    @staticmethod
    def create_id(code: str) -> UUID:
        return uuid5(DEPARTMENT_NAMESPACE, code)

    @classmethod
    def register(cls, code: str, name: str, city: str, seal_key_id: bytes) -> Department:
        """Register a department. Raises :class:`InvalidDepartment` naming the field."""
        return cls(
            code=_check_code(code),
            name=_check_text("name", name),
            city=_check_text("city", city),
            seal_key_id=_check_key_id(seal_key_id),
        )

    @event("Registered")
    def __init__(self, code: str, name: str, city: str, seal_key_id: bytes) -> None:
        self.code = code
        self.name = name
        self.city = city
        self.seal_key_id = seal_key_id

    @event("Renamed")
    def _renamed(self, name: str) -> None:
        self.name = name

    @event("SealKeyChanged")
    def _seal_key_changed(self, seal_key_id: bytes, previous_key_id: bytes) -> None:
        self.seal_key_id = seal_key_id

    def rename(self, name: str) -> None:
        """Rename the department (机构改革); refuses the name it already has."""
        _check_text("name", name)
        if name == self.name:
            raise InvalidDepartment("name", "is already the department's name")
        self._renamed(name)

    def change_seal_key(self, seal_key_id: bytes) -> None:
        """Use another seal key from now on (rotation); refuses the current one."""
        _check_key_id(seal_key_id)
        if seal_key_id == self.seal_key_id:
            raise InvalidDepartment("seal_key_id", "is already the department's seal key")
        self._seal_key_changed(seal_key_id, self.seal_key_id)


keep_topics(globals(), "ledger.departments")
