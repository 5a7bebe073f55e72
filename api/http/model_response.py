"""A response model sent as FastAPI's own fast path would send it, from a plain ``def`` endpoint.

Layer: api (HTTP). A plain ``def`` endpoint runs in the thread pool; when it returns a model,
FastAPI hands the model to a worker thread a second time to validate it against the route's
``response_model`` (already an instance of it: nothing to check) before serializing it. An
endpoint returning :func:`model_response` skips that hand-off: the model, validated when it
was built, is serialized by pydantic's Rust core exactly as FastAPI would (``by_alias``, the
same bytes and media type). The route keeps ``response_model=…``, so the published OpenAPI
schema is unchanged.
"""

from __future__ import annotations

from fastapi.responses import Response
from pydantic import BaseModel

__all__ = ["model_response"]


def model_response(model: BaseModel, status_code: int = 200) -> Response:
    """``model`` as the JSON body of a ``status_code`` response, with the bytes FastAPI's
    ``response_model`` path would send."""
    return Response(
        content=model.__pydantic_serializer__.to_json(model, by_alias=True),
        status_code=status_code,
        media_type="application/json",
    )
