"""The anchoring worker inside ``caseledger serve``: checkpoints to the node, receipts back.

Layer: api (composition). The node's URL comes from ``$CASELEDGER_NODE`` (or
``serve --node``); without one, the server runs unanchored and ``/readyz`` says so.
The worker never blocks writes: it runs in its own thread with retry and backoff.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from anchors.node.client import NodeClient
from anchors.worker import AnchoringWorker, open_ledger_anchors
from api.http.context import ApiContext

NODE_ENV = "CASELEDGER_NODE"
log = logging.getLogger("caseledger.anchoring")


def start_anchoring(ctx: ApiContext) -> Callable[[], None]:
    """Start the worker if a node is configured; returns the function that stops it."""
    url = os.environ.get(NODE_ENV, "").strip()
    if not url:
        log.warning("no anchor node configured (%s): the log is not being anchored", NODE_ENV)
        ctx.services["anchoring"] = None
        return lambda: None
    rt = ctx.runtime
    anchors = open_ledger_anchors(rt.ledger, rt.settings.storage, rt.keystore, rt.platform_signer())
    worker = AnchoringWorker(anchors, NodeClient(url))
    worker.start()
    ctx.services["anchoring"] = worker
    log.info("anchoring %s to %s", anchors.origin, url)
    return worker.stop
