"""``caseledger projections status | run | rebuild NAME | verify``: operating the read models.

Layer: api. ``verify`` (issue 15) checks every view's seal against its tracking and the chain
and compares every view with a scratch rebuild from the log (``projections.verify``): exit 0
when each matches, 1 naming each view that does not and what differs (the outcome is
recorded as the view's alarm, which ``serve``'s ``/readyz`` reports), 2 on a usage or
infrastructure error. ``--quick`` checks the seals only. ``reset NAME…`` rebuilds views from
the log in fresh stores, reading it once, and swaps them in (the repair for a view found
different; ``serve`` may keep running: its readers see the old view until the new one is
complete).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from api.cli.main import EXIT_FAILED, EXIT_OK, storage_args
from api.settings import load_settings
from ledger.errors import ConfigurationError
from ledger.services.application import open_ledger
from projections.registry import VIEWS, view_class
from projections.replay import rebuild_all
from projections.runner import catch_up, open_view, rebuild, status
from projections.verify import check_seals, compare_with_rebuild


def cmd_status(args: argparse.Namespace) -> int:
    storage = load_settings(args.db).storage
    app = open_ledger(storage)
    try:
        views = [open_view(cls, storage) for cls in VIEWS]
        rows = status(views, app)
        alarms: dict[str, list[str]] = {}
        for finding in check_seals(views, app):
            alarms.setdefault(finding.view, []).append(f"{finding.check}: {finding.detail}")
    finally:
        app.close()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "view": r.name,
                        "position": r.position,
                        "head": r.head,
                        "lag": r.lag,
                        "alarm": "; ".join(alarms[r.name]) if r.name in alarms else None,
                    }
                    for r in rows
                ]
            )
        )
    else:
        print(f"{'view':<16}{'position':>10}{'head':>10}{'lag':>8}  seal")
        for r in rows:
            seal = "ALARM" if r.name in alarms else "ok"
            print(f"{r.name:<16}{r.position:>10}{r.head:>10}{r.lag:>8}  {seal}")
        for name, texts in alarms.items():
            for text in texts:
                print(f"ALARM {name}: {text}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    storage = load_settings(args.db).storage
    app = open_ledger(storage)
    try:
        for cls in VIEWS:
            n = catch_up(open_view(cls, storage), app)
            print(f"{cls.name}: {n} events applied")
    finally:
        app.close()
    return EXIT_OK


def cmd_rebuild(args: argparse.Namespace) -> int:
    try:
        cls = view_class(args.name)
    except KeyError as exc:
        raise ConfigurationError(str(exc.args[0])) from exc
    storage = load_settings(args.db).storage
    app = open_ledger(storage)
    try:
        result = rebuild(cls, storage, app)
    finally:
        app.close()
    verdict = "identical" if result.identical else "DIFFERENT"
    rate = result.events / result.seconds if result.seconds else 0.0
    print(
        f"{result.name}: rebuilt from zero to notification {result.position} "
        f"({result.events} events, {rate:,.0f} events/s)"
    )
    print(f"  live digest     {result.live_digest}")
    print(f"  rebuilt digest  {result.rebuilt_digest}  {verdict}")
    return EXIT_OK if result.identical else EXIT_FAILED


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        classes = [view_class(n) for n in args.names] if args.names else list(VIEWS)
    except KeyError as exc:
        raise ConfigurationError(str(exc.args[0])) from exc
    storage = load_settings(args.db).storage
    app = open_ledger(storage)
    began = time.perf_counter()
    try:
        views = [open_view(cls, storage) for cls in classes]
        findings = check_seals(views, app)
        compared = [] if args.quick else compare_with_rebuild(views, storage, app)
    finally:
        app.close()
    for comparison in compared:
        finding = comparison.finding()
        if finding is not None:
            findings = [f for f in findings if not (f.view == finding.view and f.check == "rows")]
            findings.append(finding)
    seconds = time.perf_counter() - began
    if args.json:
        print(
            json.dumps(
                {
                    "ok": not findings,
                    "views": [c.name for c in classes],
                    "compared": not args.quick,
                    "findings": [f.as_json() for f in findings],
                    "seconds": round(seconds, 3),
                },
                ensure_ascii=False,
            )
        )
    else:
        bad = {f.view for f in findings}
        for cls in classes:
            verdict = "DIFFERENT" if cls.name in bad else "matches the log"
            how = "seal" if args.quick else "seal and rebuild"
            print(f"{cls.name:<16}{verdict} ({how})")
        for finding in findings:
            print(f"ALARM {finding.line()}")
        print(f"{len(classes)} views checked in {seconds:.1f} s: {len(bad)} different")
    return EXIT_FAILED if findings else EXIT_OK


def cmd_reset(args: argparse.Namespace) -> int:
    try:
        classes = [view_class(n) for n in args.names]
    except KeyError as exc:
        raise ConfigurationError(str(exc.args[0])) from exc
    storage = load_settings(args.db).storage
    app = open_ledger(storage)
    try:
        result = rebuild_all(classes, storage, app, swap=True, digests=False)
    finally:
        app.close()
    for view in result.views:
        print(f"{view.name}: rebuilt from the log and swapped in ({view.events} events applied)")
    rate = result.log_events / result.seconds if result.seconds else 0.0
    print(f"{len(classes)} views from one pass over the log ({rate:,.0f} events/s)")
    return EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser(
        "projections", help="read models: status, run (catch up), rebuild NAME, verify, reset NAME"
    )
    inner = p.add_subparsers(dest="action", required=True)
    s = inner.add_parser("status", help="position and lag of each view")
    storage_args(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_status)
    r = inner.add_parser("run", help="catch every view up with the log, then exit")
    storage_args(r)
    r.set_defaults(handler=cmd_run)
    b = inner.add_parser(
        "rebuild", help="rebuild a view from zero; compare digests with the live one"
    )
    storage_args(b)
    b.add_argument("name")
    b.set_defaults(handler=cmd_rebuild)
    v = inner.add_parser(
        "verify",
        help="check every view against the log (seals, and a scratch rebuild compared "
        "table by table); exit 1 naming each view that differs",
    )
    storage_args(v)
    v.add_argument("names", nargs="*", metavar="NAME", help="views to check (default: all)")
    v.add_argument("--quick", action="store_true", help="check the seals only (no rebuild)")
    v.add_argument("--json", action="store_true", help="print the outcome as JSON")
    v.set_defaults(handler=cmd_verify)
    x = inner.add_parser(
        "reset",
        help="rebuild views from the log in fresh stores and swap them in (rows, tracking, "
        "seal; the alarm cleared)",
    )
    storage_args(x)
    x.add_argument("names", nargs="+", metavar="NAME")
    x.set_defaults(handler=cmd_reset)
