"""Least privilege for personal data (GZ20·25, NH·23, GZ16·21): who may read an applicant,
what a clear read records, and time-limited grants — on a real ledger, both backends."""

from __future__ import annotations

import dataclasses
import datetime as dt
from functools import partial
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from ledger.chain.signing import Ed25519Signer
from ledger.domain.access import (
    MAX_PURPOSE,
    InvalidGrant,
    InvalidPurpose,
    PersonalDataAccess,
    PersonalDataGrant,
    PurposeRequired,
    check_purpose,
    record_read,
)
from ledger.domain.keys import KeyRole
from ledger.services.application import KeyNotUsable
from ledger.services.personal_data import PersonalDataService, ReadBasis, UnknownApplicant
from tests.ledger.case_world import CARD_DEPT, FOOD_DEPT, World, build_world

NOW = dt.datetime(2026, 10, 9, 2, 0, tzinfo=dt.UTC)


class Holdings:
    """The ``cases_of`` port as the progress view answers it: which department holds a
    case of which applicant."""

    def __init__(self) -> None:
        self.serials: dict[tuple[UUID, str], str] = {}

    def __call__(self, applicant_id: UUID, department: str) -> str | None:
        return self.serials.get((applicant_id, department))


@pytest.fixture
def world(storage_url: str, tmp_path: Path) -> World:
    return build_world(storage_url, tmp_path)


@pytest.fixture
def supervisor(world: World) -> Ed25519Signer:
    signer = Ed25519Signer.generate("supervisor:ZWFW")
    world.ledger.register_key(
        signer.public_key,
        signer.key_id,
        actor="supervisor:ZWFW",
        role=KeyRole.SUPERVISOR,
        department="ZWFW",
        by=world.platform,
    )
    return signer


def head(world: World) -> int:
    found = world.ledger.chain.chain_head()
    return 0 if found is None else found.sequence


def test_only_a_department_holding_a_case_reads_and_oversight_reads_masked(world: World) -> None:
    holdings = Holdings()
    service = PersonalDataService(world.ledger, holdings)
    who = world.person.id
    assert service.basis(who, department=FOOD_DEPT, at=NOW) is None
    assert service.basis(who, department="", at=NOW) is None
    holdings.serials[(who, FOOD_DEPT)] = "GZ-SCJG-20261009-000001Q"
    found = service.basis(who, department=FOOD_DEPT, at=NOW)
    assert found == ReadBasis("case", "GZ-SCJG-20261009-000001Q") and found.clear
    assert service.basis(who, department=CARD_DEPT, at=NOW) is None
    oversight = service.basis(who, department=None, at=NOW)
    assert oversight == ReadBasis("oversight") and not oversight.clear
    with pytest.raises(ValueError, match="oversight"):
        service.record_read(
            who,
            ["name"],
            basis=oversight,
            reader="t",
            reader_role="supervisor",
            reader_department="",
            purpose="核对",
            signer=world.platform,
        )
    with pytest.raises(UnknownApplicant):
        service.applicant(uuid4())


def test_a_clear_read_is_recorded_with_its_purpose_and_basis(world: World) -> None:
    service = PersonalDataService(world.ledger, Holdings())
    basis = ReadBasis("case", "GZ-SCJG-20261009-000001Q")
    read = partial(
        service.record_read,
        world.person.id,
        basis=basis,
        reader="tok",
        reader_role="department",
        reader_department=FOOD_DEPT,
        signer=world.food,
    )
    before = head(world)
    with pytest.raises(PurposeRequired):
        read(["name"], purpose="  ")
    assert head(world) == before  # a refused read records nothing
    access = read(["phone", "name"], purpose=" 核对申请人身份　（受理审查） ")
    stored = world.ledger.repository.get(access.id)
    assert isinstance(stored, PersonalDataAccess)
    assert stored.basis == "case:GZ-SCJG-20261009-000001Q"
    assert stored.purpose == "核对申请人身份　（受理审查）" and stored.fields == ["name", "phone"]
    assert head(world) == before + 1


