"""The package's provenance log: who created, transferred and checked it, and when.

Layer: projections, archive (pure values and a strict parser). Events follow the PREMIS 3.0 event
entity (eventIdentifier, eventType, eventDateTime, eventDetail, eventOutcome, linkingAgent) with
event types from the Library of Congress PREMIS event-type vocabulary: ``creation``,
``transfer`` and ``validation``. The log is a tag file (``metadata/provenance.json``), not
payload: it grows each time the package is checked, while the payload digest stays fixed
(RFC 8493 §2.2.4 tag files; GZ20·24 single-set archiving needs the custody chain recorded).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any, Final

from projections.archive.content import dump_json, load_json_file
from projections.archive.errors import PackageError
from projections.archive.layout import MAX_TAG_FILE_BYTES, PROVENANCE_FORMAT

__all__ = ["Agent", "Provenance", "ProvenanceEvent", "parse_provenance"]

EVENT_TYPES: Final = frozenset({"creation", "transfer", "validation"})
OUTCOMES: Final = frozenset({"success", "failure"})
AGENT_ROLES: Final = frozenset({"executing program", "implementer", "authorizer"})
MAX_EVENTS: Final = 1000
MAX_TEXT: Final = 2000


def _text(value: Any, what: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise PackageError(f"provenance {what}: text of 1–{limit} characters")
    if any(ord(ch) < 0x20 and ch not in "\n\t" for ch in value):
        raise PackageError(f"provenance {what}: control characters")
    return value


def _instant(value: Any, what: str) -> dt.datetime:
    if not isinstance(value, str) or not value.endswith("Z"):
        raise PackageError(f"provenance {what}: an ISO 8601 UTC time ending in Z")
    try:
        parsed = dt.datetime.fromisoformat(value[:-1] + "+00:00")
    except ValueError:
        raise PackageError(f"provenance {what}: {value!r} is not ISO 8601") from None
    return parsed


def iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Agent:
    """A PREMIS linking agent: a person or key (implementer/authorizer) or the software."""

    name: str
    role: str
    identifier: str

    def __post_init__(self) -> None:
        _text(self.name, "agent name", 200)
        _text(self.identifier, "agent identifier", 200)
        if self.role not in AGENT_ROLES:
            raise PackageError(f"provenance agent role: one of {sorted(AGENT_ROLES)}")

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "role": self.role, "identifier": self.identifier}


@dataclass(frozen=True)
class ProvenanceEvent:
    """One PREMIS event."""

    identifier: str
    event_type: str
    at: dt.datetime
    detail: str
    outcome: str
    outcome_detail: str
    agents: tuple[Agent, ...]

    def __post_init__(self) -> None:
        _text(self.identifier, "eventIdentifier", 200)
        if self.event_type not in EVENT_TYPES:
            raise PackageError(f"provenance eventType: one of {sorted(EVENT_TYPES)}")
        if self.outcome not in OUTCOMES:
            raise PackageError(f"provenance eventOutcome: one of {sorted(OUTCOMES)}")
        _text(self.detail, "eventDetail")
        _text(self.outcome_detail, "eventOutcomeDetail")
        if not self.agents:
            raise PackageError("provenance event: at least one linking agent")
        if self.at.utcoffset() is None:
            raise PackageError("provenance eventDateTime: time-zone aware")

    def as_json(self) -> dict[str, Any]:
        return {
            "eventIdentifier": self.identifier,
            "eventType": self.event_type,
            "eventDateTime": iso(self.at),
            "eventDetail": self.detail,
            "eventOutcome": self.outcome,
            "eventOutcomeDetail": self.outcome_detail,
            "linkingAgents": [a.as_json() for a in self.agents],
        }


@dataclass(frozen=True)
class Provenance:
    """The provenance of one package: its object (serial, payload digest) and its events."""

    serial: str
    payload_digest: str
    events: tuple[ProvenanceEvent, ...]

    def __post_init__(self) -> None:
        _text(self.serial, "object identifier", 64)
        if not self.payload_digest.startswith("sha512:") or len(self.payload_digest) != 135:
            raise PackageError("provenance payloadDigest: 'sha512:' and 128 hex digits")
        if len(self.events) > MAX_EVENTS:
            raise PackageError(f"provenance: more than {MAX_EVENTS} events")
        times = [e.at for e in self.events]
        if times != sorted(times):
            raise PackageError("provenance: events are not in time order")

    def with_event(self, event: ProvenanceEvent) -> Provenance:
        return replace(self, events=(*self.events, event))

    def of_type(self, event_type: str) -> tuple[ProvenanceEvent, ...]:
        return tuple(e for e in self.events if e.event_type == event_type)

    def to_bytes(self) -> bytes:
        return dump_json(
            {
                "format": PROVENANCE_FORMAT,
                "object": {
                    "objectIdentifierType": "申请流水号 (case serial number)",
                    "objectIdentifierValue": self.serial,
                    "payloadDigest": self.payload_digest,
                },
                "events": [e.as_json() for e in self.events],
            }
        )


def _fields(value: Any, names: set[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != names:
        raise PackageError(f"provenance {what}: exactly the fields {sorted(names)}")
    return value


def parse_provenance(data: bytes) -> Provenance:
    """Parse ``metadata/provenance.json``; raises :class:`PackageError` naming the field."""
    top = _fields(
        load_json_file(data, "provenance", limit=MAX_TAG_FILE_BYTES),
        {"format", "object", "events"},
        "file",
    )
    if top["format"] != PROVENANCE_FORMAT:
        raise PackageError(f"provenance format: not {PROVENANCE_FORMAT}")
    obj = _fields(
        top["object"], {"objectIdentifierType", "objectIdentifierValue", "payloadDigest"}, "object"
    )
    if not isinstance(top["events"], list):
        raise PackageError("provenance events: a list")
    events = []
    for i, raw in enumerate(top["events"][: MAX_EVENTS + 1]):
        e = _fields(
            raw,
            {"eventIdentifier", "eventType", "eventDateTime", "eventDetail", "eventOutcome",
             "eventOutcomeDetail", "linkingAgents"},
            f"event {i}",
        )  # fmt: skip
        if not isinstance(e["linkingAgents"], list) or len(e["linkingAgents"]) > 10:
            raise PackageError(f"provenance event {i}: linkingAgents is a list of at most 10")
        agents = tuple(
            Agent(**_fields(a, {"name", "role", "identifier"}, f"event {i} agent"))
            for a in e["linkingAgents"]
        )
        events.append(
            ProvenanceEvent(
                identifier=_text(e["eventIdentifier"], f"event {i} identifier", 200),
                event_type=e["eventType"],
                at=_instant(e["eventDateTime"], f"event {i} eventDateTime"),
                detail=_text(e["eventDetail"], f"event {i} eventDetail"),
                outcome=e["eventOutcome"],
                outcome_detail=_text(e["eventOutcomeDetail"], f"event {i} eventOutcomeDetail"),
                agents=agents,
            )
        )
    return Provenance(
        serial=_text(obj["objectIdentifierValue"], "objectIdentifierValue", 64),
        payload_digest=_text(obj["payloadDigest"], "payloadDigest", 135),
        events=tuple(events),
    )
