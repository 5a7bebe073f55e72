"""Offline verification of a printout: from a PDF, a photo or scan, or the QR text itself.

Layer: kiosk (edge: images through ``Pillow``, PDFs through ``pypdfium2``, QR decoding
through ``zxing-cpp``; the claim through ``kiosk.claims``). Anyone holding the paper and the
ledger's trust policy (``anchors.policy``) can run it with no network:

1. read the input (at most :data:`MAX_INPUT_BYTES`): a PDF (``%PDF-``; its first
   :data:`MAX_PDF_PAGES` pages rendered at :data:`PDF_DPI`), a PNG or JPEG (at most
   :data:`MAX_PIXELS`), or text starting with ``CL1:``; decode the QR codes of an image;
2. decode the QR text (RFC 9285 Base45) and parse the COSE_Sign1 (RFC 9052) and its claims;
3. the ``kid`` is a platform key pinned by the trust policy, and the Ed25519 signature over
   the Sig_structure verifies with it;
4. the claim names the policy's ledger (origin).

With ``online`` (a caseledger URL), step 5 asks the certificate-status endpoint
(``GET <url>/kiosk/api/status?subject=…&hash=…``) whether the document is still valid: a
certificate revoked or superseded since the printout fails with that status.
"""

from __future__ import annotations

import io
import json
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Final

from anchors.policy import TrustPolicy
from kiosk.claims import PREFIX, ClaimKind, PrintClaim, verify_qr_text
from kiosk.errors import ClaimError, ImageError, KioskError, StatusUnavailable
from ledger.domain.calendar import to_shanghai
from ledger.domain.signer import key_id_of

__all__ = [
    "MAX_INPUT_BYTES",
    "Verdict",
    "extract_qr_text",
    "online_status",
    "qr_texts_in_image",
    "verify_printout",
]

MAX_INPUT_BYTES: Final = 32 * 1024 * 1024
MAX_PIXELS: Final = 60_000_000
MAX_PDF_PAGES: Final = 4
PDF_DPI: Final = 200
STATUS_TIMEOUT_SECONDS: Final = 10.0
MAX_STATUS_BYTES: Final = 16 * 1024


@dataclass(frozen=True)
class Verdict:
    """The outcome of verifying one printout: ``ok``, the claim (when it could be read), the
    failed check and why, the online status (when asked) and where the QR text came from."""

    ok: bool
    claim: PrintClaim | None
    failed: str
    reason: str
    online: str | None
    source: str

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
    """Every QR code's text found in a Pillow image (zxing-cpp)."""
    import zxingcpp

    try:
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)  # type: ignore[arg-type]
    except Exception as exc:  # zxing raises on unusable pixel formats
        raise ImageError(f"cannot scan the image: {exc}") from None
    return [r.text for r in found if r.valid]


def _image(data: bytes) -> Any:
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise ImageError(f"image larger than {MAX_PIXELS:,} pixels")
        image.load()
        return image.convert("L")
    except ImageError:
        raise
    except Exception as exc:  # Pillow raises many kinds on a bad file
        raise ImageError(f"not a readable PNG or JPEG: {exc}") from None


def _pdf_images(data: bytes, dpi: int) -> list[Any]:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
        images = []
        for index in range(min(len(document), MAX_PDF_PAGES)):
            bitmap = document[index].render(scale=dpi / 72, grayscale=True)
            images.append(bitmap.to_pil())
        document.close()
        return images
    except Exception as exc:  # pdfium raises PdfiumError and others
        raise ImageError(f"not a readable PDF: {exc}") from None


def extract_qr_text(data: bytes, *, dpi: int = PDF_DPI) -> tuple[str, str]:
    """(QR text, source kind) of a PDF, PNG/JPEG or text input. Raises :class:`ImageError`
    when the input is none of them or holds no caseledger QR code."""
    if not isinstance(data, bytes | bytearray) or len(data) > MAX_INPUT_BYTES:
        raise ImageError(f"input: at most {MAX_INPUT_BYTES} bytes")
    data = bytes(data)
    head = data[:16]
    if head.startswith(b"%PDF-"):
        source, images = "pdf", _pdf_images(data, dpi)
    elif head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"\xff\xd8\xff"):
        source, images = "image", [_image(data)]
    else:
        try:
            text = data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise ImageError("input: not a PDF, PNG, JPEG or QR text") from None
        if not text.startswith(PREFIX):
            raise ImageError(f"input: not a PDF, PNG, JPEG or QR text starting with {PREFIX}")
        return text, "text"
    for image in images:
        for text in qr_texts_in_image(image):
            if text.startswith(PREFIX):
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
