"""The worst inputs we could construct for the decoders that read untrusted files.

Layer: tests (shared with ``bench/hostile.py``, which measures the peak memory and time each
costs). Every builder returns bytes (or writes a directory) with no library beyond the
standard one, so a file is exactly what it says: a PDF written object by object, a PNG chunk
by chunk, CBOR head by head.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from api.demo.custody import huge_page_pdf, pdf

__all__ = [
    "Measured",
    "deep_nesting_pdf",
    "deep_page_tree_pdf",
    "flate_bomb_pdf",
    "huge_jpeg_header",
    "huge_page_pdf",
    "image_bomb_pdf",
    "javascript_in_object_stream_pdf",
    "long_line_bag",
    "many_objects_pdf",
    "many_pages_pdf",
    "measured_cli",
    "needing_the_parser",
    "pdf",
    "png",
    "png_bomb",
    "policy_and_claim",
    "smask_bomb_pdf",
]


# --- PDF --------------------------------------------------------------------------------------


def _stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def _deflated_zeros(size: int, chunk: int = 16 * 1024 * 1024) -> bytes:
    """zlib of ``size`` zero bytes, without holding them (a ~1 000:1 bomb)."""
    packer = zlib.compressobj(9)
    out = bytearray()
    zeros = bytes(min(chunk, size))
    left = size
    while left:
        take = min(left, len(zeros))
        out += packer.compress(zeros[:take])
        left -= take
    out += packer.flush()
    return bytes(out)


def many_pages_pdf(pages: int = 200_000) -> bytes:
    """``pages`` empty A4 pages in one flat page tree."""
    kids = b" ".join(b"%d 0 R" % (3 + i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
    ]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"] * pages
    return pdf(objects)


def deep_page_tree_pdf(depth: int = 50_000) -> bytes:
    """A page tree ``depth`` levels deep with one page at the bottom (recursion)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(depth):
        number = 2 + level
        objects.append(b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % (number + 1))
    objects.append(b"<< /Type /Page /MediaBox [0 0 595 842] >>")
    return pdf(objects)


def _image_page_pdf(image: bytes, *more: bytes) -> bytes:
    """An A4 page that draws image object 5 (``image``) full page; ``more`` objects follow it."""
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>",
            _stream(b"", b"q 595 0 0 842 0 0 cm /Im1 Do Q"),
            image,
            *more,
        ]
    )


def image_bomb_pdf(side: int = 40_000) -> bytes:
    """An A4 page drawing one ``side`` × ``side`` 8-bit grey image whose FlateDecode stream
    inflates to ``side``² bytes (1.6 GB at 40 000) from about 1/1 000 of that."""
    return _image_page_pdf(
        _stream(
            b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
            b"/BitsPerComponent 8 /Filter /FlateDecode" % (side, side),
            _deflated_zeros(side * side),
        )
    )


def smask_bomb_pdf(side: int = 40_000) -> bytes:
    """An A4 page drawing a 1 × 1 image whose soft mask (``/SMask``) is ``side`` × ``side``:
    the page's image objects look harmless, the mask inflates to ``side``² bytes."""
    return _image_page_pdf(
        _stream(
            b"/Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray "
            b"/BitsPerComponent 8 /SMask 6 0 R",
            b"\x80",
        ),
        _stream(
            b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
            b"/BitsPerComponent 8 /Filter /FlateDecode" % (side, side),
            _deflated_zeros(side * side),
        ),
    )


def flate_bomb_pdf(inflated: int = 1024 * 1024 * 1024, streams: int = 1) -> bytes:
    """``streams`` FlateDecode streams (not drawn) each inflating to ``inflated`` zero bytes:
    what a scanner that decompresses streams meets."""
    bomb = _deflated_zeros(inflated)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    objects += [_stream(b"/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode", bomb)] * streams
    return pdf(objects)


JAVASCRIPT_ACTION = b"<< /Type /Action /S /JavaScript /JS (app.alert\\(1\\)) >>"


