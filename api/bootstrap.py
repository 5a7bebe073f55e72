"""Composition root: opens the ledger and the keystore for one process.

Layer: api. The only place that wires storage, keys and (later) anchoring and
projections together; the HTTP API, the CLI and the kiosk all start here.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.settings import Settings
from ledger.chain.signing import Ed25519Signer
from ledger.domain.keys import KeyRole
from ledger.services.application import LedgerApplication, open_ledger
from ledger.storage.keystore import Keystore

PLATFORM_ACTOR = "platform"


@dataclass
class Runtime:
    """What a running process holds: the ledger application and the unlocked keystore."""

    settings: Settings
    ledger: LedgerApplication
    keystore: Keystore

    def platform_signer(self) -> Ed25519Signer:
        return self.keystore.current_signer(PLATFORM_ACTOR)

    def close(self) -> None:
        self.ledger.close()


def open_runtime(settings: Settings, *, migrate: bool = False) -> Runtime:
    """Open the ledger and unlock the keystore; with ``migrate``, create tables and genesis."""
    ledger = open_ledger(settings.storage, migrate=migrate)
    passphrase = settings.require_passphrase()
    keystore = (
        Keystore.open_or_create(settings.keystore_dir, passphrase)
        if migrate
        else Keystore.open(settings.keystore_dir, passphrase)
    )
    runtime = Runtime(settings, ledger, keystore)
    if migrate:
        from anchors.tree import open_tree_store

        open_tree_store(settings.storage).migrate()
    if migrate and not ledger.is_bootstrapped():
        platform = Ed25519Signer.generate(PLATFORM_ACTOR)
        keystore.add(platform, actor=PLATFORM_ACTOR, role=KeyRole.PLATFORM.value)
        ledger.bootstrap(platform, actor=PLATFORM_ACTOR)
    return runtime


def enrol_actor(runtime: Runtime, actor: str, role: KeyRole, department: str = "") -> Ed25519Signer:
    """Create a key for ``actor``, keep it in the keystore, register it in the chain."""
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
    old = runtime.keystore.current_signer(actor)
    by = runtime.platform_signer()  # before the new key exists: it is not registered yet
    record = next(r for r in runtime.keystore.records() if r.key_id == old.key_id)
    new = Ed25519Signer.generate(actor)
    runtime.keystore.add(new, actor=actor, role=record.role, department=record.department)
    runtime.ledger.rotate_key(old.key_id, new, reason=reason, by=by)
    runtime.keystore.retire(old.key_id)
    return new
