"""The process-wide PostgreSQL pools (ledger.storage.pg_pool) on the real server: connections are
reused and bounded, each borrowing is one transaction, a failure leaves the pool usable,
a forked child never shares its parent's connections, and the interpreter exits cleanly."""

from __future__ import annotations

import hashlib
import multiprocessing
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from ledger.storage import pg_pool
from ledger.storage.materials import PostgresBlobStore
from ledger.storage.subject_keys import PostgresSubjectKeyStore, SubjectKeyStoreError
from tests.ledger.conftest import PostgresTarget

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF\n"


@pytest.fixture
def conninfo(postgres: PostgresTarget) -> Iterator[str]:
    """The test's conninfo with an application name of its own: a pool of its own, and
    its server sessions can be counted in ``pg_stat_activity``."""
    info = f"{postgres.conninfo} application_name=pgpool_{uuid.uuid4().hex[:12]}"
    yield info
    pg_pool.pool(info).close()


@pytest.fixture
def blobs(postgres: PostgresTarget, conninfo: str) -> PostgresBlobStore:
    """A migrated blob store borrowing from the test's own pool."""
    store = PostgresBlobStore(conninfo, postgres.schema)
    store.migrate()
    return store


def _insert_blob(conn: psycopg.Connection, schema: str, sha: bytes) -> None:
    """Write the PDF's row straight into the blob table, inside the caller's transaction."""
    conn.execute(
        f'INSERT INTO "{schema}".material_blobs (sha256, media_type, size, bytes) '
        "VALUES (%s, %s, %s, %s)",
        (sha, "application/pdf", len(PDF), PDF),
    )


def _backend_pid(conninfo: str) -> int:
    with pg_pool.transaction(conninfo) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def _sessions(postgres: PostgresTarget, conninfo: str) -> set[int]:
    """Backend pids of the server sessions opened with ``conninfo``'s application name."""
    application = conninfo.rsplit("application_name=", 1)[1]
    with psycopg.connect(postgres.conninfo) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application,)
        ).fetchall()
    return {int(row[0]) for row in rows}


def _fork_child_backend_pid(conninfo: str, answers: multiprocessing.Queue[int]) -> None:
    answers.put(_backend_pid(conninfo))


def test_sequential_calls_reuse_a_few_server_connections(conninfo: str) -> None:
    assert len({_backend_pid(conninfo) for _ in range(50)}) <= pg_pool.MAX_SIZE


def test_concurrent_calls_never_open_more_than_the_pool_size(
    postgres: PostgresTarget, conninfo: str, blobs: PostgresBlobStore
) -> None:
    ref = blobs.put(PDF, "application/pdf")
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(25):
                assert not blobs.missing([ref.sha256])
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3 * pg_pool.MAX_SIZE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert 1 <= len(_sessions(postgres, conninfo)) <= pg_pool.MAX_SIZE


def test_a_failed_transaction_is_rolled_back_and_the_pool_stays_usable(
    postgres: PostgresTarget, conninfo: str, blobs: PostgresBlobStore
) -> None:
    sha = hashlib.sha256(PDF).digest()

    with pytest.raises(psycopg.errors.DivisionByZero), pg_pool.transaction(conninfo) as conn:
        _insert_blob(conn, postgres.schema, sha)
        conn.execute("SELECT 1 / 0")

    assert blobs.missing([sha]) == {sha}
    with pg_pool.pool(conninfo).connection() as conn:
        assert conn.info.transaction_status == TransactionStatus.IDLE
    assert blobs.put(PDF, "application/pdf").sha256 == sha
    assert blobs.missing([sha]) == frozenset()


def test_a_write_abandoned_by_an_exception_in_the_caller_is_not_visible(
    postgres: PostgresTarget, conninfo: str, blobs: PostgresBlobStore
) -> None:
    sha = hashlib.sha256(PDF).digest()

    with pytest.raises(RuntimeError), pg_pool.transaction(conninfo) as conn:
        _insert_blob(conn, postgres.schema, sha)
        raise RuntimeError("the caller gives up")

    assert blobs.missing([sha]) == {sha}


def test_a_store_error_is_wrapped_as_before_and_the_next_call_succeeds(
    postgres: PostgresTarget, conninfo: str
) -> None:
    store = PostgresSubjectKeyStore(conninfo, postgres.schema)
    subject = UUID(int=7)

    with pytest.raises(SubjectKeyStoreError, match=r"^subject keys: .*subject_keys"):
        store.get(subject)  # no table yet

    store.migrate()
    assert store.get(subject) is None
    assert store.insert(subject, b"kek", b"wrapped").wrapped_key == b"wrapped"


def test_a_closed_pool_is_replaced_on_next_use(conninfo: str) -> None:
    first = pg_pool.pool(conninfo)
    first.close()
    assert pg_pool.pool(conninfo) is not first
    assert _backend_pid(conninfo) > 0


def test_a_forked_child_opens_its_own_connections_and_leaves_the_parents_alone(
    postgres: PostgresTarget, conninfo: str
) -> None:
    parent = {_backend_pid(conninfo) for _ in range(2 * pg_pool.MAX_SIZE)}
    context = multiprocessing.get_context("fork")
    answers: multiprocessing.Queue[int] = context.Queue()
    child = context.Process(target=_fork_child_backend_pid, args=(conninfo, answers))
    child.start()
    child_pid = answers.get(timeout=60)
    child.join(timeout=60)

    assert child.exitcode == 0
    assert child_pid not in parent
    assert parent <= _sessions(postgres, conninfo)  # the child closed none of them
    assert _backend_pid(conninfo) > 0
    assert pg_pool.pool(conninfo).get_stats().get("connections_lost", 0) == 0


def _run_python(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "dev", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,  # a hang guard, not a timing assertion
        check=False,
    )


def test_a_process_using_a_pool_exits_cleanly(postgres: PostgresTarget) -> None:
    done = _run_python(
        "from ledger.storage import pg_pool\n"
        f"with pg_pool.transaction({postgres.conninfo!r}) as conn:\n"
        "    conn.execute('SELECT 1')\n"
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_a_process_exits_cleanly_while_its_pool_waits_on_a_silent_server() -> None:
    done = _run_python(
        "import socket\n"
        "import psycopg_pool\n"
        "from ledger.storage import pg_pool\n"
        "silent = socket.create_server(('127.0.0.1', 0))\n"
        "port = silent.getsockname()[1]\n"
        "silent.detach()  # listening until exit, never answering\n"
        "stuck = pg_pool.pool(f'host=127.0.0.1 port={port} user=nobody dbname=none')\n"
        "try:\n"
        "    stuck.getconn(timeout=0.5)  # the pool's workers are now stuck connecting\n"
        "except psycopg_pool.PoolTimeout:\n"
        "    pass\n"
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_close_all_closes_the_pools_and_the_next_use_opens_new_ones(conninfo: str) -> None:
    first = pg_pool.pool(conninfo)
    pg_pool.close_all()
    assert first.closed
    assert _backend_pid(conninfo) > 0
    assert pg_pool.pool(conninfo) is not first


def test_a_single_statement_runs_without_a_transaction_block(conninfo: str) -> None:
    """``statement`` is one round trip: no ``BEGIN`` before and no ``COMMIT`` after."""
    with pg_pool.statement(conninfo) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.info.transaction_status == TransactionStatus.IDLE
    with pg_pool.transaction(conninfo) as conn:
        conn.execute("SELECT 1")
        assert conn.info.transaction_status == TransactionStatus.INTRANS
