"""CLI commands of anchoring: ``node serve``, ``checkpoint``, ``anchor``, ``policy``, ``bundle``,
``tiles verify``.

Layer: api. Thin shells over ``anchors``; errors of the anchors package map to exit 2 (usage or
configuration: the node is down, the store is corrupted, a file is malformed) or 1 (a bundle
that does not verify). docs/ANCHORING.md documents every command.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import sys
from pathlib import Path
from typing import Any

from api.anchoring import (
    DEFAULT_NODE_PORT,
    DEFAULT_NODE_URL,
    NODE_ENV,
    build_policy,
    latest_recorded,
    node_url,
    open_anchoring,
)
from api.cli.main import EXIT_FAILED, EXIT_OK, EXIT_USAGE, key_args, storage_args
from api.settings import load_settings


def _fail(command: str, exc: Exception, code: int = EXIT_USAGE) -> int:
    print(f"caseledger {command}: {exc}", file=sys.stderr)
    return code


# --- node ----------------------------------------------------------------------------------------


def cmd_node_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from anchors.errors import AnchorError
    from anchors.node.app import create_app
    from anchors.node.service import open_node

    try:
        node = open_node(
            Path(args.data), validators=args.validators, threshold=args.threshold, name=args.name
        )
    except AnchorError as exc:
        return _fail("node serve", exc)
    print(
        f"anchor node {node.consortium.node}: {len(node.consortium.validators)} validators, "
        f"k={node.consortium.threshold}, height {node.height()}, data {args.data}, "
        f"http://{args.host}:{args.port}",
        flush=True,
    )
    try:
        uvicorn.run(create_app(node), host=args.host, port=args.port, log_level="warning")
    finally:
        node.close()
    return EXIT_OK


# --- ledger side ---------------------------------------------------------------------------------


def cmd_checkpoint(args: argparse.Namespace) -> int:
    from ledger.services.application import open_ledger

    settings = load_settings(args.db)
    ledger = open_ledger(settings.storage)
    try:
        found = latest_recorded(ledger, settings.storage)
    finally:
        ledger.close()
    if found is None or not found.checkpoint:
        print(
            "caseledger checkpoint: nothing anchored yet (run caseledger anchor)", file=sys.stderr
        )
        return EXIT_FAILED
    sys.stdout.write(found.checkpoint)
    return EXIT_OK


def cmd_anchor(args: argparse.Namespace) -> int:
    from anchors.errors import AnchorError
    from anchors.node.client import NodeClient
    from anchors.worker import AnchoringWorker, WorkerSettings

    runtime, anchors = open_anchoring(args)
    try:
        worker = AnchoringWorker(
            anchors,
            NodeClient(node_url(args.node)),
            WorkerSettings(every_entries=args.every_entries, every_seconds=args.every_seconds),
            gate=runtime.guard.require_writable,
        )
        if args.watch:
            print(f"anchoring {anchors.origin} to {node_url(args.node)} (Ctrl-C stops)", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                worker.run()
            return EXIT_OK
        try:
            result = worker.anchor_once()
        except AnchorError as exc:
            return _fail("anchor", exc)
        print(
            f"{result.action}: {anchors.origin} size {result.anchored_size} of {result.log_size}"
            + (
                f", block {result.receipt.block.height}, cosigned by "
                f"{', '.join(result.receipt.checkpoint.cosigners)}"
                if result.receipt
                else ""
            )
        )
        return EXIT_OK
    finally:
        runtime.close()


def _policy_check_file(args: argparse.Namespace) -> int:
    """``policy --check FILE``: parse, verify its supersession statements, print the fingerprint
    (no database, no network): how an auditor checks a policy received out of band."""
    from anchors.errors import PolicyError
    from anchors.policy import parse_fingerprint, parse_policy
    from anchors.supersession import SupersessionError, verify_supersessions

    try:
        policy = parse_policy(Path(args.check).read_bytes())
        pinned = parse_fingerprint(args.fingerprint) if args.fingerprint else None
    except (PolicyError, OSError) as exc:
        return _fail("policy --check", exc)
    try:
        verify_supersessions(policy)
    except SupersessionError as exc:
        print(f"REJECTED: {exc}")
        return EXIT_FAILED
    print(_policy_summary(policy))
    if pinned is not None and not hmac.compare_digest(pinned, policy.fingerprint()):
        print(f"REJECTED: the fingerprint is not the pinned sha256:{pinned.hex()}")
        return EXIT_FAILED
    return EXIT_OK


def _policy_summary(policy: Any) -> str:
    lines = [
        f"fingerprint {policy.fingerprint_text()}",
        f"origin {policy.origin}",
        f"checkpoint key {policy.checkpoint_key.to_key()}",
        f"anchor node {policy.node}: k={policy.threshold} of {len(policy.validators)} "
        f"validators ({', '.join(v.name for v in policy.validators)})",
    ]
    for s in policy.supersedes:
        lines.append(
            f"supersedes {s.config.node}: k={s.config.threshold} of {len(s.config.validators)} "
            f"validators, checkpoint key {s.config.checkpoint_key.to_key()[:48]}…, up to size "
            f"{s.last_size:,} (statement verified)"
        )
    return "\n".join(lines)


def _superseding_policy(args: argparse.Namespace, client: Any) -> tuple[Any, Any]:
    """(policy, runtime): the node's current configuration superseding ``--supersedes OLD``,
    signed with the checkpoint key from the keystore."""
    from anchors.errors import PolicyError
    from anchors.policy import parse_policy
    from anchors.policy_check import superseded_size
    from anchors.recorded import read_recorded
    from anchors.supersession import supersede

    try:
        old = parse_policy(Path(args.supersedes).read_bytes())
    except OSError as exc:
        raise PolicyError(f"--supersedes: {exc}") from exc
    runtime, anchors = open_anchoring(args)
    try:
        new = build_policy(runtime.ledger, runtime.settings.storage, client)
        recorded = read_recorded(runtime.ledger.chain, new.origin)
        last = None if recorded is None else superseded_size(recorded, new.anchor_config())
        if last is None:
            raise PolicyError(
                "the chain does not record the node's current configuration yet: anchor under it "
                "first (caseledger anchor), so the chain shows where the old one ended"
            )
        return supersede(old, new, last, [anchors.checkpoint_key]), runtime
    except BaseException:
        runtime.close()
        raise


def _check_against_chain(ledger: Any, policy: Any) -> Any:
    from anchors.policy_check import check_policy
    from anchors.recorded import read_recorded

    genesis = ledger.chain.select_entries(1, 1)
    return check_policy(
        policy,
        read_recorded(ledger.chain, policy.origin),
        genesis_hash=genesis[0].entry_hash if genesis else b"",
    )


def cmd_policy(args: argparse.Namespace) -> int:
    """Export the trust policy; refuse one that would not verify this ledger (docs/ANCHORING.md
    §4): it must agree with the anchor configuration the chain recorded, or supersede it."""
    from anchors.errors import AnchorError
    from anchors.node.client import NodeClient
    from ledger.services.application import open_ledger

    if args.check:
        return _policy_check_file(args)
    client = NodeClient(node_url(args.node))
    try:
        if args.supersedes:
            policy, runtime = _superseding_policy(args, client)
            try:
                check = _check_against_chain(runtime.ledger, policy)
            finally:
                runtime.close()
        else:
            storage = load_settings(args.db).storage
            ledger = open_ledger(storage)
            try:
                policy = build_policy(ledger, storage, client)
                check = _check_against_chain(ledger, policy)
            finally:
                ledger.close()
    except AnchorError as exc:
        return _fail("policy", exc)
    if check.failure is not None:
        hint = (
            ""
            if args.supersedes
            else "; if the anchor configuration changed, pass --supersedes with the policy "
            "auditors hold now (and the keystore) to sign the change"
        )
        return _fail(
            "policy",
            ValueError(f"this policy would not verify the ledger: {check.failure}{hint}"),
            EXIT_FAILED,
        )
    data = policy.to_json()
    if args.output:
        Path(args.output).write_bytes(data)
        print(f"trust policy written to {args.output}")
        print(f"fingerprint {policy.fingerprint_text()} (publish it; auditors pin it)")
    else:
        sys.stdout.write(data.decode("utf-8"))
        print(f"fingerprint {policy.fingerprint_text()}", file=sys.stderr)
    return EXIT_OK


# --- bundles -------------------------------------------------------------------------------------


def cmd_bundle(args: argparse.Namespace) -> int:
    if args.target == "verify":
        return _bundle_verify(args)
    from anchors.bundle import export_bundle
    from anchors.errors import AnchorError
    from anchors.node.client import NodeClient
    from anchors.policy import parse_policy
    from anchors.tree import PersistentTree, open_tree_store
    from ledger.services.application import open_ledger

    if not args.output:
        return _fail("bundle", ValueError("-o FILE is required"))
    settings = load_settings(args.db)
    ledger = open_ledger(settings.storage)
    store = open_tree_store(settings.storage)
    try:
        if args.policy:
            policy = parse_policy(Path(args.policy).read_bytes())
        else:
            policy = build_policy(ledger, settings.storage, NodeClient(node_url(args.node)))
        data = export_bundle(ledger, PersistentTree(store), policy, args.target)
    except (AnchorError, OSError) as exc:
        return _fail("bundle", exc)
    finally:
        store.close()
        ledger.close()
    Path(args.output).write_bytes(data)
    print(f"proof bundle for {args.target} written to {args.output} ({len(data):,} bytes)")
    return EXIT_OK


def _bundle_verify(args: argparse.Namespace) -> int:
    from anchors.bundle import verify_bundle
    from anchors.errors import AnchorError, BundleError
    from anchors.policy import parse_policy

    if len(args.rest) != 1:
        return _fail("bundle verify", ValueError("usage: bundle verify FILE --policy FILE"))
    try:
        policy = parse_policy(Path(args.policy).read_bytes()) if args.policy else None
        data = Path(args.rest[0]).read_bytes()
    except (AnchorError, OSError) as exc:
        return _fail("bundle verify", exc)
    try:
        report = verify_bundle(data, policy)
    except BundleError as exc:
        print(f"REJECTED: {exc}")
        return EXIT_FAILED
    print(report.summary())
    return EXIT_OK


# --- the tiled log ------------------------------------------------------------------------------


def cmd_tiles(args: argparse.Namespace) -> int:
    """``tiles verify SOURCE --policy FILE [--checkpoint FILE] [--mirror DIR]``: read the tiled
    log at SOURCE (URL prefix or mirror directory) and check every byte (anchors.tile_reader)."""
    from anchors.errors import AnchorError
    from anchors.policy import parse_policy
    from anchors.tile_reader import MirroringSource, TileLogError, read_log, source_for

    try:
        policy = parse_policy(Path(args.policy).read_bytes())
        kept = Path(args.checkpoint).read_text(encoding="utf-8") if args.checkpoint else None
    except (AnchorError, OSError, UnicodeDecodeError) as exc:
        return _fail("tiles verify", exc)
    source = source_for(args.source)
    if args.mirror:
        source = MirroringSource(source, Path(args.mirror))
    try:
        report = read_log(source, policy, kept_checkpoint=kept)
    except TileLogError as exc:
        if exc.step in ("fetch", "mirror"):
            return _fail("tiles verify", exc)
        print(f"REJECTED: {exc}")
        return EXIT_FAILED
    print(report.summary())
    if args.mirror:
        print(f"  mirrored to {args.mirror} (serve it as static files; verify it offline later)")
    return EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser("node", help="the simulated municipal blockchain node")
    node_sub = p.add_subparsers(dest="node_command", required=True)
    s = node_sub.add_parser("serve", help="run the anchor node (its own process and store)")
    s.add_argument("--data", default="var/node", help="node data directory (default ./var/node)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=DEFAULT_NODE_PORT)
    s.add_argument("--validators", type=int, default=4, help="n validators (first start)")
    s.add_argument("--threshold", type=int, default=3, help="k cosignatures (first start)")
    s.add_argument("--name", default="anchor.caseledger.example", help="node name (first start)")
    s.set_defaults(handler=cmd_node_serve)

    p = sub.add_parser("checkpoint", help="print the latest cosigned checkpoint")
    storage_args(p)
    p.set_defaults(handler=cmd_checkpoint)

    p = sub.add_parser("anchor", help="anchor the chain at the node (one round, or --watch)")
    storage_args(p)
    key_args(p)
    p.add_argument("--node", help=f"node URL (default ${NODE_ENV} or {DEFAULT_NODE_URL})")
    p.add_argument("--watch", action="store_true", help="keep anchoring")
    p.add_argument("--every-entries", type=int, default=1000)
    p.add_argument("--every-seconds", type=float, default=2.0)
    p.add_argument("--city", help="city in the log origin (first anchoring only)")
    p.set_defaults(handler=cmd_anchor)

    p = sub.add_parser(
        "policy",
        help="export the trust policy (ledger and validator keys) and its fingerprint, or "
        "--check FILE",
    )
    storage_args(p)
    key_args(p)
    p.add_argument("--node", help=f"node URL (default ${NODE_ENV} or {DEFAULT_NODE_URL})")
    p.add_argument("-o", "--output", help="write to FILE instead of stdout")
    p.add_argument(
        "--supersedes",
        metavar="OLD",
        help="the policy auditors hold now: sign (checkpoint key, from the keystore) that the "
        "node's current configuration replaces it, and carry its history",
    )
    p.add_argument(
        "--check",
        metavar="FILE",
        help="check a policy file offline: its supersession statements and fingerprint",
    )
    p.add_argument("--fingerprint", help="with --check: the fingerprint you pinned")
    p.set_defaults(handler=cmd_policy)

    p = sub.add_parser(
        "bundle", help="export a case's proof bundle, or: bundle verify FILE --policy FILE"
    )
    p.add_argument("target", help="aggregate id (UUID), or 'verify'")
    p.add_argument("rest", nargs="*", help="with 'verify': the bundle file")
    storage_args(p)
    p.add_argument("--node", help="node URL (for the policy, unless --policy)")
    p.add_argument("--policy", help="trust policy file")
    p.add_argument("-o", "--output", help="bundle file to write")
    p.set_defaults(handler=cmd_bundle)

    p = sub.add_parser(
        "tiles", help="verify SOURCE: check a C2SP tiled log (URL or mirror) against a policy"
    )
    tiles_sub = p.add_subparsers(dest="tiles_command", required=True)
    s = tiles_sub.add_parser("verify", help="check every tile, entry and the cosigned checkpoint")
    s.add_argument("source", help="the log's URL prefix (serve's http://host:port) or a mirror")
    s.add_argument("--policy", required=True, help="trust policy file (caseledger policy)")
    s.add_argument("--checkpoint", help="a checkpoint kept from before: the log must extend it")
    s.add_argument("--mirror", help="keep every resource read in DIR (full tiles read once)")
    s.set_defaults(handler=cmd_tiles)
