"""Canonical msgpack encoding: the one encoder for every byte that is hashed or signed.

Layer: ledger (write side), standard library plus ``msgpack``. Format: docs/FORMAT.md §1.

Rules (so that equal values always give equal bytes):
- maps have text keys, written in ascending order of their UTF-8 bytes;
- no floats (refused); integers use msgpack's shortest form; text is UTF-8
  ``str``; byte strings use the ``bin`` family; tuples and lists are arrays;
- four extension types carry values JSON-like formats lose:
  ``1`` UUID (16 bytes), ``2`` UTC datetime (int64 big-endian microseconds since
  the Unix epoch), ``3`` date (ISO ``YYYY-MM-DD`` ASCII), ``4`` Decimal (its ``str``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgpack
from eventsourcing.persistence import Transcoder

from ledger.errors import EncodingError

EXT_UUID = 1
EXT_DATETIME = 2
EXT_DATE = 3
EXT_DECIMAL = 4

MAX_DEPTH = 32
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _micros(value: dt.datetime) -> int:
    if value.tzinfo is None or value.utcoffset() is None:
        raise EncodingError("naive datetime: canonical datetimes must carry a time zone")
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_PLAIN = frozenset({type(None), bool, int, str, bytes})


def _normalise(value: Any, depth: int = 0) -> Any:
    """Return ``value`` with maps sorted and special types turned into ext types.

    Text keys sort by code point, which is the order of their UTF-8 bytes.
    Exact-type checks come first: this runs for every event and every chain entry. A map's
    or list's plain members (most of a value) are taken as they are, without a call each.
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    if depth > MAX_DEPTH:
        raise EncodingError(f"value nested deeper than {MAX_DEPTH} levels")
    deeper = depth + 1
    if kind is dict or isinstance(value, Mapping):
        for key in value:
            if type(key) is not str:
                raise EncodingError(f"map key {key!r} is not text")
        out = {}
        for key in sorted(value):
            item = value[key]
            out[key] = item if type(item) in _PLAIN else _normalise(item, deeper)
        return out
    if kind is list or kind is tuple:
        return [item if type(item) in _PLAIN else _normalise(item, deeper) for item in value]
    if isinstance(value, float):
        raise EncodingError("floats are not allowed in canonical encoding")
    if isinstance(value, bool | int | str | bytes):  # subclasses of the plain types
        return value
    if isinstance(value, list | tuple):
        return [_normalise(item, depth + 1) for item in value]
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, UUID):
        return msgpack.ExtType(EXT_UUID, value.bytes)
    if isinstance(value, dt.datetime):
        return msgpack.ExtType(EXT_DATETIME, _micros(value).to_bytes(8, "big", signed=True))
    if isinstance(value, dt.date):
        return msgpack.ExtType(EXT_DATE, value.isoformat().encode("ascii"))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise EncodingError("non-finite decimals are not allowed")
        return msgpack.ExtType(EXT_DECIMAL, str(value).encode("ascii"))
    raise EncodingError(f"type {type(value).__name__} has no canonical encoding")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == EXT_UUID and len(data) == 16:
        return UUID(bytes=data)
    if code == EXT_DATETIME and len(data) == 8:
        return _EPOCH + dt.timedelta(microseconds=int.from_bytes(data, "big", signed=True))
    if code == EXT_DATE:
        return dt.date.fromisoformat(data.decode("ascii"))
    if code == EXT_DECIMAL:
        return Decimal(data.decode("ascii"))
    raise EncodingError(f"unknown or malformed extension type {code}")


def canonical(value: Any) -> bytes:
    """Encode ``value`` canonically. Raises :class:`EncodingError` for what cannot be."""
    try:
        return msgpack.packb(_normalise(value), use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        if isinstance(exc, EncodingError):
            raise
        raise EncodingError(str(exc)) from exc


def uuid_ext(value: UUID) -> msgpack.ExtType:
    """The canonical extension value of a UUID (for maps built already in normal form)."""
    return msgpack.ExtType(EXT_UUID, value.bytes)


def pack_normal_form(value: Any) -> bytes:
    """Encode a value the caller built already in normal form: map keys text and inserted in
    sorted order, no floats, extension types applied (:func:`uuid_ext`). The chain's hot
    paths use it; ``tests/ledger/test_encoding.py`` checks it agrees with :func:`canonical`.
    """
    return msgpack.packb(value, use_bin_type=True)


def normal_form_packer() -> Callable[[Any], bytes]:
    """:func:`pack_normal_form` for a loop: one packer for many values (``packb`` makes one
    per call). Not for sharing between threads: make one per loop."""
    return msgpack.Packer(use_bin_type=True).pack


def decode(data: bytes) -> Any:
    """Decode canonical bytes. Raises :class:`EncodingError` on malformed input."""
    try:
        return msgpack.unpackb(
            data, raw=False, strict_map_key=True, ext_hook=_ext_hook, use_list=True
        )
    except EncodingError:
        raise
    except Exception as exc:  # msgpack raises several unrelated types on bad bytes
        raise EncodingError(f"malformed msgpack: {exc}") from exc


def decode_canonical(data: bytes) -> Any:
    """Decode ``data`` and insist it was canonical (re-encoding gives the same bytes)."""
    value = decode(data)
    if canonical(value) != data:
        raise EncodingError("bytes are valid msgpack but not in canonical form")
    return value


class MsgpackTranscoder(Transcoder):
    """eventsourcing transcoder storing event state as canonical msgpack."""

    def encode(self, obj: Any) -> bytes:
        return canonical(obj)

    def decode(self, data: bytes) -> Any:
        return decode(data)
