"""Progress of a case (办件进度查询): what the applicant, a kiosk or the portal may see.

Layer: projections. RULES.md "Case lifecycle": progress is queryable by serial number or ID
number (GZ16·13, PY·13) and by approval code (NH·11); every step and result is disclosed
except secrets and private data (FZ·6, GZ16·18). DESIGN invariants 4, 5 and 7.

What the rows hold: per case its serial, approval code, item and the guide version it is
judged by, department, channel, handling mode, state (:class:`~ledger.domain.cases.CaseState`), due
date as the case recorded it (with the special-procedure pauses, NH·15, ALL·45) and its
provisional flag, what the applicant must do next, and every step with its UTC time, its
number (the case event's version: every case event is a step, so the last number is the
case's version) and the kind of the document it issued — so the kinds in step order are
``Case.documents``. To find an applicant's cases without a bare ID number, a case row
carries the applicant's credential *blind index* (HMAC, ``ledger.storage.privacy``) copied from
``Applicant.Registered``; ``Applicant.Erased`` clears it, so an erased applicant's cases can
no longer be found by ID number. An applicant row keeps the applicant's kind, credential
kind and whether it was erased — not personal data.

Masking (decision): ``Applicant.Registered`` carries only sealed personal data and the
blind index — no mask. A projection must not decrypt (it would put the vault into the
rebuild path, and an erased subject would make a rebuild differ from the live rows), so
the view stores **nothing personal**. The query layer produces the masked display
(``4401**********1234``, ``张*``) through an :data:`IdentityPort`; :class:`VaultMasker`
is that port over the ledger's repository and the personal-data vault, opening the name
and credential only to mask them (a masked read reveals no personal data, so it records
no ``PersonalDataRead``, ``ledger.domain.access``). An erased applicant is shown ``[erased]``
from the view alone, without the port; so a masked identity changes only by erasure, and
:class:`IdentityCache` may keep the port's answers (masked values only) for a process.

Kiosk verification code: cases carry none (``ledger.domain.cases`` has no such field), so the
view stores none.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final
from uuid import UUID

from ledger.domain.applicants import Applicant, Vault
from ledger.domain.cases import CaseState
from ledger.domain.identity import Credential
from ledger.domain.personal_data import Erased
from ledger.storage.faults import storage_fault
from projections.common import (
    Page,
    Topics,
    check_page,
    dumps,
    id_text,
    iso_date,
    shanghai_text,
    utc_text,
)
from projections.store import Table, Tx
from projections.view import View, on

__all__ = [
    "ERASED_TEXT",
    "CaseProgress",
    "IdentityCache",
    "IdentityPort",
    "MaskedIdentity",
    "NextAction",
    "ProgressView",
    "Step",
    "VaultMasker",
    "by_approval_code",
    "by_credential_index",
    "by_serial",
    "case_of_applicant",
    "credential_index",
    "mask_credential",
    "mask_name",
]

APPLICANTS = Table(
    "view_progress_applicants",
    (
        ("applicant_id", "TEXT"),
        ("kind", "TEXT"),
        ("credential_kind", "TEXT"),
        ("credential_index", "BLOB"),
        ("erased", "BIGINT"),
    ),
    ("applicant_id",),
    (("credential_index",),),
)
DEPARTMENTS = Table(
    "view_progress_departments",
    (("department_id", "TEXT"), ("code", "TEXT"), ("name", "TEXT")),
    ("department_id",),
    (("code",),),
)
CASES = Table(
    "view_progress_cases",
    (
        ("case_id", "TEXT"),
        ("serial", "TEXT"),
        ("approval_code", "TEXT"),
        ("item_code", "TEXT"),
        ("item_name", "TEXT"),
        ("guide_version", "BIGINT"),
        ("department", "TEXT"),
        ("applicant_id", "TEXT"),
        ("state", "TEXT"),
        ("channel", "TEXT"),
        ("handling_mode", "TEXT"),
        ("submitted_at", "TEXT"),
        ("pre_review_due", "TEXT"),
        ("accepted_on", "TEXT"),
        ("promised_days", "BIGINT"),
        ("due", "TEXT"),
        ("due_provisional", "BIGINT"),
        ("paused_since", "TEXT"),
        ("pauses", "TEXT"),
        ("next_action", "TEXT"),
        ("next_detail", "TEXT"),
        ("updated_at", "TEXT"),
    ),
    ("case_id",),
    (("serial",), ("approval_code",), ("applicant_id",)),
)
STEPS = Table(
    "view_progress_steps",
    (
        ("case_id", "TEXT"),
        ("number", "BIGINT"),
        ("step", "TEXT"),
        ("state", "TEXT"),
        ("at", "TEXT"),
        ("actor", "TEXT"),
        ("detail", "TEXT"),
        ("document", "TEXT"),
    ),
    ("case_id", "number"),
)

STATE_LABELS: Final[dict[str, str]] = {
    CaseState.SUBMITTED: "已提交，待预审",
    CaseState.CORRECTION_REQUESTED: "待补齐补正",
    CaseState.CORRECTED: "已补正，待预审",
    CaseState.PRE_REVIEWED: "预审通过，待递交材料",
    CaseState.MATERIALS_RECEIVED: "材料已递交，待受理",
    CaseState.ACCEPTED: "已受理，办理中",
    CaseState.SPECIAL_PROCEDURE: "特殊程序中（暂停计时）",
    CaseState.APPROVED: "准予批准，待出证",
    CaseState.DISAPPROVED: "不予批准，待送达",
    CaseState.RESULT_ISSUED: "已出证，待送达",
    CaseState.DISPATCHED: "送达中",
    CaseState.DELIVERY_FAILED: "送达未果",
    CaseState.DELIVERED: "已送达",
    CaseState.CLOSED: "已办结",
    CaseState.NOT_ACCEPTED: "不予受理",
    CaseState.RETURNED: "已退件",
    CaseState.WITHDRAWN: "已撤回",
}
"""The state as the applicant reads it (RULES.md vocabulary)."""

APPLICANT_STEPS: Final = frozenset({"Submitted", "Corrected", "Withdrawn"})
"""Steps the applicant takes (through a channel); the rest are the department's."""

