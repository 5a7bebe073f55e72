"""A view transaction defers its writes and batches them (issue 18, goal 3): the rows it
leaves, and what its reads see on the way, are those of running every statement at once
in the order written — on SQLite files and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, ProgrammingError

from ledger.storage.urls import parse_storage_url
from projections.store import COPY_FROM, Table, _folding, _row_key, open_view_recorder

ROWS = Table(
    "view_batch_rows",
    (("k", "TEXT"), ("n", "BIGINT"), ("v", "BIGINT"), ("note", "TEXT")),
    ("k", "n"),
)
TOTALS = Table("view_batch_totals", (("k", "TEXT"), ("total", "BIGINT")), ("k",))


@pytest.fixture
def recorder(storage_url: str, tmp_path: Any) -> Any:
    store = open_view_recorder(parse_storage_url(storage_url), "batch", (ROWS, TOTALS))
    store.create_table()
    return store


def test_interleaved_writes_of_rows_end_as_written_one_by_one(recorder: Any) -> None:
    upsert = (
        "INSERT INTO view_batch_totals VALUES (?, ?) ON CONFLICT (k) "
        "DO UPDATE SET total = view_batch_totals.total + excluded.total"
    )
    totals: dict[str, int] = {}  # what each statement does, by hand, beside it
    rows: dict[tuple[str, int], list[Any]] = {}
    with recorder.transaction() as tx:
        for i in range(30):
            k = f"c{i % 3}"
            tx.execute("INSERT INTO view_batch_rows VALUES (?, ?, ?, 'new')", (k, i, i))
            rows[(k, i)] = [i, "new"]
            tx.execute(upsert, (k, i))
            tx.execute("UPDATE view_batch_totals SET total = total * 2 WHERE k = ?", (k,))
            totals[k] = (totals.get(k, 0) + i) * 2
            if i % 5 == 0:  # a read in the middle sees every write before it
                tx.execute("SELECT SUM(v) FROM view_batch_rows")
                assert tx.fetchone() == (sum(v for v, _ in rows.values()),)
                tx.execute("SELECT total FROM view_batch_totals WHERE k = ?", (k,))
                assert tx.fetchone() == (totals[k],)
            tx.execute("UPDATE view_batch_rows SET v = v + 100 WHERE k = ? AND n = ?", (k, i))
            rows[(k, i)][0] += 100
            if i % 7 == 0:  # a write of many rows keeps its place among the others
                tx.execute("UPDATE view_batch_rows SET note = 'seen' WHERE k = ?", (k,))
                for key, row in rows.items():
                    if key[0] == k:
                        row[1] = "seen"
            if i % 11 == 0:
                tx.execute("DELETE FROM view_batch_rows WHERE k = ? AND n = ?", (k, i))
                del rows[(k, i)]
    assert recorder.select("SELECT k, total FROM view_batch_totals ORDER BY k") == sorted(
        totals.items()
    )
    assert recorder.select("SELECT k, n, v, note FROM view_batch_rows ORDER BY k, n") == [
        (k, n, v, note) for (k, n), (v, note) in sorted(rows.items())
    ]


def test_a_failed_transaction_writes_nothing_it_deferred(recorder: Any) -> None:
    with pytest.raises(RuntimeError), recorder.transaction() as tx:
        tx.execute("INSERT INTO view_batch_totals VALUES (?, ?)", ("a", 1))
        raise RuntimeError("handler failed")
    assert recorder.select("SELECT COUNT(*) FROM view_batch_totals") == [(0,)]


def test_only_one_row_statements_are_regrouped() -> None:
    assert _row_key("INSERT INTO view_batch_rows VALUES (?, ?, ?, 'a,b')", ROWS) == (0, 1)
    assert _row_key("INSERT INTO view_batch_rows (n, v, k) VALUES (?, 1, ?)", ROWS) == (1, 0)
    assert _row_key("UPDATE view_batch_rows SET v = ? WHERE n = ? AND k = ?", ROWS) == (2, 1)
    assert _row_key("DELETE FROM view_batch_totals WHERE k = ?", TOTALS) == 0
    # the key not pinned, pinned with OR, changed, or several rows inserted: keeps its place
    assert _row_key("UPDATE view_batch_rows SET v = ? WHERE k = ?", ROWS) is None
    assert _row_key("UPDATE view_batch_totals SET total = 1 WHERE k = ? OR k = ?", TOTALS) is None
    assert _row_key("UPDATE view_batch_totals SET k = ? WHERE k = ?", TOTALS) is None
    assert _row_key("INSERT INTO view_batch_totals VALUES (?, 1), (?, 2)", TOTALS) is None
    assert _row_key("INSERT INTO view_batch_totals VALUES ('a', ?)", TOTALS) is None


def test_a_row_inserted_in_the_transaction_is_written_once_with_its_last_values(
    recorder: Any,
) -> None:
    row = "UPDATE view_batch_rows SET v = ?, note = 'it''s' WHERE k = ? AND n = ?"
    with recorder.transaction() as tx:
        tx.execute("INSERT INTO view_batch_rows (k, n, v) VALUES (?, ?, 0)", ("a", 1))
        tx.execute(row, (5, "a", 1))
        tx.execute("UPDATE view_batch_rows SET note = ? WHERE n = ? AND k = ?", ("x", 1, "a"))
        tx.execute("INSERT INTO view_batch_rows VALUES (?, ?, ?, NULL)", ("b", 2, 7))
        tx.execute("UPDATE view_batch_rows SET v = v * 2 WHERE k = ? AND n = ?", ("b", 2))
        tx.execute(row, (100, "b", 2))  # after an expression not understood: queued
        assert len(tx._pending["view_batch_rows"]) == 4  # a: its insert; b: insert, 2 updates
        tx.execute("INSERT INTO view_batch_rows VALUES (?, ?, ?, 'c')", ("c", 3, 1))
        tx.execute("SELECT SUM(v) FROM view_batch_rows WHERE k = ?", ("c",))
        assert tx.fetchone() == (1,)  # a read of more than one row writes the queue
        tx.execute(row, (9, "c", 3))
        tx.execute("INSERT INTO view_batch_rows VALUES (?, ?, ?, 'd')", ("d", 4, 1))
        tx.execute("UPDATE view_batch_rows SET note = NULL WHERE k = ?", ("d",))  # rows unknown
        tx.execute(row, (2, "d", 4))
        assert len(tx._pending["view_batch_rows"]) == 4  # c: an update; d: insert, 2 updates
    assert recorder.select("SELECT k, n, v, note FROM view_batch_rows ORDER BY k") == [
        ("a", 1, 5, "x"),
        ("b", 2, 100, "it's"),
        ("c", 3, 9, "it's"),
        ("d", 4, 2, "it's"),
    ]


def test_only_writes_of_values_to_one_row_fold() -> None:
    insert = _folding(ROWS, "INSERT INTO view_batch_rows (n, k) VALUES (?, ?)")
    assert insert is not None and insert.insert and insert.key == (1, 0)
    assert insert.values == ((1, None), (0, None), (-1, None), (-1, None))
    update = _folding(ROWS, "UPDATE view_batch_rows SET note = 'a,b', v = ? WHERE n = ? AND k = ?")
    assert update is not None and update.key == (2, 1)
    assert update.values == ((3, (-1, "a,b")), (2, (0, None)))
    for sql in (
        "INSERT INTO view_batch_rows VALUES (?, ?, ?, ?) ON CONFLICT (k, n) DO NOTHING",
        "INSERT OR REPLACE INTO view_batch_rows VALUES (?, ?, ?, ?)",
        "INSERT INTO view_batch_rows VALUES (?, ?, ?, lower(?))",
        "INSERT INTO view_batch_rows (v, note) VALUES (?, ?)",  # no key
        "UPDATE view_batch_rows SET v = v * 2 WHERE k = ? AND n = ?",
        "UPDATE view_batch_rows SET v = lower(note) WHERE k = ? AND n = ?",
        "UPDATE view_batch_rows SET v = ? WHERE k = ?",
        "UPDATE view_batch_rows SET v = ? WHERE k = ? AND n = ? AND v IS NULL",
        "UPDATE view_batch_rows SET n = ? WHERE k = ? AND n = ?",
    ):
        assert _folding(ROWS, sql) is None, sql


FLUSH = "SELECT COUNT(*) FROM view_batch_rows"
"""A read of the whole table: it writes the table's queue, so the next write is not folded."""


