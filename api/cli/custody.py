"""``caseledger backup``, ``caseledger restore`` and ``caseledger rollback status|accept``.

Layer: api (thin shell over ``api.custody``). Procedure: docs/OPERATIONS.md. Exit codes
(DESIGN "Contract"): ``backup`` 0 written and recorded, 2 refused (read-only ledger) or failed
(tools, files); ``restore`` 0 restored (it prints what is missing; the ledger stays read-only
until ``rollback accept``), 2 refused (another ledger, schema or backend; damaged file);
``rollback status`` 0 writable, 1 read-only (it prints why and what is missing);
``rollback accept`` 0 accepted (or nothing to accept), 2 refused.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from api.cli.main import EXIT_FAILED, EXIT_OK, EXIT_USAGE, key_args, storage_args
from api.settings import load_settings


def _fail(command: str, exc: object) -> int:
    print(f"caseledger {command}: {exc}", file=sys.stderr)
    return EXIT_USAGE


def _node(args: argparse.Namespace) -> str | None:
    from api.anchoring import NODE_ENV

    return args.node or os.environ.get(NODE_ENV) or None


def cmd_backup(args: argparse.Namespace) -> int:
    from api.bootstrap import open_runtime
    from api.custody import take
    from ledger.storage.backup import BackupError

    runtime = open_runtime(load_settings(args.db, args.keystore, args.passphrase_file))
    try:
        info, recorded = take(runtime, Path(args.output))
    except BackupError as exc:
        return _fail("backup", exc)
    finally:
        runtime.close()
    print(
        f"backup {info.path}: {info.method}, chain head {info.head_sequence} "
        f"(entry {info.head_hash.hex()[:16]}…), {info.size:,} bytes, sha256 {info.sha256.hex()}"
    )
    print(f"recorded in the chain at sequence {recorded} (BackupLog.Taken, NH·22)")
    return EXIT_OK


def _report(args: argparse.Namespace) -> Any:
    from api.custody import assess
    from ledger.services.application import open_ledger
    from ledger.services.guard import RollbackGuard
    from ledger.storage.head_state import HeadStateFile

    settings = load_settings(args.db, args.keystore)
    ledger = open_ledger(settings.storage)
    try:
        guard = RollbackGuard(ledger.chain, HeadStateFile(settings.keystore_dir))
        return assess(ledger, settings.storage, guard, _node(args))
    finally:
        ledger.close()


def cmd_restore(args: argparse.Namespace) -> int:
    from ledger.storage.backup import BackupError, restore_backup

    settings = load_settings(args.db, args.keystore)
    try:
        info = restore_backup(settings.storage, Path(args.file))
    except BackupError as exc:
        return _fail("restore", exc)
    print(
        f"restored {settings.storage.redacted()} from {info.path} (sha256 {info.sha256.hex()}): "
        f"chain head {info.head_sequence} (entry {info.head_hash.hex()[:16]}…)"
    )
    for line in _report(args).lines():
        print(f"  {line}")
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    if args.action == "status":
        report = _report(args)
        for line in report.lines():
            print(line)
        return EXIT_OK if report.writable else EXIT_FAILED
    from api.bootstrap import open_runtime
    from api.custody import AcceptRefused, accept

    if not args.reason:
        return _fail("rollback accept", "--reason TEXT is required (it is recorded)")
    runtime = open_runtime(
        load_settings(args.db, args.keystore, args.passphrase_file), fail_closed=False
    )
    try:
        done = accept(runtime, reason=args.reason, node=_node(args))
    except AcceptRefused as exc:
        return _fail("rollback accept", exc)
    finally:
        runtime.close()
    if done is None:
        print("nothing to accept: the log holds the newest known head")
        return EXIT_OK
    lost = "nothing" if done.lost is None else f"entries {done.lost[0]}–{done.lost[1]}"
    print(f"accepted: the ledger continues from sequence {done.restored_sequence}; lost {lost}")
    if done.origin_after != done.origin_before:
        print(f"anchoring continues under a new origin: {done.origin_after}")
    if done.tree_reset:
        print("the anchoring tree is rebuilt from the log")
    if done.views_reset:
        print(f"read models rebuilt from the log at the next start: {', '.join(done.views_reset)}")
    print(f"recorded in the chain at sequence {done.recorded_at} (BackupLog.RestoreAccepted)")
    return EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser("backup", help="online backup of the ledger, recorded in the chain")
    storage_args(p)
    key_args(p)
    p.add_argument("-o", "--output", required=True, help="backup file to write")
    p.set_defaults(handler=cmd_backup)

    p = sub.add_parser(
        "restore", help="restore a backup; prints what is missing (read-only until accepted)"
    )
    p.add_argument("file", help="a file written by caseledger backup")
    storage_args(p)
    p.add_argument("--keystore", help="keystore directory (default $CASELEDGER_KEYSTORE)")
    p.add_argument("--node", help="anchor node URL, to report anchored entries that are missing")
    p.set_defaults(handler=cmd_restore)

    p = sub.add_parser("rollback", help="after a rollback or restore: status, or accept the loss")
    inner = p.add_subparsers(dest="action", required=True)
    s = inner.add_parser("status", help="exit 0 writable, 1 read-only (says why, what is missing)")
    storage_args(s)
    s.add_argument("--keystore", help="keystore directory (default $CASELEDGER_KEYSTORE)")
    s.add_argument("--node", help="anchor node URL (default $CASELEDGER_NODE)")
    s.set_defaults(handler=cmd_rollback)
    a = inner.add_parser("accept", help="record the loss in the chain and make the ledger writable")
    storage_args(a)
    key_args(a)
    a.add_argument("--node", help="anchor node URL (default $CASELEDGER_NODE)")
    a.add_argument("--reason", help="why the operator accepts the loss (recorded in the chain)")
    a.set_defaults(handler=cmd_rollback)
