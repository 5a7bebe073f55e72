"""Blacklist and credit (黑名单): counted grounds per applicant, proposals, restrictions.

Layer: projections. RULES.md "Blacklist and credit" (GZ16·22, PY·28, NH·25): the counted
grounds of NH·25 need *more than three* facts — untrue complaints or ratings, missed
appointments, failures to submit materials after approval; a blacklisting blocks online
application (3 months by default) with an appeal within 30 working days, and ends early on
removal. The decision is the authority's (``ledger.domain.blacklist``); this view counts the facts
and proposes a decision when a threshold is crossed.

Facts counted (each named as ``ledger.services.domain_services`` names it, so an authority can pass
them to ``BlacklistService.blacklist``):

- missed appointment: ``AppointmentSlot.NoShowRecorded`` → ``appointment:<slot>:<booking>``;
- untrue complaint: ``Consultation.FoundUntrue`` → ``consultation:<id>``;
- untrue rating: ``Rating.DisputeDecided`` upheld → ``rating:<case id>:<kind>``;
- failure to submit materials (decision: the regulations name no event): a case that passed
  pre-review and was then returned or not accepted before its materials were delivered
  (``Refused`` in state ``pre_reviewed``) → ``case:<serial>``.

A proposal lists the facts not yet used by an earlier blacklisting; an applicant under a
restriction on ``today`` gets none. Nothing personal is stored: applicants are ids.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from ledger.domain.blacklist import COUNT_THRESHOLD, BlacklistGround
from ledger.domain.cases import CaseState
from projections.common import Page, Topics, check_page, id_text, iso_date, read, utc_text
from projections.store import Table, Tx
from projections.view import View, on

__all__ = [
    "BlacklistView",
    "Counters",
    "Proposal",
    "RestrictionEntry",
    "counters",
    "proposals",
    "restrictions",
]

FACTS = Table(
    "view_bl_facts",
    (("applicant_id", "TEXT"), ("ground", "TEXT"), ("fact", "TEXT"), ("at", "TEXT")),
    ("applicant_id", "ground", "fact"),
    (("ground",),),
)
SUBJECTS = Table(
    "view_bl_subjects",
    (
        ("subject_id", "TEXT"),
        ("kind", "TEXT"),
        ("applicant_id", "TEXT"),
        ("reference", "TEXT"),
        ("state", "TEXT"),
    ),
    ("subject_id",),
)
ENTRIES = Table(
    "view_bl_entries",
    (
        ("applicant_id", "TEXT"),
        ("number", "BIGINT"),
        ("ground", "TEXT"),
        ("authority", "TEXT"),
        ("decided_at", "TEXT"),
        ("starts", "TEXT"),
        ("until", "TEXT"),
        ("appeal_due", "TEXT"),
        ("appealed_on", "TEXT"),
        ("appeal_finding", "TEXT"),
        ("removed_on", "TEXT"),
        ("credit_referral", "BIGINT"),
    ),
    ("applicant_id", "number"),
    (("until",),),
)
USED = Table("view_bl_used", (("applicant_id", "TEXT"), ("fact", "TEXT")), ("applicant_id", "fact"))

COUNTED: Final = (
    BlacklistGround.UNTRUE_COMPLAINTS_OR_RATINGS.value,
    BlacklistGround.MISSED_APPOINTMENTS.value,
    BlacklistGround.MATERIALS_NOT_SUBMITTED.value,
)


@dataclass(frozen=True)
class Counters:
    """An applicant's facts per counted ground: all, and those not used by a decision."""

    applicant_id: str
    facts: dict[str, int]
    unused: dict[str, int]


@dataclass(frozen=True)
class Proposal:
    """A proposed blacklisting: the ground and the unused facts that cross its threshold."""

    applicant_id: str
    ground: str
    facts: tuple[str, ...]


@dataclass(frozen=True)
class RestrictionEntry:
    """A blacklisting in force on the queried day, with its end and appeal state."""

    applicant_id: str
    ground: str
    authority: str
    starts: str
    until: str | None
    appeal_due: str
    appealed_on: str | None
    appeal_finding: str | None
    credit_referral: bool