_NEXT_TEXT: Final[dict[str, str]] = {
    "none": "无需操作，等待部门办理",
    "supply_corrections": "请按一次性告知补齐补正材料",
    "deliver_materials": "请递交材料原件（现场、邮寄或网上）",
    "pay_fee": "请通过统一支付平台缴费",
    "sign_for_result": "请签收办理结果",
    "contact_department": "送达未果，请联系办理部门",
    "finished": "办理已结束",
}

ERASED_TEXT: Final = "[erased]"
"""What an erased applicant's name and credential show."""


# --- values returned by the queries -------------------------------------------------------------


@dataclass(frozen=True)
class MaskedIdentity:
    """The public-safe display of an applicant: masked name and credential, never clear."""

    kind: str
    credential_kind: str
    name: str
    credential: str


IdentityPort = Callable[[UUID], MaskedIdentity | None]
"""``applicant_id -> MaskedIdentity`` (or ``None`` when unknown) — supplied by the caller."""


@dataclass(frozen=True)
class Step:
    """One step of a case: what happened, when (UTC and Asia/Shanghai), by whom."""

    number: int
    step: str
    state: str
    at_utc: str
    at_shanghai: str
    department: str
    actor: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class NextAction:
    """What the applicant must do next (``code``), in words, with its particulars."""

    code: str
    text: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class CaseProgress:
    """A case as the progress query discloses it (FZ·6, GZ16·18)."""

    serial: str
    approval_code: str
    item_code: str
    item_name: str
    guide_version: int
    department: str
    department_name: str
    channel: str
    handling_mode: str
    state: str
    state_label: str
    submitted_at: str
    pre_review_due: str | None
    accepted_on: str | None
    promised_days: int
    due: str | None
    due_provisional: bool
    paused_since: str | None
    pauses: tuple[tuple[str, str], ...]
    next_action: NextAction
    steps: tuple[Step, ...]
    documents: tuple[str, ...]
    """Kinds of the documents the case issued, in order (``Case.documents``)."""
    version: int
    """The case's version: its last step's number."""
    applicant: MaskedIdentity | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- masking ------------------------------------------------------------------------------------


