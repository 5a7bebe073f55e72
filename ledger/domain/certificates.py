"""E-certificates (电子证照): issue, update, revoke, the holder's wallet, disputes and use.

Layer: domain (standard library, ``eventsourcing.domain`` and ledger domain modules; the
seal key is passed in as a ``ledger.domain.signer.Signer``). RULES.md "E-certificates and seals":

- Issue, update and revoke in step with the paper certificate; every version and its
  history is kept (GZ20·21); the issuer keeps them true, complete, valid and current
  (GZ16·15). A certificate is issued from a decided case by the case's department, before
  the case may close (GZ16·15, NH·20, FZ·19). Each version's content is a
  :class:`~ledger.domain.sealed.SealedRecord` of kind ``e_certificate`` sealed with the issuer's
  seal key; an update is a new version with a reason, and the superseded version stays
  verifiable.
- Identifier per GB/T 36904-2018 (RULES.md says 36903, the companion metadata standard):
  ``1.2.156.3005.2.<type>.<issuer>.<serial>.<version>.<check>``, check ISO 7064 MOD 37,36
  (``ledger.domain.certificate_id``). The aggregate id is derived from type, issuer and serial, so
  every version's identifier finds the same certificate; incoming identifiers are parsed
  and their check character verified.
- Certificates gather to their holder (向申请人本人汇集, GZ16·15): :class:`Wallet`, one per
  holder, lists the certificates issued to them.
- Dispute (异议, GZ20·23): a using department objects with reasons and evidence; the
  issuer answers within 3 working days — upholds (corrects by an update) or rejects in
  writing — or requests an extension before the answer is due.
- Use: a material of a new application may reference a held certificate instead of an
  upload (:class:`CertificateReference`); asking that applicant to upload it again is
  recorded as a violation (``ReuploadDemanded``, GZ16·15, GZ20·13), and
  :func:`check_reupload_request` refuses such a request before it is made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain import checks as check
from ledger.domain.certificate_id import CertificateId, CertificateIdError, parse_certificate_id
from ledger.domain.keyed import NaturalKey
from ledger.domain.rules import (
    CaseNotDecided,
    CertificateNotCurrent,
    CertificateNotHeld,
    CertificateReuploadDemanded,
    DisputeNotOpen,
    EvidenceRequired,
    ExtensionOutOfTime,
    InvalidCertificate,
    NotIssuingDepartment,
)
from ledger.domain.sealed import SealedKind, SealedRecord, seal
from ledger.domain.signer import Signer
from ledger.domain.topics import keep_topics

__all__ = [
    "CERTIFICATE_NAMESPACE",
    "DISPUTE_ANSWER_DAYS",
    "Certificate",
    "CertificateDispute",
    "CertificateReference",
    "CertificateVersion",
    "DisputeFinding",
    "VersionStatus",
    "Wallet",
    "check_reupload_request",
    "parse_identifier",
]

CERTIFICATE_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/certificates")
WALLET_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/wallets")
REFERENCE_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/cert-references")
DISPUTE_ANSWER_DAYS: Final = 3
"""The issuer checks an objection within 3 working days of receiving it (GZ20·23)."""
MAX_EXTENSION_DAYS: Final = 20
MATERIAL_CODE_MAX: Final = 64


class VersionStatus(StrEnum):
    """Status of one version of an e-certificate."""

    CURRENT = "current"
    """现行有效"""
    SUPERSEDED = "superseded"
    """已变更 (an update replaced it; still verifiable)"""
    REVOKED = "revoked"
    """已注销"""


class DisputeFinding(StrEnum):
    """How the issuer answered an objection (GZ20·23)."""

    UPHELD = "upheld"
    """异议成立 — corrected by an update"""
    REJECTED = "rejected"
    """异议不成立 — answered in writing"""


def parse_identifier(value: object) -> CertificateId:
    """Parse an incoming e-certificate identifier, checking its check character.

    Raises :class:`InvalidCertificate` whose field names the part (``certificate_id.check``).
    """
    try:
        return parse_certificate_id(value)  # type: ignore[arg-type]
    except CertificateIdError as exc:
        field = f"certificate_id.{exc.part}" if exc.part else "certificate_id"
        raise InvalidCertificate(field, exc.problem) from None


def _aggregate_key(cid: CertificateId) -> str:
    return f"{cid.type_code}.{cid.issuer_code}.{cid.serial}"


def _content(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not value:
        raise InvalidCertificate("content", "must be a non-empty map of the certificate's fields")
    return dict(value)


def _seal_version(
    signer: Signer,
    *,
    cid: CertificateId,
    issuer_department: str,
    holder: UUID,
    content: Mapping[str, Any],
    at: dt.datetime,
    extra: Mapping[str, Any],
) -> SealedRecord:
    return seal(
        SealedKind.E_CERTIFICATE,
        subject=str(cid),
        issuer=issuer_department,
        issued_at=at,
        body={
            "certificate_id": str(cid),
            "version": cid.version,
            "holder": holder,
            "type_code": cid.type_code,
            "content": dict(content),
            **extra,
        },
        signer=signer,
        refuse=InvalidCertificate,
    )


@dataclass(frozen=True)
class CertificateVersion:
    """One version of an e-certificate: its identifier, sealed content and status."""

    number: int
    identifier: str
    record: SealedRecord
    issued_at: dt.datetime
    reason: str
    status: VersionStatus


class Certificate(Aggregate):
    """An e-certificate (电子证照) and all its versions, found by any version's identifier."""

    @staticmethod
    def create_id(type_code: str, issuer_code: str, serial: str) -> UUID:
        return uuid5(CERTIFICATE_NAMESPACE, f"{type_code}.{issuer_code}.{serial}")

    @classmethod
    def id_for(cls, identifier: str) -> UUID:
        """The id of the certificate an identifier (any version) names; validates it."""
        cid = parse_identifier(identifier)
        return cls.create_id(cid.type_code, cid.issuer_code, cid.serial)

    @classmethod
    def issue(
        cls,
        *,
        case_id: UUID,
        case_serial: str,
        case_department: str,
        case_decided: bool,
        issuer_department: str,
        issuer_code: str | None = None,
        type_code: str,
        serial: str,
        holder: UUID,
        content: Mapping[str, Any],
        at: dt.datetime,
        seal_key: Signer,
    ) -> Certificate:
        """Issue version 001 from a decided case, sealed with the issuer's ``seal_key``.

        ``issuer_code`` (the 18-character 颁发机构代码) defaults to the department code.
        Raises :class:`CaseNotDecided` unless the case has its approval decision,
        :class:`NotIssuingDepartment` unless the issuer is the case's department, and
        :class:`InvalidCertificate` naming the field for a malformed identifier part or
        content. ``content`` names people by id, never by clear personal data.
        """
        check.uuid(InvalidCertificate, "case_id", case_id)
        case_serial = check.text(InvalidCertificate, "case_serial", case_serial, 64)
        issuer_department = check.department_code(
            InvalidCertificate, "issuer_department", issuer_department
        )
        check.uuid(InvalidCertificate, "holder", holder)
        when = check.utc(InvalidCertificate, "at", at)
        try:
            cid = CertificateId(type_code, issuer_code or issuer_department, serial, 1)
        except CertificateIdError as exc:
            raise InvalidCertificate(f"certificate_id.{exc.part}", exc.problem) from None
        body = _content(content)
        if case_decided is not True:
            raise CaseNotDecided(f"case {case_serial}: no approval decision, no e-certificate")
        if issuer_department != case_department:
            raise NotIssuingDepartment(
                f"issuer_department: {issuer_department} is not the case's department "
                f"{case_department}"
            )
        record = _seal_version(
            seal_key,
            cid=cid,
            issuer_department=issuer_department,
            holder=holder,
            content=body,
            at=when,
            extra={"case_serial": case_serial},
        )
        return cls(
            type_code=cid.type_code,
            issuer_code=cid.issuer_code,
            serial=cid.serial,
            issuer_department=issuer_department,
            holder=holder,
            case_id=case_id,
            case_serial=case_serial,
            identifier=str(cid),
            record=record.to_dict(),
            issued_at=when,
        )

    @event("Issued")
    def __init__(
        self,
        type_code: str,
        issuer_code: str,
        serial: str,
        issuer_department: str,
        holder: UUID,
        case_id: UUID,
        case_serial: str,
        identifier: str,
        record: dict[str, Any],
        issued_at: dt.datetime,
    ) -> None:
        self.type_code = type_code
        self.issuer_code = issuer_code
        self.serial = serial
        self.issuer_department = issuer_department
        self.holder = holder
        self.case_id = case_id
        self.case_serial = case_serial
        self._versions: list[tuple[str, dict[str, Any], dt.datetime, str]] = [
            (identifier, dict(record), issued_at, "")
        ]
        self.revoked = False
        self.revocation_reason = ""
        self.revoked_at: dt.datetime | None = None

    @event("Updated")
    def _updated(
        self,
        number: int,
        identifier: str,
        record: dict[str, Any],
        reason: str,
        updated_at: dt.datetime,
    ) -> None:
        self._versions.append((identifier, dict(record), updated_at, reason))

    @event("Revoked")
    def _revoked(self, reason: str, revoked_at: dt.datetime) -> None:
        self.revoked = True
        self.revocation_reason = reason
        self.revoked_at = revoked_at

    # -- commands -------------------------------------------------------------------------

    def _require_issuer(self, department: str) -> None:
        if department != self.issuer_department:
            raise NotIssuingDepartment(
                f"department: {department} is not the issuer {self.issuer_department} "
                f"of {self.identifier}"
            )

    def _require_current(self) -> None:
        if self.revoked:
            raise CertificateNotCurrent(
                f"certificate_id: {self.identifier} was revoked ({self.revocation_reason})",
                state=VersionStatus.REVOKED.value,
            )

    def update(
        self,
        *,
        department: str,
        content: Mapping[str, Any],
        reason: str,
        at: dt.datetime,
        seal_key: Signer,
    ) -> str:
        """Issue the next version with ``reason`` (变更); returns its identifier.

        The previous version becomes superseded and stays verifiable. Raises
        :class:`NotIssuingDepartment`, :class:`CertificateNotCurrent` (revoked) or
        :class:`InvalidCertificate` (no reason, no content, version 999 reached).
        """
        self._require_issuer(department)
        self._require_current()
        reason = check.text(InvalidCertificate, "reason", reason)
        when = check.utc(InvalidCertificate, "at", at)
        body = _content(content)
        if self.version_number >= 999:
            raise InvalidCertificate("version", "an identifier has at most 999 versions")
        cid = CertificateId(self.type_code, self.issuer_code, self.serial, self.version_number + 1)
        record = _seal_version(
            seal_key,
            cid=cid,
            issuer_department=self.issuer_department,
            holder=self.holder,
            content=body,
            at=when,
            extra={
                "case_serial": self.case_serial,
                "supersedes": self.identifier,
                "reason": reason,
            },
        )
        self._updated(
            number=cid.version,
            identifier=str(cid),
            record=record.to_dict(),
            reason=reason,
            updated_at=when,
        )
        return str(cid)

    def revoke(self, *, department: str, reason: str, at: dt.datetime) -> None:
        """Revoke the certificate (注销) with ``reason``; every version stays verifiable.

        Raises :class:`NotIssuingDepartment`, :class:`CertificateNotCurrent` or
        :class:`InvalidCertificate` (no reason).
        """
        self._require_issuer(department)
        self._require_current()
        reason = check.text(InvalidCertificate, "reason", reason)
        when = check.utc(InvalidCertificate, "at", at)
        self._revoked(reason=reason, revoked_at=when)

    # -- queries --------------------------------------------------------------------------

    @property
    def version_number(self) -> int:
        """The current version number (1 for 001); ``version`` is the aggregate's own."""
        return len(self._versions)

    @property
    def identifier(self) -> str:
        """The identifier of the current version."""
        return self._versions[-1][0]

    def status_of(self, number: int) -> VersionStatus:
        """The status of version ``number``."""
        if not 1 <= number <= self.version_number:
            raise InvalidCertificate("version", f"no version {number} of {self.identifier}")
        if number < self.version_number:
            return VersionStatus.SUPERSEDED
        return VersionStatus.REVOKED if self.revoked else VersionStatus.CURRENT

    def version_of(self, identifier: str) -> CertificateVersion:
        """The version an identifier names; raises :class:`InvalidCertificate` if it names
        another certificate or a version never issued."""
        cid = parse_identifier(identifier)
        if self.create_id(cid.type_code, cid.issuer_code, cid.serial) != self.id:
            raise InvalidCertificate("certificate_id", f"{identifier} names another certificate")
        return self.versions[self._index(cid.version)]

    def _index(self, number: int) -> int:
        if not 1 <= number <= self.version_number:
            raise InvalidCertificate("certificate_id.version", f"version {number} was not issued")
        return number - 1

    @property
    def versions(self) -> tuple[CertificateVersion, ...]:
        """Every version, oldest first, with its status."""
        return tuple(
            CertificateVersion(
                number=i,
                identifier=identifier,
                record=SealedRecord.from_dict(record),
                issued_at=at,
                reason=reason,
                status=self.status_of(i),
            )
            for i, (identifier, record, at, reason) in enumerate(self._versions, start=1)
        )

    def sealed_version(self, number: int) -> SealedRecord:
        """Version ``number``'s sealed content (``ledger.chain.seals.verify_sealed`` checks it)."""
        return self.versions[self._index(number)].record


