"""Progress of a case (办件进度查询): what the applicant, a kiosk or the portal may see.

Layer: projections. RULES.md "Case lifecycle": progress is queryable by serial number or ID
number (GZ16·13, PY·13) and by approval code (NH·11); every step and result is disclosed
except secrets and private data (FZ·6, GZ16·18). DESIGN invariants 4, 5 and 7.

What the rows hold: per case its serial, approval code, item, department, state
(:class:`~ledger.cases.CaseState`), due date as the case recorded it (with the
special-procedure pauses, NH·15, ALL·45) and its provisional flag, what the applicant must
do next, and every step with its UTC time and department. To find an applicant's cases
without a bare ID number, a case row carries the applicant's credential *blind index*
(HMAC, ``ledger.privacy``) copied from ``Applicant.Registered``; ``Applicant.Erased``
clears it, so an erased applicant's cases can no longer be found by ID number.

Masking (decision): ``Applicant.Registered`` carries only sealed personal data and the
blind index — no mask. A projection must not decrypt (it would put the vault into the
rebuild path, and an erased subject would make a rebuild differ from the live rows), so
the view stores **nothing personal**. The query layer produces the masked display
(``4401**********1234``, ``张*``) through an :data:`IdentityPort`; :class:`VaultMasker`
is that port over the ledger's repository and the personal-data vault, opening the name
and credential only to mask them (a masked read reveals no personal data, so it records
no ``PersonalDataRead``, ``ledger.access``).

Kiosk verification code: cases carry none (``ledger.cases`` has no such field), so the
view stores none.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Final
from uuid import UUID

from ledger.applicants import Applicant, Vault
from ledger.cases import CaseState
from ledger.identity import Credential
from ledger.privacy import Erased
from projections.common import (
    Page,
    Topics,
    check_page,
    dumps,
    iso_date,
    read,
    shanghai_text,
    utc_text,
)
from projections.store import Table, Tx
from projections.view import View, on

__all__ = [
    "IdentityPort",
    "MaskedIdentity",
    "NextAction",
    "ProgressView",
    "Step",
    "VaultMasker",
    "by_approval_code",
    "by_credential_index",
    "by_serial",
    "credential_index",
    "mask_credential",
    "mask_name",
]

APPLICANTS = Table(
    "view_progress_applicants",
    (
        ("applicant_id", "TEXT"),
        ("credential_kind", "TEXT"),
        ("credential_index", "BLOB"),
        ("erased", "BIGINT"),
    ),
    ("applicant_id",),
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
        ("department", "TEXT"),
        ("applicant_id", "TEXT"),
        ("credential_index", "BLOB"),
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
    (("serial",), ("approval_code",), ("credential_index",), ("applicant_id",)),
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
    department: str
    department_name: str
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

    ``load(applicant_id)`` returns the :class:`~ledger.applicants.Applicant` (e.g. the
    ledger repository's ``get``). An erased applicant shows ``[erased]``.
    """

    def __init__(self, load: Callable[[UUID], Any], vault: Vault) -> None:
        self._load = load
        self._vault = vault

    def __call__(self, applicant_id: UUID) -> MaskedIdentity | None:
        try:
            applicant = self._load(applicant_id)
        except Exception:  # an unknown id is not an error of the progress query
            return None
        if not isinstance(applicant, Applicant):
            return None
        personal = applicant.personal_data(self._vault)
        credential = applicant.credential(self._vault)
        name = "[erased]" if isinstance(personal.name, Erased) else mask_name(personal.name)
        shown = "[erased]" if isinstance(credential, Erased) else mask_credential(credential.value)
        return MaskedIdentity(applicant.kind.value, applicant.credential_kind.value, name, shown)


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
            "INSERT INTO view_progress_applicants VALUES (?, ?, ?, 0)",
            (str(e.originator_id), e.credential_kind, e.credential_index),
        )

    @on(Topics.APPLICANT_ERASED)
    def erased(self, tx: Tx, e: Any) -> None:
        applicant = str(e.originator_id)
        tx.execute(
            "UPDATE view_progress_applicants SET credential_index = NULL, erased = 1 "
            "WHERE applicant_id = ?",
            (applicant,),
        )
        tx.execute(
            "UPDATE view_progress_cases SET credential_index = NULL WHERE applicant_id = ?",
            (applicant,),
        )

    @on(Topics.DEPARTMENT_REGISTERED)
    def department_registered(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "INSERT INTO view_progress_departments VALUES (?, ?, ?)",
            (str(e.originator_id), e.code, e.name),
        )

    @on(Topics.DEPARTMENT_RENAMED)
    def department_renamed(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_progress_departments SET name = ? WHERE department_id = ?",
            (e.name, str(e.originator_id)),
        )

    # -- cases ------------------------------------------------------------------------------

    @on(Topics.SUBMITTED)
    def submitted(self, tx: Tx, e: Any) -> None:
        case_id, applicant = str(e.originator_id), str(e.applicant_id)
        tx.execute(
            "SELECT credential_index FROM view_progress_applicants WHERE applicant_id = ?",
            (applicant,),
        )
        row = tx.fetchone()
        tx.execute(
            "INSERT INTO view_progress_cases VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL, 0, NULL, '[]', "
            "'none', '{}', ?)",
            (
                case_id,
                e.serial,
                e.approval_code,
                e.terms["item_code"],
                e.terms["item_name"],
                e.department,
                applicant,
                None if row is None else row[0],
                CaseState.SUBMITTED.value,
                e.channel,
                e.handling_mode,
                utc_text(e.at),
                iso_date(e.pre_review_due),
                int(e.terms["promised_limit_days"]),
                utc_text(e.at),
            ),
        )
        self._step(tx, e, CaseState.SUBMITTED, {"channel": e.channel, "location": e.location})

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
                str(e.originator_id),
            ),
        )
        self._advance(tx, e, CaseState.ACCEPTED, "none", {})
        self._step(
            tx,
            e,
            CaseState.ACCEPTED,
            {"accepted_on": iso_date(e.accepted_on), "due": iso_date(e.due), "deemed": e.deemed},
        )

    @on(Topics.REFUSED)
    def refused(self, tx: Tx, e: Any) -> None:
        self._advance(tx, e, CaseState(e.state), "finished", {})
        self._step(tx, e, CaseState(e.state), {"reasons": list(e.reasons)})

    @on(Topics.PROCEDURE_STARTED)
    def procedure_started(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_progress_cases SET paused_since = ? WHERE case_id = ?",
            (iso_date(e.started_on), str(e.originator_id)),
        )
        self._advance(tx, e, CaseState.SPECIAL_PROCEDURE, "none", {})
        self._step(
            tx,
            e,
            CaseState.SPECIAL_PROCEDURE,
            {"procedure": e.procedure, "expected_working_days": e.expected_days},
        )

    @on(Topics.PROCEDURE_ENDED)
    def procedure_ended(self, tx: Tx, e: Any) -> None:
        case_id = str(e.originator_id)
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
        )

    @on(Topics.RESULT_ISSUED)
    def result_issued(self, tx: Tx, e: Any) -> None:
        self._advance(tx, e, CaseState.RESULT_ISSUED, "none", {})
        self._step(tx, e, CaseState.RESULT_ISSUED, {"title": e.result["body"]["title"]})

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
            (state.value, action, dumps(detail), utc_text(e.at), str(e.originator_id)),
        )

    def _step(self, tx: Tx, e: Any, state: CaseState, detail: dict[str, Any]) -> None:
        """Record the step; its number is the case event's version (every case event is a
        step), so the row needs nothing read back."""
        step = type(e).__name__
        tx.execute(
            "INSERT INTO view_progress_steps VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                str(e.originator_id),
                int(e.originator_version),
                step,
                state.value,
                utc_text(e.at),
                "applicant" if step in APPLICANT_STEPS else "department",
                dumps(detail),
            ),
        )


