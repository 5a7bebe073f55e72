"""The ``caseledger`` command line: a thin shell over the composition root.

Layer: api (entry point). Each command group lives in its own ``api/cli/*.py`` module with a
``register(subparsers)`` function that adds its parsers and sets ``handler``.
Exit codes follow DESIGN "Contract": 0 success / verified, 1 verification
failed, 2 usage or configuration error — and 2 for a fault of the infrastructure (the
database refusing connections, a killed backend, a locked or corrupted SQLite file, an
unreachable anchor node): one line on stderr saying what failed, never a traceback, never
the 1 that means "verification found a fault".
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from eventsourcing.persistence import PersistenceError

from api.lifetime import end_with_parent
from ledger.errors import ConfigurationError, KeystoreError, LedgerError, LedgerRolledBack
from ledger.storage.faults import StorageUnavailable, database_error, probe, storage_fault
from ledger.storage.urls import parse_storage_url

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
    "api.cli.officials",
    "api.cli.rules",
    "api.cli.templates",
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


def failure(exc: Exception) -> tuple[int, str] | None:
    """The exit code and the one line for an error that ends a command, or ``None`` for an
    unexpected one (a bug: it keeps its traceback). Infrastructure first: a storage fault
    wrapped in a ledger or anchors error is still a fault (exit 2), not a failed check."""
    from anchors.errors import NodeUnavailable

    reason = storage_fault(exc)
    if reason is not None:
        return EXIT_USAGE, f"database unavailable: {reason}"
    reason = database_error(exc)  # not a fault, but the database's answer: e.g. a privilege
    if reason is not None:
        return EXIT_USAGE, f"database error: {reason}"
    if isinstance(exc, LedgerRolledBack):
        return EXIT_USAGE, f"refused, read-only ledger: {exc}"
    if isinstance(exc, NodeUnavailable):
        return EXIT_USAGE, f"anchor node unavailable: {exc}"
    if isinstance(exc, ConfigurationError | KeystoreError | PersistenceError):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return EXIT_USAGE, f"{where}{exc.strerror or exc}"
    if isinstance(exc, LedgerError):
        return EXIT_FAILED, str(exc)
    return None


def _precisely(args: argparse.Namespace, exc: Exception) -> Exception:
    """A storage fault met through a pool ("no connection within 2 s") says little: ask the
    database once more, directly, for the reason (refused, unknown database, too many
    clients). ``exc`` itself when that is no better."""
    if storage_fault(exc) is None or isinstance(exc, StorageUnavailable):
        return exc
    try:
        probe(parse_storage_url(getattr(args, "db", None)))
    except (StorageUnavailable, ConfigurationError) as precise:
        return precise
    return exc


def main(argv: Sequence[str] | None = None) -> int:
    end_with_parent()
    args = build_parser().parse_args(argv)
    if args.command not in SERVER_COMMANDS:
        logging.getLogger("caseledger.guard").addHandler(logging.NullHandler())
    try:
        return int(args.handler(args))
    except Exception as exc:
        found = failure(_precisely(args, exc))
        if found is None:
            raise
        code, line = found
        print(f"caseledger {args.command}: {' '.join(line.split())}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