class BlacklistView(View):
    """Counted facts, blacklisting decisions, appeals and removals."""

    name = "blacklist"
    tables = (FACTS, SUBJECTS, ENTRIES, USED)

    # -- what facts belong to whom ----------------------------------------------------------

    @on(Topics.SUBMITTED)
    def submitted(self, tx: Tx, e: Any) -> None:
        self._subject(tx, e, "case", str(e.applicant_id), e.serial, CaseState.SUBMITTED.value)

    @on(Topics.PRE_REVIEW_PASSED, Topics.MATERIALS_DELIVERED)
    def case_moved(self, tx: Tx, e: Any) -> None:
        state = (
            CaseState.PRE_REVIEWED
            if type(e).__name__ == "PreReviewPassed"
            else CaseState.MATERIALS_RECEIVED
        )
        tx.execute(
            "UPDATE view_bl_subjects SET state = ? WHERE subject_id = ?",
            (state.value, id_text(e.originator_id)),
        )

    @on(Topics.REFUSED)
    def refused(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "SELECT applicant_id, reference, state FROM view_bl_subjects WHERE subject_id = ?",
            (id_text(e.originator_id),),
        )
        row = tx.fetchone()
        if row is not None and row[2] == CaseState.PRE_REVIEWED.value:
            self._fact(tx, row[0], BlacklistGround.MATERIALS_NOT_SUBMITTED, f"case:{row[1]}", e.at)

    @on(Topics.RATED)
    def rated(self, tx: Tx, e: Any) -> None:
        self._subject(tx, e, "rating", str(e.applicant_id), str(e.case_id), "")

    @on(Topics.CONSULTATION_RECEIVED)
    def received(self, tx: Tx, e: Any) -> None:
        if e.applicant_id is not None:
            self._subject(tx, e, "consultation", str(e.applicant_id), "", "")

    @on(Topics.BLACKLIST_OPENED)
    def opened(self, tx: Tx, e: Any) -> None:
        self._subject(tx, e, "blacklisting", str(e.applicant_id), "", "")

    # -- counted facts ----------------------------------------------------------------------

    @on(Topics.NO_SHOW)
    def no_show(self, tx: Tx, e: Any) -> None:
        self._fact(
            tx,
            str(e.applicant_id),
            BlacklistGround.MISSED_APPOINTMENTS,
            f"appointment:{e.originator_id}:{e.booking_id}",
            e.recorded_at,
        )

    @on(Topics.FOUND_UNTRUE)
    def found_untrue(self, tx: Tx, e: Any) -> None:
        row = self._owner(tx, e)
        if row is not None:
            self._fact(
                tx,
                row[0],
                BlacklistGround.UNTRUE_COMPLAINTS_OR_RATINGS,
                f"consultation:{e.originator_id}",
                e.found_at,
            )

    @on(Topics.RATING_DISPUTE_DECIDED)
    def rating_decided(self, tx: Tx, e: Any) -> None:
        row = self._owner(tx, e)
        if e.upheld and row is not None:
            self._fact(
                tx,
                row[0],
                BlacklistGround.UNTRUE_COMPLAINTS_OR_RATINGS,
                f"rating:{row[1]}:{e.kind}",
                e.decided_at,
            )

    # -- decisions --------------------------------------------------------------------------

    @on(Topics.BLACKLISTED)
    def blacklisted(self, tx: Tx, e: Any) -> None:
        row = self._owner(tx, e)
        assert row is not None, "a blacklisting record opens before its first decision"
        applicant = row[0]
        tx.execute(
            "INSERT INTO view_bl_entries SELECT ?, COUNT(*) + 1, ?, ?, ?, ?, ?, ?, NULL, NULL, "
            "NULL, ? FROM view_bl_entries WHERE applicant_id = ?",
            (
                applicant,
                e.ground,
                e.authority,
                utc_text(e.decided_at),
                iso_date(e.starts),
                iso_date(e.until),
                iso_date(e.appeal_due),
                int(e.credit_referral),
                applicant,
            ),
        )
        tx.executemany(
            "INSERT INTO view_bl_used VALUES (?, ?) ON CONFLICT (applicant_id, fact) DO NOTHING",
            [(applicant, fact) for fact in e.facts],
        )

    @on(Topics.NOTICE_RECEIVED)
    def notice_received(self, tx: Tx, e: Any) -> None:
        """The appeal period runs from the notice's receipt or knowledge (GZ16·22, PY·28)."""
        self._latest(tx, e, "appeal_due = ?", (iso_date(e.appeal_due),))

    @on(Topics.APPEAL_LODGED)
    def appeal_lodged(self, tx: Tx, e: Any) -> None:
        self._latest(tx, e, "appealed_on = ?", (iso_date(e.lodged_on),))

    @on(Topics.APPEAL_DECIDED)
    def appeal_decided(self, tx: Tx, e: Any) -> None:
        finding = "upheld" if e.upheld else "dismissed"
        removed = iso_date(e.decided_on) if e.upheld else None
        self._latest(tx, e, "appeal_finding = ?, removed_on = ?", (finding, removed))

    @on(Topics.BLACKLIST_REMOVED)
    def removed(self, tx: Tx, e: Any) -> None:
        self._latest(tx, e, "removed_on = ?", (iso_date(e.removed_on),))

    # -- helpers ----------------------------------------------------------------------------

    def _subject(
        self, tx: Tx, e: Any, kind: str, applicant: str, reference: str, state: str
    ) -> None:
        tx.execute(
            "INSERT INTO view_bl_subjects VALUES (?, ?, ?, ?, ?)",
            (id_text(e.originator_id), kind, applicant, reference, state),
        )

    def _owner(self, tx: Tx, e: Any) -> tuple[Any, ...] | None:
        tx.execute(
            "SELECT applicant_id, reference FROM view_bl_subjects WHERE subject_id = ?",
            (id_text(e.originator_id),),
        )
        return tx.fetchone()

    def _fact(
        self, tx: Tx, applicant: str, ground: BlacklistGround, fact: str, at: dt.datetime
    ) -> None:
        tx.execute(
            "INSERT INTO view_bl_facts VALUES (?, ?, ?, ?) "
            "ON CONFLICT (applicant_id, ground, fact) DO NOTHING",
            (applicant, ground.value, fact, utc_text(at)),
        )

    def _latest(self, tx: Tx, e: Any, assignments: str, values: tuple[Any, ...]) -> None:
        row = self._owner(tx, e)
        assert row is not None
        tx.execute(
            f"UPDATE view_bl_entries SET {assignments} WHERE applicant_id = ? AND number = "
            "(SELECT MAX(number) FROM view_bl_entries WHERE applicant_id = ?)",
            (*values, row[0], row[0]),
        )