def test_a_grant_allows_one_department_until_it_ends(
    world: World, supervisor: Ed25519Signer
) -> None:
    service = PersonalDataService(world.ledger, Holdings())
    who = world.person.id
    grant = service.grant(
        who, CARD_DEPT, reason="投诉核查（12345 工单）", hours=2, at=NOW, signer=supervisor
    )
    assert grant.until == NOW + dt.timedelta(hours=2)
    assert grant.granted_by == "supervisor:supervisor:ZWFW"
    found = service.basis(who, department=CARD_DEPT, at=NOW + dt.timedelta(minutes=119))
    assert found == ReadBasis("grant", f"{grant.id}@{grant.version}") and found.clear
    assert service.basis(who, department=CARD_DEPT, at=NOW + dt.timedelta(hours=2)) is None
    assert service.basis(who, department=FOOD_DEPT, at=NOW) is None  # one department only
    assert service.basis(world.enterprise.id, department=CARD_DEPT, at=NOW) is None
    later = NOW + dt.timedelta(hours=3)
    again = service.grant(who, CARD_DEPT, reason="复查", hours=1, at=later, signer=world.platform)
    assert again.id == grant.id and again.version == grant.version + 1
    assert service.basis(who, department=CARD_DEPT, at=later) == ReadBasis(
        "grant", f"{grant.id}@{again.version}"
    )
    assert isinstance(world.ledger.repository.get(grant.id), PersonalDataGrant)


def test_a_grant_is_refused_whole_when_anything_is_wrong(
    world: World, supervisor: Ed25519Signer
) -> None:
    service = PersonalDataService(world.ledger, Holdings())
    who = world.person.id
    before = head(world)
    with pytest.raises(KeyNotUsable):  # a department may not grant itself access
        service.grant(who, FOOD_DEPT, reason="自行授权", hours=1, at=NOW, signer=world.food)
    with pytest.raises(InvalidGrant, match="department"):
        service.grant(who, "NO-SUCH", reason="核查", hours=1, at=NOW, signer=supervisor)
    with pytest.raises(InvalidGrant, match="department"):
        service.grant(who, "bad code!", reason="核查", hours=1, at=NOW, signer=supervisor)
    for hours in (0, 169):
        with pytest.raises(InvalidGrant, match="hours"):
            service.grant(who, CARD_DEPT, reason="核查", hours=hours, at=NOW, signer=supervisor)
    with pytest.raises(InvalidPurpose, match="reason"):
        service.grant(who, CARD_DEPT, reason="核\x00查", hours=1, at=NOW, signer=supervisor)
    with pytest.raises(UnknownApplicant):
        service.grant(uuid4(), CARD_DEPT, reason="核查", hours=1, at=NOW, signer=supervisor)
    assert head(world) == before


@pytest.mark.parametrize(
    "text",
    [
        "核对\x00身份",
        "a\x07b",
        "line\nbreak",
        "\u202egnp.exe",
        "zero\u200bwidth",
        "\ue000",
        "x" * 201,
    ],
)
def test_a_purpose_must_be_printable_text_of_bounded_length(text: str) -> None:
    with pytest.raises(InvalidPurpose):
        check_purpose(text)


def test_printable_purposes_are_kept_as_stated() -> None:
    assert check_purpose("核对申请人身份　（受理审查）") == "核对申请人身份　（受理审查）"
    assert check_purpose("x" * MAX_PURPOSE) == "x" * MAX_PURPOSE
    assert check_purpose("  Überprüfung: 100% ✓ ") == "Überprüfung: 100% ✓"
    for empty in ("", "   ", None):
        with pytest.raises(PurposeRequired):
            check_purpose(empty)


def test_reads_recorded_before_the_basis_field_still_replay(world: World) -> None:
    """Events stored before ``basis`` existed carry no such key: they load as basis ''."""
    access = record_read(
        world.person.id,
        ["name"],
        reader="tok",
        reader_role="department",
        reader_department=FOOD_DEPT,
        purpose="核对",
        basis="case:GZ-SCJG-20261009-000001Q",
    )
    mapper = world.ledger.mapper
    stored = mapper.to_stored_event(access.collect_events()[0])
    state = mapper.transcoder.decode(stored.state)
    del state["basis"]
    old = dataclasses.replace(stored, state=mapper.transcoder.encode(state))
    replayed = mapper.to_domain_event(old).mutate(None)
    assert isinstance(replayed, PersonalDataAccess)
    assert replayed.basis == "" and replayed.purpose == "核对"