def mask_credential(value: str) -> str:
    """Keep the first four and last four characters of a long credential
    (``440106199001011234`` → ``4401**********1234``); shorter ones keep less."""
    n = len(value)
    if n >= 12:
        keep_head, keep_tail = 4, 4
    elif n >= 6:
        keep_head, keep_tail = 1, 2
    else:
        return "*" * n
    return value[:keep_head] + "*" * (n - keep_head - keep_tail) + value[n - keep_tail :]


def mask_name(value: str) -> str:
    """Keep the first character (and the last of three or more): ``张三`` → ``张*``,
    ``欧阳娜娜`` → ``欧**娜``."""
    n = len(value)
    if n <= 1:
        return "*" * n
    if n == 2:
        return value[0] + "*"
    return value[0] + "*" * (n - 2) + value[-1]


class VaultMasker:
    """The :data:`IdentityPort` over the ledger's applicants and the personal-data vault.

    ``load(applicant_id)`` returns the :class:`~ledger.domain.applicants.Applicant` (e.g. the
    ledger repository's ``get``). An erased applicant shows ``[erased]``.
    """

    def __init__(self, load: Callable[[UUID], Any], vault: Vault) -> None:
        self._load = load
        self._vault = vault

    def __call__(self, applicant_id: UUID) -> MaskedIdentity | None:
        try:
            applicant = self._load(applicant_id)
        except Exception as exc:  # an unknown id is not an error of the progress query
            if storage_fault(exc) is not None:
                raise  # but a database that does not answer is (503, not "no applicant")
            return None
        if not isinstance(applicant, Applicant):
            return None
        personal = applicant.personal_data(self._vault)
        credential = applicant.credential(self._vault)
        name = ERASED_TEXT if isinstance(personal.name, Erased) else mask_name(personal.name)
        shown = ERASED_TEXT if isinstance(credential, Erased) else mask_credential(credential.value)
        return MaskedIdentity(applicant.kind.value, applicant.credential_kind.value, name, shown)


class IdentityCache:
    """An :data:`IdentityPort` that remembers what ``port`` answered for the ``size`` most
    recently asked applicants (least recently used out first); safe across threads.

    Holds masked identities only, never clear text, and no ``None`` (an unknown applicant is
    asked again). Correct for a port whose answer changes only when the applicant is erased,
    used by the progress queries, which take erasure from the view and never ask a port for
    an erased applicant (they :meth:`forget` it instead).
    """

    def __init__(self, port: IdentityPort, size: int = 10_000) -> None:
        if size < 1:
            raise ValueError("size: must be at least 1")
        self._port = port
        self._size = size
        self._masks: OrderedDict[UUID, MaskedIdentity] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, applicant_id: UUID) -> MaskedIdentity | None:
        with self._lock:
            found = self._masks.get(applicant_id)
            if found is not None:
                self._masks.move_to_end(applicant_id)
                return found
        found = self._port(applicant_id)  # outside the lock: the vault may be slow
        if found is not None:
            with self._lock:
                self._masks[applicant_id] = found
                self._masks.move_to_end(applicant_id)
                while len(self._masks) > self._size:
                    self._masks.popitem(last=False)
        return found

    def forget(self, applicant_id: UUID) -> None:
        """Drop what is kept of this applicant (it was erased)."""
        with self._lock:
            self._masks.pop(applicant_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._masks)


def credential_index(vault: Vault, credential: Credential) -> bytes:
    """The blind index an applicant registered with this credential is found by.

    Mirrors ``Applicant.register``: ``HMAC(index key, kind ‖ value)``, the value prefixed by
    the issuing country for a passport."""
    value = credential.value
    if credential.country is not None:
        value = f"{credential.country}:{value}"
    return vault.blind_index(credential.kind.value, value)


# --- the view -----------------------------------------------------------------------------------


