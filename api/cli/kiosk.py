"""``caseledger kiosk print SERIAL -o FILE.pdf`` and ``caseledger kiosk verify FILE``.

Layer: api (CLI over ``kiosk.service`` and ``kiosk.verify``). Exit codes (DESIGN "Contract"):
``print`` 0 printed / 1 refused (nothing written; the refusal is recorded) / 2 usage or
configuration; ``verify`` 0 valid / 1 invalid / 2 usage (no policy, unreadable file, or an
input refused before verification: beyond a limit of ``kiosk.verify``, or not a PDF, image or
QR text at all — one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from api.cli.main import EXIT_FAILED, EXIT_OK, EXIT_USAGE, key_args, storage_args

OPERATOR_KIOSK = "OPERATOR"
"""Kiosk id of a print made from the operator's console when no kiosk key is in the keystore."""


def _kiosk_signer(runtime: Any, kiosk: str | None) -> tuple[str, Any]:
    from ledger.domain.keys import KeyRole
    from ledger.errors import ConfigurationError, KeystoreError

    if kiosk:
        try:
            return kiosk, runtime.keystore.current_signer(f"kiosk:{kiosk}")
        except KeystoreError as exc:
            raise ConfigurationError(f"--kiosk: no key of kiosk {kiosk}: {exc}") from exc
    for record in runtime.keystore.records():
        if record.role != KeyRole.KIOSK.value or not record.actor.startswith("kiosk:"):
            continue
        key = runtime.ledger.actor_key(record.key_id)
        if key is not None and not key.revoked:
            try:
                signer = runtime.keystore.current_signer(record.actor)
            except KeystoreError:
                continue
            return record.actor.removeprefix("kiosk:"), signer
    return OPERATOR_KIOSK, runtime.platform_signer()


def cmd_print(args: argparse.Namespace) -> int:
    from anchors.tree import open_tree_store
    from api.bootstrap import open_runtime
    from api.services import build_kiosk_service
    from api.settings import load_settings
    from kiosk.errors import KioskError, PrintRefused
    from kiosk.trust import load_trust_policy

    runtime = open_runtime(load_settings(args.db, args.keystore, args.passphrase_file))
    store = open_tree_store(runtime.settings.storage)
    try:
        try:
            policy = load_trust_policy(args.policy, runtime.settings.storage)
            service = build_kiosk_service(runtime, policy, store)
        except KioskError as exc:
            print(f"caseledger kiosk print: {exc}", file=sys.stderr)
            return EXIT_USAGE
        kiosk_id, signer = _kiosk_signer(runtime, args.kiosk)
        try:
            printout = service.print_result(args.serial, kiosk_id=kiosk_id, kiosk_signer=signer)
        except PrintRefused as refused:
            print(f"REFUSED, nothing printed — {refused.check}: {refused.reason}", file=sys.stderr)
            return EXIT_FAILED
        Path(args.output).write_bytes(printout.pdf)
        c = printout.claim
        print(
            f"printed {args.output}: {c.subject} ({c.title}), verified end to end; anchored in "
            f"checkpoint size {c.anchor.checkpoint_size}, block {c.anchor.block_height}; "
            f"kiosk {c.kiosk}, print {c.print_id.hex()}; QR version {printout.qr_version}, "
            f"{printout.qr_mm} mm"
        )
        return EXIT_OK
    finally:
        store.close()
        runtime.close()


MAX_PATH_CHARS = 4096
"""Longest argument tried as a file name (Linux's PATH_MAX); a longer one can only be text."""


def _read_input(arg: str) -> bytes:
    """The bytes to verify: stdin (``-``), a regular file, or the argument itself as QR text.
    Raises :class:`~kiosk.errors.InputRefused` (one line, exit 2)."""
    import os
    import stat

    from kiosk.claims import PREFIX
    from kiosk.errors import InputRefused
    from kiosk.verify import MAX_INPUT_BYTES

    if arg == "-":
        data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        if len(data) > MAX_INPUT_BYTES:
            raise InputRefused(f"input: more than {MAX_INPUT_BYTES:,} bytes on stdin")
        return data
    raw = arg.encode("utf-8", "surrogateescape")  # argv as the bytes it was given
    found = None
    if len(raw) <= MAX_PATH_CHARS and b"\0" not in raw:
        try:
            found = os.stat(raw)
        except (OSError, ValueError):
            found = None
    if found is None:
        if arg.startswith(PREFIX):
            return raw  # QR text: kiosk.verify checks its length and alphabet
        shown = arg if len(arg) <= 80 else arg[:77] + "…"
        raise InputRefused(f"{shown!r}: no such file, and not QR text starting with {PREFIX}")
    if not stat.S_ISREG(found.st_mode):
        raise InputRefused(f"{arg}: not a regular file")
    if found.st_size > MAX_INPUT_BYTES:
        raise InputRefused(f"{arg}: {found.st_size:,} bytes; at most {MAX_INPUT_BYTES:,}")
    try:
        with open(raw, "rb") as fh:
            data = fh.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise InputRefused(f"{arg}: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise InputRefused(f"{arg}: more than {MAX_INPUT_BYTES:,} bytes")
    return data


def cmd_verify(args: argparse.Namespace) -> int:
    from kiosk.errors import InputRefused, KioskError
    from kiosk.trust import load_trust_policy
    from kiosk.verify import verify_printout

    try:
        policy = load_trust_policy(args.policy)
    except KioskError as exc:
        print(f"caseledger kiosk verify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        data = _read_input(args.file)
    except InputRefused as exc:
        print(f"caseledger kiosk verify: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    verdict = verify_printout(data, policy, online=args.online)
    if verdict.refused:
        print(f"caseledger kiosk verify: {_one_line(verdict.reason)}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(verdict.as_dict(), ensure_ascii=False, indent=1))
    else:
        print("\n".join(verdict.lines()))
    return EXIT_OK if verdict.ok else EXIT_FAILED


def _one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line of at most ``limit`` characters (it may quote the input)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def register(sub: Any) -> None:
    k = sub.add_parser("kiosk", help="kiosk printouts: print a verified result, verify one")
    inner = k.add_subparsers(dest="action", required=True)
    p = inner.add_parser(
        "print", help="verify a closed case's result end to end and print it as an A4 PDF"
    )
    p.add_argument("serial", help="the case's serial number")
    p.add_argument("-o", "--output", required=True, help="PDF file to write")
    storage_args(p)
    key_args(p)
    p.add_argument("--policy", help="trust policy file (default $CASELEDGER_TRUST_POLICY)")
    p.add_argument("--kiosk", help="kiosk id whose key records the print (default: the first)")
    p.set_defaults(handler=cmd_print)
    v = inner.add_parser(
        "verify", help="verify a printout offline: a PDF, a PNG/JPEG photo or scan, or QR text"
    )
    v.add_argument("file", help="PDF, PNG or JPEG file, a text file, '-' or the QR text itself")
    v.add_argument("--policy", help="trust policy file (default $CASELEDGER_TRUST_POLICY)")
    v.add_argument("--online", metavar="URL", help="also ask URL's status endpoint (revoked?)")
    v.add_argument("--json", action="store_true", help="print the verdict as JSON")
    v.set_defaults(handler=cmd_verify)
