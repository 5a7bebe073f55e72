"""HTTP routes of the anchor node (anchors node layer, HTTP edge; FastAPI + uvicorn).

Routes (docs/ANCHORING.md §5): ``GET /healthz``; ``GET /v1/keys`` (node name, k, validators'
cosignature verifier keys); ``POST /v1/origins`` (register an origin and its checkpoint key);
``POST /add-checkpoint`` (C2SP tlog-witness); ``GET /<origin hash>/checkpoint`` (tlog-witness
monitoring: the latest cosigned checkpoint of a log); ``GET /v1/checkpoint`` (latest receipt
of an origin, or the one at ``size``); ``GET /v1/checkpoints`` (history of cosigned
checkpoints, newest first); ``GET /v1/blocks/{height}``; ``GET /v1/alarms``.

``POST /add-checkpoint`` answers as C2SP tlog-witness specifies, so any witness client can
use the node: 200 with the validators' ``cosignature/v1`` lines (``text/plain``), 409 with the
held size as ``<size>\n`` (``text/x.tlog.size``), 400/403/404/422 with a one-line reason. A
client that sends ``Accept: application/json`` (our ``anchors.node.client``) gets the block
receipt as JSON instead, and refusals as JSON ``{"error": code, "detail": text, "size": held
size or null}`` — as every other route does; the mapping lives here only.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from anchors.errors import AnchorError, NodeRefused
from anchors.node.protocol import (
    ANCHORED_BLOCK_HEADER,
    MAX_BODY_BYTES,
    SIZE_MEDIA_TYPE,
    cosignature_lines,
    format_size,
)
from anchors.node.service import AnchorNode

__all__ = ["create_app"]

MAX_REGISTRATION_BYTES = 4096


def _refused(exc: NodeRefused) -> JSONResponse:
    return JSONResponse(
        {"error": exc.code, "detail": exc.detail, "size": exc.size}, status_code=exc.status
    )


def _witness_refused(exc: NodeRefused) -> Response:
    """A refusal as C2SP tlog-witness answers it: every 409 carries the held size."""
    if exc.status == 409 and exc.size is not None:
        return Response(format_size(exc.size), 409, headers={"Content-Type": SIZE_MEDIA_TYPE})
    return PlainTextResponse(f"{exc.code}: {exc.detail}\n", exc.status)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "").lower()


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
    async def add_checkpoint(request: Request) -> Response:
        as_json = _wants_json(request)
        try:
            raw = await _body(request, MAX_BODY_BYTES)
            presented = request.headers.get(ANCHORED_BLOCK_HEADER)
            receipt = await run_in_threadpool(node.add_checkpoint, raw, presented)
        except NodeRefused as exc:
            return _refused(exc) if as_json else _witness_refused(exc)
        if as_json:
            return JSONResponse(receipt.as_json_value())
        lines = cosignature_lines(receipt.checkpoint, node.consortium.cosignature_verifiers())
        return PlainTextResponse(lines)

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

    @app.get("/{origin_hash}/checkpoint", response_class=PlainTextResponse)
    def witnessed(
        origin_hash: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")],
    ) -> PlainTextResponse:
        """C2SP tlog-witness monitoring: the latest checkpoint cosigned for the log whose
        origin hashes (SHA-256, lowercase hex) to ``origin_hash``; 404 if none."""
        for origin in node.store.origins():
            if hashlib.sha256(origin.encode("utf-8")).hexdigest() == origin_hash:
                receipt = node.latest(origin)
                if receipt is not None:
                    return PlainTextResponse(receipt.checkpoint)
        return PlainTextResponse("no checkpoint of this log was cosigned\n", 404)

    return app
