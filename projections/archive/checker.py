"""The four-property check of an archive package (电子档案四性检测, DA/T 70-2018), offline.

Layer: projections, archive (reads a directory; no database, no network). Our own strict verifier
of packages built by :mod:`projections.archive.builder` (layout: docs/ARCHIVE.md); the independent
``bagit`` package is only a second opinion (:mod:`projections.archive.second_opinion`). Each check
item has a
stable id, the property it belongs to, and passes or fails with the reason:

真实性 authenticity
  ``policy.trust``        the trust policy parses (and equals the auditor's, when given);
  ``proof.case``          the case's proof bundle verifies: every command signature under the
                          key valid at its sequence, inclusion proofs against a checkpoint
                          cosigned by k validators, the block receipt (``anchors.bundle``);
  ``events.hashes``       each event's state hashes to its chain entry, the proven one;
  ``documents.seals``     each signed document verifies with the issuing department's seal key
                          as registered (not revoked) when issued, and its event holds it;
  ``certificates.seals``  each e-certificate version verifies likewise, with its own bundle;
  ``materials.digests``   each material hashes to the SHA-256 and size its signed event records;
  ``metadata.valid``      ``case.json`` is well-formed (types, lengths, ranges, codes) and equals
                          the metadata derived from the proven events and the signed transfer;
  ``transfer.record``     the transfer record verifies, names this case, its payload digest is
                          SHA-512(manifest-sha512.txt); bag-info and provenance agree with it.
完整性 integrity
  ``bag.declaration``, ``bag.manifests``, ``bag.payload-fixity``, ``bag.tag-fixity``,
  ``bag.oxum`` (RFC 8493 §3 validity, stricter: every tag file must be listed too);
  ``register.sizes``      every file's size and type match the register, counts and totals too;
  ``events.sequence``     versions 1..n with no gap, n equal to the transfer record's count, the
                          last event inside the anchored checkpoint;
  ``contents.complete``   exactly the files the proven events call for are present.
可用性 usability
  ``formats.open``        every payload file opens as its declared type;
  ``formats.no-encryption`` no encryption or proprietary compression;
  ``index.renders``       index.html parses, its links resolve, it is the page the content renders.
安全性 security
  ``paths.safe``, ``files.links``, ``files.permissions``, ``content.active``, ``package.limits``.

The package passes when every item passes. Nothing here raises on a bad package: every
problem becomes a failed item.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Final
from uuid import UUID

from anchors.bundle import verify_bundle
from anchors.errors import AnchorError
from anchors.policy import TrustPolicy, parse_policy
from ledger.domain.archiving import ARCHIVE_TRANSFERRED_TOPIC, RETENTION_CODES, Transfer
from ledger.errors import LedgerError
from projections.archive import layout
from projections.archive.bagfiles import (
    ALGORITHMS,
    BagInfo,
    Manifest,
    digest,
    parse_bag_info,
    parse_manifest,
    payload_oxum,
)
from projections.archive.builder import CaseFile, Payload, expected_payload, payload_digest
from projections.archive.content import (
    CaseEvent,
    ParsedBundle,
    load_json_file,
    parse_bundle,
)
from projections.archive.errors import ArchiveError, PackageError
from projections.archive.formats import active_content, encryption, opens_as
from projections.archive.provenance import Provenance, parse_provenance

__all__ = ["PROPERTIES", "CheckItem", "CheckReport", "check_package"]

PROPERTIES: Final = ("authenticity", "integrity", "usability", "security")
PROPERTY_NAMES: Final = {
    "authenticity": "真实性",
    "integrity": "完整性",
    "usability": "可用性",
    "security": "安全性",
}
ITEMS: Final = (
    ("policy.trust", "authenticity", "trust policy"),
    (
        "proof.case",
        "authenticity",
        "case proof bundle (signatures, inclusion, cosigned checkpoint)",
    ),
    ("events.hashes", "authenticity", "events hash to their chain entries"),
    ("documents.seals", "authenticity", "signed documents verify with the seal key of the time"),
    ("certificates.seals", "authenticity", "e-certificate versions verify"),
    ("materials.digests", "authenticity", "materials match their recorded SHA-256 and size"),
    ("metadata.valid", "authenticity", "metadata valid and equal to the proven events"),
    ("transfer.record", "authenticity", "transfer record verifies and matches the package"),
    ("bag.declaration", "integrity", "bagit.txt declares BagIt 1.0, UTF-8"),
    ("bag.manifests", "integrity", "SHA-512 payload and tag manifests present and well-formed"),
    ("bag.payload-fixity", "integrity", "every payload file listed, present, digest matches"),
    ("bag.tag-fixity", "integrity", "every tag file listed, present, digest matches"),
    ("bag.oxum", "integrity", "Payload-Oxum matches the payload"),
    ("register.sizes", "integrity", "file sizes, types, count and total match the register"),
    ("events.sequence", "integrity", "event versions 1..n, no gap, count as transferred"),
    ("contents.complete", "integrity", "exactly the files the events call for"),
    ("formats.open", "usability", "every file opens as its declared type"),
    ("formats.no-encryption", "usability", "no encryption or proprietary compression"),
    ("index.renders", "usability", "index.html renders and matches the content"),
    ("paths.safe", "security", "no path traversal, absolute or odd names"),
    ("files.links", "security", "no symbolic or hard links, no special files"),
    ("files.permissions", "security", "no executable, set-id or world-writable files"),
    ("content.active", "security", "no executable, script or macro content"),
    ("package.limits", "security", "within the named size limits"),
)
MAX_PROBLEMS_SHOWN: Final = 5


@dataclass(frozen=True)
class CheckItem:
    """One check item: passed or not, and why."""

    id: str
    property: str
    title: str
    passed: bool
    why: str
    problems: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"problems": list(self.problems)}


@dataclass(frozen=True)
class CheckReport:
    """The outcome of checking one package."""

    path: str
    items: tuple[CheckItem, ...]
    policy_source: str
    seconds: float

    @property
    def ok(self) -> bool:
        return all(i.passed for i in self.items)

    def item(self, item_id: str) -> CheckItem:
        return next(i for i in self.items if i.id == item_id)

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(i.id for i in self.items if not i.passed)

    def properties(self) -> dict[str, bool]:
        return {p: all(i.passed for i in self.items if i.property == p) for p in PROPERTIES}

    def as_json(self) -> dict[str, Any]:
        return {
            "package": self.path,
            "ok": self.ok,
            "properties": self.properties(),
            "policy_source": self.policy_source,
            "seconds": round(self.seconds, 3),
            "items": [i.as_json() for i in self.items],
        }

    def table(self) -> str:
        lines = [f"archive check {self.path}"]
        width = max(len(i.id) for i in self.items)
        for prop in PROPERTIES:
            lines.append(f"{PROPERTY_NAMES[prop]} {prop}")
            for i in (x for x in self.items if x.property == prop):
                mark = "pass" if i.passed else "FAIL"
                lines.append(f"  {mark}  {i.id:<{width}}  {i.why}")
        verdict = "PASSED" if self.ok else f"FAILED ({', '.join(self.failed)})"
        summary = ", ".join(
            f"{PROPERTY_NAMES[p]} {'pass' if v else 'FAIL'}" for p, v in self.properties().items()
        )
        lines.append(f"{verdict}: {summary}; policy {self.policy_source}")
        return "\n".join(lines)


# --- collecting problems ---------------------------------------------------------------------


@dataclass
class _Findings:
    problems: dict[str, list[str]] = field(default_factory=lambda: {i: [] for i, _, _ in ITEMS})
    notes: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def fail(self, item: str, problem: str) -> None:
        self.problems[item].append(problem)

    def note(self, item: str, text: str) -> None:
        self.notes[item] = text

    @contextmanager
    def guard(self, item: str) -> Iterator[None]:
        """Any error inside becomes a problem of ``item`` (a checker never raises)."""
        try:
            yield
        except (ArchiveError, AnchorError, LedgerError) as exc:
            self.fail(item, str(exc))
        except Exception as exc:  # hostile input must not crash the check
            self.fail(item, f"{type(exc).__name__}: {exc}")

    def report(self, path: Path, policy_source: str, began: float) -> CheckReport:
        items = []
        for item_id, prop, title in ITEMS:
            problems = self.problems[item_id]
            if problems:
                shown = "; ".join(problems[:MAX_PROBLEMS_SHOWN])
                more = len(problems) - MAX_PROBLEMS_SHOWN
                why = shown + (f"; and {more} more" if more > 0 else "")
            elif item_id in self.skipped:
                problems = [self.skipped[item_id]]
                why = self.skipped[item_id]
            else:
                why = self.notes.get(item_id, "ok")
            items.append(CheckItem(item_id, prop, title, not problems, why, tuple(problems)))
        return CheckReport(str(path), tuple(items), policy_source, time.perf_counter() - began)


# --- reading the directory -------------------------------------------------------------------


@dataclass
class _Tree:
    files: dict[str, bytes] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)


def _walk(root: Path, f: _Findings) -> _Tree:
    """Read every regular file of the bag, checking links, permissions, paths and limits."""
    tree = _Tree()
    total = 0
    if root.is_symlink() or not root.is_dir():
        f.fail("files.links", f"{root} is not a directory")
        return tree
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in sorted(dirnames + filenames):
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            try:
                st = os.lstat(full)
            except OSError as exc:
                f.fail("files.links", f"{rel}: {exc}")
                continue
            try:
                layout.check_relative_path(rel)
            except PackageError as exc:
                f.fail("paths.safe", str(exc))
            if stat.S_ISLNK(st.st_mode):
                f.fail("files.links", f"{rel}: a symbolic link")
                continue
            if stat.S_ISDIR(st.st_mode):
                if st.st_mode & (stat.S_IWOTH | stat.S_ISUID | stat.S_ISGID):
                    f.fail("files.permissions", f"{rel}/: mode {stat.filemode(st.st_mode)}")
                continue
            if not stat.S_ISREG(st.st_mode):
                f.fail("files.links", f"{rel}: not a regular file ({stat.filemode(st.st_mode)})")
                continue
            if st.st_nlink > 1:
                f.fail("files.links", f"{rel}: has {st.st_nlink} hard links")
            if st.st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH):
                f.fail("files.permissions", f"{rel}: executable ({stat.filemode(st.st_mode)})")
            if st.st_mode & (stat.S_ISUID | stat.S_ISGID | stat.S_IWOTH | stat.S_IWGRP):
                f.fail("files.permissions", f"{rel}: mode {stat.filemode(st.st_mode)}")
            if len(tree.files) >= layout.MAX_FILES:
                f.fail("package.limits", f"more than {layout.MAX_FILES} files")
                break
            if st.st_size > layout.MAX_FILE_BYTES:
                f.fail("package.limits", f"{rel}: {st.st_size} bytes > {layout.MAX_FILE_BYTES}")
                continue
            total += st.st_size
            if total > layout.MAX_TOTAL_BYTES:
                f.fail("package.limits", f"more than {layout.MAX_TOTAL_BYTES} bytes in all")
                return tree
            try:
                with open(full, "rb") as fh:
                    data = fh.read(layout.MAX_FILE_BYTES + 1)
            except OSError as exc:
                f.fail("formats.open", f"{rel}: cannot be read ({exc})")
                continue
            tree.files[rel] = data
            tree.sizes[rel] = len(data)
    return tree


def _is_payload(path: str) -> bool:
    return path.startswith(layout.PAYLOAD_DIR + "/")


# --- the check -------------------------------------------------------------------------------


class _Check:
    def __init__(self, root: Path, trusted: TrustPolicy | None) -> None:
        self.root = root
        self.trusted = trusted
        self.f = _Findings()
        self.tree = _Tree()
        self.policy: TrustPolicy | None = None
        self.policy_source = "none"
        self.expected: Payload | None = None
        self.case_bundle: ParsedBundle | None = None
        self.info: BagInfo | None = None
        self.metadata: dict[str, Any] | None = None
        self.transfer: Transfer | None = None
        self.latest_transfer: Transfer | None = None
        self.transfer_event: CaseEvent | None = None
        self.transfer_bundle: ParsedBundle | None = None
        self.transfer_report: Any = None
        self.case_report: Any = None
        self._html: _ParsedHtml | None = None
        self.manifests: dict[str, Manifest] = {}

    def run(self) -> CheckReport:
        began = time.perf_counter()
        self.tree = _walk(self.root, self.f)
        self.bag()
        self.register()
        self.policy_and_proofs()
        self.transfer_record()
        self.sequence()
        self.usability()
        self.security()
        return self.f.report(self.root, self.policy_source, began)

    # -- integrity: the bag (RFC 8493 §3) ---------------------------------------------------

    def bag(self) -> None:
        f, files = self.f, self.tree.files
        with f.guard("bag.declaration"):
            found = files.get(layout.BAGIT_TXT)
            if found is None:
                f.fail("bag.declaration", "bagit.txt missing")
            elif found != layout.BAGIT_DECLARATION:
                f.fail("bag.declaration", "bagit.txt is not 'BagIt-Version: 1.0' / UTF-8")
        for path in files:
            if "/" in path or not path.startswith(("manifest-", "tagmanifest-")):
                continue
            self._manifest_paths(path, files[path])
        with f.guard("bag.manifests"):
            for name in sorted(files):
                match = re.fullmatch(r"(tag)?manifest-([a-z0-9]+)\.txt", name)
                if match is None:
                    continue
                algorithm = match.group(2)
                if algorithm not in ALGORITHMS:
                    f.fail("bag.manifests", f"{name}: algorithm {algorithm} not supported")
                    continue
                try:
                    self.manifests[name] = parse_manifest(files[name], algorithm, name)
                except PackageError as exc:
                    f.fail("bag.manifests", str(exc))
            for required in (layout.MANIFEST, layout.TAG_MANIFEST):
                if required not in files:
                    f.fail("bag.manifests", f"{required} missing")
        payload = {p for p in files if _is_payload(p)}
        with f.guard("bag.payload-fixity"):
            for name, manifest in self.manifests.items():
                if name.startswith("tag"):
                    continue
                self._fixity("bag.payload-fixity", name, manifest, payload, payload=True)
            if layout.MANIFEST not in self.manifests:
                f.fail("bag.payload-fixity", f"no readable {layout.MANIFEST} to check against")
        with f.guard("bag.tag-fixity"):
            tags = {p for p in files if not _is_payload(p) and not p.startswith("tagmanifest-")}
            for name, manifest in self.manifests.items():
                if name.startswith("tag"):
                    self._fixity("bag.tag-fixity", name, manifest, tags, payload=False)
            if layout.TAG_MANIFEST not in self.manifests:
                f.fail("bag.tag-fixity", f"no readable {layout.TAG_MANIFEST}: tag files unchecked")
        with f.guard("bag.oxum"):
            info = files.get(layout.BAG_INFO)
            if info is None:
                f.fail("bag.oxum", "bag-info.txt missing")
                return
            self.info = parse_bag_info(info)
            oxum = self.info.get("Payload-Oxum")
            actual = payload_oxum(self.tree.sizes[p] for p in payload)
            if oxum != actual:
                f.fail("bag.oxum", f"Payload-Oxum {oxum}, the payload is {actual}")
            else:
                f.note("bag.oxum", f"{actual} (bytes.files)")

    def _manifest_paths(self, name: str, data: bytes) -> None:
        """Path safety of every manifest line (security), before any strict parse."""
        try:
            text = data.decode("utf-8", "replace")
        except Exception:  # pragma: no cover - decode with replace does not raise
            return
        for number, line in enumerate(text.splitlines(), start=1):
            parts = line.split(maxsplit=1)
            if len(parts) == 2:
                try:
                    layout.check_relative_path(parts[1].strip())
                except PackageError as exc:
                    self.f.fail("paths.safe", f"{name} line {number}: {exc}")

    def _fixity(
        self, item: str, name: str, manifest: Manifest, present: set[str], *, payload: bool
    ) -> None:
        listed = manifest.as_dict()
        for path, expected in manifest.entries:
            if payload != _is_payload(path):
                self.f.fail(
                    item,
                    f"{name} lists {path}, which is not a {'payload' if payload else 'tag'} file",
                )
                continue
            data = self.tree.files.get(path)
            if data is None:
                self.f.fail(item, f"{path}: listed in {name} but missing")
            elif digest(manifest.algorithm, data) != expected:
                self.f.fail(item, f"{path}: {manifest.algorithm} digest does not match {name}")
        for path in sorted(present - set(listed)):
            self.f.fail(item, f"{path}: present but not listed in {name}")
        if not self.f.problems[item]:
            self.f.note(item, f"{len(listed)} file(s) in {', '.join(sorted(self.manifests))}")

    # -- integrity: the register -------------------------------------------------------------

    def register(self) -> None:
        f, files = self.f, self.tree.files
        with f.guard("register.sizes"):
            data = files.get(layout.REGISTER)
            if data is None:
                f.fail("register.sizes", f"{layout.REGISTER} missing")
                return
            value = load_json_file(data, "register.json")
            rows = value.get("files")
            if value.get("format") != layout.REGISTER_FORMAT or not isinstance(rows, list):
                f.fail("register.sizes", "register.json is not a file register")
                return
            listed: dict[str, dict[str, Any]] = {}
            for row in rows:
                if not isinstance(row, dict) or set(row) != {"path", "bytes", "media_type", "role"}:
                    f.fail("register.sizes", "register.json: malformed row")
                    return
                listed[str(row["path"])] = row
            for path, row in listed.items():
                size = self.tree.sizes.get(path)
                if size is None:
                    f.fail("register.sizes", f"{path}: registered but missing")
                elif size != row["bytes"]:
                    f.fail(
                        "register.sizes", f"{path}: {size} bytes, the register says {row['bytes']}"
                    )
                if row["media_type"] != layout.media_type_of(path):
                    f.fail("register.sizes", f"{path}: registered as {row['media_type']}")
            payload = {p for p in files if _is_payload(p)} - {layout.REGISTER}
            for path in sorted(payload - set(listed)):
                f.fail("register.sizes", f"{path}: present but not in the register")
            total = sum(int(r["bytes"]) for r in listed.values())
            if value.get("count") != len(listed) or value.get("bytes") != total:
                f.fail("register.sizes", "register.json: count or byte total wrong")
            if not f.problems["register.sizes"]:
                f.note("register.sizes", f"{len(listed)} files, {total} bytes as registered")

    # -- authenticity -------------------------------------------------------------------------

    def policy_and_proofs(self) -> None:
        f, files = self.f, self.tree.files
        with f.guard("policy.trust"):
            data = files.get(layout.POLICY)
            if data is None:
                f.fail("policy.trust", f"{layout.POLICY} missing")
            else:
                embedded = parse_policy(data)
                if self.trusted is not None and embedded != self.trusted:
                    f.fail("policy.trust", "the package's policy is not the trusted policy")
                self.policy = self.trusted or embedded
                self.policy_source = "trusted (--policy)" if self.trusted else "embedded"
                f.note(
                    "policy.trust",
                    f"{self.policy_source}: {self.policy.origin}, k={self.policy.threshold} of "
                    f"{len(self.policy.validators)} validators",
                )
        if self.policy is None:
            for item in ("proof.case", "transfer.record", "documents.seals", "certificates.seals"):
                f.skipped[item] = "not checked: no usable trust policy"
            return
        policy = self.policy
        self._load_transfer()
        with f.guard("proof.case"):
            bundle = files.get(layout.CASE_BUNDLE)
            if bundle is None:
                f.fail("proof.case", f"{layout.CASE_BUNDLE} missing")
            else:
                report = verify_bundle(bundle, policy)
                self.case_report = report
                self.case_bundle = parse_bundle(bundle, "case proof bundle")
                f.note(
                    "proof.case",
                    f"{report.versions} events, {report.commands} signed commands; checkpoint "
                    f"{report.checkpoint_size} cosigned by {len(report.cosigners)} (k="
                    f"{policy.threshold}), block {report.block_height}",
                )
        with f.guard("metadata.valid"):
            data = files.get(layout.METADATA)
            if data is None:
                f.fail("metadata.valid", f"{layout.METADATA} missing")
            else:
                self.metadata = validate_metadata(load_json_file(data, "case.json"))
                recorded = self.transfer or self.latest_transfer
                if recorded is not None and recorded.retention != self.metadata["retention"]:
                    f.fail(
                        "metadata.valid",
                        f"retention {self.metadata['retention']} in case.json, "
                        f"{recorded.retention} in the signed transfer record",
                    )
        if self.case_bundle is None or self.metadata is None:
            for item in ("events.hashes", "documents.seals", "materials.digests",
                         "certificates.seals", "contents.complete"):  # fmt: skip
                f.skipped.setdefault(item, "not checked: no verified case bundle or metadata")
            return
        self._events()
        self._documents()
        self._expected()

    def _events(self) -> None:
        """Each event file's state hashes to its entry file, and the entry is the proven one."""
        from ledger.encoding import decode_canonical

        assert self.case_bundle is not None
        f, files = self.f, self.tree.files
        proven = {e.version: e for e in self.case_bundle.own}
        with f.guard("events.hashes"):
            for path in sorted(p for p in files if p.startswith(layout.EVENTS_DIR + "/")):
                match = re.fullmatch(r"data/events/v(\d{4})\.(state|entry)\.msgpack", path)
                if match is None:
                    f.fail("events.hashes", f"{path}: not an event or entry file name")
                    continue
                version, kind = int(match.group(1)), match.group(2)
                if kind == "state":
                    continue
                entry = decode_canonical(files[path])
                state = files.get(f"{layout.EVENTS_DIR}/v{version:04d}.state.msgpack")
                if state is None or hashlib.sha256(state).digest() != entry.get("state_hash"):
                    f.fail("events.hashes", f"v{version}: state does not hash to its entry")
                known = proven.get(version)
                if known is None or known.entry != files[path]:
                    f.fail("events.hashes", f"v{version}: entry is not the one the bundle proves")
            if not f.problems["events.hashes"]:
                f.note("events.hashes", f"{len(proven)} events hash to their proven entries")

    def _keys(self, bundle: ParsedBundle) -> dict[bytes, dict[str, Any]]:
        """Keys as the (verified) bundle's key events registered and revoked them."""
        from ledger.domain.keys import KEY_REGISTERED_TOPIC, KEY_REVOKED_TOPIC

        keys: dict[bytes, dict[str, Any]] = {}
        by_origin: dict[UUID, bytes] = {}
        for e in bundle.events:
            if e.topic == KEY_REGISTERED_TOPIC:
                key_id = bytes(e.state["key_id"])
                keys[key_id] = {
                    "public_key": bytes(e.state["public_key"]),
                    "role": e.state["role"],
                    "department": e.state["department"],
                    "registered": e.sequence,
                    "revoked": None,
                }
                by_origin[e.originator_id] = key_id
            elif e.topic == KEY_REVOKED_TOPIC and e.originator_id in by_origin:
                keys[by_origin[e.originator_id]]["revoked"] = e.sequence
        return keys

    def _seal_key(
        self, keys: Mapping[bytes, Mapping[str, Any]], key_id: bytes, sequence: int, issuer: str
    ) -> tuple[bytes | None, str]:
        key = keys.get(key_id)
        if key is None:
            return None, f"key {key_id.hex()} is not registered in the proven log"
        if key["registered"] >= sequence:
            return None, f"key {key_id.hex()} was registered only at sequence {key['registered']}"
        if key["revoked"] is not None and key["revoked"] < sequence:
            return None, f"key {key_id.hex()} was revoked at sequence {key['revoked']}"
        if key["role"] != "department" or key["department"] != issuer:
            return None, f"key {key_id.hex()} is not a seal key of {issuer}"
        return key["public_key"], ""

    def _documents(self) -> None:
        from ledger.chain.seals import verify_document
        from ledger.domain.documents import SignedDocument
        from ledger.encoding import decode_canonical

        assert self.case_bundle is not None
        f, files = self.f, self.tree.files
        keys = self._keys(self.case_bundle)
        embedded = {_doc_key(d): e for e in self.case_bundle.own for d in _docs_in(e)}
        count = 0
        with f.guard("documents.seals"):
            for path in sorted(p for p in files if p.startswith(layout.DOCUMENTS_DIR + "/")):
                try:
                    raw = decode_canonical(files[path])
                    document = SignedDocument.from_dict(raw)
                except (LedgerError, ValueError) as exc:
                    f.fail("documents.seals", f"{path}: {exc}")
                    continue
                event = embedded.get(_doc_key(raw))
                if event is None:
                    f.fail("documents.seals", f"{path}: not a document any proven event holds")
                    continue
                public_key, why = self._seal_key(
                    keys, document.key_id, event.sequence, document.issuer_department
                )
                if public_key is None:
                    f.fail("documents.seals", f"{path}: {why}")
                elif not verify_document(document, public_key):
                    f.fail("documents.seals", f"{path}: the seal does not verify")
                count += 1
            if not f.problems["documents.seals"]:
                f.note("documents.seals", f"{count} documents verify with their seal keys")

    def _expected(self) -> None:
        """Rebuild the payload from the proven bundles and compare file by file."""
        assert self.policy is not None and self.metadata is not None
        f, files = self.f, self.tree.files
        certificate_bundles = tuple(
            files[p]
            for p in sorted(files)
            if re.fullmatch(r"data/certificates/c\d{2}/bundle\.json", p)
        )
        from projections.archive.content import material_items

        assert self.case_bundle is not None
        blobs = {
            m.sha256: files[m.path] for m in material_items(self.case_bundle.own) if m.path in files
        }
        applicant = self.metadata["applicant"]
        recorded = self.transfer or self.latest_transfer
        case = CaseFile(
            case_bundle=files[layout.CASE_BUNDLE],
            certificate_bundles=certificate_bundles,
            policy=files.get(layout.POLICY, b""),
            retention=recorded.retention if recorded else self.metadata["retention"],
            blobs=blobs,
            personal=applicant.get("clear"),
            strict=False,
        )
        try:
            self.expected = expected_payload(case, self.policy, case_report=self.case_report)
        except (ArchiveError, AnchorError, LedgerError) as exc:
            text = str(exc)
            item = (
                "certificates.seals"
                if text.startswith(("certificate", "the case recorded"))
                else "contents.complete"
            )
            f.fail(item, text)
            for other in ("contents.complete", "index.renders", "materials.digests"):
                f.skipped.setdefault(other, "not checked: the expected payload cannot be derived")
            return
        expected = self.expected
        self._certificates(expected)
        with f.guard("materials.digests"):
            for m in expected.materials:
                data = files.get(m.path)
                if data is None:
                    f.fail("materials.digests", f"{m.path}: missing")
                elif hashlib.sha256(data).digest() != m.sha256 or len(data) != m.size:
                    f.fail("materials.digests", f"{m.path}: not the bytes the event records")
            if not f.problems["materials.digests"]:
                f.note("materials.digests", f"{len(expected.materials)} materials match")
        with f.guard("metadata.valid"):
            actual = files.get(layout.METADATA)
            want = expected.file(layout.METADATA)
            if want is None or actual != want.data:
                f.fail("metadata.valid", "case.json differs from the metadata of the proven events")
            else:
                meta = self.metadata
                f.note(
                    "metadata.valid",
                    f"retention {meta['retention']}, {meta['counts']['events']} events, "
                    f"state {meta['state']}",
                )
        with f.guard("contents.complete"):
            want_paths = {x.path for x in expected.files}
            have = {p for p in files if _is_payload(p)}
            for path in sorted(want_paths - have):
                f.fail("contents.complete", f"{path}: the events call for it, it is missing")
            for path in sorted(have - want_paths):
                f.fail("contents.complete", f"{path}: not part of the case file")
            for x in expected.files:
                got = files.get(x.path)
                if (
                    got is not None
                    and got != x.data
                    and x.path not in (layout.METADATA, layout.INDEX)
                ):
                    f.fail("contents.complete", f"{x.path}: differs from what the events call for")
            if not f.problems["contents.complete"]:
                f.note(
                    "contents.complete", f"{len(want_paths)} payload files, as the events call for"
                )

    def _certificates(self, expected: Payload) -> None:
        from ledger.chain.seals import verify_sealed
        from ledger.domain.sealed import SealedRecord
        from ledger.encoding import decode_canonical

        f, files = self.f, self.tree.files
        with f.guard("certificates.seals"):
            for index in range(1, len(expected.certificate_ids) + 1):
                bundle = parse_bundle(
                    files[f"{layout.CERTIFICATES_DIR}/c{index:02d}/bundle.json"],
                    "certificate bundle",
                )
                keys = self._keys(bundle)
                for c in (x for x in expected.certificates if x.certificate == index):
                    data = files.get(c.path)
                    if data is None:
                        f.fail("certificates.seals", f"{c.path}: missing")
                        continue
                    record = SealedRecord.from_dict(decode_canonical(data))
                    public_key, why = self._seal_key(keys, record.key_id, c.sequence, record.issuer)
                    if public_key is None:
                        f.fail("certificates.seals", f"{c.path}: {why}")
                    elif not verify_sealed(record, public_key) or data != c.data:
                        f.fail("certificates.seals", f"{c.path}: the seal does not verify")
            if not f.problems["certificates.seals"]:
                f.note(
                    "certificates.seals",
                    f"{len(expected.certificate_ids)} certificates, "
                    f"{len(expected.certificates)} versions verify",
                )

    def _load_transfer(self) -> None:
        """Verify the transfer record's bundle and find its transfers (before the metadata is
        judged: the signed record, not case.json, says which retention was transferred)."""
        f, files = self.f, self.tree.files
        assert self.policy is not None
        with f.guard("transfer.record"):
            data = files.get(layout.TRANSFER)
            if data is None:
                f.fail("transfer.record", f"{layout.TRANSFER} missing")
                return
            self.transfer_report = verify_bundle(data, self.policy)
            bundle = parse_bundle(data, "transfer bundle")
            self.transfer_bundle = bundle
            transfers = [e for e in bundle.own if e.topic == ARCHIVE_TRANSFERRED_TOPIC]
            computed = payload_digest(files.get(layout.MANIFEST, b""))
            match = [e for e in transfers if e.state.get("payload_digest") == computed]
            for events, attribute in ((transfers, "latest_transfer"), (match, "transfer")):
                if events:
                    setattr(self, attribute, _transfer_of(events[-1]))
            if match:
                self.transfer_event = match[-1]

    def transfer_record(self) -> None:
        f, files = self.f, self.tree.files
        if self.policy is None or self.transfer_bundle is None:
            return
        with f.guard("transfer.record"):
            bundle = self.transfer_bundle
            report = self.transfer_report
            own = bundle.own
            computed = payload_digest(files.get(layout.MANIFEST, b""))
            opened = own[0].state if own else {}
            if self.metadata is not None and (
                opened.get("serial") != self.metadata["serial"]
                or str(opened.get("case_id")) != self.metadata["case_id"]
            ):
                f.fail("transfer.record", "the transfer record is of another case")
            if self.transfer is None or self.transfer_event is None:
                f.fail(
                    "transfer.record",
                    f"no recorded transfer has this payload digest (sha512:{computed.hex()[:16]}…):"
                    " the payload is not what was handed over",
                )
                return
            event = self.transfer_event
            t = self.transfer
            keys = self._keys(bundle)
            key = keys.get(_entry_key_id(event))
            if key is None or key["role"] not in ("platform", "department"):
                f.fail(
                    "transfer.record", "the transfer was not signed by a platform or department key"
                )
            if self.metadata is not None and t.retention != self.metadata["retention"]:
                f.fail("transfer.record", f"retention {self.metadata['retention']} in case.json, "
                       f"{t.retention} transferred")  # fmt: skip
            if (
                self.info is not None
                and self.info.get("Package-Digest") != "sha512:" + computed.hex()
            ):
                f.fail("transfer.record", "bag-info Package-Digest is not the payload digest")
            self._provenance(t, computed)
            if not f.problems["transfer.record"]:
                f.note(
                    "transfer.record",
                    f"transferred by {t.archivist} at {t.transferred_at.isoformat()}, "
                    f"{t.event_count} events; record anchored at size {report.checkpoint_size}",
                )

    def _provenance(self, t: Transfer, computed: bytes) -> None:
        f = self.f
        data = self.tree.files.get(layout.PROVENANCE)
        if data is None:
            f.fail("transfer.record", f"{layout.PROVENANCE} missing")
            return
        provenance: Provenance = parse_provenance(data)
        if provenance.payload_digest != "sha512:" + computed.hex():
            f.fail("transfer.record", "provenance names another payload digest")
        if not provenance.of_type("creation"):
            f.fail("transfer.record", "provenance has no creation event")
        moved = provenance.of_type("transfer")
        if not any(
            e.at == t.transferred_at and any(a.name == t.archivist for a in e.agents) for e in moved
        ):
            f.fail("transfer.record", "provenance has no transfer event matching the record")

    # -- integrity: the event sequence -----------------------------------------------------------

    def sequence(self) -> None:
        f, files = self.f, self.tree.files
        with f.guard("events.sequence"):
            versions: dict[int, set[str]] = {}
            for path in files:
                m = re.fullmatch(r"data/events/v(\d{4})\.(state|entry)\.msgpack", path)
                if m:
                    versions.setdefault(int(m.group(1)), set()).add(m.group(2))
            if not versions:
                f.fail("events.sequence", "no events in the package")
                return
            present = sorted(versions)
            n = present[-1]
            gaps = sorted(set(range(1, n + 1)) - set(present))
            if gaps:
                f.fail("events.sequence", f"versions {gaps[:10]} missing from 1..{n}")
            for v in present:
                if versions[v] != {"state", "entry"}:
                    f.fail("events.sequence", f"v{v}: state and entry are not both present")
            counted = self.transfer or self.latest_transfer
            if counted is not None:
                if len(present) != counted.event_count or n != counted.last_version:
                    f.fail(
                        "events.sequence",
                        f"{len(present)} events up to v{n}; the transfer record says "
                        f"{counted.event_count} up to v{counted.last_version}",
                    )
            else:
                f.fail("events.sequence", "no verified transfer record to count against")
            if self.case_bundle is not None:
                own = self.case_bundle.own
                if [e.version for e in own] != list(range(1, len(own) + 1)) or len(own) != len(
                    present
                ):
                    f.fail("events.sequence", f"the proof bundle proves {len(own)} events, "
                           f"the package holds {len(present)}")  # fmt: skip
            if not f.problems["events.sequence"]:
                f.note("events.sequence", f"versions 1..{n}, as transferred and anchored")

    # -- usability ------------------------------------------------------------------------------

    def usability(self) -> None:
        f, files = self.f, self.tree.files
        with f.guard("formats.open"):
            for path in sorted(p for p in files if _is_payload(p)):
                media = layout.media_type_of(path)
                if media is None:
                    f.fail("formats.open", f"{path}: no declared type (extension)")
                    continue
                for problem in opens_as(media, files[path]):
                    f.fail("formats.open", f"{path}: {problem}")
            if not f.problems["formats.open"]:
                f.note("formats.open", f"{sum(1 for p in files if _is_payload(p))} files open")
        with f.guard("formats.no-encryption"):
            for path in sorted(p for p in files if _is_payload(p)):
                for problem in encryption(layout.media_type_of(path) or "", files[path]):
                    f.fail("formats.no-encryption", f"{path}: {problem}")
            f.note("formats.no-encryption", "no encrypted files (sealed personal-data fields "
                   "inside events are erasable references by policy)")  # fmt: skip
        with f.guard("index.renders"):
            page = files.get(layout.INDEX)
            if page is None:
                f.fail("index.renders", f"{layout.INDEX} missing")
                return
            parsed = self.html(page)
            for problem in parsed.problems:
                f.fail("index.renders", problem)
            for link in sorted(parsed.links):
                target = f"{layout.PAYLOAD_DIR}/{link}"
                if target not in files:
                    f.fail("index.renders", f"link {link!r} does not resolve in the package")
            if self.expected is not None:
                want = self.expected.file(layout.INDEX)
                if want is None or want.data != page:
                    f.fail("index.renders", "index.html is not the page the content renders")
            if not f.problems["index.renders"]:
                f.note(
                    "index.renders",
                    f"{parsed.elements} elements, {len(parsed.links)} links resolve",
                )

    def html(self, page: bytes) -> _ParsedHtml:
        if self._html is None:
            self._html = _parse_html(page)
        return self._html

    # -- security -------------------------------------------------------------------------------

    def security(self) -> None:
        f, files = self.f, self.tree.files
        with f.guard("content.active"):
            for path in sorted(files):
                media = layout.media_type_of(path) or "text/plain"
                for problem in active_content(media, files[path]):
                    f.fail("content.active", f"{path}: {problem}")
            page = files.get(layout.INDEX)
            if page is not None:
                for problem in self.html(page).active:
                    f.fail("content.active", f"{layout.INDEX}: {problem}")
            if not f.problems["content.active"]:
                f.note("content.active", f"{len(files)} files scanned")
        for item, summary in (
            ("paths.safe", f"{len(files)} paths inside the bag"),
            ("files.links", "regular files only"),
            ("files.permissions", "no exec, set-id or group/world-writable files"),
            ("package.limits", f"{len(files)} files, {sum(self.tree.sizes.values())} bytes"),
        ):
            f.note(item, summary)


