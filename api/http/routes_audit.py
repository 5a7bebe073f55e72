"""Auditor endpoints: chain entries, the key registry, checkpoints and proof bundles.

Layer: api (HTTP). Read-only; roles auditor, supervisor, archivist (and admin).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.http.deps import Auditor, Ctx
from ledger.chain import ChainEntry
from projections.keys import current_keys

router = APIRouter(prefix="/v1/audit", tags=["audit"])
MAX_PAGE = 1000


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
    start: Annotated[int, Query(alias="from", ge=1)] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> EntriesPage:
    found = ctx.runtime.ledger.chain.select_entries(start, limit)
    nxt = found[-1].sequence + 1 if len(found) == limit else None
    return EntriesPage(entries=[entry_public(e) for e in found], next=nxt)


@router.get("/keys", summary="Every actor key with its registration and revocation")
def keys(ctx: Ctx, _: Auditor) -> list[dict[str, Any]]:
    view = ctx.views.get("keys")
    return current_keys(view) if view is not None else []
