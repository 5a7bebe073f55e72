"""Offline verification of a printout: from a PDF, a photo or scan, or the QR text itself.

Layer: kiosk (edge: images through ``Pillow``, PDFs through ``pypdfium2``, QR decoding
through ``zxing-cpp``; the claim through ``kiosk.claims``). Anyone holding the paper and the
ledger's trust policy (``anchors.policy``) can run it with no network:

1. read the input (at most :data:`MAX_INPUT_BYTES`): a PDF (``%PDF-``), a PNG or JPEG, or text
   starting with ``CL1:``; decode the QR codes of an image or of the PDF's first
   :data:`MAX_PDF_PAGES` pages rendered at :data:`PDF_DPI`;
2. decode the QR text (RFC 9285 Base45) and parse the COSE_Sign1 (RFC 9052) and its claims;
3. the ``kid`` is a platform key pinned by the trust policy, and the Ed25519 signature over
   the Sig_structure verifies with it;
4. the claim names the policy's ledger (origin).

With ``online`` (a caseledger URL), step 5 asks the certificate-status endpoint
(``GET <url>/kiosk/api/status?subject=…&hash=…``) whether the document is still valid: a
certificate revoked or superseded since the printout fails with that status.

Untrusted input stays bounded (docs/KIOSK.md "Limits"). Before anything is rendered or
decoded, the named limits below are checked against what the file declares — its size, a
PDF's page count, each rendered page's size in points and in pixels and the pixels of the
images it draws, an image's width × height (Pillow's decompression-bomb limit set to the same
cap), a text's length and alphabet — and an input beyond one is refused with
:class:`~kiosk.errors.InputRefused` (``kiosk verify`` exits 2 with one line). What a file does
not declare (an image inside a form, a soft mask, a pathological content stream) is bounded by
running every decoder in a child process capped at :data:`DECODE_MEMORY_BYTES` of memory and
:data:`DECODE_CPU_SECONDS` of CPU (:mod:`ledger.storage.bounded`); going over is refused the
same way.
"""

from __future__ import annotations

import io
import json
import math
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass
from typing import Any, Final

from anchors.policy import TrustPolicy
from kiosk.claims import BASE45_TEXT, MAX_QR_TEXT, PREFIX, ClaimKind, PrintClaim, verify_qr_text
from kiosk.errors import ClaimError, ImageError, InputRefused, KioskError, StatusUnavailable
from ledger.domain.calendar import to_shanghai
from ledger.domain.signer import key_id_of
from ledger.storage.bounded import Exceeded, Failed, run_bounded

__all__ = [
    "DECODE_CPU_SECONDS",
    "DECODE_MEMORY_BYTES",
    "MAX_INPUT_BYTES",
    "MAX_PAGE_IMAGE_PIXELS",
    "MAX_PAGE_POINTS",
    "MAX_PDF_PAGE_COUNT",
    "MAX_PIXELS",
    "MAX_RENDER_PIXELS",
    "Verdict",
    "extract_qr_text",
    "online_status",
    "qr_texts_in_image",
    "verify_printout",
]

MAX_INPUT_BYTES: Final = 32 * 1024 * 1024
"""Largest input read (bytes), whatever its kind."""
MAX_PIXELS: Final = 60_000_000
"""Largest PNG or JPEG (width × height): a 60-megapixel photo of a printout."""
MAX_PDF_PAGES: Final = 4
"""Pages of a PDF rendered and scanned for the QR code (a printout has one)."""
MAX_PDF_PAGE_COUNT: Final = 1_000
"""Most pages a PDF may declare."""
MAX_PAGE_POINTS: Final = 1_800
"""Longest side of a rendered page in points (25 in, 63.5 cm; A2 is 1 191 × 1 684)."""
MAX_RENDER_PIXELS: Final = 25_000_000
"""Most pixels of one rendered page; a larger page is rendered at a lower resolution."""
MAX_PAGE_IMAGE_PIXELS: Final = 100_000_000
"""Most pixels of the images one rendered page draws (a 600 dpi A4 scan has 35 million)."""
PDF_DPI: Final = 200
DECODE_MEMORY_BYTES: Final = 768 * 1024 * 1024
"""Memory a decoding may add to the process (``RLIMIT_DATA`` of its child)."""
DECODE_CPU_SECONDS: Final = 30
DECODE_WALL_SECONDS: Final = 60.0
STATUS_TIMEOUT_SECONDS: Final = 10.0
MAX_STATUS_BYTES: Final = 16 * 1024


