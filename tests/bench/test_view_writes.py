"""bench/view_writes.py compares two ways of writing the same rows, so both must write them:
after each way the tables hold exactly the rows given (text with tabs and CJK, integers)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from bench.view_writes import TABLES, TRANSACTIONS, create_tables, rows_of, write
from tests.conftest import pg_conninfo_for


@pytest.mark.parametrize("way", ["executemany", "copy"])
def test_each_way_writes_the_rows_given(pg_schema_url: str, way: str) -> None:
    schema = pg_schema_url.split("schema=", 1)[1]
    conninfo = pg_conninfo_for(pg_schema_url.split("?", 1)[0])
    with psycopg.connect(conninfo, autocommit=True, options=f"-c search_path={schema}") as c:
        create_tables(c)
        assert write(c, way, 5, "t") > 0
        expected: list[Any] = sorted(
            (f"t-{row[0]}", *row[1:]) for n in range(TRANSACTIONS) for row in rows_of(5, n)
        )
        for t in range(TABLES):
            assert sorted(c.execute(f"SELECT * FROM w{t}").fetchall()) == expected
