"""Demo stage "officials": named officials drive a case; an out-of-role attempt is refused.

Layer: api (demo). RULES.md "Accountability of officials" (FZ·26(二)(五), NH·6(二), GZ20·11):
the platform appoints the market regulator's first administrator, who appoints its reception,
acceptance, decision and delivery officials; the city's comprehensive window (GZ-ZWFW) is
appointed too and the regulator delegates reception to it. One food-licence case is then
taken at the window and driven by those officials, each step signed by the official's own key
(the decision and the e-certificate still sealed by the department's e-seal). A reception
official tries to decide three times: refused each time, nothing of the step recorded, the
attempts recorded — the supervision stage flags the official, and an official of the
office's e-supervision (电子监察, a supervisor as an individual) orders the regulator to explain
them; its decision official answers under the department's seal and the order is closed.
Finally the auditor's per-official history of the decision-maker is printed and written with
its inclusion proofs under ``--out``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any, Final

from api.demo.main import DemoContext, Stage
from api.demo.services import OFFICE, OFFICE_SUPERVISOR
from api.officials import appoint, history_with_proofs
from ledger.domain.certificates import Certificate
from ledger.domain.result_delivery import IdCheck, IdDocument
from ledger.domain.rules import AuthorityExceeded
from ledger.domain.supervision import SupervisionReason
from ledger.services.domain_services import CertificateService, SupervisionService
from ledger.services.officials import OfficialService

DEPARTMENT: Final = "GZ-SCJG"
WINDOW: Final = "GZ-ZWFW"
ITEM: Final = "GZ-SCJG-SPJY-001"
STAFF: Final = (
    # staff code, department, roles, work label
    ("SCJG-A01", DEPARTMENT, ("admin",), "市场监管局 系统管理员"),
    ("SCJG-R01", DEPARTMENT, ("reception",), "市场监管局 收件岗"),
    ("SCJG-C01", DEPARTMENT, ("acceptance",), "市场监管局 受理岗"),
    ("SCJG-D01", DEPARTMENT, ("decision", "certificate"), "市场监管局 审批岗"),
    ("SCJG-S01", DEPARTMENT, ("delivery",), "市场监管局 送达岗"),
    ("ZWFW-W03", WINDOW, ("reception",), "综合窗口 3号"),
    ("ZWFW-J01", WINDOW, ("supervision",), "电子监察 督查员"),
)
SUPERVISOR: Final = "ZWFW-J01"
"""An official of the online-services office (its e-supervision, 电子监察): supervisors are
individuals too; their orders are signed with their own key."""
REFUSED_ATTEMPTS: Final = 3


def run(ctx: DemoContext) -> None:
    sim: Any = ctx.running.get("simulation")
    if sim is None:
        return
    started = time.perf_counter()
    runtime = ctx.runtime
    platform = runtime.platform_signer()
    admin_code = STAFF[0][0]
    for code, department, roles, label in STAFF:
        by = platform if code == admin_code or department == WINDOW else ctx.signers[admin_code]
        appoint(runtime, code, department, roles, label, by=by)
        ctx.signers[code] = runtime.keystore.current_signer(f"official:{code}")
    service = OfficialService(runtime.ledger)
    service.grant_delegation(
        DEPARTMENT, WINDOW, "一窗受理：预审、收件、咨询委托综合窗口办理", by=ctx.signers[admin_code]
    )
    cases, s = sim.cases, ctx.signers
    serial = _submit_at_the_window(sim, s["ZWFW-W03"])
    cases.pass_pre_review(serial, signer=s["ZWFW-W03"])  # under the delegation
    cases.accept(serial, signer=s["SCJG-C01"])
    refused = 0
    for _ in range(REFUSED_ATTEMPTS):
        try:
            cases.approve(serial, signer=s["SCJG-R01"])  # reception may not decide
        except AuthorityExceeded:
            refused += 1
    decision = cases.approve(serial, signer=s["SCJG-D01"])
    cases.issue_result_document(serial, signer=s["SCJG-D01"])
    certificate = _issue_certificate(ctx, sim, serial)  # before dispatch (GZ16·15)
    order = _supervise(ctx, sim.clock.now(), refused)
    cases.dispatch(serial, "on_site", signer=s["SCJG-S01"])
    cases.sign_off(serial, signer=s["SCJG-S01"], id_check=IdCheck(IdDocument.RESIDENT_ID_CARD))
    history = history_with_proofs(runtime, "SCJG-D01")
    folder = ctx.out / "officials"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "SCJG-D01-history.json"
    path.write_text(json.dumps(history, ensure_ascii=False, indent=2) + "\n")
    assert decision.document is not None
    ctx.summary["officials"] = {
        "appointed": len(STAFF),
        "case": serial,
        "refused": refused,
        "decision_sealed_by": decision.document.key_id.hex(),
        "decision_signed_by": s["SCJG-D01"].key_id.hex(),
        "certificate": certificate.identifier,
        "certificate_sealed_by": certificate.versions[0].record.key_id.hex(),
        "order": order,
        "history": str(path),
        "history_actions": len(history["actions"]),
        "history_verified": history["verification"]["ok"],
        "history_lines": _history_lines(history),
        "seconds": round(time.perf_counter() - started, 2),
    }


def _seals(ctx: DemoContext) -> Any:
    """The current seal of a department (its e-seal) or of the office (its supervisor key)."""
    return lambda code: ctx.signers[OFFICE_SUPERVISOR if code == OFFICE else f"dept:{code}"]


def _issue_certificate(ctx: DemoContext, sim: Any, serial: str) -> Certificate:
    """SCJG-D01 (certificate role) issues the case's e-certificate: the command signed by the
    official, the certificate sealed by the department's key, recorded on the case."""
    case = sim.cases.case(serial)
    issuer = sim.issuers[DEPARTMENT]
    service = CertificateService(ctx.runtime.ledger).sealed_by(_seals(ctx))
    return service.issue(
        signer=ctx.signers["SCJG-D01"],
        department=DEPARTMENT,
        case_id=case.id,
        case_serial=serial,
        case_department=case.department,
        case_decided=case.approved,
        holder=case.applicant_id,
        type_code=issuer + "002",
        issuer_code=issuer,
        serial="C00009001",
        content={"licence": "食品经营许可证", "case": serial},
        at=sim.clock.now(),
        case=case,
    )


