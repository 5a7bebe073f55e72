"""Verified print: a kiosk prints only what it has verified end to end.

Layer: kiosk (application; reads the ledger through ``LedgerApplication`` and its chain store,
the anchoring history through ``ledger.domain.anchoring.AnchorLog`` and the persistent tree, and
trusts only the :class:`~anchors.policy.TrustPolicy` it is given). GZ20·14, GZ16·14/15,
GZ20·19/21 (e-seals from the trusted platform; blockchain data as basis).

:func:`verify_for_print` follows these steps, in order, and raises
:class:`~kiosk.errors.PrintRefused` naming the first that fails (nothing is printed):

1. ``case`` — the case exists and is closed (办结); its result is the current e-certificate
   recorded on it, else its result document (结果文书) or disapproval decision;
2. ``chain`` — the event that recorded that result is found with its chain entry: the stored
   event hashes to the entry's ``state_hash``, the entry hashes to its ``entry_hash``, it links
   to the previous entry, and its command signature verifies under the registered key of the
   actor who recorded it (docs/FORMAT.md §2–3);
3. ``seal`` — the document in that event verifies under the seal key that sealed it
   (``ledger.domain.documents`` / ``ledger.domain.sealed``), a department key of the issuing
   department that was not revoked before the document was recorded;
4. ``anchor`` — the ledger's latest recorded receipt verifies against the trust policy (ledger
   signature, ≥ k validator cosignatures, block signed by ≥ k validators, checkpoint in the
   block: ``anchors.receipt``), the entry lies within the checkpoint, and its RFC 9162
   inclusion proof verifies against the cosigned root;
5. ``status`` — the certificate version is current (not superseded, not revoked).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from anchors import merkle
from anchors.errors import AnchorError
from anchors.policy import TrustPolicy
from anchors.receipt import Receipt, verify_receipt
from kiosk.claims import ClaimKind
from kiosk.errors import PrintRefused
from ledger.chain.entries import ChainEntry, signed_message
from ledger.chain.recorders.base import LinkedEvent
from ledger.chain.seals import verify_document, verify_sealed
from ledger.chain.signing import verify_signature
from ledger.domain.anchoring import AnchorLog
from ledger.domain.cases import Case, CaseState
from ledger.domain.certificates import Certificate, VersionStatus
from ledger.domain.departments import Department
from ledger.domain.documents import SignedDocument
from ledger.domain.keys import KEY_REVOKED_TOPIC, ActorKey, KeyRole
from ledger.domain.sealed import SealedRecord
from ledger.encoding import decode
from ledger.errors import LedgerError
from ledger.services.application import LedgerApplication

__all__ = [
    "CHECKS",
    "AnchorEvidence",
    "VerifiedDocument",
    "locate_link",
    "verify_for_print",
]

CHECKS: Final = ("case", "chain", "seal", "anchor", "status")
"""The steps of a verified print, in order."""
RESULT_KINDS: Final = ("result_document", "disapproval_decision")


@dataclass(frozen=True)
class AnchorEvidence:
    """The cosigned checkpoint and block that anchor the printed document's entry."""

    origin: str
    checkpoint_size: int
    root: bytes
    block_height: int
    cosigners: tuple[str, ...]


@dataclass(frozen=True)
class VerifiedDocument:
    """A result that passed every check of :func:`verify_for_print`, with what the printout
    shows. ``body`` is the sealed document's body (names people by id only)."""

    kind: ClaimKind
    serial: str
    subject: str
    title: str
    item_name: str
    issuer: str
    issuer_name: str
    issued_at: dt.datetime
    content_hash: bytes
    seal_key_id: bytes
    body: dict[str, Any]
    sequence: int
    entry_hash: bytes
    anchor: AnchorEvidence
    status: str


@dataclass(frozen=True)
class _Result:
    kind: ClaimKind
    aggregate_id: UUID
    subject: str
    content_hash: bytes
    certificate: Certificate | None


def _refuse(check: str, reason: str) -> PrintRefused:
    return PrintRefused(check, reason)


def _get(ledger: LedgerApplication, aggregate_id: UUID) -> Any:
    try:
        return ledger.repository.get(aggregate_id)
    except AggregateNotFoundError:
        return None


