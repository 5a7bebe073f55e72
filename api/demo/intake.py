"""Demo stage "intake": what the platform may not ask of an applicant (RULES.md "Further
obligations"), each refusal shown once and recording nothing.

Layer: api (demo). Runs after the case stage, on its catalogue and its open cases: guides the
catalogue refuses to publish (GZ20·12 forms and time limit, GZ20·12 online pre-step, GZ20·10
full-online basis, GZ16·18 / PY·24 / FZ·7 samples), correction and refusal grounds the ledger
refuses (NH·18, PY·12(一), FZ·23, FZ·13), and the legal basis of unshareable data told on the
application receipts (GZ16·4, PY·4(六)).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from api.demo.cases import Run, Simulation
from api.demo.main import DemoContext, Stage
from ledger.domain.cases import CaseState, Channel
from ledger.domain.catalogue import Guide, HandlingMode, ServiceItem, Sharing
from ledger.domain.intake import E_SIGNED_FORMS
from ledger.errors import RuleViolation

_OPEN: frozenset[CaseState] = frozenset({CaseState.SUBMITTED, CaseState.CORRECTED})
"""States in which a correction or a non-acceptance may be issued."""


def _code(action: Callable[[], Any]) -> str:
    """The code of the violation ``action`` raises; "accepted" if it raises none."""
    try:
        action()
    except RuleViolation as exc:
        return f"{exc.code} ({exc.rule})"
    return "accepted"


def _guides(sim: Simulation) -> dict[str, str]:
    """Each flawed guide a department tries to publish, and what the catalogue answers."""
    base = next(
        p.guide for p in sim.items if HandlingMode.FULL_ONLINE not in p.guide.handling_modes
    )
    window_limit = base.promised_limit_days

    def publish(**changes: Any) -> Callable[[], Any]:
        def go() -> ServiceItem:
            guide: Guide = dataclasses.replace(
                base, implementation_code="DEMO-FLAWED-01", **changes
            )
            return ServiceItem.publish(guide)

        return go

    online_only = dataclasses.replace(base.forms[0], code="ONLINE-EXTRA", window=False)
    no_sample = dataclasses.replace(base.forms[0], sample_text="")
    return {
        f"online limit {window_limit + 2} > window {window_limit} days": _code(
            publish(online_promised_limit_days=window_limit + 2)
        ),
        "an online-only form": _code(publish(forms=(*base.forms, online_only))),
        "online pre-step, no window handling": _code(
            publish(handling_modes=(HandlingMode.ONLINE_PRE_ACCEPTANCE,))
        ),
        "no full-online handling, no basis": _code(publish(full_online_exception="")),
        "a form without its sample text": _code(publish(forms=(no_sample,))),
    }


def _open_case(sim: Simulation, want: Callable[[Run, Any], bool]) -> tuple[Run, Any] | None:
    for run in sim.runs:
        case = sim.cases.case(run.serial) if run.serial else None
        if case is not None and case.state in _OPEN and want(run, case):
            return run, case
    return None


def _grounds(sim: Simulation) -> dict[str, str]:
    """Correction and refusal grounds the ledger refuses, tried on open cases."""
    out: dict[str, str] = {}
    found = _open_case(sim, lambda r, c: True)
    if found:
        _, case = found
        code = next(iter(case.materials))
        seal = sim.seal(case.department)
        out["correction: material is electronic"] = _code(
            lambda: sim.cases.request_correction(
                case.serial, {code: "请提交纸质件"}, grounds={code: "electronic_not_paper"},
                signer=seal,
            )
        )  # fmt: skip
        out["non-acceptance: shared data not fetched"] = _code(
            lambda: sim.cases.not_accept(
                case.serial, ["共享数据无法调取"], grounds={code: "shared_data_unavailable"},
                signer=seal,
            )
        )  # fmt: skip
    signed = _open_case(
        sim, lambda r, c: any(m["form"] in E_SIGNED_FORMS for m in c.materials.values())
    )
    if signed:
        _, case = signed
        code = next(c for c, m in case.materials.items() if m["form"] in E_SIGNED_FORMS)
        out["correction: paper re-signature of e-signed"] = _code(
            lambda: sim.cases.request_correction(
                case.serial, {code: "请在纸质件上重新签名"}, grounds={code: "paper_resignature"},
                signer=sim.seal(case.department),
            )
        )  # fmt: skip
    window = _open_case(sim, lambda r, c: c.channel is Channel.WINDOW)
    if window:
        _, case = window
        code = next(iter(case.materials))
        out["window case: fill in online afterwards"] = _code(
            lambda: sim.cases.request_correction(
                case.serial, {code: "请到网上补填"}, grounds={code: "online_backfill"},
                signer=sim.seal(case.department),
            )
        )  # fmt: skip
    return out


def _not_shared(sim: Simulation) -> list[str]:
    """Unshareable materials with the basis told on their cases' application receipts."""
    told: list[str] = []
    for plan in sim.items:
        for spec in plan.guide.materials:
            if spec.sharing is not Sharing.NOT_SHAREABLE:
                continue
            receipts = 0
            for run in sim.runs:
                if run.item is plan and run.serial:
                    receipt = sim.cases.documents(run.serial)[0]
                    receipts += any(
                        m["code"] == spec.code for m in receipt.body.get("not_shared", [])
                    )
            told.append(f"{plan.guide.name}: {spec.name} — basis on {receipts} receipts")
    return told


def _versions(sim: Simulation) -> dict[str, int]:
    """Each open case's version: a refused command leaves it unchanged. (The chain head is no
    measure here: the anchoring worker records in the background.)"""
    cases = [sim.cases.case(r.serial) for r in sim.runs if r.serial]
    return {c.serial: int(c.version) for c in cases if c.state in _OPEN}


def run(ctx: DemoContext) -> None:
    sim = ctx.running.get("simulation")
    if not isinstance(sim, Simulation):
        return
    before = _versions(sim)
    guides = _guides(sim)  # a refused guide is never saved: ServiceItem.publish raises first
    grounds = _grounds(sim)
    ctx.summary["intake"] = {
        "guides": guides,
        "grounds": grounds,
        "not_shared": _not_shared(sim),
        "recorded_nothing": _versions(sim) == before,
    }


def lines(ctx: DemoContext) -> list[str]:
    s = ctx.summary.get("intake")
    if not s:
        return []
    nothing = "yes" if s["recorded_nothing"] else "NO"
    out = [f"intake         asked of no applicant (refused; nothing recorded: {nothing})"]
    out += [f"  guide        {what}: {code}" for what, code in s["guides"].items()]
    out += [f"  notice       {what}: {code}" for what, code in s["grounds"].items()]
    out += [f"  not shared   {line} (GZ16·4, PY·4(六))" for line in s["not_shared"]]
    return out


STAGE = Stage("intake", run, lines)
