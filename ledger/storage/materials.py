"""Uploaded materials (申请材料的电子文件): a content-addressed blob store.

Layer: ledger storage (filesystem, database). Materials are submitted as e-copies or
e-signed files (GZ20·10, GZ16·14, FZ·11); the log never holds their bytes, only
:class:`MaterialRef` (SHA-256, size, media type), so the chain stays small and a
material is verified by its hash. Uploads are refused above a size limit and
outside a media-type allow-list, the bytes must look like the declared type
(magic bytes are sniffed: a PDF starts with ``%PDF-``), and a material carrying active
content — scripts, executables, embedded files, macros; PDFs parsed object by object, object
streams included (:mod:`ledger.storage.active_content`) — is refused (GZ20·10, GZ20·25)
before anything is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import psycopg
from psycopg import sql

from ledger.domain.rules import (
    ActiveContentRefused,
    InvalidMaterial,
    MaterialTooLarge,
    MediaTypeMismatch,
    MediaTypeNotAllowed,
)
from ledger.errors import ConfigurationError, LedgerError
from ledger.storage import pg_pool
from ledger.storage.active_content import active_content
from ledger.storage.faults import StorageUnavailable

__all__ = [
    "ALLOWED_MEDIA_TYPES",
    "MAX_MATERIAL_BYTES",
    "BlobCorrupted",
    "BlobNotFound",
    "BlobStore",
    "DirectoryBlobStore",
    "MaterialRef",
    "MaterialStoreError",
    "PostgresBlobStore",
    "check_material",
    "sniff_media_type",
]

MAX_MATERIAL_BYTES: Final = 20 * 1024 * 1024
"""Default size limit of one uploaded material (20 MiB)."""
ALLOWED_MEDIA_TYPES: Final = frozenset(
    {
        "application/pdf",
        "image/png",
        "image/jpeg",
        "application/ofd",  # GB/T 33190 版式文档
        "application/xml",
        "application/json",
    }
)
SHA256_SIZE: Final = 32
MATERIAL_BLOBS_TABLE: Final = "material_blobs"
_SCHEMA_PATTERN: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_BOM: Final = b"\xef\xbb\xbf"


class MaterialStoreError(LedgerError):
    """The blob store could not read or write (filesystem or database error at the edge)."""


class BlobNotFound(MaterialStoreError, LookupError):
    """No material with that hash is stored."""


class BlobCorrupted(MaterialStoreError):
    """Stored bytes no longer hash to their name: the store was altered."""


@dataclass(frozen=True)
class MaterialRef:
    """What an event records of a material: its SHA-256, size and media type."""

    sha256: bytes
    size: int
    media_type: str

    def __post_init__(self) -> None:
        if not isinstance(self.sha256, bytes) or len(self.sha256) != SHA256_SIZE:
            raise InvalidMaterial("sha256", f"must be {SHA256_SIZE} bytes")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise InvalidMaterial("size", "must be a positive number of bytes")
        if self.media_type not in ALLOWED_MEDIA_TYPES:
            raise MediaTypeNotAllowed("media_type", f"{self.media_type!r} is not allowed")

    @property
    def hex(self) -> str:
        return self.sha256.hex()

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size": self.size, "media_type": self.media_type}

    @classmethod
    def from_dict(cls, data: object) -> MaterialRef:
        """Parse a stored reference; raises a rule violation naming the field."""
        if not isinstance(data, Mapping):
            raise InvalidMaterial("material", "must be a map")
        for name in ("sha256", "size", "media_type"):
            if name not in data:
                raise InvalidMaterial(name, "missing")
        if set(data) != {"sha256", "size", "media_type"}:
            raise InvalidMaterial("material", "unknown fields")
        return cls(data["sha256"], data["size"], data["media_type"])


def _is_ofd(data: bytes) -> bool:
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "OFD.xml" in archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False


def _text_start(data: bytes) -> bytes:
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    return data.lstrip(b" \t\r\n")


def _is_json(data: bytes) -> bool:
    start = _text_start(data)
    if start[:1] not in (b"{", b"["):
        return False
    try:
        json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return True


def _is_xml(data: bytes) -> bool:
    start = _text_start(data)
    return start.startswith(b"<?xml") or re.match(rb"<[A-Za-z_]", start) is not None


def sniff_media_type(data: bytes) -> str | None:
    """The allowed media type ``data`` looks like by its magic bytes, or ``None``."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if _is_ofd(data):
        return "application/ofd"
    if _is_json(data):
        return "application/json"
    if _is_xml(data):
        return "application/xml"
    return None