class Wallet(NaturalKey, Aggregate):
    """A holder's certificates (证照汇集, GZ16·15): one wallet per applicant id.

    The holder views, verifies, copies and archives them through the application service.
    """

    @staticmethod
    def create_id(holder: UUID) -> UUID:
        return uuid5(WALLET_NAMESPACE, str(holder))

    @classmethod
    def open(cls, holder: UUID) -> Wallet:
        return cls(holder=check.uuid(InvalidCertificate, "holder", holder))

    @event("Opened")
    def __init__(self, holder: UUID) -> None:
        self.holder = holder
        self._certificates: list[UUID] = []

    @event("CertificateGathered")
    def _gathered(self, certificate_id: UUID, identifier: str, type_code: str) -> None:
        self._certificates.append(certificate_id)

    def gather(self, certificate: Certificate) -> None:
        """Add a certificate issued to this holder; refuses another holder's or a repeat."""
        if certificate.holder != self.holder:
            raise InvalidCertificate(
                "holder", f"{certificate.identifier} is held by another applicant"
            )
        if certificate.id in self._certificates:
            raise InvalidCertificate("certificate_id", f"{certificate.identifier} already held")
        self._gathered(
            certificate_id=certificate.id,
            identifier=certificate.identifier,
            type_code=certificate.type_code,
        )

    def holds(self, certificate_id: UUID) -> bool:
        return certificate_id in self._certificates

    @property
    def certificate_ids(self) -> tuple[UUID, ...]:
        return tuple(self._certificates)


