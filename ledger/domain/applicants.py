"""Applicants (申请人 / 服务对象): real-name credential, authentication level, erasure.

Layer: domain (standard library, ``eventsourcing.domain``, ``ledger.domain.rules``,
``ledger.domain.identity``, and the crypto-free value types of ``ledger.storage.privacy``; the
vault that seals is passed in). RULES.md "Identity and access": credentials per
GZ16·7, PY·7, FZ·8; three authentication levels with the rights of FZ·8 — online
application needs the advanced level. DESIGN invariant 5: events hold only the
blind index and the sealed credential, and the sealed name, phone and address,
never the clear values.

Erasure: :meth:`Applicant.erase` records an ``Erased`` event in the chain; the
application service saves it and then calls ``vault.erase(applicant.id)`` to destroy
the data key (idempotent, so a failed destroy is retried). From then on every
personal field reads :data:`~ledger.storage.privacy.ERASED` and the chain still verifies.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Final, Protocol, TypeVar
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from ledger.domain.identity import Credential, CredentialError, CredentialKind, parse_credential
from ledger.domain.personal_data import ERASED, Erased, PersonalData, Sealed
from ledger.domain.rules import ApplicantErased, AuthenticationTooLow, InvalidApplicant
from ledger.domain.topics import keep_topics

__all__ = [
    "REQUIRED_LEVEL",
    "Action",
    "Applicant",
    "ApplicantKind",
    "AuthenticationLevel",
    "AuthenticationMethod",
    "Vault",
]

MAX_REASON: Final = 200


class Vault(Protocol):
    """What an applicant needs of ``ledger.storage.privacy.PersonalDataVault``."""

    def seal(self, subject_id: UUID, field: str, plaintext: str) -> Sealed: ...

    def open(self, sealed: Sealed) -> str | Erased: ...

    def blind_index(self, kind: str, value: str) -> bytes: ...


class ApplicantKind(StrEnum):
    """申请人类型 and the credentials each may authenticate with (FZ·8)."""

    NATURAL_PERSON = "natural_person"
    """自然人: 身份证号, 社保号 or 外国（地区）护照号"""
    ENTERPRISE = "enterprise"
    """企业 (and 农民专业合作社, 外国企业常驻代表机构): 统一社会信用代码"""
    INSTITUTION = "institution"
    """事业单位及其他社会组织: 法人证"""


CREDENTIALS_BY_KIND: Final[dict[ApplicantKind, frozenset[CredentialKind]]] = {
    ApplicantKind.NATURAL_PERSON: frozenset(
        {CredentialKind.RESIDENT_ID, CredentialKind.SOCIAL_SECURITY, CredentialKind.PASSPORT}
    ),
    ApplicantKind.ENTERPRISE: frozenset({CredentialKind.USCC, CredentialKind.REGISTRATION_NUMBER}),
    ApplicantKind.INSTITUTION: frozenset({CredentialKind.INSTITUTION}),
}


class AuthenticationLevel(StrEnum):
    """实名认证程度 (FZ·8), in increasing order."""

    NONE = "none"
    """非实名认证"""
    BASIC = "basic"
    """初级认证"""
    ADVANCED = "advanced"
    """中高级认证"""

    @property
    def rank(self) -> int:
        return _LEVEL_ORDER.index(self)


_LEVEL_ORDER: Final = (
    AuthenticationLevel.NONE,
    AuthenticationLevel.BASIC,
    AuthenticationLevel.ADVANCED,
)


class AuthenticationMethod(StrEnum):
    """How the identity was verified when the level was raised (统一身份认证平台)."""

    PASSWORD = "password"
    """账号密码"""
    SMS = "sms"
    """短信验证码"""
    BANK_CARD = "bank card"
    """银行卡核验"""
    FACE = "face"
    """人脸识别"""
    ELECTRONIC_ID = "electronic id"
    """电子身份证 / 网证"""
    DIGITAL_CERTIFICATE = "digital certificate"
    """CA 数字证书 (enterprises)"""
    WINDOW = "window"
    """窗口现场核验"""


class Action(StrEnum):
    """网上办事权限 of FZ·8."""

    BROWSE = "browse"
    """信息浏览"""
    FAVOURITES = "favourites"
    """信息收藏"""
    APPOINTMENT = "appointment"
    """办事预约"""
    PERSONAL_HOUSING_FUND = "personal_housing_fund"
    """个人公积金"""
    PERSONAL_MEDICAL_INSURANCE = "personal_medical_insurance"
    """个人医保"""
    PERSONAL_SOCIAL_INSURANCE = "personal_social_insurance"
    """个人社保"""
    ENTERPRISE_CREDIT = "enterprise_credit"
    """企业信用"""
    PERSONAL_CERTIFICATES = "personal_certificates"
    """个人证照"""
    ONLINE_APPLICATION = "online_application"
    """在线申报"""
    ENTERPRISE_CERTIFICATES = "enterprise_certificates"
    """企业证照"""


REQUIRED_LEVEL: Final[dict[Action, AuthenticationLevel]] = {
    Action.BROWSE: AuthenticationLevel.NONE,
    Action.FAVOURITES: AuthenticationLevel.NONE,
    Action.APPOINTMENT: AuthenticationLevel.BASIC,
    Action.PERSONAL_HOUSING_FUND: AuthenticationLevel.BASIC,
    Action.PERSONAL_MEDICAL_INSURANCE: AuthenticationLevel.BASIC,
    Action.PERSONAL_SOCIAL_INSURANCE: AuthenticationLevel.BASIC,
    Action.ENTERPRISE_CREDIT: AuthenticationLevel.BASIC,
    Action.PERSONAL_CERTIFICATES: AuthenticationLevel.ADVANCED,
    Action.ONLINE_APPLICATION: AuthenticationLevel.ADVANCED,
    Action.ENTERPRISE_CERTIFICATES: AuthenticationLevel.ADVANCED,
}
"""The lowest level that grants each action (FZ·8 (一)–(三))."""


_E = TypeVar("_E", bound=StrEnum)


def _member(field: str, enum: type[_E], value: object) -> _E:
    try:
        return enum(value)  # type: ignore[arg-type]
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in enum)
        raise InvalidApplicant(
            field, f"unknown value {value!r}: expected one of {allowed}"
        ) from None


def _reason(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidApplicant("reason", "must be non-empty text")
    if len(value) > MAX_REASON:
        raise InvalidApplicant("reason", f"longer than {MAX_REASON} characters")
    return value


def _credential_text(credential: Credential) -> str:
    return json.dumps([credential.kind.value, credential.value, credential.country])


def _index_value(credential: Credential) -> str:
    if credential.country is not None:
        return f"{credential.country}:{credential.value}"
    return credential.value


class Applicant(Aggregate):
    """A registered applicant; its id is also the subject id its personal data is sealed under."""

    @classmethod
    def register(
        cls,
        vault: Vault,
        *,
        kind: ApplicantKind | str,
        credential: Credential,
        personal: PersonalData,
        level: AuthenticationLevel | str = AuthenticationLevel.NONE,
        method: AuthenticationMethod | str | None = None,
        applicant_id: UUID | None = None,
    ) -> Applicant:
        """Register an applicant, sealing its credential and personal data with ``vault``.

        Raises :class:`InvalidApplicant` when the credential does not fit the kind, the
        personal data is erased, or a level above ``none`` comes without its method.
        """
        kind = _member("kind", ApplicantKind, kind)
        if not isinstance(credential, Credential):
            raise InvalidApplicant(
                "credential", "must be a validated ledger.domain.identity.Credential"
            )
        if credential.kind not in CREDENTIALS_BY_KIND[kind]:
            allowed = ", ".join(sorted(k.value for k in CREDENTIALS_BY_KIND[kind]))
            raise InvalidApplicant(
                "credential_kind",
                f"a {kind.value} authenticates with {allowed}, not {credential.kind.value}",
            )
        if not isinstance(personal, PersonalData) or personal.erased:
            raise InvalidApplicant("personal", "must be PersonalData with a name")
        level = _member("authentication_level", AuthenticationLevel, level)
        method_value = ""
        if level is not AuthenticationLevel.NONE:
            if method is None:
                raise InvalidApplicant(
                    "authentication_method", f"a {level.value} level states how it was verified"
                )
            method_value = _member("authentication_method", AuthenticationMethod, method).value
        subject = applicant_id if applicant_id is not None else uuid4()
        if not isinstance(subject, UUID):
            raise InvalidApplicant("applicant_id", "must be a UUID")

        def seal(field: str, value: str | Erased | None) -> bytes | None:
            if value is None or isinstance(value, Erased):
                return None
            return vault.seal(subject, field, value).ciphertext

        return cls._create(
            cls.Registered,  # type: ignore[attr-defined]  # made by @event("Registered")
            id=subject,
            kind=kind.value,
            credential_kind=credential.kind.value,
            credential_index=vault.blind_index(credential.kind.value, _index_value(credential)),
            credential=seal("credential", _credential_text(credential)),
            name=seal("name", personal.name),
            phone=seal("phone", personal.phone),
            address=seal("address", personal.address),
            authentication_level=level.value,
            authentication_method=method_value,
        )

    @event("Registered")
    def __init__(
        self,
        kind: str,
        credential_kind: str,
        credential_index: bytes,
        credential: bytes,
        name: bytes,
        phone: bytes | None,
        address: bytes | None,
        authentication_level: str,
        authentication_method: str,
    ) -> None:
        self.kind = ApplicantKind(kind)
        self.credential_kind = CredentialKind(credential_kind)
        self.credential_index: bytes | None = credential_index
        self._sealed: dict[str, bytes | None] = {
            "credential": credential,
            "name": name,
            "phone": phone,
            "address": address,
        }
        self.authentication_level = AuthenticationLevel(authentication_level)
        self.authentication_method = authentication_method
        self.erased = False
        self.erasure_reason = ""

    @event("AuthenticationRaised")
    def _authentication_raised(self, level: str, method: str) -> None:
        self.authentication_level = AuthenticationLevel(level)
        self.authentication_method = method

    @event("AuthenticationLowered")
    def _authentication_lowered(self, level: str, reason: str) -> None:
        self.authentication_level = AuthenticationLevel(level)

    @event("Erased")
    def _erased(self, reason: str) -> None:
        self.erased = True
        self.erasure_reason = reason
        self.credential_index = None
        self._sealed = dict.fromkeys(self._sealed)

    # -- commands -------------------------------------------------------------------------

    def _require_not_erased(self) -> None:
        if self.erased:
            raise ApplicantErased(f"applicant: {self.id} was erased")

    def raise_authentication(
        self, level: AuthenticationLevel | str, method: AuthenticationMethod | str
    ) -> None:
        """Record a higher authentication level and how it was verified (e.g. face, bank card)."""
        self._require_not_erased()
        level = _member("authentication_level", AuthenticationLevel, level)
        method = _member("authentication_method", AuthenticationMethod, method)
        if level.rank <= self.authentication_level.rank:
            raise InvalidApplicant(
                "authentication_level",
                f"{level.value} does not raise the current level {self.authentication_level.value}",
            )
        self._authentication_raised(level.value, method.value)

    def lower_authentication(self, level: AuthenticationLevel | str, reason: str) -> None:
        """Record a lower authentication level (e.g. a credential expired), with the reason."""
        self._require_not_erased()
        level = _member("authentication_level", AuthenticationLevel, level)
        if level.rank >= self.authentication_level.rank:
            raise InvalidApplicant(
                "authentication_level",
                f"{level.value} does not lower the current level {self.authentication_level.value}",
            )
        self._authentication_lowered(level.value, _reason(reason))

    def erase(self, reason: str) -> None:
        """Record the erasure of the applicant's personal data; then destroy its key."""
        self._require_not_erased()
        self._erased(_reason(reason))

    # -- access (FZ·8) --------------------------------------------------------------------

    def can(self, action: Action | str) -> bool:
        """Whether the applicant's level grants ``action`` (FZ·8); an erased applicant can't."""
        action = _member("action", Action, action)
        if self.erased:
            return False
        return self.authentication_level.rank >= REQUIRED_LEVEL[action].rank

    def authorise(self, action: Action | str) -> None:
        """Raise :class:`AuthenticationTooLow` (FZ·8) unless the level grants ``action``."""
        action = _member("action", Action, action)
        self._require_not_erased()
        required = REQUIRED_LEVEL[action]
        if self.authentication_level.rank < required.rank:
            raise AuthenticationTooLow(
                f"authentication_level: {action.value} needs the {required.value} level, "
                f"applicant has {self.authentication_level.value}",
                action=action.value,
                required=required.value,
                actual=self.authentication_level.value,
            )

    # -- personal data --------------------------------------------------------------------

    def sealed(self, field: str) -> Sealed | None:
        """The sealed ``field`` (credential, name, phone, address); ``None`` if absent or erased."""
        if field not in self._sealed:
            raise InvalidApplicant("field", f"unknown personal field {field!r}")
        ciphertext = self._sealed[field]
        return None if ciphertext is None else Sealed(self.id, field, ciphertext)

    def _open(self, vault: Vault, field: str) -> str | Erased | None:
        if self.erased:
            return ERASED
        sealed = self.sealed(field)
        return None if sealed is None else vault.open(sealed)

    def personal_data(self, vault: Vault) -> PersonalData:
        """The clear name, phone and address; every field :data:`ERASED` once erased."""
        if self.erased:
            return PersonalData(ERASED, ERASED, ERASED)
        name = self._open(vault, "name")
        return PersonalData(
            ERASED if name is None else name,
            self._open(vault, "phone"),
            self._open(vault, "address"),
        )

    def credential(self, vault: Vault) -> Credential | Erased:
        """The clear credential, or :data:`ERASED`."""
        text = self._open(vault, "credential")
        if text is None or isinstance(text, Erased):
            return ERASED
        try:
            kind, value, country = json.loads(text)
            return parse_credential(kind, value, country)
        except (ValueError, TypeError, CredentialError) as exc:
            raise InvalidApplicant("credential", f"sealed credential unreadable: {exc}") from exc


keep_topics(globals(), "ledger.applicants")
