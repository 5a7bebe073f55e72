"""Demo stage "archive": every ended case becomes a self-verifying archive package.

Layer: api (demo). RULES.md "Archiving" (NH·22, FZ·21, GZ20·24). Restarts the demo's anchor
node (its own process, same data), builds the BagIt package of every ended case under
``<out>/archive/`` with the transfers recorded in the ledger and anchored, checks every package
offline (DA/T 70-2018 four properties) and with the ``bagit`` second opinion, rebuilds one to
show the payload digest does not change, and damages a copy of one to show the check names
what broke. Prints the four-property summary.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

from api.demo.main import DemoContext, Stage

SUBMITTED_TOPIC = "ledger.cases:Case.Submitted"
PAGE = 20_000


def ended_serials(ledger: Any) -> list[str]:
    """Serial numbers of every case in the log, in submission order."""
    from ledger.encoding import decode

    serials: list[str] = []
    head = ledger.chain.chain_head()
    for start in range(1, (head.sequence if head else 0) + 1, PAGE):
        for link in ledger.chain.select_links(start, PAGE):
            if link.entry.topic == SUBMITTED_TOPIC and link.event is not None:
                serials.append(str(decode(link.event.state)["serial"]))
    return serials


def run(ctx: DemoContext) -> None:
    from anchors.node.client import NodeClient
    from anchors.worker import AnchoringWorker, open_ledger_anchors
    from api.demo.anchoring import start_node, stop_node
    from api.services import build_services
    from projections.archive.checker import PROPERTIES, check_package
    from projections.archive.second_opinion import bagit_opinion
    from projections.archive.service import ArchiveService, WorkerAnchoring

    runtime = ctx.runtime
    out = ctx.out / "archive"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.perf_counter()
    services = build_services(runtime)
    process, url = start_node(ctx.out / "node")
    try:
        anchors = open_ledger_anchors(
            runtime.ledger, runtime.settings.storage, runtime.keystore, runtime.platform_signer()
        )
        archive = ArchiveService(
            runtime.ledger,
            services.cases,
            services.blobs,
            WorkerAnchoring(AnchoringWorker(anchors, NodeClient(url))),
            clock=services.cases.clock,
            vault=services.vault,
        )
        ended = [s for s in ended_serials(runtime.ledger) if not services.cases.case(s).is_open]
        states = Counter(services.cases.case(s).state.value for s in ended)
        built = time.perf_counter()
        results = archive.build_many(
            [(s, out / s) for s in ended],
            archivist="archive officer (demo)",
            signer=runtime.platform_signer(),
        )
        build_seconds = time.perf_counter() - built
        again = archive.build(
            ended[0], out / ".rebuild", archivist="archive officer (demo)",
            signer=runtime.platform_signer(),
        )  # fmt: skip
    finally:
        stop_node(process)
    checked = time.perf_counter()
    reports = [check_package(r.path) for r in results]  # offline, policy from the package
    check_seconds = time.perf_counter() - checked
    opinions = [bagit_opinion(r.path) for r in results]
    tamper = _tamper(results[0].path, out / ".damaged") if results else {}
    shutil.rmtree(out / ".rebuild", ignore_errors=True)
    summary: dict[str, Any] = {
        "root": str(out),
        "packages": len(results),
        "states": dict(sorted(states.items())),
        "recorded": sum(1 for r in results if r.recorded),
        "bytes": sum(r.bytes for r in results),
        "files": sum(r.files for r in results),
        "passed": sum(1 for r in reports if r.ok),
        "properties": {p: sum(1 for r in reports if r.properties()[p]) for p in PROPERTIES},
        "failed": {str(r.path): list(r.failed) for r in reports if not r.ok},
        "bagit_valid": sum(1 for o in opinions if o.valid),
        "rebuild_same_digest": bool(results) and again.payload_digest == results[0].payload_digest,
        "rebuild_recorded": again.recorded,
        "build_seconds_per_package": round(build_seconds / max(1, len(results)), 3),
        "check_seconds_per_package": round(check_seconds / max(1, len(results)), 3),
        "example": str(results[0].path) if results else "",
        "tamper": tamper,
        "seconds": round(time.perf_counter() - started, 2),
    }
    ctx.summary["archive"] = summary
    (out / "archive.json").write_text(
        json.dumps(summary, indent=1, ensure_ascii=False), encoding="utf-8"
    )


def _tamper(source: Path, copy: Path) -> dict[str, Any]:
    """Flip one byte (same size) of a material in a copy: our check and bagit's, side by side."""
    from projections.archive.checker import check_package
    from projections.archive.second_opinion import bagit_opinion

    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(source, copy)
    victims = sorted((copy / "data" / "materials").glob("*")) or sorted(
        (copy / "data" / "documents").glob("*")
    )
    victim = victims[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    report = check_package(copy)
    opinion = bagit_opinion(copy)
    result = {
        "file": str(victim.relative_to(copy)),
        "caught": not report.ok,
        "failed": list(report.failed),
        "bagit_full": "invalid" if not opinion.valid else "valid",
        "bagit_fast": "invalid" if not opinion.fast_valid else "valid",
    }
    shutil.rmtree(copy, ignore_errors=True)
    return result


def lines(ctx: DemoContext) -> list[str]:
    s = ctx.summary.get("archive")
    if not s:
        return []
    n = s["packages"]
    states = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in s["states"].items())
    names = {
        "authenticity": "真实性",
        "integrity": "完整性",
        "usability": "可用性",
        "security": "安全性",
    }
    props = ", ".join(f"{names[p]} {v}/{n}" for p, v in s["properties"].items())
    out = [
        f"archive        {n} packages of ended cases ({states}) under {s['root']}; "
        f"{s['recorded']} transfers recorded and anchored; {s['files']:,} files, "
        f"{s['bytes'] / 1e6:.1f} MB ({s['seconds']} s)",
        f"  four props   {props} pass; all items pass in {s['passed']}/{n}; bagit second "
        f"opinion valid {s['bagit_valid']}/{n}",
        f"  timing       build {s['build_seconds_per_package']} s, check "
        f"{s['check_seconds_per_package']} s per package; rebuild gives the same payload digest: "
        f"{'yes' if s['rebuild_same_digest'] else 'NO'}",
        f"  check again  caseledger archive check {s['example']}",
    ]
    t = s.get("tamper")
    if t:
        out.append(
            f"  tamper       one flipped byte in {t['file']} (copy): "
            + (f"caught by {', '.join(t['failed'])}" if t["caught"] else "NOT CAUGHT")
            + f"; bagit full {t['bagit_full']}, fast {t['bagit_fast']}"
        )
    for path, failed in list(s["failed"].items())[:3]:
        out.append(f"  FAILED       {path}: {', '.join(failed)}")
    return out


STAGE = Stage("archive", run, lines)
