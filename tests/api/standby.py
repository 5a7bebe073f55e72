"""A real PostgreSQL primary and its streaming hot standby, made for a test and removed after.

Why a pair of its own and not a standby of the server on 127.0.0.1:5432: that server's
pg_hba.conf has no ``replication`` line (Debian's default allows none over TCP), a base backup
of it would copy every database on it, and changing its configuration from a test is not a
test's business. A fresh cluster needs only the server binaries that the running PostgreSQL
was installed with (``/usr/lib/postgresql/<version>/bin``, or ``pg_config --bindir``):
``initdb`` (its default pg_hba.conf trusts local replication connections, and ``wal_level``
``replica`` and ``max_wal_senders`` 10 are the defaults), ``pg_ctl`` on two free loopback
ports, ``pg_basebackup -R`` for the standby (it writes ``primary_conninfo`` and
``standby.signal``). PostgreSQL refuses to run as root: as root, every command runs as the
``postgres`` user (the server package creates it) in a directory it owns.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from tests.api.conftest import free_port

DATABASE = "caseledger"
START_WAIT = 60.0
"""Bound on how long a server may take to start or stop (a failing fixture, never a measure)."""


def server_bindir() -> Path:
    """The directory of ``initdb``/``pg_ctl``/``pg_basebackup``: the newest installed
    server's, else ``pg_config --bindir``. Raises FileNotFoundError naming what is missing."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    config = shutil.which("pg_config")
    if config:
        bindir = Path(
            subprocess.run([config, "--bindir"], capture_output=True, text=True).stdout.strip()
        )
        if (bindir / "initdb").exists():
            return bindir
    raise FileNotFoundError(
        "the PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup): install the server "
        "package the running PostgreSQL came from (e.g. postgresql-15)"
    )


@dataclass
class StreamingPair:
    """A primary on one port and a hot standby streaming from it on another."""

    directory: Path
    bindir: Path
    primary_port: int
    standby_port: int
    user: str | None

    def url(self, port: int, dbname: str = DATABASE) -> str:
        return f"postgresql://root@127.0.0.1:{port}/{dbname}"

    @property
    def primary_url(self) -> str:
        return self.url(self.primary_port)

    @property
    def standby_url(self) -> str:
        return self.url(self.standby_port)

    def run(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            [str(self.bindir / tool), *args],
            cwd=self.directory,
            user=self.user,
            capture_output=True,
            text=True,
            timeout=START_WAIT,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)}: {result.stdout}{result.stderr}")

    def start(self, name: str, port: int) -> None:
        """Start server ``name`` on ``port``: loopback only, its socket in the pair's directory,
        no fsync (a test's data), room for the pools of several ``serve`` processes (a standby
        needs at least the primary's ``max_connections``: both get the same)."""
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.directory}"
            " -c fsync=off -c full_page_writes=off -c max_connections=300"
        )
        data = str(self.directory / name)
        log = str(self.directory / f"{name}.log")
        self.run(
            "pg_ctl",
            "-D",
            data,
            "-l",
            log,
            "-w",
            "-t",
            str(int(START_WAIT)),
            "-o",
            options,
            "start",
        )

    def stop(self, name: str) -> None:
        if (self.directory / name / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.directory / name), "-m", "fast", "-w", "stop")

    def sql(self, port: int, statement: str, dbname: str = DATABASE) -> Any:
        with psycopg.connect(
            host="127.0.0.1", port=port, user="root", dbname=dbname, autocommit=True
        ) as conn:
            cursor = conn.execute(statement)
            row = cursor.fetchone() if cursor.description else None
        return None if row is None else row[0]

    def pause_replay(self) -> None:
        """The standby stops applying WAL (it still receives it): a lagging standby."""
        self.sql(self.standby_port, "SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.sql(self.standby_port, "SELECT pg_wal_replay_resume()")

    def stop_standby(self) -> None:
        self.stop("standby")

    def start_standby(self) -> None:
        self.start("standby", self.standby_port)

    def wait_replayed(self) -> None:
        """Until the standby has replayed everything the primary has written now."""
        target = self.sql(self.primary_port, "SELECT pg_current_wal_lsn()::text", "postgres")
        deadline = time.monotonic() + START_WAIT
        while time.monotonic() < deadline:
            done = self.sql(
                self.standby_port,
                f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn",
                "postgres",
            )
            if done:
                return
            time.sleep(0.05)
        raise RuntimeError(f"the standby did not replay {target}")

    def close(self) -> None:
        for name in ("standby", "primary"):
            with contextlib.suppress(Exception):
                self.stop(name)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_pair() -> StreamingPair:
    """initdb a primary, start it, create the database, base-backup a standby and start it."""
    bindir = server_bindir()
    directory = Path(tempfile.mkdtemp(prefix="caseledger-pair-"))
    user = None
    if os.geteuid() == 0:
        user = "postgres"
        try:
            owner = pwd.getpwnam(user)
        except KeyError:
            shutil.rmtree(directory, ignore_errors=True)
            raise RuntimeError(
                "PostgreSQL refuses to run as root and there is no 'postgres' user to run the "
                "test servers as (the server package creates it)"
            ) from None
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    pair = StreamingPair(directory, bindir, free_port(), free_port(), user)
    try:
        pair.run(
            "initdb",
            "-D",
            str(directory / "primary"),
            "-U",
            "root",
            "--auth=trust",
            "-N",
            "--no-instructions",
        )
        pair.start("primary", pair.primary_port)
        pair.sql(pair.primary_port, f"CREATE DATABASE {DATABASE}", "postgres")
        pair.run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(pair.primary_port),
            "-U",
            "root",
            "-D",
            str(directory / "standby"),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        )
        pair.start_standby()
        pair.wait_replayed()
    except BaseException:
        pair.close()
        raise
    return pair