def javascript_in_object_stream_pdf(
    *,
    hex_escaped: bool = False,
    open_action: bool = True,
    action: bytes = JAVASCRIPT_ACTION,
    page_extra: bytes = b"",
    filters: Sequence[bytes] = (b"/FlateDecode",),
) -> bytes:
    """A PDF 1.5 file whose catalog (``/OpenAction`` → ``action``, by default a
    ``/JavaScript`` one) lives inside an object stream (FlateDecode by default, or the
    ``filters`` chain of ``/FlateDecode`` and ``/ASCIIHexDecode``) with a cross-reference
    stream: no active name appears in the file's raw bytes. ``hex_escaped`` spells the names
    ``/J#61vaScript`` inside as well; ``page_extra`` is added to the page dictionary (say
    ``/AA << /O 4 0 R >>``)."""
    if hex_escaped:
        action = action.replace(b"/JavaScript", b"/J#61vaScript")
    catalog = b"<< /Type /Catalog /Pages 2 0 R" + (b" /OpenAction 4 0 R" if open_action else b"")
    catalog += b" >>"
    inner = [
        catalog,
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] " + page_extra + b">>",
        action,
    ]
    offsets, body = [], bytearray()
    for item in inner:
        offsets.append(len(body))
        body += item + b"\n"
    index = b" ".join(b"%d %d" % (i + 1, off) for i, off in enumerate(offsets)) + b"\n"
    packed = index + bytes(body)
    for name in reversed(filters):  # the first filter named is the last applied
        packed = zlib.compress(packed) if name == b"/FlateDecode" else packed.hex().encode() + b">"
    chain = b"[" + b" ".join(filters) + b"]"
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    objstm_at = len(out)
    out += b"5 0 obj\n" + _stream(
        b"/Type /ObjStm /N %d /First %d /Filter %s" % (len(inner), len(index), chain), packed
    )
    out += b"\nendobj\n"
    xref_at = len(out)
    rows = [struct.pack(">BIH", 0, 0, 65535)]
    rows += [struct.pack(">BIH", 2, 5, i) for i in range(len(inner))]
    rows += [struct.pack(">BIH", 1, objstm_at, 0), struct.pack(">BIH", 1, xref_at, 0)]
    table = zlib.compress(b"".join(rows))
    out += b"6 0 obj\n" + _stream(
        b"/Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R /Filter /FlateDecode", table
    )
    out += b"\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def many_objects_pdf(count: int = 1_000_000) -> bytes:
    """One page and ``count`` tiny unreferenced objects (a walk over every object)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    objects += [b"<< /A 1 >>"] * count
    return pdf(objects)


def deep_nesting_pdf(depth: int = 100_000) -> bytes:
    """One page whose dictionary holds arrays nested ``depth`` deep (a recursive parser)."""
    nested = b"[" * depth + b"]" * depth
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Deep " + nested + b" >>",
        ]
    )


def needing_the_parser(data: bytes) -> bytes:
    """``data`` with a comment naming ``/ObjStm`` after the header: the active-content check
    then cannot rely on the raw bytes alone and hands the file to the PDF parser (what a file
    with real object streams gets)."""
    header, _, rest = data.partition(b"\n")
    return header + b"\n% /ObjStm\n" + rest


# --- images -----------------------------------------------------------------------------------


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int, height: int, idat: bytes) -> bytes:
    """An 8-bit greyscale PNG of the given size around ``idat`` (the zlib stream)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def png_bomb(side: int = 30_000) -> bytes:
    """A ``side`` × ``side`` greyscale PNG of zeros (900 Mpx at 30 000) in about a megabyte."""
    return png(side, side, _deflated_zeros(side * (side + 1)))


def huge_jpeg_header(width: int = 65_000, height: int = 65_000) -> bytes:
    """A JPEG whose frame header declares ``width`` × ``height`` and whose scan is empty."""
    soi = b"\xff\xd8"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes([1] * 64)
    dht = b"\xff\xc4" + struct.pack(">H", 20) + b"\x00" + bytes([1] + [0] * 15) + b"\x00"
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00"
    return soi + dqt + sof + dht + sos + b"\x00" * 64 + b"\xff\xd9"


