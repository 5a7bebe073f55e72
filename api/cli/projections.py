"""``caseledger projections status | run | rebuild NAME``: operating the read models.

Layer: api.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from api.cli.main import EXIT_FAILED, EXIT_OK, storage_args
from api.settings import load_settings
from ledger.errors import ConfigurationError
from ledger.services.application import open_ledger
from projections.registry import VIEWS, view_class
from projections.runner import catch_up, open_view, rebuild, status


def cmd_status(args: argparse.Namespace) -> int:
    storage = load_settings(args.db).storage
    app = open_ledger(storage)
    try:
        rows = status([open_view(cls, storage) for cls in VIEWS], app)
    finally:
        app.close()
    if args.json:
        print(
            json.dumps(
                [
                    {"view": r.name, "position": r.position, "head": r.head, "lag": r.lag}
                    for r in rows
                ]
            )
        )
    else:
        print(f"{'view':<16}{'position':>10}{'head':>10}{'lag':>8}")
        for r in rows:
            print(f"{r.name:<16}{r.position:>10}{r.head:>10}{r.lag:>8}")
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


def register(sub: Any) -> None:
    p = sub.add_parser("projections", help="read models: status, run (catch up), rebuild NAME")
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
