"""The log as a C2SP tiled log, and Merkle proofs for auditors, served by ``caseledger serve``.

Layer: api (HTTP edge of :mod:`anchors.tiled_log`; holds no rule). Routes:

* ``GET /checkpoint`` — the latest cosigned checkpoint (what ``caseledger checkpoint``
  prints), ``text/plain; charset=utf-8``, cached for a few seconds at most;
* ``GET /tile/<L>/<N>[.p/<W>]`` and ``GET /tile/entries/<N>[.p/<W>]`` — hash tiles and entry
  bundles exactly as C2SP tlog-tiles names them, ``application/octet-stream``; full tiles
  ``Cache-Control: public, max-age=31536000, immutable``, partial ones a minute; 404 beyond
  the published tree, 400 for a path the spec does not allow;
* ``GET /v1/audit/consistency?from=&to=`` — RFC 9162 §2.1.4 consistency proof (JSON);
* ``GET /v1/audit/inclusion?index=&size=`` — RFC 9162 §2.1.3 inclusion proof of leaf
  ``index`` (chain sequence ``index + 1``) in the tree of ``size`` leaves (JSON).

The tiled log is public, like Go's checksum database, Rekor v2 and Tessera logs: it holds
hashes only (no event, no personal data), so any auditor's tools can mirror it with no token.
The proof routes are audit routes (roles auditor, supervisor, archivist). Proof hashes are
base64, as in RFC 9162 §4, C2SP tlog-witness and our proof bundles. Tree nodes are read
through the process's pooled connections (:mod:`api.sidedb`), not a connection per request.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from anchors.codec import b64encode
from anchors.errors import AnchorError, TreeStoreError
from anchors.tiled_log import PublishedCheckpoint, TiledLog, published_checkpoint
from anchors.tiles import TileError, parse_tile_path
from anchors.tree import META_TABLE, NODES_TABLE, STATE_TABLE, PersistentTree
from api import sidedb
from api.http.deps import Auditor, Ctx
from api.http.problems import Problem
from ledger.storage.urls import StorageURL

__all__ = ["router"]

router = APIRouter()

IMMUTABLE: Final = "public, max-age=31536000, immutable"
PARTIAL: Final = "public, max-age=60"
CHECKPOINT_CACHE: Final = "public, max-age=5"
OCTETS: Final = "application/octet-stream"
_ORIGIN: Final = "tiles_origin"
_PUBLISHED: Final = "tiles_published"
_LOG: Final = "tiled_log"
_MAX_SIZE: Final = 2**62


# --- reading the tree through pooled connections -----------------------------------------------


def _marks(storage: StorageURL, count: int) -> str:
    return ",".join(("?" if storage.is_sqlite else "%s") for _ in range(count))


class PooledTreeReader:
    """The tree tables read through :func:`api.sidedb.cursor` (one pooled connection per
    query): the ``size`` and ``read`` of :class:`anchors.tree.TreeStore`, and nothing that
    writes (every write method raises :class:`TreeStoreError`)."""

    def __init__(self, storage: StorageURL) -> None:
        self.storage = storage

    def size(self) -> int:
        try:
            with sidedb.cursor(self.storage) as cur:
                cur.execute(f"SELECT size FROM {STATE_TABLE} WHERE id = 1")
                row = cur.fetchone()
        except Exception as exc:  # sqlite3 / psycopg errors at the edge
            raise TreeStoreError(f"tree store: {exc}") from exc
        return 0 if row is None else int(row[0])

    def read(self, ids: Collection[int]) -> dict[int, bytes]:
        wanted = list(ids)
        if not wanted:
            return {}
        try:
            with sidedb.cursor(self.storage) as cur:
                cur.execute(
                    f"SELECT node, hash FROM {NODES_TABLE} WHERE node IN "
                    f"({_marks(self.storage, len(wanted))})",
                    wanted,
                )
                rows = cur.fetchall()
        except Exception as exc:
            raise TreeStoreError(f"tree store: {exc}") from exc
        return {int(node): bytes(value) for node, value in rows}

    def get_meta(self, name: str) -> str | None:
        try:
            with sidedb.cursor(self.storage) as cur:
                cur.execute(
                    f"SELECT value FROM {META_TABLE} WHERE name = {_marks(self.storage, 1)}",
                    (name,),
                )
                row = cur.fetchone()
        except Exception:  # no tables yet: nothing anchored
            return None
        return None if row is None else str(row[0])

    def migrate(self) -> None:
        raise TreeStoreError("the HTTP tree reader does not write")

    def append(self, old_size: int, new_size: int, nodes: Sequence[tuple[int, bytes]]) -> None:
        raise TreeStoreError("the HTTP tree reader does not write")

    def set_meta_once(self, name: str, value: str) -> str:
        raise TreeStoreError("the HTTP tree reader does not write")

    def set_meta(self, name: str, value: str) -> None:
        raise TreeStoreError("the HTTP tree reader does not write")

    def reset(self) -> None:
        raise TreeStoreError("the HTTP tree reader does not write")


def _reader(ctx: Any) -> PooledTreeReader:
    return PooledTreeReader(ctx.runtime.settings.storage)


def _published(ctx: Any, *, covering: int | None = None) -> PublishedCheckpoint:
    """The latest cosigned checkpoint in the chain, or a 404 saying why there is none.

    With ``covering``, the one this process last read is reused when its tree has at least
    that many leaves (a tree only grows, so what it covers stays valid); else it is read again.
    """
    last: PublishedCheckpoint | None = ctx.services.get(_PUBLISHED)
    if covering is not None and last is not None and last.size >= covering:
        return last
    origin = ctx.services.get(_ORIGIN)
    if origin is None:
        origin = _reader(ctx).get_meta("origin")
        if origin is not None:
            ctx.services[_ORIGIN] = origin  # fixed once a ledger has anchored
    found = None if origin is None else published_checkpoint(ctx.runtime.ledger, origin)
    if found is None:
        why = (
            "the ledger has not anchored yet"
            if ctx.services.get("anchoring") is not None
            else "the ledger has not anchored yet, and no anchor node is configured "
            "(serve --node URL or $CASELEDGER_NODE)"
        )
        raise Problem(404, "Not found", why, code="not-anchored")
    ctx.services[_PUBLISHED] = found
    return found


def _tiled_log(ctx: Any) -> TiledLog:
    """The process's tiled log (it keeps recently served full tiles)."""
    found: TiledLog | None = ctx.services.get(_LOG)
    if found is None:
        found = ctx.services.setdefault(_LOG, TiledLog(_reader(ctx).read, _entry_hashes(ctx)))
    return found


