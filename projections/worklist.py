"""Department worklists (部门待办): a department's open cases by state and due date.

Layer: projections. RULES.md "Case lifecycle" (pre-review within 5 working days, ALL·32,
NH·12; the time limit runs from acceptance, NH·14, FZ·15; special procedures pause it,
NH·15, ALL·45) and "Identity and access" (access per department, GZ20·25, NH·23, GZ16·21):
every query names one department and never returns another's case.

A row exists while the case is open (not closed, not accepted, returned or withdrawn). Its
``due`` is the date the department's current step is due as the case recorded it: the
pre-review date while the application waits for pre-review (state ``submitted``), the
promised due date from acceptance on (moved by ended special procedures); none while the
case waits for the applicant or for a review the regulations give no recorded date.
``overdue`` is computed by the query from the caller's ``today`` (a view is a pure
function of the log, DESIGN invariant 4): due before today, not paused, and waiting on
the department.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

from ledger.domain.cases import CaseState
from projections.common import Page, Topics, id_text, iso_date, paged, read, shanghai_text, utc_text
from projections.store import Table, Tx
from projections.view import View, on

__all__ = ["WorkItem", "WorklistView", "state_counts", "worklist"]

WORKLIST = Table(
    "view_worklist",
    (
        ("case_id", "TEXT"),
        ("department", "TEXT"),
        ("serial", "TEXT"),
        ("approval_code", "TEXT"),
        ("item_code", "TEXT"),
        ("item_name", "TEXT"),
        ("state", "TEXT"),
        ("waiting_on", "TEXT"),
        ("submitted_at", "TEXT"),
        ("due", "TEXT"),
        ("due_provisional", "BIGINT"),
        ("paused", "BIGINT"),
        ("updated_at", "TEXT"),
    ),
    ("case_id",),
    (("department", "due"), ("department", "state"), ("department", "item_code")),
)

WAITING_ON_APPLICANT: Final = frozenset(
    {
        CaseState.CORRECTION_REQUESTED,
        CaseState.PRE_REVIEWED,
        CaseState.DISPATCHED,
    }
)
"""States in which the next step is the applicant's (correction, materials, sign-off)."""


@dataclass(frozen=True)
class WorkItem:
    """One open case on a department's worklist."""

    serial: str
    approval_code: str
    item_code: str
    item_name: str
    state: str
    waiting_on: str
    submitted_at: str
    due: str | None
    due_provisional: bool
    paused: bool
    overdue: bool


class WorklistView(View):
    """Open cases per department."""

    name = "worklist"
    tables = (WORKLIST,)

    @on(Topics.SUBMITTED)
    def submitted(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "INSERT INTO view_worklist VALUES (?, ?, ?, ?, ?, ?, ?, 'department', ?, ?, 0, 0, ?)",
            (
                id_text(e.originator_id),
                e.department,
                e.serial,
                e.approval_code,
                e.terms["item_code"],
                e.terms["item_name"],
                CaseState.SUBMITTED.value,
                utc_text(e.at),
                iso_date(e.pre_review_due),
                utc_text(e.at),
            ),
        )

    @on(
        Topics.PRE_REVIEW_PASSED,
        Topics.CORRECTION_REQUESTED,
        Topics.CORRECTED,
        Topics.MATERIALS_DELIVERED,
    )
    def before_acceptance(self, tx: Tx, e: Any) -> None:
        state = {
            "PreReviewPassed": CaseState.PRE_REVIEWED,
            "CorrectionRequested": CaseState.CORRECTION_REQUESTED,
            "Corrected": CaseState.CORRECTED,
            "MaterialsDelivered": CaseState.MATERIALS_RECEIVED,
        }[type(e).__name__]
        tx.execute(
            "UPDATE view_worklist SET state = ?, waiting_on = ?, due = NULL, "
            "due_provisional = 0, updated_at = ? WHERE case_id = ?",
            (state.value, _waiting(state), utc_text(e.at), id_text(e.originator_id)),
        )

    @on(Topics.ACCEPTED, Topics.PROCEDURE_ENDED, Topics.TIME_LIMIT_EXTENDED)
    def timed(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_worklist SET state = ?, waiting_on = 'department', due = ?, "
            "due_provisional = ?, paused = 0, updated_at = ? WHERE case_id = ?",
            (
                CaseState.ACCEPTED.value,
                iso_date(e.due),
                int(e.due_provisional),
                utc_text(e.at),
                id_text(e.originator_id),
            ),
        )

    @on(Topics.PROCEDURE_STARTED)
    def paused(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_worklist SET state = ?, paused = 1, updated_at = ? WHERE case_id = ?",
            (CaseState.SPECIAL_PROCEDURE.value, utc_text(e.at), id_text(e.originator_id)),
        )

    @on(
        Topics.DECIDED,
        Topics.RESULT_ISSUED,
        Topics.CERTIFICATE_RECORDED,
        Topics.DISPATCHED,
        Topics.DELIVERY_FAILED,
        Topics.DELIVERED,
    )
    def after_decision(self, tx: Tx, e: Any) -> None:
        name = type(e).__name__
        state = (
            CaseState(e.state)
            if name == "Decided"
            else {
                "ResultIssued": CaseState.RESULT_ISSUED,
                "CertificateRecorded": CaseState.RESULT_ISSUED,
                "Dispatched": CaseState.DISPATCHED,
                "DeliveryFailed": CaseState.DELIVERY_FAILED,
                "Delivered": CaseState.DELIVERED,
            }[name]
        )
        tx.execute(
            "UPDATE view_worklist SET state = ?, waiting_on = ?, updated_at = ? WHERE case_id = ?",
            (state.value, _waiting(state), utc_text(e.at), id_text(e.originator_id)),
        )

    @on(Topics.REFUSED, Topics.CLOSED, Topics.WITHDRAWN)
    def ended(self, tx: Tx, e: Any) -> None:
        tx.execute("DELETE FROM view_worklist WHERE case_id = ?", (id_text(e.originator_id),))


