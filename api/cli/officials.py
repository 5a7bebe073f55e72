"""``caseledger officials …``: a department administrator manages officials; an auditor reads
one official's history (FZ·26(二)(五); docs/OPERATIONS.md "Officials").

Layer: api. Every decision is signed by ``--by <staff code>`` (an administrator of the
department concerned, from the keystore) or, without ``--by``, by the platform key (which
appoints a department's first administrator).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from api.cli.main import EXIT_FAILED, EXIT_OK, key_args, storage_args
from api.settings import load_settings

Action = Callable[[Any, argparse.Namespace, Any], str]


def _run(args: argparse.Namespace, action: Action) -> int:
    from api.bootstrap import open_runtime
    from api.officials import official_signer
    from ledger.services.officials import OfficialService

    runtime = open_runtime(load_settings(args.db, args.keystore, args.passphrase_file))
    try:
        by = official_signer(runtime, args.by) if args.by else runtime.platform_signer()
        print(action(runtime, args, (OfficialService(runtime.ledger), by)))
    finally:
        runtime.close()
    return EXIT_OK


def _roles(text: str) -> list[str]:
    return [r.strip() for r in text.split(",") if r.strip()]


def _appoint(runtime: Any, args: argparse.Namespace, ctx: Any) -> str:
    from api.officials import appoint

    _, by = ctx
    official, key_id = appoint(
        runtime, args.staff_code, args.department, _roles(args.roles), args.name, by=by
    )
    return f"appointed {official.staff_code} in {official.department}; key {key_id.hex()}"


def _decision(name: str) -> Action:
    def act(runtime: Any, args: argparse.Namespace, ctx: Any) -> str:
        service, by = ctx
        if name == "roles":
            o = service.change_roles(args.staff_code, _roles(args.roles), by=by)
        elif name == "move":
            o = service.move(args.staff_code, args.department, _roles(args.roles), by=by)
        elif name == "suspend":
            o = service.suspend(args.staff_code, args.reason, by=by)
        elif name == "reinstate":
            o = service.reinstate(args.staff_code, by=by)
        else:
            o = service.leave(args.staff_code, args.reason, by=by)
        return f"{o.staff_code}: {o.status} in {o.department}, roles {','.join(o.roles)}"

    return act


def _rotate(runtime: Any, args: argparse.Namespace, ctx: Any) -> str:
    from api.officials import rotate_official_key

    key_id = rotate_official_key(runtime, args.staff_code, args.reason)
    return f"{args.staff_code}: new key {key_id.hex()}"


def _delegate(runtime: Any, args: argparse.Namespace, ctx: Any) -> str:
    service, by = ctx
    if args.withdraw:
        service.withdraw_delegation(args.department, args.window, args.withdraw, by=by)
        return f"{args.department} withdrew its delegation to {args.window}"
    service.grant_delegation(args.department, args.window, args.basis, by=by)
    return f"{args.department} delegates pre-review, receipt and consultation to {args.window}"


def cmd_history(args: argparse.Namespace) -> int:
    from api.bootstrap import open_runtime
    from api.officials import history_with_proofs

    runtime = open_runtime(load_settings(args.db, args.keystore, args.passphrase_file))
    try:
        found = history_with_proofs(runtime, args.staff_code)
    finally:
        runtime.close()
    if args.json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
    else:
        print(format_history(found))
    return EXIT_OK if found["verification"]["ok"] else EXIT_FAILED


def format_history(found: dict[str, Any]) -> str:
    """The history as the auditor reads it: one line per action, then the verification."""
    lines = [f"official {found['staff_code']}: {len(found['actions'])} actions"]
    for a in found["actions"]:
        who = "" if a["signed_by_official"] else " (on the record, by another)"
        topics = ", ".join(t.split(":", 1)[1] for t in a["topics"])
        case = f" case {a['case_serial']}" if a["case_serial"] else ""
        lines.append(
            f"  #{a['sequence']} {a['at']} {topics}{case} entry {a['entry_hashes'][0][:16]}…{who}"
        )
    v, tree = found["verification"], found["tree"]
    state = "verified" if v["ok"] else f"FAILED: {v['failure']}"
    lines.append(
        f"chain {state} through sequence {v['head_sequence']}; "
        f"inclusion proofs against root {tree['root'][:16]}… of size {tree['size']}"
    )
    return "\n".join(lines)


def register(sub: Any) -> None:
    p = sub.add_parser("officials", help="appoint and manage officials; an official's history")
    inner = p.add_subparsers(dest="action", required=True)

    def parser(name: str, help_: str, action: Action | None = None) -> argparse.ArgumentParser:
        c = inner.add_parser(name, help=help_)
        storage_args(c)
        key_args(c)
        if action is not None:
            c.add_argument(
                "--by", help="staff code of the administrator deciding (default: platform)"
            )
            c.set_defaults(handler=lambda args: _run(args, action))
        return c

    c = parser("appoint", "appoint an official and create their key", _appoint)
    c.add_argument("staff_code")
    c.add_argument("--department", required=True)
    c.add_argument("--roles", required=True, help="comma-separated, e.g. reception,acceptance")
    c.add_argument("--name", required=True, help="public work label (not a personal record)")
    c = parser("roles", "change an official's roles", _decision("roles"))
    c.add_argument("staff_code")
    c.add_argument("--roles", required=True)
    c = parser("move", "move an official to another department", _decision("move"))
    c.add_argument("staff_code")
    c.add_argument("--department", required=True)
    c.add_argument("--roles", required=True)
    for name, help_ in (
        ("suspend", "suspend an official"),
        ("leave", "record that an official left"),
    ):
        c = parser(name, help_, _decision(name))
        c.add_argument("staff_code")
        c.add_argument("--reason", required=True)
    c = parser("reinstate", "reinstate a suspended official", _decision("reinstate"))
    c.add_argument("staff_code")
    c = parser("rotate-key", "replace an official's key (the old one revoked)", _rotate)
    c.add_argument("staff_code")
    c.add_argument("--reason", required=True)
    c = parser("delegate", "grant (or --withdraw) the window's delegation", _delegate)
    c.add_argument("--department", required=True)
    c.add_argument("--window", required=True)
    c.add_argument("--basis", default="", help="the delegation's basis (grant)")
    c.add_argument("--withdraw", metavar="REASON", help="withdraw it, with this reason")
    c = parser("history", "every action of one official, with the chain verified")
    c.add_argument("staff_code")
    c.add_argument("--json", action="store_true")
    c.set_defaults(handler=cmd_history)