def _program(seed: int) -> list[tuple[str, tuple[Any, ...]]]:
    """Random writes and one-row reads of a few rows, with NULLs among the values: inserts,
    updates setting parameters or expressions of the row, deletes, reads by key."""
    import random

    rng = random.Random(seed)
    value = lambda: rng.choice([None, 0, 1, 2, 5, -3, 40])  # noqa: E731
    text = lambda: rng.choice([None, "a", "b", "it's"])  # noqa: E731
    where = " WHERE k = ? AND n = ?"
    updates = [
        ("UPDATE view_batch_rows SET v = v + ?" + where, lambda: (value(),)),
        ("UPDATE view_batch_rows SET v = v - 1, note = ?" + where, lambda: (text(),)),
        ("UPDATE view_batch_rows SET v = COALESCE(?, v, 9)" + where, lambda: (value(),)),
        (
            "UPDATE view_batch_rows SET v = CASE WHEN v < ? THEN ? ELSE v END, "
            "note = CASE WHEN v < ? THEN ? ELSE note END" + where,
            lambda: (a := value(), value(), a, text()),  # both CASEs see the old v
        ),
        (
            "UPDATE view_batch_rows SET note = CASE WHEN note = ? THEN 'same' "
            "WHEN note IS NULL THEN 'none' ELSE note END" + where,
            lambda: (text(),),
        ),
        ("UPDATE view_batch_rows SET v = ?, note = NULL" + where, lambda: (value(),)),
    ]
    out: list[tuple[str, tuple[Any, ...]]] = []
    live: set[tuple[str, int]] = set()
    for _ in range(120):
        k, n = rng.choice("pq"), rng.randrange(4)
        roll = rng.random()
        if (k, n) not in live:
            out.append(("INSERT INTO view_batch_rows VALUES (?, ?, ?, ?)", (k, n, value(), text())))
            live.add((k, n))
        elif roll < 0.6:
            sql, params = rng.choice(updates)
            out.append((sql, (*params(), k, n)))
        elif roll < 0.8:
            out.append(("SELECT v, note FROM view_batch_rows" + where, (k, n)))
        elif roll < 0.9:
            out.append(("DELETE FROM view_batch_rows" + where, (k, n)))
            live.discard((k, n))
        else:
            out.append((FLUSH, ()))
    return out


