"""Demo, inside the "http" stage: accountability over HTTP against the demo's own server.

Layer: api (demo). With the server of :mod:`api.demo.http` running, its two department tokens
and a supervisor token: GZ-GA explains an overdue case of its own (FZ·24; the demo's simulated
cases are past their due dates by the server's clock) and the office deducts two points;
GZ-SCJG enters an improper licence of an approved case of its own in the applicant's credit
record, serious, with its legal basis (GZ20·28); the published templates are read without a
token (FZ·16) and the window-veto reports the supervision view lists are counted; and the
walk's applicant is registered a second time, as a channel not joined to the unified identity
would, which the supervision view flags (GZ20·26(三)).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from ledger.domain.cases import Case, CaseState

Call = Callable[..., tuple[int, Any]]
FLAG_WAIT_SECONDS = 20.0


def _cases(ledger: Any, red_of: str, approved_of: str) -> tuple[str, str, str]:
    """(serial of an accepted, undecided case of ``red_of`` past its due date; serial and
    applicant of an approved case of ``approved_of``), from the chain's Case.Accepted entries."""
    today = dt.datetime.now(dt.UTC).date()
    red = approved = applicant = ""
    head = ledger.chain.chain_head()
    for start in range(1, (head.sequence if head else 0) + 1, 20_000):
        for e in ledger.chain.select_entries(start, 20_000):
            if not e.topic.endswith("Case.Accepted"):
                continue
            case = ledger.repository.get(e.originator_id)
            if not isinstance(case, Case):
                continue
            late = case.state is CaseState.ACCEPTED and case.due and case.due < today
            if not red and case.department == red_of and late:
                red = case.serial
            if not approved and case.department == approved_of and case.approved:
                approved, applicant = case.serial, str(case.applicant_id)
            if red and approved:
                return red, approved, applicant
    return red, approved, applicant


def _flags(call: Call, base: str, supervisor: str, flag: str, wanted: int) -> list[dict[str, Any]]:
    """The supervision view's ``flag`` rows once at least ``wanted`` (it follows the log)."""
    deadline = time.monotonic() + FLAG_WAIT_SECONDS
    while True:
        status, warnings = call(base, "GET", "/v1/supervision/warnings", supervisor)
        found = [f for f in warnings.get("flags", []) if f["flag"] == flag] if status == 200 else []
        if len(found) >= wanted or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def walk(
    call: Call,
    base: str,
    ledger: Any,
    tokens: dict[str, str],
    supervisor: str,
    applicant: dict[str, Any],
) -> dict[str, Any]:
    """Each capability once over HTTP; what it answered. ``tokens``: department → token, the
    first for the credit entry and the applicant, the second for the red light."""
    began = time.perf_counter()
    (department, token), (late_department, late_token) = tokens.items()
    red, approved, holder = _cases(ledger, late_department, department)
    out: dict[str, Any] = {"red_serial": red, "approved_serial": approved}
    if red:
        status, answer = call(
            base,
            "POST",
            f"/v1/cases/{red}/red-light/explanation",
            late_token,
            {"explanation": "专家评审延误，已协调加快办理"},
        )
        out["explain_status"] = status
        out["explained_kind"] = (answer.get("detail") or {}).get("sealed", {}).get("kind", "")
        status, _ = call(
            base,
            "POST",
            f"/v1/cases/{red}/red-light/deduction",
            supervisor,
            {"points": 2, "reasons": "超期未办结（红灯）"},
        )
        out["deduct_status"] = status
    if approved:
        status, answer = call(
            base,
            "POST",
            f"/v1/applicants/{holder}/credit-entries",
            token,
            {
                "misconduct": "improper_licence",
                "details": "以虚假场所证明取得许可（演示）",
                "evidence": ["sha256:" + "ab" * 32],
                "case_serial": approved,
                "serious": True,
                "legal_basis": "《中华人民共和国行政许可法》第七十九条",
            },
        )
        out["credit_status"] = status
        out["joint_punishment"] = bool((answer.get("detail") or {}).get("joint_punishment"))
    status, templates = call(base, "GET", "/v1/templates", "")
    out["templates_status"] = status
    out["templates"] = len(templates.get("templates", [])) if status == 200 else 0
    out["digest"] = templates.get("digest", "") if status == 200 else ""
    out["window_vetoes"] = len(_flags(call, base, supervisor, "window_veto", 1))
    before = len(_flags(call, base, supervisor, "duplicate_registration", 0))
    status, _ = call(base, "POST", "/v1/applicants", token, applicant)
    out["second_registration_status"] = status
    after = _flags(call, base, supervisor, "duplicate_registration", before + 1)
    out["duplicates_flagged"] = len(after) - before
    out["seconds"] = round(time.perf_counter() - began, 2)
    return out


def lines(s: dict[str, Any]) -> list[str]:
    """The demo summary's lines for :func:`walk`'s answers."""
    red = (
        f"red light {s['red_serial']}: explained by the department {s['explain_status']} "
        f"({s['explained_kind']}), 2 points deducted by the office {s['deduct_status']} (FZ·24)"
        if s["red_serial"]
        else "no overdue case to explain"
    )
    credit = (
        f"credit entry on {s['approved_serial']} {s['credit_status']}, joint-punishment list: "
        f"{'yes' if s['joint_punishment'] else 'no'} (GZ20·28)"
        if s["approved_serial"]
        else "no approved case for a credit entry"
    )
    return [
        f"accountability {red}; {credit}",
        f"templates      GET /v1/templates {s['templates_status']}: {s['templates']} published "
        f"(FZ·16), digest {s['digest'][:16]}…; {s['window_vetoes']} window refusals reported "
        "to the managing office (窗口否决报备单)",
        f"duplicates     the walk's applicant registered again {s['second_registration_status']}"
        f" → {s['duplicates_flagged']} duplicate_registration flag (GZ20·26(三))",
    ]
