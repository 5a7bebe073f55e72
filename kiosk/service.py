"""The kiosk's use cases: print a verified result, answer a status query, rate a visit.

Layer: kiosk application service (STYLE habit 4: the HTTP routes, the CLI and the demo call
this and hold no rule). Printing (GZ20·14, PY·23): :func:`~kiosk.verified_print.verify_for_print`
checks the result end to end; only then is the claim built, signed COSE_Sign1 by the claim key
(a platform key pinned in the trust policy), encoded in the QR and laid out as a PDF. Every
print — and every refusal — is recorded in the ledger as a ``KioskPrint`` signed by the kiosk's
own key (which kiosk, which document, the verification outcome).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from anchors.policy import TrustPolicy
from kiosk.claims import AnchorRef, ClaimKind, PrintClaim, encode_qr_text, sign_claim
from kiosk.errors import KioskError, PrintRefused
from kiosk.printing import FontCache, Printout, render_pdf
from kiosk.verified_print import VerifiedDocument, verify_for_print
from ledger.domain.cases import Case
from ledger.domain.certificates import Certificate, VersionStatus
from ledger.domain.kiosks import KioskPrint, PrintOutcome
from ledger.domain.signer import Signer, key_id_of
from ledger.errors import LedgerError
from ledger.services.application import LedgerApplication
from projections.progress import IdentityPort, MaskedIdentity

__all__ = ["STATUSES", "KioskService", "document_status"]

STATUSES: Final = ("valid", "superseded", "revoked", "unknown")
"""Answers of the status endpoint."""


class ClaimKeyNotTrusted(KioskError):
    """The key that would sign claims is not a platform key of the trust policy."""


class Clock:
    """The wall clock (UTC)."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


@dataclass
class KioskService:
    """Prints and status answers over one ledger. ``tree`` is its persistent Merkle tree;
    ``claim_signer`` the platform key that signs claims (must be pinned by ``policy``)."""

    ledger: LedgerApplication
    policy: TrustPolicy
    tree: Any
    claim_signer: Signer
    fonts: FontCache
    clock: Any = None
    identity: IdentityPort | None = None
    """Masks a certificate holder for the printout (``projections.progress.VaultMasker``);
    without one the holder is printed as withheld."""

    def __post_init__(self) -> None:
        if self.clock is None:
            self.clock = Clock()
        if bytes(self.claim_signer.public_key) not in self.policy.platform_keys:
            raise ClaimKeyNotTrusted(
                f"claim key {key_id_of(bytes(self.claim_signer.public_key)).hex()} is not a "
                "platform key of the trust policy: printouts would not verify"
            )

    def print_result(self, serial: str, *, kiosk_id: str, kiosk_signer: Signer) -> Printout:
        """Verify the result of case ``serial`` and lay out its printout; record the print.

        Raises :class:`PrintRefused` (recorded too) when a check fails; nothing is printed."""
        print_id = os.urandom(8)
        at = self.clock.now()
        try:
            document = verify_for_print(self.ledger, self.policy, self.tree, serial)
        except PrintRefused as refused:
            self._record(
                print_id, kiosk_id, kiosk_signer, serial, "unknown", serial, b"", refused, at
            )
            raise
        claim = PrintClaim(
            origin=document.anchor.origin,
            kind=document.kind,
            subject=document.subject,
            title=document.title,
            issuer=document.issuer,
            issued_at=int(document.issued_at.timestamp()),
            content_hash=document.content_hash,
            seal_key_id=document.seal_key_id,
            sequence=document.sequence,
            anchor=AnchorRef(document.anchor.checkpoint_size, document.anchor.block_height),
            printed_at=int(at.timestamp()),
            kiosk=kiosk_id,
            print_id=print_id,
        )
        text = encode_qr_text(sign_claim(claim, self.claim_signer))
        printout = render_pdf(document, claim, text, self.fonts, self._holder(document))
        kind = "e_certificate" if document.kind is ClaimKind.E_CERTIFICATE else "result_document"
        self._record(
            print_id,
            kiosk_id,
            kiosk_signer,
            serial,
            kind,
            document.subject,
            document.content_hash,
            None,
            at,
        )
        return printout

    def _holder(self, document: VerifiedDocument) -> MaskedIdentity | None:
        """The certificate holder, masked (None: not a certificate, no port, or unknown)."""
        holder = document.body.get("holder")
        if self.identity is None or document.kind is not ClaimKind.E_CERTIFICATE:
            return None
        try:
            return self.identity(holder if isinstance(holder, UUID) else UUID(str(holder)))
        except (ValueError, LedgerError):
            return None

    def _record(
        self,
        print_id: bytes,
        kiosk_id: str,
        signer: Signer,
        serial: str,
        kind: str,
        subject: str,
        content_hash: bytes,
        refused: PrintRefused | None,
        at: dt.datetime,
    ) -> None:
        record = KioskPrint.record(
            print_id=print_id,
            kiosk_id=kiosk_id,
            serial=serial[:64] or "-",
            kind=kind,
            subject=subject[:120] or "-",
            content_hash=content_hash,
            outcome=PrintOutcome.REFUSED if refused else PrintOutcome.PRINTED,
            failed_check=refused.check if refused else "",
            reason=refused.reason if refused else "",
            at=at,
        )
        self.ledger.save_signed(record, signer=signer)

    def status(self, subject: str, content_hash: bytes) -> str:
        """:func:`document_status` on this service's ledger."""
        return document_status(self.ledger, subject, content_hash)


def document_status(ledger: LedgerApplication, subject: str, content_hash: bytes) -> str:
    """The status today of the printed document ``subject`` whose content hash is given:
    ``valid`` (a result document of a case, or the current version of a certificate),
    ``superseded``, ``revoked``, or ``unknown`` (no such document with that hash)."""
    try:
        if subject.startswith("1.2.156."):
            certificate: Any = ledger.repository.get(Certificate.id_for(subject))
            version = certificate.version_of(subject)
            if version.record.content_hash != content_hash:
                return "unknown"
            status = certificate.status_of(version.number)
            return "valid" if status is VersionStatus.CURRENT else status.value
        case: Any = ledger.repository.get(Case.id_for(subject))
    except (AggregateNotFoundError, LedgerError, ValueError, AttributeError):
        return "unknown"
    if not isinstance(case, Case):
        return "unknown"
    hashes = {bytes(d["content_hash"]) for d in case.documents}
    return "valid" if content_hash in hashes else "unknown"