def _transfer_of(event: CaseEvent) -> Transfer:
    return Transfer.from_dict(
        {k: v for k, v in event.state.items() if k not in ("timestamp", "originator_topic")}
    )


def _entry_key_id(event: CaseEvent) -> bytes:
    from ledger.encoding import decode_canonical

    key_id = decode_canonical(event.entry).get("key_id")
    return bytes(key_id) if isinstance(key_id, bytes) else b""


def _docs_in(event: CaseEvent) -> list[Mapping[str, Any]]:
    from projections.archive.content import DOCUMENT_FIELDS

    return [v for v in event.state.values() if isinstance(v, dict) and set(v) == DOCUMENT_FIELDS]


def _doc_key(document: Mapping[str, Any]) -> bytes:
    value = document.get("content_hash")
    return bytes(value) if isinstance(value, bytes) else b""


# --- metadata schema --------------------------------------------------------------------------

_SERIAL: Final = re.compile(r"[0-9A-Za-z-]{1,64}")
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_INSTANT: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")
_METADATA_KEYS: Final = frozenset(
    {"format", "serial", "approval_code", "case_id", "item", "department", "applicant",
     "channel", "handling_mode", "state", "final_stage", "retention", "dates", "events",
     "counts", "certificates"}
)  # fmt: skip


