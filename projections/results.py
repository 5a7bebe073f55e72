"""Read model of case results (办理结果): the public announcement and each applicant's own page.

Layer: projections. Two obligations of RULES.md "Further obligations", from the log alone:

- results are announced publicly on the platform ("及时在网上办事平台向社会公布事项办理结果",
  GZ20·18, GZ16·18): :func:`announced` lists each closed (办结) case's serial, matter,
  department, result and dates — never the applicant, nor anything personal;
- results are pushed to the applicant's own page ("主动反馈至申请人的市民个人网页或企业专属网页",
  GZ16·13, PY·13): :func:`applicant_results` lists an applicant's decided cases as soon as they
  are decided, with whether the result SMS went out (FZ·20). Which page (citizen or enterprise)
  follows the applicant's kind.

One row per case from its submission (the serial → applicant link that lets an applicant prove
a case is theirs, ``api.http.routes_results``); a pure function of the log (DESIGN invariant 4).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any, Final

from projections.common import Page, Topics, local_date, paged, read
from projections.store import Table, Tx
from projections.view import View, on

__all__ = [
    "RESULTS",
    "RESULT_PAGES",
    "AnnouncedResult",
    "ApplicantResult",
    "ResultsView",
    "announced",
    "announced_count",
    "applicant_of",
    "applicant_results",
    "notices_sent",
    "page_of",
]

RESULTS = Table(
    "view_results",
    (
        ("case_id", "TEXT"),
        ("serial", "TEXT"),
        ("applicant_id", "TEXT"),
        ("department", "TEXT"),
        ("item_code", "TEXT"),
        ("item_name", "TEXT"),
        ("result", "TEXT"),
        ("approved", "BIGINT"),
        ("decided_on", "TEXT"),
        ("closed_on", "TEXT"),
        ("delivery_method", "TEXT"),
        ("sms_sent_at", "TEXT"),
    ),
    ("case_id",),
    (("serial",), ("applicant_id",), ("closed_on",)),
)
RESULT_PAGES = Table(
    "view_result_pages",
    (("applicant_id", "TEXT"), ("kind", "TEXT")),
    ("applicant_id",),
    (),
)
PAGE_NAMES: Final = {"natural_person": "市民个人网页"}
"""The applicant's own page by kind; every other kind has an enterprise page (企业专属网页)."""
_COLUMNS: Final = (
    "serial, department, item_code, item_name, result, approved, decided_on, closed_on, "
    "delivery_method, sms_sent_at"
)


@dataclass(frozen=True)
class AnnouncedResult:
    """One result as the public sees it (向社会公布): no applicant, nothing personal."""

    serial: str
    department: str
    item_code: str
    item_name: str
    result: str
    approved: bool
    decided_on: str
    closed_on: str


@dataclass(frozen=True)
class ApplicantResult(AnnouncedResult):
    """One result on the applicant's own page: the decision, how it is delivered, and when
    the result SMS went out ("" while not dispatched, or no number on file)."""

    delivery_method: str
    sms_sent_at: str


class ResultsView(View):
    name = "results"
    tables = (RESULTS, RESULT_PAGES)

    @on(Topics.APPLICANT_REGISTERED)
    def registered(self, tx: Tx, e: Any) -> None:
        tx.execute("INSERT INTO view_result_pages VALUES (?, ?)", (str(e.originator_id), e.kind))

    @on(Topics.SUBMITTED)
    def submitted(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "INSERT INTO view_results VALUES (?, ?, ?, ?, ?, ?, '', 0, '', '', '', '')",
            (
                str(e.originator_id),
                e.serial,
                str(e.applicant_id),
                e.department,
                e.terms["item_code"],
                e.terms["item_name"],
            ),
        )

    @on(Topics.DECIDED)
    def decided(self, tx: Tx, e: Any) -> None:
        body = e.decision["body"]
        tx.execute(
            "UPDATE view_results SET result = ?, approved = ?, decided_on = ? WHERE case_id = ?",
            (
                str(body["conclusion"]),
                1 if e.state == "approved" else 0,
                _date(body["decided_on"]),
                str(e.originator_id),
            ),
        )

    @on(Topics.DISPATCHED)
    def dispatched(self, tx: Tx, e: Any) -> None:
        notice = getattr(e, "result_notice", None)  # absent before FZ·20's SMS was recorded
        sent = "" if not notice or not notice.get("sent") else _instant(notice["sent_at"])
        tx.execute(
            "UPDATE view_results SET delivery_method = ?, "
            "sms_sent_at = CASE WHEN ? = '' THEN sms_sent_at ELSE ? END WHERE case_id = ?",
            (e.method, sent, sent, str(e.originator_id)),
        )

    @on(Topics.CLOSED)
    def closed(self, tx: Tx, e: Any) -> None:
        tx.execute(
            "UPDATE view_results SET closed_on = ? WHERE case_id = ? AND decided_on <> ''",
            (local_date(e.at).isoformat(), str(e.originator_id)),
        )


def _announced(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """The announced fields of a row selected as ``_COLUMNS``."""
    return (*row[:5], bool(row[5]), str(row[6]), str(row[7]))


def _date(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _instant(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)


def announced(
    view: View,
    *,
    department: str | None = None,
    item_code: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page[AnnouncedResult]:
    """The public announcement (GZ20·18, GZ16·18): closed cases' results, newest first."""
    filters = {"department": department, "item_code": item_code}
    given = {column: value for column, value in filters.items() if value is not None}
    where = " AND ".join(["FROM view_results WHERE closed_on <> ''", *(f"{c} = ?" for c in given)])
    build = lambda r: AnnouncedResult(*_announced(r))  # noqa: E731
    order = "closed_on DESC, serial"
    return paged(view, _COLUMNS, where, list(given.values()), order, offset, limit, build)


def announced_count(view: View) -> int:
    """How many results are announced."""
    rows = read(view, "SELECT COUNT(*) FROM view_results WHERE closed_on <> ''")
    return int(rows[0][0]) if rows else 0


def notices_sent(view: View) -> int:
    """How many cases' result SMS went out (FZ·20)."""
    rows = read(view, "SELECT COUNT(*) FROM view_results WHERE sms_sent_at <> ''")
    return int(rows[0][0]) if rows else 0


def applicant_of(view: View, serial: str) -> str | None:
    """The applicant id of the case ``serial`` (a string), or ``None`` if unknown."""
    rows = read(view, "SELECT applicant_id FROM view_results WHERE serial = ?", (serial,))
    return str(rows[0][0]) if rows else None


def page_of(view: View, applicant_id: str) -> str:
    """Which own page the applicant's results go to (GZ16·13): 市民个人网页 or 企业专属网页."""
    rows = read(view, "SELECT kind FROM view_result_pages WHERE applicant_id = ?", (applicant_id,))
    kind = str(rows[0][0]) if rows else "natural_person"
    return PAGE_NAMES.get(kind, "企业专属网页")


def applicant_results(view: View, applicant_id: str, *, limit: int = 200) -> list[ApplicantResult]:
    """The applicant's decided cases (GZ16·13, PY·13), the latest decision first."""
    rows = read(
        view,
        f"SELECT {_COLUMNS} FROM view_results WHERE applicant_id = ? AND decided_on <> '' "
        "ORDER BY decided_on DESC, serial LIMIT ?",
        (applicant_id, limit),
    )
    return [
        ApplicantResult(
            **asdict(AnnouncedResult(*_announced(r))), delivery_method=r[8], sms_sent_at=r[9]
        )
        for r in rows
    ]
