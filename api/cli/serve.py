"""``caseledger serve`` and ``caseledger token create|revoke``.

Layer: api.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from api.cli.main import EXIT_FAILED, EXIT_OK, key_args, storage_args
from api.settings import CITY_ENV, READ_DB_ENV, load_settings
from api.tokens import Role, TokenError, token_store
from ledger.errors import ConfigurationError


def cmd_serve(args: argparse.Namespace) -> int:
    from api.bootstrap import open_runtime
    from api.serve.app import run
    from api.serve.workers import run_workers

    if args.node:
        os.environ["CASELEDGER_NODE"] = args.node
    read_db = args.read_db or os.environ.get(READ_DB_ENV, "")
    settings = load_settings(args.db, args.keystore, args.passphrase_file, read_db, args.city)
    if args.workers > 1:
        return run_workers(settings, args.host, args.port, args.workers)
    run(open_runtime(settings, migrate=True, fail_closed=False), args.host, args.port)
    return EXIT_OK


def _workers(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return count


def cmd_token_create(args: argparse.Namespace) -> int:
    settings = load_settings(args.db)
    store = token_store(settings.storage)
    store.migrate()
    department = args.department or ""
    if args.official:
        department = _official_department(settings.storage, args.official, args.role, department)
    try:
        token = store.create(
            args.role, department, args.name or "", args.official or "", system=args.system
        )
    except TokenError as exc:
        raise ConfigurationError(str(exc)) from exc
    print(token)
    return EXIT_OK


def _official_department(storage: Any, staff_code: str, role: str, department: str) -> str:
    """The department a token issued to an appointed official acts for (its current one)."""
    from ledger.domain.officials import OfficialRole
    from ledger.services.application import open_ledger
    from ledger.services.officials import OfficialService

    ledger = open_ledger(storage)
    try:
        official = OfficialService(ledger).get(staff_code)
    finally:
        ledger.close()
    if not official.active:
        raise ConfigurationError(f"--official: {staff_code} is {official.status}")
    if department and department != official.department:
        raise ConfigurationError(
            f"--department: {staff_code} is an official of {official.department}"
        )
    if role == Role.SUPERVISOR.value and OfficialRole.SUPERVISION.value not in official.roles:
        raise ConfigurationError(
            f"--official: {staff_code} does not hold the supervision role (supervisor tokens "
            "are issued to the supervision office's officials)"
        )
    return official.department if role == Role.DEPARTMENT.value else ""


def cmd_token_revoke(args: argparse.Namespace) -> int:
    store = token_store(load_settings(args.db).storage)
    return EXIT_OK if store.revoke(args.token_id) else EXIT_FAILED


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve", help="the HTTP API, the read-model workers and the anchoring worker"
    )
    storage_args(p)
    key_args(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--node", help="anchor node URL (default $CASELEDGER_NODE; none: unanchored)")
    p.add_argument(
        "--workers",
        type=_workers,
        default=1,
        help="HTTP worker processes on one socket (default 1: one process); worker 0 also "
        "runs the read-model follower and the anchoring worker",
    )
    p.add_argument(
        "--read-db",
        metavar="URL",
        help=f"a PostgreSQL hot standby of --db for the read routes (default ${READ_DB_ENV}); "
        "a client's read after its write waits for the standby to replay that write "
        "(header Caseledger-Write-LSN), at most 2 s, then reads the primary",
    )
    p.add_argument(
        "--city",
        metavar="NAME",
        help=f"the city whose rules apply where the seeds differ (default ${CITY_ENV}; e.g. "
        "南海: blacklisting without a time limit, NH·25); none: the stricter defaults",
    )
    p.set_defaults(handler=cmd_serve)

    t = sub.add_parser("token", help="API bearer tokens")
    inner = t.add_subparsers(dest="action", required=True)
    c = inner.add_parser("create", help="create a token (printed once; only its hash is kept)")
    storage_args(c)
    c.add_argument("--role", required=True, choices=[r.value for r in Role])
    c.add_argument("--department", help="department code (department tokens)")
    c.add_argument("--name", help="who or what holds the token")
    c.add_argument(
        "--official",
        help="staff code of the appointed official the token is issued to (department and "
        "supervisor tokens: one of --official and --system; their personal key signs what "
        "the token does)",
    )
    c.add_argument(
        "--system",
        action="store_true",
        help="a department or supervisor token for an integrated system instead of an "
        "official: its acts are signed by the department's seal (or the office's key) and "
        "attributed to no person",
    )
    c.set_defaults(handler=cmd_token_create)
    r = inner.add_parser("revoke", help="revoke a token by its id (the hex after cl_)")
    storage_args(r)
    r.add_argument("token_id")
    r.set_defaults(handler=cmd_token_revoke)
