"""Actor keys (department seals, kiosks, supervisors, the platform): registration and revocation.

Layer: domain (standard library and ``eventsourcing.domain`` only).
Keys, their rotation and revocation are themselves events in the chain
(DESIGN invariant 2); verification replays them to know which key was valid
at each sequence number. The platform key registers itself first (the genesis
command) and signs every later registration or revocation.
"""

from __future__ import annotations

import functools
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain.topics import keep_topics

KEY_NAMESPACE = uuid5(NAMESPACE_URL, "https://caseledger.invalid/keys")


class KeyRole(StrEnum):
    """Who an actor key belongs to; only ``platform`` keys may register or revoke keys."""

    PLATFORM = "platform"
    DEPARTMENT = "department"
    KIOSK = "kiosk"
    SUPERVISOR = "supervisor"
    APPLICANT_PORTAL = "portal"
    OFFICIAL = "official"  # an official's personal key (actor ``official:<staff code>``)


@functools.lru_cache(maxsize=4096)
def _key_uuid(key_id: bytes) -> UUID:
    """A key's aggregate id, remembered: every command looks its signer's key up by it, and
    ``uuid5`` hashes in Python (~4 µs)."""
    return uuid5(KEY_NAMESPACE, key_id.hex())


class ActorKey(Aggregate):
    """One Ed25519 public key of one actor, from registration to revocation."""

    @staticmethod
    def create_id(key_id: bytes) -> UUID:
        if type(key_id) is not bytes:  # not converted: bytes(5) would be five zero bytes
            return uuid5(KEY_NAMESPACE, key_id.hex())
        return _key_uuid(key_id)

    @event("Registered")
    def __init__(
        self, key_id: bytes, public_key: bytes, actor: str, role: str, department: str
    ) -> None:
        self.key_id = key_id
        self.public_key = public_key
        self.actor = actor
        self.role = role
        self.department = department
        self.revoked = False
        self.revocation_reason = ""

    @event("Revoked")
    def _revoked(self, reason: str) -> None:
        self.revoked = True
        self.revocation_reason = reason

    def revoke(self, reason: str) -> None:
        if self.revoked:
            raise ValueError(f"key {self.key_id.hex()} is already revoked")
        if not reason.strip():
            raise ValueError("reason: a revocation states its reason")
        self._revoked(reason)


KEY_REGISTERED_TOPIC = "ledger.keys:ActorKey.Registered"
KEY_REVOKED_TOPIC = "ledger.keys:ActorKey.Revoked"
KEY_TOPICS = (KEY_REGISTERED_TOPIC, KEY_REVOKED_TOPIC)


keep_topics(globals(), "ledger.keys")