class CertificateDispute(Aggregate):
    """An objection (异议) of a using department to an e-certificate's accuracy (GZ20·23)."""

    @classmethod
    def raise_objection(
        cls,
        certificate: Certificate,
        *,
        identifier: str,
        using_department: str,
        reasons: str,
        evidence: Iterable[str],
        at: dt.datetime,
        answer_days: int = DISPUTE_ANSWER_DAYS,
    ) -> CertificateDispute:
        """A using department objects to the current version ``identifier``.

        The answer is due ``answer_days`` working days after the day of ``at``. Raises
        :class:`EvidenceRequired` without reasons or evidence, :class:`CertificateNotCurrent`
        for a revoked certificate or a superseded version, and :class:`InvalidCertificate`
        for a malformed identifier or when the issuer objects to its own certificate.
        """
        version = certificate.version_of(identifier)
        using_department = check.department_code(
            InvalidCertificate, "using_department", using_department
        )
        reasons = check.text(EvidenceRequired, "reasons", reasons)
        refs = check.evidence(EvidenceRequired, "evidence", list(evidence))
        when = check.utc(InvalidCertificate, "at", at)
        days = check.working_days(InvalidCertificate, "answer_days", answer_days)
        certificate._require_current()
        if version.status is not VersionStatus.CURRENT:
            raise CertificateNotCurrent(
                f"certificate_id: {identifier} was superseded by {certificate.identifier}",
                state=version.status.value,
            )
        if using_department == certificate.issuer_department:
            raise InvalidCertificate(
                "using_department", "the issuer corrects its own certificate by an update"
            )
        due = check.due_after(when, days)
        return cls(
            certificate_id=certificate.id,
            identifier=version.identifier,
            disputed_version=version.number,
            issuer_department=certificate.issuer_department,
            using_department=using_department,
            reasons=reasons,
            evidence=refs,
            raised_at=when,
            due=due.due,
            provisional=due.provisional,
        )

    @event("Raised")
    def __init__(
        self,
        certificate_id: UUID,
        identifier: str,
        disputed_version: int,
        issuer_department: str,
        using_department: str,
        reasons: str,
        evidence: list[str],
        raised_at: dt.datetime,
        due: dt.date,
        provisional: bool,
    ) -> None:
        self.certificate_id = certificate_id
        self.identifier = identifier
        self.disputed_version = disputed_version
        self.issuer_department = issuer_department
        self.using_department = using_department
        self.reasons = reasons
        self.evidence = list(evidence)
        self.raised_at = raised_at
        self.due = due
        self.provisional = provisional
        self.extended = False
        self.finding: str | None = None
        self.answered_at: dt.datetime | None = None
        self.answer: dict[str, Any] | None = None
        self.correction_identifier = ""

    @event("ExtensionRequested")
    def _extension_requested(
        self, reason: str, days: int, due: dt.date, provisional: bool, requested_at: dt.datetime
    ) -> None:
        self.extended = True
        self.due = due
        self.provisional = provisional

    @event("Answered")
    def _answered(
        self,
        finding: str,
        answer: dict[str, Any],
        correction_identifier: str,
        answered_at: dt.datetime,
        late: bool,
    ) -> None:
        self.finding = finding
        self.answer = dict(answer)
        self.correction_identifier = correction_identifier
        self.answered_at = answered_at

    # -- commands -------------------------------------------------------------------------

    def _require_open(self, department: str) -> None:
        if department != self.issuer_department:
            raise NotIssuingDepartment(
                f"department: only the issuer {self.issuer_department} answers this dispute"
            )
        if self.finding is not None:
            raise DisputeNotOpen(
                f"dispute on {self.identifier} was already answered ({self.finding})",
                state=self.state,
            )

    def request_extension(
        self, *, department: str, reason: str, days: int, at: dt.datetime
    ) -> None:
        """The issuer asks for more time (延期申请) before the answer is due; once only.

        The new due date is ``days`` working days after the current one. Raises
        :class:`ExtensionOutOfTime` after the due date and :class:`DisputeNotOpen` when
        answered or already extended.
        """
        self._require_open(department)
        reason = check.text(InvalidCertificate, "reason", reason)
        days = check.working_days(InvalidCertificate, "days", days, MAX_EXTENSION_DAYS)
        when = check.utc(InvalidCertificate, "at", at)
        if self.extended:
            raise DisputeNotOpen(
                f"dispute on {self.identifier}: the extension was already requested",
                state=self.state,
            )
        if self.is_overdue(check.local_date(when)):
            raise ExtensionOutOfTime(
                f"at: the answer was due {self.due.isoformat()}; an extension is asked before"
            )
        new_due = check.due_from(self.due, days)
        self._extension_requested(
            reason=reason,
            days=days,
            due=new_due.due,
            provisional=new_due.provisional or self.provisional,
            requested_at=when,
        )

    def _answer(
        self,
        finding: DisputeFinding,
        *,
        answer: str,
        at: dt.datetime,
        seal_key: Signer,
        correction_identifier: str = "",
    ) -> None:
        when = check.utc(InvalidCertificate, "at", at)
        text = check.text(InvalidCertificate, "answer", answer)
        body: dict[str, Any] = {
            "dispute": self.id,
            "certificate_id": self.identifier,
            "using_department": self.using_department,
            "finding": finding.value,
            "answer": text,
        }
        if correction_identifier:
            body["correction"] = correction_identifier
        record = seal(
            SealedKind.CERTIFICATE_DISPUTE_ANSWER,
            subject=self.identifier,
            issuer=self.issuer_department,
            issued_at=when,
            body=body,
            signer=seal_key,
            refuse=InvalidCertificate,
        )
        self._answered(
            finding=finding.value,
            answer=record.to_dict(),
            correction_identifier=correction_identifier,
            answered_at=when,
            late=self.is_overdue(check.local_date(when)),
        )

    def uphold(
        self,
        certificate: Certificate,
        *,
        department: str,
        answer: str,
        at: dt.datetime,
        seal_key: Signer,
    ) -> None:
        """The objection holds (异议成立): ``certificate`` was corrected by an update in this
        command; the using department is told in a sealed answer.

        Raises :class:`DisputeNotOpen`, :class:`NotIssuingDepartment`, or
        :class:`InvalidCertificate` when the certificate has no version newer than the
        disputed one.
        """
        self._require_open(department)
        if certificate.id != self.certificate_id:
            raise InvalidCertificate("certificate", "is not the disputed certificate")
        if certificate.version_number <= self.disputed_version:
            raise InvalidCertificate(
                "certificate", "an upheld objection is corrected by an update (no new version)"
            )
        self._answer(
            DisputeFinding.UPHELD,
            answer=answer,
            at=at,
            seal_key=seal_key,
            correction_identifier=certificate.identifier,
        )

    def reject(self, *, department: str, answer: str, at: dt.datetime, seal_key: Signer) -> None:
        """The objection does not hold (异议不成立): answered in writing, sealed."""
        self._require_open(department)
        self._answer(DisputeFinding.REJECTED, answer=answer, at=at, seal_key=seal_key)

    # -- queries --------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self.finding or ("extended" if self.extended else "open")

    @property
    def answer_record(self) -> SealedRecord | None:
        return SealedRecord.from_dict(self.answer) if self.answer is not None else None

    def is_overdue(self, today: dt.date) -> bool:
        """True while unanswered after the due date (Asia/Shanghai ``today``)."""
        return self.finding is None and today > self.due

    @property
    def answered_late(self) -> bool:
        """True when answered after the due date."""
        return self.answered_at is not None and check.local_date(self.answered_at) > self.due