def _run_program(
    recorder: Any, program: list[tuple[str, tuple[Any, ...]]], *, one_by_one: bool
) -> tuple[list[Any], list[Any]]:
    """Run ``program`` in one transaction: the reads' answers and the rows it leaves."""
    answers = []
    with recorder.transaction() as tx:
        for sql, params in program:
            tx.execute(sql, params)
            if sql.startswith("SELECT"):
                answers.append(tx.fetchall())
            elif one_by_one:  # the database runs each write before the next statement
                tx.execute(FLUSH)
    rows = recorder.select("SELECT k, n, v, note FROM view_batch_rows ORDER BY k, n")
    with recorder.transaction() as tx:
        tx.execute("DELETE FROM view_batch_rows")
    return answers, rows


@pytest.mark.parametrize("seed", range(12))
def test_folded_expressions_and_reads_from_images_give_what_the_database_gives(
    recorder: Any, seed: int
) -> None:
    """The database is the oracle: the same program with every write run before the next
    statement leaves the same rows, and every read by key gets the same answer."""
    program = _program(seed)
    folded = _run_program(recorder, program, one_by_one=False)
    assert folded == _run_program(recorder, program, one_by_one=True)


def test_computed_updates_fold_and_reads_by_key_are_answered_without_writing(
    recorder: Any,
) -> None:
    with recorder.transaction() as tx:
        tx.execute("INSERT INTO view_batch_rows VALUES (?, ?, ?, NULL)", ("a", 1, 4))
        tx.execute("UPDATE view_batch_rows SET v = v + 1 WHERE k = ? AND n = ?", ("a", 1))
        tx.execute(
            "UPDATE view_batch_rows SET note = COALESCE(?, 'x') WHERE k = ? AND n = ?",
            (None, "a", 1),
        )
        tx.execute("SELECT v, note FROM view_batch_rows WHERE k = ? AND n = ?", ("a", 1))
        assert tx.fetchall() == [(5, "x")]
        tx.execute("SELECT v FROM view_batch_rows WHERE n = ? AND k = ?", (1, "a"))
        assert tx.fetchone() == (5,) and tx.fetchone() is None
        assert len(tx._pending["view_batch_rows"]) == 1  # the insert, with its last values
    assert recorder.select("SELECT k, n, v, note FROM view_batch_rows") == [("a", 1, 5, "x")]


