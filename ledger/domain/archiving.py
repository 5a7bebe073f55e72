"""Archive transfer (归档移交): the record that a closed case's package was built and handed over.

Layer: domain (standard library, ``eventsourcing.domain`` and ledger domain modules). RULES.md
"Archiving": after completion the platform archives the whole case file (NH·22, FZ·21); under
single-set archiving the electronic package is the only original (GZ20·24), so handing it over
is itself a fact of the ledger: one :class:`ArchiveRecord` per case (found by its serial
number) whose ``Transferred`` events keep the package's payload digest (SHA-512 of the BagIt
payload manifest, RFC 8493 §2.1.3), who transferred it and when, how many events of the case
the package holds and up to which version, the retention code (保管期限, DA/T 70-2018) and the
anchored checkpoint size the package's proofs use. Like every event it is signed by the actor
that caused it (the platform key for automatic archiving, or the case department's key) and
anchored with the rest of the chain.

A case can be archived only once it has ended (办结 / 不予受理 / 退件 / 撤回): an open case
raises :class:`CaseNotArchivable` (NH·22, FZ·21, GZ20·24). A package rebuilt from the same
ledger state has the same payload digest; transferring that same digest again records nothing
(:meth:`ArchiveRecord.already_holds`), and a new digest (e.g. a certificate updated after the
first transfer, GZ20·21) is recorded as a further transfer.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, fields
from typing import Any, Final
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain.keyed import NaturalKey
from ledger.domain.rules import CaseNotArchivable, InvalidTransfer
from ledger.domain.topics import keep_topics

__all__ = [
    "ARCHIVE_NAMESPACE",
    "ARCHIVE_RULE",
    "RETENTION_CODES",
    "ArchiveRecord",
    "CaseNotArchivable",
    "InvalidTransfer",
    "Transfer",
    "check_archivable",
]

ARCHIVE_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/archive")
ARCHIVE_RULE: Final = "NH·22, FZ·21, GZ20·24"
RETENTION_CODES: Final = frozenset({"Y", "D30", "D10"})
"""保管期限: permanent, 30 years, 10 years (RULES.md "Archiving")."""
DIGEST_SIZE: Final = 64
MAX_NAME: Final = 200
TERMINAL_STATES: Final = frozenset({"closed", "not_accepted", "returned", "withdrawn"})
ARCHIVER_PATTERN: Final = re.compile(r"[^\x00-\x1f\x7f]{1,200}")


def check_archivable(serial: str, state: str) -> None:
    """Raise :class:`CaseNotArchivable` unless the case in ``state`` has ended."""
    if state not in TERMINAL_STATES:
        raise CaseNotArchivable(
            f"case {serial} is {state}: only an ended case (closed, not accepted, returned or "
            "withdrawn) is archived"
        )


@dataclass(frozen=True)
class Transfer:
    """One hand-over of a package: what the ``Transferred`` event records."""

    payload_digest: bytes
    event_count: int
    last_version: int
    anchor_size: int
    retention: str
    archivist: str
    transferred_at: dt.datetime

    def __post_init__(self) -> None:
        if not isinstance(self.payload_digest, bytes) or len(self.payload_digest) != DIGEST_SIZE:
            raise InvalidTransfer("payload_digest", f"must be the {DIGEST_SIZE}-byte SHA-512")
        for name in ("event_count", "last_version", "anchor_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidTransfer(name, "must be a positive whole number")
        if self.event_count != self.last_version:
            raise InvalidTransfer("event_count", "a package holds versions 1..last_version")
        if self.retention not in RETENTION_CODES:
            raise InvalidTransfer("retention", f"must be one of {sorted(RETENTION_CODES)}")
        if not isinstance(self.archivist, str) or not ARCHIVER_PATTERN.fullmatch(self.archivist):
            raise InvalidTransfer("archivist", f"1–{MAX_NAME} printable characters")
        at = self.transferred_at
        if not isinstance(at, dt.datetime) or at.utcoffset() is None:
            raise InvalidTransfer("transferred_at", "must be a time-zone-aware datetime")
        object.__setattr__(self, "transferred_at", at.astimezone(dt.UTC))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Transfer:
        """Parse a recorded transfer; raises :class:`InvalidTransfer` naming the field."""
        names = tuple(f.name for f in fields(cls))
        if not isinstance(data, dict) or not set(names) <= set(data):
            raise InvalidTransfer("transfer", f"a map with {', '.join(names)}")
        return cls(**{name: data[name] for name in names})


class ArchiveRecord(NaturalKey, Aggregate):
    """The archive transfers of one case (归档移交记录), found by the case's serial number."""

    @staticmethod
    def create_id(serial: str) -> UUID:
        return uuid5(ARCHIVE_NAMESPACE, serial)

    @classmethod
    def open(cls, *, serial: str, case_id: UUID, case_state: str) -> ArchiveRecord:
        """Open the record of an ended case; raises :class:`CaseNotArchivable` otherwise."""
        check_archivable(serial, case_state)
        if not isinstance(case_id, UUID):
            raise InvalidTransfer("case_id", "must be the case's UUID")
        return cls(serial=serial, case_id=case_id)

    @event("Opened")
    def __init__(self, serial: str, case_id: UUID) -> None:
        self.serial = serial
        self.case_id = case_id
        self.transfers: list[dict[str, Any]] = []

    def transfer(self, transfer: Transfer, *, case_state: str) -> None:
        """Record a hand-over of a package of the ended case."""
        check_archivable(self.serial, case_state)
        if not isinstance(transfer, Transfer):
            raise InvalidTransfer("transfer", "expected a Transfer")
        if self.transfers and transfer.transferred_at < self.latest.transferred_at:
            raise InvalidTransfer("transferred_at", "is before the previous transfer")
        self._transferred(**transfer.to_dict())

    @event("Transferred")
    def _transferred(
        self,
        payload_digest: bytes,
        event_count: int,
        last_version: int,
        anchor_size: int,
        retention: str,
        archivist: str,
        transferred_at: dt.datetime,
    ) -> None:
        self.transfers.append(
            {
                "payload_digest": payload_digest,
                "event_count": event_count,
                "last_version": last_version,
                "anchor_size": anchor_size,
                "retention": retention,
                "archivist": archivist,
                "transferred_at": transferred_at,
            }
        )

    @property
    def latest(self) -> Transfer:
        """The last transfer; precondition: at least one."""
        return Transfer.from_dict(self.transfers[-1])

    def already_holds(self, payload_digest: bytes) -> bool:
        """Whether the last transfer was of this very payload (a rebuild records nothing)."""
        return bool(self.transfers) and self.transfers[-1]["payload_digest"] == payload_digest


ARCHIVE_OPENED_TOPIC: Final = "ledger.archiving:ArchiveRecord.Opened"
ARCHIVE_TRANSFERRED_TOPIC: Final = "ledger.archiving:ArchiveRecord.Transferred"


keep_topics(globals(), "ledger.archiving")
