"""The e-certificate registry (电子证照库): status of every certificate version, and wallets.

Layer: projections. RULES.md "E-certificates and seals": issue, update and revoke in step
with the paper certificate, every version and its history kept (GZ20·21); certificates
gather to their holder, who may view and verify them (GZ16·15); a using department may
dispute a certificate, the issuer answering within 3 working days (GZ20·23). This is what
a kiosk or a verifier asks about an identifier (GB/T 36904 ``1.2.156.3005.2.…``).

Status of a version: ``valid`` (the current version of a certificate not revoked),
``superseded`` (an update replaced it; still verifiable), ``revoked`` (the certificate was
revoked — every version), ``disputed`` (the valid version has an objection not yet
answered). Built from ``ledger.domain.certificates`` events only; nothing personal is stored (the
holder is the applicant's id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from ledger.domain.certificates import parse_identifier
from projections.common import Topics, id_text, iso_date, read, utc_text
from projections.store import Table, Tx
from projections.view import View, on

__all__ = [
    "CertificateStatus",
    "CertificatesView",
    "VersionEntry",
    "WalletEntry",
    "status",
    "wallet",
]

CERTIFICATES = Table(
    "view_cert_certificates",
    (
        ("certificate_id", "TEXT"),
        ("identifier", "TEXT"),
        ("type_code", "TEXT"),
        ("issuer_code", "TEXT"),
        ("issuer_department", "TEXT"),
        ("holder_id", "TEXT"),
        ("case_serial", "TEXT"),
        ("versions", "BIGINT"),
        ("issued_at", "TEXT"),
        ("revoked_at", "TEXT"),
        ("revocation_reason", "TEXT"),
    ),
    ("certificate_id",),
    (("holder_id",),),
)
VERSIONS = Table(
    "view_cert_versions",
    (
        ("identifier", "TEXT"),
        ("certificate_id", "TEXT"),
        ("number", "BIGINT"),
        ("issued_at", "TEXT"),
        ("reason", "TEXT"),
    ),
    ("identifier",),
    (("certificate_id", "number"),),
)
DISPUTES = Table(
    "view_cert_disputes",
    (
        ("dispute_id", "TEXT"),
        ("certificate_id", "TEXT"),
        ("identifier", "TEXT"),
        ("using_department", "TEXT"),
        ("raised_at", "TEXT"),
        ("due", "TEXT"),
        ("extended", "BIGINT"),
        ("finding", "TEXT"),
        ("answered_at", "TEXT"),
        ("correction_identifier", "TEXT"),
    ),
    ("dispute_id",),
    (("identifier",),),
)
WALLETS = Table("view_cert_wallets", (("wallet_id", "TEXT"), ("holder_id", "TEXT")), ("wallet_id",))
HOLDINGS = Table(
    "view_cert_holdings",
    (
        ("holder_id", "TEXT"),
        ("certificate_id", "TEXT"),
        ("type_code", "TEXT"),
        ("gathered_at", "TEXT"),
    ),
    ("holder_id", "certificate_id"),
)

VALID: Final = "valid"
SUPERSEDED: Final = "superseded"
REVOKED: Final = "revoked"
DISPUTED: Final = "disputed"


@dataclass(frozen=True)
class VersionEntry:
    identifier: str
    number: int
    status: str
    issued_at: str
    reason: str


@dataclass(frozen=True)
class CertificateStatus:
    """What the registry says about one identifier, with the certificate's history."""

    identifier: str
    version: int
    status: str
    current_identifier: str
    type_code: str
    issuer_department: str
    case_serial: str
    revoked_at: str | None
    revocation_reason: str
    open_disputes: int
    versions: tuple[VersionEntry, ...]


@dataclass(frozen=True)
class WalletEntry:
    """One certificate in a holder's wallet (证照汇集, GZ16·15) with its current status."""

    certificate_id: str
    identifier: str
    type_code: str
    issuer_department: str
    status: str
    versions: int
    issued_at: str
    gathered_at: str


