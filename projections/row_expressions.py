"""The small SQL expressions a view's ``UPDATE`` may set and still be applied in Python, to a row
written earlier in the same transaction (the view store's row images, ``projections.store``).

Layer: projections. Issue 18, goal 3: a rebuild writes each row once with its final values
only if every write of the row before that folds into its image; an ``UPDATE`` whose ``SET``
computes from the row itself (``certificates = certificates + 1``, ``COALESCE(?, limit_days)``,
``CASE WHEN backfill_seconds < ? THEN ? ELSE backfill_step END``) used to end the image, and
every later write of the row went to the database one statement at a time.

What is understood: ``?``, literals (``NULL``, integers, quoted strings), a column of the
row, ``a + b`` and ``a - b``, ``COALESCE(a, b, …)``, ``CASE WHEN c THEN a [WHEN …] ELSE b
END``, and as conditions ``a < b`` (``<=``, ``>``, ``>=``, ``=``, ``<>``, ``!=``), ``a IS [NOT]
NULL``, with SQL's NULL rules: arithmetic on NULL is NULL, a comparison with NULL is unknown
and takes the ``ELSE``. Anything else is not parsed (:func:`parse` gives None: the statement
is written as it is). Evaluation is strict about types so that Python gives what both SQLite
and PostgreSQL would give, or nothing: arithmetic and ordering only on integers (``bool`` is
not one; a sum beyond 64 bits neither), equality on two integers or two strings; any other
value raises :class:`Unfoldable` and the caller writes the statement to the database
instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Final

__all__ = ["Unfoldable", "Value", "parse"]

Value = Callable[[Sequence[Any], Sequence[Any]], Any]
"""An expression: its value on a row (values in table order) with a statement's parameters."""


class Unfoldable(Exception):
    """A value this module will not compute in Python (its SQL result could differ)."""


_TOKEN: Final = re.compile(r"\s*(\?|'(?:[^']|'')*'|-?\d+(?![\w.])|\w+|<=|>=|<>|!=|[()<>=,+-])")
_KEYWORDS: Final = frozenset(
    {"null", "coalesce", "case", "when", "then", "else", "end", "is", "not", "and", "or"}
)
_INT64: Final = (-(2**63), 2**63 - 1)
_ORDER: Final = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def parse(text: str, columns: Sequence[str], first_mark: int) -> tuple[Value, int] | None:
    """The expression ``text`` over a row of ``columns``, whose first ``?`` is the statement's
    parameter ``first_mark``, and how many ``?`` it holds; None when it is not understood."""
    tokens = _tokens(text)
    if tokens is None:
        return None
    parser = _Parser(tokens, {c: i for i, c in enumerate(columns)}, first_mark)
    try:
        value = parser.expression()
    except _NotUnderstood:
        return None
    if parser.at < len(tokens):
        return None
    return value, parser.mark - first_mark


def _tokens(text: str) -> list[str] | None:
    out: list[str] = []
    at = 0
    while at < len(text):
        found = _TOKEN.match(text, at)
        if found is None:
            return None if text[at:].strip() else out
        out.append(found.group(1))
        at = found.end()
    return out


class _NotUnderstood(Exception):
    pass


class _Parser:
    """Recursive descent over the tokens, building closures (row, params) -> value."""

    def __init__(self, tokens: list[str], columns: dict[str, int], first_mark: int) -> None:
        self.tokens, self.columns, self.at, self.mark = tokens, columns, 0, first_mark

    def peek(self) -> str:
        return self.tokens[self.at].lower() if self.at < len(self.tokens) else ""

    def take(self, *expected: str) -> str:
        token = self.peek()
        if not token or (expected and token not in expected):
            raise _NotUnderstood(token)
        self.at += 1
        return self.tokens[self.at - 1]

    def expression(self) -> Value:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = _arithmetic(value, self.take(), self.term())
        return value

    def term(self) -> Value:
        token = self.peek()
        if token == "?":
            self.take()
            i = self.mark
            self.mark += 1
            return lambda row, params: params[i]
        if token == "(":
            self.take()
            value = self.expression()
            self.take(")")
            return value
        if token == "null":
            self.take()
            return lambda row, params: None
        if token == "coalesce":
            return self.coalesce()
        if token == "case":
            return self.case()
        if token.startswith("'"):
            literal = self.take()[1:-1].replace("''", "'")
            return lambda row, params: literal
        if re.fullmatch(r"-?\d+", token):
            number = int(self.take())
            return lambda row, params: number
        if token in self.columns and token not in _KEYWORDS:
            self.take()
            j = self.columns[token]
            return lambda row, params: row[j]
        raise _NotUnderstood(token)

    def coalesce(self) -> Value:
        self.take("coalesce")
        self.take("(")
        values = [self.expression()]
        while self.peek() == ",":
            self.take()
            values.append(self.expression())
        self.take(")")

        def value(row: Sequence[Any], params: Sequence[Any]) -> Any:
            for v in values:
                got = v(row, params)
                if got is not None:
                    return got
            return None

        return value

    def case(self) -> Value:
        self.take("case")
        branches = []
        while self.peek() == "when":
            self.take()
            condition = self.condition()
            self.take("then")
            branches.append((condition, self.expression()))
        if not branches:
            raise _NotUnderstood("case")
        otherwise: Value = lambda row, params: None  # noqa: E731
        if self.peek() == "else":
            self.take()
            otherwise = self.expression()
        self.take("end")

        def value(row: Sequence[Any], params: Sequence[Any]) -> Any:
            for condition, then in branches:
                if condition(row, params) is True:
                    return then(row, params)
            return otherwise(row, params)

        return value

    def condition(self) -> Value:
        left = self.expression()
        if self.peek() == "is":
            self.take()
            negated = self.peek() == "not"
            if negated:
                self.take()
            self.take("null")
            return lambda row, params: (left(row, params) is None) is not negated
        operator = self.take("<", "<=", ">", ">=", "=", "<>", "!=")
        return _comparison(left, operator, self.expression())


def _integer(value: Any) -> int:
    if type(value) is not int:
        raise Unfoldable(type(value).__name__)
    return value


def _arithmetic(left: Value, operator: str, right: Value) -> Value:
    sign = 1 if operator == "+" else -1

    def value(row: Sequence[Any], params: Sequence[Any]) -> Any:
        a, b = left(row, params), right(row, params)
        if a is None or b is None:
            return None
        result = _integer(a) + sign * _integer(b)
        if not _INT64[0] <= result <= _INT64[1]:  # SQLite turns it into a REAL, PostgreSQL fails
            raise Unfoldable("out of the 64-bit range")
        return result

    return value


def _comparison(left: Value, operator: str, right: Value) -> Value:
    order = _ORDER.get(operator)

    def value(row: Sequence[Any], params: Sequence[Any]) -> bool | None:
        a, b = left(row, params), right(row, params)
        if a is None or b is None:
            return None  # unknown
        if order is not None:
            return bool(order(_integer(a), _integer(b)))
        if type(a) is not type(b) or type(a) not in (int, str):
            raise Unfoldable(f"{type(a).__name__} {operator} {type(b).__name__}")
        return (a == b) is (operator == "=")

    return value
