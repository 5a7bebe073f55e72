"""The expressions a view's UPDATE may set and still fold into a row image: what is parsed,
and that evaluation follows SQL's NULL rules or refuses (issue 18, goal 3). The database
itself is the oracle in ``test_batched_writes``; these pin the edges by hand."""

from __future__ import annotations

from typing import Any

import pytest

from projections.row_expressions import Unfoldable, parse

COLUMNS = ("k", "v", "note")


def value(text: str, row: tuple[Any, ...], params: tuple[Any, ...] = (), first: int = 0) -> Any:
    parsed = parse(text, COLUMNS, first)
    assert parsed is not None, text
    expression, _ = parsed
    return expression(row, params)


@pytest.mark.parametrize(
    "text",
    [
        "v * 2",
        "lower(note)",
        "note || 'a'",
        "1.5",
        "v + 1.5",
        "(SELECT v FROM t)",
        "COALESCE(v, 1",
        "CASE WHEN v < 1 THEN 2 END END",
        "CASE ELSE 1 END",
        "missing + 1",
        "v < 1",  # a condition is not a value
        "v-1",  # read as v and -1: not understood, though SQL would subtract
        "'unclosed",
    ],
)
def test_what_is_not_understood_is_left_to_the_database(text: str) -> None:
    assert parse(text, COLUMNS, 0) is None


def test_parameters_are_numbered_in_the_order_they_appear() -> None:
    parsed = parse("CASE WHEN v < ? THEN ? ELSE COALESCE(?, v) END", COLUMNS, 3)
    assert parsed is not None and parsed[1] == 3
    expression = parsed[0]
    params = ("x", "y", "z", 10, 7, None)
    assert expression(("a", 4, None), params) == 7  # 4 < 10
    assert expression(("a", 40, None), params) == 40  # COALESCE(NULL, v)


def test_null_follows_sql() -> None:
    assert value("v + 1", ("a", None, None)) is None
    assert value("v - ?", ("a", 3, None), (None,)) is None
    assert value("CASE WHEN v < 1 THEN 'lt' ELSE 'else' END", ("a", None, None)) == "else"
    assert value("CASE WHEN note = 'x' THEN 1 END", ("a", 1, None)) is None  # no ELSE: NULL
    assert value("CASE WHEN note IS NULL THEN 1 ELSE 2 END", ("a", 1, None)) == 1
    assert value("CASE WHEN note IS NOT NULL THEN 1 ELSE 2 END", ("a", 1, None)) == 2
    assert value("COALESCE(NULL, note, v, 3)", ("a", 5, None)) == 5
    assert value("'it''s'", ("a", 5, None)) == "it's"


def test_comparisons_and_arithmetic_on_integers_and_equality_on_text() -> None:
    assert value("v + 2 - 1", ("a", 5, None)) == 6
    assert value("v + -1", ("a", 5, None)) == 4
    assert value("CASE WHEN v >= 5 THEN 1 ELSE 0 END", ("a", 5, None)) == 1
    assert value("CASE WHEN v <> 5 THEN 1 ELSE 0 END", ("a", 5, None)) == 0
    assert value("CASE WHEN note = 'b' THEN 1 ELSE 0 END", ("a", 5, "b")) == 1
    assert value("CASE WHEN note != 'b' THEN 1 ELSE 0 END", ("a", 5, "c")) == 1


@pytest.mark.parametrize(
    ("text", "row"),
    [
        ("v + 1", ("a", True, None)),  # a bool is not an integer here
        ("v + 1", ("a", "7", None)),  # text in an integer column: the database converts it
        ("v + 1", ("a", 1.5, None)),
        ("v + 1", ("a", 2**63 - 1, None)),  # SQLite would make it a REAL, PostgreSQL refuse it
        ("CASE WHEN note < 'b' THEN 1 ELSE 0 END", ("a", 1, "a")),  # text order: collation
        ("CASE WHEN note = 1 THEN 1 ELSE 0 END", ("a", 1, "1")),  # mixed types
    ],
)
def test_a_value_sql_might_compute_otherwise_is_refused(text: str, row: tuple[Any, ...]) -> None:
    with pytest.raises(Unfoldable):
        value(text, row)
