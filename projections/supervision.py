"""Electronic supervision (电子监察): traffic lights on open cases, and supervised flags.

Layer: projections. RULES.md "Supervision": yellow when a case nears its time limit, red when
it is over (FZ·24); a red case without an explanation leads to a supervision order the
department answers in a set time (FZ·24); thresholds configurable, default yellow at ≤ 20 %
of the promised working days left or ≤ 2 working days; also supervised (GZ20·26, FZ·26):
paper demanded for a fully online item, e-certificates not generated or not used, work done
off the system then back-filled. "Time": working days per the holiday table; a year without
a published schedule is counted on weekdays and marked provisional.

Purity (DESIGN invariant 4). Lights depend on "today", so the rows store only facts of the
log — each open case's clock (which limit runs, from which date, its recorded due date and
provisional flag, the start of a running special procedure) — and :func:`case_lights` and
:func:`summary` compute the light from the caller's ``today`` and the holiday table.

The clock of a case, by state:

- ``submitted``: pre-review, due on the recorded ``pre_review_due`` (5 working days, ALL·32);
- ``corrected`` / ``materials_received``: the department reviews within 5 working days of
  the correction or delivery (FZ·15, NH·13; the date counted by the query);
- ``correction_requested`` / ``pre_reviewed``: the applicant's turn — not timed, green;
- ``accepted``: the promised limit from the acceptance date to the recorded due date
  (NH·14, FZ·15); during a special procedure the clock stands: the working days left are
  those left the day before it started (NH·15, ALL·45);
- decided and later: the light is fixed by the decision — red when decided after its due
  date (the decision document's ``on_time``, GZ20·12), green otherwise.

Flags (counted per case or record, open or closed):

- ``second_correction`` — a correction request after the first (一次性告知, GZ20·11, FZ·15);
- ``paper_demanded`` — materials delivered on site or by courier for a fully online item
  (GZ20·26), or for a case whose materials were all delivered online (NH·13: no paper later);
- ``reupload_demanded`` — a held e-certificate asked for again (GZ16·15, GZ20·13);
- ``closed_without_certificate`` — an approved case whose guide's result is a certificate
  closed with no e-certificate recorded (GZ16·15, NH·20, FZ·19; GZ20·26 "not generated");
- ``backfilled`` — a case step recorded (the event's ``timestamp``) longer than the
  threshold (default 24 h) after the time it reports (``at``) (FZ·26 体外循环后补录);
- ``consultation_overdue`` / ``complaint_overdue`` — unanswered after the due date, or
  answered late (GZ20·8, FZ·9);
- ``certificate_dispute_overdue`` — an objection unanswered after its 3 working days (or
  its extension), or answered late (GZ20·23);
- ``supervision_order_overdue`` — an order unanswered after its due date, or answered late
  (FZ·24);
- ``repeated_refusals`` — an official whose attempts beyond their authority were refused at
  least the threshold number of times (default 3, a default not a rule; FZ·26(二)(五));
- ``window_veto`` — a window application refused (不予受理 or 退件): its 窗口否决报备单 is
  reported to the managing office (FZ·16), which reviews each one;
- ``duplicate_registration`` — a credential registered as a second applicant account (the
  same blind index), the supervised matter of GZ20·26(三) (not joined to the unified
  identity platform); an erased account no longer counts;
- ``anchoring_lag`` — events wait to be anchored and the last anchor receipt is older than
  the threshold (default 1 h; an upper bound of the oldest unanchored event's wait).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from ledger.domain.calendar import HolidayTable, default_table
from ledger.domain.cases import PRE_REVIEW_WORKING_DAYS, CaseState
from ledger.domain.catalogue import HandlingMode, ResultType
from projections.common import (
    Page,
    Topics,
    check_page,
    id_text,
    iso_date,
    local_date,
    read,
    utc_text,
)
from projections.store import Table, Tx
from projections.view import View, on

__all__ = [
    "FLAGS",
    "AnchoringStatus",
    "CaseLight",
    "Flag",
    "Light",
    "SupervisionSummary",
    "SupervisionThresholds",
    "SupervisionView",
    "case_lights",
    "deductions",
    "flags",
    "needing_orders",
    "summary",
]

CASES = Table(
    "view_sup_cases",
    (
        ("case_id", "TEXT"),
        ("serial", "TEXT"),
        ("department", "TEXT"),
        ("item_code", "TEXT"),
        ("state", "TEXT"),
        ("open", "BIGINT"),
        ("handling_mode", "TEXT"),
        ("result_type", "TEXT"),
        ("approved", "BIGINT"),
        ("certificates", "BIGINT"),
        ("clock", "TEXT"),
        ("clock_from", "TEXT"),
        ("limit_days", "BIGINT"),
        ("promised_days", "BIGINT"),
        ("due", "TEXT"),
        ("due_provisional", "BIGINT"),
        ("paused_since", "TEXT"),
        ("decided_on", "TEXT"),
        ("on_time", "BIGINT"),
        ("backfill_seconds", "BIGINT"),
        ("backfill_step", "TEXT"),
        ("updated_at", "TEXT"),
        ("paper_materials", "BIGINT"),
    ),
    ("case_id",),
    (("open", "department"), ("serial",)),
)
FLAG_ROWS = Table(
    "view_sup_flags",
    (
        ("subject", "TEXT"),
        ("flag", "TEXT"),
        ("department", "TEXT"),
        ("case_serial", "TEXT"),
        ("at", "TEXT"),
        ("detail", "TEXT"),
    ),
    ("subject", "flag"),
    (("flag", "department"),),
)
DEADLINES = Table(
    "view_sup_deadlines",
    (
        ("subject", "TEXT"),
        ("kind", "TEXT"),
        ("department", "TEXT"),
        ("case_id", "TEXT"),
        ("case_serial", "TEXT"),
        ("reason", "TEXT"),
        ("opened_at", "TEXT"),
        ("due", "TEXT"),
        ("provisional", "BIGINT"),
        ("answered_at", "TEXT"),
        ("late", "BIGINT"),
        ("closed", "BIGINT"),
    ),
    ("subject",),
    (("kind", "department"), ("case_id",)),
)
REFERENCES = Table(
    "view_sup_references",
    (("reference_id", "TEXT"), ("case_id", "TEXT"), ("case_serial", "TEXT")),
    ("reference_id",),
)
REFUSALS = Table(
    "view_sup_refusals",
    (
        ("staff_code", "TEXT"),
        ("department", "TEXT"),
        ("refusals", "BIGINT"),
        ("last_at", "TEXT"),
        ("last_detail", "TEXT"),
    ),
    ("staff_code",),
)
RED_LIGHTS = Table(
    "view_sup_red_lights",
    (
        ("record_id", "TEXT"),
        ("case_id", "TEXT"),
        ("department", "TEXT"),
        ("explained_at", "TEXT"),
        ("deducted_points", "BIGINT"),
    ),
    ("record_id",),
    (("case_id",), ("department",)),
)
"""FZ·24: a department's own explanation of a red case, and the points deducted for it."""
CREDENTIALS = Table(
    "view_sup_credentials",
    (("applicant_id", "TEXT"), ("credential_index", "TEXT"), ("registered_at", "TEXT")),
    ("applicant_id",),
    (("credential_index",),),
)
"""GZ20·26(三): each live applicant account's credential blind index (hex, never the value)."""
ANCHORS = Table(
    "view_sup_anchors",
    (("origin_id", "TEXT"), ("size", "BIGINT"), ("anchored_at", "TEXT")),
    ("origin_id",),
)

