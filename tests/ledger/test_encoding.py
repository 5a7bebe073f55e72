"""Canonical msgpack encoding (docs/FORMAT.md §1): round trips; equal values, equal bytes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.encoding import EncodingError, MsgpackTranscoder, canonical, decode, decode_canonical

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text()
    | st.binary()
    | st.uuids()
    | st.datetimes(timezones=st.just(dt.UTC))
    | st.dates()
    | st.decimals(allow_nan=False, allow_infinity=False, places=4)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


@given(values)
def test_every_value_round_trips(value: Any) -> None:
    assert decode(canonical(value)) == value


@given(st.dictionaries(st.text(max_size=8), st.integers(-(2**63), 2**64 - 1), max_size=8))
def test_maps_equal_in_value_give_equal_bytes_whatever_their_insertion_order(
    d: dict[str, int],
) -> None:
    reordered = dict(reversed(list(d.items())))
    assert canonical(d) == canonical(reordered)


@given(values)
def test_encoded_bytes_are_canonical(value: Any) -> None:
    data = canonical(value)
    assert canonical(decode_canonical(data)) == data


def test_keys_are_sorted_by_their_utf8_bytes() -> None:
    assert canonical({"b": 1, "a": 2, "é": 3, "Z": 4}).hex() == "84a15a04a16102a16201a2c3a903"


def test_the_same_instant_in_another_zone_encodes_the_same() -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    utc = dt.datetime(2026, 10, 1, 1, 0, tzinfo=dt.UTC)
    assert canonical(utc) == canonical(utc.astimezone(shanghai))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "floats"),
        ({1: "x"}, "not text"),
        (dt.datetime(2026, 1, 1), "naive datetime"),
        (Decimal("NaN"), "non-finite"),
        (object(), "no canonical encoding"),
        ({"a": {1.0}}, "no canonical encoding"),
    ],
)
def test_values_outside_the_format_are_refused_with_the_reason(value: Any, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        canonical(value)


@pytest.mark.parametrize("data", [b"\xc1", b"\x92\x01", b"\xd4\x63\x00", b"\x81\x01\x02"])
def test_malformed_bytes_raise_one_error_type(data: bytes) -> None:
    with pytest.raises(EncodingError):
        decode(data)


def test_non_canonical_bytes_are_refused_by_the_strict_decoder() -> None:
    unsorted = bytes.fromhex("82a16201a16102")  # {"b": 1, "a": 2}
    assert decode(unsorted) == {"a": 2, "b": 1}
    with pytest.raises(EncodingError, match="not in canonical form"):
        decode_canonical(unsorted)


def test_the_transcoder_stores_event_state_canonically() -> None:
    t = MsgpackTranscoder()
    state = {
        "timestamp": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "id": UUID(int=7),
        "fee": Decimal("12.50"),
    }
    assert t.decode(t.encode(state)) == state
    assert t.encode(state) == canonical(state)


def test_integers_beyond_64_bits_are_refused() -> None:
    with pytest.raises(EncodingError):
        canonical(2**64)


@given(
    st.integers(1, 2**40),
    st.binary(min_size=32, max_size=32),
    st.uuids(),
    st.integers(0, 2**31),
    st.text(max_size=40),
    st.integers(0, 2**62),
    st.integers(1, 500),
)
def test_the_chain_fast_path_encodes_exactly_like_canonical(
    seq: int, prev: bytes, oid: UUID, version: int, topic: str, ts: int, size: int
) -> None:
    from ledger.chain.entries import ChainEntry
    from ledger.encoding import pack_normal_form

    entry = ChainEntry(seq, prev, oid, version, topic, ts, prev, prev[:8], prev * 2, size - 1, size)
    plain = {k: (oid if k == "originator_id" else v) for k, v in entry.body().items()}
    assert pack_normal_form(entry.body()) == canonical(plain)
