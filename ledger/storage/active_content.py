"""Does a file carry active content — executable code, scripts, macros, embedded files?

Layer: ledger storage (edge: ``pypdf`` parses PDFs, in a bounded child process). Used where an
applicant's material first arrives (:func:`ledger.storage.materials.check_material`, GZ20·10:
materials are submitted as plain e-copies; GZ20·25: the system's information security) and by
the archive's security check (``projections.archive.formats``, DA/T 70-2018 安全性). Returns
the problems found as text, never raising on bad bytes.

What is looked for:

* executables by magic bytes (ELF, PE, Mach-O, Java class, ``#!`` scripts, OLE compound
  files that may carry macros), whatever the declared type;
* PDF (ISO 32000-2): the names ``/JavaScript``, ``/JS``, ``/Launch``, ``/EmbeddedFile(s)``,
  ``/RichMedia``, ``/AA`` (additional actions), ``/SubmitForm``, ``/ImportData``, ``/XFA``,
  ``/GoToR``, ``/GoToE`` — as a key or a value anywhere, so an ``/OpenAction`` that runs
  JavaScript is found by its ``/S /JavaScript``. Twice: (1) in the raw bytes, name escapes
  (``#61``) decoded, which needs no parser and sees every uncompressed object, reachable or
  not — enough for a file without ``/ObjStm`` or ``/XRef`` (compressed objects are reachable
  only through a cross-reference stream, ISO 32000-2 §7.5.7–8), which is not parsed further;
  (2) otherwise by ``pypdf``, which reads the cross-reference tables and streams and resolves every
  object they list — those packed in FlateDecode (or any other filter's) object streams
  included — and walks each one's dictionaries and arrays; the decoded data of every object
  stream is scanned as raw bytes too, so an object hidden in one without an xref entry is
  found. An encrypted PDF is opened with the empty user password, else it is not
  inspectable. A PDF whose structure ``pypdf`` cannot read is passed only if it has no
  stream at all (nothing compressed can hide there); otherwise it is not inspectable;
* ZIP containers (OFD, GB/T 33190): entries named like executables or macro projects.

Bounds (docs/ARCHIVE.md "Limits"): the PDF parse runs in a child process capped at
:data:`PDF_MEMORY_BYTES` and :data:`PDF_CPU_SECONDS` (:mod:`ledger.storage.bounded`); a file
with more than :data:`MAX_PDF_OBJECTS` objects (counted in the raw bytes first, then in its
cross-reference tables) is not parsed or not walked; objects are walked at most
:data:`MAX_DEPTH` levels deep, and at most :data:`MAX_INFLATED_BYTES` of object-stream data
is scanned (``pypdf`` itself caps one stream at
75 MB). A PDF beyond a bound is reported as not inspectable: fail safe.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any, Final

from ledger.storage.bounded import BoundedError, run_bounded

__all__ = [
    "MAX_DEPTH",
    "MAX_INFLATED_BYTES",
    "MAX_PDF_OBJECTS",
    "PDF_ACTIVE_NAMES",
    "active_content",
    "pdf_active_names",
]

MAX_PDF_OBJECTS: Final = 200_000
"""Most objects of one PDF that are walked (about 3 s and 100 MB at this count)."""
MAX_DEPTH: Final = 64
"""Deepest nesting of arrays and dictionaries walked inside one object."""
MAX_INFLATED_BYTES: Final = 64 * 1024 * 1024
"""Decoded object-stream bytes scanned per PDF."""
PDF_MEMORY_BYTES: Final = 512 * 1024 * 1024
PDF_CPU_SECONDS: Final = 20
PDF_WALL_SECONDS: Final = 40.0
MAX_ZIP_ENTRIES: Final = 10_000

PDF_ACTIVE_NAMES: Final = frozenset(
    {
        "JavaScript",
        "JS",
        "Launch",
        "EmbeddedFile",
        "EmbeddedFiles",
        "RichMedia",
        "AA",
        "SubmitForm",
        "ImportData",
        "XFA",
        "GoToR",
        "GoToE",
    }
)
"""PDF names that make a file act (run code, start programs, carry files, reach out)."""

_EXECUTABLE_MAGIC: Final = (
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows (PE/DOS) executable"),
    (b"\xfe\xed\xfa\xce", "a Mach-O executable"),
    (b"\xfe\xed\xfa\xcf", "a Mach-O executable"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xca\xfe\xba\xbe", "a Mach-O universal binary or Java class"),
    (b"#!", "a script with an interpreter line"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE compound file (may carry macros)"),
)
_PDF_ACTIVE: Final = re.compile(
    rb"/(" + b"|".join(n.encode() for n in sorted(PDF_ACTIVE_NAMES)) + rb")(?=[\s/<>\[\]()%]|$)"
)
_PDF_NAME_ESCAPE: Final = re.compile(rb"#([0-9A-Fa-f]{2})")
_ZIP_ACTIVE: Final = re.compile(
    r"(vbaProject\.bin|\.(exe|dll|js|vbs|bat|cmd|sh|jar|ps1|scr|com|msi|bin)$)", re.IGNORECASE
)


def active_content(media_type: str, data: bytes) -> list[str]:
    """Problems of executable, script or macro content in ``data`` (empty when none)."""
    for magic, what in _EXECUTABLE_MAGIC:
        if data.startswith(magic):
            return [f"is {what}"]
    if media_type == "application/pdf" or data.startswith(b"%PDF-"):
        names, problem = pdf_active_names(data)
        if names:
            return [f"PDF holds active content: {', '.join(names)}"]
        if problem:
            return [f"PDF cannot be inspected for active content: {problem}"]
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for name in archive.namelist()[:MAX_ZIP_ENTRIES]:
                    if _ZIP_ACTIVE.search(name):
                        return [f"ZIP container holds {name} (executable or macro)"]
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            return [f"unreadable ZIP container: {exc}"]
    return []


def _unescaped(data: bytes) -> bytes:
    return _PDF_NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), data)


def _raw_names(data: bytes) -> set[str]:
    return {"/" + m.group(1).decode() for m in _PDF_ACTIVE.finditer(_unescaped(data))}


def pdf_active_names(data: bytes) -> tuple[list[str], str]:
    """(the active names a PDF holds, sorted; why it could not be inspected in full, or "").
    Never raises."""
    plain = _unescaped(data)
    found = {"/" + m.group(1).decode() for m in _PDF_ACTIVE.finditer(plain)}
    if b"/ObjStm" not in plain and b"/XRef" not in plain:
        return sorted(found), ""  # no object stream: every object is in the raw bytes
    objects = max(data.count(b"endobj"), data.count(b" obj"))  # fast, before any parse
    if objects > MAX_PDF_OBJECTS:
        return sorted(found), f"{objects:,} objects; at most {MAX_PDF_OBJECTS:,} are inspected"
    import pypdf  # noqa: F401  (imported before the fork: each child starts with it loaded)

    try:
        parsed = run_bounded(
            _parse_names,
            data,
            memory_bytes=PDF_MEMORY_BYTES,
            cpu_seconds=PDF_CPU_SECONDS,
            wall_seconds=PDF_WALL_SECONDS,
            what="inspecting the PDF",
        )
    except BoundedError as exc:
        return sorted(found), str(exc)
    found.update(n for n in parsed.get("names", ()) if isinstance(n, str))
    return sorted(found), str(parsed.get("problem") or "")


def _parse_names(data: bytes) -> dict[str, Any]:
    """Body of the bounded child: every active name the parsed objects hold (JSON)."""
    import logging

    import pypdf
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)  # malformed input is expected here
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            return {"problem": "encrypted with a password: its objects cannot be read"}
        listed = [(gen, num) for gen, numbers in reader.xref.items() for num in numbers]
        listed += [(0, num) for num in reader.xref_objStm]
        trailer = reader.trailer
    except Exception as exc:  # pypdf raises many kinds on a broken file
        if re.search(rb"\bstream\b", data) is None:
            return {"names": []}  # no stream: the raw scan saw every byte there is
        return {"problem": f"pypdf cannot read its structure ({type(exc).__name__})"}
    if len(listed) > MAX_PDF_OBJECTS:
        return {"problem": f"{len(listed):,} objects; at most {MAX_PDF_OBJECTS:,} are inspected"}
    names: set[str] = set()
    inflated = 0

    def walk(value: Any, depth: int) -> None:
        nonlocal inflated
        if depth > MAX_DEPTH:
            raise ValueError(f"objects nested deeper than {MAX_DEPTH}")
        if isinstance(value, NameObject):
            if value[1:] in PDF_ACTIVE_NAMES:
                names.add(str(value))
        elif isinstance(value, DictionaryObject):
            for key, item in value.items():
                walk(NameObject(key), depth)
                if not isinstance(item, IndirectObject):
                    walk(item, depth + 1)
            if value.get("/Type") == "/ObjStm" and hasattr(value, "get_data"):
                decoded = value.get_data()
                inflated += len(decoded)
                if inflated > MAX_INFLATED_BYTES:
                    raise ValueError(f"object streams inflate beyond {MAX_INFLATED_BYTES:,} bytes")
                names.update(_raw_names(decoded))
        elif isinstance(value, ArrayObject):
            for item in value:
                if not isinstance(item, IndirectObject):
                    walk(item, depth + 1)

    try:
        walk(trailer, 0)
        for gen, num in listed:
            obj = reader.get_object(IndirectObject(num, gen, reader))
            walk(obj, 0)
            if not (isinstance(obj, DictionaryObject) and obj.get("/Type") == "/ObjStm"):
                reader.resolved_objects.pop((gen, num), None)  # keep memory flat
    except Exception as exc:  # a stream that will not decode, a nesting bomb, a bad object
        return {"names": sorted(names), "problem": f"{type(exc).__name__}: {exc}"[:300]}
    return {"names": sorted(names)}
