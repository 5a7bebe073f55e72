"""Recording backups and accepted restores in the chain (NH·22), signed by the platform key.

Layer: ledger services. The one place that loads the :class:`~ledger.domain.backups.BackupLog`
and saves its events; the CLI (``caseledger backup``, ``caseledger rollback accept``) calls
it. Both commands go through the ledger's write gate like any other save, except that an
accepted restore is, by definition, written while the guard still refuses: the caller lifts
the gate for that one command (:func:`record_restore` takes ``bypass_gate``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from eventsourcing.application import AggregateNotFoundError

from ledger.domain.backups import BackupLog
from ledger.domain.signer import Signer
from ledger.services.application import LedgerApplication
from ledger.storage.backup import BackupInfo

__all__ = ["backup_log", "record_backup", "record_restore"]


def backup_log(app: LedgerApplication) -> BackupLog | None:
    """The ledger's backup log, or None before the first backup or restore."""
    try:
        found: object = app.repository.get(BackupLog.create_id())
    except AggregateNotFoundError:
        return None
    return found if isinstance(found, BackupLog) else None


def record_backup(
    app: LedgerApplication, info: BackupInfo, *, signer: Signer, at: dt.datetime
) -> BackupLog:
    """Record ``info`` (a backup just taken) as ``BackupLog.Taken``. Raises what the write
    gate raises (``LedgerRolledBack``), ``InvalidBackupRecord``, ``KeyNotUsable``."""
    log = backup_log(app) or BackupLog()
    log.taken(
        head_sequence=info.head_sequence,
        head_hash=info.head_hash,
        sha256=info.sha256,
        size=info.size,
        method=info.method,
        taken_at=at,
    )
    app.save_signed(log, signer=signer)
    return log


def record_restore(
    app: LedgerApplication,
    *,
    signer: Signer,
    restored_sequence: int,
    restored_hash: bytes,
    lost_to: int,
    lost_head_hash: bytes,
    node_size: int,
    origin_before: str,
    origin_after: str,
    serial_floors: Mapping[str, int],
    reason: str,
    at: dt.datetime,
    bypass_gate: bool = False,
) -> BackupLog:
    """Record an operator's acceptance of a restore as ``BackupLog.RestoreAccepted``.
    ``bypass_gate`` lifts the write gate for this one save (the guard refuses until the
    loss is accepted). Raises ``InvalidBackupRecord``, ``KeyNotUsable``."""
    log = backup_log(app) or BackupLog()
    log.restore_accepted(
        restored_sequence=restored_sequence,
        restored_hash=restored_hash,
        lost_from=restored_sequence + 1,
        lost_to=lost_to,
        lost_head_hash=lost_head_hash,
        node_size=node_size,
        origin_before=origin_before,
        origin_after=origin_after,
        serial_floors=dict(serial_floors),
        reason=reason,
        accepted_at=at,
    )
    gate = app.write_gate
    if bypass_gate:
        app.write_gate = None
    try:
        app.save_signed(log, signer=signer)
    finally:
        app.write_gate = gate
    return log
