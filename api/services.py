"""Wiring of the application services on a runtime: vault, material store, case service.

Layer: api (composition). Called by the CLI, the HTTP API and the demo after
``open_runtime``; nothing here runs at import time. Where things live:

- personal-data keys (DESIGN invariant 5) outside the chain: on SQLite in a file next to the
  ledger (``<ledger>.subject-keys.sqlite3``, so a copy of the ledger carries no data keys and
  erasure never waits on the ledger's write lock); on PostgreSQL in the ledger's own
  database and schema (table ``subject_keys``);
- the key-encryption key and the blind-index key: sealed secrets of the keystore;
- materials (content-addressed): a directory next to the SQLite file, or the
  ``material_blobs`` table on PostgreSQL;
- the department seal signers: the keystore's current key of actor ``dept:<code>``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.bootstrap import Runtime
from ledger.domain.signer import Signer
from ledger.services.cases import BlacklistCheck, CaseService, Clock, never_blacklisted
from ledger.storage.materials import (
    MATERIAL_BLOBS_TABLE,
    BlobStore,
    DirectoryBlobStore,
    PostgresBlobStore,
)
from ledger.storage.privacy import PersonalDataVault
from ledger.storage.subject_keys import (
    PostgresSubjectKeyStore,
    SQLiteSubjectKeyStore,
    SubjectKeyStore,
)
from ledger.storage.urls import StorageURL

if TYPE_CHECKING:
    from anchors.tree import TreeStore
    from anchors.worker import AnchoringWorker
    from kiosk.printing import FontCache
    from kiosk.service import KioskService
    from kiosk.trust import TrustPolicy
    from projections.archive.service import ArchiveService
    from projections.progress import IdentityPort

__all__ = [
    "INDEX_KEY_SECRET",
    "KEK_SECRET",
    "Services",
    "SystemClock",
    "build_archive_service",
    "build_kiosk_service",
    "build_services",
    "sqlite_side_paths",
]

KEK_SECRET = "personal_data_kek"
"""Keystore secret that wraps every applicant's data key."""
INDEX_KEY_SECRET = "personal_data_index_key"
"""Keystore secret of the blind index (HMAC) over credentials."""


class SystemClock:
    """The wall clock, in UTC: the one clock read of a running process."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Services:
    """The application services of one process."""

    vault: PersonalDataVault
    blobs: BlobStore
    cases: CaseService


def sqlite_side_paths(storage: StorageURL) -> tuple[Path, Path]:
    """Where a SQLite ledger keeps its subject keys and materials: (key file, blob directory)."""
    ledger = Path(storage.path)
    return (
        ledger.with_name(ledger.name + ".subject-keys.sqlite3"),
        ledger.with_name(ledger.name + ".materials"),
    )


def _check_materials_at_write(recorder: Any, schema: str) -> bool:
    """Have the ledger's PostgreSQL recorder look a submission's materials up in its write
    transaction, in the material store's table (same database and schema): a round trip
    fewer per submission. False for a recorder that cannot."""
    check = getattr(recorder, "check_materials_in", None)
    if check is None:
        return False
    check(schema, MATERIAL_BLOBS_TABLE)
    return True


def build_services(
    runtime: Runtime,
    *,
    clock: Clock | None = None,
    is_blacklisted: BlacklistCheck = never_blacklisted,
) -> Services:
    """Build the vault, the material store and the case service on ``runtime``.

    Creates the subject-key and material tables if missing (idempotent). Raises
    ``KeystoreError`` if the keystore cannot unseal its secrets and ``SubjectKeyStoreError`` /
    ``MaterialStoreError`` if the stores cannot be opened."""
    storage = runtime.settings.storage
    keys: SubjectKeyStore
    blobs: BlobStore
    at_write = False
    if storage.is_sqlite:
        key_file, blob_dir = sqlite_side_paths(storage)
        keys = SQLiteSubjectKeyStore(key_file)
        blobs = DirectoryBlobStore(blob_dir)
    else:
        schema = storage.schema or "public"
        keys = PostgresSubjectKeyStore(storage.conninfo, schema)
        pg_blobs = PostgresBlobStore(storage.conninfo, schema)
        pg_blobs.migrate()
        blobs = pg_blobs
        at_write = _check_materials_at_write(runtime.ledger.recorder, schema)
    keys.migrate()
    vault = PersonalDataVault(
        keys,
        kek=runtime.keystore.secret(KEK_SECRET),
        index_key=runtime.keystore.secret(INDEX_KEY_SECRET),
    )

    def seals(department: str) -> Signer:
        return runtime.keystore.current_signer(f"dept:{department}")

    cases = CaseService(
        runtime.ledger,
        clock=clock or SystemClock(),
        seals=seals,
        vault=vault,
        blobs=blobs,
        blobs_at_write=at_write,
        is_blacklisted=is_blacklisted,
        serial_floors=runtime.guard,
    )
    return Services(vault=vault, blobs=blobs, cases=cases)


def build_archive_service(runtime: Runtime, worker: AnchoringWorker) -> ArchiveService:
    """The archive service on ``runtime``'s case service, material store and vault; packages
    are anchored through ``worker`` (the CLI's and the HTTP API's, each with its own node)."""
    from projections.archive.service import ArchiveService, WorkerAnchoring

    services = build_services(runtime)
    return ArchiveService(
        runtime.ledger,
        services.cases,
        services.blobs,
        WorkerAnchoring(worker),
        clock=services.cases.clock,
        vault=services.vault,
    )


def build_kiosk_service(
    runtime: Runtime,
    policy: TrustPolicy,
    store: TreeStore,
    *,
    fonts: FontCache | None = None,
    identity: IdentityPort | None = None,
) -> KioskService:
    """The kiosk service on ``runtime``'s ledger and the tree ``store``, signing claims with the
    platform key (the CLI's, the demo's and the HTTP API's); a holder is masked through the
    vault unless ``identity`` is given (the HTTP API shares its cached masker)."""
    from anchors.tree import PersistentTree
    from kiosk.printing import FontCache
    from kiosk.service import KioskService
    from projections.progress import VaultMasker

    if identity is None:
        identity = VaultMasker(runtime.ledger.repository.get, build_services(runtime).vault)
    return KioskService(
        runtime.ledger,
        policy,
        PersistentTree(store),
        runtime.platform_signer(),
        fonts or FontCache.default(),
        identity=identity,
    )
