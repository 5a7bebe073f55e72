"""Command endpoints: turn a validated command into a service call and one idempotent answer.

Layer: api (HTTP). ``@command(router, path, Model, summary)`` registers a plain function —
path parameters, a body, ``who`` and ``wired`` in; the answer model out — as a POST endpoint
that answers through :func:`~api.http.routes_common.respond`: run once per
``Idempotency-Key``, the first answer kept. The request's params are each path parameter by
name and the body's fields; the command's name is the function's name.

Why: every command endpoint wrapped its few lines of service call in the same closure, params
and ``respond`` call. Written once here, the key header, the request digest and the command
name cannot drift between endpoints, and the OpenAPI document stays what FastAPI derives from
the function (its name, path, parameters, body and docstring).
"""

from __future__ import annotations

import functools
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel

from api.http.routes_common import IdempotencyKey, respond

Handler = TypeVar("Handler", bound=Callable[..., BaseModel])
Responses = Mapping[int | str, dict[str, Any]]

KEY: Final = "key"
"""The ``Idempotency-Key`` parameter: added unless the handler takes it (case steps pass it
on to the case service, scoped by the caller's token, whose record in the chain then makes
the command idempotent: ``respond(..., in_ledger=True)``)."""
BODY: Final = "body"
"""The request body parameter: a Pydantic model, or ``Model | None`` for a body that may be
left out (its params are then those of ``Model()``)."""
_PATH_FIELD: Final = re.compile(r"{(\w+)(?::\w+)?}")


def command(
    router: APIRouter,
    path: str,
    response_model: type[BaseModel],
    summary: str,
    *,
    status: int = 200,
    responses: Responses | None = None,
    name: str | None = None,
    params: Callable[..., Mapping[str, Any]] | None = None,
    check: Callable[..., None] | None = None,
) -> Callable[[Handler], Handler]:
    """Register the decorated handler as the idempotent command ``POST <router prefix><path>``.

    The handler takes the endpoint's parameters (``who`` and ``wired`` among them) and returns
    the answer model; it is returned unchanged. ``name`` is the command's name in the request
    digest (default: the handler's name); ``params`` computes the digested params from the
    handler's arguments where they are not the path parameters and body fields; ``check`` is
    called with the handler's arguments before the key is claimed (a refusal that keeps the
    key free). Both may raise a :class:`~api.http.problems.Problem`.
    """

    def register(handler: Handler) -> Handler:
        if inspect.iscoroutinefunction(handler):
            raise TypeError(f"{handler.__name__}: a command handler is a plain function")
        signature = inspect.signature(handler)
        for needed in ("who", "wired"):
            if needed not in signature.parameters:
                raise TypeError(f"{handler.__name__}: a command handler takes {needed!r}")
        fields = _PATH_FIELD.findall(router.prefix + path)
        for field in fields:
            if field not in signature.parameters:
                raise TypeError(f"{handler.__name__}: path parameter {field!r} not taken")
        # The modules use postponed annotations: FastAPI would evaluate the strings in this
        # module's globals, so the endpoint's signature carries them resolved.
        hints = typing.get_type_hints(handler, include_extras=True)
        parameters = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in signature.parameters.values()
        ]
        takes_key = KEY in signature.parameters
        if not takes_key:
            parameters.append(
                inspect.Parameter(
                    KEY, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=IdempotencyKey
                )
            )
        default_body = _optional_model(hints.get(BODY))
        command_name = name or handler.__name__

        @functools.wraps(handler)
        def endpoint(**arguments: Any) -> Response:
            key = arguments[KEY] if takes_key else arguments.pop(KEY)
            if check is not None:
                check(**arguments)
            asked: Mapping[str, Any]
            if takes_key:
                asked = {}  # a case command: its ledger record digests it
            elif params is not None:
                asked = params(**arguments)
            else:
                named = {field: arguments[field] for field in fields}
                body = arguments.get(BODY)
                if body is None and default_body is not None:
                    body = default_body()
                if isinstance(body, BaseModel):
                    named.update(body.model_dump())
                asked = named
            return respond(
                arguments["wired"],
                arguments["who"],
                key,
                command_name,
                asked,
                lambda: handler(**arguments),
                status=status,
                in_ledger=takes_key,
            )

        endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            parameters, return_annotation=Response
        )
        router.post(
            path,
            status_code=status,
            response_model=response_model,
            summary=summary,
            responses=dict(responses) if responses is not None else None,
        )(endpoint)
        return handler

    return register


def _optional_model(annotation: Any) -> type[BaseModel] | None:
    """``Model`` of a ``Model | None`` body annotation, else ``None``."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return None
    args = typing.get_args(annotation)
    if type(None) not in args:
        return None
    models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
    return models[0] if len(models) == 1 else None
