"""Online, consistent backups of the ledger's database, and restoring one over it.

Layer: ledger storage (database edge: SQLite, PostgreSQL client tools, files).

What a backup holds: the ledger's database — events, chain entries, the anchoring tree and its
origin, the read models that live in it, HTTP idempotency answers — but never credentials or
personal-data keys: the API tokens (``api_tokens``) and the subject keys (``subject_keys`` on
PostgreSQL; on SQLite they are in their own file beside the ledger) stay where they are, so a
restore can neither bring a revoked token back nor undo an erasure (DESIGN invariant 5:
erasure destroys the data key). Uploaded materials are content-addressed and only grow: on
SQLite they are files beside the ledger (copy the directory), on PostgreSQL rows in the dump.

- **SQLite** (``sqlite-backup-api``): the sqlite3 online backup API copies the database page by
  page into a new file while writers go on (a consistent snapshot); the tokens are removed
  from the copy, which is then a plain SQLite database anyone can open. The head it holds is
  read from the copy itself.
- **PostgreSQL** (``pg_dump``): a ``REPEATABLE READ`` transaction exports its snapshot
  (``pg_export_snapshot()``) and reads the chain head in it; ``pg_dump -Fc --snapshot`` then
  dumps the tables of the schema in use from that very snapshot, so the head is exact. The
  file is one header line ``caseledger-backup/v1 <JSON>`` (method, schema, log identity,
  head) followed by the custom-format dump. ``pg_dump``, ``pg_restore`` come from the
  PostgreSQL client package (``pg_dump --version`` is checked first).

Restoring (:func:`restore_backup`) refuses a backup of another ledger (another genesis) and a
PostgreSQL dump of another schema; on SQLite it copies the backup into the live file with the
same backup API (keeping the live tokens); on PostgreSQL ``pg_restore --clean --if-exists
--single-transaction`` replaces the dumped tables in one transaction. Deciding what the lost
history means is not this module's job (``caseledger rollback accept``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ledger.chain.recorders.base import CHAIN_TABLE
from ledger.errors import LedgerError
from ledger.storage.urls import StorageURL

__all__ = [
    "BACKUP_HEADER",
    "EXCLUDED_TABLES",
    "BackupError",
    "BackupInfo",
    "inspect_backup",
    "restore_backup",
    "take_backup",
]

BACKUP_HEADER: Final = "caseledger-backup/v1"
EXCLUDED_TABLES: Final = ("api_tokens", "subject_keys")
MAX_HEADER_BYTES: Final = 4096
TOOL_TIMEOUT_SECONDS: Final = 3600
SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_SCHEMA_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class BackupError(LedgerError):
    """A backup could not be taken, read or restored (the message says which step)."""


@dataclass(frozen=True)
class BackupInfo:
    """A backup file: how it was taken, the ledger it belongs to and the head it holds."""

    path: Path
    method: str  # "sqlite-backup-api" | "pg_dump"
    log: bytes  # genesis entry hash
    head_sequence: int
    head_hash: bytes
    sha256: bytes
    size: int
    schema: str = ""


def _sha256(path: Path) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- SQLite ----------------------------------------------------------------------------------


def _sqlite_head(conn: sqlite3.Connection) -> tuple[bytes, int, bytes]:
    """(genesis hash, head sequence, head hash) of a SQLite ledger; BackupError if none."""
    try:
        genesis = conn.execute(
            f"SELECT entry_hash FROM {CHAIN_TABLE} WHERE sequence = 1"
        ).fetchone()
        head = conn.execute(
            f"SELECT sequence, entry_hash FROM {CHAIN_TABLE} ORDER BY sequence DESC LIMIT 1"
        ).fetchone()
    except sqlite3.Error as exc:
        raise BackupError(f"not a caseledger database ({exc})") from exc
    if genesis is None or head is None:
        raise BackupError("the database holds no chain (no genesis entry)")
    return bytes(genesis[0]), int(head[0]), bytes(head[1])


def _table_exists(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return bool(row and row[0])


def _backup_sqlite(storage: StorageURL, out: Path) -> BackupInfo:
    if not Path(storage.path).exists():
        raise BackupError(f"--db: no ledger at {storage.path}")
    tmp = out.with_name(out.name + ".partial")
    tmp.unlink(missing_ok=True)
    source = sqlite3.connect(storage.path, timeout=60)
    try:
        target = sqlite3.connect(tmp)
        try:
            source.backup(target)  # online: a consistent snapshot, writers go on
            for table in EXCLUDED_TABLES:
                if _table_exists(target, table):
                    target.execute(f'DELETE FROM "{table}"')
            target.commit()
            target.execute("VACUUM")  # no page of a deleted token row stays in the file
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            log, sequence, head_hash = _sqlite_head(target)
        finally:
            target.close()
    except sqlite3.Error as exc:
        tmp.unlink(missing_ok=True)
        raise BackupError(f"SQLite backup of {storage.path}: {exc}") from exc
    finally:
        source.close()
    _fsync(tmp)
    os.replace(tmp, out)
    return BackupInfo(
        out, "sqlite-backup-api", log, sequence, head_hash, _sha256(out), out.stat().st_size
    )


def _inspect_sqlite(path: Path) -> BackupInfo:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"{path}: cannot open ({exc})") from exc
    try:
        (check,) = conn.execute("PRAGMA quick_check").fetchone()
        if check != "ok":
            raise BackupError(f"{path}: damaged SQLite file ({check})")
        log, sequence, head_hash = _sqlite_head(conn)
    except sqlite3.Error as exc:
        raise BackupError(f"{path}: {exc}") from exc
    finally:
        conn.close()
    return BackupInfo(
        path, "sqlite-backup-api", log, sequence, head_hash, _sha256(path), path.stat().st_size
    )


def _restore_sqlite(storage: StorageURL, info: BackupInfo) -> None:
    live_path = Path(storage.path)
    live_path.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{info.path}?mode=ro", uri=True)
    live = sqlite3.connect(live_path, timeout=60)
    try:
        live_log = None
        if _table_exists(live, CHAIN_TABLE):
            row = live.execute(
                f"SELECT entry_hash FROM {CHAIN_TABLE} WHERE sequence = 1"
            ).fetchone()
            live_log = None if row is None else bytes(row[0])
        _same_ledger(live_log, info)
        token_sql, tokens = None, []
        if _table_exists(live, "api_tokens"):  # credentials stay as they are now
            token_sql = live.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'api_tokens'"
            ).fetchone()[0]
            tokens = live.execute("SELECT * FROM api_tokens").fetchall()
        source.backup(live)  # page by page into the live file, under its write lock
        if token_sql is not None:
            if not _table_exists(live, "api_tokens"):
                live.execute(token_sql)
            live.execute("DELETE FROM api_tokens")
            if tokens:
                marks = ",".join("?" * len(tokens[0]))
                live.executemany(f"INSERT INTO api_tokens VALUES ({marks})", tokens)
            live.commit()
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite restore into {storage.path}: {exc}") from exc
    finally:
        live.close()
        source.close()


def _same_ledger(live_log: bytes | None, info: BackupInfo) -> None:
    if live_log is not None and live_log != info.log:
        raise BackupError(
            f"{info.path} is a backup of another ledger (genesis {info.log.hex()[:16]}…) than "
            f"the one at --db (genesis {live_log.hex()[:16]}…); nothing was restored"
        )


# --- PostgreSQL ------------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (PostgreSQL client tools are needed)")
    try:
        version = subprocess.run(
            [found, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise BackupError(f"{name} --version failed: {exc}") from exc
    if not version:
        raise BackupError(f"{name} --version printed nothing")
    return found


def _pg_env(storage: StorageURL) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(
        PGHOST=storage.host,
        PGPORT=str(storage.port),
        PGUSER=storage.user,
        PGDATABASE=storage.dbname,
    )
    if storage.password:
        env["PGPASSWORD"] = storage.password
    return env


def _schema(storage: StorageURL) -> str:
    schema = storage.schema or "public"
    if not _SCHEMA_NAME.fullmatch(schema):
        raise BackupError(f"--db: schema {schema!r} is not a plain lower-case name")
    return schema


def _pg_head(cursor: Any, schema: str) -> tuple[bytes, int, bytes]:
    cursor.execute(f'SELECT entry_hash FROM "{schema}".{CHAIN_TABLE} WHERE sequence = 1')
    genesis = cursor.fetchone()
    cursor.execute(
        f'SELECT sequence, entry_hash FROM "{schema}".{CHAIN_TABLE} ORDER BY sequence DESC LIMIT 1'
    )
    head = cursor.fetchone()
    if genesis is None or head is None:
        raise BackupError("the database holds no chain (no genesis entry)")
    return bytes(genesis[0]), int(head[0]), bytes(head[1])


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=TOOL_TIMEOUT_SECONDS
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BackupError(f"{what}: {exc}") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(f"{what} exited {done.returncode}: {last[:500]}")


def _backup_postgres(storage: StorageURL, out: Path) -> BackupInfo:
    import psycopg

    pg_dump = _tool("pg_dump")
    schema = _schema(storage)
    tmp_dump = out.with_name(out.name + ".dump.partial")
    try:
        with psycopg.connect(storage.conninfo) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.cursor() as cur:
                cur.execute("SELECT pg_export_snapshot()")
                row = cur.fetchone()
                assert row is not None
                snapshot = str(row[0])
                log, sequence, head_hash = _pg_head(cur, schema)
                command = [
                    pg_dump,
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={tmp_dump}",
                    f'--table="{schema}".*',
                ]
                command += [f'--exclude-table="{schema}"."{t}"' for t in EXCLUDED_TABLES]
                _run(command, _pg_env(storage), "pg_dump")  # while the snapshot is held
    except psycopg.Error as exc:
        tmp_dump.unlink(missing_ok=True)
        raise BackupError(f"PostgreSQL backup: {exc}") from exc
    except BackupError:
        tmp_dump.unlink(missing_ok=True)
        raise
    header = {
        "method": "pg_dump",
        "schema": schema,
        "log": log.hex(),
        "sequence": sequence,
        "entry_hash": head_hash.hex(),
    }
    tmp = out.with_name(out.name + ".partial")
    with open(tmp, "wb") as fh:
        fh.write(f"{BACKUP_HEADER} {json.dumps(header, sort_keys=True)}\n".encode())
        with open(tmp_dump, "rb") as dump:
            shutil.copyfileobj(dump, fh, 1 << 20)
        fh.flush()
        os.fsync(fh.fileno())
    tmp_dump.unlink(missing_ok=True)
    os.replace(tmp, out)
    return BackupInfo(
        out, "pg_dump", log, sequence, head_hash, _sha256(out), out.stat().st_size, schema
    )


def _read_pg_header(path: Path) -> tuple[dict[str, Any], int]:
    """The header's JSON value and the offset where the dump starts."""
    with open(path, "rb") as fh:
        line = fh.readline(MAX_HEADER_BYTES + 1)
    prefix = BACKUP_HEADER.encode() + b" "
    if not line.startswith(prefix) or not line.endswith(b"\n"):
        raise BackupError(f"{path}: neither a SQLite backup nor a {BACKUP_HEADER} file")
    try:
        header = json.loads(line[len(prefix) :])
        if not isinstance(header, dict) or header.get("method") != "pg_dump":
            raise ValueError("method")
        if not _SCHEMA_NAME.fullmatch(str(header["schema"])):
            raise ValueError("schema")
        int(header["sequence"])
        bytes.fromhex(header["log"])
        bytes.fromhex(header["entry_hash"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{path}: malformed {BACKUP_HEADER} header ({exc})") from exc
    return header, len(line)


def _inspect_postgres(path: Path) -> BackupInfo:
    header, _ = _read_pg_header(path)
    log, head_hash = bytes.fromhex(header["log"]), bytes.fromhex(header["entry_hash"])
    if len(log) != 32 or len(head_hash) != 32 or int(header["sequence"]) < 1:
        raise BackupError(f"{path}: malformed {BACKUP_HEADER} header (hashes, sequence)")
    return BackupInfo(
        path,
        "pg_dump",
        log,
        int(header["sequence"]),
        head_hash,
        _sha256(path),
        path.stat().st_size,
        str(header["schema"]),
    )


def _restore_postgres(storage: StorageURL, info: BackupInfo) -> None:
    import psycopg

    pg_restore = _tool("pg_restore")
    schema = _schema(storage)
    if info.schema != schema:
        raise BackupError(
            f"{info.path} is a dump of schema {info.schema!r}, --db names {schema!r}; "
            "nothing was restored"
        )
    try:
        with psycopg.connect(storage.conninfo) as conn, conn.cursor() as cur:
            cur.execute("SELECT to_regclass(%s)", (f'"{schema}".{CHAIN_TABLE}',))
            exists = cur.fetchone()
            if exists is not None and exists[0] is not None:
                cur.execute(f'SELECT entry_hash FROM "{schema}".{CHAIN_TABLE} WHERE sequence = 1')
                row = cur.fetchone()
                _same_ledger(None if row is None else bytes(row[0]), info)
    except psycopg.Error as exc:
        raise BackupError(f"PostgreSQL restore: {exc}") from exc
    _, offset = _read_pg_header(info.path)
    with tempfile.TemporaryDirectory(prefix="caseledger-restore-") as scratch:
        dump = Path(scratch) / "ledger.dump"
        with open(info.path, "rb") as src, open(dump, "wb") as dst:
            src.seek(offset)
            shutil.copyfileobj(src, dst, 1 << 20)
        _run(
            [
                pg_restore,
                "--clean",
                "--if-exists",
                "--single-transaction",
                "--no-owner",
                "--no-privileges",
                f"--dbname={storage.dbname}",
                str(dump),
            ],
            _pg_env(storage),
            "pg_restore",
        )


# --- the three operations ----------------------------------------------------------------------


def take_backup(storage: StorageURL, out: Path) -> BackupInfo:
    """Back the ledger at ``storage`` up into ``out`` (written whole or not at all).

    Raises :class:`BackupError` naming the failed step."""
    out = Path(out)
    if out.exists() and out.is_dir():
        raise BackupError(f"-o: {out} is a directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    if storage.is_sqlite:
        return _backup_sqlite(storage, out)
    return _backup_postgres(storage, out)


def inspect_backup(path: Path) -> BackupInfo:
    """What a backup file holds (method, ledger, head, SHA-256). Raises :class:`BackupError`."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            magic = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"{path}: {exc.strerror}") from exc
    if magic == SQLITE_MAGIC:
        return _inspect_sqlite(path)
    return _inspect_postgres(path)


def restore_backup(storage: StorageURL, path: Path) -> BackupInfo:
    """Restore the backup at ``path`` over the ledger at ``storage``; what it held.

    Precondition: a backup of the same backend. Raises :class:`BackupError` (nothing
    restored) for another ledger, another schema, another backend or a damaged file."""
    info = inspect_backup(path)
    if storage.is_sqlite != (info.method == "sqlite-backup-api"):
        raise BackupError(
            f"{path} is a {info.method} backup; --db is "
            f"{'SQLite' if storage.is_sqlite else 'PostgreSQL'}; nothing was restored"
        )
    if storage.is_sqlite:
        _restore_sqlite(storage, info)
    else:
        _restore_postgres(storage, info)
    return info