class CertificateReference(Aggregate):
    """A material of an application satisfied by a held e-certificate instead of an upload
    (GZ16·15, GZ20·10): one per case and material code."""

    @staticmethod
    def create_id(case_id: UUID, material_code: str) -> UUID:
        return uuid5(REFERENCE_NAMESPACE, f"{case_id}/{material_code}")

    @classmethod
    def id_for(cls, case_id: UUID, material_code: str) -> UUID:
        return cls.create_id(case_id, material_code)

    @classmethod
    def reference(
        cls,
        certificate: Certificate,
        wallet: Wallet,
        *,
        case_id: UUID,
        case_serial: str,
        material_code: str,
        applicant_id: UUID,
        at: dt.datetime,
    ) -> CertificateReference:
        """Reference ``certificate`` (its current version) for ``material_code`` of a case.

        Raises :class:`CertificateNotHeld` unless the applicant's wallet holds the
        certificate and it is not revoked.
        """
        check.uuid(InvalidCertificate, "case_id", case_id)
        case_serial = check.text(InvalidCertificate, "case_serial", case_serial, 64)
        material_code = check.text(
            InvalidCertificate, "material_code", material_code, MATERIAL_CODE_MAX
        )
        check.uuid(InvalidCertificate, "applicant_id", applicant_id)
        when = check.utc(InvalidCertificate, "at", at)
        if wallet.holder != applicant_id or not wallet.holds(certificate.id):
            raise CertificateNotHeld(
                f"certificate_id: {certificate.identifier} is not held by the applicant"
            )
        if certificate.revoked:
            raise CertificateNotHeld(f"certificate_id: {certificate.identifier} was revoked")
        return cls(
            case_id=case_id,
            case_serial=case_serial,
            material_code=material_code,
            certificate_id=certificate.id,
            identifier=certificate.identifier,
            applicant_id=applicant_id,
            referenced_at=when,
        )

    @event("Referenced")
    def __init__(
        self,
        case_id: UUID,
        case_serial: str,
        material_code: str,
        certificate_id: UUID,
        identifier: str,
        applicant_id: UUID,
        referenced_at: dt.datetime,
    ) -> None:
        self.case_id = case_id
        self.case_serial = case_serial
        self.material_code = material_code
        self.certificate_id = certificate_id
        self.identifier = identifier
        self.applicant_id = applicant_id
        self.referenced_at = referenced_at
        self.reupload_demands: list[str] = []

    @event("ReuploadDemanded")
    def _reupload_demanded(
        self, department: str, note: str, demanded_at: dt.datetime, rule: str, code: str
    ) -> None:
        self.reupload_demands.append(department)

    def record_reupload_demand(self, *, department: str, note: str, at: dt.datetime) -> None:
        """Record that ``department`` asked the applicant to upload the referenced
        certificate again: a violation of GZ16·15 and GZ20·13, kept for supervision."""
        department = check.department_code(InvalidCertificate, "department", department)
        note = check.text(InvalidCertificate, "note", note)
        when = check.utc(InvalidCertificate, "at", at)
        self._reupload_demanded(
            department=department,
            note=note,
            demanded_at=when,
            rule=CertificateReuploadDemanded.rule,
            code=CertificateReuploadDemanded.code,
        )


def check_reupload_request(
    references: Iterable[CertificateReference], material_codes: Iterable[str]
) -> None:
    """Refuse a request (e.g. a correction notice) for materials already satisfied by a
    referenced e-certificate: raises :class:`CertificateReuploadDemanded` naming the first."""
    referenced = {ref.material_code: ref for ref in references}
    for code in material_codes:
        if code in referenced:
            raise CertificateReuploadDemanded(
                f"materials.{code}",
                f"satisfied by e-certificate {referenced[code].identifier}; "
                "it may not be asked for again",
            )


keep_topics(globals(), "ledger.certificates")