class ProgressView(View):
    """Cases and their steps, found by serial, approval code or credential blind index."""

    name = "progress"
    tables = (APPLICANTS, DEPARTMENTS, CASES, STEPS)

    # -- applicants and departments ---------------------------------------------------------

    @on(Topics.APPLICANT_REGISTERED)
    def registered(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "INSERT INTO view_progress_applicants VALUES (?, ?, ?, ?, 0)",
            (id_text(e.originator_id), e.kind, e.credential_kind, e.credential_index),
        )

    @on(Topics.APPLICANT_ERASED)
    def erased(self, tx: Tx, e: Any) -> None:
        applicant = id_text(e.originator_id)
        tx.execute(
            "UPDATE view_progress_applicants SET credential_index = NULL, erased = 1 "
            "WHERE applicant_id = ?",
            (applicant,),
        )

    @on(Topics.DEPARTMENT_REGISTERED)
    def department_registered(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "INSERT INTO view_progress_departments VALUES (?, ?, ?)",
            (id_text(e.originator_id), e.code, e.name),
        )

    @on(Topics.DEPARTMENT_RENAMED)
    def department_renamed(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_progress_departments SET name = ? WHERE department_id = ?",
            (e.name, id_text(e.originator_id)),
        )

    # -- cases ------------------------------------------------------------------------------

    @on(Topics.SUBMITTED)
    def submitted(self, tx: Tx, e: Any) -> None:
        """The case's row; nothing is read: the applicant's credential index stays in the
        applicant's row (found by a join), so a submission costs the live follower no round
        trip on PostgreSQL."""
        tx.execute(
            "INSERT INTO view_progress_cases VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL, 0, NULL, '[]', "
            "'none', '{}', ?)",
            (
                id_text(e.originator_id),
                e.serial,
                e.approval_code,
                e.terms["item_code"],
                e.terms["item_name"],
                int(e.terms["version"]),  # as ``Case.guide_version`` reads it
                e.department,
                str(e.applicant_id),
                CaseState.SUBMITTED.value,
                e.channel,
                e.handling_mode,
                utc_text(e.at),
                iso_date(e.pre_review_due),
                int(e.terms["promised_limit_days"]),
                utc_text(e.at),
            ),
        )
        self._step(
            tx,
            e,
            CaseState.SUBMITTED,
            {"channel": e.channel, "location": e.location},
            document=e.receipt,
        )

    @on(Topics.PRE_REVIEW_PASSED)
    def pre_reviewed(self, tx: Tx, e: Any) -> None:
        self._advance(tx, e, CaseState.PRE_REVIEWED, "deliver_materials", {})
        self._step(tx, e, CaseState.PRE_REVIEWED, {})

    @on(Topics.CORRECTION_REQUESTED)
    def correction_requested(self, tx: Tx, e: Any) -> None:
        listed = [
            {"code": m["code"], "name": m["name"], "reason": m["reason"]}
            for m in e.notice["body"]["materials"]
        ]
        self._advance(
            tx, e, CaseState.CORRECTION_REQUESTED, "supply_corrections", {"materials": listed}
        )
        self._step(
            tx,
            e,
            CaseState.CORRECTION_REQUESTED,
            {"round": e.round_number, "materials": listed, "repeat": e.repeat},
            document=e.notice,
        )

    @on(Topics.CORRECTED)
    def corrected(self, tx: Tx, e: Any) -> None:
        self._advance(tx, e, CaseState.CORRECTED, "none", {})
        self._step(
            tx, e, CaseState.CORRECTED, {"materials": sorted(m["code"] for m in e.materials)}
        )

    @on(Topics.MATERIALS_DELIVERED)
    def materials_delivered(self, tx: Tx, e: Any) -> None:
        self._advance(tx, e, CaseState.MATERIALS_RECEIVED, "none", {})
        self._step(tx, e, CaseState.MATERIALS_RECEIVED, {"method": e.method})

    @on(Topics.ACCEPTED)
    def accepted(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_progress_cases SET accepted_on = ?, due = ?, due_provisional = ? "
            "WHERE case_id = ?",
            (
                iso_date(e.accepted_on),
                iso_date(e.due),
                int(e.due_provisional),
                id_text(e.originator_id),
            ),
        )
        self._advance(tx, e, CaseState.ACCEPTED, "none", {})
        self._step(
            tx,
            e,
            CaseState.ACCEPTED,
            {"accepted_on": iso_date(e.accepted_on), "due": iso_date(e.due), "deemed": e.deemed},
            document=e.receipt,
        )

    @on(Topics.REFUSED)
    def refused(self, tx: Tx, e: Any) -> None:
        self._advance(tx, e, CaseState(e.state), "finished", {})
        self._step(tx, e, CaseState(e.state), {"reasons": list(e.reasons)}, document=e.notice)

    @on(Topics.PROCEDURE_STARTED)
    def procedure_started(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_progress_cases SET paused_since = ? WHERE case_id = ?",
            (iso_date(e.started_on), id_text(e.originator_id)),
        )
        self._advance(tx, e, CaseState.SPECIAL_PROCEDURE, "none", {})
        self._step(
            tx,
            e,
            CaseState.SPECIAL_PROCEDURE,
            {"procedure": e.procedure, "expected_working_days": e.expected_days},
            document=e.notice,
        )

    @on(Topics.PROCEDURE_ENDED)
    def procedure_ended(self, tx: Tx, e: Any) -> None:
        case_id = id_text(e.originator_id)
        tx.execute("SELECT pauses FROM view_progress_cases WHERE case_id = ?", (case_id,))
        row = tx.fetchone()
        pauses = json.loads(row[0]) if row else []
        pauses.append([iso_date(e.paused_from), iso_date(e.paused_to)])
        tx.execute(
            "UPDATE view_progress_cases SET paused_since = NULL, pauses = ?, due = ?, "
            "due_provisional = ? WHERE case_id = ?",
            (dumps(pauses), iso_date(e.due), int(e.due_provisional), case_id),
        )
        self._advance(tx, e, CaseState.ACCEPTED, "none", {})
        self._step(tx, e, CaseState.ACCEPTED, {"outcome": e.outcome, "due": iso_date(e.due)})

    @on(Topics.TIME_LIMIT_EXTENDED)
    def time_limit_extended(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_progress_cases SET due = ?, due_provisional = ? WHERE case_id = ?",
            (iso_date(e.due), int(e.due_provisional), id_text(e.originator_id)),
        )
        self._advance(tx, e, CaseState.ACCEPTED, "none", {})
        self._step(
            tx,
            e,
            CaseState.ACCEPTED,
            {
                "extended_by": e.days,
                "reasons": list(e.notice["body"]["reasons"]),
                "due": iso_date(e.due),
            },
            document=e.notice,
        )

    @on(Topics.FEE_ASSESSED)
    def fee_assessed(self, tx: Tx, e: Any) -> None:
        self._advance(tx, e, CaseState.ACCEPTED, "pay_fee", {"amount_yuan": str(e.amount)})
        self._step(tx, e, CaseState.ACCEPTED, {"amount_yuan": str(e.amount)})

    @on(Topics.FEE_PAID)
    def fee_paid(self, tx: Tx, e: Any) -> None:
        self._advance(tx, e, CaseState.ACCEPTED, "none", {})
        self._step(tx, e, CaseState.ACCEPTED, {"amount_yuan": str(e.amount)})

    @on(Topics.DECIDED)
    def decided(self, tx: Tx, e: Any) -> None:
        state = CaseState(e.state)
        self._advance(tx, e, state, "none", {})
        body = e.decision["body"]
        self._step(
            tx,
            e,
            state,
            {
                "conclusion": body["conclusion"],
                "reasons": list(e.reasons),
                "on_time": body["on_time"],
            },
            document=e.decision,
        )

    @on(Topics.RESULT_ISSUED)
    def result_issued(self, tx: Tx, e: Any) -> None:
        self._advance(tx, e, CaseState.RESULT_ISSUED, "none", {})
        self._step(
            tx,
            e,
            CaseState.RESULT_ISSUED,
            {"title": e.result["body"]["title"]},
            document=e.result,
        )

    @on(Topics.CERTIFICATE_RECORDED)
    def certificate_recorded(self, tx: Tx, e: Any) -> None:
        self._advance(tx, e, CaseState.RESULT_ISSUED, "none", {})
        self._step(tx, e, CaseState.RESULT_ISSUED, {"certificate_id": e.certificate_id})

    @on(Topics.DISPATCHED)
    def dispatched(self, tx: Tx, e: Any) -> None:
        detail = {"method": e.method, "waybill": e.waybill}
        self._advance(tx, e, CaseState.DISPATCHED, "sign_for_result", detail)
        self._step(tx, e, CaseState.DISPATCHED, detail)

    @on(Topics.DELIVERY_FAILED)
    def delivery_failed(self, tx: Tx, e: Any) -> None:
        self._advance(tx, e, CaseState.DELIVERY_FAILED, "contact_department", {})
        self._step(tx, e, CaseState.DELIVERY_FAILED, {"reason": e.reason})

    @on(Topics.DELIVERED)
    def delivered(self, tx: Tx, e: Any) -> None:
        self._advance(tx, e, CaseState.DELIVERED, "none", {})
        self._step(
            tx,
            e,
            CaseState.DELIVERED,
            {"method": e.method, "delivered_on": iso_date(e.delivered_on)},
            document=e.receipt,
        )

    @on(Topics.CLOSED)
    def closed(self, tx: Tx, e: Any) -> None:
        self._advance(tx, e, CaseState.CLOSED, "finished", {})
        self._step(tx, e, CaseState.CLOSED, {})

    @on(Topics.WITHDRAWN)
    def withdrawn(self, tx: Tx, e: Any) -> None:
        self._advance(tx, e, CaseState.WITHDRAWN, "finished", {})
        self._step(tx, e, CaseState.WITHDRAWN, {})

    # -- helpers ----------------------------------------------------------------------------

    def _advance(
        self, tx: Tx, e: Any, state: CaseState, action: str, detail: dict[str, Any]
    ) -> None:
        tx.execute(
            "UPDATE view_progress_cases SET state = ?, next_action = ?, next_detail = ?, "
            "updated_at = ? WHERE case_id = ?",
            (state.value, action, dumps(detail), utc_text(e.at), id_text(e.originator_id)),
        )

    def _step(
        self,
        tx: Tx,
        e: Any,
        state: CaseState,
        detail: dict[str, Any],
        *,
        document: dict[str, Any] | None = None,
    ) -> None:
        """Record the step; its number is the case event's version (every case event is a
        step), so the row needs nothing read back. ``document`` is what the event appends
        to ``Case.documents``; the row keeps its kind."""
        step = type(e).__name__
        tx.execute(
            "INSERT INTO view_progress_steps VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                id_text(e.originator_id),
                int(e.originator_version),
                step,
                state.value,
                utc_text(e.at),
                "applicant" if step in APPLICANT_STEPS else "department",
                dumps(detail),
                None if document is None else str(document["kind"]),
            ),
        )