class CertificatesView(View):
    """Certificates, versions, disputes and wallets."""

    name = "certificates"
    tables = (CERTIFICATES, VERSIONS, DISPUTES, WALLETS, HOLDINGS)

    @on(Topics.CERT_ISSUED)
    def issued(self, tx: Tx, e: Any) -> None:
        certificate = id_text(e.originator_id)
        tx.execute(
            "INSERT INTO view_cert_certificates VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, NULL, '')",
            (
                certificate,
                e.identifier,
                e.type_code,
                e.issuer_code,
                e.issuer_department,
                str(e.holder),
                e.case_serial,
                utc_text(e.issued_at),
            ),
        )
        tx.execute(
            "INSERT INTO view_cert_versions VALUES (?, ?, 1, ?, '')",
            (e.identifier, certificate, utc_text(e.issued_at)),
        )

    @on(Topics.CERT_UPDATED)
    def updated(self, tx: Tx, e: Any) -> None:
        certificate = id_text(e.originator_id)
        tx.execute(
            "UPDATE view_cert_certificates SET identifier = ?, versions = ? "
            "WHERE certificate_id = ?",
            (e.identifier, int(e.number), certificate),
        )
        tx.execute(
            "INSERT INTO view_cert_versions VALUES (?, ?, ?, ?, ?)",
            (e.identifier, certificate, int(e.number), utc_text(e.updated_at), e.reason),
        )

    @on(Topics.CERT_REVOKED)
    def revoked(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_cert_certificates SET revoked_at = ?, revocation_reason = ? "
            "WHERE certificate_id = ?",
            (utc_text(e.revoked_at), e.reason, id_text(e.originator_id)),
        )

    @on(Topics.DISPUTE_RAISED)
    def dispute_raised(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "INSERT INTO view_cert_disputes VALUES (?, ?, ?, ?, ?, ?, 0, NULL, NULL, '')",
            (
                id_text(e.originator_id),
                str(e.certificate_id),
                e.identifier,
                e.using_department,
                utc_text(e.raised_at),
                iso_date(e.due),
            ),
        )

    @on(Topics.DISPUTE_EXTENDED)
    def dispute_extended(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_cert_disputes SET due = ?, extended = 1 WHERE dispute_id = ?",
            (iso_date(e.due), id_text(e.originator_id)),
        )

    @on(Topics.DISPUTE_ANSWERED)
    def dispute_answered(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_cert_disputes SET finding = ?, answered_at = ?, "
            "correction_identifier = ? WHERE dispute_id = ?",
            (e.finding, utc_text(e.answered_at), e.correction_identifier, id_text(e.originator_id)),
        )

    @on(Topics.WALLET_OPENED)
    def wallet_opened(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "INSERT INTO view_cert_wallets VALUES (?, ?)", (id_text(e.originator_id), str(e.holder))
        )

    @on(Topics.WALLET_GATHERED)
    def gathered(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "INSERT INTO view_cert_holdings SELECT holder_id, ?, ?, ? FROM view_cert_wallets "
            "WHERE wallet_id = ?",
            (str(e.certificate_id), e.type_code, utc_text(e.timestamp), id_text(e.originator_id)),
        )


def _status(number: int, versions: int, revoked: bool, disputed: bool) -> str:
    if revoked:
        return REVOKED
    if number < versions:
        return SUPERSEDED
    return DISPUTED if disputed else VALID


def status(view: CertificatesView, identifier: str) -> CertificateStatus | None:
    """The status of the version ``identifier`` names, or ``None`` when never issued.

    Raises :class:`~ledger.domain.rules.InvalidCertificate` for a malformed identifier or a wrong
    check character (checked before any look-up)."""
    text = str(parse_identifier(identifier))
    rows = read(
        view,
        "SELECT v.certificate_id, v.number, c.identifier, c.type_code, c.issuer_department, "
        "c.case_serial, c.versions, c.revoked_at, c.revocation_reason "
        "FROM view_cert_versions v JOIN view_cert_certificates c "
        "ON c.certificate_id = v.certificate_id WHERE v.identifier = ?",
        (text,),
    )
    if not rows:
        return None
    certificate, number, current, type_code, issuer, case_serial, count, revoked_at, why = rows[0]
    disputed = {
        r[0]
        for r in read(
            view,
            "SELECT identifier FROM view_cert_disputes WHERE certificate_id = ? "
            "AND finding IS NULL",
            (certificate,),
        )
    }
    history = tuple(
        VersionEntry(
            r[0],
            int(r[1]),
            _status(int(r[1]), int(count), revoked_at is not None, r[0] in disputed),
            r[2],
            r[3],
        )
        for r in read(
            view,
            "SELECT identifier, number, issued_at, reason FROM view_cert_versions "
            "WHERE certificate_id = ? ORDER BY number",
            (certificate,),
        )
    )
    return CertificateStatus(
        identifier=text,
        version=int(number),
        status=_status(int(number), int(count), revoked_at is not None, text in disputed),
        current_identifier=current,
        type_code=type_code,
        issuer_department=issuer,
        case_serial=case_serial,
        revoked_at=revoked_at,
        revocation_reason=why,
        open_disputes=len(disputed),
        versions=history,
    )


def wallet(view: CertificatesView, holder_id: UUID) -> tuple[WalletEntry, ...]:
    """The certificates gathered to ``holder_id``, in the order gathered, with status."""
    rows = read(
        view,
        "SELECT c.certificate_id, c.identifier, h.type_code, c.issuer_department, c.versions, "
        "c.revoked_at, c.issued_at, h.gathered_at, "
        "(SELECT COUNT(*) FROM view_cert_disputes d WHERE d.identifier = c.identifier "
        "AND d.finding IS NULL) "
        "FROM view_cert_holdings h JOIN view_cert_certificates c "
        "ON c.certificate_id = h.certificate_id WHERE h.holder_id = ? "
        "ORDER BY h.gathered_at, c.identifier",
        (str(holder_id),),
    )
    return tuple(
        WalletEntry(
            certificate_id=r[0],
            identifier=r[1],
            type_code=r[2],
            issuer_department=r[3],
            status=_status(int(r[4]), int(r[4]), r[5] is not None, int(r[8]) > 0),
            versions=int(r[4]),
            issued_at=r[6],
            gathered_at=r[7],
        )
        for r in rows
    )