@dataclass(frozen=True)
class Verdict:
    """The outcome of verifying one printout: ``ok``, the claim (when it could be read), the
    failed check and why, the online status (when asked) and where the QR text came from.
    ``failed == "input"`` means the input itself was refused (beyond a limit, or not a PDF,
    image or QR text at all): a usage error, not a verification."""

    ok: bool
    claim: PrintClaim | None
    failed: str
    reason: str
    online: str | None
    source: str

    @property
    def refused(self) -> bool:
        """The input was refused before any verification (exit 2 in the CLI)."""
        return self.failed == "input"

    def lines(self) -> list[str]:
        """A human verdict, one fact a line."""
        out = [("VALID" if self.ok else "INVALID") + f" printout ({self.source})"]
        if not self.ok:
            out.append(f"failed check: {self.failed}: {self.reason}")
        c = self.claim
        if c is not None:
            kind = "e-certificate" if c.kind is ClaimKind.E_CERTIFICATE else "result document"
            out += [
                f"{kind}: {c.subject} — {c.title}",
                f"issued by {c.issuer} at {to_shanghai(c.issued):%Y-%m-%d %H:%M} (Asia/Shanghai)",
                f"content SHA-256 {c.content_hash.hex()}; e-seal key {c.seal_key_id.hex()}",
                f"ledger {c.origin}, entry {c.sequence}, anchored in checkpoint size "
                f"{c.anchor.checkpoint_size}, block {c.anchor.block_height}",
                f"printed at kiosk {c.kiosk} at {to_shanghai(c.printed):%Y-%m-%d %H:%M} "
                f"(print {c.print_id.hex()})",
            ]
        if self.online is not None:
            out.append(f"online status: {self.online}")
        elif self.ok:
            out.append("offline check only: pass --online URL to ask whether it was revoked since")
        return out

    def as_dict(self) -> dict[str, Any]:
        c = self.claim
        return {
            "ok": self.ok,
            "failed": self.failed or None,
            "reason": self.reason or None,
            "online": self.online,
            "source": self.source,
            "claim": None
            if c is None
            else {
                "kind": c.kind.name.lower(),
                "subject": c.subject,
                "title": c.title,
                "issuer": c.issuer,
                "issued_at": c.issued.isoformat(),
                "content_hash": c.content_hash.hex(),
                "sequence": c.sequence,
                "checkpoint_size": c.anchor.checkpoint_size,
                "block_height": c.anchor.block_height,
                "kiosk": c.kiosk,
                "printed_at": c.printed.isoformat(),
            },
        }


def qr_texts_in_image(image: Any) -> list[str]:
    """Every QR code's text found in a Pillow image (zxing-cpp), in this process: the
    caller bounds the image (:func:`extract_qr_text` does)."""
    import zxingcpp

    try:
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)  # type: ignore[arg-type]
    except Exception as exc:  # zxing raises on unusable pixel formats
        raise ImageError(f"cannot scan the image: {exc}") from None
    return [r.text for r in found if r.valid]


