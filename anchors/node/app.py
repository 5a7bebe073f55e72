"""HTTP routes of the anchor node (anchors node layer, HTTP edge; FastAPI + uvicorn).

Routes (docs/ANCHORING.md §5): ``GET /healthz``; ``GET /v1/keys`` (node name, k, validators'
cosignature verifier keys); ``POST /v1/origins`` (register an origin and its checkpoint key);
``POST /add-checkpoint`` (C2SP tlog-witness body → JSON receipt); ``GET /v1/checkpoint``
(latest receipt of an origin, or the one at ``size``); ``GET /v1/checkpoints`` (history of
cosigned checkpoints, newest first); ``GET /v1/blocks/{height}``; ``GET /v1/alarms``.
Errors are JSON ``{"error": code, "detail": text, "size": held size or null}`` with the status
of the refusal (400, 403, 404, 409, 422); the mapping lives here only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from anchors.errors import AnchorError, NodeRefused
from anchors.node.protocol import ANCHORED_BLOCK_HEADER, MAX_BODY_BYTES
from anchors.node.service import AnchorNode

__all__ = ["create_app"]

MAX_REGISTRATION_BYTES = 4096


def _refused(exc: NodeRefused) -> JSONResponse:
    return JSONResponse(
        {"error": exc.code, "detail": exc.detail, "size": exc.size}, status_code=exc.status
    )


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise NodeRefused(413, "too-large", f"body larger than {limit} bytes")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise NodeRefused(413, "too-large", f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(node: AnchorNode) -> FastAPI:
    """The node's FastAPI application (the node object is built by the caller)."""
    app = FastAPI(title="caseledger anchor node", docs_url=None, redoc_url=None)

    @app.exception_handler(NodeRefused)
    async def refused(_: Request, exc: NodeRefused) -> JSONResponse:
        return _refused(exc)

    @app.exception_handler(AnchorError)
    async def failed(_: Request, exc: AnchorError) -> JSONResponse:
        return JSONResponse({"error": "node-error", "detail": str(exc), "size": None}, 503)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {
            "ok": True,
            "node": node.consortium.node,
            "height": node.height(),
            "halted": node.halted or None,
        }

    @app.get("/v1/keys")
    def keys() -> dict[str, Any]:
        return node.keys()

    @app.post("/v1/origins")
    async def register(request: Request) -> JSONResponse:
        import json

        raw = await _body(request, MAX_REGISTRATION_BYTES)
        try:
            data = json.loads(raw)
            origin, key = data["origin"], data["verifier_key"]
        except (ValueError, KeyError, TypeError) as exc:
            raise NodeRefused(400, "malformed-request", "JSON {origin, verifier_key}") from exc
        created = await run_in_threadpool(node.register, origin, key)
        return JSONResponse({"origin": origin, "created": created}, 201 if created else 200)

    @app.get("/v1/origins")
    def origins() -> dict[str, str]:
        return node.store.origins()

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> dict[str, Any]:
        raw = await _body(request, MAX_BODY_BYTES)
        presented = request.headers.get(ANCHORED_BLOCK_HEADER)
        receipt = await run_in_threadpool(node.add_checkpoint, raw, presented)
        return receipt.as_json_value()

    @app.get("/v1/checkpoint")
    def checkpoint(
        origin: Annotated[str, Query(max_length=512)],
        size: Annotated[int | None, Query(ge=1)] = None,
    ) -> Any:
        receipt = node.latest(origin) if size is None else node.receipt_at(origin, size)
        if receipt is None:
            raise NodeRefused(404, "no-checkpoint", f"no checkpoint of {origin!r} held")
        return receipt.as_json_value()

    @app.get("/v1/checkpoints")
    def checkpoints(
        origin: Annotated[str, Query(max_length=512)],
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        return {"origin": origin, "checkpoints": node.history(origin, limit)}

    @app.get("/v1/blocks/{height}")
    def block(height: int) -> dict[str, Any]:
        found = node.store.block(height)
        if found is None:
            raise NodeRefused(404, "no-block", f"no block {height}")
        header, txs = found
        return {"height": height, "header": header, "transactions": txs}

    @app.get("/v1/alarms")
    def alarms() -> dict[str, Any]:
        return {"alarms": [a.as_json_value() for a in node.alarms()]}

    return app
