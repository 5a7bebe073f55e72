"""``caseledger backup`` / ``restore`` / ``rollback status|accept`` on both backends, by CLI.

A backup is an event of the chain (``BackupLog.Taken``, NH·22) naming the head it holds and
the file's SHA-256; restoring an older one reports exactly which entries are missing, leaves
credentials as they are, keeps the ledger read-only (writers exit 2 with one line) until the
operator accepts, and the accepted loss is itself recorded; the chain verifies throughout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from anchors.node.client import NodeClient
from api.bootstrap import enrol_actor, open_runtime
from api.settings import Settings
from api.tokens import TokenStore
from ledger.domain.backups import BackupLog
from ledger.domain.keys import KeyRole
from ledger.services.application import open_ledger
from ledger.services.custody import backup_log
from ledger.storage.backup import inspect_backup
from ledger.storage.head_state import HeadStateFile
from ledger.storage.urls import parse_storage_url
from tests.anchors.processes import NodeProcess
from tests.api.conftest import PASSPHRASE, ROOT


@dataclass
class Installation:
    db: str
    keys: Path
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api.cli", *args, "--db", self.db],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )

    def enrol(self, *actors: str) -> None:
        runtime = open_runtime(Settings(parse_storage_url(self.db), self.keys, PASSPHRASE))
        try:
            for actor in actors:
                enrol_actor(runtime, f"kiosk:{actor}", KeyRole.KIOSK)
        finally:
            runtime.close()

    def head(self) -> int:
        app = open_ledger(self.db)
        try:
            head = app.chain.chain_head()
            return 0 if head is None else head.sequence
        finally:
            app.close()

    def log(self) -> BackupLog:
        app = open_ledger(self.db)
        try:
            found = backup_log(app)
            assert found is not None
            return found
        finally:
            app.close()


@pytest.fixture
def site(storage_url: str, tmp_path: Path) -> Iterator[Installation]:
    keys = tmp_path / "keys"
    env = {**os.environ, "CASELEDGER_KEY_PASSPHRASE": PASSPHRASE, "CASELEDGER_KEYSTORE": str(keys)}
    env.pop("CASELEDGER_NODE", None)
    found = Installation(storage_url, keys, env)
    migrated = found.cli("migrate")
    assert migrated.returncode == 0, migrated.stderr
    found.enrol("GZ-TH-001", "GZ-TH-002")
    yield found


def test_a_backup_is_recorded_and_an_older_one_restored_is_accepted_as_a_recorded_loss(
    site: Installation, tmp_path: Path
) -> None:
    before = site.head()
    taken = site.cli("backup", "-o", str(tmp_path / "one.backup"))
    assert taken.returncode == 0, taken.stderr
    info = inspect_backup(tmp_path / "one.backup")
    assert info.head_sequence == before
    log = site.log()
    assert log.backups == 1 and log.last_backup_sequence == before
    assert log.last_backup_sha256 == info.sha256
    assert info.sha256.hex() in taken.stdout
    assert site.cli("verify").returncode == 0
    # Later history, and a token issued after the backup.
    site.enrol("GZ-TH-003", "GZ-TH-004")
    token = site.cli("token", "create", "--role", "auditor").stdout.strip()
    known = site.head()
    # Restore the older backup.
    restored = site.cli("restore", str(tmp_path / "one.backup"))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert site.head() == before
    assert f"missing (known)  entries {before + 1}–{known}" in restored.stdout
    assert "READ-ONLY" in restored.stdout
    assert TokenStore(parse_storage_url(site.db)).authenticate(token) is not None
    assert site.cli("verify").returncode == 0  # the restored log is a true prefix
    status = site.cli("rollback", "status")
    assert status.returncode == 1 and "ledger-rolled-back" in status.stdout
    refused = site.cli("backup", "-o", str(tmp_path / "two.backup"))
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "ledger-rolled-back" in refused.stderr and not (tmp_path / "two.backup").exists()
    # The operator decides.
    nothing = site.cli("rollback", "accept")
    assert nothing.returncode == 2 and "--reason" in nothing.stderr
    accepted = site.cli("rollback", "accept", "--reason", "disk lost; nightly backup restored")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert f"lost entries {before + 1}–{known}" in accepted.stdout
    log = site.log()
    assert log.restores == 1 and log.last_restore_sequence == before
    assert site.cli("rollback", "status").returncode == 0
    state = HeadStateFile(site.keys).read().head
    assert state is not None and state.sequence == site.head()
    assert site.cli("verify").returncode == 0
    again = site.cli("backup", "-o", str(tmp_path / "three.backup"))
    assert again.returncode == 0, again.stderr


def test_a_restore_refuses_another_ledger_a_damaged_file_and_another_backend(
    site: Installation, storage_url: str, tmp_path: Path
) -> None:
    other = Installation(
        f"sqlite:///{tmp_path / 'other.sqlite3'}"
        if not parse_storage_url(storage_url).is_sqlite
        else f"sqlite:///{tmp_path / 'elsewhere' / 'other.sqlite3'}",
        tmp_path / "other-keys",
        {**site.env, "CASELEDGER_KEYSTORE": str(tmp_path / "other-keys")},
    )
    assert other.cli("migrate").returncode == 0
    assert other.cli("backup", "-o", str(tmp_path / "other.backup")).returncode == 0
    head = site.head()
    refused = site.cli("restore", str(tmp_path / "other.backup"))
    assert refused.returncode == 2
    if parse_storage_url(storage_url).is_sqlite:
        assert "another ledger" in refused.stderr
    else:
        assert "sqlite-backup-api backup" in refused.stderr
    damaged = tmp_path / "damaged.backup"
    damaged.write_bytes(b"caseledger-backup/v1 {not json}\n" + b"\0" * 64)
    bad = site.cli("restore", str(damaged))
    assert bad.returncode == 2 and "malformed" in bad.stderr
    assert site.head() == head
    assert site.cli("rollback", "status").returncode == 0


def test_a_restore_below_what_the_node_anchored_is_reported_and_anchoring_moves_on(
    site: Installation, tmp_path: Path
) -> None:
    node = NodeProcess(tmp_path / "node").start()
    try:
        first = site.cli("anchor", "--node", node.url)
        assert first.returncode == 0 and first.stdout.startswith("anchored"), first.stderr
        older = site.cli("backup", "-o", str(tmp_path / "older.backup"))
        assert older.returncode == 0, older.stderr
        restored_head = inspect_backup(tmp_path / "older.backup").head_sequence
        site.enrol("GZ-TH-005")
        second = site.cli("anchor", "--node", node.url)
        assert second.returncode == 0 and second.stdout.startswith("anchored"), second.stderr
        anchored = int(second.stdout.split(" size ")[1].split()[0])
        assert site.cli("restore", str(tmp_path / "older.backup")).returncode == 0
        status = site.cli("rollback", "status", "--node", node.url)
        assert status.returncode == 1
        assert f"missing (anchored) entries {restored_head + 1}–{anchored}" in status.stdout
        assert "(verified)" in status.stdout
        # A writer that talks to the node is refused too.
        assert site.cli("anchor", "--node", node.url).returncode == 2
        accepted = site.cli("rollback", "accept", "--node", node.url, "--reason", "restored")
        assert accepted.returncode == 0, accepted.stdout + accepted.stderr
        assert "/restore-1" in accepted.stdout
        again = site.cli("anchor", "--node", node.url)
        assert again.returncode == 0 and again.stdout.startswith("anchored"), again.stderr
        assert "/restore-1 size" in again.stdout
        assert site.cli("verify").returncode == 0
        origins = NodeClient(node.url).origins()
        assert len(origins) == 2  # the old origin stays at the node as evidence of the loss
    finally:
        node.stop()
