"""Settings of a caseledger process, read once from flags and the environment.

Layer: api (edge). Refuses default secrets: the keystore passphrase must be
given (``CASELEDGER_KEY_PASSPHRASE`` or a passphrase file); only ``demo``
generates one for its own throw-away keystore. ``serve`` may name a read side
(``--read-db`` or ``CASELEDGER_READ_DB``): a PostgreSQL hot standby of the ledger's
database that answers the read routes (``api.http.read_side``), and a city (``--city`` or
``CASELEDGER_CITY``) whose rules the server's blacklist applies where the seeds differ
(``ledger.domain.city_rules``; none: the stricter defaults).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ledger.errors import ConfigurationError
from ledger.storage.keystore import MIN_PASSPHRASE, PASSPHRASE_ENV
from ledger.storage.urls import StorageURL, parse_storage_url

KEYSTORE_ENV = "CASELEDGER_KEYSTORE"
READ_DB_ENV = "CASELEDGER_READ_DB"
CITY_ENV = "CASELEDGER_CITY"


@dataclass(frozen=True)
class Settings:
    storage: StorageURL
    keystore_dir: Path
    passphrase: str = field(repr=False, default="")
    read_storage: StorageURL | None = None
    """A hot standby of ``storage`` for the read routes (None: they read ``storage``)."""
    city: str = ""
    """The city whose per-city rules the server applies (a preset name of
    ``ledger.domain.city_rules.CITY_RULES``); empty: the stricter defaults."""

    def require_passphrase(self) -> str:
        if len(self.passphrase) < MIN_PASSPHRASE:
            raise ConfigurationError(
                f"keystore passphrase: set {PASSPHRASE_ENV} (at least {MIN_PASSPHRASE} characters) "
                "or pass --passphrase-file"
            )
        return self.passphrase


def default_keystore_dir(storage: StorageURL) -> Path:
    if storage.is_sqlite:
        return Path(storage.path).parent / "keys"
    return Path("var") / "keys"


def load_settings(
    db: str | None = None,
    keystore: str | None = None,
    passphrase_file: str | None = None,
    read_db: str | None = None,
    city: str | None = None,
) -> Settings:
    storage = parse_storage_url(db)
    read_storage = read_side_url(storage, (read_db or "").strip())
    directory = Path(keystore or os.environ.get(KEYSTORE_ENV) or default_keystore_dir(storage))
    passphrase = os.environ.get(PASSPHRASE_ENV, "")
    if passphrase_file:
        try:
            passphrase = Path(passphrase_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(f"--passphrase-file: {exc}") from exc
    return Settings(
        storage=storage,
        keystore_dir=directory,
        passphrase=passphrase,
        read_storage=read_storage,
        city=city_setting(city if city is not None else os.environ.get(CITY_ENV, "")),
    )


def city_setting(name: str) -> str:
    """``name`` checked against the presets of ``ledger.domain.city_rules`` (a typo must not
    silently fall back to other rules); empty stays empty (the stricter defaults)."""
    from ledger.domain.city_rules import CITY_RULES

    name = name.strip()
    if name and name not in CITY_RULES:
        known = ", ".join(CITY_RULES)
        raise ConfigurationError(f"--city: {name!r} has no rules preset (one of {known})")
    return name


def read_side_url(storage: StorageURL, read_db: str) -> StorageURL | None:
    """The read side's URL (None when not given): PostgreSQL, beside a PostgreSQL ledger, in
    the same schema (a physical standby holds the primary's schemas as they are)."""
    if not read_db:
        return None
    read = parse_storage_url(read_db)
    if storage.is_sqlite or read.is_sqlite:
        raise ConfigurationError(
            "--read-db: a read side is a PostgreSQL hot standby of a PostgreSQL ledger "
            "(both --db and --read-db postgresql://…)"
        )
    if (read.schema or "public") != (storage.schema or "public"):
        raise ConfigurationError(
            f"--read-db: schema {read.schema or 'public'!r} is not the ledger's "
            f"{storage.schema or 'public'!r} (a standby holds the same schemas)"
        )
    return read
