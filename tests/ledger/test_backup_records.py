"""The backup log aggregate (NH·22): records keep what they say, malformed fields are named."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ledger.domain.backups import BACKUP_RULE, BackupLog, InvalidBackupRecord
from ledger.encoding import canonical

AT = dt.datetime(2026, 12, 6, 8, 0, tzinfo=dt.UTC)
TAKEN: dict[str, Any] = {
    "head_sequence": 12,
    "head_hash": b"h" * 32,
    "sha256": b"s" * 32,
    "size": 4096,
    "method": "sqlite-backup-api",
    "taken_at": AT,
}
ACCEPTED: dict[str, Any] = {
    "restored_sequence": 12,
    "restored_hash": b"h" * 32,
    "lost_from": 13,
    "lost_to": 40,
    "lost_head_hash": b"l" * 32,
    "node_size": 30,
    "origin_before": "caseledger.guangzhou.example/bf1ab2221c64bbde",
    "origin_after": "caseledger.guangzhou.example/bf1ab2221c64bbde/restore-1",
    "serial_floors": {"GZ-SCJG/2026-12-06": 17},
    "reason": "disk failure; nightly backup restored",
    "accepted_at": AT,
}


def test_a_backup_and_an_accepted_restore_are_recorded() -> None:
    log = BackupLog()
    log.taken(**TAKEN)
    log.restore_accepted(**ACCEPTED)
    assert (log.backups, log.last_backup_sequence, log.last_backup_sha256) == (1, 12, b"s" * 32)
    assert (log.restores, log.last_restore_sequence) == (1, 12)
    events = log.collect_events()
    assert [type(e).TOPIC for e in events][1:] == [  # type: ignore[attr-defined]
        "ledger.backups:BackupLog.Taken",
        "ledger.backups:BackupLog.RestoreAccepted",
    ]
    assert canonical(events[2].__dict__)  # every field has a canonical encoding


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("head_sequence", 0),
        ("head_hash", b"short"),
        ("sha256", "hex text"),
        ("size", 0),
        ("method", "tar"),
        ("taken_at", dt.datetime(2026, 12, 6)),
    ],
)
def test_a_malformed_backup_record_names_its_field(field: str, value: object) -> None:
    with pytest.raises(InvalidBackupRecord, match=field) as refused:
        BackupLog().taken(**{**TAKEN, field: value})
    assert refused.value.rule == BACKUP_RULE


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lost_from", 20),
        ("lost_to", 11),
        ("restored_hash", b""),
        ("serial_floors", {"gz/2026-12-06": 1}),
        ("reason", ""),
        ("reason", "two\nlines"),
        ("node_size", -1),
    ],
)
def test_a_malformed_restore_record_names_its_field(field: str, value: object) -> None:
    with pytest.raises(InvalidBackupRecord, match=field):
        BackupLog().restore_accepted(**{**ACCEPTED, field: value})
