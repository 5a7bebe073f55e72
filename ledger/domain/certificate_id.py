"""E-certificate identifiers (电子证照标识): build, parse and check them.

Responsibility: the identifier an e-certificate carries for its whole life
(RULES.md "E-certificates and seals"; GZ20·21, GZ16·15), in the form
``1.2.156.3005.2.<type code>.<issuer code>.<serial>.<version>.<check>``.

Layer: domain — standard library only (plus ``ledger.errors``), no I/O.

Standard followed: the e-certificate identifier specification, GB/T 36904-2018 《电子证照 标识规范》
(RULES.md cites it as GB/T 36903, which is the companion metadata specification), with the check
character of ISO/IEC 7064 MOD 37,36 (GB/T 17710-2008 identical), the hybrid system over the
alphabet 0–9, A–Z. The parts:

- root code ``1.2.156.3005.2`` (the e-certificate OID arc);
- type code (证照类型代码), 21 characters: the 18-character unified social credit code of the
  department that defines the certificate type, then a 3-character sequence;
- issuer code (证照颁发机构代码), 18 characters: the issuing department's unified social
  credit code;
- serial (流水号), 1–64 characters 0–9, A–Z (the upper bound is this module's size limit);
- version (版本号), three digits 001–999;
- check (校验位), one character 0–9, A–Z.

Which characters the check covers: the concatenation type code + issuer code + serial + version,
upper case, *without* the root code and without the dots. The standard's text was not available
here; the choice rests on (1) three identifiers issued by provincial platforms (Hunan, Zhejiang,
Anhui) whose check characters recompute this way and not when the root code is included, and
(2) independent platform implementations that strip the root code and the dots before computing
the check. Because the dots are not covered, the fixed lengths of the type code, issuer code and
version are what make a character moved across a dot detectable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ledger.errors import LedgerError

__all__ = [
    "ALPHABET",
    "ISSUER_CODE_LENGTH",
    "MAX_SERIAL_LENGTH",
    "MAX_TEXT_LENGTH",
    "ROOT_CODE",
    "TYPE_CODE_LENGTH",
    "BadCharacter",
    "CertificateId",
    "CertificateIdError",
    "EmptyPart",
    "WrongCheckCharacter",
    "WrongLength",
    "WrongPartCount",
    "WrongPrefix",
    "iso7064_mod37_36_check",
    "make_certificate_id",
    "parse_certificate_id",
]

ROOT_CODE: Final = "1.2.156.3005.2"
ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
TYPE_CODE_LENGTH: Final = 21
ISSUER_CODE_LENGTH: Final = 18
MAX_SERIAL_LENGTH: Final = 64
MAX_TEXT_LENGTH: Final = 256
"""Longest text ``parse_certificate_id`` looks at (a well-formed identifier has at most 126)."""
_VALUES: Final = {c: i for i, c in enumerate(ALPHABET)}
_DIGITS: Final = frozenset("0123456789")
_FIELD: Final = "certificate_id"
_PARTS: Final = ("type_code", "issuer_code", "serial", "version", "check")


# --- errors -----------------------------------------------------------------------------------


class CertificateIdError(LedgerError, ValueError):
    """An e-certificate identifier or one of its parts was refused; ``part`` names the part."""

    def __init__(self, part: str, problem: str) -> None:
        super().__init__(f"{_FIELD}.{part}: {problem}" if part else f"{_FIELD}: {problem}")
        self.part = part
        self.problem = problem


class WrongPrefix(CertificateIdError):
    """The identifier does not start with the root code ``1.2.156.3005.2.``."""


class WrongPartCount(CertificateIdError):
    """The identifier does not have five dot-separated parts after the root code."""


class EmptyPart(CertificateIdError):
    """A part is empty."""


class WrongLength(CertificateIdError):
    """A fixed-length part has the wrong length."""


class BadCharacter(CertificateIdError):
    """A part holds a character outside 0–9, A–Z (digits only for the version)."""


class WrongCheckCharacter(CertificateIdError):
    """The check character differs from the one computed from the other parts."""

    def __init__(self, expected: str, found: str) -> None:
        super().__init__("check", f"wrong check character: expected {expected!r}, found {found!r}")
        self.expected = expected
        self.found = found


# --- ISO/IEC 7064 MOD 37,36 -------------------------------------------------------------------


def iso7064_mod37_36_check(s: str) -> str:
    """Return the ISO/IEC 7064 MOD 37,36 (hybrid system) check character of ``s``.

    Precondition: ``s`` holds only 0–9 and A–Z (upper case); raises ``BadCharacter`` otherwise.
    Steps, per the standard's hybrid-system recurrence with M = 36:
    P₁ = M; for each character value a: S = (P + a) mod M, with 0 read as M; P = 2·S mod (M+1);
    the check character a′ satisfies (P + a′) mod M = 1.
    """
    p = 36
    for i, c in enumerate(s, start=1):
        value = _VALUES.get(c)
        if value is None:
            raise BadCharacter("", f"bad character {c!r} at position {i}: expected 0-9 or A-Z")
        p = ((p + value) % 36 or 36) * 2 % 37
    return ALPHABET[(1 - p) % 36]


# --- identifier -------------------------------------------------------------------------------


def _check_part(part: str, value: object, *, length: int | None, max_length: int) -> str:
    if not isinstance(value, str):
        raise CertificateIdError(part, f"expected text, got {type(value).__name__}")
    if not value:
        raise EmptyPart(part, "empty")
    if length is not None and len(value) != length:
        raise WrongLength(part, f"wrong length: expected {length} characters, found {len(value)}")
    if len(value) > max_length:
        raise WrongLength(part, f"too long: at most {max_length} characters, found {len(value)}")
    for i, c in enumerate(value, start=1):
        # Test the original character: str.upper() maps some non-ASCII letters onto ASCII.
        if c not in _VALUES and not ("a" <= c <= "z"):
            raise BadCharacter(part, f"bad character {c!r} at position {i}: expected 0-9 or A-Z")
    return value.upper()


def _check_version(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CertificateIdError("version", f"expected an int, got {type(value).__name__}")
    if not 1 <= value <= 999:
        raise CertificateIdError("version", f"out of range: expected 1-999, found {value}")
    return value


@dataclass(frozen=True, slots=True)
class CertificateId:
    """A well-formed e-certificate identifier (GB/T 36904). Building one validates and
    upper-cases the parts; ``check`` is computed, and ``str()`` gives the identifier text.

    Raises ``CertificateIdError`` subclasses naming the part.
    """

    type_code: str
    issuer_code: str
    serial: str
    version: int

    def __post_init__(self) -> None:
        for name, length, max_length in (
            ("type_code", TYPE_CODE_LENGTH, TYPE_CODE_LENGTH),
            ("issuer_code", ISSUER_CODE_LENGTH, ISSUER_CODE_LENGTH),
            ("serial", None, MAX_SERIAL_LENGTH),
        ):
            normalised = _check_part(
                name, getattr(self, name), length=length, max_length=max_length
            )
            object.__setattr__(self, name, normalised)
        _check_version(self.version)

    @property
    def version_text(self) -> str:
        """The version as written in the identifier: three digits."""
        return f"{self.version:03d}"

    @property
    def check(self) -> str:
        """The ISO/IEC 7064 MOD 37,36 check character over type code, issuer code, serial and
        version, concatenated without dots."""
        return iso7064_mod37_36_check(
            self.type_code + self.issuer_code + self.serial + self.version_text
        )

    def __str__(self) -> str:
        return ".".join(
            (
                ROOT_CODE,
                self.type_code,
                self.issuer_code,
                self.serial,
                self.version_text,
                self.check,
            )
        )


def make_certificate_id(type_code: str, issuer_code: str, serial: str, version: int) -> str:
    """Return the identifier text for the given parts, with its check character.

    Preconditions: type code 21 and issuer code 18 characters, serial 1–64 characters, all
    0–9/A–Z (lower case is upper-cased); version 1–999. Raises ``CertificateIdError``
    subclasses naming the part.
    """
    return str(CertificateId(type_code, issuer_code, serial, version))


def parse_certificate_id(s: str) -> CertificateId:
    """Parse identifier text into a ``CertificateId``, checking its check character.

    Lower-case letters are accepted and upper-cased. Raises ``WrongPrefix``,
    ``WrongPartCount``, ``EmptyPart``, ``WrongLength``, ``BadCharacter`` or
    ``WrongCheckCharacter`` (all ``CertificateIdError``, a ``ValueError``) naming the part.
    """
    if not isinstance(s, str):
        raise CertificateIdError("", f"expected text, got {type(s).__name__}")
    if len(s) > MAX_TEXT_LENGTH:  # a guard only: the parts' own limits are checked below
        raise WrongLength("", f"too long: at most {MAX_TEXT_LENGTH} characters, found {len(s)}")
    prefix = ROOT_CODE + "."
    if not s.startswith(prefix):
        raise WrongPrefix("", f"wrong prefix: expected it to start with {prefix!r}")
    parts = s[len(prefix) :].split(".")
    if len(parts) != len(_PARTS):
        raise WrongPartCount(
            "",
            f"expected {len(_PARTS)} parts after the root code"
            f" ({'.'.join(_PARTS)}), found {len(parts)}",
        )
    type_code, issuer_code, serial, version_text, check_text = parts
    version_text = _check_part("version", version_text, length=3, max_length=3)
    for i, c in enumerate(version_text, start=1):
        if c not in _DIGITS:
            raise BadCharacter("version", f"bad character {c!r} at position {i}: expected 0-9")
    check_text = _check_part("check", check_text, length=1, max_length=1)
    parsed = CertificateId(type_code, issuer_code, serial, int(version_text))
    if parsed.check != check_text:
        raise WrongCheckCharacter(parsed.check, check_text)
    return parsed
