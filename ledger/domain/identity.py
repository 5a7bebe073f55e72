"""Applicant credentials: parse and validate the identifiers used for real-name authentication.

Responsibility: turn untrusted credential text into a normalised value, or refuse it with an
error that names the field and the problem (RULES.md "Identity and access", GZ16·7, PY·7, FZ·8).

Layer: domain — standard library only (plus ``ledger.errors`` for the error root); no I/O. The
only clock read is the default for the "birth date not in the future" check (pass ``today``
to make it reproducible).

Standards followed:
- Resident identity number, GB 11643-1999 (公民身份号码): 6-digit address code, 8-digit birth
  date, 3-digit sequence, check character ISO 7064 MOD 11-2 (weights 2^(17-i) mod 11, values
  mapped through "10X98765432"). The address code is deliberately *not* checked against today's
  GB/T 2260 list: codes of retired counties remain valid in IDs issued before the change. Only
  the province part (first two digits) is checked against the province-level codes of GB/T 2260,
  a set that has only grown since 1980 (Hainan 46 in 1988, Chongqing 50 in 1997).
- Unified social credit code, GB 32100-2015 (统一社会信用代码): 18 characters from the 31-character
  set without I, O, Z, S, V; position 1 registration department, 2 organisation type, 3–8
  administrative division (digits), 9–17 the organisation code of GB 11714-1997 (its own check
  character, MOD 11 with weights 3,7,9,10,5,8,4,2), 18 the MOD 31 check character. The
  department and type codes are not checked against a list: departments have been added since
  2015 (e.g. 'N' agriculture), the same reasoning as for region codes.
- Social-security number: in Guangdong and Fujian it is the resident identity number.
- Foreign passport: 5–20 characters A–Z, 0–9, with the issuing country as an ISO 3166-1
  alpha-3 code (shape checked only).
- Public institution: its legal-person certificate carries a unified social credit code
  registered by the establishment administration (机构编制), whose first character is '1'.

Error messages name the field and the problem and never echo the whole credential (personal
data, DESIGN invariant 5): at most the offending character is shown.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from ledger.errors import LedgerError

__all__ = [
    "BadCharacter",
    "Credential",
    "CredentialError",
    "CredentialKind",
    "InvalidBirthDate",
    "InvalidRegion",
    "NotAnInstitution",
    "WrongCheckCharacter",
    "WrongLength",
    "parse_credential",
    "registration_number_check_digit",
    "resident_id_check_character",
    "uscc_check_character",
    "validate_country_code",
    "validate_institution_code",
    "validate_passport_number",
    "validate_registration_number",
    "validate_resident_id",
    "validate_social_security_number",
    "validate_uscc",
]


# --- errors -----------------------------------------------------------------------------------


class CredentialError(LedgerError, ValueError):
    """A credential was refused. ``field`` names the credential, ``problem`` says why."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class WrongLength(CredentialError):
    """The credential has the wrong number of characters."""


class BadCharacter(CredentialError):
    """A character is outside the set allowed at its position."""


class WrongCheckCharacter(CredentialError):
    """The check character does not match the one computed from the other characters."""

    def __init__(self, field: str, what: str, expected: str, found: str) -> None:
        super().__init__(field, f"wrong {what}: expected {expected!r}, found {found!r}")
        self.expected = expected
        self.found = found


class InvalidBirthDate(CredentialError):
    """The birth date of a resident identity number is not a real, plausible date."""


class InvalidRegion(CredentialError):
    """The address (region) code cannot be a GB/T 2260 code."""


class NotAnInstitution(CredentialError):
    """A unified social credit code that was not registered for a public institution."""


# --- shared helpers ---------------------------------------------------------------------------

_DIGITS: Final = frozenset("0123456789")


def _require_text(field: str, s: object) -> str:
    if not isinstance(s, str):
        raise CredentialError(field, f"expected text, got {type(s).__name__}")
    return s


def _require_length(field: str, s: str, length: int) -> None:
    if len(s) != length:
        raise WrongLength(field, f"wrong length: expected {length} characters, found {len(s)}")


def _bad_character(field: str, s: str, position: int, allowed: str) -> BadCharacter:
    # position is 1-based, as in the standards' tables.
    return BadCharacter(
        field, f"bad character {s[position - 1]!r} at position {position}: expected {allowed}"
    )


# --- resident identity number (GB 11643-1999) ------------------------------------------------