SECOND_CORRECTION: Final = "second_correction"
PAPER_DEMANDED: Final = "paper_demanded"
REUPLOAD_DEMANDED: Final = "reupload_demanded"
CLOSED_WITHOUT_CERTIFICATE: Final = "closed_without_certificate"
BACKFILLED: Final = "backfilled"
CONSULTATION_OVERDUE: Final = "consultation_overdue"
COMPLAINT_OVERDUE: Final = "complaint_overdue"
DISPUTE_OVERDUE: Final = "certificate_dispute_overdue"
ORDER_OVERDUE: Final = "supervision_order_overdue"
REPEATED_REFUSALS: Final = "repeated_refusals"
WINDOW_VETO: Final = "window_veto"
DUPLICATE_REGISTRATION: Final = "duplicate_registration"
ANCHORING_LAG: Final = "anchoring_lag"
FLAGS: Final = (
    SECOND_CORRECTION,
    PAPER_DEMANDED,
    REUPLOAD_DEMANDED,
    CLOSED_WITHOUT_CERTIFICATE,
    BACKFILLED,
    CONSULTATION_OVERDUE,
    COMPLAINT_OVERDUE,
    DISPUTE_OVERDUE,
    ORDER_OVERDUE,
    REPEATED_REFUSALS,
    WINDOW_VETO,
    DUPLICATE_REGISTRATION,
    ANCHORING_LAG,
)
"""Every flag, in the order summaries list them."""

_DEADLINE_FLAGS: Final = {
    "enquiry": CONSULTATION_OVERDUE,
    "suggestion": CONSULTATION_OVERDUE,
    "complaint": COMPLAINT_OVERDUE,
    "certificate_dispute": DISPUTE_OVERDUE,
    "supervision_order": ORDER_OVERDUE,
}

APPLICANT_CLOCK: Final = "applicant"
"""The case waits for the applicant: no department limit runs."""


class Light:
    """The three lights (绿灯, 黄灯, 红灯)."""

    GREEN: Final = "green"
    YELLOW: Final = "yellow"
    RED: Final = "red"
    ALL: Final = (GREEN, YELLOW, RED)


