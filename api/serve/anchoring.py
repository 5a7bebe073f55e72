"""The anchoring worker inside ``caseledger serve``: checkpoints to the node, receipts back.

Layer: api (composition). The node's URL comes from ``$CASELEDGER_NODE`` (or
``serve --node``); without one, the server runs unanchored and ``/readyz`` says so.
The worker never blocks writes: it runs in its own thread with retry and backoff.

Rollback (DESIGN invariant 3): the worker compares the log and the recorded receipts with
the node once before the server takes requests and then continuously; what it finds
(``anchors.errors.RollbackDetected``) is recorded as the ``anchoring`` alarm of the head state
file, so every process of the server refuses writes and ``/readyz`` answers 503 until a later
check passes. It submits nothing while the ledger's guard refuses writes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from anchors.errors import AnchorError
from anchors.node.client import NodeClient
from anchors.worker import AnchoringWorker, open_ledger_anchors
from api.http.context import ApiContext

NODE_ENV = "CASELEDGER_NODE"
ALARM_SOURCE = "anchoring"
log = logging.getLogger("caseledger.anchoring")


def start_anchoring(ctx: ApiContext) -> Callable[[], None]:
    """Start the worker if a node is configured; returns the function that stops it."""
    url = os.environ.get(NODE_ENV, "").strip()
    if not url:
        log.warning("no anchor node configured (%s): the log is not being anchored", NODE_ENV)
        ctx.services["anchoring"] = None
        return lambda: None
    rt = ctx.runtime
    guard = rt.guard
    try:
        anchors = open_ledger_anchors(
            rt.ledger, rt.settings.storage, rt.keystore, rt.platform_signer()
        )
    except AnchorError as exc:  # e.g. a wiped log has no genesis: the guard already refuses
        log.error("anchoring not started: %s", exc)
        ctx.services["anchoring"] = None
        return lambda: None
    worker = AnchoringWorker(
        anchors,
        NodeClient(url),
        gate=guard.require_writable,
        on_alarm=lambda code, detail: guard.raise_alarm(ALARM_SOURCE, code, detail),
        on_clear=lambda: guard.clear_alarm(ALARM_SOURCE),
    )
    try:  # on start, before the first request: the node's view of our log
        worker.check_and_report()
    except AnchorError as exc:  # unreachable or answering nonsense: not a rollback finding
        log.warning("anchor node not checked at start (%s); the worker keeps trying", exc)
    worker.start()
    ctx.services["anchoring"] = worker
    log.info("anchoring %s to %s", anchors.origin, url)
    return worker.stop