# --- queries ------------------------------------------------------------------------------------

_CASE: Final = {
    "case_id": "c.case_id",
    "serial": "c.serial",
    "approval_code": "c.approval_code",
    "item_code": "c.item_code",
    "item_name": "c.item_name",
    "guide_version": "c.guide_version",
    "department": "c.department",
    "department_name": "COALESCE(d.name, c.department)",
    "channel": "c.channel",
    "handling_mode": "c.handling_mode",
    "applicant_id": "c.applicant_id",
    "applicant_kind": "a.kind",
    "credential_kind": "a.credential_kind",
    "erased": "a.erased",
    "state": "c.state",
    "submitted_at": "c.submitted_at",
    "pre_review_due": "c.pre_review_due",
    "accepted_on": "c.accepted_on",
    "promised_days": "c.promised_days",
    "due": "c.due",
    "due_provisional": "c.due_provisional",
    "paused_since": "c.paused_since",
    "pauses": "c.pauses",
    "next_action": "c.next_action",
    "next_detail": "c.next_detail",
}
"""What a case query selects, by name (rows come back by position)."""
_COLUMNS: Final = ", ".join(_CASE.values())
_WIDTH: Final = len(_CASE)
_STEP_COLUMNS: Final = "s.number, s.step, s.state, s.at, s.actor, s.detail, s.document"
_FROM: Final = (
    "FROM view_progress_cases c "
    "LEFT JOIN view_progress_departments d ON d.code = c.department "
    "LEFT JOIN view_progress_applicants a ON a.applicant_id = c.applicant_id"
)