# --- queries ------------------------------------------------------------------------------------

_COLUMNS: Final = (
    "c.case_id, c.serial, c.approval_code, c.item_code, c.item_name, c.department, "
    "COALESCE(d.name, c.department), c.applicant_id, c.state, c.submitted_at, "
    "c.pre_review_due, c.accepted_on, c.promised_days, c.due, c.due_provisional, "
    "c.paused_since, c.pauses, c.next_action, c.next_detail"
)
_FROM: Final = (
    "FROM view_progress_cases c LEFT JOIN view_progress_departments d ON d.code = c.department"
)


def by_serial(
    view: ProgressView, serial: str, *, identity: IdentityPort | None = None
) -> CaseProgress | None:
    """The progress of the case with this serial number (申请流水号), or ``None``."""
    return _one(view, "c.serial = ?", serial, identity)


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
    with view.store.transaction(commit=False) as tx:
        tx.execute("SELECT COUNT(*) FROM view_progress_cases WHERE credential_index = ?", (index,))
        counted = tx.fetchone()
        tx.execute(
            f"SELECT {_COLUMNS} {_FROM} WHERE c.credential_index = ? "
            "ORDER BY c.submitted_at DESC, c.serial LIMIT ? OFFSET ?",
            (index, limit, offset),
        )
        rows = tx.fetchall()
    total = int(counted[0]) if counted else 0
    return Page(tuple(_progress(view, r, identity) for r in rows), total, offset, limit)


def _one(
    view: ProgressView, where: str, value: str, identity: IdentityPort | None
) -> CaseProgress | None:
    if not isinstance(value, str) or not value or len(value) > 80:
        return None
    rows = read(view, f"SELECT {_COLUMNS} {_FROM} WHERE {where}", (value,))
    return _progress(view, rows[0], identity) if rows else None


def _progress(
    view: ProgressView, r: tuple[Any, ...], identity: IdentityPort | None
) -> CaseProgress:
    steps = read(
        view,
        "SELECT number, step, state, at, actor, detail FROM view_progress_steps "
        "WHERE case_id = ? ORDER BY number",
        (r[0],),
    )
    action, detail = r[17], json.loads(r[18])
    return CaseProgress(
        serial=r[1],
        approval_code=r[2],
        item_code=r[3],
        item_name=r[4],
        department=r[5],
        department_name=r[6],
        state=r[8],
        state_label=STATE_LABELS[r[8]],
        submitted_at=shanghai_text(r[9]) or "",
        pre_review_due=r[10],
        accepted_on=r[11],
        promised_days=int(r[12]),
        due=r[13],
        due_provisional=bool(r[14]),
        paused_since=r[15],
        pauses=tuple((a, b) for a, b in json.loads(r[16])),
        next_action=NextAction(action, _NEXT_TEXT[action], detail),
        steps=tuple(
            Step(
                number=int(s[0]),
                step=s[1],
                state=s[2],
                at_utc=s[3],
                at_shanghai=shanghai_text(s[3]) or "",
                department=r[5],
                actor=s[4],
                detail=json.loads(s[5]),
            )
            for s in steps
        ),
        applicant=None if identity is None else identity(UUID(r[7])),
    )
