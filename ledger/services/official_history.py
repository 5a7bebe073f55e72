"""The auditor's per-official history: every command an official's keys signed, from the chain.

Layer: ledger services (reads the chain through its port). FZ·26(二)(五): every action is
attributable to the individual official. The history is read from the chain itself — the
official's keys are those registered for actor ``official:<staff code>`` (rotated keys
included), and every command signed by one of them is listed with its sequence numbers,
time, topics, the case it touched and its entry hashes — together with a full verification
of the chain (``ledger.chain.verification``, which re-checks each command's authority), so
the listing is only as good as a chain that verifies. Inclusion proofs against the anchored
tree are added at the edge (``api``), where the anchors live.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from ledger.chain.recorders.base import LinkedEvent
from ledger.chain.verification import Report, verify_chain
from ledger.domain.cases import Case
from ledger.domain.keys import KEY_REGISTERED_TOPIC
from ledger.domain.officials import CASE_TOPIC_PREFIX, Official, actor_of
from ledger.encoding import EncodingError, decode
from ledger.services.application import LedgerApplication

__all__ = ["OfficialAction", "OfficialHistory", "official_history"]

PAGE = 5000


@dataclass(frozen=True)
class OfficialAction:
    """One command the official signed, or one decision recorded on their own record."""

    sequence: int
    last_sequence: int
    at: dt.datetime
    topics: tuple[str, ...]
    case_serial: str
    key_id: bytes
    entry_hashes: tuple[bytes, ...]
    signed_by_official: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "last_sequence": self.last_sequence,
            "at": self.at.isoformat(),
            "topics": list(self.topics),
            "case_serial": self.case_serial,
            "key_id": self.key_id.hex(),
            "entry_hashes": [h.hex() for h in self.entry_hashes],
            "signed_by_official": self.signed_by_official,
        }


@dataclass(frozen=True)
class OfficialHistory:
    staff_code: str
    key_ids: tuple[bytes, ...]
    actions: tuple[OfficialAction, ...]
    verification: Report
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "staff_code": self.staff_code,
            "key_ids": [k.hex() for k in self.key_ids],
            "actions": [a.as_dict() for a in self.actions],
            "verification": self.verification.as_dict(),
            **self.extra,
        }


def official_history(ledger: LedgerApplication, staff_code: str) -> OfficialHistory:
    """Every command signed by ``staff_code``'s keys, and every event on their record."""
    actor = actor_of(staff_code)
    record = Official.id_for(staff_code)
    keys: set[bytes] = set()
    actions: list[OfficialAction] = []
    serials: dict[UUID, str] = {}
    group: list[LinkedEvent] = []
    head = ledger.chain.chain_head()
    last = 0 if head is None else head.sequence
    seq = 1
    while seq <= last:
        links = ledger.chain.select_links(seq, min(PAGE, last - seq + 1))
        if not links:
            break
        for link in links:
            seq = link.entry.sequence + 1
            if link.entry.topic == KEY_REGISTERED_TOPIC:
                state = _state(link)
                if state.get("actor") == actor and isinstance(state.get("key_id"), bytes):
                    keys.add(state["key_id"])
            group.append(link)
            if len(group) == link.entry.command_size:
                found = _action(ledger, group, keys, record, serials)
                if found is not None:
                    actions.append(found)
                group = []
    return OfficialHistory(
        staff_code=staff_code,
        key_ids=tuple(sorted(keys)),
        actions=tuple(actions),
        verification=verify_chain(ledger.chain),
    )


def _action(
    ledger: LedgerApplication,
    group: list[LinkedEvent],
    keys: set[bytes],
    record: UUID,
    serials: dict[UUID, str],
) -> OfficialAction | None:
    head = group[0].entry
    mine = head.key_id in keys
    on_record = any(link.entry.originator_id == record for link in group)
    if not mine and not on_record:
        return None
    serial = ""
    for link in group:
        if link.entry.topic.startswith(CASE_TOPIC_PREFIX):
            serial = _serial(ledger, link.entry.originator_id, serials)  # type: ignore[arg-type]
    return OfficialAction(
        sequence=head.sequence,
        last_sequence=group[-1].entry.sequence,
        at=dt.datetime.fromtimestamp(head.timestamp / 1_000_000, dt.UTC),
        topics=tuple(link.entry.topic for link in group),
        case_serial=serial,
        key_id=head.key_id,
        entry_hashes=tuple(link.entry.entry_hash for link in group),
        signed_by_official=mine,
    )


def _serial(ledger: LedgerApplication, case_id: UUID, serials: dict[UUID, str]) -> str:
    if case_id not in serials:
        try:
            case: Any = ledger.repository.get(case_id, version=1)
        except AggregateNotFoundError:
            case = None
        serials[case_id] = case.serial if isinstance(case, Case) else ""
    return serials[case_id]


def _state(link: LinkedEvent) -> dict[str, Any]:
    try:
        state = decode(link.event.state) if link.event is not None else {}
    except EncodingError:
        return {}
    return state if isinstance(state, dict) else {}