def _entry_hashes(ctx: Any) -> Any:
    chain = ctx.runtime.ledger.chain

    def entry_hashes(first: int, count: int) -> list[bytes]:
        entries = chain.select_entries(first, count)
        if any(e.sequence != first + i for i, e in enumerate(entries)):
            raise TreeStoreError(f"chain: a gap among sequences {first}..{first + count - 1}")
        return [e.entry_hash for e in entries]

    return entry_hashes


# --- the tiled log (public) ---------------------------------------------------------------------


@router.get(
    "/checkpoint",
    tags=["tiled log"],
    summary="The latest cosigned checkpoint of the tiled log (C2SP tlog-tiles, signed note)",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        404: {"description": "The ledger has never been anchored."},
    },
)
def checkpoint(ctx: Ctx) -> Response:
    found = _published(ctx)
    return Response(
        found.note,
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": CHECKPOINT_CACHE},
    )


@router.get(
    "/tile/{tile_path:path}",
    tags=["tiled log"],
    summary="A hash tile tile/<L>/<N>[.p/<W>] or entry bundle tile/entries/<N>[.p/<W>] "
    "(C2SP tlog-tiles)",
    response_class=Response,
    responses={
        200: {"content": {OCTETS: {"schema": {"type": "string", "format": "binary"}}}},
        400: {"description": "Not a tile path of C2SP tlog-tiles."},
        404: {"description": "No such tile in the tree of the latest checkpoint."},
    },
)
def tile(
    ctx: Ctx,
    tile_path: Annotated[
        str,
        Path(
            max_length=200,
            description="<L>/<N>[.p/<W>] or entries/<N>[.p/<W>], N in x-prefixed 3-digit "
            "groups (x001/x234/067)",
        ),
    ],
) -> Response:
    try:
        wanted = parse_tile_path("tile/" + tile_path)
    except TileError as exc:
        raise Problem(400, "Bad request", str(exc), code="bad-tile-path") from None
    found = _published(ctx, covering=wanted.needs_size)
    try:
        data = _tiled_log(ctx).tile(wanted, found.size)
    except AnchorError as exc:
        raise Problem(503, "Unavailable", str(exc), code="tree-unavailable") from None
    if data is None:
        raise Problem(
            404,
            "Not found",
            f"{wanted.path}: the tree of the latest checkpoint has {found.size} leaves",
            code="no-such-tile",
        )
    cache = PARTIAL if wanted.is_partial else IMMUTABLE
    return Response(data, media_type=OCTETS, headers={"Cache-Control": cache})