@dataclass(frozen=True)
class SupervisionThresholds:
    """When a light turns and a flag is raised (RULES.md "Supervision": configurable).

    Yellow when the working days left are ≤ ``yellow_percent`` % of the limit or ≤
    ``yellow_days``; red when overdue. Raises ``ValueError`` naming a bad field."""

    yellow_percent: int = 20
    yellow_days: int = 2
    backfill: dt.timedelta = dt.timedelta(hours=24)
    anchoring_lag: dt.timedelta = dt.timedelta(hours=1)
    refusals: int = 3
    """Refused attempts of one official that raise ``repeated_refusals`` (a default)."""

    def __post_init__(self) -> None:
        if self.refusals < 1:
            raise ValueError("refusals: must be at least 1")
        if not 0 <= self.yellow_percent <= 100:
            raise ValueError("yellow_percent: must be 0–100")
        if not 0 <= self.yellow_days <= 365:
            raise ValueError("yellow_days: must be 0–365")
        if self.backfill <= dt.timedelta(0) or self.anchoring_lag <= dt.timedelta(0):
            raise ValueError("backfill, anchoring_lag: must be positive durations")


DEFAULT_THRESHOLDS: Final = SupervisionThresholds()


@dataclass(frozen=True)
class CaseLight:
    """The light of one open case as of ``today``."""

    serial: str
    department: str
    item_code: str
    state: str
    clock: str
    light: str
    days_left: int | None
    limit_days: int | None
    due: str | None
    provisional: bool
    paused: bool
    explained: bool
    order_open: bool
    explained_by_department: bool = False
    """The department explained the delay itself (主动说明, FZ·24): no order is due."""
    deducted_points: int = 0
    """Assessment points deducted from the department for this red case (考核扣分, FZ·24)."""


@dataclass(frozen=True)
class Flag:
    """One supervised irregularity: which, on what, of which department, and when."""

    flag: str
    subject: str
    department: str
    case_serial: str
    at: str
    detail: str


@dataclass(frozen=True)
class AnchoringStatus:
    """How far anchoring trails the log (given the log head and the caller's clock)."""

    anchored_size: int
    log_head: int
    waiting: int
    last_anchor_at: str
    seconds_since: int
    lagging: bool


@dataclass(frozen=True)
class DepartmentSupervision:
    lights: dict[str, int]
    flags: dict[str, int]
    needs_order: int
    deducted_points: int = 0
    """Assessment points deducted for red cases (考核扣分, FZ·24), open or ended."""


@dataclass(frozen=True)
class SupervisionSummary:
    """Counts per light and flag, overall and per department, as of ``today``."""

    today: str
    open_cases: int
    lights: dict[str, int]
    flags: dict[str, int]
    needs_order: int
    provisional: int
    paused: int
    by_department: dict[str, DepartmentSupervision] = field(default_factory=dict)
    anchoring: AnchoringStatus | None = None
    deducted_points: int = 0


