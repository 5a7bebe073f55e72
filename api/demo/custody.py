"""Demo stage "custody": a backup recorded in the chain, the read models checked against the
log, and hostile input refused within its bounds.

Layer: api (demo). After the other stages have written the city's history: ``caseledger
backup`` (NH·22, docs/OPERATIONS.md) takes a consistent copy and records it; every read model
is rebuilt from the log beside the live one and compared row by row (``projections verify``,
docs/PROJECTIONS.md); and a 330-byte PDF declaring one 14,400-point page — 4.8 GB of memory to
render before ``kiosk verify`` was bounded — is refused with one line (docs/KIOSK.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from api.demo.main import DemoContext, Stage


def pdf(objects: Sequence[bytes], *, root: int = 1, header: bytes = b"%PDF-1.7") -> bytes:
    """A PDF whose object ``i + 1`` is ``objects[i]`` (the text between ``obj`` and
    ``endobj``), with a correct cross-reference table and trailer."""
    out = bytearray(header + b"\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\n" % (len(objects) + 1, root)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def huge_page_pdf(points: int = 14_400) -> bytes:
    """One page of ``points`` × ``points`` (14 400 pt is the PDF maximum): about 330 bytes."""
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] >>" % (points, points),
        ]
    )


def run(ctx: DemoContext) -> None:
    from api.custody import take
    from kiosk.errors import InputRefused
    from kiosk.verify import extract_qr_text
    from projections.registry import VIEWS
    from projections.runner import open_view
    from projections.verify import check_seals, compare_with_rebuild

    out = ctx.out / "custody"
    out.mkdir(parents=True, exist_ok=True)
    runtime = ctx.runtime
    storage = runtime.settings.storage
    suffix = ".sqlite3" if storage.is_sqlite else ".dump"
    info, sequence = take(runtime, out / f"backup{suffix}")

    began = time.perf_counter()
    log_events = runtime.ledger.recorder.max_notification_id() or 0
    views = [open_view(cls, storage) for cls in VIEWS]
    seals = check_seals(views, runtime.ledger)
    compared = compare_with_rebuild(views, storage, runtime.ledger)
    differing = [c.finding() for c in compared if c.finding() is not None]
    views_seconds = time.perf_counter() - began

    hostile = huge_page_pdf()
    (out / "hostile-14400pt.pdf").write_bytes(hostile)
    began = time.perf_counter()
    try:
        extract_qr_text(hostile)
        refusal = "NOT REFUSED"
    except InputRefused as exc:
        refusal = str(exc)
    hostile_seconds = time.perf_counter() - began

    summary: dict[str, Any] = {
        "backup": str(out / f"backup{suffix}"),
        "backup_head": info.head_sequence,
        "backup_sha256": info.sha256.hex(),
        "backup_recorded_at": sequence,
        "views": len(views),
        "views_with_findings": len(seals) + len(differing),
        "views_seconds": round(views_seconds, 2),
        "views_log_events": log_events,
        "hostile_bytes": len(hostile),
        "hostile_refusal": refusal,
        "hostile_seconds": round(hostile_seconds, 2),
    }
    ctx.summary["custody"] = summary
    (out / "custody.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")


def lines(ctx: DemoContext) -> list[str]:
    s = ctx.summary.get("custody")
    if not s:
        return []
    matched = (
        "every row matches"
        if s["views_with_findings"] == 0
        else f"{s['views_with_findings']} DIFFER"
    )
    return [
        f"backup         {s['backup']}: head {s['backup_head']:,}, sha256 "
        f"{s['backup_sha256'][:16]}…, recorded in the chain at sequence "
        f"{s['backup_recorded_at']:,} (NH·22)",
        f"read models    {s['views']} views rebuilt from the log beside the live ones: {matched} "
        f"({s['views_log_events']:,} log events in {s['views_seconds']} s, read once for all)",
        f"hostile input  a {s['hostile_bytes']}-byte PDF declaring a 14,400-pt page: refused in "
        f"{s['hostile_seconds']} s — {s['hostile_refusal']}",
    ]


STAGE = Stage("custody", run, lines)