def by_serial(
    view: ProgressView, serial: str, *, identity: IdentityPort | None = None
) -> CaseProgress | None:
    """The progress of the case with this serial number (申请流水号), or ``None``."""
    return _one(view, "c.serial = ?", serial, identity)


def by_serial_with_position(
    view: ProgressView,
    serial: str,
    application_name: str,
    head_statement: str,
    *,
    identity: IdentityPort | None = None,
) -> tuple[CaseProgress, int, int] | None:
    """:func:`by_serial` together with the view's tracked position and the log head
    (``head_statement``: the ledger's ``SELECT MAX(notification_id)``), in one statement —
    one round trip, one transaction, one snapshot — for a read that must see its caller's
    writes (PostgreSQL, where the view and the log share the database).

    Returns ``(progress, position, head)``, the case as of ``position``; ``None`` if the view
    has no such case (yet: the caller waits for the view and looks again). Position and
    head are uncorrelated subqueries (evaluated once), so the case is found by the same
    index look-ups as :func:`by_serial`."""
    if not isinstance(serial, str) or not serial or len(serial) > 80:
        return None
    store: Any = view.store
    rows = store.select(
        f"SELECT ({head_statement}), (SELECT MAX(notification_id) FROM "
        f"{store.tracking_table_name} WHERE application_name = ?), {_COLUMNS}, "
        f"{_STEP_COLUMNS} {_FROM} LEFT JOIN view_progress_steps s ON s.case_id = c.case_id "
        "WHERE c.serial = ? ORDER BY c.case_id, s.number",
        (application_name, serial),
    )
    found = _assemble([r[2:] for r in rows], identity)
    if found is None:
        return None
    return found, int(rows[0][1] or 0), int(rows[0][0] or 0)


