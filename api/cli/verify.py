"""``caseledger verify``: the auditor's command (DESIGN "Contract").

Layer: api. Exit 0 verified, 1 verification failed (first bad sequence and why),
2 usage or configuration error. With a full trust policy (``--policy FILE``), ``--checkpoint
FILE`` and/or ``--node URL`` the log is also checked against anchors (docs/ANCHORING.md §8):
the policy against the anchor configuration the chain recorded and every receipt the chain
recorded under it (``anchors.policy_check``: a recorded anchor that does not verify fails), then
the log against every verified checkpoint (``anchors.anchored_verify``: a log shorter than an
anchored checkpoint, truncation, or with another root at an anchored size, rewrite, fails).
The report prints the policy's fingerprint (compare it with the one you pinned, or pass
``--fingerprint``), how much of the log is anchored and how far behind anchoring is.
"""

from __future__ import annotations

import argparse
import hmac
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli.main import EXIT_FAILED, EXIT_OK, storage_args
from api.custody import tree_origin
from api.settings import load_settings
from ledger.chain.verification import Report, verify_chain
from ledger.errors import ConfigurationError

if TYPE_CHECKING:
    from anchors.anchored_verify import AnchorReport
    from anchors.policy import TrustPolicy


def _load_policy(path: str) -> tuple[TrustPolicy | None, list[bytes]]:
    """The trust policy (anchors.policy) and the platform key ids it pins.

    A pin-only file, exactly ``{"ledger": {"platform_keys": [hex key id or public key, ...]}}``,
    is also accepted: it pins the genesis key but carries no anchoring keys. Anything else must
    parse as a full trust policy: a malformed one never falls back to pinning less.
    """
    from anchors.errors import PolicyError
    from anchors.policy import parse_policy
    from ledger.domain.signer import key_id_of

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"--policy: {exc}") from exc
    try:
        policy = parse_policy(data)
        return policy, sorted(policy.platform_key_ids())
    except PolicyError as exc:
        try:
            value = json.loads(data)
            if set(value) != {"ledger"} or set(value["ledger"]) != {"platform_keys"}:
                raise ConfigurationError(f"--policy: {path}: {exc}") from exc
            keys = [bytes.fromhex(k) for k in value["ledger"]["platform_keys"]]
        except (ValueError, KeyError, TypeError):
            raise ConfigurationError(f"--policy: {path}: {exc}") from exc
        if not keys or any(len(k) not in (8, 32) for k in keys):
            raise ConfigurationError(f"--policy: {path}: {exc}") from exc
        return None, [k if len(k) == 8 else key_id_of(k) for k in keys]


def _progress_printer() -> Callable[[int, int], None] | None:
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
            print("note: the genesis platform key was trusted on first use (--policy pins it)")
    else:
        print(f"FAILED at {report.failure}")


def _genesis_platform_key(ledger: Any) -> bytes:
    from ledger.encoding import EncodingError, decode

    links = ledger.chain.select_links(1, 1)
    try:
        return bytes(decode(links[0].event.state)["public_key"])
    except (IndexError, AttributeError, EncodingError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"no readable genesis platform key: {exc}") from exc


def _genesis_hash(ledger: Any) -> bytes:
    entries = ledger.chain.select_entries(1, 1)
    if not entries:
        raise ConfigurationError("the ledger has no genesis entry")
    return bytes(entries[0].entry_hash)


