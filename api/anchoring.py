"""Anchoring as the entry points open it: the node's URL, the ledger's anchors, its policy.

Layer: api (shared by the CLI, ``serve`` and the HTTP routes). The node's URL comes from the
flag, else ``$CASELEDGER_NODE``, else the default port on loopback.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Final

from api.settings import load_settings

NODE_ENV: Final = "CASELEDGER_NODE"
DEFAULT_NODE_URL: Final = "http://127.0.0.1:8700"
DEFAULT_NODE_PORT: Final = 8700


def node_url(value: str | None) -> str:
    return value or os.environ.get(NODE_ENV) or DEFAULT_NODE_URL


def open_anchoring(args: argparse.Namespace) -> tuple[Any, Any]:
    """(runtime, LedgerAnchors) for the ledger named by ``args`` (needs the keystore)."""
    from anchors.worker import open_ledger_anchors
    from api.bootstrap import open_runtime

    runtime = open_runtime(load_settings(args.db, args.keystore, args.passphrase_file))
    try:
        anchors = open_ledger_anchors(
            runtime.ledger,
            runtime.settings.storage,
            runtime.keystore,
            runtime.platform_signer(),
            city=getattr(args, "city", None),
        )
    except BaseException:
        runtime.close()
        raise
    return runtime, anchors


def latest_recorded(ledger: Any, storage: Any) -> Any:
    """The ledger's ``AnchorLog`` (latest recorded receipt) or None; no keystore needed."""
    from eventsourcing.application import AggregateNotFoundError

    from anchors.tree import open_tree_store
    from ledger.domain.anchoring import AnchorLog

    store = open_tree_store(storage)
    try:
        store.migrate()
        origin = store.get_meta("origin")
    finally:
        store.close()
    if origin is None:
        return None
    try:
        return ledger.repository.get(AnchorLog.create_id(origin))
    except AggregateNotFoundError:
        return None


def build_policy(ledger: Any, storage: Any, client: Any) -> Any:
    """The trust policy: origin + checkpoint key recorded in the chain, genesis platform key,
    and the node's published validator keys."""
    from anchors.errors import PolicyError
    from ledger.encoding import decode

    found = latest_recorded(ledger, storage)
    if found is None:
        raise PolicyError("the ledger has not anchored yet (run caseledger anchor)")
    genesis = ledger.chain.select_links(1, 1)
    if not genesis or genesis[0].event is None:
        raise PolicyError("the ledger has no genesis entry")
    platform = bytes(decode(genesis[0].event.state)["public_key"])
    policy = client.policy(found.origin, (platform,))
    if policy.checkpoint_key.to_key() != found.checkpoint_key:
        raise PolicyError("the node holds another checkpoint key for this origin than the chain")
    return policy