def _supervise(ctx: DemoContext, now: dt.datetime, refused: int) -> dict[str, Any]:
    """The supervision office's official orders the department to explain its official's
    refused attempts (FZ·26(五)); its decision official answers (sealed); the order closes.
    A supervision official of the department itself would be refused (never over itself)."""
    service = SupervisionService(ctx.runtime.ledger).sealed_by(_seals(ctx))
    by = ctx.signers[SUPERVISOR]
    order = service.issue(
        signer=by,
        department=DEPARTMENT,
        reason=SupervisionReason.OTHER,
        details=f"SCJG-R01 {refused} 次越权审批尝试 (FZ·26(五))",
        at=now,
    )
    answer = service.answer(
        order.id,
        signer=ctx.signers["SCJG-D01"],
        department=DEPARTMENT,
        answer="已约谈并重新培训岗位权限",
        at=now,
    )
    service.close(order.id, signer=by, conclusion="已整改", at=now)
    return {
        "id": str(order.id),
        "issued_by": order.supervisor,
        "answer_sealed_by": answer.key_id.hex(),
        "closed": service.order(order.id).closed,
    }


def _submit_at_the_window(sim: Any, signer: Any) -> str:
    """A food-licence application taken at the comprehensive window (its materials in hand)."""
    from api.demo.cases import Run

    item = next(i for i in sim.items if i.guide.implementation_code == ITEM)
    person = next(p for p in sim.people[1:] if p.enterprise == item.for_enterprises)
    run = Run(9001, item, person, "approved", "window", "on_site")
    materials = [sim.material(run, spec) for spec in item.guide.materials]
    outcome = sim.cases.submit(
        item_code=ITEM,
        applicant_id=person.applicant.id,
        channel="window",
        handling_mode="window",
        materials=materials,
        delivery="on_site",
        signer=signer,
    )
    return str(outcome.serial)


def _history_lines(history: dict[str, Any]) -> list[str]:
    lines = []
    for a in history["actions"]:
        topics = ", ".join(t.split(":", 1)[1] for t in a["topics"])
        case = f" {a['case_serial']}" if a["case_serial"] else ""
        by = "" if a["signed_by_official"] else " (by the administrator)"
        lines.append(f"#{a['sequence']} {topics}{case}{by}")
    return lines


def lines(ctx: DemoContext) -> list[str]:
    s = ctx.summary.get("officials")
    if not s:
        return []
    verdict = "verified" if s["history_verified"] else "NOT verified"
    out = [
        f"officials      {s['appointed']} appointed (GZ-SCJG delegates reception to the window);"
        f" case {s['case']} driven by named officials",
        f"  refused      {s['refused']} out-of-role decisions by SCJG-R01 (FZ·26(五)): nothing "
        "recorded but the attempts",
        f"  decision     sealed by the department's key {s['decision_sealed_by'][:8]}…, signed by"
        f" SCJG-D01's key {s['decision_signed_by'][:8]}…",
        f"  certificate  {s['certificate']} issued by SCJG-D01, sealed by the department's key "
        f"{s['certificate_sealed_by'][:8]}…",
        f"  supervisor   {s['order']['issued_by']} (e-supervision) ordered {DEPARTMENT} on the "
        f"refused attempts; answered by SCJG-D01 (sealed {s['order']['answer_sealed_by'][:8]}…),"
        f" closed: {s['order']['closed']}",
        f"  history      SCJG-D01: {s['history_actions']} actions, chain {verdict}, proofs in "
        f"{s['history']}",
    ]
    out += [f"    {line}" for line in s["history_lines"]]
    return out


STAGE = Stage("officials", run, lines)