def test_a_value_python_would_compute_differently_goes_to_the_database(
    recorder: Any, storage_url: str
) -> None:
    """A BIGINT column given a bool holds what the database made of it (SQLite: 1), not what
    the image holds: the expression and the read are left to the database. PostgreSQL
    refuses the value, and the transaction writes nothing."""
    if storage_url.startswith("postgresql"):
        with pytest.raises(ProgrammingError, match="boolean"), recorder.transaction() as tx:
            tx.execute("INSERT INTO view_batch_rows VALUES (?, ?, ?, NULL)", ("a", 1, True))
        assert recorder.select("SELECT COUNT(*) FROM view_batch_rows") == [(0,)]
        return
    with recorder.transaction() as tx:
        tx.execute("INSERT INTO view_batch_rows VALUES (?, ?, ?, NULL)", ("a", 1, True))
        tx.execute("SELECT v FROM view_batch_rows WHERE k = ? AND n = ?", ("a", 1))
        assert tx.fetchone() == (1,)  # not True: read from the database
        tx.execute("INSERT INTO view_batch_rows VALUES (?, ?, ?, NULL)", ("b", 2, True))
        tx.execute("UPDATE view_batch_rows SET v = v + 1 WHERE k = ? AND n = ?", ("b", 2))
        assert len(tx._pending["view_batch_rows"]) == 2  # b's insert and its update
        tx.execute("UPDATE view_batch_rows SET v = v + 1 WHERE k = ? AND n = ?", ("b", 2))
        assert len(tx._pending["view_batch_rows"]) == 3  # the image ended: queued too
    assert recorder.select("SELECT k, v FROM view_batch_rows ORDER BY k") == [("a", 1), ("b", 3)]


WIDE = Table(
    "view_batch_wide",
    (("k", "TEXT"), ("n", "BIGINT"), ("big", "BIGINT"), ("blob", "BLOB"), ("note", "TEXT")),
    ("k", "n"),
)


ODD = ("", "\t", "\n", "\\", "\\N", "\r\n", "'", '"', ",", "\\.", " ")
"""Text a ``COPY`` must escape: a tab, line ends, a backslash, the text of NULL, the end mark."""


@pytest.mark.parametrize("count", [COPY_FROM - 1, COPY_FROM, 300])
def test_many_rows_inserted_in_one_batch_are_the_rows_given(storage_url: str, count: int) -> None:
    """A batch's inserts go out as multi-row statements (SQLite) or a ``COPY`` (PostgreSQL,
    from ``COPY_FROM`` rows): rows of every column type, with NULLs, integers of every width
    and text a ``COPY`` must escape, end exactly as inserted; a row whose key is already there
    fails the whole transaction, as one statement per row did."""
    store = open_view_recorder(parse_storage_url(storage_url), "wide", (WIDE,))
    store.create_table()
    rows = [
        (
            f"k{i % 7}",
            i,
            None if i % 5 == 0 else (i if i % 2 else 2**40 + i),
            None if i % 3 == 0 else bytes([i % 256]) * (i % 4),
            None if i % 4 == 0 else f"第{i}件" + ODD[i % len(ODD)],
        )
        for i in range(count)
    ]
    with store.transaction() as tx:
        for row in rows:
            tx.execute("INSERT INTO view_batch_wide VALUES (?, ?, ?, ?, ?)", row)
    assert store.select("SELECT k, n, big, blob, note FROM view_batch_wide ORDER BY n") == [
        r for r in rows
    ]
    with pytest.raises(IntegrityError), store.transaction() as tx:
        for i in range(1000, 1040):  # one of them is a row already there
            tx.execute(
                "INSERT INTO view_batch_wide VALUES (?, ?, ?, ?, ?)", ("k5", i - 995, 1, b"", "")
            )
    assert store.select("SELECT COUNT(*) FROM view_batch_wide") == [(count,)]


def test_a_batch_of_inserts_takes_a_statement_per_power_of_two(tmp_path: Any) -> None:
    """300 inserted rows are four statements (256 + 32 + 8 + 4 rows), not 300."""
    store = open_view_recorder(
        parse_storage_url(f"sqlite:///{tmp_path / 'wide.sqlite3'}"), "wide", (WIDE,)
    )
    store.create_table()
    seen: list[str] = []
    with store.transaction() as tx:
        tx._rows.connection.set_trace_callback(seen.append)
        for i in range(300):
            tx.execute("INSERT INTO view_batch_wide VALUES (?, ?, ?, ?, ?)", ("k", i, i, b"", ""))
    inserts = [s for s in seen if s.startswith("INSERT INTO view_batch_wide")]
    assert [s.count("(") - 1 for s in inserts] == [256, 32, 8, 4]
    assert store.select("SELECT COUNT(*) FROM view_batch_wide") == [(300,)]
