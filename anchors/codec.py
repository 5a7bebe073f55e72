"""Strict text codecs shared by the anchors formats (anchors layer, pure).

One responsibility: turn untrusted bytes into JSON values and byte strings exactly one way.
Base64 is RFC 4648 §4 standard alphabet with padding, and must be canonical (re-encoding gives
the same text); canonical JSON is RFC 8259 text with keys sorted, no insignificant whitespace,
non-ASCII characters as themselves (UTF-8), so one value has one byte form.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from anchors.errors import AnchorError
from anchors.note import NoteError, b64decode_canonical

__all__ = ["b64decode", "b64encode", "canonical_json", "load_json"]


def b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def b64decode(text: object, error: type[AnchorError], what: str) -> bytes:
    """Decode canonical standard base64, raising ``error`` naming ``what`` otherwise."""
    if not isinstance(text, str):
        raise error(f"{what}: expected a base64 string")
    try:
        return b64decode_canonical(text)
    except NoteError as exc:
        raise error(f"{what}: {exc}") from exc


def canonical_json(value: Any) -> bytes:
    """The canonical JSON bytes of ``value`` (sorted keys, compact, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def load_json(
    data: bytes | str, *, limit: int, error: type[AnchorError], what: str, canonical: bool = False
) -> dict[str, Any]:
    """Parse a JSON object of at most ``limit`` bytes (no NaN, no duplicate keys, no floats).

    With ``canonical``, the input must be exactly :func:`canonical_json` of its value.
    Raises ``error`` for anything else.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > limit:
        raise error(f"{what}: larger than {limit} bytes")
    try:
        text = raw.decode("utf-8")
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=lambda s: _reject_constant(s),
            object_pairs_hook=_no_duplicates,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise error(f"{what}: not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise error(f"{what}: not a JSON object")
    if canonical and canonical_json(value) != raw:
        raise error(f"{what}: not in canonical JSON form (sorted keys, compact, UTF-8)")
    return value
