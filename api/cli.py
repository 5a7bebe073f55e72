"""The ``caseledger`` command line: a thin shell over the composition root.

Layer: api. Exit codes follow DESIGN "Contract": 0 success / verified,
1 verification failed, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from eventsourcing.persistence import PersistenceError

from api.settings import load_settings
from ledger.errors import ConfigurationError, KeystoreError, LedgerError
from ledger.verification import Report, verify_chain

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _storage_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", help="storage URL (default $CASELEDGER_DB or sqlite:///./var/caseledger.sqlite3)"
    )


def _key_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keystore", help="keystore directory (default $CASELEDGER_KEYSTORE)")
    parser.add_argument("--passphrase-file", help="file holding the keystore passphrase")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="caseledger", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("migrate", help="create tables, the keystore and the genesis command")
    _storage_args(p)
    _key_args(p)

    p = sub.add_parser("verify", help="verify the chain; exit 0 verified, 1 failed, 2 usage")
    _storage_args(p)
    p.add_argument("--policy", help="trust policy JSON (pins the platform keys)")
    p.add_argument("--checkpoint", help="a cosigned checkpoint kept earlier")
    p.add_argument("--node", help="URL of the anchor node")
    p.add_argument("--from", dest="start", type=int, default=1, help="verify from sequence N")
    p.add_argument("--trusted-head", help="hex entry hash of sequence N-1 (with --from)")
    p.add_argument("--json", action="store_true", help="print a JSON report")

    p = sub.add_parser("demo", help="seed a realistic city, drive cases, verify; files under --out")
    _storage_args(p)
    p.add_argument("--out", default="var/demo", help="output directory (default ./var/demo)")
    p.add_argument("--seed", type=int, default=20261123, help="random seed of the scenario")
    return parser


def _policy_platform_keys(path: str) -> list[bytes]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        keys = data["ledger"]["platform_keys"]
        return [bytes.fromhex(k) for k in keys]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"--policy: cannot read platform keys from {path}: {exc}") from exc


def _progress_printer() -> object:
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
            print(
                "note: the genesis platform key was trusted on first use (give --policy to pin it)"
            )
    else:
        print(f"FAILED at {report.failure}")


def cmd_verify(args: argparse.Namespace) -> int:
    if args.checkpoint or args.node:
        raise ConfigurationError(
            "--checkpoint/--node: anchoring is not available in this build yet"
        )
    from ledger.application import open_ledger

    pinned = _policy_platform_keys(args.policy) if args.policy else []
    trusted = bytes.fromhex(args.trusted_head) if args.trusted_head else None
    ledger = open_ledger(load_settings(args.db).storage)
    try:
        report = verify_chain(
            ledger.chain,
            start=max(1, args.start),
            trusted_prev_hash=trusted,
            pinned_platform_keys=pinned,
            progress=_progress_printer(),  # type: ignore[arg-type]
        )
    finally:
        ledger.close()
    print_report(report, args.json)
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_migrate(args: argparse.Namespace) -> int:
    from api.bootstrap import open_runtime

    runtime = open_runtime(
        load_settings(args.db, args.keystore, args.passphrase_file), migrate=True
    )
    head = runtime.ledger.chain.chain_head()
    print(
        f"migrated {runtime.settings.storage.redacted()}; chain head {head.sequence if head else 0}"
    )
    runtime.close()
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from api.demo import run_demo

    return run_demo(db=args.db, out=Path(args.out), seed=args.seed)


COMMANDS = {"verify": cmd_verify, "migrate": cmd_migrate, "demo": cmd_demo}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ConfigurationError, KeystoreError, PersistenceError) as exc:
        print(f"caseledger {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LedgerError as exc:
        print(f"caseledger {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