_RESIDENT_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_ID_CHECK: Final = "10X98765432"
# Province-level codes of GB/T 2260 (first two digits of the address code), including the
# historical ones still found in old IDs; no province-level code has ever been retired.
_PROVINCE_CODES: Final = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82}
)
_EARLIEST_BIRTH: Final = _dt.date(1900, 1, 1)


def resident_id_check_character(first17: str) -> str:
    """Return the GB 11643 check character (ISO 7064 MOD 11-2) for 17 ASCII digits.

    Precondition: ``first17`` is exactly 17 characters from 0–9 (raises ``ValueError`` if not).
    """
    if len(first17) != 17 or not set(first17) <= _DIGITS:
        raise ValueError("first17: expected 17 digits 0-9")
    total = sum(int(c) * w for c, w in zip(first17, _RESIDENT_ID_WEIGHTS, strict=True))
    return _RESIDENT_ID_CHECK[total % 11]


def _shanghai_today() -> _dt.date:
    # Imported here so that identity stays usable without the calendar's table machinery.
    from ledger.domain.calendar import shanghai_date

    return shanghai_date(_dt.datetime.now(_dt.UTC))


def _validate_gb11643(field: str, s: object, today: _dt.date | None) -> str:
    text = _require_text(field, s)
    _require_length(field, text, 18)
    for i, c in enumerate(text[:17], start=1):
        if c not in _DIGITS:
            raise _bad_character(field, text, i, "a digit 0-9")
    if text[17] not in _DIGITS and text[17] not in "Xx":
        raise _bad_character(field, text, 18, "a digit 0-9 or X")
    value = text[:17] + text[17].upper()

    if int(value[:2]) not in _PROVINCE_CODES:
        raise InvalidRegion(
            field, f"invalid region: {value[:2]!r} is not a GB/T 2260 province-level code"
        )

    try:
        born = _dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidBirthDate(
            field, "invalid birth date: positions 7-14 are not a calendar date YYYYMMDD"
        ) from None
    if born < _EARLIEST_BIRTH:
        raise InvalidBirthDate(field, "invalid birth date: before 1900-01-01")
    if born > (today if today is not None else _shanghai_today()):
        raise InvalidBirthDate(field, "invalid birth date: in the future")

    expected = resident_id_check_character(value[:17])
    if value[17] != expected:
        raise WrongCheckCharacter(field, "check digit", expected, value[17])
    return value


def validate_resident_id(s: str, *, today: _dt.date | None = None) -> str:
    """Validate a resident identity number (GB 11643-1999) and return it normalised.

    Normalisation: a lower-case check character ``x`` becomes ``X``; nothing else is changed
    (surrounding whitespace is refused, not stripped). ``today`` bounds the birth date; when
    omitted it is today's date in Asia/Shanghai from the system clock — pass it explicitly
    where the result must be reproducible.

    Raises ``WrongLength``, ``BadCharacter``, ``InvalidRegion``, ``InvalidBirthDate`` or
    ``WrongCheckCharacter`` (all ``CredentialError``, a ``ValueError``), with field
    ``resident_id``.
    """
    return _validate_gb11643(CredentialKind.RESIDENT_ID.value, s, today)


def validate_social_security_number(s: str, *, today: _dt.date | None = None) -> str:
    """Validate a social-security number, which in Guangdong and Fujian is the resident
    identity number (GB 11643-1999); errors name the field ``social_security``.
    """
    return _validate_gb11643(CredentialKind.SOCIAL_SECURITY.value, s, today)


# --- unified social credit code (GB 32100-2015) ----------------------------------------------

_USCC_CHARSET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES: Final = {c: i for i, c in enumerate(_USCC_CHARSET)}
_USCC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_CODE_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)


