"""Serial numbers (申请流水号) and approval codes (统一审批编码): deterministic, checked, unique
per department and day even under a concurrent submission (GZ16·11, PY·11, NH·11)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from ledger.domain.certificate_id import ALPHABET
from ledger.domain.rules import InvalidSerial
from ledger.domain.serials import (
    DailyCounter,
    approval_code,
    parse_approval_code,
    parse_serial,
    serial_number,
)
from tests.ledger.case_world import World, opened_world

DAY = dt.date(2026, 9, 28)


def test_serial_number_is_built_from_department_date_and_counter() -> None:
    serial = serial_number("GZ-SCJG", DAY, 1)
    assert serial == "GZ-SCJG-20260928-000001E"
    parsed = parse_serial(serial)
    assert (parsed.department, parsed.on, parsed.counter) == ("GZ-SCJG", DAY, 1)
    assert str(parsed) == serial


def test_approval_code_is_built_from_the_implementation_code() -> None:
    code = approval_code("11440100MB2C92400X-FOOD-01", DAY, 42)
    parsed = parse_approval_code(code)
    assert (parsed.item_code, parsed.on, parsed.counter) == ("11440100MB2C92400X-FOOD-01", DAY, 42)
    assert str(parsed) == code


@pytest.mark.parametrize("counter", [1, 7, 999_999])
def test_every_single_character_corruption_is_caught(counter: int) -> None:
    serial = serial_number("FZ-SPJ", DAY, counter)
    for position, original in enumerate(serial):
        if original == "-":
            continue
        for replacement in ALPHABET:
            if replacement == original:
                continue
            corrupted = serial[:position] + replacement + serial[position + 1 :]
            with pytest.raises(InvalidSerial):
                parse_serial(corrupted)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "GZ-SCJG",
        "GZ-SCJG-2026092-000001E",
        "GZ-SCJG-20261328-000001X",
        "gz-scjg-20260928-000001E",
        "GZ-SCJG-20260928-0000001",
        "-20260928-000001E",
        "GZ SCJG-20260928-000001E",
        "X" * 500,
        None,
        42,
    ],
)
def test_malformed_serial_raises_invalid_serial_never_a_stray_error(text: Any) -> None:
    with pytest.raises(InvalidSerial) as caught:
        parse_serial(text)
    assert caught.value.field == "serial"


@pytest.mark.parametrize(
    ("department", "on", "counter"),
    [
        ("gz", DAY, 1),
        ("GZ-SCJG", dt.datetime(2026, 9, 28), 1),
        ("GZ-SCJG", DAY, 0),
        ("GZ-SCJG", DAY, 10**6),
    ],
)
def test_serial_arguments_are_checked(department: str, on: Any, counter: int) -> None:
    with pytest.raises(InvalidSerial):
        serial_number(department, on, counter)


def test_daily_counter_numbers_one_department_day() -> None:
    counter = DailyCounter.open("GZ-SCJG", DAY)
    assert [counter.allocate() for _ in range(3)] == [1, 2, 3]
    assert DailyCounter.id_for("GZ-SCJG", DAY) == counter.id != DailyCounter.id_for("GZ-GA", DAY)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with opened_world(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tmp_path) as w:
        yield w


def test_a_concurrent_submission_never_takes_the_same_serial(world: World) -> None:
    first = world.submit_food()
    real_save = world.ledger.save_signed
    raced = []

    def racing_save(*aggregates: Any, signer: Any, **kwargs: Any) -> Any:
        if not raced:  # another writer numbers a case between our read and our write
            raced.append(True)
            rival = world.ledger.repository.get(DailyCounter.id_for("GZ-SCJG", DAY))
            rival.allocate()
            real_save(rival, signer=world.food)
        return real_save(*aggregates, signer=signer, **kwargs)

    world.ledger.save_signed = racing_save  # type: ignore[method-assign]
    second = world.submit_food()
    assert raced and second.serial == serial_number("GZ-SCJG", DAY, 3)
    assert first.serial == serial_number("GZ-SCJG", DAY, 1)


def test_two_writers_of_one_counter_conflict(world: World) -> None:
    world.submit_food()
    a = world.ledger.repository.get(DailyCounter.id_for("GZ-SCJG", DAY))
    b = world.ledger.repository.get(DailyCounter.id_for("GZ-SCJG", DAY))
    a.allocate()
    b.allocate()
    world.ledger.save_signed(a, signer=world.food)
    head = world.head()
    with pytest.raises(IntegrityError):
        world.ledger.save_signed(b, signer=world.food)
    assert world.head() == head