def check_material(
    data: bytes, media_type: str, *, max_bytes: int = MAX_MATERIAL_BYTES
) -> MaterialRef:
    """Check an upload and return its reference. Raises :class:`MaterialTooLarge` (field
    ``size``), :class:`MediaTypeNotAllowed` (``media_type``), :class:`MediaTypeMismatch`
    (``content``: the bytes are not what the declared type says) or
    :class:`ActiveContentRefused` (``file``: scripts, executables, embedded files or macros,
    or a PDF that cannot be inspected within the bounds of
    :mod:`ledger.storage.active_content`)."""
    if not isinstance(data, bytes):
        raise InvalidMaterial("content", "must be bytes")
    if len(data) > max_bytes:
        raise MaterialTooLarge("size", f"{len(data)} bytes exceed the limit of {max_bytes}")
    if not data:
        raise InvalidMaterial("content", "is empty")
    declared = media_type.split(";", 1)[0].strip().lower() if isinstance(media_type, str) else ""
    if declared not in ALLOWED_MEDIA_TYPES:
        allowed = ", ".join(sorted(ALLOWED_MEDIA_TYPES))
        raise MediaTypeNotAllowed("media_type", f"{media_type!r} is not one of {allowed}")
    sniffed = sniff_media_type(data)
    if sniffed != declared:
        found = sniffed or "unrecognised bytes"
        raise MediaTypeMismatch("content", f"declared {declared}, but the bytes are {found}")
    problems = active_content(declared, data)
    if problems:
        raise ActiveContentRefused("file", "; ".join(problems))
    return MaterialRef(hashlib.sha256(data).digest(), len(data), declared)


def _check_hash(sha256: object) -> bytes:
    if not isinstance(sha256, bytes) or len(sha256) != SHA256_SIZE:
        raise MaterialStoreError(f"sha256: must be {SHA256_SIZE} bytes")
    return sha256


def _verified(sha256: bytes, data: bytes) -> bytes:
    if not hmac.compare_digest(hashlib.sha256(data).digest(), sha256):
        raise BlobCorrupted(f"sha256: stored bytes of {sha256.hex()} do not match their hash")
    return data


class BlobStore(Protocol):
    """Where material bytes live, named by their SHA-256 (a port with two adapters)."""

    def put(self, data: bytes, media_type: str) -> MaterialRef:
        """Check and store ``data`` (once, however often it is uploaded)."""

    def get(self, sha256: bytes) -> bytes:
        """The bytes; raises :class:`BlobNotFound` or :class:`BlobCorrupted`."""

    def missing(self, hashes: Collection[bytes]) -> frozenset[bytes]:
        """Those of ``hashes`` with no material stored (all of a submission's at once)."""


