"""Settings of a caseledger process, read once from flags and the environment.

Layer: api (edge). Refuses default secrets: the keystore passphrase must be
given (``CASELEDGER_KEY_PASSPHRASE`` or a passphrase file); only ``demo``
generates one for its own throw-away keystore.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ledger.errors import ConfigurationError
from ledger.storage.keystore import MIN_PASSPHRASE, PASSPHRASE_ENV
from ledger.storage.urls import StorageURL, parse_storage_url

KEYSTORE_ENV = "CASELEDGER_KEYSTORE"


@dataclass(frozen=True)
class Settings:
    storage: StorageURL
    keystore_dir: Path
    passphrase: str = field(repr=False, default="")

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
    db: str | None = None, keystore: str | None = None, passphrase_file: str | None = None
) -> Settings:
    storage = parse_storage_url(db)
    directory = Path(keystore or os.environ.get(KEYSTORE_ENV) or default_keystore_dir(storage))
    passphrase = os.environ.get(PASSPHRASE_ENV, "")
    if passphrase_file:
        try:
            passphrase = Path(passphrase_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(f"--passphrase-file: {exc}") from exc
    return Settings(storage=storage, keystore_dir=directory, passphrase=passphrase)
