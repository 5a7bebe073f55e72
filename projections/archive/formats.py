"""Does a file open as its declared type, and does it hold active content?

Layer: projections, archive (the standard library; the active-content check is
``ledger.storage.active_content``, which parses PDFs with ``pypdf`` in a bounded child
process, the same check an upload meets). DA/T 70-2018 usability (可用性: files open, no
encryption or proprietary compression without its key) and security (安全性: no executable or
macro content). Each check reads the container structure the format's specification
defines — PDF header, objects, cross-reference and trailer (ISO 32000); PNG chunks with
their CRCs and the inflated image size (ISO/IEC 15948); JPEG markers from SOI to EOI (ITU
T.81); canonical msgpack (docs/FORMAT.md §1); strict JSON (RFC 8259); XML without a DTD;
OFD's ZIP container (GB/T 33190) — and returns the problems found as text, never raising on
bad bytes. It does not render: a PDF whose page content is
nonsense but whose structure is sound passes.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from typing import Final
from xml.etree import ElementTree

from ledger.storage.active_content import active_content as _active_content
from projections.archive.errors import PackageError
from projections.archive.layout import MSGPACK

__all__ = ["active_content", "encryption", "opens_as"]

MAX_INFLATED_BYTES: Final = 256 * 1024 * 1024
MAX_ZIP_ENTRIES: Final = 10_000
MAX_PNG_DIMENSION: Final = 100_000


# --- opens as its type ----------------------------------------------------------------------------


def opens_as(media_type: str, data: bytes) -> list[str]:
    """Problems opening ``data`` as ``media_type`` (empty when it opens)."""
    try:
        check = _OPENERS[media_type]
    except KeyError:
        return [f"media type {media_type!r} is not one a package may hold"]
    try:
        return check(data)
    except (ValueError, TypeError, IndexError, KeyError, OverflowError, RecursionError,
            struct.error, zlib.error, zipfile.BadZipFile, ElementTree.ParseError,
            PackageError) as exc:  # fmt: skip
        return [f"does not open as {media_type}: {type(exc).__name__}: {exc}"]


def _pdf(data: bytes) -> list[str]:
    problems = []
    if not re.match(rb"%PDF-[12]\.[0-9]", data):
        return ["no %PDF-1.x / %PDF-2.x header"]
    tail = data[-1024:]
    if b"%%EOF" not in tail:
        problems.append("no %%EOF marker at the end")
    opens = len(re.findall(rb"\d+\s+\d+\s+obj\b", data))
    closes = len(re.findall(rb"\bendobj\b", data))
    if opens != closes:
        problems.append(f"{opens} objects opened, {closes} closed")
    if opens:
        found = re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data[-2048:])
        if found is None:
            problems.append("objects but no startxref before %%EOF")
        else:
            offset = int(found.group(1))
            at = data[offset : offset + 32]
            if not (at.startswith(b"xref") or re.match(rb"\d+\s+\d+\s+obj", at)):
                problems.append(f"startxref {offset} does not point at a cross-reference")
    return problems


def _png(data: bytes) -> list[str]:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ["no PNG signature"]
    pos, chunks, idat = 8, [], bytearray()
    width = height = depth = colour = 0
    while pos < len(data):
        if pos + 12 > len(data):
            return ["truncated chunk"]
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            return [f"chunk {kind!r} runs past the end"]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            return [f"chunk {kind!r} at byte {pos}: CRC mismatch"]
        chunks.append(kind)
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
        if kind == b"IEND":
            break
    if not chunks or chunks[0] != b"IHDR" or chunks[-1] != b"IEND" or pos != len(data):
        return ["chunks are not IHDR … IEND with nothing after"]
    if not (0 < width <= MAX_PNG_DIMENSION and 0 < height <= MAX_PNG_DIMENSION):
        return [f"implausible size {width}×{height}"]
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour)
    if channels is None or depth not in (1, 2, 4, 8, 16):
        return [f"colour type {colour} / bit depth {depth} not defined"]
    row = (width * channels * depth + 7) // 8
    expected = height * (row + 1)
    if expected > MAX_INFLATED_BYTES:
        return [f"image would inflate to {expected} bytes"]
    inflater = zlib.decompressobj()
    raw = inflater.decompress(bytes(idat), expected + 1)
    if len(raw) != expected or not inflater.eof:
        return [f"image data inflates to {len(raw)} bytes, expected {expected}"]
    return []


def _jpeg(data: bytes) -> list[str]:
    if not data.startswith(b"\xff\xd8"):
        return ["no JPEG SOI marker"]
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return ["no EOI marker at the end"]
    pos, frame = 2, False
    while pos < len(data):
        if data[pos] != 0xFF:
            return [f"byte {pos}: expected a marker"]
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2 or pos + 2 + length > len(data):
            return [f"segment {marker:#04x} at byte {pos} runs past the end"]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                      0xCF):  # fmt: skip
            frame = True
        if marker == 0xDA:  # start of scan: entropy-coded data follows until EOI
            return [] if frame else ["scan before any frame header"]
        pos += 2 + length
    return ["no start-of-scan segment"]


def _json(data: bytes) -> list[str]:
    from projections.archive.content import load_json_file

    load_json_file(data, "file")
    return []


def _msgpack(data: bytes) -> list[str]:
    from ledger.encoding import EncodingError, decode_canonical

    try:
        decode_canonical(data)
    except EncodingError as exc:
        return [f"not canonical msgpack: {exc}"]
    return []


def _xml(data: bytes) -> list[str]:
    if re.search(rb"<!DOCTYPE|<!ENTITY", data, re.IGNORECASE):
        return ["has a DTD or entity declarations (refused: entity expansion)"]
    ElementTree.fromstring(data)
    return []


def _ofd(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            return [f"more than {MAX_ZIP_ENTRIES} entries"]
        if "OFD.xml" not in {i.filename for i in infos}:
            return ["no OFD.xml entry (GB/T 33190)"]
        total = 0
        for info in infos:
            total += info.file_size
            if total > MAX_INFLATED_BYTES:
                return [f"entries inflate beyond {MAX_INFLATED_BYTES} bytes"]
        bad = archive.testzip()
        if bad is not None:
            return [f"entry {bad} is corrupted"]
    return []


def _html(data: bytes) -> list[str]:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [f"not UTF-8: {exc.reason}"]
    return []


_OPENERS: Final = {
    "application/pdf": _pdf,
    "image/png": _png,
    "image/jpeg": _jpeg,
    "application/json": _json,
    MSGPACK: _msgpack,
    "application/xml": _xml,
    "application/ofd": _ofd,
    "text/html": _html,
}


# --- encryption and proprietary compression -------------------------------------------------------


def encryption(media_type: str, data: bytes) -> list[str]:
    """Problems of encryption or compression an archive cannot open without a key or a
    proprietary codec (usability): PDF ``/Encrypt``, encrypted or exotic-method ZIP entries."""
    if media_type == "application/pdf" and re.search(rb"/Encrypt(?=[\s/<>\[\]]|$)", data):
        return ["PDF is encrypted (/Encrypt in its trailer)"]
    if media_type == "application/ofd" or data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist()[:MAX_ZIP_ENTRIES]:
                    if info.flag_bits & 0x1:
                        return [f"ZIP entry {info.filename} is encrypted"]
                    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                        return [f"ZIP entry {info.filename} uses method {info.compress_type}"]
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            return [f"unreadable ZIP container: {exc}"]
    return []


# --- active content -------------------------------------------------------------------------------


def active_content(media_type: str, data: bytes) -> list[str]:
    """Executable, script or macro content in a file (security): the same check an upload
    meets (:func:`ledger.storage.active_content.active_content`; PDFs parsed with ``pypdf``,
    object streams included, in a bounded child process)."""
    return _active_content(media_type, data)
