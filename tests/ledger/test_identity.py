"""Credentials for real-name authentication (RULES.md "Identity and access": GZ16·7, PY·7, FZ·8).

A malformed or wrong-check credential is rejected with a message naming the field and the
reason; retired region codes stay valid.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.identity import (
    BadCharacter,
    Credential,
    CredentialError,
    CredentialKind,
    InvalidBirthDate,
    InvalidRegion,
    NotAnInstitution,
    WrongCheckCharacter,
    WrongLength,
    parse_credential,
    resident_id_check_character,
    uscc_check_character,
    validate_institution_code,
    validate_passport_number,
    validate_resident_id,
    validate_social_security_number,
    validate_uscc,
)
from ledger.errors import LedgerError

# The example of GB 11643-1999 itself (a Beijing Chaoyang number, born 1949-12-31).
PUBLISHED_RESIDENT_ID = "11010519491231002X"
# Huawei Technologies Co., Ltd. (Shenzhen), as printed on its business licence.
PUBLISHED_USCC = "914403001922038216"
# The python-stdnum example for cn.uscc (a Beijing enterprise).
STDNUM_USCC = "91110000600037341L"
# Ministry of Housing and Urban-Rural Development: a central organ, region code 100000,
# registered by the establishment administration (first character '1').
CENTRAL_ORGAN_USCC = "11100000000013338W"
TODAY = dt.date(2026, 9, 28)

# Characters tried when corrupting one position: every allowed character and some that are not
# (fullwidth digit, CJK, space, punctuation, letters excluded from GB 32100).
CORRUPTIONS = "0123456789ABCDEFGHJKLMNPQRTUWXYIOZSVax ０中-."


# --- resident identity number, GB 11643-1999 --------------------------------------------------


def test_resident_id_published_example_is_valid_GB11643() -> None:
    assert validate_resident_id(PUBLISHED_RESIDENT_ID) == PUBLISHED_RESIDENT_ID


def test_resident_id_lowercase_x_check_character_is_normalised_to_X_GB11643() -> None:
    assert validate_resident_id(PUBLISHED_RESIDENT_ID.lower()) == PUBLISHED_RESIDENT_ID


def test_resident_id_wrong_check_digit_is_refused_naming_expected_and_found_GB11643() -> None:
    with pytest.raises(WrongCheckCharacter) as caught:
        validate_resident_id("110105194912310023")
    assert str(caught.value) == "resident_id: wrong check digit: expected 'X', found '3'"
    assert (caught.value.expected, caught.value.found) == ("X", "3")


def test_resident_id_every_single_character_corruption_is_refused_naming_the_field_GZ16_7() -> None:
    tried = 0
    for position, original in enumerate(PUBLISHED_RESIDENT_ID):
        for replacement in CORRUPTIONS:
            if replacement.upper() == original.upper():
                continue
            corrupted = (
                PUBLISHED_RESIDENT_ID[:position]
                + replacement
                + PUBLISHED_RESIDENT_ID[position + 1 :]
            )
            with pytest.raises(CredentialError) as caught:
                validate_resident_id(corrupted, today=TODAY)
            assert str(caught.value).startswith("resident_id: ")
            assert PUBLISHED_RESIDENT_ID[:17] not in str(caught.value)  # never echoes the ID
            tried += 1
    # 17 digits with every other character, the check character with all but 'X' and 'x'.
    assert tried == 17 * (len(CORRUPTIONS) - 1) + (len(CORRUPTIONS) - 2)


def _mod_11_2_reference(first17: str) -> str:
    # ISO 7064 MOD 11-2 from its definition: the check value c makes
    # sum(a_i * 2^(18-i)) + c ≡ 1 (mod 11), with c = 10 written 'X'.
    total = sum(int(a) * pow(2, 17 - i, 11) for i, a in enumerate(first17))
    c = (1 - total) % 11
    return "X" if c == 10 else str(c)


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_resident_id_check_digit_matches_the_iso7064_mod_11_2_definition_GB11643(
    first17: str,
) -> None:
    assert resident_id_check_character(first17) == _mod_11_2_reference(first17)


@pytest.mark.parametrize(
    "retired",
    [
        "440181198503151233",  # 440181 番禺市, a county-level city until 2000 (now 440113)
        "110103199001010018",  # 110103 崇文区, merged into 东城区 in 2010
    ],
)
def test_resident_id_with_a_retired_county_code_is_accepted_RULES_identity(retired: str) -> None:
    assert validate_resident_id(retired, today=TODAY) == retired


def test_resident_id_region_is_not_checked_against_a_county_list_only_its_province() -> None:
    number = "449999198001010" + "01"
    number += resident_id_check_character(number)
    assert validate_resident_id(number, today=TODAY) == number


@pytest.mark.parametrize("province", ["00", "10", "16", "47", "72", "83", "99"])
def test_resident_id_with_an_impossible_province_code_is_refused(province: str) -> None:
    number = province + "0101198001010" + "01"
    number += resident_id_check_character(number)
    with pytest.raises(InvalidRegion, match=r"^resident_id: invalid region: "):
        validate_resident_id(number, today=TODAY)


@pytest.mark.parametrize(
    ("birth", "problem"),
    [
        ("19490230", "not a calendar date"),
        ("19491301", "not a calendar date"),
        ("18991231", "before 1900"),
        ("20260929", "in the future"),
    ],
)
def test_resident_id_birth_date_must_be_real_and_plausible_GB11643(
    birth: str, problem: str
) -> None:
    number = "110105" + birth + "002"
    number += resident_id_check_character(number)
    with pytest.raises(InvalidBirthDate, match=f"^resident_id: invalid birth date: .*{problem}"):
        validate_resident_id(number, today=TODAY)


def test_resident_id_born_on_a_leap_day_or_today_is_accepted() -> None:
    for birth in ("20000229", "20260928"):
        number = "110105" + birth + "002"
        number += resident_id_check_character(number)
        assert validate_resident_id(number, today=TODAY) == number


@pytest.mark.parametrize(
    "text", ["", "11010519491231002", "11010519491231002X0", "110105491231002"]
)
def test_resident_id_of_the_wrong_length_is_refused(text: str) -> None:
    with pytest.raises(WrongLength, match=r"^resident_id: wrong length: expected 18"):
        validate_resident_id(text)


def test_resident_id_with_fullwidth_digits_or_spaces_is_refused() -> None:
    for text in ("１1010519491231002X", " 1010519491231002X", "11010519491231002X"[:-1] + "Y"):
        with pytest.raises(BadCharacter, match=r"^resident_id: bad character"):
            validate_resident_id(text)


def test_resident_id_of_a_non_text_value_is_refused_with_a_credential_error() -> None:
    with pytest.raises(CredentialError, match=r"^resident_id: expected text"):
        validate_resident_id(110105194912310023)  # type: ignore[arg-type]


def test_credential_errors_are_value_errors_under_the_ledger_error_root_DESIGN_contract() -> None:
    assert issubclass(CredentialError, ValueError)
    assert issubclass(CredentialError, LedgerError)


def test_social_security_number_is_the_resident_id_and_errors_name_its_field_GZ16_7() -> None:
    assert validate_social_security_number(PUBLISHED_RESIDENT_ID.lower()) == PUBLISHED_RESIDENT_ID
    with pytest.raises(WrongCheckCharacter, match=r"^social_security: wrong check digit"):
        validate_social_security_number("110105194912310023")


# --- unified social credit code, GB 32100-2015 ------------------------------------------------


@pytest.mark.parametrize("code", [PUBLISHED_USCC, STDNUM_USCC, CENTRAL_ORGAN_USCC])
def test_uscc_published_examples_are_valid_GB32100(code: str) -> None:
    assert validate_uscc(code) == code


def test_uscc_is_normalised_to_upper_case_GB32100() -> None:
    assert validate_uscc(STDNUM_USCC.lower()) == STDNUM_USCC


def test_uscc_wrong_check_character_is_refused_naming_expected_and_found_GB32100() -> None:
    with pytest.raises(WrongCheckCharacter) as caught:
        validate_uscc("914403001922038217")
    assert str(caught.value) == "uscc: wrong check character: expected '6', found '7'"


def test_uscc_organisation_code_check_character_is_verified_GB11714() -> None:
    # Keep the MOD 31 check consistent so that only the GB 11714 check can catch the change.
    first17 = "9144030019220382" + "2"
    code = first17 + uscc_check_character(first17)
    with pytest.raises(WrongCheckCharacter) as caught:
        validate_uscc(code)
    assert str(caught.value) == (
        "uscc: wrong organisation code check character: expected '1', found '2'"
    )


def test_uscc_every_single_character_corruption_is_refused_naming_the_field_GZ16_7() -> None:
    for position, original in enumerate(PUBLISHED_USCC):
        for replacement in CORRUPTIONS:
            if replacement.upper() == original:
                continue
            corrupted = PUBLISHED_USCC[:position] + replacement + PUBLISHED_USCC[position + 1 :]
            with pytest.raises(CredentialError) as caught:
                validate_uscc(corrupted)
            assert str(caught.value).startswith("uscc: ")


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V", "i", "ſ"])
def test_uscc_letters_outside_the_31_character_set_are_refused_GB32100(letter: str) -> None:
    with pytest.raises(BadCharacter, match=r"^uscc: bad character .* at position 10"):
        validate_uscc(PUBLISHED_USCC[:9] + letter + PUBLISHED_USCC[10:])


def test_uscc_region_positions_must_be_digits_GB32100() -> None:
    with pytest.raises(BadCharacter, match=r"^uscc: bad character 'A' at position 3"):
        validate_uscc("91A403001922038216")


def _mod_31_reference(first17: str) -> str:
    # GB 32100: weights are 3^(i-1) mod 31; the check value makes the weighted sum ≡ 0 (mod 31).
    charset = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    total = sum(charset.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return charset[(31 - total % 31) % 31]


@given(st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=17, max_size=17))
def test_uscc_check_character_matches_the_powers_of_three_definition_GB32100(
    first17: str,
) -> None:
    assert uscc_check_character(first17) == _mod_31_reference(first17)


def test_institution_code_is_a_uscc_registered_by_the_establishment_administration_PY_7() -> None:
    assert validate_institution_code(CENTRAL_ORGAN_USCC) == CENTRAL_ORGAN_USCC
    with pytest.raises(NotAnInstitution) as caught:
        validate_institution_code(PUBLISHED_USCC)
    message = str(caught.value)
    assert message.startswith("institution: not a public institution")
    assert "starts with '1', found '9'" in message


def test_institution_code_with_a_wrong_check_character_names_the_institution_field() -> None:
    with pytest.raises(WrongCheckCharacter, match=r"^institution: wrong check character"):
        validate_institution_code(CENTRAL_ORGAN_USCC[:-1] + "X")


# --- foreign passport -------------------------------------------------------------------------


def test_passport_number_is_5_to_20_letters_or_digits_and_upper_cased_FZ_8() -> None:
    assert validate_passport_number("c01x00t47", "DEU") == "C01X00T47"
    assert validate_passport_number("A1234", "usa") == "A1234"
    assert validate_passport_number("A" * 20, "GBR") == "A" * 20


@pytest.mark.parametrize("number", ["A123", "A" * 21])
def test_passport_number_of_the_wrong_length_is_refused(number: str) -> None:
    with pytest.raises(WrongLength, match=r"^passport: wrong length: expected 5-20"):
        validate_passport_number(number, "DEU")


@pytest.mark.parametrize("number", ["C01X-00T4", "C01X 00T4", "Ｃ01X00T4", "ſ01X00T4"])
def test_passport_number_with_other_characters_is_refused(number: str) -> None:
    with pytest.raises(BadCharacter, match=r"^passport: bad character"):
        validate_passport_number(number, "DEU")


@pytest.mark.parametrize(("country", "error"), [("DE", WrongLength), ("D3U", BadCharacter)])
def test_passport_country_must_have_the_iso_3166_alpha_3_shape(
    country: str, error: type[CredentialError]
) -> None:
    with pytest.raises(error, match=r"^passport_country: "):
        validate_passport_number("C01X00T47", country)


# --- credential values ------------------------------------------------------------------------


def test_parse_credential_returns_a_normalised_frozen_credential_for_each_kind() -> None:
    cases = [
        (("resident_id", PUBLISHED_RESIDENT_ID.lower()), PUBLISHED_RESIDENT_ID, None),
        (("social_security", PUBLISHED_RESIDENT_ID), PUBLISHED_RESIDENT_ID, None),
        (("passport", "c01x00t47", "deu"), "C01X00T47", "DEU"),
        (("uscc", STDNUM_USCC.lower()), STDNUM_USCC, None),
        (("institution", CENTRAL_ORGAN_USCC), CENTRAL_ORGAN_USCC, None),
    ]
    for args, value, country in cases:
        credential = parse_credential(*args)
        assert credential.kind == args[0]
        assert isinstance(credential.kind, CredentialKind)
        assert (credential.value, credential.country) == (value, country)
        with pytest.raises(dataclasses.FrozenInstanceError):
            credential.value = "x"  # type: ignore[misc]


def test_building_a_credential_directly_validates_it() -> None:
    with pytest.raises(WrongCheckCharacter, match=r"^uscc: "):
        Credential(CredentialKind.USCC, PUBLISHED_USCC[:-1] + "7")


def test_parse_credential_refuses_an_unknown_kind_and_a_misplaced_or_missing_country() -> None:
    with pytest.raises(CredentialError, match=r"^credential_kind: unknown kind 'driving'"):
        parse_credential("driving", "X")
    with pytest.raises(CredentialError, match=r"^passport_country: missing"):
        parse_credential("passport", "C01X00T47")
    with pytest.raises(CredentialError, match=r"^country: only a passport"):
        parse_credential("uscc", PUBLISHED_USCC, "CHN")


def test_credential_repr_masks_personal_numbers_DESIGN_invariant_5() -> None:
    shown = repr(parse_credential("resident_id", PUBLISHED_RESIDENT_ID))
    assert PUBLISHED_RESIDENT_ID not in shown
    assert "19491231" not in shown
    assert PUBLISHED_USCC in repr(parse_credential("uscc", PUBLISHED_USCC))