def verify_anchors(
    args: argparse.Namespace, ledger: Any, storage: Any, policy: TrustPolicy | None
) -> tuple[AnchorReport, TrustPolicy]:
    """Check the policy against the chain's recorded anchoring (``anchors.policy_check``), then
    the log against every verified checkpoint (node, file, recorded receipts)."""
    from anchors.anchored_verify import (
        collect_anchors,
        failed_report,
        verify_against_anchors,
        verify_checkpoint_text,
    )
    from anchors.errors import AnchorError, NodeRefused, NodeUnavailable, ReceiptError
    from anchors.node.client import NodeClient
    from anchors.policy_check import check_policy
    from anchors.recorded import read_recorded
    from anchors.tree import PersistentTree, open_tree_store
    from ledger.errors import LedgerError

    texts: list[str] = []
    if args.checkpoint:
        try:
            texts.append(Path(args.checkpoint).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"--checkpoint: {exc}") from exc
    local_origin = tree_origin(storage)
    origin = policy.origin if policy else local_origin
    node_threshold = None
    if args.node:
        client = NodeClient(args.node)
        try:
            if origin is None:
                raise ConfigurationError("--node: the log origin is unknown; pass --policy")
            if policy is None:  # trust on first use of the node's published keys
                policy = client.policy(origin, (_genesis_platform_key(ledger),))
            else:
                node_threshold = client.keys().threshold
            texts.extend(client.checkpoints(origin, limit=10_000))
        except (NodeUnavailable, NodeRefused) as exc:
            raise ConfigurationError(f"--node: {exc}") from exc
        except AnchorError as exc:
            raise ConfigurationError(f"--node: {exc}") from exc
    if policy is None:
        raise ConfigurationError("--checkpoint needs --policy (or --node) to know whose keys")
    check = check_policy(
        policy,
        read_recorded(ledger.chain, policy.origin),
        genesis_hash=_genesis_hash(ledger),
        node_threshold=node_threshold,
        local_origins=[local_origin] if local_origin else [],
    )
    if check.failure is not None:
        return failed_report(ledger.chain, policy.origin, check.failure, check.fingerprint), policy
    if args.checkpoint:
        try:
            verify_checkpoint_text(texts[0], policy)
        except ReceiptError as exc:
            raise LedgerError(
                f"--checkpoint {args.checkpoint} does not verify against the policy: {exc}"
            ) from exc
    anchors, ignored = collect_anchors(texts, policy, verified=check.recorded_anchors)
    store = open_tree_store(storage)
    try:
        report = verify_against_anchors(
            ledger.chain,
            anchors,
            ignored=ignored,
            tree=PersistentTree(store),
            policy_fingerprint=check.fingerprint,
            recorded=len(check.recorded_anchors),
        )
    except AnchorError as exc:
        raise LedgerError(str(exc)) from exc
    finally:
        store.close()
    return report, policy


def verify_recorded_anchors(ledger: Any, storage: Any) -> AnchorReport | None:
    """Plain ``verify``: every receipt the chain recorded, under the anchor configuration the
    chain itself recorded in force at its sequence (its checkpoint key, validators and k), and
    the log against those checkpoints. None when the ledger never anchored."""
    from anchors.anchored_verify import failed_report, verify_against_anchors
    from anchors.errors import AnchorError
    from anchors.policy_check import verify_as_recorded
    from anchors.recorded import read_recorded
    from anchors.tree import PersistentTree, open_tree_store
    from ledger.errors import LedgerError

    origin = tree_origin(storage)
    recorded = read_recorded(ledger.chain, origin) if origin else None
    if origin is None or recorded is None or not recorded.anchors:
        return None
    verified, _, failure = verify_as_recorded(recorded, (_genesis_platform_key(ledger),))
    if failure is not None:
        return failed_report(ledger.chain, origin, failure, "")
    if not verified:
        return None  # anchored before the chain recorded its configuration
    store = open_tree_store(storage)
    try:
        return verify_against_anchors(
            ledger.chain, verified, tree=PersistentTree(store), recorded=len(verified)
        )
    except AnchorError as exc:
        raise LedgerError(str(exc)) from exc
    finally:
        store.close()


def sealed_line(report: Report) -> str:
    """How much of the log its command signatures seal (FORMAT.md §3: each signs its place)."""
    return (
        f"sealed: {report.sealed_through:,} of {report.head_sequence:,} entries by command "
        f"signatures over their place in the chain; unsealed tail {report.unsealed:,}"
    )


def policy_line(policy: TrustPolicy, source: str) -> str:
    """The trust policy in use, by fingerprint (docs/ANCHORING.md §4.3: compare it with the
    one you pinned)."""
    superseded = len(policy.supersedes)
    return (
        f"trust policy {policy.fingerprint_text()} ({source}): {policy.origin}, "
        f"k={policy.threshold} of {len(policy.validators)} validators of {policy.node}"
        + (f", supersedes {superseded} earlier configuration(s)" if superseded else "")
    )


def print_anchor_report(report: AnchorReport) -> None:
    if report.failure is not None:
        print(f"FAILED at {report.failure}")
        return
    print(
        f"anchored: {min(report.checkpoint_size, report.log_size):,} of {report.log_size:,} "
        f"entries ({report.anchored_fraction:.1%}) by checkpoint {report.origin} size "
        f"{report.checkpoint_size:,}, cosigned by {', '.join(report.cosigners)}; "
        f"{report.unanchored_entries:,} unanchored (oldest {report.lag_seconds:.1f} s old); "
        f"{report.anchors_checked} anchor(s) checked ({report.anchors_recorded} recorded in the "
        "chain, each verified)"
        + (
            f", {report.anchors_ignored} from the node ignored (did not verify)"
            if report.anchors_ignored
            else ""
        )
    )