def _image(data: bytes) -> Any:
    """A greyscale Pillow image of PNG or JPEG bytes, its declared size checked first."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own bomb check, at our cap (in the child)
    try:
        with warnings.catch_warnings():  # over the cap: refused, not warned about
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=("PNG", "JPEG"))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        image = None
    except Exception as exc:  # Pillow raises many kinds on a bad file
        raise ImageError(f"not a readable PNG or JPEG: {exc}") from None
    if image is None or image.width * image.height > MAX_PIXELS:
        size = "" if image is None else f" ({image.width:,} × {image.height:,})"
        raise InputRefused(f"input: image larger than {MAX_PIXELS:,} pixels{size}")
    try:
        image.load()
        return image.convert("L")
    except Exception as exc:  # truncated or corrupt data
        raise ImageError(f"not a readable PNG or JPEG: {exc}") from None


def _scale(width: float, height: float, dpi: int, page: int) -> float:
    """The render scale of a ``width`` × ``height`` pt page: ``dpi``, lowered so the bitmap
    keeps within :data:`MAX_RENDER_PIXELS`. Refuses a page beyond :data:`MAX_PAGE_POINTS`."""
    if not (0 < width <= MAX_PAGE_POINTS and 0 < height <= MAX_PAGE_POINTS):
        raise InputRefused(
            f"input: PDF page {page} is {width:,.0f} × {height:,.0f} pt; a page may be at "
            f"most {MAX_PAGE_POINTS:,} pt a side"
        )
    scale = dpi / 72
    if math.ceil(width * scale) * math.ceil(height * scale) > MAX_RENDER_PIXELS:
        scale = math.sqrt(MAX_RENDER_PIXELS / (width * height)) * 0.999
    return scale


def _image_pixels(page: Any, number: int) -> None:
    """Refuse a page that draws images of more than :data:`MAX_PAGE_IMAGE_PIXELS` in all."""
    import pypdfium2.raw as pdfium_c

    total = 0
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=4):
        width, height = obj.get_px_size()
        total += width * height
        if total > MAX_PAGE_IMAGE_PIXELS:
            raise InputRefused(
                f"input: PDF page {number} draws images of more than "
                f"{MAX_PAGE_IMAGE_PIXELS:,} pixels (one is {width:,} × {height:,})"
            )


def _qr_texts_in_pdf(data: bytes, dpi: int) -> list[str]:
    """Every QR text on the first pages of a PDF, each page's size and images checked before
    it is rendered."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except Exception as exc:  # pdfium raises PdfiumError and others
        raise ImageError(f"not a readable PDF: {exc}") from None
    try:
        count = len(document)
        if count > MAX_PDF_PAGE_COUNT:
            raise InputRefused(
                f"input: PDF of {count:,} pages; at most {MAX_PDF_PAGE_COUNT:,} are read"
            )
        texts: list[str] = []
        for index in range(min(count, MAX_PDF_PAGES)):
            width, height = document.get_page_size(index)
            scale = _scale(width, height, dpi, index + 1)
            page = document[index]
            _image_pixels(page, index + 1)
            bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=False)
            texts += qr_texts_in_image(bitmap.to_pil())
            if any(t.startswith(PREFIX) for t in texts):
                break
        return texts
    except KioskError:
        raise
    except Exception as exc:
        raise ImageError(f"not a readable PDF: {exc}") from None
    finally:
        document.close()


def _decode(kind: str, data: bytes, dpi: int) -> dict[str, Any]:
    """Body of the bounded child: the QR texts of a PDF or an image, or why not (JSON)."""
    try:
        texts = _qr_texts_in_pdf(data, dpi) if kind == "pdf" else qr_texts_in_image(_image(data))
    except InputRefused as exc:
        return {"refused": str(exc)}
    except KioskError as exc:
        return {"unreadable": str(exc)}
    return {"texts": texts}


def _preload() -> None:
    """Import the decoders before forking, so each child starts with them loaded."""
    import PIL.Image  # noqa: F401
    import pypdfium2  # noqa: F401
    import zxingcpp  # noqa: F401


def _text(data: bytes) -> str:
    """QR text given as input: UTF-8, at most :data:`MAX_QR_TEXT` characters, ``CL1:`` and
    the Base45 alphabet only. Anything else is refused as input (not verified)."""
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise InputRefused("input: not a PDF, PNG, JPEG or UTF-8 QR text") from None
    if len(text) > MAX_QR_TEXT:
        raise InputRefused(
            f"input: QR text of {len(text):,} characters; a printed claim has at most "
            f"{MAX_QR_TEXT:,}"
        )
    if not text.startswith(PREFIX):
        raise InputRefused(f"input: not a PDF, PNG, JPEG or QR text starting with {PREFIX}")
    body = text[len(PREFIX) :]
    if not BASE45_TEXT.fullmatch(body):
        at = next(i for i, ch in enumerate(body) if not BASE45_TEXT.fullmatch(ch))
        raise InputRefused(
            f"input: QR text has {body[at]!r} at character {len(PREFIX) + at + 1}, outside "
            "the Base45 alphabet (RFC 9285 §4)"
        )
    return text


