"""Error root of the kiosk package.

Layer: kiosk. Every error the kiosk raises derives from :class:`KioskError`, so the CLI and
the HTTP routes map one hierarchy (STYLE habit 5). Verification failures are typed and say
what was expected and what was found; parsers of untrusted input (QR payloads, images, PDFs)
raise only these, never a stray ``ValueError`` or ``KeyError``.
"""

from __future__ import annotations

__all__ = [
    "BadSignature",
    "ClaimError",
    "ImageError",
    "InputRefused",
    "KioskError",
    "MalformedClaim",
    "PrintRefused",
    "StatusUnavailable",
    "UntrustedKey",
]


class KioskError(Exception):
    """Root of every error raised by the kiosk package."""


class ClaimError(KioskError):
    """A printed claim (QR payload) is not a valid, trusted claim."""

    check = "claim"


class MalformedClaim(ClaimError):
    """The QR text, Base45, COSE_Sign1 structure or CBOR claims are malformed or too large."""

    check = "format"


class UntrustedKey(ClaimError):
    """The claim is signed by a key id the trust policy does not pin."""

    check = "key"


class BadSignature(ClaimError):
    """The Ed25519 signature over the COSE Sig_structure does not verify."""

    check = "signature"


class ImageError(KioskError):
    """A file could not be read as a PDF, PNG or JPEG, or holds no readable QR code."""


class InputRefused(KioskError):
    """An input to verify is beyond a named limit (size, text length, PDF pages, page size,
    pixels, the decoder's memory or time) or is not a PDF, image or QR text at all: refused
    before anything is verified (``kiosk verify`` exits 2 with this one line)."""


class StatusUnavailable(KioskError):
    """The online certificate-status endpoint could not be asked or answered nonsense."""


class PrintRefused(KioskError):
    """A verified print was refused: ``check`` names the failed step, ``reason`` says why."""

    def __init__(self, check: str, reason: str) -> None:
        super().__init__(f"{check}: {reason}")
        self.check = check
        self.reason = reason