# --- queries ------------------------------------------------------------------------------------


def counters(view: BlacklistView, applicant_id: UUID) -> Counters:
    """The applicant's facts per counted ground, all and not yet used by a blacklisting."""
    rows = read(
        view,
        "SELECT f.ground, COUNT(*), SUM(CASE WHEN u.fact IS NULL THEN 1 ELSE 0 END) "
        "FROM view_bl_facts f LEFT JOIN view_bl_used u "
        "ON u.applicant_id = f.applicant_id AND u.fact = f.fact "
        "WHERE f.applicant_id = ? GROUP BY f.ground",
        (str(applicant_id),),
    )
    found = {r[0]: (int(r[1]), int(r[2])) for r in rows}
    return Counters(
        str(applicant_id),
        {g: found.get(g, (0, 0))[0] for g in COUNTED},
        {g: found.get(g, (0, 0))[1] for g in COUNTED},
    )


def proposals(view: BlacklistView, *, today: dt.date) -> list[Proposal]:
    """Applicants whose unused facts of a counted ground are more than three
    (``COUNT_THRESHOLD``) and who are not under a restriction on ``today``."""
    rows = read(
        view,
        "SELECT f.applicant_id, f.ground, f.fact FROM view_bl_facts f "
        "LEFT JOIN view_bl_used u ON u.applicant_id = f.applicant_id AND u.fact = f.fact "
        "WHERE u.fact IS NULL ORDER BY f.applicant_id, f.ground, f.at, f.fact",
    )
    grouped: dict[tuple[str, str], list[str]] = {}
    for applicant, ground, fact in rows:
        grouped.setdefault((applicant, ground), []).append(fact)
    blocked = {r.applicant_id for r in _in_force(view, today, None)}
    return [
        Proposal(applicant, ground, tuple(facts))
        for (applicant, ground), facts in grouped.items()
        if len(facts) > COUNT_THRESHOLD and applicant not in blocked
    ]


def restrictions(
    view: BlacklistView,
    *,
    today: dt.date,
    applicant_id: UUID | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page[RestrictionEntry]:
    """Blacklistings in force on ``today`` (started, not past their last day, not removed),
    soonest ending first."""
    check_page(offset, limit)
    found = _in_force(view, today, None if applicant_id is None else str(applicant_id))
    return Page(tuple(found[offset : offset + limit]), len(found), offset, limit)


def _in_force(view: BlacklistView, today: dt.date, applicant: str | None) -> list[RestrictionEntry]:
    text = today.isoformat()
    where = (  # no end (NH·25): until removed
        "starts <= ? AND (until IS NULL OR until >= ?) AND (removed_on IS NULL OR removed_on > ?)"
    )
    params: list[Any] = [text, text, text]
    if applicant is not None:
        where += " AND applicant_id = ?"
        params.append(applicant)
    rows = read(
        view,
        "SELECT applicant_id, ground, authority, starts, until, appeal_due, appealed_on, "
        f"appeal_finding, credit_referral FROM view_bl_entries WHERE {where} "
        "ORDER BY until, applicant_id",
        params,
    )
    return [
        RestrictionEntry(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8])) for r in rows
    ]