def _need(ok: bool, field_name: str, why: str) -> None:
    if not ok:
        raise PackageError(f"case.json {field_name}: {why}")


def _str(value: Any, name: str, limit: int = 500, pattern: re.Pattern[str] | None = None) -> None:
    _need(isinstance(value, str) and 0 < len(value) <= limit, name, f"text of 1–{limit} characters")
    if pattern is not None:
        _need(bool(pattern.fullmatch(value)), name, f"does not match {pattern.pattern}")


def _int(value: Any, name: str, low: int, high: int) -> None:
    _need(
        isinstance(value, int) and not isinstance(value, bool) and low <= value <= high,
        name,
        f"a whole number in {low}..{high}",
    )


def validate_metadata(value: dict[str, Any]) -> dict[str, Any]:
    """Check ``case.json``'s types, lengths, ranges and codes (DA/T 70-2018 authenticity:
    metadata valid); raises :class:`PackageError` naming the field."""
    _need(set(value) == _METADATA_KEYS, "fields", f"exactly {sorted(_METADATA_KEYS)}")
    _need(value["format"] == layout.METADATA_FORMAT, "format", layout.METADATA_FORMAT)
    _str(value["serial"], "serial", 64, _SERIAL)
    _str(value["approval_code"], "approval_code", 100, _SERIAL)
    _str(value["case_id"], "case_id", 36)
    try:
        _need(str(UUID(value["case_id"])) == value["case_id"], "case_id", "a canonical UUID")
    except (ValueError, AttributeError, TypeError):
        _need(False, "case_id", "a canonical UUID")
    item = value["item"]
    _need(isinstance(item, dict), "item", "a map")
    _str(item.get("name"), "item.name", 200)
    _str(item.get("implementation_code"), "item.implementation_code", 64)
    _str(item.get("type_code"), "item.type_code", 2, re.compile(r"0[1-9]|10|20"))
    _int(item.get("guide_version"), "item.guide_version", 1, 10_000)
    _int(item.get("promised_limit_days"), "item.promised_limit_days", 0, 3650)
    _int(item.get("statutory_limit_days"), "item.statutory_limit_days", 0, 3650)
    _need(isinstance(item.get("legal_basis"), list), "item.legal_basis", "a list")
    dept = value["department"]
    _need(isinstance(dept, dict), "department", "a map")
    _str(dept.get("code"), "department.code", 64)
    _str(dept.get("name"), "department.name", 200)
    applicant = value["applicant"]
    _need(isinstance(applicant, dict), "applicant", "a map")
    _str(applicant.get("id"), "applicant.id", 36)
    _need(applicant.get("personal_data") in ("reference", "clear"), "applicant.personal_data",
          "'reference' or 'clear'")  # fmt: skip
    if applicant["personal_data"] == "clear":
        clear = applicant.get("clear")
        _need(isinstance(clear, dict) and all(isinstance(v, str) for v in clear.values()),
              "applicant.clear", "a map of text")  # fmt: skip
    else:
        _need(set(applicant) == {"id", "personal_data"}, "applicant",
              "no clear personal data under the reference policy")  # fmt: skip
    _need(value["state"] in ("closed", "not_accepted", "returned", "withdrawn"), "state",
          "an ended case's state")  # fmt: skip
    _need(value["final_stage"] in layout.STAGES, "final_stage", f"one of {sorted(layout.STAGES)}")
    _need(value["retention"] in RETENTION_CODES, "retention", f"one of {sorted(RETENTION_CODES)}")
    dates = value["dates"]
    _need(isinstance(dates, dict), "dates", "a map")
    for key, text in dates.items():
        if text is not None:
            ok = isinstance(text, str) and bool(_DATE.fullmatch(text) or _INSTANT.fullmatch(text))
            _need(ok, f"dates.{key}", "an ISO 8601 date or UTC time")
    events = value["events"]
    _need(isinstance(events, list) and 0 < len(events) <= 100_000, "events", "a non-empty list")
    for i, e in enumerate(events):
        _need(isinstance(e, dict), f"events[{i}]", "a map")
        _int(e.get("version"), f"events[{i}].version", i + 1, i + 1)
        _int(e.get("sequence"), f"events[{i}].sequence", 1, 2**63 - 1)
        _need(
            e.get("stage") in layout.STAGES, f"events[{i}].stage", f"one of {sorted(layout.STAGES)}"
        )
        _str(e.get("topic"), f"events[{i}].topic", 200)
    counts = value["counts"]
    _need(isinstance(counts, dict), "counts", "a map")
    for key in ("events", "documents", "materials", "certificates", "certificate_versions"):
        _int(counts.get(key), f"counts.{key}", 0, 100_000)
    _need(counts["events"] == len(events), "counts.events", "equals the events listed")
    _need(isinstance(value["certificates"], list), "certificates", "a list")
    return value


