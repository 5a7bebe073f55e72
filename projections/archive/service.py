"""The archive application service: build, transfer and check a closed case's package.

Layer: projections, archive (composition of ledger, material store and anchoring; the CLI, the HTTP
API and the
demo all call :class:`ArchiveService`). RULES.md "Archiving" (NH·22, FZ·21, GZ20·24). A build:

1. loads the case and refuses an open one (``CaseNotArchivable``, NH·22 / FZ·21 / GZ20·24);
2. exports the case's proof bundle (``anchors.bundle``) — anchoring first if its last events
   are not anchored yet — and, for a case transferred before, at the very checkpoint the last
   transfer used, so a rebuild gives the same payload digest;
3. exports a bundle of every e-certificate the case recorded (every version, GZ20·21), reads
   every material from the blob store, and derives the payload (``builder.expected_payload``);
4. records the transfer (``ledger.domain.archiving.ArchiveRecord``: payload digest, who, when, event
   count), signed by the archiving actor's key — unless the last transfer already holds this
   very payload — and anchors it;
5. writes the bag with the transfer record's own bundle and the provenance log, checks it
   offline (``checker.check_package``) and appends that check to the provenance.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from anchors.bundle import export_bundle
from anchors.errors import BundleError
from anchors.policy import TrustPolicy
from anchors.tree import PersistentTree
from ledger.domain.anchoring import AnchorLog
from ledger.domain.archiving import ArchiveRecord, Transfer, check_archivable
from ledger.domain.calendar import shanghai_date
from ledger.domain.cases import Case
from ledger.domain.catalogue import ServiceItem
from ledger.domain.keys import KeyRole
from ledger.domain.personal_data import Erased
from ledger.domain.rules import NotInDepartmentScope
from ledger.domain.signer import Signer
from ledger.services.application import LedgerApplication
from ledger.services.cases import CaseService, Clock
from ledger.storage.materials import BlobStore
from projections.archive.builder import (
    SOFTWARE,
    CaseFile,
    Payload,
    bag_info,
    expected_payload,
    rewrite_provenance,
    write_bag,
)
from projections.archive.checker import CheckReport, check_package
from projections.archive.content import certificate_aggregate
from projections.archive.errors import BuildError
from projections.archive.provenance import Agent, Provenance, ProvenanceEvent

__all__ = ["Anchoring", "ArchiveService", "BuildResult", "WorkerAnchoring"]


class Anchoring(Protocol):
    """What archiving needs of anchoring: anchor what is recorded, the trust policy, the tree."""

    @property
    def origin(self) -> str: ...

    @property
    def tree(self) -> PersistentTree: ...

    def anchor(self) -> None: ...

    def policy(self) -> TrustPolicy: ...


class WorkerAnchoring:
    """:class:`Anchoring` by one round of an ``anchors.worker.AnchoringWorker`` at a time."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker

    @property
    def origin(self) -> str:
        return str(self.worker.anchors.origin)

    @property
    def tree(self) -> PersistentTree:
        tree: PersistentTree = self.worker.anchors.tree
        return tree

    def anchor(self) -> None:
        self.worker.anchor_once()

    def policy(self) -> TrustPolicy:
        policy: TrustPolicy = self.worker.policy()
        return policy


@dataclass(frozen=True)
class BuildResult:
    """What a build produced."""

    path: Path
    serial: str
    payload_digest: bytes
    recorded: bool
    transfer: Transfer
    events: int
    files: int
    bytes: int
    report: CheckReport
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "serial": self.serial,
            "payload_digest": "sha512:" + self.payload_digest.hex(),
            "recorded": self.recorded,
            "archivist": self.transfer.archivist,
            "transferred_at": self.transfer.transferred_at.isoformat(),
            "retention": self.transfer.retention,
            "events": self.events,
            "files": self.files,
            "bytes": self.bytes,
            "check": {"ok": self.report.ok, "properties": self.report.properties()},
            "seconds": round(self.seconds, 3),
        }


SAVE_BATCH: Final = 50
"""Transfer records saved per signed command when archiving many cases at once."""


