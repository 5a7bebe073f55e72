"""Demo stage "kiosk": the fleet, verified printouts, and a printout verified from its image.

Layer: api (demo). After the anchoring stage has written the trust policy: registers the demo
kiosks in the fleet (PY·21) with a planned suspension announced in time, one announced late,
a fault, and a card swallowed on a non-working day and given back late (PY·21(二)), and reads
the supervision flags; prints a closed case's result document and a
closed case's e-certificate as A4 PDFs under ``<out>/kiosk/`` (each verified end to end first
and recorded in the ledger), renders each PDF to PNG (pypdfium2, 150 dpi), decodes the QR from
the image and verifies it against the policy; shows a refusal (an open case); and leaves the
policy beside the ledger (``trust-policy.json``) and a serial number with its verification
code so a person can walk through ``/kiosk`` in a browser (the demo's "next" block serves it).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from pathlib import Path
from typing import Any

from api.demo.main import KIOSKS, DemoContext, Stage

FLEET_LOCATIONS = {
    "GZ-TH-001": ("广州市天河区政务服务中心一楼大厅", "GZ-ZWFW"),
    "GZ-YX-002": ("广州市越秀区政务服务中心", "GZ-ZWFW"),
    "NH-GC-003": ("佛山市南海区桂城街道便民服务中心", "NH-XZFW"),
}
MAX_CANDIDATES = 40


def _closed_cases(ledger: Any) -> list[Any]:
    from ledger.domain.cases import Case

    found: list[Any] = []
    head = ledger.chain.chain_head()
    size = head.sequence if head else 0
    for start in range(1, size + 1, 20_000):
        for e in ledger.chain.select_entries(start, 20_000):
            if e.topic.endswith("Case.Closed"):
                case = ledger.repository.get(e.originator_id)
                if isinstance(case, Case):
                    found.append(case)
    return found


def _fleet(ctx: DemoContext) -> dict[str, Any]:
    from kiosk.fleet import FleetService
    from projections.kiosk_fleet import KioskFleetView, supervision_flags
    from projections.runner import catch_up, open_view

    runtime = ctx.runtime
    fleet = FleetService(runtime.ledger)
    platform = runtime.platform_signer()
    now = dt.datetime.now(dt.UTC)
    registered = []
    for kiosk_id in KIOSKS:
        signer = ctx.signers.get(f"kiosk:{kiosk_id}")
        if signer is None or kiosk_id not in FLEET_LOCATIONS or fleet.kiosk(kiosk_id):
            continue
        location, department = FLEET_LOCATIONS[kiosk_id]
        fleet.register(
            kiosk_id=kiosk_id,
            location=location,
            key_id=signer.key_id,
            department=department,
            at=now - dt.timedelta(days=60),
            signer=platform,
        )
        registered.append(kiosk_id)
    sh = dt.timezone(dt.timedelta(hours=8))
    # Planned: a one-hour paper change announced three days ahead (in time) …
    fleet.plan_suspension(
        "GZ-TH-001",
        start=dt.datetime(2026, 10, 12, 9, tzinfo=sh),
        end=dt.datetime(2026, 10, 12, 10, tzinfo=sh),
        notified_at=dt.datetime(2026, 10, 8, 9, tzinfo=sh),
        reason="更换打印纸与色带",
        signer=platform,
    )
    # … and a half-day upgrade announced on the Thursday before a holiday Friday (late: PY·21).
    late = fleet.plan_suspension(
        "GZ-YX-002",
        start=dt.datetime(2026, 9, 28, 13, tzinfo=sh),
        end=dt.datetime(2026, 9, 28, 18, tzinfo=sh),
        notified_at=dt.datetime(2026, 9, 24, 9, tzinfo=sh),
        reason="系统升级",
        signer=platform,
    )
    kiosk_signer = ctx.signers["kiosk:NH-GC-003"]
    fleet.report_fault(
        "NH-GC-003",
        at=now - dt.timedelta(days=3),
        cause="equipment",
        note="读卡器故障",
        signer=kiosk_signer,
    )
    fleet.resume("NH-GC-003", at=now - dt.timedelta(days=2), signer=kiosk_signer)
    _card_swallow(fleet, platform, kiosk_signer, now)
    view: Any = open_view(KioskFleetView, runtime.settings.storage)
    catch_up(view, runtime.ledger)
    flags = supervision_flags(view, now)
    return {
        "registered": registered,
        "late_band": late.band.value,
        "flags": [f"{f.kiosk_id} {f.kind}: {f.detail}" for f in flags],
    }


def _card_swallow(fleet: Any, platform: Any, kiosk_signer: Any, now: dt.datetime) -> None:
    """PY·21(二): NH-GC-003 publishes its card-swallow plan; a card swallowed on the last
    non-working day a week or more back is given back after 30 hours — past the
    non-working day's 24-hour limit, so the fleet flags it."""
    from ledger.domain.calendar import is_working_day, shanghai_date
    from ledger.domain.kiosks import CardSwallowPlan

    plan = CardSwallowPlan(
        contact="0757-86280000（非工作日值班）",
        retrieval_measure="值班人员开柜取卡，核对身份证件后交还",
        working_day_hours=2,
        non_working_day_hours=24,
    )
    fleet.publish_emergency_contact(
        "NH-GC-003", plan, at=now - dt.timedelta(days=30), signer=platform
    )
    day = now - dt.timedelta(days=7)
    while is_working_day(shanghai_date(day)):
        day -= dt.timedelta(days=1)
    number = fleet.record_card_swallow("NH-GC-003", at=day, signer=kiosk_signer)
    fleet.resolve_card_swallow(
        "NH-GC-003",
        number,
        at=day + dt.timedelta(hours=30),
        how="次日由值班人员取出交还",
        signer=kiosk_signer,
    )