class SupervisionView(View):
    """Case clocks, irregularity flags, answer deadlines and anchoring receipts."""

    name = "supervision"
    tables = (CASES, FLAG_ROWS, DEADLINES, REFERENCES, REFUSALS, ANCHORS, RED_LIGHTS, CREDENTIALS)

    # -- cases ------------------------------------------------------------------------------

    @on(Topics.SUBMITTED)
    def submitted(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "INSERT INTO view_sup_cases VALUES "
            "(?, ?, ?, ?, ?, 1, ?, ?, 0, 0, 'pre_review', ?, ?, ?, ?, 0, NULL, NULL, NULL, "
            "?, 'Submitted', ?, ?)",
            (
                id_text(e.originator_id),
                e.serial,
                e.department,
                e.terms["item_code"],
                CaseState.SUBMITTED.value,
                e.handling_mode,
                e.terms["result_type"],
                iso_date(e.submitted_on),
                PRE_REVIEW_WORKING_DAYS,
                int(e.terms["promised_limit_days"]),
                iso_date(e.pre_review_due),
                _lag(e),
                utc_text(e.at),
                _paper(e.materials),
            ),
        )

    @on(Topics.CORRECTION_REQUESTED)
    def correction_requested(self, tx: Tx, e: Any) -> None:
        self._clock(tx, e, CaseState.CORRECTION_REQUESTED, APPLICANT_CLOCK, None, None)
        if e.repeat:
            self._flag(tx, e, SECOND_CORRECTION, f"round {e.round_number}: {e.materials}")

    @on(Topics.CORRECTED)
    def corrected(self, tx: Tx, e: Any) -> None:
        self._clock(tx, e, CaseState.CORRECTED, "review", local_date(e.at), PRE_REVIEW_WORKING_DAYS)
        if _paper(e.materials):
            tx.execute(
                "UPDATE view_sup_cases SET paper_materials = 1 WHERE case_id = ?",
                (id_text(e.originator_id),),
            )

    @on(Topics.PRE_REVIEW_PASSED)
    def pre_reviewed(self, tx: Tx, e: Any) -> None:
        self._clock(tx, e, CaseState.PRE_REVIEWED, APPLICANT_CLOCK, None, None)

    @on(Topics.MATERIALS_DELIVERED)
    def materials_delivered(self, tx: Tx, e: Any) -> None:
        self._clock(
            tx,
            e,
            CaseState.MATERIALS_RECEIVED,
            "review",
            local_date(e.at),
            PRE_REVIEW_WORKING_DAYS,
        )
        if e.method in ("on_site", "courier"):
            tx.execute(
                "SELECT handling_mode, paper_materials FROM view_sup_cases WHERE case_id = ?",
                (id_text(e.originator_id),),
            )
            row = tx.fetchone()
            if row is not None and row[0] == HandlingMode.FULL_ONLINE.value:
                self._flag(tx, e, PAPER_DEMANDED, f"materials delivered {e.method}")
            elif row is not None and not row[1]:  # every material was delivered online
                self._flag(
                    tx,
                    e,
                    PAPER_DEMANDED,
                    f"paper delivered {e.method} after online delivery (NH·13)",
                )

    @on(Topics.ACCEPTED)
    def accepted(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_sup_cases SET clock = 'promised', clock_from = ?, "
            "limit_days = promised_days, due = ?, due_provisional = ? WHERE case_id = ?",
            (
                iso_date(e.accepted_on),
                iso_date(e.due),
                int(e.due_provisional),
                id_text(e.originator_id),
            ),
        )
        self._state(tx, e, CaseState.ACCEPTED)

    @on(Topics.PROCEDURE_STARTED)
    def procedure_started(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_sup_cases SET paused_since = ? WHERE case_id = ?",
            (iso_date(e.started_on), id_text(e.originator_id)),
        )
        self._state(tx, e, CaseState.SPECIAL_PROCEDURE)

    @on(Topics.PROCEDURE_ENDED)
    def procedure_ended(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_sup_cases SET paused_since = NULL, due = ?, due_provisional = ? "
            "WHERE case_id = ?",
            (iso_date(e.due), int(e.due_provisional), id_text(e.originator_id)),
        )
        self._state(tx, e, CaseState.ACCEPTED)

    @on(Topics.TIME_LIMIT_EXTENDED)
    def time_limit_extended(self, tx: Tx, e: Any) -> None:
        """ALL·42: the extended due date is the one the lights are judged by."""
        tx.execute(
            "UPDATE view_sup_cases SET due = ?, due_provisional = ? WHERE case_id = ?",
            (iso_date(e.due), int(e.due_provisional), id_text(e.originator_id)),
        )
        self._state(tx, e, CaseState.ACCEPTED)

    @on(Topics.FEE_ASSESSED, Topics.FEE_PAID)
    def fee(self, tx: Tx, e: Any) -> None:
        self._state(tx, e, CaseState.ACCEPTED)

    @on(Topics.DECIDED)
    def decided(self, tx: Tx, e: Any) -> None:
        state = CaseState(e.state)
        body = e.decision["body"]
        tx.execute(
            "UPDATE view_sup_cases SET clock = 'decided', decided_on = ?, on_time = ?, "
            "approved = ? WHERE case_id = ?",
            (
                iso_date(body["decided_on"]),
                int(bool(body["on_time"])),
                int(state is CaseState.APPROVED),
                id_text(e.originator_id),
            ),
        )
        self._state(tx, e, state)

    @on(Topics.CERTIFICATE_RECORDED)
    def certificate_recorded(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_sup_cases SET certificates = certificates + 1 WHERE case_id = ?",
            (id_text(e.originator_id),),
        )
        self._state(tx, e, CaseState.RESULT_ISSUED)

    @on(Topics.RESULT_ISSUED)
    def result_issued(self, tx: Tx, e: Any) -> None:
        self._state(tx, e, CaseState.RESULT_ISSUED)

    @on(Topics.DISPATCHED, Topics.DELIVERY_FAILED, Topics.DELIVERED)
    def delivery(self, tx: Tx, e: Any) -> None:
        self._state(
            tx,
            e,
            {
                "Dispatched": CaseState.DISPATCHED,
                "DeliveryFailed": CaseState.DELIVERY_FAILED,
                "Delivered": CaseState.DELIVERED,
            }[type(e).__name__],
        )

    @on(Topics.CLOSED)
    def closed(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "SELECT approved, certificates, result_type FROM view_sup_cases WHERE case_id = ?",
            (id_text(e.originator_id),),
        )
        row = tx.fetchone()
        if row is not None and row[0] and not row[1] and row[2] == ResultType.CERTIFICATE.value:
            self._flag(tx, e, CLOSED_WITHOUT_CERTIFICATE, "closed with no e-certificate")
        self._state(tx, e, CaseState.CLOSED, open_=False)

    @on(Topics.REFUSED)
    def refused(self, tx: Tx, e: Any) -> None:
        self._state(tx, e, CaseState(e.state), open_=False)
        report = getattr(e, "report", None)
        if report is not None:  # 窗口否决报备单, reported to the managing office (FZ·16)
            body = report["body"]
            self._flag(
                tx, e, WINDOW_VETO, f"{body['decision']}: {'; '.join(body['reasons'])} (FZ·16)"
            )

    @on(Topics.WITHDRAWN)
    def withdrawn(self, tx: Tx, e: Any) -> None:
        self._state(tx, e, CaseState.WITHDRAWN, open_=False)

    # -- certificates re-uploaded ---------------------------------------------------------

    @on(Topics.REFERENCED)
    def referenced(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "INSERT INTO view_sup_references VALUES (?, ?, ?)",
            (id_text(e.originator_id), str(e.case_id), e.case_serial),
        )

    @on(Topics.REUPLOAD_DEMANDED)
    def reupload_demanded(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "SELECT case_serial FROM view_sup_references WHERE reference_id = ?",
            (id_text(e.originator_id),),
        )
        row = tx.fetchone()
        tx.execute(
            "INSERT INTO view_sup_flags VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (subject, flag) DO NOTHING",
            (
                id_text(e.originator_id),
                REUPLOAD_DEMANDED,
                e.department,
                "" if row is None else row[0],
                utc_text(e.demanded_at),
                e.rule,
            ),
        )

    # -- deadlines: consultations, disputes, supervision orders -----------------------------

    @on(Topics.CONSULTATION_RECEIVED)
    def consultation(self, tx: Tx, e: Any) -> None:
        self._deadline(
            tx,
            e,
            e.kind,
            e.department,
            None,
            e.case_serial,
            "",
            e.received_at,
            e.due,
            e.provisional,
        )

    @on(Topics.DISPUTE_RAISED)
    def dispute(self, tx: Tx, e: Any) -> None:
        self._deadline(
            tx,
            e,
            "certificate_dispute",
            e.issuer_department,
            None,
            "",
            e.identifier,
            e.raised_at,
            e.due,
            e.provisional,
        )

    @on(Topics.DISPUTE_EXTENDED)
    def dispute_extended(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_sup_deadlines SET due = ?, provisional = ? WHERE subject = ?",
            (iso_date(e.due), int(e.provisional), id_text(e.originator_id)),
        )

    @on(Topics.ORDER_ISSUED)
    def order(self, tx: Tx, e: Any) -> None:
        self._deadline(
            tx,
            e,
            "supervision_order",
            e.department,
            None if e.case_id is None else str(e.case_id),
            e.case_serial,
            e.reason,
            e.issued_at,
            e.due,
            e.provisional,
        )

    @on(Topics.CONSULTATION_ANSWERED, Topics.DISPUTE_ANSWERED, Topics.ORDER_ANSWERED)
    def answered(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_sup_deadlines SET answered_at = ?, late = ? WHERE subject = ?",
            (utc_text(e.answered_at), int(e.late), id_text(e.originator_id)),
        )

    @on(Topics.ORDER_CLOSED)
    def order_closed(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_sup_deadlines SET closed = 1 WHERE subject = ?",
            (id_text(e.originator_id),),
        )

    # -- red lights (FZ·24) -------------------------------------------------------------------

    @on(Topics.RED_LIGHT_OPENED)
    def red_light_opened(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "INSERT INTO view_sup_red_lights VALUES (?, ?, ?, NULL, 0)",
            (id_text(e.originator_id), str(e.case_id), e.department),
        )

    @on(Topics.DELAY_EXPLAINED)
    def delay_explained(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_sup_red_lights SET explained_at = ? WHERE record_id = ?",
            (utc_text(e.explained_at), id_text(e.originator_id)),
        )

    @on(Topics.POINTS_DEDUCTED)
    def points_deducted(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_sup_red_lights SET deducted_points = ? WHERE record_id = ?",
            (int(e.points), id_text(e.originator_id)),
        )

    # -- anchoring --------------------------------------------------------------------------

    @on(Topics.ANCHORED)
    def anchored(self, tx: Tx, e: Any) -> None:
        origin = id_text(e.originator_id)
        tx.execute("DELETE FROM view_sup_anchors WHERE origin_id = ?", (origin,))
        tx.execute(
            "INSERT INTO view_sup_anchors VALUES (?, ?, ?)",
            (origin, int(e.size), utc_text(e.timestamp)),
        )

    # -- helpers ----------------------------------------------------------------------------

    def _clock(
        self,
        tx: Tx,
        e: Any,
        state: CaseState,
        clock: str,
        since: dt.date | None,
        days: int | None,
    ) -> None:
        tx.execute(
            "UPDATE view_sup_cases SET clock = ?, clock_from = ?, "
            "limit_days = COALESCE(?, limit_days), due = NULL, due_provisional = 0 "
            "WHERE case_id = ?",
            (clock, iso_date(since), days, id_text(e.originator_id)),
        )
        self._state(tx, e, state)

    def _state(self, tx: Tx, e: Any, state: CaseState, *, open_: bool = True) -> None:
        """The case's state after ``e``; and, when ``e`` was recorded later than the time it
        reports, the longest such lag and its step (a lag of 0 cannot be the longest:
        ``backfill_seconds`` starts at the submission's own, never below 0)."""
        lag = _lag(e)
        if not lag:
            tx.execute(
                "UPDATE view_sup_cases SET state = ?, open = ?, updated_at = ? WHERE case_id = ?",
                (state.value, int(open_), utc_text(e.at), id_text(e.originator_id)),
            )
            return
        tx.execute(
            "UPDATE view_sup_cases SET state = ?, open = ?, updated_at = ?, "
            "backfill_step = CASE WHEN backfill_seconds < ? THEN ? ELSE backfill_step END, "
            "backfill_seconds = CASE WHEN backfill_seconds < ? THEN ? ELSE backfill_seconds END "
            "WHERE case_id = ?",
            (
                state.value,
                int(open_),
                utc_text(e.at),
                lag,
                type(e).__name__,
                lag,
                lag,
                id_text(e.originator_id),
            ),
        )

    # -- duplicate registration (GZ20·26(三)) ------------------------------------------------

    @on(Topics.APPLICANT_REGISTERED)
    def applicant_registered(self, tx: Tx, e: Any) -> None:
        index = bytes(e.credential_index).hex()
        tx.execute(
            "SELECT applicant_id FROM view_sup_credentials WHERE credential_index = ? "
            "ORDER BY registered_at, applicant_id",
            (index,),
        )
        earlier = [str(r[0]) for r in tx.fetchall()]
        applicant = str(e.originator_id)
        tx.execute(
            "INSERT INTO view_sup_credentials VALUES (?, ?, ?)",
            (applicant, index, utc_text(e.timestamp)),
        )
        if earlier:
            tx.execute(
                "INSERT INTO view_sup_flags VALUES (?, ?, '', '', ?, ?) "
                "ON CONFLICT (subject, flag) DO NOTHING",
                (
                    f"applicant:{applicant}",
                    DUPLICATE_REGISTRATION,
                    utc_text(e.timestamp),
                    f"{e.credential_kind} already registered as applicant "
                    f"{', '.join(earlier)}: a second account (GZ20·26(三))",
                ),
            )

    @on(Topics.APPLICANT_ERASED)
    def applicant_erased(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "DELETE FROM view_sup_credentials WHERE applicant_id = ?", (str(e.originator_id),)
        )

    # -- officials' refused attempts (FZ·26(二)(五)) ------------------------------------------

    @on(Topics.ACTION_REFUSED)
    def action_refused(self, tx: Tx, e: Any) -> None:
        detail = f"{e.command} on {e.subject or e.department}: {e.reason}"
        tx.execute(
            "INSERT INTO view_sup_refusals VALUES (?, ?, 1, ?, ?) ON CONFLICT (staff_code) "
            "DO UPDATE SET refusals = view_sup_refusals.refusals + 1, "
            "department = excluded.department, last_at = excluded.last_at, "
            "last_detail = excluded.last_detail",
            (e.staff_code, e.department, utc_text(e.timestamp), detail),
        )

    def _flag(self, tx: Tx, e: Any, flag: str, detail: str) -> None:
        tx.execute(
            "INSERT INTO view_sup_flags SELECT case_id, ?, department, serial, ?, ? "
            "FROM view_sup_cases WHERE case_id = ? ON CONFLICT (subject, flag) DO NOTHING",
            (flag, utc_text(e.at), detail, id_text(e.originator_id)),
        )

    def _deadline(
        self,
        tx: Tx,
        e: Any,
        kind: str,
        department: str,
        case_id: str | None,
        case_serial: str,
        reason: str,
        opened: dt.datetime,
        due: dt.date,
        provisional: bool,
    ) -> None:
        tx.execute(
            "INSERT INTO view_sup_deadlines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, 0)",
            (
                id_text(e.originator_id),
                kind,
                department,
                case_id,
                case_serial,
                reason,
                utc_text(opened),
                iso_date(due),
                int(provisional),
            ),
        )


