"""Aggregates found by one natural key: a serial number, a code, an applicant's or a case's id.

Layer: ledger domain (standard library only). Each such aggregate derives its id from the key
in its own ``create_id`` (a uuid5 in its own namespace; eventsourcing passes it the created
event's field of the same name, so the parameter keeps that name there). The look-up by the
same key, :meth:`NaturalKey.id_for`, is written once here. A mixin, not an aggregate class:
it has no events and no stored topic.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

__all__ = ["NaturalKey"]


class NaturalKey:
    """Mixin for an aggregate whose ``create_id`` takes its one natural key:
    ``class Case(NaturalKey, Aggregate)``."""

    create_id: Callable[..., UUID]

    @classmethod
    def id_for(cls, key: str | UUID) -> UUID:
        """The id of the aggregate with this key (for repository look-ups)."""
        return cls.create_id(key)