# --- archive packages -------------------------------------------------------------------------


def long_line_bag(directory: Path, line_bytes: int = 20 * 1024 * 1024) -> Path:
    """A minimal BagIt bag whose ``bag-info.txt`` has one line of ``line_bytes`` bytes."""
    import hashlib

    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "a.txt").write_bytes(b"hello\n")
    (directory / "bagit.txt").write_bytes(
        b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    )
    (directory / "bag-info.txt").write_bytes(
        b"Payload-Oxum: 6.1\nExternal-Description: " + b"x" * line_bytes + b"\n"
    )
    digest = hashlib.sha512(b"hello\n").hexdigest()
    (directory / "manifest-sha512.txt").write_text(f"{digest}  data/a.txt\n")
    lines = [
        f"{hashlib.sha512((directory / n).read_bytes()).hexdigest()}  {n}\n"
        for n in ("bagit.txt", "bag-info.txt", "manifest-sha512.txt")
    ]
    (directory / "tagmanifest-sha512.txt").write_text("".join(lines))
    return directory


# --- kiosk: a trust policy and a genuine claim ----------------------------------------------------


def policy_and_claim(directory: Path) -> tuple[Path, bytes]:
    """A trust policy file in ``directory`` and a genuine COSE_Sign1 signed by its platform key
    (claims of a result document, as the kiosk prints them)."""
    from anchors import note
    from anchors.checkpoints import checkpoint_signer, ledger_origin
    from anchors.policy import TrustPolicy
    from kiosk.claims import AnchorRef, ClaimKind, PrintClaim, sign_claim
    from ledger.chain.signing import Ed25519Signer

    platform_key = Ed25519Signer(bytes(range(32)))
    origin = ledger_origin("hostilecity", bytes(range(32)))
    validator = note.Signer.from_key(note.generate_signer("v0.node.example")[0])
    policy = TrustPolicy(
        origin,
        checkpoint_signer(origin, bytes(32)).verifier(),
        (platform_key.public_key,),
        "node.example",
        (validator.cosignature_verifier(),),
        1,
    )
    path = directory / "policy.json"
    path.write_bytes(policy.to_json())
    claim = PrintClaim(
        origin=origin,
        kind=ClaimKind.RESULT_DOCUMENT,
        subject="GZ-SCJG-20260928-000001E",
        title="食品经营许可",
        issuer="GZ-SCJG",
        issued_at=1_790_560_800,
        content_hash=bytes(32),
        seal_key_id=bytes(8),
        sequence=15,
        anchor=AnchorRef(37, 1),
        printed_at=1_795_442_640,
        kiosk="GZ-TH-001",
        print_id=bytes(8),
    )
    return path, sign_claim(claim, platform_key)


# --- measuring a command from outside -------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """A finished ``caseledger`` command: exit code, output, wall time and the peak resident
    set of its process and every child it waited for (``wait4``)."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float
    timed_out: bool


def measured_cli(
    args: Sequence[str],
    *,
    tree: Path,
    timeout: float = 300.0,
    address_space: int | None = None,
    stdin: bytes | None = None,
) -> Measured:
    """Run ``python -m api.cli ARGS`` from ``tree`` (its PYTHONPATH) and measure it; a process
    still running after ``timeout`` is killed. ``address_space`` caps it (RLIMIT_AS), so a
    runaway case fails instead of taking the machine's memory."""
    import resource

    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("CASELEDGER_TRUST_POLICY", None)

    def limit() -> None:
        if address_space is not None:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    began = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", *args],
            cwd=tree,
            env=env,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            preexec_fn=limit,
        )
        if stdin is not None and process.stdin is not None:
            try:
                process.stdin.write(stdin)
                process.stdin.close()
            except BrokenPipeError:
                pass
        timed_out = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - began > timeout:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                timed_out = True
                break
            time.sleep(0.02)
        seconds = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    return Measured(process.returncode, stdout, stderr, seconds, usage.ru_maxrss / 1024, timed_out)