def by_approval_code(
    view: ProgressView, approval_code: str, *, identity: IdentityPort | None = None
) -> CaseProgress | None:
    """The progress of the case with this approval code (统一审批编码, NH·11), or ``None``."""
    return _one(view, "c.approval_code = ?", approval_code, identity)


def by_credential_index(
    view: ProgressView,
    index: bytes,
    *,
    offset: int = 0,
    limit: int = 20,
    identity: IdentityPort | None = None,
) -> Page[CaseProgress]:
    """The cases of the applicant whose credential has this blind index (see
    :func:`credential_index`), newest first. An erased applicant has none."""
    check_page(offset, limit)
    if not isinstance(index, bytes) or not index:
        raise ValueError("index: must be the credential's blind index (bytes)")
    steps: dict[str, list[tuple[Any, ...]]] = {}
    with view.store.transaction(commit=False) as tx:
        tx.execute(
            "SELECT COUNT(*) FROM view_progress_applicants a JOIN view_progress_cases c "
            "ON c.applicant_id = a.applicant_id WHERE a.credential_index = ?",
            (index,),
        )
        counted = tx.fetchone()
        tx.execute(
            f"SELECT {_COLUMNS} {_FROM} WHERE a.credential_index = ? "
            "ORDER BY c.submitted_at DESC, c.serial LIMIT ? OFFSET ?",
            (index, limit, offset),
        )
        rows = tx.fetchall()
        for r in rows:
            tx.execute(
                f"SELECT {_STEP_COLUMNS} FROM view_progress_steps s WHERE s.case_id = ? "
                "ORDER BY s.number",
                (r[0],),
            )
            steps[r[0]] = tx.fetchall()
    total = int(counted[0]) if counted else 0
    return Page(tuple(_progress(r, steps[r[0]], identity) for r in rows), total, offset, limit)