def _png(pdf: bytes, dpi: int) -> bytes:
    import io

    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    image = document[0].render(scale=dpi / 72).to_pil()
    document.close()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def run(ctx: DemoContext) -> None:
    from anchors.tree import open_tree_store
    from api.services import build_kiosk_service
    from kiosk.codes import SECRET_NAME, verification_code
    from kiosk.errors import PrintRefused
    from kiosk.trust import load_trust_policy
    from kiosk.verify import verify_printout

    started = time.perf_counter()
    runtime = ctx.runtime
    out = ctx.out / "kiosk"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    summary: dict[str, Any] = {"fleet": _fleet(ctx)}
    policy_file = ctx.out / "anchoring" / "policy.json"
    if not policy_file.exists():
        summary["skipped"] = "no trust policy (the anchoring stage did not run)"
        ctx.summary["kiosk"] = summary
        return
    policy = load_trust_policy(str(policy_file))
    if runtime.settings.storage.is_sqlite:
        shutil.copy(policy_file, Path(runtime.settings.storage.path).parent / "trust-policy.json")
    store = open_tree_store(runtime.settings.storage)
    service = build_kiosk_service(runtime, policy, store)
    kiosk_id = KIOSKS[0]
    signer = ctx.signers[f"kiosk:{kiosk_id}"]
    printed: list[dict[str, Any]] = []
    try:
        closed = _closed_cases(runtime.ledger)
        wanted = {True: None, False: None}  # with a certificate / with a result document
        for case in closed[:MAX_CANDIDATES]:
            kind = bool(case.certificate_ids)
            if wanted[kind] is not None:
                continue
            try:
                began = time.perf_counter()
                printout = service.print_result(case.serial, kiosk_id=kiosk_id, kiosk_signer=signer)
                seconds = time.perf_counter() - began
            except PrintRefused:
                continue
            wanted[kind] = case.serial
            pdf_path = out / f"printout-{case.serial}.pdf"
            pdf_path.write_bytes(printout.pdf)
            png = _png(printout.pdf, 150)
            png_path = pdf_path.with_suffix(".png")
            png_path.write_bytes(png)
            verdict = verify_printout(png_path.read_bytes(), policy)
            printed.append(
                {
                    "serial": case.serial,
                    "kind": "e_certificate" if kind else "result_document",
                    "pdf": str(pdf_path),
                    "png": str(png_path),
                    "verified_from_png": verdict.ok,
                    "print_seconds": round(seconds, 3),
                    "qr_version": printout.qr_version,
                    "qr_mm": printout.qr_mm,
                    "checkpoint_size": printout.claim.anchor.checkpoint_size,
                    "block_height": printout.claim.anchor.block_height,
                }
            )
            if all(v is not None for v in wanted.values()):
                break
        open_serial = _an_open_case(runtime.ledger)
        refusal = None
        if open_serial:
            try:
                service.print_result(open_serial, kiosk_id=kiosk_id, kiosk_signer=signer)
            except PrintRefused as exc:
                refusal = f"{open_serial}: {exc.check}: {exc.reason}"
    finally:
        store.close()
    secret = runtime.keystore.secret(SECRET_NAME)
    walk = printed[0]["serial"] if printed else None
    summary.update(
        {
            "printouts": printed,
            "refusal": refusal,
            "walk_through": {
                "serial": walk,
                "code": verification_code(secret, walk) if walk else None,
                "kiosk": kiosk_id,
            },
            "seconds": round(time.perf_counter() - started, 2),
        }
    )
    ctx.summary["kiosk"] = summary
    (out / "kiosk.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False), "utf-8")


def _an_open_case(ledger: Any) -> str | None:
    from ledger.domain.cases import Case

    head = ledger.chain.chain_head()
    for e in ledger.chain.select_entries(max(1, (head.sequence if head else 1) - 20_000), 20_000):
        if e.topic.endswith("Case.Submitted"):
            case = ledger.repository.get(e.originator_id)
            if isinstance(case, Case) and case.is_open:
                return str(case.serial)
    return None


def lines(ctx: DemoContext) -> list[str]:
    s = ctx.summary.get("kiosk")
    if not s:
        return []
    fleet = s["fleet"]
    out = [
        f"kiosk fleet    {len(fleet['registered'])} kiosks registered; flags: "
        + ("; ".join(fleet["flags"]) or "none")
    ]
    if "skipped" in s:
        return [*out, f"kiosk          skipped: {s['skipped']}"]
    for p in s["printouts"]:
        verdict = "verified from its 150 dpi PNG" if p["verified_from_png"] else "NOT VERIFIED"
        out.append(
            f"kiosk print    {p['pdf']} ({p['kind']}, {p['print_seconds']} s, QR v"
            f"{p['qr_version']} {p['qr_mm']} mm, checkpoint {p['checkpoint_size']}, block "
            f"{p['block_height']}): {verdict}"
        )
    if s["refusal"]:
        out.append(f"kiosk refusal  {s['refusal']}")
    w = s["walk_through"]
    if w["serial"]:
        out.append(
            f"kiosk try it   serial {w['serial']}, verification code {w['code']}: at /kiosk "
            f'with a kiosk token named {w["kiosk"]} (the commands are under "next")'
        )
    return out


STAGE = Stage("kiosk", run, lines)