def _find_result(ledger: LedgerApplication, serial: str) -> tuple[Case, _Result]:
    try:
        case = _get(ledger, Case.id_for(serial))
    except LedgerError as exc:
        raise _refuse("case", f"not a serial number: {exc}") from None
    if not isinstance(case, Case):
        raise _refuse("case", f"no case {serial}")
    if case.state is not CaseState.CLOSED:
        raise _refuse(
            "case", f"case {serial} is {case.state.value}, not closed: no result to print"
        )
    if case.certificate_ids:
        identifier = case.certificate_ids[-1]
        certificate = _get(ledger, Certificate.id_for(identifier))
        if not isinstance(certificate, Certificate):
            raise _refuse("case", f"certificate {identifier} of case {serial} is not in the ledger")
        current = certificate.versions[-1]
        return case, _Result(
            ClaimKind.E_CERTIFICATE,
            certificate.id,
            current.identifier,
            current.record.content_hash,
            certificate,
        )
    documents = [d for d in case.documents if d["kind"] in RESULT_KINDS]
    if not documents:
        raise _refuse("case", f"case {serial} has no result document")
    document = documents[-1]
    return case, _Result(
        ClaimKind.RESULT_DOCUMENT, case.id, serial, bytes(document["content_hash"]), None
    )


def locate_link(ledger: LedgerApplication, originator_id: UUID, version: int) -> LinkedEvent | None:
    """The chain entry (with its stored event) of event ``version`` of ``originator_id``:
    one indexed look-up through the events table's primary key."""
    recorder: Any = ledger.recorder
    if type(recorder).__module__.endswith("postgres"):
        from psycopg.sql import SQL

        links = recorder._links(
            SQL("WHERE e.originator_id = %s AND e.originator_version = %s"),
            (originator_id, version),
        )
    else:
        links = recorder._links(
            "WHERE e.originator_id = ? AND e.originator_version = ?",
            (originator_id.hex, version),
        )
    return links[0] if links else None


def _document_in(state: Any, content_hash: bytes) -> dict[str, Any] | None:
    """The sealed document (or record) with ``content_hash`` among an event's attributes."""
    if not isinstance(state, dict):
        return None
    for value in state.values():
        if isinstance(value, dict) and value.get("content_hash") == content_hash:
            return value
    return None


def _recording_event(
    ledger: LedgerApplication, aggregate_id: UUID, content_hash: bytes
) -> tuple[int, dict[str, Any]]:
    for stored in ledger.recorder.select_events(aggregate_id):
        document = _document_in(decode(stored.state), content_hash)
        if document is not None:
            return stored.originator_version, document
    raise _refuse("chain", "no event of the ledger records this document")


def _check_chain(ledger: LedgerApplication, link: LinkedEvent) -> ChainEntry:
    entry = link.entry
    if link.event is None:
        raise _refuse("chain", f"entry {entry.sequence} has no stored event")
    if not hmac.compare_digest(hashlib.sha256(link.event.state).digest(), entry.state_hash):
        raise _refuse(
            "chain",
            f"the stored event at sequence {entry.sequence} differs from its chain entry "
            "(state hash mismatch): the ledger was altered",
        )
    if not hmac.compare_digest(entry.compute_hash(), entry.entry_hash):
        raise _refuse("chain", f"entry {entry.sequence} does not hash to its entry hash")
    if entry.sequence > 1:
        previous = ledger.chain.select_entries(entry.sequence - 1, 1)
        if not previous or previous[0].entry_hash != entry.prev_hash:
            raise _refuse("chain", f"entry {entry.sequence} does not link to its predecessor")
    siblings = ledger.chain.select_entries(entry.sequence - entry.command_index, entry.command_size)
    key = ledger.actor_key(entry.key_id)
    if (
        key is None
        or len(siblings) != entry.command_size
        or not verify_signature(key.public_key, signed_message(siblings), entry.signature)
    ):
        raise _refuse("chain", f"the command signature of entry {entry.sequence} does not verify")
    return entry


def _revoked_before(ledger: LedgerApplication, key_id: bytes, sequence: int) -> bool:
    key_aggregate = ActorKey.create_id(key_id)
    return any(
        link.entry.topic == KEY_REVOKED_TOPIC and link.entry.originator_id == key_aggregate
        for link in ledger.chain.select_key_events(sequence)
    )


def _check_seal(
    ledger: LedgerApplication, result: _Result, document: dict[str, Any], sequence: int
) -> tuple[str, dt.datetime, bytes, dict[str, Any]]:
    """(issuer department, issued at, seal key id, body) of a document whose seal verifies."""
    try:
        if result.kind is ClaimKind.E_CERTIFICATE:
            record = SealedRecord.from_dict(document)
            issuer, issued_at, key_id, body = (
                record.issuer,
                record.issued_at,
                record.key_id,
                record.body,
            )
        else:
            signed = SignedDocument.from_dict(document)
            issuer, issued_at, key_id, body = (
                signed.issuer_department,
                signed.issued_at,
                signed.key_id,
                signed.body,
            )
    except LedgerError as exc:
        raise _refuse("seal", f"the sealed document is malformed: {exc}") from None
    key = ledger.actor_key(key_id)
    if key is None:
        raise _refuse("seal", f"seal key {key_id.hex()} is not registered")
    if key.role != KeyRole.DEPARTMENT.value or key.department != issuer:
        raise _refuse("seal", f"key {key_id.hex()} is not an e-seal of {issuer}")
    ok = (
        verify_sealed(record, key.public_key)
        if result.kind is ClaimKind.E_CERTIFICATE
        else verify_document(signed, key.public_key)
    )
    if not ok:
        raise _refuse(
            "seal", f"the e-seal signature of {issuer} (key {key_id.hex()}) does not verify"
        )
    if _revoked_before(ledger, key_id, sequence):
        raise _refuse("seal", f"seal key {key_id.hex()} was revoked before the document")
    return issuer, issued_at, key_id, dict(body)


