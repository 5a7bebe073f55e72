"""Kiosk verification codes (查询验证码): six digits that go with a serial number.

Layer: kiosk (pure; HMAC from the standard library). A progress query at a kiosk takes the
serial number AND this code, so a guessed serial number discloses nothing (FZ·6, GZ16·18);
queries are also rate limited (``api.http.ratelimit``).

The code is derived, never stored: ``code = HMAC-SHA256(secret, "caseledger/kiosk-code/v1\\n" ‖
serial)`` read as a big-endian integer of its first 8 bytes, modulo 10^6, zero-padded to six
digits. The 32-byte ``secret`` is the keystore's sealed secret ``kiosk_verification``
(:data:`SECRET_NAME`), so the chain holds no secret and a copy of the ledger cannot produce
codes. The application receipt carries the code: the API's answer to a submission adds it
beside the sealed receipt as the answer leaves (``api.http.routes_common``; never stored or
logged), and the window, portal or kiosk that submitted prints it for the applicant.
Checks compare in constant time. Rotating the secret invalidates every code (the applicant asks
the window for a new receipt).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

__all__ = ["CODE_DIGITS", "SECRET_NAME", "check_code", "verification_code"]

SECRET_NAME: Final = "kiosk_verification"
"""Name of the keystore secret the codes are derived from."""
CODE_DIGITS: Final = 6
_CONTEXT: Final = b"caseledger/kiosk-code/v1\n"


def verification_code(secret: bytes, serial: str) -> str:
    """The six-digit code of ``serial``. Precondition: a 32-byte ``secret``."""
    if len(secret) < 32:
        raise ValueError("secret: at least 32 bytes")
    digest = hmac.new(secret, _CONTEXT + serial.encode("utf-8"), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**CODE_DIGITS:0{CODE_DIGITS}d}"


def check_code(secret: bytes, serial: str, code: str) -> bool:
    """Whether ``code`` is the code of ``serial``; constant time, never raises."""
    try:
        expected = verification_code(secret, serial)
        given = code.strip() if isinstance(code, str) else ""
        return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
    except Exception:
        return False
