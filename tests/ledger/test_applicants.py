"""Applicants: credentials per kind (GZ16·7, PY·7, FZ·8), FZ·8 authentication levels, personal
data only sealed in events, and erasure that leaves the signed chain verifiable (invariant 5)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from ledger.chain.verification import verify_chain
from ledger.domain.applicants import (
    REQUIRED_LEVEL,
    Action,
    Applicant,
    ApplicantKind,
    AuthenticationLevel,
    AuthenticationMethod,
)
from ledger.domain.identity import parse_credential
from ledger.domain.personal_data import ERASED, PersonalData, Sealed
from ledger.domain.rules import ApplicantErased, AuthenticationTooLow, InvalidApplicant
from ledger.encoding import canonical
from ledger.storage.privacy import PersonalDataVault
from tests.ledger.conftest import SignedLedger

RESIDENT_ID = "11010519491231002X"
USCC = "91350100M000100Y43"
PERSON = PersonalData("张三丰", "13800138000", "广州市天河区天河路1号")


def register_person(vault: PersonalDataVault, **kwargs: Any) -> Applicant:
    values: dict[str, Any] = {
        "kind": ApplicantKind.NATURAL_PERSON,
        "credential": parse_credential("resident_id", RESIDENT_ID),
        "personal": PERSON,
    }
    values.update(kwargs)
    return Applicant.register(vault, **values)


def event_bytes(applicant: Applicant) -> bytes:
    return b"".join(canonical(dict(vars(e))) for e in applicant.pending_events)


# --- registration ---------------------------------------------------------------------------------


def test_registered_person_reads_back_personal_data_and_credential(
    vault: PersonalDataVault,
) -> None:
    applicant = register_person(vault)
    assert applicant.kind is ApplicantKind.NATURAL_PERSON
    assert applicant.personal_data(vault) == PERSON
    assert applicant.credential(vault) == parse_credential("resident_id", RESIDENT_ID)
    assert applicant.authentication_level is AuthenticationLevel.NONE


def test_events_hold_no_clear_personal_data_invariant_5(vault: PersonalDataVault) -> None:
    applicant = register_person(vault)
    data = event_bytes(applicant)
    for clear in ("张三丰", "13800138000", "天河路", RESIDENT_ID, RESIDENT_ID[:17]):
        assert clear.encode() not in data
    registered = applicant.pending_events[0]
    assert registered.credential_index == vault.blind_index(  # type: ignore[attr-defined]
        "resident_id", RESIDENT_ID.lower()
    )


def test_events_are_canonical_encodable(vault: PersonalDataVault) -> None:
    applicant = register_person(vault, level="advanced", method="face")
    applicant.lower_authentication("basic", "证件过期")
    applicant.erase("申请人要求删除个人信息")
    assert event_bytes(applicant)


def test_enterprise_registers_with_its_unified_social_credit_code_FZ_8(
    vault: PersonalDataVault,
) -> None:
    enterprise = Applicant.register(
        vault,
        kind="enterprise",
        credential=parse_credential("uscc", USCC),
        personal=PersonalData("福州某某科技有限公司"),
    )
    assert enterprise.credential(vault) == parse_credential("uscc", USCC)
    assert enterprise.personal_data(vault).phone is None


@pytest.mark.parametrize(
    ("kind", "credential"),
    [
        ("enterprise", ("resident_id", RESIDENT_ID)),
        ("natural_person", ("uscc", USCC)),
        ("institution", ("uscc", USCC)),
    ],
)
def test_credential_that_does_not_fit_the_applicant_kind_is_rejected_GZ16_7(
    vault: PersonalDataVault, kind: str, credential: tuple[str, str]
) -> None:
    with pytest.raises(InvalidApplicant) as caught:
        register_person(vault, kind=kind, credential=parse_credential(*credential))
    assert caught.value.field == "credential_kind"
    assert "FZ·8" in caught.value.rule


def test_unvalidated_credential_text_is_rejected(vault: PersonalDataVault) -> None:
    with pytest.raises(InvalidApplicant) as caught:
        register_person(vault, credential=RESIDENT_ID)
    assert caught.value.field == "credential"


def test_unknown_applicant_kind_is_rejected(vault: PersonalDataVault) -> None:
    with pytest.raises(InvalidApplicant) as caught:
        register_person(vault, kind="robot")
    assert caught.value.field == "kind"


def test_registering_above_none_states_the_method(vault: PersonalDataVault) -> None:
    with pytest.raises(InvalidApplicant) as caught:
        register_person(vault, level="basic")
    assert caught.value.field == "authentication_method"
    assert register_person(vault, level="basic", method="sms").authentication_method == "sms"


# --- authentication levels (FZ·8) -----------------------------------------------------------------

EXPECTED_RIGHTS = {
    "none": {"browse", "favourites"},
    "basic": {
        "browse", "favourites", "appointment", "personal_housing_fund",
        "personal_medical_insurance", "personal_social_insurance", "enterprise_credit",
    },
    "advanced": {a.value for a in Action},
}  # fmt: skip


@pytest.mark.parametrize("level", ["none", "basic", "advanced"])
def test_each_authentication_level_grants_the_rights_of_FZ_8(
    vault: PersonalDataVault, level: str
) -> None:
    method = None if level == "none" else "face"
    applicant = register_person(vault, level=level, method=method)
    assert {a.value for a in Action if applicant.can(a)} == EXPECTED_RIGHTS[level]


def test_online_application_needs_advanced_authentication_FZ_8(vault: PersonalDataVault) -> None:
    applicant = register_person(vault, level="basic", method="bank card")
    with pytest.raises(AuthenticationTooLow) as caught:
        applicant.authorise(Action.ONLINE_APPLICATION)
    assert caught.value.rule == "FZ·8"
    assert caught.value.code == "authentication-too-low"
    assert (caught.value.required, caught.value.actual) == ("advanced", "basic")
    assert "online_application" in str(caught.value)
    applicant.raise_authentication("advanced", AuthenticationMethod.FACE)
    applicant.authorise("online_application")
    assert REQUIRED_LEVEL[Action.ONLINE_APPLICATION] is AuthenticationLevel.ADVANCED


def test_raising_must_raise_and_state_a_known_method(vault: PersonalDataVault) -> None:
    applicant = register_person(vault, level="basic", method="sms")
    with pytest.raises(InvalidApplicant) as caught:
        applicant.raise_authentication("basic", "face")
    assert caught.value.field == "authentication_level"
    with pytest.raises(InvalidApplicant) as caught:
        applicant.raise_authentication("advanced", "telepathy")
    assert caught.value.field == "authentication_method"


def test_lowering_must_lower_and_give_a_reason(vault: PersonalDataVault) -> None:
    applicant = register_person(vault, level="advanced", method="face")
    with pytest.raises(InvalidApplicant):
        applicant.lower_authentication("advanced", "no change")
    with pytest.raises(InvalidApplicant) as caught:
        applicant.lower_authentication("basic", "")
    assert caught.value.field == "reason"
    applicant.lower_authentication("none", "账号被冒用")
    assert not applicant.can("appointment")


def test_unknown_action_is_rejected(vault: PersonalDataVault) -> None:
    with pytest.raises(InvalidApplicant) as caught:
        register_person(vault).can("fly")
    assert caught.value.field == "action"


# --- erasure (DESIGN invariant 5) -----------------------------------------------------------------


def test_erased_applicant_reads_ERASED_and_can_do_nothing(vault: PersonalDataVault) -> None:
    applicant = register_person(vault, level="advanced", method="face")
    old_name = applicant.sealed("name")
    applicant.erase("申请人要求删除个人信息")
    vault.erase(applicant.id)
    assert applicant.personal_data(vault) == PersonalData(ERASED, ERASED, ERASED)
    assert applicant.credential(vault) is ERASED
    assert applicant.sealed("name") is None
    assert applicant.credential_index is None
    assert old_name is not None and vault.open(old_name) is ERASED
    assert not applicant.can("browse")
    with pytest.raises(ApplicantErased):
        applicant.authorise("browse")
    with pytest.raises(ApplicantErased):
        applicant.raise_authentication("advanced", "face")
    with pytest.raises(ApplicantErased):
        applicant.erase("again")


def test_erasure_is_recorded_in_the_chain_and_the_signed_chain_still_verifies(
    ledger: SignedLedger, vault: PersonalDataVault
) -> None:
    applicant = register_person(vault, applicant_id=uuid4())
    applicant.raise_authentication("advanced", "bank card")
    ledger.app.save_signed(applicant, signer=ledger.department)
    before: Applicant = ledger.app.repository.get(applicant.id)
    assert before.personal_data(vault) == PERSON

    applicant.erase("申请人要求删除个人信息")
    ledger.app.save_signed(applicant, signer=ledger.department)
    assert vault.erase(applicant.id)

    # The stored Registered event still holds its ciphertexts, which now open as ERASED.
    registered = next(iter(ledger.app.events.get(applicant.id)))
    assert vault.open(Sealed(applicant.id, "name", registered.name)) is ERASED  # type: ignore[attr-defined]
    after: Applicant = ledger.app.repository.get(applicant.id)
    assert isinstance(after, Applicant) and after.erased
    assert after.personal_data(vault).name is ERASED
    topics = [e.topic for e in ledger.app.chain.select_entries(1, 100)]
    assert topics[-1] == "ledger.applicants:Applicant.Erased"
    assert verify_chain(ledger.app.chain).ok
