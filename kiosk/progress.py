"""What the kiosk shows of a case: its timeline, what the applicant must do next, its due date.

Layer: kiosk (query side). RULES.md "Case lifecycle": progress is disclosed to the applicant
(GZ16·13, PY·13, NH·11) except secrets and private data (FZ·6, GZ16·18) — the kiosk shows no
name, ID number or address, only the item, department, steps and dates.

Source: the case aggregate's own events, read through the ledger's event store
(``CaseService.case`` plus ``repository.event_store``), until the progress read model
(``projections.progress``) is registered with ``caseledger serve``; the rows are the same facts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

from eventsourcing.application import AggregateNotFoundError

from ledger.domain.calendar import to_shanghai
from ledger.domain.cases import Case, CaseState
from ledger.domain.departments import Department
from ledger.errors import LedgerError
from ledger.services.application import LedgerApplication

__all__ = ["CaseView", "Step", "case_view"]

STEP_LABELS: Final = {
    "Submitted": ("提交申请", "Application submitted"),
    "PreReviewPassed": ("预审通过", "Pre-review passed"),
    "CorrectionRequested": ("一次性告知补正", "Correction requested (one notice)"),
    "Corrected": ("已补正材料", "Materials corrected"),
    "MaterialsDelivered": ("材料已递交", "Materials delivered"),
    "Accepted": ("已受理", "Accepted"),
    "Refused": ("不予受理 / 退件", "Not accepted / returned"),
    "SpecialProcedureStarted": ("特殊程序开始（暂停计时）", "Special procedure (clock paused)"),
    "SpecialProcedureEnded": ("特殊程序结束", "Special procedure ended"),
    "FeeAssessed": ("核定收费", "Fee assessed"),
    "FeePaid": ("已缴费", "Fee paid"),
    "Decided": ("作出决定", "Decision made"),
    "ResultIssued": ("出具结果文书", "Result document issued"),
    "CertificateRecorded": ("颁发电子证照", "E-certificate issued"),
    "Dispatched": ("送达中", "Result dispatched"),
    "DeliveryFailed": ("送达未果", "Delivery failed"),
    "Delivered": ("已送达", "Delivered"),
    "Closed": ("已办结", "Closed"),
    "Withdrawn": ("已撤回", "Withdrawn"),
}
STATE_LABELS: Final = {
    CaseState.SUBMITTED: ("已提交，待预审", "Submitted, awaiting pre-review"),
    CaseState.CORRECTION_REQUESTED: ("待补齐补正", "Waiting for your corrections"),
    CaseState.CORRECTED: ("已补正，待预审", "Corrected, awaiting pre-review"),
    CaseState.PRE_REVIEWED: ("预审通过，待递交材料", "Pre-reviewed, deliver the materials"),
    CaseState.MATERIALS_RECEIVED: ("材料已递交，待受理", "Materials received"),
    CaseState.ACCEPTED: ("已受理，办理中", "Accepted, in progress"),
    CaseState.SPECIAL_PROCEDURE: ("特殊程序中", "Special procedure"),
    CaseState.APPROVED: ("准予批准，待出证", "Approved, result being issued"),
    CaseState.DISAPPROVED: ("不予批准，待送达", "Not approved, decision being delivered"),
    CaseState.RESULT_ISSUED: ("已出证，待送达", "Result issued, awaiting delivery"),
    CaseState.DISPATCHED: ("送达中", "Being delivered"),
    CaseState.DELIVERY_FAILED: ("送达未果", "Delivery failed"),
    CaseState.DELIVERED: ("已送达", "Delivered"),
    CaseState.CLOSED: ("已办结", "Closed"),
    CaseState.NOT_ACCEPTED: ("不予受理", "Not accepted"),
    CaseState.RETURNED: ("已退件", "Returned"),
    CaseState.WITHDRAWN: ("已撤回", "Withdrawn"),
}
NEXT_ACTIONS: Final = {
    CaseState.SUBMITTED: ("无需操作，请等待预审", "Nothing to do: wait for pre-review"),
    CaseState.CORRECTION_REQUESTED: (
        "请按补正通知书一次性补齐材料",
        "Supply every material listed in the correction notice",
    ),
    CaseState.CORRECTED: ("无需操作，请等待预审", "Nothing to do: wait for pre-review"),
    CaseState.PRE_REVIEWED: (
        "请递交纸质材料（现场或寄递）",
        "Deliver the paper materials (on site or by courier)",
    ),
    CaseState.MATERIALS_RECEIVED: ("无需操作，请等待受理", "Nothing to do: wait for acceptance"),
    CaseState.ACCEPTED: ("无需操作，请等待办理结果", "Nothing to do: wait for the result"),
    CaseState.SPECIAL_PROCEDURE: (
        "无需操作，特殊程序不计入办理时限",
        "Nothing to do: the special procedure does not count toward the limit",
    ),
    CaseState.APPROVED: ("无需操作，请等待出证", "Nothing to do: the result is being issued"),
    CaseState.DISAPPROVED: ("请签收不予批准决定书", "Sign for the decision when delivered"),
    CaseState.RESULT_ISSUED: ("请等待送达或前来领取", "Wait for delivery or collect it"),
    CaseState.DISPATCHED: ("请签收办理结果", "Sign for the result"),
    CaseState.DELIVERY_FAILED: ("请联系办理部门", "Contact the department"),
    CaseState.DELIVERED: ("无需操作", "Nothing to do"),
    CaseState.CLOSED: (
        "已办结：可打印结果，并请对本次服务评价",
        "Closed: print your result and rate the service",
    ),
    CaseState.NOT_ACCEPTED: ("可依告知理由重新申请", "You may apply again as the notice says"),
    CaseState.RETURNED: ("可依告知理由重新申请", "You may apply again as the notice says"),
    CaseState.WITHDRAWN: ("无需操作", "Nothing to do"),
}


@dataclass(frozen=True)
class Step:
    """One step of the timeline, in Asia/Shanghai time."""

    at: str
    zh: str
    en: str


@dataclass(frozen=True)
class CaseView:
    """A case as the kiosk discloses it."""

    serial: str
    case_id: str
    applicant_id: str
    department: str
    department_name: str
    item_name: str
    state: str
    state_zh: str
    state_en: str
    next_zh: str
    next_en: str
    due: str | None
    closed: bool
    steps: tuple[Step, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "item_name": self.item_name,
            "department": self.department_name,
            "state": self.state,
            "state_label": self.state_zh,
            "next_action": self.next_zh,
            "due": self.due,
            "closed": self.closed,
            "steps": [{"at": s.at, "step": s.zh, "en": s.en} for s in self.steps],
        }


def _local(at: dt.datetime) -> str:
    return to_shanghai(at).strftime("%Y-%m-%d %H:%M")


def case_view(ledger: LedgerApplication, serial: str) -> CaseView | None:
    """The kiosk's view of case ``serial``, or None when there is no such case."""
    try:
        case: Any = ledger.repository.get(Case.id_for(serial))
    except (AggregateNotFoundError, LedgerError, ValueError):
        return None
    if not isinstance(case, Case):
        return None
    steps: list[Step] = []
    for stored in ledger.recorder.select_events(case.id):
        name = stored.topic.rpartition(".")[2]
        zh, en = STEP_LABELS.get(name, (name, name))
        event: Any = ledger.mapper.to_domain_event(stored)
        if name == "Decided":
            approved = getattr(event, "state", "") == CaseState.APPROVED.value
            zh, en = ("准予批准", "Approved") if approved else ("不予批准", "Not approved")
        at = getattr(event, "at", None)
        when = at if isinstance(at, dt.datetime) else event.timestamp
        steps.append(Step(_local(when), zh, en))
    try:
        department: Any = ledger.repository.get(Department.id_for(case.department))
        department_name = str(department.name)
    except (AggregateNotFoundError, LedgerError):
        department_name = case.department
    state_zh, state_en = STATE_LABELS[case.state]
    next_zh, next_en = NEXT_ACTIONS[case.state]
    return CaseView(
        serial=case.serial,
        case_id=str(case.id),
        applicant_id=str(case.applicant_id),
        department=case.department,
        department_name=department_name,
        item_name=case.item_name,
        state=case.state.value,
        state_zh=state_zh,
        state_en=state_en,
        next_zh=next_zh,
        next_en=next_en,
        due=case.due.isoformat() if case.due else None,
        closed=case.state is CaseState.CLOSED,
        steps=tuple(steps),
    )
