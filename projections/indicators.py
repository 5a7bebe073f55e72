"""Service indicators per department and month (政务服务指标, NH·6, GZ20·27).

Layer: projections. RULES.md "Supervision": indicators are the fully-online rate, the
online completion rate, the certificate electronisation rate, the on-time rate and
satisfaction. The regulations name them without formulas; the definitions here (months are
Asia/Shanghai months, DESIGN invariant 7):

- **fully-online rate (全程网办率)** — of the cases *closed* (办结) in the month, those that
  needed no paper and no visit: submitted through an online channel (web, app, WeChat,
  kiosk), no material submitted or corrected as paper, materials (if delivered after
  pre-review) delivered online, and the result not delivered on site (GZ16·10, NH·21,
  GZ20·13: no resubmission at the window);
- **online completion rate (网上办结率)** — of the cases closed in the month, those whose
  application was submitted through an online channel (GZ20·10, FZ·11);
- **certificate electronisation rate (证照电子化率)** — of the *approved* cases closed in the
  month whose guide's result is a certificate, those with an e-certificate recorded
  (GZ16·15, NH·20, FZ·19);
- **on-time rate (按时办结率)** — of the cases *decided* (approved or disapproved) in the
  month, those decided on or before their due date — the ``on_time`` the decision document
  states (GZ20·12, NH·15);
- **satisfaction rate (满意率)** — of the ratings given in the month (first and follow-up)
  and not excluded by an upheld dispute (NH·17), those 非常满意, 满意 or 基本满意 (FZ·22).

Each rate is reported as numerator, denominator and their quotient (``None`` when the
denominator is 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ledger.domain.cases import Channel, MaterialForm
from ledger.domain.catalogue import ResultType
from ledger.domain.ratings import RatingLevel
from projections.common import Topics, id_text, month_of, read
from projections.store import Table, Tx
from projections.view import View, on

__all__ = ["Indicators", "IndicatorsView", "Rate", "indicators"]

CASES = Table(
    "view_ind_cases",
    (
        ("case_id", "TEXT"),
        ("department", "TEXT"),
        ("online_channel", "BIGINT"),
        ("offline", "BIGINT"),
        ("certificate_result", "BIGINT"),
        ("approved", "BIGINT"),
        ("certificates", "BIGINT"),
        ("decided_month", "TEXT"),
        ("on_time", "BIGINT"),
        ("closed_month", "TEXT"),
    ),
    ("case_id",),
    (("department", "closed_month"), ("department", "decided_month")),
)
RATINGS = Table(
    "view_ind_ratings",
    (
        ("rating_id", "TEXT"),
        ("kind", "TEXT"),
        ("department", "TEXT"),
        ("month", "TEXT"),
        ("satisfied", "BIGINT"),
        ("excluded", "BIGINT"),
    ),
    ("rating_id", "kind"),
    (("department", "month"),),
)

SATISFIED: Final = frozenset(
    {RatingLevel.VERY_SATISFIED, RatingLevel.SATISFIED, RatingLevel.BASICALLY_SATISFIED}
)


@dataclass(frozen=True)
class Rate:
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return round(self.numerator / self.denominator, 4) if self.denominator else None


@dataclass(frozen=True)
class Indicators:
    """The five indicators of one department in one month."""

    department: str
    month: str
    fully_online: Rate
    online_completion: Rate
    certificate_electronisation: Rate
    on_time: Rate
    satisfaction: Rate


class IndicatorsView(View):
    """Per-case and per-rating facts the indicators are counted from."""

    name = "indicators"
    tables = (CASES, RATINGS)

    @on(Topics.SUBMITTED)
    def submitted(self, tx: Tx, e: Any) -> None:
        online = Channel(e.channel).is_online
        paper = any(m["form"] == MaterialForm.PAPER.value for m in e.materials)
        tx.execute(
            "INSERT INTO view_ind_cases VALUES (?, ?, ?, ?, ?, 0, 0, NULL, 0, NULL)",
            (
                id_text(e.originator_id),
                e.department,
                int(online),
                int(not online or paper),
                int(e.terms["result_type"] == ResultType.CERTIFICATE.value),
            ),
        )

    @on(Topics.CORRECTED)
    def corrected(self, tx: Tx, e: Any) -> None:
        if any(m["form"] == MaterialForm.PAPER.value for m in e.materials):
            self._offline(tx, e)

    @on(Topics.MATERIALS_DELIVERED)
    def materials_delivered(self, tx: Tx, e: Any) -> None:
        if e.method != "online":
            self._offline(tx, e)

    @on(Topics.DELIVERED)
    def delivered(self, tx: Tx, e: Any) -> None:
        if e.method == "on_site":
            self._offline(tx, e)

    @on(Topics.DECIDED)
    def decided(self, tx: Tx, e: Any) -> None:
        body = e.decision["body"]
        tx.execute(
            "UPDATE view_ind_cases SET decided_month = ?, on_time = ?, approved = ? "
            "WHERE case_id = ?",
            (
                body["decided_on"].strftime("%Y-%m"),
                int(bool(body["on_time"])),
                int(e.state == "approved"),
                id_text(e.originator_id),
            ),
        )

    @on(Topics.CERTIFICATE_RECORDED)
    def certificate(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_ind_cases SET certificates = certificates + 1 WHERE case_id = ?",
            (id_text(e.originator_id),),
        )

    @on(Topics.CLOSED)
    def closed(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_ind_cases SET closed_month = ? WHERE case_id = ?",
            (month_of(e.at), id_text(e.originator_id)),
        )

    @on(Topics.RATED)
    def rated(self, tx: Tx, e: Any) -> None:
        self._rating(tx, e, "first", e.department)

    @on(Topics.FOLLOWED_UP)
    def followed_up(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "SELECT department FROM view_ind_ratings WHERE rating_id = ? AND kind = 'first'",
            (id_text(e.originator_id),),
        )
        row = tx.fetchone()
        assert row is not None, "a follow-up follows its first rating"
        self._rating(tx, e, "follow_up", row[0])

    @on(Topics.RATING_DISPUTE_DECIDED)
    def dispute_decided(self, tx: Tx, e: Any) -> None:
        if e.upheld:
            tx.execute(
                "UPDATE view_ind_ratings SET excluded = 1 WHERE rating_id = ? AND kind = ?",
                (id_text(e.originator_id), e.kind),
            )

    def _rating(self, tx: Tx, e: Any, kind: str, department: str) -> None:
        tx.execute(
            "INSERT INTO view_ind_ratings VALUES (?, ?, ?, ?, ?, 0)",
            (
                id_text(e.originator_id),
                kind,
                department,
                month_of(e.entry["rated_at"]),
                int(RatingLevel(e.entry["level"]) in SATISFIED),
            ),
        )

    def _offline(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_ind_cases SET offline = 1 WHERE case_id = ?", (id_text(e.originator_id),)
        )


def indicators(
    view: IndicatorsView, *, department: str | None = None, month: str | None = None
) -> list[Indicators]:
    """The indicators of every department and month with any closed or decided case or
    counted rating (optionally one department and/or one ``YYYY-MM`` month), ordered by
    department then month."""
    closed = read(
        view,
        "SELECT department, closed_month, COUNT(*), "
        "SUM(CASE WHEN online_channel = 1 AND offline = 0 THEN 1 ELSE 0 END), "
        "SUM(online_channel), "
        "SUM(CASE WHEN approved = 1 AND certificate_result = 1 THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN approved = 1 AND certificate_result = 1 AND certificates > 0 "
        "THEN 1 ELSE 0 END) "
        "FROM view_ind_cases WHERE closed_month IS NOT NULL GROUP BY department, closed_month",
    )
    decided = read(
        view,
        "SELECT department, decided_month, COUNT(*), SUM(on_time) FROM view_ind_cases "
        "WHERE decided_month IS NOT NULL GROUP BY department, decided_month",
    )
    rated = read(
        view,
        "SELECT department, month, COUNT(*), SUM(satisfied) FROM view_ind_ratings "
        "WHERE excluded = 0 GROUP BY department, month",
    )
    zero = Rate(0, 0)
    table: dict[tuple[str, str], dict[str, Rate]] = {}
    for d, m, n, full, online, certified_cases, certified in closed:
        row = table.setdefault((d, m), {})
        row["fully_online"] = Rate(int(full), int(n))
        row["online_completion"] = Rate(int(online), int(n))
        row["certificate_electronisation"] = Rate(int(certified), int(certified_cases))
    for d, m, n, on_time in decided:
        table.setdefault((d, m), {})["on_time"] = Rate(int(on_time), int(n))
    for d, m, n, satisfied in rated:
        table.setdefault((d, m), {})["satisfaction"] = Rate(int(satisfied), int(n))
    return [
        Indicators(
            department=d,
            month=m,
            fully_online=rates.get("fully_online", zero),
            online_completion=rates.get("online_completion", zero),
            certificate_electronisation=rates.get("certificate_electronisation", zero),
            on_time=rates.get("on_time", zero),
            satisfaction=rates.get("satisfaction", zero),
        )
        for (d, m), rates in sorted(table.items())
        if (department is None or d == department) and (month is None or m == month)
    ]
