"""A view transaction defers its writes and batches them (issue 18, goal 3): the rows it
leaves, and what its reads see on the way, are those of running every statement at once
in the order written — on SQLite files and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.storage.urls import parse_storage_url
from projections.store import Table, _folding, _row_key, open_view_recorder

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
        tx.execute("UPDATE view_batch_rows SET v = v + 1 WHERE k = ? AND n = ?", ("b", 2))
        tx.execute(row, (100, "b", 2))  # after an expression: queued, not folded
        assert len(tx._pending["view_batch_rows"]) == 4  # a: its insert; b: insert, 2 updates
        tx.execute("INSERT INTO view_batch_rows VALUES (?, ?, ?, 'c')", ("c", 3, 1))
        tx.execute("SELECT v FROM view_batch_rows WHERE k = ? AND n = ?", ("c", 3))
        assert tx.fetchone() == (1,)  # a read writes the queue: the image ends there
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
        "UPDATE view_batch_rows SET v = v + 1 WHERE k = ? AND n = ?",
        "UPDATE view_batch_rows SET v = ? WHERE k = ?",
        "UPDATE view_batch_rows SET v = ? WHERE k = ? AND n = ? AND v IS NULL",
        "UPDATE view_batch_rows SET n = ? WHERE k = ? AND n = ?",
    ):
        assert _folding(ROWS, sql) is None, sql
