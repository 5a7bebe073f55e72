"""The head state file beside the keystore: round trip, malformed input, and updates from
several processes at once that never lose one another's serial floors."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
from pathlib import Path

import pytest

from ledger.storage.head_state import (
    HEAD_FILE,
    HEAD_FORMAT,
    HeadAlarm,
    HeadState,
    HeadStateError,
    HeadStateFile,
    KnownHead,
    parse_head_state,
)

DAY = dt.date(2026, 11, 23)
HEAD = KnownHead(bytes(range(32)), 41, bytes(32 * [7]))


def test_a_missing_file_is_an_empty_state(tmp_path: Path) -> None:
    assert HeadStateFile(tmp_path / "keys").read() == HeadState()


def test_a_written_state_reads_back_the_same(tmp_path: Path) -> None:
    file = HeadStateFile(tmp_path / "keys")
    state = (
        HeadState()
        .with_head(HEAD)
        .with_serial("GZ-SCJG", DAY, 64, DAY)
        .with_alarm("anchoring", HeadAlarm("anchor-node-rolled-back", "node at 3, chain 9", "t"))
    )
    written = file.update(lambda _: state)
    back = file.read()
    assert back == written
    assert back.head == HEAD and back.serial_floor("GZ-SCJG", DAY) == 64
    assert back.alarms["anchoring"].code == "anchor-node-rolled-back"
    assert (file.path.stat().st_mode & 0o777) == 0o600


def test_serial_floors_never_go_down_and_old_days_are_dropped(tmp_path: Path) -> None:
    state = HeadState().with_serial("GZ-SCJG", DAY, 64, DAY).with_serial("GZ-SCJG", DAY, 3, DAY)
    assert state.serial_floor("GZ-SCJG", DAY) == 64
    later = DAY + dt.timedelta(days=3)
    moved_on = state.with_serial("GZ-SCJG", later, 1, later)
    assert moved_on.serial_floor("GZ-SCJG", DAY) == 0
    assert moved_on.serial_floor("GZ-SCJG", later) == 1


def test_reset_moves_the_head_back_keeps_floors_and_drops_alarms(tmp_path: Path) -> None:
    file = HeadStateFile(tmp_path)
    file.update(
        lambda s: (
            s.with_head(HEAD)
            .with_serial("GZ-SCJG", DAY, 9, DAY)
            .with_alarm("anchoring", HeadAlarm("ledger-rolled-back", "x", "t"))
        )
    )
    lower = KnownHead(HEAD.log, 5, bytes(32))
    file.reset(lower)
    back = file.read()
    assert back.head == lower and back.serial_floor("GZ-SCJG", DAY) == 9 and not back.alarms


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"format": "something/v9"}, "format"),
        ({"log": "ABC"}, "log"),
        ({"entry_hash": "00" * 31}, "entry_hash"),
        ({"sequence": 0}, "sequence"),
        ({"sequence": True}, "sequence"),
        ({"serials": {"gz-scjg/2026-11-23": 3}}, "serials"),
        ({"serials": {"GZ-SCJG/2026-11-23": -1}}, "serials"),
        ({"serials": []}, "serials"),
        ({"alarms": {"anchoring": {"code": "Bad Code", "detail": "", "since": ""}}}, "alarms"),
        ({"alarms": []}, "alarms"),
    ],
)
def test_a_malformed_state_names_the_field(change: dict[str, object], field: str) -> None:
    good = HeadState().with_head(HEAD).to_json()
    with pytest.raises(HeadStateError, match=field):
        parse_head_state({**good, **change})


def test_an_unreadable_file_raises_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / HEAD_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(HeadStateError, match=HEAD_FILE):
        HeadStateFile(tmp_path).read()
    (tmp_path / HEAD_FILE).write_text(json.dumps({"format": HEAD_FORMAT, "log": 1}))
    with pytest.raises(HeadStateError, match="log"):
        HeadStateFile(tmp_path).read()


def _raise_floors(directory: str, department: str, rounds: int) -> None:
    file = HeadStateFile(Path(directory))
    for n in range(1, rounds + 1):
        file.update(lambda s, n=n: s.with_serial(department, DAY, n, DAY))


def test_processes_updating_at_once_lose_none_of_each_others_floors(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    departments = ["GZ-SCJG", "NH-JTJ", "FZ-SPJ", "GZ-GA"]
    workers = [
        context.Process(target=_raise_floors, args=(str(tmp_path), d, 40)) for d in departments
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    state = HeadStateFile(tmp_path).read()
    assert {d: state.serial_floor(d, DAY) for d in departments} == dict.fromkeys(departments, 40)
