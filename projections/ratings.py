"""Ratings statistics (好差评): distribution per department and month, bad ratings' follow-up.

Layer: projections. RULES.md "Ratings": five canonical levels (stored with their code
system, FZ·22); 不满意 and worse need a reason and open a callback and rectification with a
deadline (GZ16·17, NH·17); the rated department may dispute with evidence and an upheld
dispute removes the rating from statistics (NH·17) — it stays in the chain and in these
rows, marked ``upheld``, and every statistic here excludes it; ratings feed department
assessment (FZ·22).

Month: the Asia/Shanghai month of the rating. Satisfaction rate: ratings 非常满意, 满意 or
基本满意 over all counted ratings (first and follow-up ratings alike). Built from
``ledger.domain.ratings`` events only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

from ledger.domain.ratings import RatingLevel
from projections.common import Page, Topics, id_text, iso_date, month_of, paged, read, utc_text
from projections.store import Table, Tx
from projections.view import View, on

__all__ = [
    "BAD_STATES",
    "BadRating",
    "Distribution",
    "RatingsView",
    "bad_ratings",
    "distribution",
]

RATINGS = Table(
    "view_ratings",
    (
        ("rating_id", "TEXT"),
        ("kind", "TEXT"),
        ("case_serial", "TEXT"),
        ("department", "TEXT"),
        ("month", "TEXT"),
        ("level", "TEXT"),
        ("system", "TEXT"),
        ("code", "BIGINT"),
        ("channel", "TEXT"),
        ("reason", "TEXT"),
        ("rated_at", "TEXT"),
        ("rectification_due", "TEXT"),
        ("provisional", "BIGINT"),
        ("callback_at", "TEXT"),
        ("rectified_at", "TEXT"),
        ("rectified_late", "BIGINT"),
        ("dispute", "TEXT"),
    ),
    ("rating_id", "kind"),
    (("department", "month"),),
)

SATISFIED: Final = (
    RatingLevel.VERY_SATISFIED.value,
    RatingLevel.SATISFIED.value,
    RatingLevel.BASICALLY_SATISFIED.value,
)
BAD_STATES: Final = ("callback_pending", "rectifying", "rectified", "disputed", "overdue")
"""Filter values of :func:`bad_ratings` (``overdue`` depends on ``today``)."""


@dataclass(frozen=True)
class Distribution:
    """Counted ratings of one department in one month, by level, and the satisfaction rate."""

    department: str
    month: str
    counts: dict[str, int]
    total: int
    satisfied: int
    satisfaction_rate: float | None
    excluded: int


@dataclass(frozen=True)
class BadRating:
    """A 差评 and where its callback and rectification stand."""

    case_serial: str
    kind: str
    department: str
    level: str
    channel: str
    reason: str
    rated_at: str
    rectification_due: str | None
    provisional: bool
    callback_at: str | None
    rectified_at: str | None
    rectified_late: bool
    dispute: str | None
    state: str


class RatingsView(View):
    """Every rating with its callback, rectification and dispute state."""

    name = "ratings"
    tables = (RATINGS,)

    @on(Topics.RATED)
    def rated(self, tx: Tx, e: Any) -> None:
        self._insert(tx, e, "first", e.case_serial, e.department, e.entry)

    @on(Topics.FOLLOWED_UP)
    def followed_up(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "SELECT case_serial, department FROM view_ratings WHERE rating_id = ? "
            "AND kind = 'first'",
            (id_text(e.originator_id),),
        )
        row = tx.fetchone()
        assert row is not None, "a follow-up follows its first rating"
        self._insert(tx, e, "follow_up", row[0], row[1], e.entry)

    def _insert(
        self, tx: Tx, e: Any, kind: str, serial: str, department: str, entry: dict[str, Any]
    ) -> None:
        tx.execute(
            "INSERT INTO view_ratings VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, 0, NULL)",
            (
                id_text(e.originator_id),
                kind,
                serial,
                department,
                month_of(entry["rated_at"]),
                entry["level"],
                entry["system"],
                int(entry["code"]),
                entry["channel"],
                entry["reason"],
                utc_text(entry["rated_at"]),
                iso_date(entry["rectification_due"]),
                int(entry["provisional"]),
            ),
        )

    @on(Topics.CALLBACK_RECORDED)
    def callback(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_ratings SET callback_at = ? WHERE rating_id = ? AND kind = ?",
            (utc_text(e.called_at), id_text(e.originator_id), e.kind),
        )

    @on(Topics.RECTIFIED)
    def rectified(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_ratings SET rectified_at = ?, rectified_late = ? "
            "WHERE rating_id = ? AND kind = ?",
            (utc_text(e.rectified_at), int(e.late), id_text(e.originator_id), e.kind),
        )

    @on(Topics.RATING_DISPUTED)
    def disputed(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_ratings SET dispute = 'pending' WHERE rating_id = ? AND kind = ?",
            (id_text(e.originator_id), e.kind),
        )

    @on(Topics.RATING_DISPUTE_DECIDED)
    def dispute_decided(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_ratings SET dispute = ? WHERE rating_id = ? AND kind = ?",
            ("upheld" if e.upheld else "rejected", id_text(e.originator_id), e.kind),
        )


def distribution(
    view: RatingsView, *, department: str | None = None, month: str | None = None
) -> list[Distribution]:
    """Per department and month: counted ratings by level (upheld disputes excluded), the
    satisfaction rate, and how many were excluded."""
    where, params = "WHERE 1 = 1", []
    if department is not None:
        where += " AND department = ?"
        params.append(department)
    if month is not None:
        where += " AND month = ?"
        params.append(month)
    rows = read(
        view,
        "SELECT department, month, level, "
        "SUM(CASE WHEN dispute = 'upheld' THEN 0 ELSE 1 END), "
        "SUM(CASE WHEN dispute = 'upheld' THEN 1 ELSE 0 END) "
        f"FROM view_ratings {where} GROUP BY department, month, level "
        "ORDER BY department, month, level",
        params,
    )
    groups: dict[tuple[str, str], tuple[dict[str, int], list[int]]] = {}
    for dept, mon, level, counted, excluded in rows:
        counts, extra = groups.setdefault((dept, mon), ({lv.value: 0 for lv in RatingLevel}, [0]))
        counts[level] += int(counted)
        extra[0] += int(excluded)
    result = []
    for (dept, mon), (counts, extra) in groups.items():
        total = sum(counts.values())
        satisfied = sum(counts[lv] for lv in SATISFIED)
        result.append(
            Distribution(
                department=dept,
                month=mon,
                counts=counts,
                total=total,
                satisfied=satisfied,
                satisfaction_rate=round(satisfied / total, 4) if total else None,
                excluded=extra[0],
            )
        )
    return result


def bad_ratings(
    view: RatingsView,
    department: str,
    *,
    today: dt.date,
    state: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page[BadRating]:
    """A department's bad ratings (not excluded by an upheld dispute), oldest first, with
    their state: ``callback_pending``, ``rectifying`` (called back, not rectified),
    ``rectified``, ``disputed`` (pending), and ``overdue`` (open after its due date as of
    ``today``). Raises ``ValueError`` for an unknown state or a bad page."""
    if state is not None and state not in BAD_STATES:
        raise ValueError(f"state: one of {', '.join(BAD_STATES)}")
    text = today.isoformat()
    open_ = "rectified_at IS NULL AND (dispute IS NULL OR dispute <> 'pending')"
    conditions = {
        "callback_pending": f"{open_} AND callback_at IS NULL",
        "rectifying": f"{open_} AND callback_at IS NOT NULL",
        "rectified": "rectified_at IS NOT NULL",
        "disputed": "dispute = 'pending'",
        "overdue": "rectified_at IS NULL AND rectification_due < ?",
    }
    where = (
        "FROM view_ratings WHERE department = ? AND rectification_due IS NOT NULL "
        "AND (dispute IS NULL OR dispute <> 'upheld')"
    )
    params: list[Any] = [department]
    if state is not None:
        where += f" AND {conditions[state]}"
        if state == "overdue":
            params.append(text)

    def build(r: tuple[Any, ...]) -> BadRating:
        if r[12] == "pending":
            current = "disputed"
        elif r[10] is not None:
            current = "rectified"
        elif r[7] < text:
            current = "overdue"
        else:
            current = "rectifying" if r[9] is not None else "callback_pending"
        return BadRating(
            case_serial=r[0],
            kind=r[1],
            department=department,
            level=r[2],
            channel=r[3],
            reason=r[4],
            rated_at=r[5],
            rectification_due=r[7],
            provisional=bool(r[8]),
            callback_at=r[9],
            rectified_at=r[10],
            rectified_late=bool(r[11]),
            dispute=r[12],
            state=current,
        )

    return paged(
        view,
        "case_serial, kind, level, channel, reason, rated_at, month, rectification_due, "
        "provisional, callback_at, rectified_at, rectified_late, dispute",
        where,
        params,
        "rated_at, case_serial, kind",
        offset,
        limit,
        build,
    )
