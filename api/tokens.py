"""Bearer tokens of API callers: created once, stored only as a hash, checked in constant time.

Layer: api (edge: database). A token reads ``cl_<id>_<secret>``: the id finds the
row, the secret's SHA-256 is compared with ``hmac.compare_digest``. Tokens live
in the ledger's database in an unchained table (they are credentials, not facts).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from api import sidedb
from ledger.errors import ConfigurationError, LedgerError
from ledger.storage.urls import StorageURL

CACHE_SECONDS = 10.0
TOKEN_PATTERN = re.compile(r"cl_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
DEPARTMENT_PATTERN = re.compile(r"[0-9A-Z-]{2,32}")
STAFF_CODE_PATTERN = re.compile(r"[0-9A-Za-z-]{2,32}")
OFFICIAL_ROLES = frozenset({"department", "supervisor"})
"""Token roles that may be bound to an official (whose key then signs the holder's acts): a
department's official, or an official of the supervision office (supervisors are individuals
too, issue #16)."""


class Role(StrEnum):
    """Who calls the API (least privilege per role and department, GZ20·25)."""

    ADMIN = "admin"
    DEPARTMENT = "department"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ARCHIVIST = "archivist"
    KIOSK = "kiosk"


class TokenError(LedgerError):
    """A token could not be created or is not valid."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    token_id: str
    role: Role
    department: str
    name: str
    official: str = ""
    """The staff code of the official the token is issued to ("" for a system token)."""


class TokenStore:
    """The ``api_tokens`` table on SQLite or PostgreSQL."""

    def __init__(self, storage: StorageURL):
        self.storage = storage
        self._cache: dict[bytes, tuple[Principal, float]] = {}

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        with sidedb.cursor(self.storage) as c:
            yield c

    def migrate(self) -> None:
        with self._cursor() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS api_tokens (token_id TEXT PRIMARY KEY, "
                "secret_hash TEXT NOT NULL, role TEXT NOT NULL, department TEXT NOT NULL, "
                "name TEXT NOT NULL, created_at BIGINT NOT NULL, revoked_at BIGINT)"
            )
        self._add_official_column()

    def _add_official_column(self) -> None:
        """Tables made before tokens were issued to officials get the column (empty)."""
        with self._cursor() as c:
            if self.storage.is_sqlite:
                c.execute("PRAGMA table_info(api_tokens)")
                present = any(row[1] == "official" for row in c.fetchall())
            else:  # look first: ALTER TABLE would lock the table on every start
                c.execute(
                    "SELECT 1 FROM information_schema.columns WHERE table_schema = "
                    "current_schema() AND table_name = 'api_tokens' AND column_name = 'official'"
                )
                present = c.fetchone() is not None
            if not present:
                c.execute("ALTER TABLE api_tokens ADD COLUMN official TEXT NOT NULL DEFAULT ''")

    def create(
        self,
        role: str,
        department: str = "",
        name: str = "",
        official: str = "",
        *,
        system: bool = False,
    ) -> str:
        """Create a token and return it (the only time it is shown).

        A department or supervisor token is issued either to an appointed official
        (``official``: their personal key signs its acts, FZ·26) or, said explicitly with
        ``system``, to a system integrated with the platform, whose acts are signed by the
        department's seal or the office's key and attributed to no person."""
        try:
            role_ = Role(role)
        except ValueError as exc:
            allowed = ", ".join(r.value for r in Role)
            raise TokenError(f"role: {role!r} is not one of {allowed}") from exc
        if role_ in (Role.DEPARTMENT,) and not DEPARTMENT_PATTERN.fullmatch(department):
            raise TokenError("department: a department token names its department code")
        if role_ is not Role.DEPARTMENT and department:
            raise TokenError(f"department: only department tokens carry one, not {role_}")
        if official and (
            role_.value not in OFFICIAL_ROLES or not STAFF_CODE_PATTERN.fullmatch(official)
        ):
            raise TokenError(
                "official: a staff code (2–32 of 0-9, A-Z, a-z, '-'), on department or "
                "supervisor tokens only"
            )
        if role_.value in OFFICIAL_ROLES and bool(official) == system:
            raise TokenError(
                f"official: a {role_} token is issued to an appointed official (--official "
                "CODE) or, explicitly, to an integrated system (--system), not both or neither"
            )
        if system and role_.value not in OFFICIAL_ROLES:
            raise TokenError(f"system: only department and supervisor tokens, not {role_}")
        token_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        with self._cursor() as c:
            c.execute(
                sidedb.sql_text(
                    self.storage,
                    "INSERT INTO api_tokens (token_id, secret_hash, role, department, name, "
                    "created_at, revoked_at, official) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
                ),
                (
                    token_id,
                    _hash(secret),
                    role_.value,
                    department,
                    name[:200],
                    time.time_ns(),
                    official,
                ),
            )
        return f"cl_{token_id}_{secret}"

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked token; None otherwise (never says why).

        A valid token is remembered for CACHE_SECONDS (by the hash of the whole token), so
        a revocation takes effect in this process within that time.
        """
        found = self.cached(token)
        if found is not None:
            return found
        digest, now = hashlib.sha256(token.encode()).digest(), time.monotonic()
        found = self._authenticate(token)
        if found is not None:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (found, now + CACHE_SECONDS)
        return found

    def cached(self, token: str) -> Principal | None:
        """The caller of ``token`` if it was authenticated in the last :data:`CACHE_SECONDS`,
        without the database (else ``None``: ask :meth:`authenticate`)."""
        found = self._cache.get(hashlib.sha256(token.encode()).digest())
        return found[0] if found is not None and found[1] > time.monotonic() else None

    def _authenticate(self, token: str) -> Principal | None:
        match = TOKEN_PATTERN.fullmatch(token)
        if match is None:
            return None
        token_id, secret = match.groups()
        with self._cursor() as c:
            c.execute(
                sidedb.sql_text(
                    self.storage,
                    "SELECT secret_hash, role, department, name, revoked_at, official "
                    "FROM api_tokens "
                    "WHERE token_id = ?",
                ),
                (token_id,),
            )
            row = c.fetchone()
        expected = row[0] if row is not None else _hash("absent")
        ok = hmac.compare_digest(expected.encode(), _hash(secret).encode())
        if row is None or not ok or row[4] is not None:
            return None
        return Principal(token_id, Role(row[1]), row[2], row[3], row[5] or "")

    def revoke(self, token_id: str) -> bool:
        self._cache.clear()
        with self._cursor() as c:
            c.execute(
                sidedb.sql_text(
                    self.storage,
                    "UPDATE api_tokens SET revoked_at = ? "
                    "WHERE token_id = ? AND revoked_at IS NULL",
                ),
                (time.time_ns(), token_id),
            )
            return bool(c.rowcount)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_store(storage: StorageURL) -> TokenStore:
    if not storage.is_sqlite and not storage.host:
        raise ConfigurationError("--db: no database for tokens")
    return TokenStore(storage)