def _pinned_fingerprint(args: argparse.Namespace, policy: TrustPolicy | None) -> str | None:
    """None when ``--fingerprint`` is absent or matches; else why the policy is not the pinned
    one. Usage error when there is no full trust policy to compare."""
    from anchors.errors import PolicyError
    from anchors.policy import parse_fingerprint

    if not args.fingerprint:
        return None
    if policy is None:
        raise ConfigurationError("--fingerprint needs --policy FILE with a full trust policy")
    try:
        pinned = parse_fingerprint(args.fingerprint)
    except PolicyError as exc:
        raise ConfigurationError(f"--fingerprint: {exc}") from exc
    if hmac.compare_digest(pinned, policy.fingerprint()):
        return None
    return (
        f"the trust policy {args.policy} has fingerprint {policy.fingerprint_text()}, not the "
        f"pinned sha256:{pinned.hex()}: it is not the policy you pinned"
    )


def cmd_verify(args: argparse.Namespace) -> int:
    from ledger.services.application import open_ledger

    policy, pinned = _load_policy(args.policy) if args.policy else (None, [])
    mismatch = _pinned_fingerprint(args, policy)
    if mismatch is not None:
        if args.json:
            print(json.dumps({"ok": False, "policy_fingerprint_mismatch": mismatch}, indent=1))
        else:
            print(f"FAILED: {mismatch}")
        return EXIT_FAILED
    try:
        trusted = bytes.fromhex(args.trusted_head) if args.trusted_head else None
    except ValueError as exc:
        raise ConfigurationError("--trusted-head: not a hex hash") from exc
    storage = load_settings(args.db).storage
    ledger = open_ledger(storage)
    anchor_report = None
    source = f"--policy {args.policy}" if policy is not None else ""
    try:
        report = verify_chain(
            ledger.chain,
            start=max(1, args.start),
            trusted_prev_hash=trusted,
            pinned_platform_keys=pinned,
            progress=_progress_printer(),
        )
        if args.checkpoint or args.node or policy is not None:
            if policy is None:
                source = "trusted on first use: the keys the node publishes"
            anchor_report, policy = verify_anchors(args, ledger, storage, policy)
        elif report.ok:
            anchor_report = verify_recorded_anchors(ledger, storage)
    finally:
        ledger.close()
    ok = report.ok and (anchor_report is None or anchor_report.ok)
    if args.json:
        data = report.as_dict()
        data["ok"] = ok
        data["chain_ok"] = report.ok
        data["policy"] = (
            None
            if anchor_report is None or policy is None
            else {
                "fingerprint": policy.fingerprint_text(),
                "source": source,
                "origin": policy.origin,
                "threshold": policy.threshold,
                "validators": len(policy.validators),
                "supersedes": len(policy.supersedes),
            }
        )
        data["anchors"] = None if anchor_report is None else anchor_report.as_dict()
        print(json.dumps(data, indent=1, ensure_ascii=False))
    else:
        print_report(report, False)
        if report.ok:
            print(sealed_line(report))
        if anchor_report is not None:
            if policy is not None:
                print(policy_line(policy, source))
            else:
                print(
                    "anchors: the receipts recorded in the chain, under the anchor configuration "
                    "the chain recorded (pin a policy with --policy to check those keys too)"
                )
            print_anchor_report(anchor_report)
    return EXIT_OK if ok else EXIT_FAILED


def register(sub: Any) -> None:
    p = sub.add_parser("verify", help="verify the chain; exit 0 verified, 1 failed, 2 usage")
    storage_args(p)
    p.add_argument(
        "--policy",
        help="trust policy JSON: pins the platform keys and, when full, the anchoring keys; the "
        "anchors the chain recorded are then checked against it",
    )
    p.add_argument(
        "--fingerprint",
        help="the policy's fingerprint as you pinned it (sha256:…); another policy fails",
    )
    p.add_argument("--checkpoint", help="a cosigned checkpoint kept earlier")
    p.add_argument("--node", help="URL of the anchor node")
    p.add_argument("--from", dest="start", type=int, default=1, help="verify from sequence N")
    p.add_argument("--trusted-head", help="hex entry hash of sequence N-1 (with --from)")
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.set_defaults(handler=cmd_verify)
