"""Demo stage: results and their delivery (RULES.md "Further obligations").

A window application for a food licence is disapproved and its decision posted: an express
company not licensed for official documents is refused (GZ16·16), so is postage charged in
advance (PY·16); EMS with the fee on delivery goes, with the result SMS (FZ·20). Then the
results view counts the result SMS recorded and the results announced to the public (GZ20·18,
GZ16·18).
"""

from __future__ import annotations

import time
from typing import Any, Final

from api.demo.main import DemoContext, Stage
from ledger.domain.rules import CourierFeeNotOnDelivery, CourierNotLicensed
from projections import results as rs
from projections.runner import catch_up, open_view

DEPARTMENT: Final = "GZ-SCJG"
ITEM: Final = "GZ-SCJG-SPJY-001"
UNLICENSED: Final = "sf_express"


def run(ctx: DemoContext) -> None:
    sim: Any = ctx.running.get("simulation")
    if sim is None:
        return
    started = time.perf_counter()
    from api.demo.cases import Run

    cases, seal = sim.cases, ctx.signers[f"dept:{DEPARTMENT}"]
    item = next(i for i in sim.items if i.guide.implementation_code == ITEM)
    person = next(p for p in sim.people[1:] if p.enterprise == item.for_enterprises)
    plan = Run(9101, item, person, "disapproved", "window", "courier")
    outcome = cases.submit(
        item_code=ITEM,
        applicant_id=person.applicant.id,
        channel="window",
        handling_mode="window",
        materials=[sim.material(plan, spec) for spec in item.guide.materials],
        delivery="courier",
        signer=seal,
    )
    serial = str(outcome.serial)
    cases.accept(serial, signer=seal)
    cases.disapprove(serial, ["经营场所与申报布局不符"], signer=seal)
    refused = []
    for courier, fee, violation in (
        (UNLICENSED, "cash_on_delivery", CourierNotLicensed),
        ("ems", "charged_in_advance", CourierFeeNotOnDelivery),
    ):
        try:
            cases.dispatch(
                serial,
                "courier",
                waybill="EMS1000000001",
                courier=courier,
                courier_fee=fee,
                signer=seal,
            )
        except violation as exc:
            refused.append(f"{exc.rule} {exc.code}")
    cases.dispatch(serial, "courier", waybill="EMS1000000001", courier="ems", signer=seal)
    cases.sign_off(serial, signer=seal)
    cases.close(serial, signer=seal)
    closed = cases.case(serial)
    view = open_view(rs.ResultsView, ctx.runtime.settings.storage)
    catch_up(view, ctx.runtime.ledger)
    ctx.summary["results"] = {
        "case": serial,
        "refused": refused,
        "state": closed.state.value,
        "sms_recorded": rs.notices_sent(view),
        "announced": rs.announced_count(view),
        "seconds": round(time.perf_counter() - started, 2),
    }


def lines(ctx: DemoContext) -> list[str]:
    s = ctx.summary.get("results")
    if not s:
        return []
    return [
        f"results        {s['sms_recorded']} result SMS recorded (FZ·20, phone sealed); "
        f"{s['announced']} results announced publicly (GZ20·18, GZ16·18: GET /v1/results)",
        f"  courier      case {s['case']}: {UNLICENSED} refused, postage in advance refused "
        f"({'; '.join(s['refused'])}); EMS, fee on delivery, sent",
    ]


STAGE = Stage("results", run, lines)