def _waiting(state: CaseState) -> str:
    return "applicant" if state in WAITING_ON_APPLICANT else "department"


_SELECT: Final = (
    "serial, approval_code, item_code, item_name, state, waiting_on, submitted_at, due, "
    "due_provisional, paused"
)


def worklist(
    view: WorklistView,
    department: str,
    *,
    today: dt.date,
    state: str | None = None,
    item_code: str | None = None,
    overdue: bool | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page[WorkItem]:
    """One department's open cases, soonest due first (undated last), then by serial.

    Filters: ``state`` (a :class:`~ledger.domain.cases.CaseState` value), ``item_code``, and
    ``overdue`` (true: only overdue as of ``today``; false: only not overdue). Raises
    ``ValueError`` for an unknown state, a missing department or a bad page.
    """
    if not isinstance(department, str) or not department:
        raise ValueError("department: a worklist belongs to one department")
    where = ["department = ?"]
    params: list[Any] = [department]
    if state is not None:
        where.append("state = ?")
        params.append(CaseState(state).value)
    if item_code is not None:
        where.append("item_code = ?")
        params.append(item_code)
    late = "(due IS NOT NULL AND due < ? AND paused = 0 AND waiting_on = 'department')"
    if overdue is True:
        where.append(late)
        params.append(today.isoformat())
    elif overdue is False:
        where.append(f"NOT {late}")
        params.append(today.isoformat())
    text = today.isoformat()

    def build(r: tuple[Any, ...]) -> WorkItem:
        return WorkItem(
            serial=r[0],
            approval_code=r[1],
            item_code=r[2],
            item_name=r[3],
            state=r[4],
            waiting_on=r[5],
            submitted_at=shanghai_text(r[6]) or "",
            due=r[7],
            due_provisional=bool(r[8]),
            paused=bool(r[9]),
            overdue=r[7] is not None and r[7] < text and not r[9] and r[5] == "department",
        )

    return paged(
        view,
        _SELECT,
        "FROM view_worklist WHERE " + " AND ".join(where),
        params,
        "CASE WHEN due IS NULL THEN 1 ELSE 0 END, due, serial",
        offset,
        limit,
        build,
    )


def state_counts(view: WorklistView, department: str) -> dict[str, int]:
    """How many open cases of ``department`` are in each state."""
    rows = read(
        view,
        "SELECT state, COUNT(*) FROM view_worklist WHERE department = ? GROUP BY state "
        "ORDER BY state",
        (department,),
    )
    return {r[0]: int(r[1]) for r in rows}
