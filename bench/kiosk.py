"""Benchmark: kiosk printouts — one verified printout, verification from a PNG, QR sizes.

Run: ``python -m bench.kiosk [--runs 30]``. Prints one JSON report (date, machine, figures).

* Verified printout: ``KioskService.print_result`` on a closed case of a real SQLite ledger
  anchored to a real ``caseledger node serve`` process: every check of
  ``kiosk.verified_print`` (seal, chain entry and command signature, cosigned receipt,
  inclusion proof, status), claim + COSE_Sign1 + Base45 + QR, the A4 PDF with the CJK font
  (subset cache warm: the one-time subsetting is reported apart), and the ``KioskPrint``
  record written to the ledger. Goal: p50 ≤ 500 ms.
* Verify from PNG: the printout rendered at 150 and 300 dpi (pypdfium2), then
  ``kiosk.verify.verify_printout`` on the PNG bytes (decode, QR scan, COSE, signature).
  Goal: p50 ≤ 200 ms.
* QR: version at level Q and printed side at 0.4 mm and 0.5 mm modules for a result document
  and an e-certificate claim.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.claims import decode_qr_text, parse_cose
from kiosk.printing import FontCache, qr_code
from kiosk.verify import extract_qr_text, verify_printout


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 1),
        "min_ms": round(ordered[0] * 1000, 1),
        "runs": len(ordered),
    }


def _png(pdf: bytes, dpi: int) -> bytes:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    image = document[0].render(scale=dpi / 72, grayscale=True).to_pil()
    document.close()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _qr(text: str) -> dict[str, Any]:
    code = qr_code(text)
    modules = code.symbol_size(border=0)[0]
    cose = decode_qr_text(text)
    return {
        "claim_bytes": len(parse_cose(cose).payload),
        "cose_bytes": len(cose),
        "text_chars": len(text),
        "version": code.version,
        "error": code.error,
        "modules": modules,
        "side_mm_at_0.4": round(modules * 0.4, 1),
        "side_mm_at_0.5": round(modules * 0.5, 1),
    }


def main() -> None:
    from tests.anchors.processes import NodeProcess
    from tests.kiosk.world import KIOSK_ID, build_kiosk_world

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-kiosk-"))
    os.environ.setdefault("CASELEDGER_CACHE_DIR", str(tmp / "cache"))
    began = time.perf_counter()
    FontCache.default().subset()
    subset_seconds = time.perf_counter() - began
    node = NodeProcess(tmp / "node").start()
    try:
        kw = build_kiosk_world(f"sqlite:///{tmp / 'ledger.sqlite3'}", tmp, node.url)
        try:
            service, signer = kw.service, kw.world.kiosk
            service.print_result(kw.document_serial, kiosk_id=KIOSK_ID, kiosk_signer=signer)
            prints: list[float] = []
            pdf = b""
            for _ in range(args.runs):
                t = time.perf_counter()
                printout = service.print_result(
                    kw.document_serial, kiosk_id=KIOSK_ID, kiosk_signer=signer
                )
                prints.append(time.perf_counter() - t)
                pdf = printout.pdf
            certificate = service.print_result(
                kw.certificate_serial, kiosk_id=KIOSK_ID, kiosk_signer=signer
            )
            verify: dict[str, Any] = {}
            for dpi in (150, 300):
                png = _png(pdf, dpi)
                samples = []
                for _ in range(args.runs):
                    t = time.perf_counter()
                    verdict = verify_printout(png, kw.policy)
                    samples.append(time.perf_counter() - t)
                    assert verdict.ok, verdict.lines()
                verify[f"png_{dpi}dpi"] = {**_ms(samples), "png_bytes": len(png)}
            samples = []
            for _ in range(args.runs):
                t = time.perf_counter()
                assert verify_printout(pdf, kw.policy).ok
                samples.append(time.perf_counter() - t)
            verify["pdf"] = _ms(samples)
            report = {
                "bench": "kiosk",
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {
                    "node": platform.node(),
                    "system": platform.platform(),
                    "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                },
                "font_subset_once_seconds": round(subset_seconds, 2),
                "verified_printout": {**_ms(prints), "goal_p50_ms": 500, "pdf_bytes": len(pdf)},
                "verify_printout": {**verify, "goal_p50_ms": 200},
                "qr": {
                    "result_document": _qr(extract_qr_text(pdf)[0]),
                    "e_certificate": _qr(extract_qr_text(certificate.pdf)[0]),
                },
            }
        finally:
            kw.close()
    finally:
        node.stop()
    print(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