def case_of_applicant(view: ProgressView, applicant_id: UUID, department: str) -> str | None:
    """The serial of a case of this applicant that ``department`` holds (the newest; any
    state), or ``None`` — what lets a department read the applicant's personal data
    (``ledger.services.personal_data``)."""
    rows = view.store.select(
        "SELECT serial FROM view_progress_cases WHERE applicant_id = ? AND department = ? "
        "ORDER BY submitted_at DESC, serial LIMIT 1",
        (str(applicant_id), department),
    )
    return str(rows[0][0]) if rows else None


def _one(
    view: ProgressView, where: str, value: str, identity: IdentityPort | None
) -> CaseProgress | None:
    """One case and its steps in one statement (one round trip, one snapshot)."""
    if not isinstance(value, str) or not value or len(value) > 80:
        return None
    rows = view.store.select(
        f"SELECT {_COLUMNS}, {_STEP_COLUMNS} {_FROM} "
        f"LEFT JOIN view_progress_steps s ON s.case_id = c.case_id WHERE {where} "
        "ORDER BY c.case_id, s.number",
        (value,),
    )
    return _assemble(rows, identity)


def _assemble(
    rows: Sequence[tuple[Any, ...]], identity: IdentityPort | None
) -> CaseProgress | None:
    """One case from its joined rows (case columns, then one step's), or ``None``."""
    if not rows:
        return None
    case = rows[0][:_WIDTH]
    steps: dict[int, tuple[Any, ...]] = {}  # by number: a repeated department code repeats rows
    for r in rows:
        if r[0] == case[0] and r[_WIDTH] is not None:
            steps.setdefault(int(r[_WIDTH]), r[_WIDTH:])
    return _progress(case, list(steps.values()), identity)


def _progress(
    row: tuple[Any, ...], steps: Sequence[tuple[Any, ...]], identity: IdentityPort | None
) -> CaseProgress:
    c = dict(zip(_CASE, row, strict=True))
    action = c["next_action"]
    shown = tuple(
        Step(
            number=int(s[0]),
            step=s[1],
            state=s[2],
            at_utc=s[3],
            at_shanghai=shanghai_text(s[3]) or "",
            department=c["department"],
            actor=s[4],
            detail=json.loads(s[5]),
        )
        for s in steps
    )
    return CaseProgress(
        serial=c["serial"],
        approval_code=c["approval_code"],
        item_code=c["item_code"],
        item_name=c["item_name"],
        guide_version=int(c["guide_version"]),
        department=c["department"],
        department_name=c["department_name"],
        channel=c["channel"],
        handling_mode=c["handling_mode"],
        state=c["state"],
        state_label=STATE_LABELS[c["state"]],
        submitted_at=shanghai_text(c["submitted_at"]) or "",
        pre_review_due=c["pre_review_due"],
        accepted_on=c["accepted_on"],
        promised_days=int(c["promised_days"]),
        due=c["due"],
        due_provisional=bool(c["due_provisional"]),
        paused_since=c["paused_since"],
        pauses=tuple((a, b) for a, b in json.loads(c["pauses"])),
        next_action=NextAction(action, _NEXT_TEXT[action], json.loads(c["next_detail"])),
        steps=shown,
        documents=tuple(str(s[6]) for s in steps if s[6] is not None),
        version=shown[-1].number if shown else 0,
        applicant=_applicant(identity, c),
    )


def _applicant(identity: IdentityPort | None, c: dict[str, Any]) -> MaskedIdentity | None:
    """The masked applicant: an erased one from the view alone, any other through the port."""
    if identity is None:
        return None
    applicant_id = UUID(c["applicant_id"])
    if c["erased"] and c["applicant_kind"] is not None:
        if isinstance(identity, IdentityCache):
            identity.forget(applicant_id)
        return MaskedIdentity(c["applicant_kind"], c["credential_kind"], ERASED_TEXT, ERASED_TEXT)
    return identity(applicant_id)