def _paper(materials: Any) -> int:
    """1 when a submitted material is paper (纸质材料); else every one came online (NH·13)."""
    return int(any(m.get("form") == "paper" for m in materials))


def _lag(e: Any) -> int:
    """Seconds between the time a case event reports (``at``) and its recording."""
    return max(0, int((e.timestamp - e.at).total_seconds()))


# --- queries ------------------------------------------------------------------------------------

_CASE_COLUMNS: Final = (
    "case_id, serial, department, item_code, state, clock, clock_from, limit_days, due, "
    "due_provisional, paused_since, decided_on, on_time"
)


def _light_of(
    r: tuple[Any, ...],
    today: dt.date,
    thresholds: SupervisionThresholds,
    table: HolidayTable,
    explained: bool,
    order_open: bool,
    red: tuple[bool, int] = (False, 0),
) -> CaseLight:
    clock, limit = r[5], r[7]
    due = dt.date.fromisoformat(r[8]) if r[8] else None
    provisional = bool(r[9])
    paused_since = dt.date.fromisoformat(r[10]) if r[10] else None
    light, left = Light.GREEN, None
    if clock == "decided" and due is not None:
        decided = dt.date.fromisoformat(r[11])
        left = table.working_days_between(decided, due)
        light = Light.GREEN if r[12] else Light.RED
    elif clock != APPLICANT_CLOCK and clock != "decided":
        start = dt.date.fromisoformat(r[6])
        if due is None:  # a review counted from the correction or delivery
            deadline = table.deadline(start, int(limit))
            due, provisional = deadline.due, deadline.provisional
        # the clock stands during a special procedure: count as on the day before it began
        counted_to = paused_since - dt.timedelta(days=1) if paused_since else today
        if counted_to > due:
            light, left = Light.RED, -table.working_days_between(due, counted_to)
        else:
            left = table.working_days_between(counted_to, due)
            near = left * 100 <= thresholds.yellow_percent * int(limit)
            light = Light.YELLOW if near or left <= thresholds.yellow_days else Light.GREEN
        low, high = sorted((counted_to, due))
        provisional = provisional or any(
            table.is_provisional(dt.date(y, 1, 1)) for y in range(low.year, high.year + 1)
        )
    return CaseLight(
        serial=r[1],
        department=r[2],
        item_code=r[3],
        state=r[4],
        clock=clock,
        light=light,
        days_left=left,
        limit_days=None if clock == APPLICANT_CLOCK else int(limit),
        due=None if due is None else due.isoformat(),
        provisional=provisional,
        paused=paused_since is not None,
        explained=explained or red[0],
        order_open=order_open,
        explained_by_department=red[0],
        deducted_points=red[1],
    )


