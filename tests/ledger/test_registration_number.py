"""Enterprises authenticate with their registration number (工商注册号) as well as the USCC
(GZ16·7, PY·7): 15 digits, check digit ISO 7064 MOD 11,10 (GS 15-2006); a malformed one is
refused naming the field and the reason."""

from __future__ import annotations

import pytest

from ledger.domain.applicants import Applicant
from ledger.domain.identity import (
    BadCharacter,
    CredentialKind,
    WrongCheckCharacter,
    WrongLength,
    parse_credential,
    registration_number_check_digit,
    validate_registration_number,
)
from ledger.domain.personal_data import PersonalData
from ledger.domain.rules import InvalidApplicant
from tests.ledger import test_case_lifecycle as lifecycle
from tests.ledger.case_world import World

world = lifecycle.world  # the lifecycle tests' fixture: a fresh SQLite world per test
EXAMPLE = "110108000000016"  # a Beijing (Haidian) registration number of the published form


def test_a_registration_number_has_15_digits_and_its_check_digit_GZ16_7_PY_7() -> None:
    assert registration_number_check_digit(EXAMPLE[:14]) == "6"
    assert validate_registration_number(f" {EXAMPLE} ") == EXAMPLE
    credential = parse_credential("registration_number", EXAMPLE)
    assert credential.kind is CredentialKind.REGISTRATION_NUMBER and credential.value == EXAMPLE
    with pytest.raises(WrongCheckCharacter) as wrong:
        validate_registration_number(EXAMPLE[:14] + "7")
    assert wrong.value.field == "registration_number" and wrong.value.expected == "6"
    with pytest.raises(WrongLength):
        validate_registration_number(EXAMPLE[:14])
    with pytest.raises(BadCharacter) as bad:
        validate_registration_number("11010800000001X")
    assert "position 15" in str(bad.value)


def test_every_single_digit_error_is_caught_ISO_7064() -> None:
    for position in range(15):
        for digit in "0123456789":
            if digit == EXAMPLE[position]:
                continue
            changed = EXAMPLE[:position] + digit + EXAMPLE[position + 1 :]
            with pytest.raises(WrongCheckCharacter):
                validate_registration_number(changed)


def test_an_enterprise_registers_with_its_registration_number_GZ16_7_PY_7(world: World) -> None:
    credential = parse_credential("registration_number", EXAMPLE)
    enterprise = Applicant.register(
        world.vault,
        kind="enterprise",
        credential=credential,
        personal=PersonalData("北京某某科技有限公司", "13800138000", "北京市海淀区中关村大街1号"),
        level="advanced",
        method="face",
    )
    world.ledger.save_signed(enterprise, signer=world.portal)
    assert enterprise.credential_kind is CredentialKind.REGISTRATION_NUMBER
    with pytest.raises(InvalidApplicant) as refused:
        Applicant.register(
            world.vault,
            kind="natural_person",
            credential=credential,
            personal=PersonalData("张三", "13800138000", "北京市"),
        )
    assert refused.value.field == "credential_kind"
