"""E-certificate identifiers, GB/T 36904-2018 (RULES.md "E-certificates and seals"), with the
ISO/IEC 7064 MOD 37,36 check character (GB/T 17710-2008).
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.certificate_id import (
    ALPHABET,
    BadCharacter,
    CertificateId,
    CertificateIdError,
    EmptyPart,
    WrongCheckCharacter,
    WrongLength,
    WrongPartCount,
    WrongPrefix,
    iso7064_mod37_36_check,
    make_certificate_id,
    parse_certificate_id,
)
from ledger.errors import LedgerError

# Identifiers issued by provincial platforms, found in public integration code: a Hunan
# certificate under the Ministry of Housing type 011, and a Zhejiang investment-project document.
ISSUED = [
    "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
    "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
]
VALID = ISSUED[0]


# --- ISO/IEC 7064 MOD 37,36 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "check"),
    # Published MOD 37,36 examples (GRid "A1-2425G-ABC1234002-M"; the xbib standardnumber and
    # python-stdnum test suites carry the same three vectors).
    [("A12425GABC1234002", "M"), ("B159D8FA01240000", "K"), ("188166C734200000", "3")],
)
def test_iso7064_mod37_36_reproduces_the_published_examples(body: str, check: str) -> None:
    assert iso7064_mod37_36_check(body) == check


def _mod37_36_reference(s: str) -> str:
    # Naive reference: try every candidate and keep the one that makes the whole string
    # satisfy the hybrid-system condition (final S == 1), written out step by step.
    def final_sum(text: str) -> int:
        product = 36
        total = 0
        for ch in text:
            total = (product + ALPHABET.index(ch)) % 36
            if total == 0:
                total = 36
            product = (total * 2) % 37
        return total

    (candidate,) = [c for c in ALPHABET if final_sum(s + c) == 1]
    return candidate


@given(st.text(alphabet=ALPHABET, max_size=80))
def test_iso7064_mod37_36_matches_the_naive_reference(s: str) -> None:
    assert iso7064_mod37_36_check(s) == _mod37_36_reference(s)


def test_iso7064_mod37_36_refuses_characters_outside_0_9_A_Z() -> None:
    with pytest.raises(BadCharacter, match="position 3"):
        iso7064_mod37_36_check("AB-C")


# --- the identifier -------------------------------------------------------------------------


@pytest.mark.parametrize("issued", ISSUED)
def test_issued_identifiers_parse_check_computed_without_root_code_and_dots_GB_T_36904(
    issued: str,
) -> None:
    parsed = parse_certificate_id(issued)
    assert str(parsed) == issued
    _, _, _, _, _, type_code, issuer, serial, version, check = issued.split(".")
    assert (parsed.type_code, parsed.issuer_code, parsed.serial) == (type_code, issuer, serial)
    assert (parsed.version_text, parsed.check) == (version, check)
    assert iso7064_mod37_36_check(type_code + issuer + serial + version) == check


def test_make_certificate_id_builds_the_identifier_with_its_check_character_GB_T_36904() -> None:
    made = make_certificate_id("11100000000013338W011", "11430000006122244L", "20230000403", 1)
    assert made == VALID


def test_lower_case_letters_are_accepted_and_upper_cased() -> None:
    assert str(parse_certificate_id(VALID.lower())) == VALID
    assert make_certificate_id("11100000000013338w011", "11430000006122244l", "20230000403", 1) == (
        VALID
    )


def test_a_certificate_id_is_a_frozen_value() -> None:
    parsed = parse_certificate_id(VALID)
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.serial = "X"  # type: ignore[misc]


parts = st.tuples(
    st.text(alphabet=ALPHABET, min_size=21, max_size=21),
    st.text(alphabet=ALPHABET, min_size=18, max_size=18),
    st.text(alphabet=ALPHABET, min_size=1, max_size=64),
    st.integers(min_value=1, max_value=999),
)


@given(parts)
def test_make_then_parse_round_trips(p: tuple[str, str, str, int]) -> None:
    made = make_certificate_id(*p)
    assert parse_certificate_id(made) == CertificateId(*p)
    assert str(parse_certificate_id(made)) == made


# --- error detection --------------------------------------------------------------------------


def _substitutions(identifier: str) -> list[str]:
    return [
        identifier[:i] + c + identifier[i + 1 :]
        for i, original in enumerate(identifier)
        for c in ALPHABET + "."
        if c != original
    ]


def _adjacent_transpositions(identifier: str) -> list[str]:
    return [
        identifier[:i] + identifier[i + 1] + identifier[i] + identifier[i + 2 :]
        for i in range(len(identifier) - 1)
        if identifier[i] != identifier[i + 1]
    ]


def test_every_single_character_substitution_of_an_issued_id_is_detected() -> None:
    corrupted = _substitutions(VALID)
    assert len(corrupted) == len(VALID) * len(ALPHABET)
    for text in corrupted:
        with pytest.raises(CertificateIdError, match=r"^certificate_id"):
            parse_certificate_id(text)


def test_every_adjacent_transposition_of_an_issued_id_is_detected() -> None:
    for text in _adjacent_transpositions(VALID):
        with pytest.raises(CertificateIdError, match=r"^certificate_id"):
            parse_certificate_id(text)


@given(parts, st.data())
def test_any_single_substitution_or_adjacent_transposition_is_detected(
    p: tuple[str, str, str, int], data: st.DataObject
) -> None:
    made = make_certificate_id(*p)
    corrupted = _substitutions(made) + _adjacent_transpositions(made)
    text = data.draw(st.sampled_from(corrupted))
    with pytest.raises(CertificateIdError):
        parse_certificate_id(text)


# --- malformed input names the part ----------------------------------------------------------


def test_a_wrong_check_character_names_expected_and_found() -> None:
    with pytest.raises(WrongCheckCharacter) as caught:
        parse_certificate_id(VALID[:-1] + "V")
    assert (
        str(caught.value) == "certificate_id.check: wrong check character: expected 'U', found 'V'"
    )
    assert (caught.value.expected, caught.value.found, caught.value.part) == ("U", "V", "check")


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (VALID.replace("1.2.156.3005.2.", "1.2.156.3005.3."), WrongPrefix, "wrong prefix"),
        ("urn:" + VALID, WrongPrefix, "wrong prefix"),
        (VALID.rsplit(".", 1)[0], WrongPartCount, "expected 5 parts"),
        (VALID + ".7", WrongPartCount, "expected 5 parts"),
        (VALID.replace(".20230000403.", ".."), EmptyPart, r"\.serial: empty"),
        (
            VALID.replace(".20230000403.", ".2023_0403."),
            BadCharacter,
            r"\.serial: bad character '_'",
        ),
        (VALID.replace(".001.", ".01."), WrongLength, r"\.version: wrong length"),
        (VALID.replace(".001.", ".0A1."), BadCharacter, r"\.version: bad character 'A'"),
        (VALID.replace(".001.", ".000."), CertificateIdError, r"\.version: out of range"),
        (VALID.replace("W011.", "W01."), WrongLength, r"\.type_code: wrong length: expected 21"),
        (VALID.replace("244L.", "24L."), WrongLength, r"\.issuer_code: wrong length: expected 18"),
        (VALID.replace(".U", ".UU"), WrongLength, r"\.check: wrong length"),
        (VALID.replace("20230000403", "9" * 65), WrongLength, r"\.serial: too long"),
    ],
)
def test_malformed_identifiers_are_refused_naming_the_part(
    text: str, error: type[CertificateIdError], message: str
) -> None:
    with pytest.raises(error, match=rf"^certificate_id.*{message}"):
        parse_certificate_id(text)


def test_make_certificate_id_refuses_bad_parts_naming_them() -> None:
    with pytest.raises(EmptyPart, match=r"^certificate_id\.serial: empty"):
        make_certificate_id("11100000000013338W011", "11430000006122244L", "", 1)
    with pytest.raises(CertificateIdError, match=r"^certificate_id\.version: out of range"):
        make_certificate_id("11100000000013338W011", "11430000006122244L", "1", 1000)
    with pytest.raises(CertificateIdError, match=r"^certificate_id\.version: expected an int"):
        make_certificate_id("11100000000013338W011", "11430000006122244L", "1", "001")  # type: ignore[arg-type]


def test_non_text_and_oversized_input_is_refused_with_the_error_root() -> None:
    with pytest.raises(CertificateIdError, match="expected text"):
        parse_certificate_id(None)  # type: ignore[arg-type]
    with pytest.raises(WrongLength, match="too long"):
        parse_certificate_id(VALID + "0" * 200)  # over MAX_TEXT_LENGTH
    assert issubclass(CertificateIdError, ValueError)
    assert issubclass(CertificateIdError, LedgerError)
