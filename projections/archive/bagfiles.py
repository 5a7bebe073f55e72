"""BagIt 1.0 tag files: writing and strictly parsing manifests, ``bagit.txt`` and ``bag-info.txt``.

Layer: projections, archive (pure; bytes in, frozen values out). RFC 8493: the declaration
(§2.1.1), payload manifests (§2.1.3), ``bag-info.txt`` (§2.2.2) and tag manifests (§2.2.1). We
write exactly one form — ``<lower-case hex digest>  <path>`` lines sorted by path, LF line ends,
UTF-8 — and, when reading an untrusted package, accept any form RFC 8493 allows for lines (one or
more spaces or
tabs between digest and path) but refuse what it forbids or what a package of ours never holds:
duplicate paths, unsafe paths (``layout.check_relative_path``), non-hex digests, files over the
named size limits.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from projections.archive.errors import PackageError
from projections.archive.layout import MAX_FILES, MAX_TAG_FILE_BYTES, check_relative_path

__all__ = [
    "ALGORITHMS",
    "BagInfo",
    "Manifest",
    "format_bag_info",
    "format_manifest",
    "parse_bag_info",
    "parse_manifest",
]

ALGORITHMS: Final = {"sha512": 128, "sha256": 64}
"""Manifest algorithms we verify (RFC 8493 §2.4: SHA-512 recommended; SHA-256 also read)."""
_LINE: Final = re.compile(r"([0-9A-Fa-f]+)[ \t]+(\S.*)")
_LABEL: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
MAX_INFO_LINES: Final = 200


def digest(algorithm: str, data: bytes) -> str:
    return hashlib.new(algorithm, data).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest: (path, lower-case hex digest) pairs in file order, paths unique."""

    algorithm: str
    entries: tuple[tuple[str, str], ...]

    def as_dict(self) -> dict[str, str]:
        return dict(self.entries)


def format_manifest(entries: Iterable[tuple[str, str]]) -> bytes:
    """Manifest bytes: ``<hex>  <path>\\n`` lines sorted by path (our one written form)."""
    lines = sorted(entries, key=lambda e: e[0])
    return "".join(f"{hexdigest}  {path}\n" for path, hexdigest in lines).encode("utf-8")


def _text(data: bytes, what: str) -> str:
    if len(data) > MAX_TAG_FILE_BYTES:
        raise PackageError(f"{what}: larger than {MAX_TAG_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PackageError(f"{what}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if text.startswith("\ufeff"):
        raise PackageError(f"{what}: starts with a byte-order mark")
    return text


def parse_manifest(data: bytes, algorithm: str, what: str) -> Manifest:
    """Parse manifest ``what`` of ``algorithm``. Raises :class:`PackageError` naming the line."""
    if algorithm not in ALGORITHMS:
        raise PackageError(f"{what}: unsupported algorithm {algorithm!r}")
    size = ALGORITHMS[algorithm]
    text = _text(data, what)
    entries: list[tuple[str, str]] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE.fullmatch(line)
        if match is None or len(match.group(1)) != size:
            raise PackageError(f"{what} line {number}: not '<{algorithm} hex>  <path>'")
        path = match.group(2).rstrip("\r")
        if "%" in path:  # RFC 8493 §2.1.3 percent-encodes CR, LF and %; we never write them
            raise PackageError(f"{what} line {number}: percent-encoded path {path!r}")
        try:
            check_relative_path(path)
        except PackageError as exc:
            raise PackageError(f"{what} line {number}: {exc}") from None
        if path in seen:
            raise PackageError(f"{what} line {number}: {path} listed twice")
        seen.add(path)
        entries.append((path, match.group(1).lower()))
        if len(entries) > MAX_FILES:
            raise PackageError(f"{what}: more than {MAX_FILES} entries")
    return Manifest(algorithm, tuple(entries))


@dataclass(frozen=True)
class BagInfo:
    """``bag-info.txt`` as (label, value) pairs in file order (labels may repeat, §2.2.2)."""

    fields: tuple[tuple[str, str], ...]

    def get(self, label: str) -> str | None:
        """The value of a label that must appear at most once; raises if repeated."""
        values = [v for k, v in self.fields if k.lower() == label.lower()]
        if len(values) > 1:
            raise PackageError(f"bag-info.txt: {label} appears {len(values)} times")
        return values[0] if values else None


def format_bag_info(fields: Iterable[tuple[str, str]]) -> bytes:
    """``Label: value`` lines in the order given (values on one line)."""
    out = []
    for label, value in fields:
        if not _LABEL.fullmatch(label) or "\n" in value or "\r" in value:
            raise PackageError(f"bag-info.txt: cannot write {label!r}")
        out.append(f"{label}: {value}\n")
    return "".join(out).encode("utf-8")


def parse_bag_info(data: bytes) -> BagInfo:
    """Parse ``bag-info.txt`` (continuation lines start with whitespace, §2.2.2)."""
    text = _text(data, "bag-info.txt")
    fields: list[list[str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if number > MAX_INFO_LINES:
            raise PackageError(f"bag-info.txt: more than {MAX_INFO_LINES} lines")
        if line[:1] in (" ", "\t"):
            if not fields:
                raise PackageError(f"bag-info.txt line {number}: continuation of nothing")
            fields[-1][1] += " " + line.strip()
            continue
        label, sep, value = line.partition(":")
        if not sep or not _LABEL.fullmatch(label.strip()):
            raise PackageError(f"bag-info.txt line {number}: not 'Label: value'")
        fields.append([label.strip(), value.strip()])
    return BagInfo(tuple((k, v) for k, v in fields))


def payload_oxum(sizes: Iterable[int]) -> str:
    """``<octet count>.<stream count>`` (RFC 8493 §2.2.2)."""
    values = list(sizes)
    return f"{sum(values)}.{len(values)}"