def _open_lights(
    view: SupervisionView,
    today: dt.date,
    thresholds: SupervisionThresholds,
    calendar: HolidayTable | None,
    department: str | None,
) -> list[CaseLight]:
    table = calendar or default_table()
    where, params = "open = 1", []
    if department is not None:
        where += " AND department = ?"
        params.append(department)
    rows = read(view, f"SELECT {_CASE_COLUMNS} FROM view_sup_cases WHERE {where}", params)
    orders = read(
        view,
        "SELECT case_id, MAX(CASE WHEN answered_at IS NOT NULL THEN 1 ELSE 0 END), "
        "MAX(CASE WHEN answered_at IS NULL AND closed = 0 THEN 1 ELSE 0 END) "
        "FROM view_sup_deadlines WHERE kind = 'supervision_order' AND case_id IS NOT NULL "
        "GROUP BY case_id",
    )
    answered = {o[0]: (bool(o[1]), bool(o[2])) for o in orders}
    red = _red_lights(view)
    lights = [
        _light_of(
            r, today, thresholds, table, *answered.get(r[0], (False, False)), red.get(r[0], NONE)
        )
        for r in rows
    ]
    lights.sort(key=lambda c: (-Light.ALL.index(c.light), c.days_left or 0, c.serial))
    return lights