def uscc_check_character(first17: str) -> str:
    """Return the GB 32100 check character (MOD 31) for 17 characters of the USCC set.

    Precondition: ``first17`` is 17 characters of "0123456789ABCDEFGHJKLMNPQRTUWXY"
    (raises ``ValueError`` if not).
    """
    if len(first17) != 17 or not set(first17) <= _USCC_VALUES.keys():
        raise ValueError("first17: expected 17 characters of the GB 32100 set")
    total = sum(_USCC_VALUES[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARSET[-total % 31]


def _organisation_code_check_character(body: str) -> str:
    # GB 11714-1997: digits are their value, letters A=10 … Z=35 (the Latin alphabet, not the
    # GB 32100 set); C9 = 11 - (sum mod 11), with 10 written 'X' and 11 written '0'.
    total = sum(
        (int(c) if c in _DIGITS else ord(c) - 55) * w
        for c, w in zip(body, _ORG_CODE_WEIGHTS, strict=True)
    )
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def _validate_gb32100(field: str, s: object) -> str:
    text = _require_text(field, s)
    _require_length(field, text, 18)
    for i, c in enumerate(text, start=1):
        # Test the original character: str.upper() maps some non-ASCII letters onto ASCII.
        if c not in _USCC_VALUES and not ("a" <= c <= "z" and c.upper() in _USCC_VALUES):
            raise _bad_character(
                field, text, i, "a digit or a capital letter other than I, O, Z, S, V"
            )
    value = text.upper()
    for i in range(3, 9):
        if value[i - 1] not in _DIGITS:
            raise _bad_character(field, value, i, "a digit 0-9 (administrative division code)")

    org_expected = _organisation_code_check_character(value[8:16])
    if value[16] != org_expected:
        raise WrongCheckCharacter(
            field, "organisation code check character", org_expected, value[16]
        )
    expected = uscc_check_character(value[:17])
    if value[17] != expected:
        raise WrongCheckCharacter(field, "check character", expected, value[17])
    return value


def validate_uscc(s: str) -> str:
    """Validate a unified social credit code (GB 32100-2015) and return it upper-cased.

    Raises ``WrongLength``, ``BadCharacter`` or ``WrongCheckCharacter`` (a ``CredentialError``,
    a ``ValueError``), with field ``uscc``.
    """
    return _validate_gb32100(CredentialKind.USCC.value, s)


def validate_institution_code(s: str) -> str:
    """Validate the code on a public institution's legal-person certificate (GZ16·7, PY·7, FZ·8).

    It is a unified social credit code registered by the establishment administration
    (机构编制, GB 32100 registration department code '1'). Raises what ``validate_uscc`` raises,
    with field ``institution``, and ``NotAnInstitution`` for a valid code of another department.
    """
    field = CredentialKind.INSTITUTION.value
    value = _validate_gb32100(field, s)
    if value[0] != "1":
        raise NotAnInstitution(
            field,
            "not a public institution: its unified social credit code is registered by the"
            f" establishment administration (机构编制) and starts with '1', found {value[0]!r}",
        )
    return value


# --- foreign passport ------------------------------------------------------------------------

_ASCII_UPPER: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ASCII_LETTERS: Final = _ASCII_UPPER | frozenset("abcdefghijklmnopqrstuvwxyz")
PASSPORT_MIN_LENGTH: Final = 5
PASSPORT_MAX_LENGTH: Final = 20


def validate_passport_number(s: str, country: str) -> str:
    """Validate a foreign passport number and its issuing country; return the number
    upper-cased.

    The number is 5–20 characters A–Z, 0–9 (lower case accepted); ``country`` must have the
    shape of an ISO 3166-1 alpha-3 code (see ``validate_country_code``). Raises
    ``WrongLength`` or ``BadCharacter`` with field ``passport`` or ``passport_country``.
    """
    field = CredentialKind.PASSPORT.value
    validate_country_code(country)
    text = _require_text(field, s)
    if not PASSPORT_MIN_LENGTH <= len(text) <= PASSPORT_MAX_LENGTH:
        raise WrongLength(
            field,
            f"wrong length: expected {PASSPORT_MIN_LENGTH}-{PASSPORT_MAX_LENGTH} characters,"
            f" found {len(text)}",
        )
    for i, c in enumerate(text, start=1):
        if c not in _ASCII_LETTERS and c not in _DIGITS:
            raise _bad_character(field, text, i, "a letter A-Z or a digit 0-9")
    return text.upper()


def validate_country_code(country: str, *, field: str = "passport_country") -> str:
    """Check the shape of an ISO 3166-1 alpha-3 country code (three letters A–Z) and return it
    upper-cased. Whether the code is currently assigned is not checked.

    Raises ``WrongLength`` or ``BadCharacter`` naming ``field``.
    """
    text = _require_text(field, country)
    _require_length(field, text, 3)
    for i, c in enumerate(text, start=1):
        if c not in _ASCII_LETTERS:
            raise _bad_character(field, text, i, "a letter A-Z (ISO 3166-1 alpha-3)")
    return text.upper()


# --- enterprise registration number (工商注册号, GS 15-2006) ------------------------------------


def registration_number_check_digit(first14: str) -> str:
    """The check digit of a 15-digit 工商注册号 (GS 15-2006: ISO 7064 MOD 11,10 over the first
    14 digits). Raises ``ValueError`` unless ``first14`` is 14 digits."""
    if len(first14) != 14 or not first14.isascii() or not first14.isdigit():
        raise ValueError("first14: expected 14 digits")
    product = 10
    for ch in first14:
        total = (int(ch) + product) % 10 or 10
        product = total * 2 % 11
    return str((1 - product) % 10)


def validate_registration_number(s: str) -> str:
    """Validate an enterprise's 15-digit registration number (工商注册号), which enterprises
    registered before the USCC still authenticate with (GZ16·7, PY·7); returns it. Raises
    ``WrongLength``, ``BadCharacter`` or ``WrongCheckCharacter`` with field
    ``registration_number``."""
    field = CredentialKind.REGISTRATION_NUMBER.value
    value = _require_text(field, s).strip()
    _require_length(field, value, 15)
    for position, c in enumerate(value, start=1):
        if not ("0" <= c <= "9"):
            raise _bad_character(field, value, position, "a digit")
    expected = registration_number_check_digit(value[:14])
    if value[14] != expected:
        raise WrongCheckCharacter(field, "check digit (ISO 7064 MOD 11,10)", expected, value[14])
    return value


# --- credential value ------------------------------------------------------------------------


class CredentialKind(StrEnum):
    """The credentials accepted for real-name authentication (GZ16·7, PY·7, FZ·8)."""

    RESIDENT_ID = "resident_id"  # 居民身份证
    SOCIAL_SECURITY = "social_security"  # 社会保障号码
    PASSPORT = "passport"  # 外国人护照
    USCC = "uscc"  # 统一社会信用代码 (enterprise)
    REGISTRATION_NUMBER = "registration_number"  # 工商注册号 (enterprise, GZ16·7, PY·7)
    INSTITUTION = "institution"  # 事业单位法人证书


def _parse_kind(kind: str) -> CredentialKind:
    try:
        return CredentialKind(kind)
    except ValueError:
        allowed = ", ".join(k.value for k in CredentialKind)
        raise CredentialError(
            "credential_kind", f"unknown kind {kind!r}: expected one of {allowed}"
        ) from None


_PERSONAL_KINDS: Final = frozenset(
    {CredentialKind.RESIDENT_ID, CredentialKind.SOCIAL_SECURITY, CredentialKind.PASSPORT}
)


@dataclass(frozen=True, slots=True)
class Credential:
    """A validated, normalised credential. Building one validates it.

    ``country`` is the ISO 3166-1 alpha-3 issuing country of a passport, and ``None`` for every
    other kind. The ``repr`` masks personal numbers (DESIGN invariant 5).
    """

    kind: CredentialKind
    value: str
    country: str | None = None

    def __post_init__(self) -> None:
        kind = _parse_kind(self.kind)
        value = self.value
        country = self.country
        if kind is CredentialKind.PASSPORT:
            if country is None:
                raise CredentialError("passport_country", "missing: a passport needs its country")
            value = validate_passport_number(value, country)
            country = validate_country_code(country)
        else:
            if country is not None:
                raise CredentialError(
                    "country", f"only a passport has a country, not a {kind.value}"
                )
            value = _VALIDATORS[kind](value)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "country", country)

    def __repr__(self) -> str:
        shown = self.value
        if self.kind in _PERSONAL_KINDS:
            shown = shown[:2] + "*" * (len(shown) - 4) + shown[-2:]
        suffix = f", country={self.country!r}" if self.country is not None else ""
        return f"Credential(kind={self.kind.value!r}, value={shown!r}{suffix})"


_VALIDATORS: Final[Mapping[CredentialKind, Callable[[str], str]]] = {
    CredentialKind.RESIDENT_ID: validate_resident_id,
    CredentialKind.SOCIAL_SECURITY: validate_social_security_number,
    CredentialKind.USCC: validate_uscc,
    CredentialKind.REGISTRATION_NUMBER: validate_registration_number,
    CredentialKind.INSTITUTION: validate_institution_code,
}


def parse_credential(kind: str, value: str, country: str | None = None) -> Credential:
    """Parse untrusted credential text of the given kind into a ``Credential``.

    ``kind`` is one of ``resident_id``, ``social_security``, ``passport``, ``uscc``,
    ``registration_number``, ``institution``; ``country`` is required for a passport and
    refused otherwise.
    Raises a ``CredentialError`` (a ``ValueError``) naming the field and the problem.
    """
    return Credential(_parse_kind(kind), value, country)
