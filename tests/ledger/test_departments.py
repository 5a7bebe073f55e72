"""Departments (事项实施主体): found by code, renamed, and their seal key (GZ20·19) changed."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.chain.signing import Ed25519Signer
from ledger.chain.verification import verify_chain
from ledger.domain.departments import SEAL_KEY_ID_SIZE, Department
from ledger.domain.rules import InvalidDepartment
from ledger.domain.signer import KEY_ID_SIZE
from tests.ledger.conftest import DEPARTMENT_CODE, SignedLedger

SEAL = Ed25519Signer.generate().key_id


def test_department_is_registered_and_found_by_its_code() -> None:
    dept = Department.register(DEPARTMENT_CODE, "广州市市场监督管理局", "Guangzhou", SEAL)
    assert dept.id == Department.id_for(DEPARTMENT_CODE)
    assert (dept.code, dept.name, dept.city, dept.seal_key_id) == (
        DEPARTMENT_CODE,
        "广州市市场监督管理局",
        "Guangzhou",
        SEAL,
    )
    assert Department.id_for("FS-NH-01") != dept.id


@pytest.mark.parametrize("code", ["", "A", "gz-01", "GZ 01", "X" * 33, "广州", 12345])
def test_department_code_must_be_2_to_32_of_digits_capitals_and_dashes(code: Any) -> None:
    with pytest.raises(InvalidDepartment) as caught:
        Department.register(code, "某局", "Foshan", SEAL)
    assert caught.value.field == "code"
    assert caught.value.code == "invalid-department"


@pytest.mark.parametrize(
    ("field", "args"),
    [
        ("name", ("GZ-01", " ", "Guangzhou", SEAL)),
        ("city", ("GZ-01", "某局", "", SEAL)),
        ("seal_key_id", ("GZ-01", "某局", "Fuzhou", b"short")),
        ("seal_key_id", ("GZ-01", "某局", "Fuzhou", "0" * 16)),
    ],
)
def test_department_fields_are_validated_naming_the_field(field: str, args: Any) -> None:
    with pytest.raises(InvalidDepartment) as caught:
        Department.register(*args)
    assert caught.value.field == field


def test_seal_key_id_is_an_actor_key_id() -> None:
    assert SEAL_KEY_ID_SIZE == KEY_ID_SIZE


def test_department_is_renamed_but_not_to_its_own_name() -> None:
    dept = Department.register("FS-NH-01", "南海区行政服务中心", "Foshan", SEAL)
    dept.rename("南海区政务服务数据管理局")
    assert dept.name == "南海区政务服务数据管理局"
    with pytest.raises(InvalidDepartment) as caught:
        dept.rename("南海区政务服务数据管理局")
    assert caught.value.field == "name"


def test_seal_key_is_changed_to_a_new_key_only_GZ20_19() -> None:
    dept = Department.register("FZ-01", "福州市行政服务中心", "Fuzhou", SEAL)
    new = Ed25519Signer.generate().key_id
    dept.change_seal_key(new)
    assert dept.seal_key_id == new
    changed = dept.pending_events[-1]
    assert changed.previous_key_id == SEAL  # type: ignore[attr-defined]
    with pytest.raises(InvalidDepartment):
        dept.change_seal_key(new)


def test_department_history_is_stored_signed_and_replayed(ledger: SignedLedger) -> None:
    dept = Department.register(DEPARTMENT_CODE, "广州市市场监督管理局", "Guangzhou", SEAL)
    ledger.app.save_signed(dept, signer=ledger.platform)
    dept.rename("广州市市场监管局")
    dept.change_seal_key(ledger.department.key_id)
    ledger.app.save_signed(dept, signer=ledger.platform)

    again: Department = ledger.app.repository.get(Department.id_for(DEPARTMENT_CODE))
    assert isinstance(again, Department)
    assert again.name == "广州市市场监管局"
    assert again.seal_key_id == ledger.department.key_id
    assert again.version == 3
    assert verify_chain(ledger.app.chain).ok