def extract_qr_text(data: bytes, *, dpi: int = PDF_DPI) -> tuple[str, str]:
    """(QR text, source kind) of a PDF, PNG/JPEG or text input. Raises
    :class:`~kiosk.errors.InputRefused` for an input beyond a limit (module docstring) or
    not a PDF, image or QR text at all, :class:`ImageError` when a PDF or image cannot be
    read or holds no caseledger QR code."""
    if not isinstance(data, bytes | bytearray):
        raise InputRefused("input: must be bytes")
    if len(data) > MAX_INPUT_BYTES:
        raise InputRefused(f"input: more than {MAX_INPUT_BYTES:,} bytes")
    data = bytes(data)
    head = data[:16]
    if head.startswith(b"%PDF-"):
        source = "pdf"
    elif head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"\xff\xd8\xff"):
        source = "image"
    else:
        return _text(data), "text"
    _preload()
    try:
        found = run_bounded(
            _decode,
            source,
            data,
            dpi,
            memory_bytes=DECODE_MEMORY_BYTES,
            cpu_seconds=DECODE_CPU_SECONDS,
            wall_seconds=DECODE_WALL_SECONDS,
            what=f"decoding the {source}",
        )
    except Exceeded as exc:
        raise InputRefused(f"input: {exc}") from None
    except Failed as exc:
        raise ImageError(f"cannot read the {source}: {exc}") from None
    if "refused" in found:
        raise InputRefused(str(found["refused"]))
    if "unreadable" in found:
        raise ImageError(str(found["unreadable"]))
    for text in found["texts"]:
        if isinstance(text, str) and text.startswith(PREFIX):
            return text, source
    raise ImageError(f"no caseledger QR code ({PREFIX}…) found in the {source}")


def online_status(url: str, claim: PrintClaim, *, timeout: float = STATUS_TIMEOUT_SECONDS) -> str:
    """Ask ``url``'s certificate-status endpoint about the printed document. Raises
    :class:`StatusUnavailable` when it cannot be asked or answers nonsense."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise StatusUnavailable(f"--online: {url!r} is not an http(s) URL")
    query = urllib.parse.urlencode({"subject": claim.subject, "hash": claim.content_hash.hex()})
    target = f"{url.rstrip('/')}/kiosk/api/status?{query}"
    try:
        with urllib.request.urlopen(target, timeout=timeout) as response:
            body = response.read(MAX_STATUS_BYTES + 1)
    except OSError as exc:
        raise StatusUnavailable(f"status endpoint {target}: {exc}") from None
    try:
        value = json.loads(body[:MAX_STATUS_BYTES])
        status = value["status"]
    except (ValueError, KeyError, TypeError):
        raise StatusUnavailable("status endpoint: not a status answer") from None
    if status not in ("valid", "superseded", "revoked", "unknown"):
        raise StatusUnavailable(f"status endpoint: unknown status {status!r}")
    return str(status)


def verify_printout(
    data: bytes, policy: TrustPolicy, *, online: str | None = None, dpi: int = PDF_DPI
) -> Verdict:
    """Verify a printout (steps in the module docstring); never raises for bad input —
    every failure is a :class:`Verdict` with ``ok`` false. ``StatusUnavailable`` is a failure
    too: an online check that cannot be done is not a pass."""
    try:
        text, source = extract_qr_text(data, dpi=dpi)
    except InputRefused as exc:
        return Verdict(False, None, "input", str(exc), None, "input")
    except KioskError as exc:
        return Verdict(False, None, "qr", str(exc), None, "input")
    keys = {key_id_of(k): k for k in policy.platform_keys}
    try:
        claim = verify_qr_text(text, keys)
    except ClaimError as exc:
        return Verdict(False, None, exc.check, str(exc), None, source)
    if claim.origin != policy.origin:
        return Verdict(
            False,
            claim,
            "origin",
            f"claim of {claim.origin}, policy of {policy.origin}",
            None,
            source,
        )
    if online is None:
        return Verdict(True, claim, "", "", None, source)
    try:
        status = online_status(online, claim)
    except StatusUnavailable as exc:
        return Verdict(False, claim, "online", str(exc), None, source)
    if status != "valid":
        return Verdict(False, claim, "online", f"the document is {status}", status, source)
    return Verdict(True, claim, "", "", status, source)
