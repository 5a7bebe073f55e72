"""The archive package layout: names, media types, stage codes and named limits.

Layer: projections, archive (pure constants and one path check). Byte layout: docs/ARCHIVE.md. The
container is a BagIt 1.0 bag (RFC 8493) with SHA-512 manifests (§2.1.3, §2.2.1); the payload under
``data/`` is fully determined by the ledger (a rebuild gives the same payload digest), and the
tag files around it (``bag-info.txt``, ``metadata/``) say when, by whom and with which
transfer record it was handed over. Stage codes follow Fuzhou practice (RULES.md
"Archiving"); retention codes DA/T 70-2018 practice (Y, D30, D10).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from projections.archive.errors import PackageError

__all__ = [
    "BAGIT_DECLARATION",
    "BAG_INFO",
    "CASE_BUNDLE",
    "INDEX",
    "MANIFEST",
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "MAX_PATH_BYTES",
    "MAX_TAG_FILE_BYTES",
    "MAX_TOTAL_BYTES",
    "METADATA",
    "POLICY",
    "PROVENANCE",
    "REGISTER",
    "STAGES",
    "TAG_MANIFEST",
    "TRANSFER",
    "check_relative_path",
    "media_type_of",
    "stage_of",
]

PROFILE: Final = "caseledger-archive/v1"
BAGIT_DECLARATION: Final = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
BAGIT_TXT: Final = "bagit.txt"
BAG_INFO: Final = "bag-info.txt"
MANIFEST: Final = "manifest-sha512.txt"
TAG_MANIFEST: Final = "tagmanifest-sha512.txt"
PROVENANCE: Final = "metadata/provenance.json"
TRANSFER: Final = "metadata/transfer-bundle.json"
PAYLOAD_DIR: Final = "data"
INDEX: Final = "data/index.html"
METADATA: Final = "data/case.json"
REGISTER: Final = "data/register.json"
POLICY: Final = "data/policy.json"
CASE_BUNDLE: Final = "data/proof/case-bundle.json"
EVENTS_DIR: Final = "data/events"
DOCUMENTS_DIR: Final = "data/documents"
MATERIALS_DIR: Final = "data/materials"
CERTIFICATES_DIR: Final = "data/certificates"
TAG_FILES: Final = (BAGIT_TXT, BAG_INFO, PROVENANCE, TRANSFER)
"""Every tag file a package has besides its manifests (RFC 8493 §2.2)."""

METADATA_FORMAT: Final = "caseledger-archive-metadata/v1"
REGISTER_FORMAT: Final = "caseledger-archive-register/v1"
PROVENANCE_FORMAT: Final = "caseledger-archive-provenance/v1"

# --- named limits (untrusted input) -------------------------------------------------------------

MAX_FILES: Final = 20_000
MAX_FILE_BYTES: Final = 64 * 1024 * 1024
MAX_TOTAL_BYTES: Final = 2 * 1024 * 1024 * 1024
MAX_TAG_FILE_BYTES: Final = 16 * 1024 * 1024
MAX_JSON_BYTES: Final = 16 * 1024 * 1024
MAX_PATH_BYTES: Final = 512
MAX_PATH_DEPTH: Final = 6

# --- media types --------------------------------------------------------------------------------

MSGPACK: Final = "application/msgpack"
EXTENSIONS: Final = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "application/ofd": "ofd",
    "application/xml": "xml",
    "application/json": "json",
    MSGPACK: "msgpack",
    "text/html": "html",
}
"""The media types a package may hold (the blob store's allow-list plus our own formats)."""
_BY_EXTENSION: Final = {ext: media for media, ext in EXTENSIONS.items()}


def media_type_of(path: str) -> str | None:
    """The media type a payload file declares by its extension, or None."""
    _, _, ext = path.rpartition(".")
    return _BY_EXTENSION.get(ext)


# --- stage codes (Fuzhou practice, RULES.md "Archiving") ----------------------------------------

STAGES: Final = {
    1: "收件 receipt",
    2: "受理 acceptance",
    3: "审查 review",
    4: "办结 completion",
    11: "补正 correction",
    12: "暂停 suspension",
    99: "其他 other",
}
_TOPIC_STAGES: Final = {
    "Submitted": 1,
    "PreReviewPassed": 1,
    "MaterialsDelivered": 1,
    "CorrectionRequested": 11,
    "Corrected": 11,
    "Accepted": 2,
    "Refused": 2,
    "SpecialProcedureStarted": 12,
    "SpecialProcedureEnded": 12,
    "FeeAssessed": 3,
    "FeePaid": 3,
    "Decided": 3,
    "ResultIssued": 4,
    "CertificateRecorded": 4,
    "Dispatched": 4,
    "DeliveryFailed": 4,
    "Delivered": 4,
    "Closed": 4,
    "Withdrawn": 99,
}


def stage_of(topic: str) -> int:
    """The archive stage code of a case event topic (``ledger.cases:Case.<Name>``)."""
    return _TOPIC_STAGES.get(topic.rpartition(".")[2], 99)


# --- paths --------------------------------------------------------------------------------------

_SEGMENT: Final = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,127}")


def check_relative_path(path: str) -> str:
    """Accept a bag-relative path of the package layout, or raise :class:`PackageError`.

    RFC 8493 §7.2 leaves path safety to the implementation; we refuse everything a package of
    ours never holds: absolute paths, ``..`` or ``.`` segments, backslashes, empty segments,
    control or non-ASCII characters, names not NFC, over ``MAX_PATH_BYTES`` or deeper than
    ``MAX_PATH_DEPTH``.
    """
    if not isinstance(path, str) or not path:
        raise PackageError("path: empty")
    if len(path.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        raise PackageError(f"path {path[:60]!r}…: longer than {MAX_PATH_BYTES} bytes")
    if unicodedata.normalize("NFC", path) != path:
        raise PackageError(f"path {path!r}: not in Unicode NFC")
    if path.startswith("/") or "\\" in path or re.match(r"[A-Za-z]:", path):
        raise PackageError(f"path {path!r}: absolute or with a backslash")
    segments = path.split("/")
    if len(segments) > MAX_PATH_DEPTH:
        raise PackageError(f"path {path!r}: deeper than {MAX_PATH_DEPTH} levels")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise PackageError(f"path {path!r}: traversal or empty segment {segment!r}")
        if not _SEGMENT.fullmatch(segment):
            raise PackageError(
                f"path {path!r}: segment {segment!r} has characters outside [0-9A-Za-z._-]"
            )
    return path
