"""The ``caseledger`` command line: a thin shell over the composition root.

Layer: api (entry point). Each command group lives in its own ``api/cli/*.py`` module with a
``register(subparsers)`` function that adds its parsers and sets ``handler``.
Exit codes follow DESIGN "Contract": 0 success / verified, 1 verification
failed, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from eventsourcing.persistence import PersistenceError

from ledger.errors import ConfigurationError, KeystoreError, LedgerError, LedgerRolledBack

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

#: Command-group modules, in the order their commands are listed in ``--help``.
COMMAND_MODULES = (
    "api.cli.ledger",
    "api.cli.verify",
    "api.cli.serve",
    "api.cli.custody",
    "api.cli.anchors",
    "api.cli.projections",
    "api.cli.archive",
    "api.cli.kiosk",
)


def storage_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", help="storage URL (default $CASELEDGER_DB or sqlite:///./var/caseledger.sqlite3)"
    )


def key_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keystore", help="keystore directory (default $CASELEDGER_KEYSTORE)")
    parser.add_argument("--passphrase-file", help="file holding the keystore passphrase")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="caseledger", description="Event-sourced case ledger with an audit chain."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # a command group not built yet
        module.register(sub)
    return parser


#: Commands that run servers: their alarms go to the log. Every other command reports a
#: refusal as its one line on stderr.
SERVER_COMMANDS = frozenset({"serve", "node"})


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command not in SERVER_COMMANDS:
        logging.getLogger("caseledger.guard").addHandler(logging.NullHandler())
    try:
        return int(args.handler(args))
    except LedgerRolledBack as exc:
        print(f"caseledger {args.command}: refused, read-only ledger: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ConfigurationError, KeystoreError, PersistenceError) as exc:
        print(f"caseledger {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LedgerError as exc:
        print(f"caseledger {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
