"""Composition root: opens the ledger, the keystore and the rollback guard for one process.

Layer: api. The only place that wires storage, keys and (later) anchoring and
projections together; the HTTP API, the CLI and the kiosk all start here. Every runtime
is a potential writer, so every runtime installs the rollback guard
(``ledger.services.guard``) as the ledger's write gate and compares the log with the head
state file beside the keystore before anything is written (DESIGN invariant 3).
"""

from __future__ import annotations

from dataclasses import dataclass

from api.settings import Settings
from ledger.chain.signing import Ed25519Signer
from ledger.domain.keys import KeyRole
from ledger.errors import LedgerRolledBack
from ledger.services.application import LedgerApplication, open_ledger
from ledger.services.guard import RollbackGuard, describe
from ledger.storage.head_state import HeadStateFile
from ledger.storage.keystore import Keystore

PLATFORM_ACTOR = "platform"


@dataclass
class Runtime:
    """What a running process holds: the ledger application, the unlocked keystore and the
    rollback guard that gates the ledger's writes."""

    settings: Settings
    ledger: LedgerApplication
    keystore: Keystore
    guard: RollbackGuard

    def platform_signer(self) -> Ed25519Signer:
        return self.keystore.current_signer(PLATFORM_ACTOR)

    def close(self) -> None:
        """Stop the guard (its last tick records the head this process leaves) and close."""
        self.guard.stop()
        self.ledger.close()


def open_runtime(settings: Settings, *, migrate: bool = False, fail_closed: bool = True) -> Runtime:
    """Open the ledger, unlock the keystore and install the rollback guard; with ``migrate``,
    create tables and genesis.

    The guard compares the log with the head state file first. With ``fail_closed`` (every
    CLI writer) a finding raises :class:`LedgerRolledBack` naming it; without (``serve``) the
    runtime opens read-only: every write raises it until the finding clears."""
    ledger = open_ledger(settings.storage, migrate=migrate)
    passphrase = settings.require_passphrase()
    try:
        keystore = (
            Keystore.open_or_create(settings.keystore_dir, passphrase)
            if migrate
            else Keystore.open(settings.keystore_dir, passphrase)
        )
    except BaseException:
        ledger.close()
        raise
    guard = RollbackGuard(ledger.chain, HeadStateFile(settings.keystore_dir))
    ledger.write_gate = guard.require_writable
    runtime = Runtime(settings, ledger, keystore, guard)
    if migrate:
        from anchors.tree import open_tree_store

        open_tree_store(settings.storage).migrate()
    faults = guard.check()
    if faults and fail_closed:
        ledger.close()
        raise LedgerRolledBack(faults[0].code, describe(faults, first_code=False))
    if migrate and not faults and not ledger.is_bootstrapped():
        platform = Ed25519Signer.generate(PLATFORM_ACTOR)
        keystore.add(platform, actor=PLATFORM_ACTOR, role=KeyRole.PLATFORM.value)
        ledger.bootstrap(platform, actor=PLATFORM_ACTOR)
    return runtime


def enrol_actor(runtime: Runtime, actor: str, role: KeyRole, department: str = "") -> Ed25519Signer:
    """Create a key for ``actor``, keep it in the keystore, register it in the chain
    (refused first, before the keystore changes, while the ledger is read-only)."""
    runtime.guard.require_writable()
    signer = Ed25519Signer.generate(actor)
    runtime.keystore.add(signer, actor=actor, role=role.value, department=department)
    runtime.ledger.register_key(
        signer.public_key,
        signer.key_id,
        actor=actor,
        role=role,
        department=department,
        by=runtime.platform_signer(),
    )
    return signer


def rotate_actor_key(runtime: Runtime, actor: str, reason: str) -> Ed25519Signer:
    """Replace ``actor``'s current key by a new one (register new + revoke old, one command)."""
    runtime.guard.require_writable()
    old = runtime.keystore.current_signer(actor)
    by = runtime.platform_signer()  # before the new key exists: it is not registered yet
    record = next(r for r in runtime.keystore.records() if r.key_id == old.key_id)
    new = Ed25519Signer.generate(actor)
    runtime.keystore.add(new, actor=actor, role=record.role, department=record.department)
    runtime.ledger.rotate_key(old.key_id, new, reason=reason, by=by)
    runtime.keystore.retire(old.key_id)
    return new
