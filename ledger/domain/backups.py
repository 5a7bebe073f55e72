"""Backups and accepted restores of the ledger, recorded as facts of the ledger itself.

Layer: domain (standard library, ``eventsourcing.domain`` and ledger domain modules). RULES.md
"Archiving": the platform keeps periodic backups (NH·22), so each backup is an event of one
:class:`BackupLog` aggregate, signed by the platform key: the chain head the backup holds
(sequence and entry hash), the SHA-256 and size of the backup file, how it was taken and when.
The backup cannot hold its own event (the file's digest is known only once it is written), so
``Taken`` follows the head it covers.

Restoring an older backup loses the entries after its head. The loss becomes a recorded,
verifiable act only when an operator accepts it (``caseledger rollback accept``): the
``RestoreAccepted`` event keeps the head the ledger was restored to, the range of sequences
lost and the hash of the newest lost head the installation knew, the anchored size the node
held, the anchoring origin before and after (a loss of anchored entries starts a new origin),
the serial-number floors carried over (no number of the lost history is given again) and the
operator's reason. Replay only assigns state; the rules are checked in the commands.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain.rules import InvalidBackupRecord
from ledger.domain.topics import keep_topics

__all__ = [
    "BACKUP_METHODS",
    "BACKUP_NAMESPACE",
    "BACKUP_RULE",
    "BackupLog",
    "InvalidBackupRecord",
]

BACKUP_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/backups")
BACKUP_RULE: Final = "NH·22"
BACKUP_METHODS: Final = frozenset({"sqlite-backup-api", "pg_dump"})
HASH_SIZE: Final = 32
MAX_REASON: Final = 500
_TEXT: Final = re.compile(r"[^\x00-\x1f\x7f]{1,500}")
_SERIAL_KEY: Final = re.compile(r"[0-9A-Z-]{2,32}/[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _hash(field: str, value: object) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise InvalidBackupRecord(field, f"must be {HASH_SIZE} bytes")
    return value


def _count(field: str, value: object, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidBackupRecord(field, f"must be a whole number of at least {minimum}")
    return value


def _text(field: str, value: object) -> str:
    if not isinstance(value, str) or not _TEXT.fullmatch(value):
        raise InvalidBackupRecord(field, f"must be one line of 1–{MAX_REASON} characters")
    return value


def _time(field: str, value: object) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise InvalidBackupRecord(field, "must be a time-zone-aware datetime")
    return value


class BackupLog(Aggregate):
    """The ledger's backups and accepted restores (one aggregate per ledger)."""

    @staticmethod
    def create_id() -> UUID:
        return uuid5(BACKUP_NAMESPACE, "backup-log")

    @classmethod
    def id_for(cls) -> UUID:
        return cls.create_id()

    @event("Opened")
    def __init__(self) -> None:
        self.backups = 0
        self.last_backup_sequence = 0
        self.last_backup_sha256 = b""
        self.restores = 0
        self.last_restore_sequence = 0

    @event("Taken")
    def _taken(
        self,
        head_sequence: int,
        head_hash: bytes,
        sha256: bytes,
        size: int,
        method: str,
        taken_at: dt.datetime,
    ) -> None:
        self.backups += 1
        self.last_backup_sequence = head_sequence
        self.last_backup_sha256 = sha256

    def taken(
        self,
        *,
        head_sequence: int,
        head_hash: bytes,
        sha256: bytes,
        size: int,
        method: str,
        taken_at: dt.datetime,
    ) -> None:
        """Record a backup of the log up to ``head_sequence`` (NH·22). Raises
        :class:`InvalidBackupRecord` naming a malformed field."""
        if method not in BACKUP_METHODS:
            raise InvalidBackupRecord("method", f"one of {', '.join(sorted(BACKUP_METHODS))}")
        self._taken(
            _count("head_sequence", head_sequence, 1),
            _hash("head_hash", head_hash),
            _hash("sha256", sha256),
            _count("size", size, 1),
            method,
            _time("taken_at", taken_at),
        )

    @event("RestoreAccepted")
    def _restore_accepted(
        self,
        restored_sequence: int,
        restored_hash: bytes,
        lost_from: int,
        lost_to: int,
        lost_head_hash: bytes,
        node_size: int,
        origin_before: str,
        origin_after: str,
        serial_floors: dict[str, int],
        reason: str,
        accepted_at: dt.datetime,
    ) -> None:
        self.restores += 1
        self.last_restore_sequence = restored_sequence

    def restore_accepted(
        self,
        *,
        restored_sequence: int,
        restored_hash: bytes,
        lost_from: int,
        lost_to: int,
        lost_head_hash: bytes,
        node_size: int,
        origin_before: str,
        origin_after: str,
        serial_floors: dict[str, int],
        reason: str,
        accepted_at: dt.datetime,
    ) -> None:
        """Record that an operator accepted a restore to ``restored_sequence``, losing
        sequences ``lost_from``–``lost_to`` (none lost: ``lost_from = lost_to + 1``, and
        ``lost_head_hash`` is the restored head's). Raises :class:`InvalidBackupRecord`."""
        _count("restored_sequence", restored_sequence, 1)
        if lost_from != restored_sequence + 1:
            raise InvalidBackupRecord("lost_from", "must follow the restored head")
        if _count("lost_to", lost_to) < restored_sequence:
            raise InvalidBackupRecord("lost_to", "must not be below the restored head")
        _count("node_size", node_size)
        for origin, name in ((origin_before, "origin_before"), (origin_after, "origin_after")):
            if origin:
                _text(name, origin)
        if not isinstance(serial_floors, dict) or not all(
            isinstance(k, str) and _SERIAL_KEY.fullmatch(k) and _count("serial_floors", v) >= 0
            for k, v in serial_floors.items()
        ):
            raise InvalidBackupRecord("serial_floors", "{'<department>/<YYYY-MM-DD>': number}")
        self._restore_accepted(
            restored_sequence,
            _hash("restored_hash", restored_hash),
            lost_from,
            lost_to,
            _hash("lost_head_hash", lost_head_hash),
            node_size,
            origin_before,
            origin_after,
            dict(sorted(serial_floors.items())),
            _text("reason", reason),
            _time("accepted_at", accepted_at),
        )


BACKUP_TAKEN_TOPIC: Final = "ledger.backups:BackupLog.Taken"
RESTORE_ACCEPTED_TOPIC: Final = "ledger.backups:BackupLog.RestoreAccepted"

keep_topics(globals(), "ledger.backups")