# --- HTML -----------------------------------------------------------------------------------------

_VOID: Final = frozenset({"meta", "br", "hr", "img", "link", "input", "col", "wbr"})
_FORBIDDEN: Final = frozenset(
    {"script", "iframe", "object", "embed", "form", "base", "applet", "frame", "frameset", "svg",
     "math", "link"}
)  # fmt: skip


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.active: list[str] = []
        self.links: set[str] = set()
        self.elements = 0
        self.title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements += 1
        if tag in _FORBIDDEN:
            self.active.append(f"<{tag}> element")
        if tag == "meta" and any(k == "http-equiv" for k, _ in attrs):
            self.active.append("<meta http-equiv>")
        if tag == "title":
            self.title = True
        for key, val in attrs:
            if key.startswith("on"):
                self.active.append(f"event handler attribute {key}")
            if key in ("href", "src", "action", "formaction") and val is not None:
                low = val.strip().lower()
                if re.match(r"[a-z][a-z0-9+.-]*:|//", low):
                    self.active.append(f"{key}={val[:40]!r} leaves the package")
                elif key == "href":
                    self.links.add(val)
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(
                f"</{tag}> does not close <{self.stack[-1] if self.stack else ''}>"
            )
            return
        self.stack.pop()


@dataclass(frozen=True)
class _ParsedHtml:
    problems: tuple[str, ...]
    active: tuple[str, ...]
    links: frozenset[str]
    elements: int


def _parse_html(page: bytes) -> _ParsedHtml:
    parser = _Html()
    try:
        parser.feed(page.decode("utf-8"))
        parser.close()
    except (UnicodeDecodeError, AssertionError) as exc:
        return _ParsedHtml((f"does not parse: {exc}",), (), frozenset(), 0)
    problems = list(parser.problems)
    if parser.stack:
        problems.append(f"unclosed elements {parser.stack[-3:]}")
    if not parser.title:
        problems.append("no <title>")
    if not page.startswith(b"<!DOCTYPE html>"):
        problems.append("no HTML5 doctype")
    return _ParsedHtml(
        tuple(problems), tuple(parser.active), frozenset(parser.links), parser.elements
    )


# --- entry point ------------------------------------------------------------------------------


def check_package(path: str | Path, policy: TrustPolicy | None = None) -> CheckReport:
    """Check the package at ``path`` offline (no database, no network); never raises on a bad
    package. ``policy`` is the auditor's trust policy; without it the package's own policy is
    used and the report says so (``policy_source``)."""
    return _Check(Path(path), policy).run()