def _check_anchor(
    ledger: LedgerApplication, policy: TrustPolicy, tree: Any, entry: ChainEntry
) -> AnchorEvidence:
    log = _get(ledger, AnchorLog.create_id(policy.origin))
    if not isinstance(log, AnchorLog) or not log.checkpoint:
        raise _refuse("anchor", f"nothing of {policy.origin} is anchored yet")
    try:
        verified = verify_receipt(
            Receipt(log.checkpoint, log.block, log.tx_index, tuple(log.tx_proof)), policy
        )
    except AnchorError as exc:
        raise _refuse("anchor", f"the recorded receipt does not verify: {exc}") from None
    size, root = verified.checkpoint.size, verified.checkpoint.root
    if entry.sequence > size:
        raise _refuse(
            "anchor",
            f"not yet anchored: the result is at sequence {entry.sequence}, the latest "
            f"cosigned checkpoint covers {size} entries — try again in a moment",
        )
    if tree is None:
        raise _refuse("anchor", "no Merkle tree store to prove inclusion from")
    try:
        proof = tree.inclusion_proof(entry.sequence - 1, size)
    except (AnchorError, LedgerError, ValueError) as exc:
        raise _refuse("anchor", f"no inclusion proof: {exc}") from None
    if not merkle.verify_inclusion(
        merkle.leaf_hash(entry.entry_hash), entry.sequence - 1, size, proof, root
    ):
        raise _refuse(
            "anchor",
            f"entry {entry.sequence} is not included in the cosigned checkpoint of size {size}: "
            "the ledger was altered after anchoring",
        )
    return AnchorEvidence(
        policy.origin, size, root, verified.block.height, verified.checkpoint.cosigners
    )


def _check_status(result: _Result) -> str:
    if result.certificate is None:
        return "valid"
    certificate = result.certificate
    version = certificate.version_of(result.subject)
    status = certificate.status_of(version.number)
    if status is VersionStatus.REVOKED:
        raise _refuse(
            "status", f"certificate {result.subject} was revoked: {certificate.revocation_reason}"
        )
    if status is VersionStatus.SUPERSEDED:
        raise _refuse(
            "status", f"certificate {result.subject} was superseded by {certificate.identifier}"
        )
    return status.value


def verify_for_print(
    ledger: LedgerApplication, policy: TrustPolicy, tree: Any, serial: str
) -> VerifiedDocument:
    """Verify the result of case ``serial`` for printing (steps in the module docstring).

    ``tree`` is the ledger's ``anchors.tree.PersistentTree`` (or None: refused at step 4).
    Raises :class:`PrintRefused` naming the failed step; never anything else for bad data.
    """
    case, result = _find_result(ledger, serial)
    version, _ = _recording_event(ledger, result.aggregate_id, result.content_hash)
    link = locate_link(ledger, result.aggregate_id, version)
    if link is None:
        raise _refuse("chain", "the event that records the result has no chain entry")
    entry = _check_chain(ledger, link)
    assert link.event is not None
    recorded = _document_in(decode(link.event.state), result.content_hash)
    if recorded is None:
        raise _refuse("chain", "the chain-linked event does not hold the document")
    issuer, issued_at, key_id, body = _check_seal(ledger, result, recorded, entry.sequence)
    anchor = _check_anchor(ledger, policy, tree, entry)
    status = _check_status(result)
    department = _get(ledger, Department.id_for(issuer))
    issuer_name = department.name if isinstance(department, Department) else issuer
    if result.kind is ClaimKind.E_CERTIFICATE:
        title = str(body.get("type_code", "")) and f"电子证照 {case.item_name}"
    else:
        title = str(body.get("title") or case.item_name)
    return VerifiedDocument(
        kind=result.kind,
        serial=serial,
        subject=result.subject,
        title=title[:60],
        item_name=case.item_name,
        issuer=issuer,
        issuer_name=issuer_name,
        issued_at=issued_at,
        content_hash=result.content_hash,
        seal_key_id=key_id,
        body=body,
        sequence=entry.sequence,
        entry_hash=entry.entry_hash,
        anchor=anchor,
        status=status,
    )