# --- proofs for auditors ------------------------------------------------------------------------


class ConsistencyProof(BaseModel):
    """RFC 9162 §2.1.4 PROOF(from, D[0:to]), hashes in base64 (empty from 0 or equal sizes)."""

    from_size: int = Field(serialization_alias="from")
    to_size: int = Field(serialization_alias="to")
    proof: list[str]


class InclusionProof(BaseModel):
    """RFC 9162 §2.1.3 PATH(index, D[0:size]) for leaf ``index`` = chain sequence - 1."""

    index: int
    sequence: int
    size: int
    proof: list[str]


def _tree(ctx: Any) -> PersistentTree:
    return PersistentTree(_reader(ctx))


def _check_size(tree: PersistentTree, size: int) -> None:
    try:
        held = tree.size()
    except AnchorError as exc:
        raise Problem(503, "Unavailable", str(exc), code="tree-unavailable") from None
    if size > held:
        raise Problem(
            404,
            "Not found",
            f"the Merkle tree has {held} leaves, not {size} (anchoring adds the rest)",
            code="beyond-tree",
        )


@router.get(
    "/v1/audit/consistency",
    tags=["audit"],
    summary="RFC 9162 consistency proof between two tree sizes (base64 hashes)",
    responses={
        404: {"description": "A size beyond the Merkle tree."},
        422: {"description": "from is larger than to."},
    },
)
def consistency(
    ctx: Ctx,
    _: Auditor,
    from_size: Annotated[int, Query(alias="from", ge=0, le=_MAX_SIZE)],
    to_size: Annotated[int, Query(alias="to", ge=0, le=_MAX_SIZE)],
) -> ConsistencyProof:
    if from_size > to_size:
        raise Problem(
            422, "Validation error", "from: must not be larger than to", code="validation"
        )
    tree = _tree(ctx)
    _check_size(tree, to_size)
    try:
        proof = tree.consistency_proof(from_size, to_size)
    except (AnchorError, ValueError) as exc:
        raise Problem(503, "Unavailable", str(exc), code="tree-unavailable") from None
    return ConsistencyProof(
        from_size=from_size, to_size=to_size, proof=[b64encode(p) for p in proof]
    )


@router.get(
    "/v1/audit/inclusion",
    tags=["audit"],
    summary="RFC 9162 inclusion proof of the leaf at an index in a tree size (base64 hashes)",
    responses={
        404: {"description": "A size beyond the Merkle tree."},
        422: {"description": "index is not below size."},
    },
)
def inclusion(
    ctx: Ctx,
    _: Auditor,
    index: Annotated[int, Query(ge=0, le=_MAX_SIZE)],
    size: Annotated[int, Query(ge=1, le=_MAX_SIZE)],
) -> InclusionProof:
    if index >= size:
        raise Problem(
            422, "Validation error", "index: must be below size (0-based)", code="validation"
        )
    tree = _tree(ctx)
    _check_size(tree, size)
    try:
        proof = tree.inclusion_proof(index, size)
    except (AnchorError, ValueError) as exc:
        raise Problem(503, "Unavailable", str(exc), code="tree-unavailable") from None
    return InclusionProof(
        index=index, sequence=index + 1, size=size, proof=[b64encode(p) for p in proof]
    )
