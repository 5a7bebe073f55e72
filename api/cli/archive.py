"""``caseledger archive build SERIAL -o DIR`` and ``caseledger archive check DIR``.

Layer: api (thin shell over ``projections.archive``). RULES.md "Archiving" (NH·22, FZ·21, GZ20·24);
layout docs/ARCHIVE.md. Exit codes (DESIGN "Contract"): ``build`` 0 when the package was built
and passes its check, 1 when the case may not be archived or the package fails its check, 2
usage or configuration (unknown serial, target not empty, node or keystore unavailable);
``check`` 0 only when every check item passes (and the ``bagit`` second opinion agrees), 1
otherwise, 2 usage (no such directory, unreadable ``--policy``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from api.cli.main import EXIT_FAILED, EXIT_OK, EXIT_USAGE, key_args, storage_args

DEFAULT_ARCHIVIST = "platform:auto-archiving"


def _fail(command: str, exc: object, code: int = EXIT_USAGE) -> int:
    print(f"caseledger archive {command}: {exc}", file=sys.stderr)
    return code


def cmd_build(args: argparse.Namespace) -> int:
    from anchors.errors import AnchorError
    from anchors.node.client import NodeClient
    from anchors.worker import AnchoringWorker
    from api.anchoring import node_url, open_anchoring
    from api.services import build_archive_service
    from ledger.domain.serials import InvalidSerial
    from ledger.errors import RuleViolation
    from ledger.services.cases import NotFound
    from projections.archive.errors import ArchiveError

    try:
        runtime, anchors = open_anchoring(args)
    except AnchorError as exc:
        return _fail("build", exc)
    try:
        worker = AnchoringWorker(
            anchors, NodeClient(node_url(args.node)), gate=runtime.guard.require_writable
        )
        archive = build_archive_service(runtime, worker)
        try:
            result = archive.build(
                args.serial,
                Path(args.output),
                archivist=args.archivist,
                signer=runtime.platform_signer(),
                personal_data=args.personal_data,
            )
        except (InvalidSerial, NotFound, ArchiveError, AnchorError) as exc:
            return _fail("build", exc)
        except RuleViolation as exc:
            return _fail("build", exc, EXIT_FAILED)
    finally:
        runtime.close()
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=1))
    else:
        print(
            f"archive package of {result.serial} written to {result.path}: {result.files} files, "
            f"{result.bytes:,} bytes, {result.events} events; payload digest "
            f"sha512:{result.payload_digest.hex()[:32]}…; transfer "
            + ("recorded" if result.recorded else "already recorded (same payload)")
        )
        print(result.report.table())
    return EXIT_OK if result.report.ok else EXIT_FAILED


def cmd_check(args: argparse.Namespace) -> int:
    from anchors.errors import AnchorError
    from anchors.policy import parse_policy
    from projections.archive.checker import check_package
    from projections.archive.second_opinion import bagit_opinion

    path = Path(args.directory)
    if not path.is_dir():
        return _fail("check", f"{path}: no such directory")
    try:
        policy = parse_policy(Path(args.policy).read_bytes()) if args.policy else None
    except (AnchorError, OSError) as exc:
        return _fail("check", f"--policy: {exc}")
    report = check_package(path, policy)
    opinion = bagit_opinion(path) if not args.no_bagit else None
    second_ok = opinion is None or not opinion.available or opinion.valid
    if args.json:
        value: dict[str, Any] = report.as_json()
        value["second_opinion"] = None if opinion is None else opinion.as_json()
        print(json.dumps(value, ensure_ascii=False, indent=1))
    else:
        print(report.table())
        if opinion is not None:
            verdict = (
                "not available"
                if not opinion.available
                else "NOT RUN"
                if not opinion.ran
                else f"{'valid' if opinion.valid else 'INVALID'} "
                f"(fast: {'valid' if opinion.fast_valid else 'invalid'})"
            )
            print(
                f"second opinion (bagit): {verdict}"
                + ("" if opinion.valid else f": {opinion.detail}")
            )
    return EXIT_OK if report.ok and second_ok else EXIT_FAILED


def register(sub: Any) -> None:
    p = sub.add_parser("archive", help="single-set archive packages (build, four-property check)")
    archive_sub = p.add_subparsers(dest="archive_command", required=True)

    b = archive_sub.add_parser("build", help="build, transfer and check a closed case's package")
    b.add_argument("serial", help="the case's serial number (申请流水号)")
    b.add_argument("-o", "--output", required=True, help="bag directory to create (empty or new)")
    storage_args(b)
    key_args(b)
    b.add_argument("--node", help="anchor node URL (default $CASELEDGER_NODE)")
    b.add_argument(
        "--archivist", default=DEFAULT_ARCHIVIST, help="who transfers (recorded, signed)"
    )
    b.add_argument(
        "--personal-data",
        action="store_true",
        help="put the applicant's clear personal data in the metadata (explicit policy only)",
    )
    b.add_argument("--json", action="store_true", help="print the result as JSON")
    b.set_defaults(handler=cmd_build)

    c = archive_sub.add_parser("check", help="the four-property check of a package (offline)")
    c.add_argument("directory", help="the bag directory")
    c.add_argument("--policy", help="trusted policy file (default: the package's own, noted)")
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.add_argument("--no-bagit", action="store_true", help="skip the bagit second opinion")
    c.set_defaults(handler=cmd_check)
