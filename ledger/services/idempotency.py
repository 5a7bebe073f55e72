"""Idempotency records: a retried command records nothing and returns its first result.

Layer: ledger services (an aggregate of the service layer: standard library,
``eventsourcing.domain``, ``ledger.errors``). DESIGN invariant 6. An application service saves one
:class:`IdempotencyRecord` — id ``uuid5(key)`` — in the SAME save as the command's events, so both
commit atomically: a retry finds the record and returns its stored result; two racing first
attempts conflict on the record's version and only one commits. The record keeps the command's name
and a digest of its arguments, so a key reused for a different request is refused, never replayed.
Clients must not put personal data in a key: it enters the chain.
"""

from __future__ import annotations

import re
from typing import Any, Final
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain.topics import keep_topics
from ledger.errors import LedgerError

__all__ = [
    "IDEMPOTENCY_NAMESPACE",
    "IdempotencyKeyReused",
    "IdempotencyRecord",
    "InvalidIdempotencyKey",
    "check_key",
]

IDEMPOTENCY_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/idempotency")
KEY_PATTERN: Final = re.compile(r"[!-~]{8,200}")
"""8–200 printable ASCII characters without spaces (a UUID is typical)."""


class IdempotencyKeyReused(LedgerError, ValueError):
    """The key was first used for another command or other arguments."""


class InvalidIdempotencyKey(LedgerError, ValueError):
    """The idempotency key is not 8–200 printable ASCII characters."""


def check_key(key: object) -> str:
    """Return ``key`` if well formed; raises :class:`InvalidIdempotencyKey` otherwise."""
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise InvalidIdempotencyKey(
            "idempotency_key: must be 8–200 printable ASCII characters without spaces"
        )
    return key


class IdempotencyRecord(Aggregate):
    """The first result of the command that came with one idempotency key."""

    @staticmethod
    def create_id(key: str) -> UUID:
        return uuid5(IDEMPOTENCY_NAMESPACE, key)

    @classmethod
    def id_for(cls, key: str) -> UUID:
        return cls.create_id(check_key(key))

    @event("Recorded")
    def __init__(self, key: str, command: str, request_digest: bytes, result: dict[str, Any]):
        self.key = key
        self.command = command
        self.request_digest = request_digest
        self.result = result

    def matches(self, command: str, request_digest: bytes) -> bool:
        """Whether a retry asks for the same command with the same arguments."""
        return self.command == command and self.request_digest == request_digest


keep_topics(globals(), "ledger.idempotency")
