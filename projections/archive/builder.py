"""Build a case's archive package: a BagIt 1.0 bag (RFC 8493) whose payload proves itself.

Layer: projections, archive (pure construction from bytes, plus writing files). Layout:
docs/ARCHIVE.md.

:func:`expected_payload` defines the payload from the case's anchored proof bundle
(``anchors.bundle``), its certificates' bundles, the trust policy, the material bytes, the
retention code and (only under an explicit personal-data policy) clear personal data. It is
deterministic — no clock, no randomness — so building twice gives the same payload and the same
payload digest (SHA-512 of ``manifest-sha512.txt``), and the checker calls the very same
function on what it reads to know what a package must hold. :func:`write_bag` adds the tag
files (``bagit.txt``, ``bag-info.txt`` with the source organisation, dates and the payload
digest, the provenance log, the transfer record's bundle) and both SHA-512 manifests, and
writes the bag atomically (a temporary sibling directory renamed into place).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from anchors.bundle import BundleReport, verify_bundle
from anchors.errors import BundleError
from anchors.policy import TrustPolicy
from projections.archive import layout
from projections.archive.bagfiles import format_bag_info, format_manifest, payload_oxum
from projections.archive.content import (
    CaseEvent,
    CertificateFile,
    DocumentFile,
    MaterialItem,
    certificate_bundle_path,
    certificate_files,
    certificate_ids,
    derive_metadata,
    document_files,
    dump_json,
    material_items,
    parse_bundle,
)
from projections.archive.errors import BuildError, PackageError
from projections.archive.index_html import render_index
from projections.archive.provenance import Provenance

__all__ = [
    "CaseFile",
    "Payload",
    "PayloadFile",
    "expected_payload",
    "payload_digest",
    "rewrite_provenance",
    "write_bag",
]

FILE_MODE: Final = 0o644
DIR_MODE: Final = 0o755
SOFTWARE: Final = "caseledger 0.1.0 (projections.archive)"


@dataclass(frozen=True)
class CaseFile:
    """Everything a payload is made from (gathered from the ledger by the service, or read
    from a package by the checker)."""

    case_bundle: bytes
    certificate_bundles: tuple[bytes, ...]
    policy: bytes
    retention: str
    blobs: Mapping[bytes, bytes]
    personal: Mapping[str, str] | None = None
    strict: bool = True
    """Refuse missing or mismatched material bytes (building); the checker passes False and
    judges materials itself, so that one bad material does not hide every other finding."""


@dataclass(frozen=True)
class PayloadFile:
    path: str
    data: bytes
    media_type: str
    role: str


@dataclass(frozen=True)
class Payload:
    """A package's payload: its files (sorted by path), manifest and digest, and what was
    derived on the way (so the checker can compare item by item)."""

    files: tuple[PayloadFile, ...]
    metadata: Mapping[str, Any]
    events: tuple[CaseEvent, ...]
    documents: tuple[DocumentFile, ...]
    materials: tuple[MaterialItem, ...]
    certificates: tuple[CertificateFile, ...]
    certificate_ids: tuple[str, ...]
    report: BundleReport
    manifest: bytes

    @property
    def digest(self) -> bytes:
        return payload_digest(self.manifest)

    def file(self, path: str) -> PayloadFile | None:
        return next((f for f in self.files if f.path == path), None)


def payload_digest(manifest: bytes) -> bytes:
    """The package's payload digest: SHA-512 of ``manifest-sha512.txt`` (it names every
    payload file and its SHA-512, so it fixes the whole payload)."""
    return hashlib.sha512(manifest).digest()


def proof_summary(report: BundleReport, policy: TrustPolicy) -> dict[str, Any]:
    return {
        "checkpoint origin": report.checkpoint_origin,
        "checkpoint size": report.checkpoint_size,
        "block height": report.block_height,
        "cosigned by": ", ".join(report.cosigners),
        "cosignatures required": f"{policy.threshold} of {len(policy.validators)}",
        "anchor node": policy.node,
        "case events anchored": report.versions,
    }


def expected_payload(
    case: CaseFile, policy: TrustPolicy, *, case_report: BundleReport | None = None
) -> Payload:
    """The payload of ``case``. Verifies every bundle against ``policy`` first.

    ``case_report`` is the report of an earlier ``verify_bundle`` of the same case bundle under
    the same policy (the checker's), which is then not verified again.
    Raises :class:`BuildError` when a bundle does not verify or a material's bytes are missing
    or do not hash to what the events record, :class:`PackageError` when the bundles are not
    those of an ended case.
    """
    report = case_report
    if report is None:
        try:
            report = verify_bundle(case.case_bundle, policy)
        except BundleError as exc:
            raise BuildError(f"case proof bundle: {exc}") from None
    parsed = parse_bundle(case.case_bundle, "case proof bundle")
    events = parsed.own
    documents = document_files(events)
    materials = material_items(events)
    ids = certificate_ids(events)
    if len(ids) != len(case.certificate_bundles):
        raise BuildError(
            f"the case recorded {len(ids)} e-certificate(s), {len(case.certificate_bundles)} "
            "certificate bundle(s) given"
        )
    files: list[PayloadFile] = [
        PayloadFile(layout.POLICY, case.policy, "application/json", "trust policy"),
        PayloadFile(layout.CASE_BUNDLE, case.case_bundle, "application/json", "case proof"),
    ]
    for e in events:
        stem = f"{layout.EVENTS_DIR}/v{e.version:04d}"
        files.append(PayloadFile(f"{stem}.state.msgpack", e.state_bytes, layout.MSGPACK, "event"))
        files.append(PayloadFile(f"{stem}.entry.msgpack", e.entry, layout.MSGPACK, "chain entry"))
    files += [PayloadFile(d.path, d.data, layout.MSGPACK, "signed document") for d in documents]
    for m in materials:
        data = case.blobs.get(m.sha256)
        if data is None:
            if not case.strict:
                continue
            raise BuildError(f"material {m.code} (v{m.version}): bytes {m.sha256.hex()} missing")
        if case.strict and (hashlib.sha256(data).digest() != m.sha256 or len(data) != m.size):
            raise BuildError(f"material {m.code} (v{m.version}): bytes do not match the event")
        files.append(PayloadFile(m.path, data, m.media_type, "material"))
    certificates: list[CertificateFile] = []
    counts: list[tuple[str, int]] = []
    for index, (identifier, bundle) in enumerate(
        zip(ids, case.certificate_bundles, strict=True), start=1
    ):
        try:
            verify_bundle(bundle, policy)
        except BundleError as exc:
            raise BuildError(f"certificate {identifier} proof bundle: {exc}") from None
        versions = certificate_files(index, parse_bundle(bundle, f"certificate {index} bundle"))
        certificates += versions
        counts.append((identifier, len(versions)))
        files.append(
            PayloadFile(
                certificate_bundle_path(index), bundle, "application/json", "certificate proof"
            )
        )
        files += [
            PayloadFile(v.path, v.data, layout.MSGPACK, "e-certificate version") for v in versions
        ]
    metadata = derive_metadata(
        events, retention=case.retention, certificates=counts, personal=case.personal
    )
    files.append(PayloadFile(layout.METADATA, dump_json(metadata), "application/json", "metadata"))
    page = render_index(metadata, documents, materials, certificates, proof_summary(report, policy))
    files.append(PayloadFile(layout.INDEX, page, "text/html", "index"))
    files.append(_register(files))
    files.sort(key=lambda f: f.path)
    manifest = format_manifest((f.path, hashlib.sha512(f.data).hexdigest()) for f in files)
    return Payload(
        files=tuple(files),
        metadata=metadata,
        events=events,
        documents=documents,
        materials=materials,
        certificates=tuple(certificates),
        certificate_ids=ids,
        report=report,
        manifest=manifest,
    )


def _register(files: Sequence[PayloadFile]) -> PayloadFile:
    """``data/register.json``: every other payload file with its size, type and role — the
    file count and byte total DA/T 70-2018 checks integrity against."""
    rows = sorted(
        (
            {"path": f.path, "bytes": len(f.data), "media_type": f.media_type, "role": f.role}
            for f in files
        ),
        key=lambda r: str(r["path"]),
    )
    value = {
        "format": layout.REGISTER_FORMAT,
        "files": rows,
        "count": len(rows),
        "bytes": sum(int(r["bytes"]) for r in rows),  # type: ignore[call-overload]
    }
    return PayloadFile(layout.REGISTER, dump_json(value), "application/json", "register")


def bag_info(
    payload: Payload, *, bagged_on: dt.date, transfer_record: str
) -> list[tuple[str, str]]:
    """The ``bag-info.txt`` fields (RFC 8493 §2.2.2 reserved labels, then ours)."""
    m = payload.metadata
    total = sum(len(f.data) for f in payload.files)
    return [
        ("Source-Organization", f"{m['department']['name']} ({m['department']['code']})"),
        ("External-Identifier", str(m["serial"])),
        (
            "External-Description",
            f"单套归档电子档案包 case archive package: {m['item']['name']} (GZ20·24, DA/T 70-2018)",
        ),
        ("Internal-Sender-Identifier", str(m["case_id"])),
        ("Bagging-Date", bagged_on.isoformat()),
        ("Case-Submitted", str(m["dates"]["submitted_at"])),
        ("Case-Ended", str(m["dates"]["ended_at"])),
        ("Bag-Software-Agent", SOFTWARE),
        ("Payload-Oxum", payload_oxum(len(f.data) for f in payload.files)),
        ("Bag-Size", f"{total / 1024:.1f} KB"),
        ("Archive-Profile", layout.PROFILE),
        ("Retention-Period", str(m["retention"])),
        ("Package-Digest", "sha512:" + payload.digest.hex()),
        ("Transfer-Record", transfer_record),
    ]


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, FILE_MODE)


def _tag_manifest(root: Path) -> bytes:
    names = [layout.BAGIT_TXT, layout.BAG_INFO, layout.MANIFEST, layout.PROVENANCE, layout.TRANSFER]
    return format_manifest(
        (name, hashlib.sha512((root / name).read_bytes()).hexdigest()) for name in names
    )


def write_bag(
    target: Path,
    payload: Payload,
    *,
    info: Sequence[tuple[str, str]],
    provenance: Provenance,
    transfer_bundle: bytes,
) -> Path:
    """Write the bag at ``target`` (which must not exist, or be an empty directory).

    Raises :class:`BuildError` when ``target`` is not empty or cannot be written."""
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BuildError(f"-o {target}: exists and is not an empty directory")
    staging = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    try:
        staging.mkdir(mode=DIR_MODE, parents=True)
        for f in payload.files:
            _write(staging / f.path, f.data)
        _write(staging / layout.BAGIT_TXT, layout.BAGIT_DECLARATION)
        _write(staging / layout.BAG_INFO, format_bag_info(info))
        _write(staging / layout.MANIFEST, payload.manifest)
        _write(staging / layout.PROVENANCE, provenance.to_bytes())
        _write(staging / layout.TRANSFER, transfer_bundle)
        _write(staging / layout.TAG_MANIFEST, _tag_manifest(staging))
        for directory in [staging, *(p for p in staging.rglob("*") if p.is_dir())]:
            os.chmod(directory, DIR_MODE)
        if target.exists():
            target.rmdir()
        os.rename(staging, target)
    except (OSError, PackageError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise BuildError(f"writing {target}: {exc}") from None
    return target


def rewrite_provenance(bag: Path, provenance: Provenance) -> None:
    """Replace the provenance log (a tag file) and recompute the tag manifest."""
    path = bag / layout.PROVENANCE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(provenance.to_bytes())
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)
    manifest = bag / layout.TAG_MANIFEST
    tmp = manifest.with_name(manifest.name + ".tmp")
    tmp.write_bytes(_tag_manifest(bag))
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, manifest)