def case_lights(
    view: SupervisionView,
    *,
    today: dt.date,
    department: str | None = None,
    light: str | None = None,
    thresholds: SupervisionThresholds = DEFAULT_THRESHOLDS,
    calendar: HolidayTable | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Page[CaseLight]:
    """Open cases with their light as of ``today`` (Asia/Shanghai date from the caller's
    clock), red first, fewest days left first. ``calendar`` defaults to the ledger's holiday
    table. Raises ``ValueError`` for an unknown light or a bad page."""
    check_page(offset, limit)
    if light is not None and light not in Light.ALL:
        raise ValueError(f"light: one of {', '.join(Light.ALL)}")
    found = [
        c
        for c in _open_lights(view, today, thresholds, calendar, department)
        if light is None or c.light == light
    ]
    return Page(tuple(found[offset : offset + limit]), len(found), offset, limit)


def needing_orders(
    view: SupervisionView,
    *,
    today: dt.date,
    department: str | None = None,
    thresholds: SupervisionThresholds = DEFAULT_THRESHOLDS,
    calendar: HolidayTable | None = None,
) -> list[CaseLight]:
    """Red cases with no answered supervision order (no explanation, FZ·24): each needs an
    order (``order_open`` says one is already issued and awaits its answer)."""
    return [
        c
        for c in _open_lights(view, today, thresholds, calendar, department)
        if c.light == Light.RED and not c.explained
    ]


def flags(
    view: SupervisionView,
    *,
    today: dt.date,
    now: dt.datetime | None = None,
    log_head: int | None = None,
    department: str | None = None,
    thresholds: SupervisionThresholds = DEFAULT_THRESHOLDS,
) -> list[Flag]:
    """Every raised flag as of ``today`` (deadlines) and ``now`` with ``log_head`` (anchoring;
    omitted when either is missing), in :data:`FLAGS` order."""
    dept = "" if department is None else " AND department = ?"
    args: list[Any] = [] if department is None else [department]
    found = [
        Flag(r[0], r[1], r[2], r[3], r[4], r[5])
        for r in read(
            view,
            f"SELECT flag, subject, department, case_serial, at, detail FROM view_sup_flags "
            f"WHERE 1 = 1{dept}",
            args,
        )
    ]
    limit = int(thresholds.backfill.total_seconds())
    for r in read(
        view,
        f"SELECT case_id, department, serial, updated_at, backfill_seconds, backfill_step "
        f"FROM view_sup_cases WHERE backfill_seconds > ?{dept}",
        [limit, *args],
    ):
        hours = int(r[4]) // 3600
        found.append(Flag(BACKFILLED, r[0], r[1], r[2], r[3], f"{r[5]} recorded {hours} h late"))
    text = today.isoformat()
    for r in read(
        view,
        "SELECT kind, subject, department, case_serial, opened_at, due, late, reason "
        f"FROM view_sup_deadlines WHERE ((answered_at IS NULL AND closed = 0 AND due < ?) "
        f"OR late = 1){dept}",
        [text, *args],
    ):
        what = f"{r[7]}: " if r[7] else ""
        state = "answered late" if r[6] else "unanswered"
        found.append(
            Flag(_DEADLINE_FLAGS[r[0]], r[1], r[2], r[3], r[4], f"{what}due {r[5]}, {state}")
        )
    for r in read(
        view,
        f"SELECT staff_code, department, refusals, last_at, last_detail FROM view_sup_refusals "
        f"WHERE refusals >= ?{dept}",
        [thresholds.refusals, *args],
    ):
        found.append(
            Flag(
                REPEATED_REFUSALS,
                f"official:{r[0]}",
                r[1],
                "",
                r[3],
                f"{r[2]} refused attempts; last: {r[4]}",
            )
        )
    anchoring = anchoring_status(view, now=now, log_head=log_head, thresholds=thresholds)
    if anchoring is not None and anchoring.lagging and department is None:
        found.append(
            Flag(
                ANCHORING_LAG,
                "anchoring",
                "",
                "",
                anchoring.last_anchor_at,
                f"{anchoring.waiting} events wait; last anchor {anchoring.seconds_since} s ago",
            )
        )
    found.sort(key=lambda f: (FLAGS.index(f.flag), f.department, f.case_serial, f.subject))
    return found


def anchoring_status(
    view: SupervisionView,
    *,
    now: dt.datetime | None,
    log_head: int | None,
    thresholds: SupervisionThresholds = DEFAULT_THRESHOLDS,
) -> AnchoringStatus | None:
    """How far the last anchor receipt trails the log; ``None`` without ``now`` and
    ``log_head`` or before any receipt."""
    if now is None or log_head is None:
        return None
    rows = read(view, "SELECT size, anchored_at FROM view_sup_anchors ORDER BY size DESC")
    if not rows:
        return None
    size, at = int(rows[0][0]), rows[0][1]
    since = int((now - dt.datetime.fromisoformat(at)).total_seconds())
    waiting = max(0, log_head - size)
    return AnchoringStatus(
        anchored_size=size,
        log_head=log_head,
        waiting=waiting,
        last_anchor_at=at,
        seconds_since=since,
        lagging=waiting > 0 and since > thresholds.anchoring_lag.total_seconds(),
    )


def summary(
    view: SupervisionView,
    *,
    today: dt.date,
    now: dt.datetime | None = None,
    log_head: int | None = None,
    thresholds: SupervisionThresholds = DEFAULT_THRESHOLDS,
    calendar: HolidayTable | None = None,
) -> SupervisionSummary:
    """Counts of open cases per light, of each flag, and of red cases needing an order —
    overall and per department — as of ``today``."""
    lights = _open_lights(view, today, thresholds, calendar, None)
    raised = flags(view, today=today, now=now, log_head=log_head, thresholds=thresholds)
    deducted = deductions(view)
    departments = sorted(
        {c.department for c in lights} | {f.department for f in raised} - {""} | set(deducted)
    )
    by_department = {
        d: DepartmentSupervision(
            lights=_count((c.light for c in lights if c.department == d), Light.ALL),
            flags=_count((f.flag for f in raised if f.department == d), FLAGS),
            needs_order=sum(
                1 for c in lights if c.department == d and c.light == Light.RED and not c.explained
            ),
            deducted_points=deducted.get(d, 0),
        )
        for d in departments
    }
    return SupervisionSummary(
        today=today.isoformat(),
        open_cases=len(lights),
        lights=_count((c.light for c in lights), Light.ALL),
        flags=_count((f.flag for f in raised), FLAGS),
        needs_order=sum(1 for c in lights if c.light == Light.RED and not c.explained),
        provisional=sum(1 for c in lights if c.provisional),
        paused=sum(1 for c in lights if c.paused),
        by_department=by_department,
        anchoring=anchoring_status(view, now=now, log_head=log_head, thresholds=thresholds),
        deducted_points=sum(deducted.values()),
    )


NONE: Final = (False, 0)


def _red_lights(view: SupervisionView) -> dict[str, tuple[bool, int]]:
    """Per case id: whether its department explained the delay, and the points deducted."""
    rows = read(view, "SELECT case_id, explained_at, deducted_points FROM view_sup_red_lights", ())
    return {r[0]: (r[1] is not None, int(r[2])) for r in rows}


def deductions(view: SupervisionView) -> dict[str, int]:
    """Assessment points deducted per department for red cases (考核扣分, FZ·24)."""
    rows = read(
        view,
        "SELECT department, SUM(deducted_points) FROM view_sup_red_lights "
        "GROUP BY department HAVING SUM(deducted_points) > 0 ORDER BY department",
        (),
    )
    return {r[0]: int(r[1]) for r in rows}


def _count(values: Iterable[str], keys: Iterable[str]) -> dict[str, int]:
    counted = Counter(values)
    return {k: counted.get(k, 0) for k in keys}
