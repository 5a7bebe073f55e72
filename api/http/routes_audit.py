"""Auditor endpoints: chain entries, the key registry, checkpoints and proof bundles.

Layer: api (HTTP). Read-only; roles auditor, supervisor, archivist (and admin).
"""

from __future__ import annotations

import threading
from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel

from api.http.deps import Auditor, Ctx
from api.http.problems import Problem
from api.http.read_side import read_chain, read_view
from ledger.chain.entries import ChainEntry
from projections.keys import current_keys

router = APIRouter(prefix="/v1/audit", tags=["audit"])
MAX_PAGE = 1000
_POLICY_LOCK: Final = threading.Lock()
_NOT_ANCHORED: Final = "the ledger has not anchored yet"
_NO_NODE: Final = (
    "no anchor node configured: start one (caseledger node serve) and give its URL to "
    "caseledger serve --node URL (or $CASELEDGER_NODE)"
)


class EntryPublic(BaseModel):
    sequence: int
    prev_hash: str
    entry_hash: str
    originator_id: str
    originator_version: int
    topic: str
    timestamp: int
    state_hash: str
    key_id: str
    signature: str
    command: list[int]


class EntriesPage(BaseModel):
    entries: list[EntryPublic]
    next: int | None


def entry_public(e: ChainEntry) -> EntryPublic:
    return EntryPublic(
        sequence=e.sequence,
        prev_hash=e.prev_hash.hex(),
        entry_hash=e.entry_hash.hex(),
        originator_id=str(e.originator_id),
        originator_version=e.originator_version,
        topic=e.topic,
        timestamp=e.timestamp,
        state_hash=e.state_hash.hex(),
        key_id=e.key_id.hex(),
        signature=e.signature.hex(),
        command=[e.command_index, e.command_size],
    )


@router.get("/entries", summary="Chain entries from a sequence number, paginated")
def entries(
    ctx: Ctx,
    _: Auditor,
    start: Annotated[int, Query(alias="from", ge=1, le=2**62)] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> EntriesPage:
    found = read_chain(ctx).select_entries(start, limit)
    nxt = found[-1].sequence + 1 if len(found) == limit else None
    return EntriesPage(entries=[entry_public(e) for e in found], next=nxt)


@router.get("/keys", summary="Every actor key with its registration and revocation")
def keys(ctx: Ctx, _: Auditor) -> list[dict[str, Any]]:
    view = read_view(ctx, "keys")
    return current_keys(view) if view is not None else []


# --- anchoring: checkpoint, trust policy, proof bundles -----------------------------------------


def _latest_anchor(ctx: Any) -> Any:
    from api.anchoring import latest_recorded

    found = latest_recorded(ctx.runtime.ledger, ctx.runtime.settings.storage)
    if found is None or not getattr(found, "checkpoint", ""):
        _require_node(ctx)  # never anchored because nothing anchors it: say that, not 404
        raise Problem(404, "Not found", _NOT_ANCHORED, code="not-anchored")
    return found


def _require_node(ctx: Any) -> Any:
    """The anchoring worker; 503 ``no-node`` when this server has no anchor node."""
    worker = ctx.services.get("anchoring")
    if worker is None:
        raise Problem(503, "Unavailable", _NO_NODE, code="no-node")
    return worker


def _policy(ctx: Any) -> Any:
    """The trust policy ``caseledger policy`` prints, built once from the chain's anchor record
    and the node's published keys (kept for the process; rebuilt if the checkpoint key of
    the chain's record changes)."""
    from anchors.errors import AnchorError, NodeUnavailable
    from api.anchoring import build_policy

    worker = _require_node(ctx)  # the validators' keys come from the node
    found = _latest_anchor(ctx)
    cached = ctx.services.get("audit_policy")
    if cached is not None and cached.checkpoint_key.to_key() == found.checkpoint_key:
        return cached
    with _POLICY_LOCK:
        try:
            policy = build_policy(ctx.runtime.ledger, ctx.runtime.settings.storage, worker.client)
        except NodeUnavailable as exc:
            raise Problem(503, "Unavailable", str(exc), code="node-unavailable") from None
        except AnchorError as exc:
            raise Problem(409, "Conflict", str(exc), code="policy") from None
        ctx.services["audit_policy"] = policy
    return policy


@router.get(
    "/checkpoint",
    summary="The latest cosigned checkpoint, as a signed note (text/plain)",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        404: {"description": "The ledger has never been anchored."},
        503: {"description": "Never anchored, and no anchor node configured."},
    },
)
def checkpoint(ctx: Ctx, _: Auditor) -> Response:
    found = _latest_anchor(ctx)
    return Response(str(found.checkpoint), media_type="text/plain; charset=utf-8")


@router.get(
    "/policy",
    summary="The trust policy (as `caseledger policy` prints it) to verify bundles offline",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {"schema": {"type": "object"}}}},
        404: {"description": "The ledger has never been anchored."},
        503: {"description": "No anchor node configured (`no-node`) or reachable."},
    },
)
def policy(ctx: Ctx, _: Auditor) -> Response:
    return Response(_policy(ctx).to_json(), media_type="application/json")


@router.get(
    "/cases/{serial}/bundle",
    summary="A case's offline proof bundle "
    "(verify with `caseledger bundle verify FILE --policy FILE`)",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {"schema": {"type": "object"}}}},
        404: {"description": "No such case, or the ledger has never been anchored."},
        409: {"description": "The case has entries the latest checkpoint does not cover yet."},
        503: {"description": "No anchor node configured (`no-node`) or reachable."},
    },
)
def bundle(
    ctx: Ctx,
    _: Auditor,
    serial: Annotated[str, Path(min_length=4, max_length=64, pattern=r"^[A-Za-z0-9-]+$")],
) -> Response:
    from anchors.bundle import export_bundle
    from anchors.errors import AnchorError
    from anchors.tree import PersistentTree, open_tree_store
    from ledger.domain.cases import Case

    ledger = ctx.runtime.ledger
    try:
        ledger.repository.get(Case.id_for(serial))
    except Exception:
        raise Problem(404, "Not found", f"serial: no case {serial}", code="not-found") from None
    trust = _policy(ctx)
    store = open_tree_store(ctx.runtime.settings.storage)
    try:
        data = export_bundle(ledger, PersistentTree(store), trust, str(Case.id_for(serial)))
    except AnchorError as exc:
        raise Problem(409, "Conflict", str(exc), code="not-anchored-yet") from None
    finally:
        store.close()
    headers = {"Content-Disposition": f'attachment; filename="{serial}.bundle.json"'}
    return Response(data, media_type="application/json", headers=headers)
