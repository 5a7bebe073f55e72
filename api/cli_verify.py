"""``caseledger verify``: the auditor's command (DESIGN "Contract").

Layer: api. Exit 0 verified, 1 verification failed (first bad sequence and why),
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api.cli import EXIT_FAILED, EXIT_OK, storage_args
from api.settings import load_settings
from ledger.errors import ConfigurationError
from ledger.verification import Report, verify_chain


def _policy_platform_keys(path: str) -> list[bytes]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        keys = data["ledger"]["platform_keys"]
        return [bytes.fromhex(k) for k in keys]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"--policy: cannot read platform keys from {path}: {exc}") from exc


def _progress_printer() -> Callable[[int, int], None] | None:
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\rverifying {done:,}/{total:,}", end=end, file=sys.stderr, flush=True)

    return show


def print_report(report: Report, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.as_dict(), indent=1, ensure_ascii=False))
        return
    if report.ok:
        rate = report.checked / report.seconds if report.seconds else 0.0
        print(
            f"verified: {report.checked:,} entries "
            f"({report.first_sequence}..{report.head_sequence}) "
            f"in {report.commands:,} signed commands, {report.keys} keys; "
            f"head {report.head_hash.hex()} ({rate:,.0f} entries/s)"
        )
        if not report.genesis_pinned:
            print("note: the genesis platform key was trusted on first use (--policy pins it)")
    else:
        print(f"FAILED at {report.failure}")


def cmd_verify(args: argparse.Namespace) -> int:
    if args.checkpoint or args.node:
        raise ConfigurationError("--checkpoint/--node: anchoring is not available in this build")
    from ledger.application import open_ledger

    pinned = _policy_platform_keys(args.policy) if args.policy else []
    try:
        trusted = bytes.fromhex(args.trusted_head) if args.trusted_head else None
    except ValueError as exc:
        raise ConfigurationError("--trusted-head: not a hex hash") from exc
    ledger = open_ledger(load_settings(args.db).storage)
    try:
        report = verify_chain(
            ledger.chain,
            start=max(1, args.start),
            trusted_prev_hash=trusted,
            pinned_platform_keys=pinned,
            progress=_progress_printer(),
        )
    finally:
        ledger.close()
    print_report(report, args.json)
    return EXIT_OK if report.ok else EXIT_FAILED


def register(sub: Any) -> None:
    p = sub.add_parser("verify", help="verify the chain; exit 0 verified, 1 failed, 2 usage")
    storage_args(p)
    p.add_argument("--policy", help="trust policy JSON (pins the platform keys)")
    p.add_argument("--checkpoint", help="a cosigned checkpoint kept earlier")
    p.add_argument("--node", help="URL of the anchor node")
    p.add_argument("--from", dest="start", type=int, default=1, help="verify from sequence N")
    p.add_argument("--trusted-head", help="hex entry hash of sequence N-1 (with --from)")
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.set_defaults(handler=cmd_verify)
