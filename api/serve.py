"""``caseledger serve``: the HTTP API with its read-model workers, in one process.

Layer: api (composition for the HTTP process). Read models follow the log in a
background thread (woken by NOTIFY on PostgreSQL, polling on SQLite), a batch per
transaction; uvicorn
handles SIGTERM gracefully and the lifespan stops the workers. Nothing is lost
on restart: every view resumes from its tracked position.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI

from api.bootstrap import Runtime
from api.http.app import create_app
from api.http.context import ApiContext
from api.tokens import TokenStore
from projections.follower import BatchFollower
from projections.registry import VIEWS
from projections.runner import catch_up, open_view

log = logging.getLogger("caseledger.serve")

#: Router modules added by later capabilities: each exposes ``router`` (and may expose
#: ``install(ctx)`` to add services to the context).
ROUTER_MODULES = (
    "api.http.routes_cases",
    "api.http.routes_domain",
    "api.http.routes_anchoring",
    "api.http.routes_supervision",
    "api.http.routes_reads",
    "api.http.routes_archive",
    "kiosk.routes",
)

#: Background workers added by later capabilities: ``module:function(ctx) -> stop()``.
WORKER_FACTORIES = ("api.serve_anchoring:start_anchoring",)


def build_context(runtime: Runtime) -> ApiContext:
    tokens = TokenStore(runtime.settings.storage)
    tokens.migrate()
    ctx = ApiContext(runtime=runtime, tokens=tokens)
    for cls in VIEWS:
        view = open_view(cls, runtime.settings.storage)
        catch_up(view, runtime.ledger)
        ctx.views[cls.name] = view
    routers = []
    for name in ROUTER_MODULES:
        module = _optional(name)
        if module is None:
            continue
        if hasattr(module, "install"):
            module.install(ctx)
        routers.append(module.router)
    ctx.services["routers"] = routers
    return ctx


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


def build_app(runtime: Runtime) -> FastAPI:
    ctx = build_context(runtime)
    app = create_app(ctx)
    stops: list[Callable[[], None]] = []

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        follower = BatchFollower(list(ctx.views.values()), runtime.ledger).start()
        stops.append(follower.stop)
        for spec in WORKER_FACTORIES:
            module_name, _, function = spec.partition(":")
            module = _optional(module_name)
            if module is not None and hasattr(module, function):
                stops.append(getattr(module, function)(ctx))
        log.info("serving with %d read models following the log", len(ctx.views))
        try:
            yield
        finally:
            for stop in reversed(stops):
                with contextlib.suppress(Exception):
                    stop()
            runtime.close()

    app.router.lifespan_context = lifespan
    return app


def run(runtime: Runtime, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(build_app(runtime), host=host, port=port, log_level="info", access_log=False)
