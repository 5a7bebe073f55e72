"""Benchmark: peak memory and time of the worst inputs we could construct, per decoder.

Run: ``python -m bench.hostile [--only NAME …] [--tree DIR] [--cap-gb 8]``. Prints one JSON
line per case and a summary (date, machine). Each case is one real ``caseledger`` command (or
one library call) in its own process, measured from outside: wall time, and the peak resident
set of the process and every child it waited for (``wait4``'s ``ru_maxrss``). ``--tree`` runs
the commands against another checkout (``git archive <commit> | tar -x -C DIR``: the figures
"before"). ``--cap-gb`` is an address-space limit put on each measured process so that a case
that would take the machine's memory fails instead (reported as such; default 8 GiB).

The inputs come from ``tests.hostile_files``: a PDF page of 14 400 × 14 400 pt, 200 000 pages,
a page tree 50 000 deep, a 40 000² image behind a FlateDecode stream, pixel bombs (PNG, JPEG
header), QR text of 1 601 characters, COSE with a trailing byte or a non-shortest head, a PDF
with ``/JavaScript`` inside an object stream, FlateDecode bombs, a million objects, arrays
nested 100 000 deep, and bags whose ``bag-info.txt`` has a 20 MB or an 8 MB line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    name: str
    decoder: str
    build: Callable[[Path], list[str]]
    """Writes the input under the directory and returns the command's arguments."""


def policy_and_claim(tmp: Path) -> tuple[Path, bytes]:
    from tests.hostile_files import policy_and_claim as make

    return make(tmp)


def _kiosk(name: str, make: Callable[[], bytes], suffix: str) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        policy, _ = policy_and_claim(tmp)
        target = tmp / f"{name}{suffix}"
        target.write_bytes(make())
        return ["kiosk", "verify", str(target), "--policy", str(policy)]

    return build


def _kiosk_text(make: Callable[[bytes], str]) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        policy, cose = policy_and_claim(tmp)
        return ["kiosk", "verify", make(cose), "--policy", str(policy)]

    return build


def _trailing(cose: bytes) -> str:
    from kiosk.claims import encode_qr_text

    return encode_qr_text(cose + b"\x00")


def _long_head(cose: bytes) -> str:
    """The tag's head 0xd2 (tag 18, one byte) written as 0xd8 0x12 (a one-byte argument)."""
    from kiosk.claims import encode_qr_text

    assert cose[0] == 0xD2
    return encode_qr_text(b"\xd8\x12" + cose[1:])


def _archive(name: str, make: Callable[[], bytes]) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        from tests.hostile_files import long_line_bag

        bag = long_line_bag(tmp / "bag", line_bytes=10)
        (bag / "data" / "documents").mkdir()
        (bag / "data" / "documents" / f"{name}.pdf").write_bytes(make())
        return ["archive", "check", str(bag), "--json"]

    return build


def _bag_of(line_bytes: int) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        from tests.hostile_files import long_line_bag

        bag = long_line_bag(tmp / "bag", line_bytes=line_bytes)
        return ["archive", "check", str(bag), "--json"]

    return build


def _bag(tmp: Path) -> list[str]:
    from tests.hostile_files import long_line_bag

    return ["archive", "check", str(long_line_bag(tmp / "bag")), "--json"]


def _cases() -> list[Case]:
    from tests import hostile_files as h

    return [
        Case("huge-page", "pdf", _kiosk("huge-page", h.huge_page_pdf, ".pdf")),
        Case("many-pages", "pdf", _kiosk("many-pages", h.many_pages_pdf, ".pdf")),
        Case("deep-page-tree", "pdf", _kiosk("deep-tree", h.deep_page_tree_pdf, ".pdf")),
        Case("image-bomb", "pdf", _kiosk("image-bomb", h.image_bomb_pdf, ".pdf")),
        Case("smask-bomb", "pdf", _kiosk("smask-bomb", h.smask_bomb_pdf, ".pdf")),
        Case("png-bomb", "image", _kiosk("png-bomb", h.png_bomb, ".png")),
        Case("jpeg-header-bomb", "image", _kiosk("jpeg-bomb", h.huge_jpeg_header, ".jpg")),
        Case("qr-text-1601", "text", _kiosk_text(lambda _: "CL1:" + "A" * 1601)),
        Case("cose-trailing-byte", "cose", _kiosk_text(_trailing)),
        Case("cose-long-head", "cose", _kiosk_text(_long_head)),
        Case("bag-info-20mb-line", "bagit", _bag),
        Case("bag-info-8mb-line", "bagit", _bag_of(8 * 1024 * 1024)),
        Case(
            "js-in-object-stream", "pdf-active", _archive("js", h.javascript_in_object_stream_pdf)
        ),
        Case("flate-bomb-1gb", "pdf-active", _archive("bomb", h.flate_bomb_pdf)),
        Case(
            "flate-bomb-20x75mb",
            "pdf-active",
            _archive("bombs", lambda: h.flate_bomb_pdf(75_000_000, streams=20)),
        ),
        Case(
            "million-objects",
            "pdf-active",
            _archive("objects", lambda: h.needing_the_parser(h.many_objects_pdf())),
        ),
        Case(
            "nesting-100k",
            "pdf-active",
            _archive("nested", lambda: h.needing_the_parser(h.deep_nesting_pdf())),
        ),
    ]


def measure(argv: list[str], tree: Path, cap_bytes: int, timeout: float) -> dict[str, Any]:
    """Run ``caseledger ARGV`` from ``tree``; its exit, wall time, peak RSS and first lines."""
    from tests.hostile_files import measured_cli

    run = measured_cli(argv, tree=tree, timeout=timeout, address_space=cap_bytes)
    stdout = run.stdout.strip().splitlines()
    stderr = run.stderr.strip().splitlines()
    try:  # archive check --json: what its security item and the second opinion said
        report = json.loads(run.stdout)
        active = next(i for i in report["items"] if i["id"] == "content.active")
        second = report.get("second_opinion") or {}
        stdout = [
            f"content.active {'pass' if active['passed'] else 'FAIL'}: "
            + "; ".join(active["problems"] or [active["why"]]),
            f"bagit: ran {second.get('ran')}, valid {second.get('valid')}: {second.get('detail')}",
        ]
    except (ValueError, KeyError, StopIteration, TypeError):
        pass
    return {
        "exit": run.returncode,
        "seconds": round(run.seconds, 2),
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        "timed_out": run.timed_out,
        "stdout": [line[:200] for line in stdout[:2]],
        "stderr": [line[:200] for line in stderr[-2:]],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="case names to run (default: all)")
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout to run the CLI from")
    parser.add_argument("--cap-gb", type=float, default=8.0, help="address-space limit (GiB)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per case")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    cases = [c for c in _cases() if not args.only or c.name in args.only]
    results = []
    for case in cases:
        with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
            command = case.build(Path(tmp))
            size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
            row = {
                "case": case.name,
                "decoder": case.decoder,
                "input_bytes": size,
                **measure(command, args.tree.resolve(), int(args.cap_gb * 2**30), args.timeout),
            }
        results.append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)
    summary = {
        "benchmark": "hostile",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "python": platform.python_version(),
        "tree": str(args.tree),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cases": len(results),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
