"""What a case's archive payload holds, derived from its anchored proof bundle.

Layer: projections, archive (pure: bytes of proof bundles in, frozen values out). The builder and
the checker both call these functions, so the payload a package must hold is defined once: the
case's events and chain entries, the signed documents embedded in those events (receipts, notices,
decisions, delivery receipts — NH·22, FZ·21), the materials they reference, the e-certificate
versions the case produced (GZ20·21) and the archive metadata (DA/T 70-2018; stage codes of
RULES.md "Archiving"). Everything here is read from bundle bytes that ``anchors.bundle``
verifies; parsing never lets a foreign exception out (``PackageError``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from anchors.bundle import MAX_BUNDLE_BYTES
from anchors.codec import b64decode, load_json
from anchors.errors import AnchorError, BundleError
from ledger.domain.archiving import RETENTION_CODES
from ledger.domain.certificates import Certificate
from ledger.domain.rules import InvalidDocument
from ledger.encoding import EncodingError, canonical, decode, decode_canonical
from ledger.errors import LedgerError
from projections.archive import layout
from projections.archive.errors import PackageError

__all__ = [
    "CaseEvent",
    "CertificateFile",
    "DocumentFile",
    "MaterialItem",
    "ParsedBundle",
    "certificate_files",
    "certificate_ids",
    "derive_metadata",
    "document_files",
    "dump_json",
    "json_value",
    "load_json_file",
    "material_items",
    "parse_bundle",
]

CASE_TOPIC_PREFIX: Final = "ledger.cases:Case."
CERTIFICATE_TOPIC_PREFIX: Final = "ledger.certificates:Certificate."
DOCUMENT_FIELDS: Final = frozenset(
    {"kind", "serial", "issuer_department", "issued_at", "body", "content_hash", "key_id",
     "signature"}
)  # fmt: skip
SEALED_FIELDS: Final = frozenset(
    {"kind", "subject", "issuer", "issued_at", "body", "content_hash", "key_id", "signature"}
)
BLOB_FORMS: Final = frozenset({"e_copy", "e_signed"})


# --- JSON -----------------------------------------------------------------------------------


def json_value(value: Any) -> Any:
    """A ledger value as JSON: datetimes ISO 8601 UTC with ``Z``, dates ISO, UUIDs text,
    bytes lower-case hex, Decimals text; maps keep text keys."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def dump_json(value: Any) -> bytes:
    """Human-readable, deterministic JSON: sorted keys, one-space indent, UTF-8, final LF."""
    return (json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()


def load_json_file(data: bytes, what: str, *, limit: int = layout.MAX_JSON_BYTES) -> dict[str, Any]:
    """Parse a JSON object (no duplicate keys, no floats or NaN); raises :class:`PackageError`."""
    try:
        return load_json(data, limit=limit, error=BundleError, what=what)
    except AnchorError as exc:
        raise PackageError(str(exc)) from None


# --- proof bundles --------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseEvent:
    """One event of an aggregate as its bundle holds it."""

    sequence: int
    originator_id: UUID
    version: int
    topic: str
    timestamp: int
    entry: bytes
    state_bytes: bytes
    state: Mapping[str, Any]

    @property
    def at(self) -> dt.datetime:
        value = self.state.get("timestamp")
        if isinstance(value, dt.datetime):
            return value
        return dt.datetime.fromtimestamp(self.timestamp / 1e6, dt.UTC)

    @property
    def name(self) -> str:
        return self.topic.rpartition(".")[2]


@dataclass(frozen=True)
class ParsedBundle:
    """The parts of an ``anchors.bundle`` file an archive needs (after it was verified)."""

    aggregate: UUID
    events: tuple[CaseEvent, ...]
    """Every entry of the bundle, ascending sequence (siblings and key events included)."""

    def of(self, aggregate: UUID) -> tuple[CaseEvent, ...]:
        return tuple(e for e in self.events if e.originator_id == aggregate)

    @property
    def own(self) -> tuple[CaseEvent, ...]:
        return self.of(self.aggregate)

    def entry_at(self, sequence: int) -> CaseEvent | None:
        return next((e for e in self.events if e.sequence == sequence), None)


def parse_bundle(data: bytes, what: str) -> ParsedBundle:
    """Read a proof bundle's entries and states. Raises :class:`PackageError`."""
    value = load_json_file(data, what, limit=MAX_BUNDLE_BYTES)
    try:
        aggregate = UUID(str(value["aggregate"]))
        events = []
        for i, item in enumerate(value["entries"]):
            entry = b64decode(item["entry"], BundleError, f"{what} entry {i}")
            state_bytes = b64decode(item["state"], BundleError, f"{what} entry {i} state")
            fields = decode_canonical(entry)
            oid = fields["originator_id"]
            state = decode(state_bytes)
            if not isinstance(state, dict) or not isinstance(oid, UUID):
                continue  # not an aggregate event of ours (the verifier judged the bundle)
            events.append(
                CaseEvent(
                    sequence=int(fields["sequence"]),
                    originator_id=oid,
                    version=int(fields["originator_version"]),
                    topic=str(fields["topic"]),
                    timestamp=int(fields["timestamp"]),
                    entry=entry,
                    state_bytes=state_bytes,
                    state=state,
                )
            )
    except (AnchorError, EncodingError, KeyError, TypeError, ValueError) as exc:
        raise PackageError(f"{what}: {exc}") from None
    return ParsedBundle(aggregate, tuple(events))


# --- documents, materials, certificates -------------------------------------------------------


@dataclass(frozen=True)
class DocumentFile:
    """A signed document (``ledger.domain.documents``) embedded in an event, and its payload
    file."""

    path: str
    version: int
    sequence: int
    field: str
    kind: str
    data: bytes
    value: Mapping[str, Any]


def document_files(events: Sequence[CaseEvent]) -> tuple[DocumentFile, ...]:
    """Every signed document in ``events`` (a top-level event attribute shaped like
    ``SignedDocument.to_dict``), in issue order: ``data/documents/dNN-<kind>.msgpack``."""
    from ledger.domain.documents import SignedDocument

    out: list[DocumentFile] = []
    for event in events:
        for field in sorted(event.state):
            value = event.state[field]
            if not isinstance(value, dict) or set(value) != DOCUMENT_FIELDS:
                continue
            try:
                document = SignedDocument.from_dict(value)
            except (InvalidDocument, LedgerError) as exc:
                raise PackageError(f"event v{event.version}.{field}: {exc}") from None
            n = len(out) + 1
            out.append(
                DocumentFile(
                    path=f"{layout.DOCUMENTS_DIR}/d{n:02d}-{document.kind.value}.msgpack",
                    version=event.version,
                    sequence=event.sequence,
                    field=field,
                    kind=document.kind.value,
                    data=canonical(value),
                    value=value,
                )
            )
    return tuple(out)


@dataclass(frozen=True)
class MaterialItem:
    """An uploaded material (e-copy or e-signed file) an event references by SHA-256."""

    path: str
    version: int
    code: str
    sha256: bytes
    size: int
    media_type: str


def material_items(events: Sequence[CaseEvent]) -> tuple[MaterialItem, ...]:
    """Every e-copy / e-signed material submitted or corrected, by event version:
    ``data/materials/vNNNN-<code>.<ext>``."""
    out: list[MaterialItem] = []
    for event in events:
        materials = event.state.get("materials")
        if not isinstance(materials, list):
            continue
        for m in materials:
            if not isinstance(m, dict) or m.get("form") not in BLOB_FORMS:
                continue
            code, sha, size, media = (
                m.get("code"),
                m.get("sha256"),
                m.get("size"),
                m.get("media_type"),
            )
            ext = layout.EXTENSIONS.get(str(media))
            if (
                not isinstance(code, str)
                or not isinstance(sha, bytes)
                or len(sha) != 32
                or not isinstance(size, int)
                or ext is None
            ):
                raise PackageError(f"event v{event.version}: malformed material {code!r}")
            out.append(
                MaterialItem(
                    path=f"{layout.MATERIALS_DIR}/v{event.version:04d}-{code}.{ext}",
                    version=event.version,
                    code=code,
                    sha256=sha,
                    size=size,
                    media_type=str(media),
                )
            )
    return tuple(out)


def certificate_ids(events: Sequence[CaseEvent]) -> tuple[str, ...]:
    """The e-certificate identifiers the case recorded (``CertificateRecorded``), in order."""
    return tuple(
        str(e.state["certificate_id"])
        for e in events
        if e.name == "CertificateRecorded" and isinstance(e.state.get("certificate_id"), str)
    )


def certificate_aggregate(identifier: str) -> UUID:
    try:
        return Certificate.id_for(identifier)
    except LedgerError as exc:
        raise PackageError(f"certificate {identifier!r}: {exc}") from None


@dataclass(frozen=True)
class CertificateFile:
    """One sealed version of an e-certificate (``ledger.domain.sealed.SealedRecord`` of kind
    ``e_certificate``): ``data/certificates/cNN/vNNN.msgpack``."""

    path: str
    certificate: int
    number: int
    sequence: int
    data: bytes
    value: Mapping[str, Any]


def certificate_files(index: int, bundle: ParsedBundle) -> tuple[CertificateFile, ...]:
    """Every version (Issued, Updated) of the certificate whose bundle is ``bundle``."""
    out: list[CertificateFile] = []
    for event in bundle.own:
        record = event.state.get("record")
        if not isinstance(record, dict) or set(record) != SEALED_FIELDS:
            continue
        number = len(out) + 1
        out.append(
            CertificateFile(
                path=f"{layout.CERTIFICATES_DIR}/c{index:02d}/v{number:03d}.msgpack",
                certificate=index,
                number=number,
                sequence=event.sequence,
                data=canonical(record),
                value=record,
            )
        )
    return tuple(out)


def certificate_bundle_path(index: int) -> str:
    return f"{layout.CERTIFICATES_DIR}/c{index:02d}/bundle.json"


# --- metadata (DA/T 70-2018) ------------------------------------------------------------------

_STATE_OF: Final = {"Closed": "closed", "Withdrawn": "withdrawn"}


def final_state(events: Sequence[CaseEvent]) -> str:
    """The case's state after its last event (``open`` unless it ended)."""
    if not events:
        return "open"
    last = events[-1]
    if last.name in _STATE_OF:
        return _STATE_OF[last.name]
    if last.name == "Refused" and last.state.get("state") in ("not_accepted", "returned"):
        return str(last.state["state"])
    return "open"


def _first(events: Sequence[CaseEvent], name: str, field: str) -> Any:
    for e in events:
        if e.name == name:
            return e.state.get(field)
    return None


def _last(events: Sequence[CaseEvent], name: str, field: str) -> Any:
    for e in reversed(events):
        if e.name == name:
            return e.state.get(field)
    return None


def derive_metadata(
    events: Sequence[CaseEvent],
    *,
    retention: str,
    certificates: Sequence[tuple[str, int]],
    personal: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The archive metadata of a case (``data/case.json``) from its events, as JSON values.

    ``certificates`` are (identifier, number of versions); ``personal`` is clear personal data,
    given only under an explicit policy (by default the applicant is named by id only and the
    sealed fields stay erasable references, DESIGN invariant 5). Raises :class:`PackageError`
    when the events are not those of a case.
    """
    if not events or events[0].name != "Submitted" or events[0].version != 1:
        raise PackageError("the case's events do not start with its submission (version 1)")
    if retention not in RETENTION_CODES:
        raise PackageError(f"retention: {retention!r} is not one of {sorted(RETENTION_CODES)}")
    s = events[0].state
    try:
        terms = s["terms"]
        receipt_body = s["receipt"]["body"]
        state = final_state(events)
        documents = document_files(events)
        value: dict[str, Any] = {
            "format": layout.METADATA_FORMAT,
            "serial": s["serial"],
            "approval_code": s["approval_code"],
            "case_id": events[0].originator_id,
            "item": {
                "name": terms["item_name"],
                "implementation_code": terms["item_code"],
                "type_code": terms["item_type"],
                "guide_version": terms["version"],
                "legal_basis": list(terms["legal_basis"]),
                "promised_limit_days": terms["promised_limit_days"],
                "statutory_limit_days": terms["statutory_limit_days"],
            },
            "department": {
                "code": s["department"],
                "name": receipt_body.get("department_name", s["department"]),
            },
            "applicant": {"id": s["applicant_id"], "personal_data": "reference"},
            "channel": s["channel"],
            "handling_mode": s["handling_mode"],
            "state": state,
            "final_stage": layout.stage_of(CASE_TOPIC_PREFIX + events[-1].name),
            "retention": retention,
            "dates": {
                "submitted_at": s["at"],
                "accepted_on": _first(events, "Accepted", "accepted_on"),
                "decided_on": _decided_on(events),
                "delivered_on": _last(events, "Delivered", "delivered_on"),
                "ended_at": events[-1].state.get("at"),
            },
            "events": [
                {
                    "version": e.version,
                    "sequence": e.sequence,
                    "topic": e.topic,
                    "stage": layout.stage_of(e.topic),
                    "at": e.state.get("at"),
                }
                for e in events
            ],
            "counts": {
                "events": len(events),
                "documents": len(documents),
                "materials": len(material_items(events)),
                "certificates": len(certificates),
                "certificate_versions": sum(n for _, n in certificates),
            },
            "certificates": [
                {"identifier": identifier, "versions": n} for identifier, n in certificates
            ],
        }
    except (KeyError, TypeError, AttributeError) as exc:
        raise PackageError(f"the case's submission lacks {exc}") from None
    if personal is not None:
        value["applicant"] = {
            "id": s["applicant_id"],
            "personal_data": "clear",
            "clear": dict(personal),
        }
    result: dict[str, Any] = json_value(value)
    return result


def _decided_on(events: Sequence[CaseEvent]) -> Any:
    decision = _last(events, "Decided", "decision")
    if isinstance(decision, dict) and isinstance(decision.get("body"), dict):
        return decision["body"].get("decided_on")
    return None