class DirectoryBlobStore:
    """Materials as files ``root/ab/cdef…`` (hex SHA-256 split after two characters)."""

    def __init__(self, root: str | Path, *, max_bytes: int = MAX_MATERIAL_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    def path(self, sha256: bytes) -> Path:
        name = _check_hash(sha256).hex()
        return self.root / name[:2] / name[2:]

    def put(self, data: bytes, media_type: str) -> MaterialRef:
        ref = check_material(data, media_type, max_bytes=self.max_bytes)
        target = self.path(ref.sha256)
        if target.exists():
            return ref
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)  # atomic: readers see all of it or nothing
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise MaterialStoreError(f"materials: cannot write {target}: {exc}") from exc
        return ref

    def get(self, sha256: bytes) -> bytes:
        target = self.path(sha256)
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            self._check_present()
            raise BlobNotFound(f"sha256: no material {sha256.hex()}") from None
        except OSError as exc:
            raise MaterialStoreError(f"materials: cannot read {target}: {exc}") from exc
        return _verified(sha256, data)

    def missing(self, hashes: Collection[bytes]) -> frozenset[bytes]:
        absent = frozenset(h for h in hashes if not self.path(h).is_file())
        if absent:
            self._check_present()
        return absent

    def _check_present(self) -> None:
        """A store whose directory is gone with its parent (the ledger's directory was
        removed or unmounted) is a storage fault, not an absent material: raises
        :class:`~ledger.storage.faults.StorageUnavailable`. A root not made yet (no upload
        so far) beside an existing parent is an empty store."""
        if not self.root.is_dir() and not self.root.parent.is_dir():
            raise StorageUnavailable(f"materials: the directory {self.root.parent} is missing")


class PostgresBlobStore:
    """Materials in the ``material_blobs`` table (psycopg 3), in ``schema``.

    Each call is one transaction on a connection borrowed from :mod:`ledger.storage.pg_pool`
    (``missing`` runs on every submission: a new connection each time cost more than the
    query, and ``BEGIN`` and ``COMMIT`` around its one ``SELECT`` two more round trips than
    it, so it runs as one autocommit statement, for all of the submission's materials).
    """

    def __init__(
        self, conninfo: str, schema: str = "public", *, max_bytes: int = MAX_MATERIAL_BYTES
    ) -> None:
        if not _SCHEMA_PATTERN.fullmatch(schema):
            raise ConfigurationError(f"schema: {schema!r} is not a plain lower-case identifier")
        self.conninfo = conninfo
        self.schema = schema
        self.max_bytes = max_bytes

    @property
    def _table(self) -> sql.Identifier:
        return sql.Identifier(self.schema, MATERIAL_BLOBS_TABLE)

    @contextmanager
    def _transaction(self, *, one_statement: bool = False) -> Iterator[psycopg.Connection[Any]]:
        borrow = pg_pool.statement if one_statement else pg_pool.transaction
        try:
            with borrow(self.conninfo) as conn:
                yield conn
        except psycopg.Error as exc:
            raise MaterialStoreError(f"materials: {exc}") from exc

    def migrate(self) -> None:
        """Create the schema and table if they do not exist."""
        with self._transaction() as conn:
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
            )
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    " sha256 bytea PRIMARY KEY CHECK (length(sha256) = 32),"
                    " media_type text NOT NULL,"
                    " size bigint NOT NULL CHECK (size > 0),"
                    " bytes bytea NOT NULL)"
                ).format(self._table)
            )

    def put(self, data: bytes, media_type: str) -> MaterialRef:
        ref = check_material(data, media_type, max_bytes=self.max_bytes)
        with self._transaction() as conn:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (sha256, media_type, size, bytes) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (sha256) DO NOTHING"
                ).format(self._table),
                (ref.sha256, ref.media_type, ref.size, data),
            )
        return ref

    def get(self, sha256: bytes) -> bytes:
        _check_hash(sha256)
        with self._transaction() as conn:
            row = conn.execute(
                sql.SQL("SELECT bytes FROM {} WHERE sha256 = %s").format(self._table), (sha256,)
            ).fetchone()
        if row is None:
            raise BlobNotFound(f"sha256: no material {sha256.hex()}")
        return _verified(sha256, bytes(row[0]))

    def missing(self, hashes: Collection[bytes]) -> frozenset[bytes]:
        wanted = frozenset(_check_hash(h) for h in hashes)
        if not wanted:
            return wanted
        with self._transaction(one_statement=True) as conn:  # one round trip in all
            rows = conn.execute(
                sql.SQL("SELECT sha256 FROM {} WHERE sha256 = ANY(%s)").format(self._table),
                (list(wanted),),
            ).fetchall()
        return wanted - {bytes(r[0]) for r in rows}