@dataclass(frozen=True)
class _Prepared:
    serial: str
    case: Case
    payload: Payload
    record: ArchiveRecord


class _PinnedRepository:
    """A repository view that reads one aggregate (the anchor log) at a fixed version."""

    def __init__(self, inner: Any, aggregate_id: UUID, version: int) -> None:
        self.inner, self.aggregate_id, self.version = inner, aggregate_id, version

    def get(self, aggregate_id: UUID, version: int | None = None) -> Any:
        if aggregate_id == self.aggregate_id:
            return self.inner.get(aggregate_id, version=self.version)
        return self.inner.get(aggregate_id, version=version)


class _PinnedLedger:
    def __init__(self, ledger: LedgerApplication, aggregate_id: UUID, version: int) -> None:
        self.chain = ledger.chain
        self.repository = _PinnedRepository(ledger.repository, aggregate_id, version)


class ArchiveService:
    """Builds archive packages of ended cases and records their transfer."""

    def __init__(
        self,
        ledger: LedgerApplication,
        cases: CaseService,
        blobs: BlobStore,
        anchoring: Anchoring,
        *,
        clock: Clock,
        vault: Any = None,
    ) -> None:
        self.ledger = ledger
        self.cases = cases
        self.blobs = blobs
        self.anchoring = anchoring
        self.clock = clock
        self.vault = vault

    # -- queries ----------------------------------------------------------------------------

    def record(self, serial: str) -> ArchiveRecord | None:
        """The archive record of the case, or None if it was never transferred."""
        try:
            found: Any = self.ledger.repository.get(ArchiveRecord.id_for(serial))
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, ArchiveRecord) else None

    # -- the build --------------------------------------------------------------------------

    def build(
        self,
        serial: str,
        target: Path,
        *,
        archivist: str,
        signer: Signer,
        personal_data: bool = False,
    ) -> BuildResult:
        """Build, transfer and check the package of ``serial`` at ``target`` (see the module
        docstring). Raises ``CaseNotFound``, :class:`~ledger.domain.archiving.CaseNotArchivable`,
        ``KeyNotUsable`` / ``NotInDepartmentScope`` (the signer), :class:`BuildError`
        (nothing anchored, a material missing, ``target`` not empty) and the anchors errors
        of an unreachable node (``NodeUnavailable``)."""
        return self.build_many(
            [(serial, Path(target))],
            archivist=archivist,
            signer=signer,
            personal_data=personal_data,
        )[0]

    def build_many(
        self,
        jobs: Sequence[tuple[str, Path]],
        *,
        archivist: str,
        signer: Signer,
        personal_data: bool = False,
    ) -> list[BuildResult]:
        """Build the packages of several cases with two anchoring rounds in all: one before
        (if their events are newer than the last checkpoint) and one for their transfers."""
        began = time.perf_counter()
        policy = self.anchoring.policy()
        prepared = [self._prepare(serial, signer, policy, personal_data) for serial, _ in jobs]
        changed = [p.record for p in prepared if self._record_transfer(p, archivist)]
        for start in range(0, len(changed), SAVE_BATCH):
            self.ledger.save_signed(*changed[start : start + SAVE_BATCH], signer=signer)
        if changed:
            self.anchoring.anchor()
        results = [
            self._finish(p, Path(target), signer, policy, p.record in changed)
            for p, (_, target) in zip(prepared, jobs, strict=True)
        ]
        each = (time.perf_counter() - began) / max(1, len(results))
        return [replace(r, seconds=each) for r in results]

    def _prepare(
        self, serial: str, signer: Signer, policy: TrustPolicy, personal_data: bool
    ) -> _Prepared:
        case = self.cases.case(serial)
        check_archivable(serial, case.state.value)
        key = self.ledger.check_signer(signer, KeyRole.PLATFORM, KeyRole.DEPARTMENT)
        if key.role == KeyRole.DEPARTMENT.value and key.department != case.department:
            raise NotInDepartmentScope(
                f"department: key of {key.department} may not archive a case of {case.department}"
            )
        record = self.record(serial)
        pin = record.latest.anchor_size if record is not None and record.transfers else None
        payload = self._payload(case, policy, pin, personal_data)
        if record is None:
            record = ArchiveRecord.open(serial=serial, case_id=case.id, case_state=case.state.value)
        return _Prepared(serial, case, payload, record)

    def _record_transfer(self, p: _Prepared, archivist: str) -> bool:
        """Add the transfer to the record unless it already holds this payload (no event)."""
        if p.record.already_holds(p.payload.digest):
            return False
        p.record.transfer(
            Transfer(
                payload_digest=p.payload.digest,
                event_count=len(p.payload.events),
                last_version=p.payload.events[-1].version,
                anchor_size=p.payload.report.checkpoint_size,
                retention=str(p.payload.metadata["retention"]),
                archivist=archivist,
                transferred_at=self.clock.now(),
            ),
            case_state=p.case.state.value,
        )
        return True

    def _finish(
        self, p: _Prepared, target: Path, signer: Signer, policy: TrustPolicy, recorded: bool
    ) -> BuildResult:
        began = time.perf_counter()
        serial, payload, record = p.serial, p.payload, p.record
        digest = payload.digest
        transfer = next(
            Transfer.from_dict(t)
            for t in reversed(record.transfers)
            if t["payload_digest"] == digest
        )
        transfer_bundle = self._export(str(record.id), policy, None)
        now = self.clock.now()
        provenance = self._provenance(serial, digest, transfer, signer, record, now)
        info = bag_info(
            payload,
            bagged_on=shanghai_date(now),
            transfer_record=f"{record.id} v{record.version}",
        )
        path = write_bag(
            target, payload, info=info, provenance=provenance, transfer_bundle=transfer_bundle
        )
        report = check_package(path, policy)
        checked_at = max(self.clock.now(), now)
        rewrite_provenance(
            path,
            provenance.with_event(
                ProvenanceEvent(
                    identifier=f"{serial}/validation/{checked_at.isoformat()}",
                    event_type="validation",
                    at=checked_at,
                    detail="四性检测 DA/T 70-2018 four-property check, offline (caseledger "
                    "archive check), and BagIt 1.0 validity (RFC 8493)",
                    outcome="success" if report.ok else "failure",
                    outcome_detail="all items pass"
                    if report.ok
                    else "failed: " + ", ".join(report.failed),
                    agents=(Agent(SOFTWARE, "executing program", "caseledger archive check"),),
                )
            ),
        )
        return BuildResult(
            path=path,
            serial=serial,
            payload_digest=digest,
            recorded=recorded,
            transfer=transfer,
            events=len(payload.events),
            files=len(payload.files),
            bytes=sum(len(f.data) for f in payload.files),
            report=report,
            seconds=time.perf_counter() - began,
        )

    def _payload(
        self, case: Case, policy: TrustPolicy, pin: int | None, personal_data: bool
    ) -> Payload:
        """The payload at the pinned checkpoint when it still covers the case file, else at
        the latest (anchoring first when needed)."""
        ids = list(case.certificate_ids)
        targets = [str(case.id), *(str(certificate_aggregate(i)) for i in ids)]
        bundles: list[bytes] | None = None
        if pin is not None:
            try:
                bundles = [self._export(t, policy, pin) for t in targets]
            except BundleError:
                bundles = None  # the case file grew (e.g. a certificate update): a new package
        if bundles is None:
            bundles = [self._export(t, policy, None) for t in targets]
        blobs = {m["sha256"]: self.blobs.get(m["sha256"]) for m in self._submitted_materials(case)}
        return expected_payload(
            CaseFile(
                case_bundle=bundles[0],
                certificate_bundles=tuple(bundles[1:]),
                policy=policy.to_json(),
                retention=self._retention(case),
                blobs=blobs,
                personal=self._personal(case) if personal_data else None,
            ),
            policy,
        )

    def _submitted_materials(self, case: Case) -> list[Mapping[str, Any]]:
        """Every uploaded material any event of the case referenced — including those a
        correction replaced, which are archived too."""
        out: list[Mapping[str, Any]] = []
        for event in self.ledger.events.get(case.id):
            for m in getattr(event, "materials", None) or []:
                if isinstance(m, dict) and m.get("form") in ("e_copy", "e_signed"):
                    out.append(m)
        return out

    def _export(self, target: str, policy: TrustPolicy, pin: int | None) -> bytes:
        """``anchors.bundle.export_bundle`` at the latest receipt (anchoring once if the
        target's events are newer) or, with ``pin``, at the receipt of that size."""
        if pin is not None:
            version = self._anchor_version(pin)
            if version is None:
                raise BundleError(f"no recorded receipt of size {pin}")
            log_id = AnchorLog.create_id(self.anchoring.origin)
            pinned: Any = _PinnedLedger(self.ledger, log_id, version)
            return export_bundle(pinned, self.anchoring.tree, policy, target)
        try:
            return export_bundle(self.ledger, self.anchoring.tree, policy, target)
        except BundleError:
            self.anchoring.anchor()
        try:
            return export_bundle(self.ledger, self.anchoring.tree, policy, target)
        except BundleError as exc:
            raise BuildError(f"proof bundle of {target}: {exc}") from None

    def _anchor_version(self, size: int) -> int | None:
        """The version of the anchor log whose receipt has ``size`` (binary search)."""
        log_id = AnchorLog.create_id(self.anchoring.origin)
        try:
            latest: Any = self.ledger.repository.get(log_id)
        except AggregateNotFoundError:
            return None
        low, high = 1, int(latest.version)
        while low <= high:
            mid = (low + high) // 2
            found: Any = self.ledger.repository.get(log_id, version=mid)
            if found.size == size:
                return mid
            if found.size < size:
                low = mid + 1
            else:
                high = mid - 1
        return None

    def _retention(self, case: Case) -> str:
        try:
            item: Any = self.ledger.repository.get(ServiceItem.id_for(case.item_code))
        except AggregateNotFoundError:
            raise BuildError(f"service item {case.item_code} not found") from None
        return str(item.guide(case.guide_version).retention.value)

    def _personal(self, case: Case) -> dict[str, str]:
        """Clear personal data, only under an explicit policy (GZ20·25: its reading is itself
        a fact the caller must be entitled to)."""
        if self.vault is None:
            raise BuildError("personal data: this service has no personal-data vault")
        applicant: Any = self.ledger.repository.get(case.applicant_id)
        data = applicant.personal_data(self.vault)
        return {
            name: ("[erased]" if isinstance(value, Erased) else str(value))
            for name in ("name", "phone", "address")
            if (value := getattr(data, name)) is not None
        }

    def _provenance(
        self,
        serial: str,
        digest: bytes,
        transfer: Transfer,
        signer: Signer,
        record: ArchiveRecord,
        now: dt.datetime,
    ) -> Provenance:
        archivist = Agent(transfer.archivist, "implementer", f"key {signer.key_id.hex()}")
        events = [
            ProvenanceEvent(
                identifier=f"{serial}/creation/{now.isoformat()}",
                event_type="creation",
                at=now,
                detail="BagIt 1.0 package (RFC 8493, SHA-512) built from the ledger's anchored "
                "proof bundles (single-set archiving, GZ20·24)",
                outcome="success",
                outcome_detail=f"payload digest sha512:{digest.hex()}",
                agents=(Agent(SOFTWARE, "executing program", "caseledger archive build"),),
            ),
            ProvenanceEvent(
                identifier=f"{serial}/transfer/{transfer.transferred_at.isoformat()}",
                event_type="transfer",
                at=transfer.transferred_at,
                detail=f"archive transfer recorded in the ledger (ArchiveRecord {record.id}), "
                "signed and anchored (NH·22, FZ·21)",
                outcome="success",
                outcome_detail=f"{transfer.event_count} events, retention {transfer.retention}",
                agents=(archivist,),
            ),
        ]
        events.sort(key=lambda e: e.at)
        return Provenance(serial, "sha512:" + digest.hex(), tuple(events))
