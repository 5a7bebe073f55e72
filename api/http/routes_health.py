"""Liveness, readiness and Prometheus metrics.

Layer: api (HTTP). Unauthenticated: they reveal no case data. ``/readyz`` answers 503 with
the reason when a read model no longer matches the log (``projections.verify``: its seal, or
the alarm the last comparison with a rebuild recorded), so a tampered view is taken out of
service instead of being served silently; the findings name views, checks, positions and row
counts, never row contents.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.http.context import ApiContext
from api.http.deps import Ctx
from projections.archive_index import archive_lag
from projections.runner import status
from projections.verify import ViewWatch

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def view_watch(ctx: ApiContext) -> ViewWatch:
    """The process's seal check of its views (one per context, made on first use)."""
    watch = ctx.services.get("view_watch")
    if watch is None:
        made = ViewWatch(list(ctx.views.values()), ctx.runtime.ledger)
        watch = ctx.services.setdefault("view_watch", made)
    return watch


@router.get(
    "/readyz",
    summary="The ledger answers, holds the newest known head, and the read models are following "
    "and match the log",
)
def readyz(ctx: Ctx) -> JSONResponse:
    try:
        head = ctx.runtime.ledger.chain.chain_head()
    except Exception:
        return JSONResponse({"status": "unavailable", "reason": "ledger"}, status_code=503)
    lags = {s.name: s.lag for s in status(list(ctx.views.values()), ctx.runtime.ledger)}
    size = head.sequence if head else 0
    faults = ctx.runtime.guard.faults
    if faults:  # fail closed: reads go on, writes are refused (ledger.services.guard)
        return JSONResponse(
            {
                "status": "read-only",
                "reason": faults[0].code,
                "detail": faults[0].detail,
                "faults": [f.as_json_value() for f in faults],
                "chain_head": size,
            },
            status_code=503,
        )
    try:
        alarms = view_watch(ctx).findings()
    except Exception:
        return JSONResponse({"status": "unavailable", "reason": "views"}, status_code=503)
    if alarms:
        return JSONResponse(
            {
                "status": "unavailable",
                "reason": "views",
                "detail": "a read model no longer matches the log: "
                + "; ".join(f.line() for f in alarms),
                "alarms": [f.as_json() for f in alarms],
            },
            status_code=503,
        )
    worker = ctx.services.get("anchoring")
    anchoring: dict[str, object] = {"configured": worker is not None}
    if worker is not None:
        anchoring.update(
            anchored_size=worker.anchored_size,
            lag_entries=max(0, size - worker.anchored_size),
            last_error=worker.last_error or None,
        )
    return JSONResponse(
        {
            "status": "ready",
            "chain_head": size,
            "view_lag": lags,
            "anchoring": anchoring,
            "archiving": archiving_lag(ctx),
        }
    )


def archiving_lag(ctx: ApiContext) -> dict[str, object] | None:
    """Automatic archiving (NH·22, FZ·21): ended cases not yet archived and the oldest one's
    age in seconds, whether this server archives them, and its last error."""
    view = ctx.views.get("archive_index")
    if view is None:
        return None
    lag = archive_lag(view)
    age = lag.oldest_age_seconds(dt.datetime.now(dt.UTC))
    archiver = ctx.services.get("auto_archive")
    return {
        "automatic": archiver is not None,
        "waiting": lag.waiting,
        "oldest_age_seconds": None if age is None else round(age, 1),
        "retrying": 0 if archiver is None else archiver.retrying,
        "last_error": None if archiver is None else archiver.last_error or None,
    }


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(ctx: Ctx) -> Response:
    head = ctx.runtime.ledger.chain.chain_head()
    ctx.metrics.chain_head.set(head.sequence if head else 0)
    for s in status(list(ctx.views.values()), ctx.runtime.ledger):
        ctx.metrics.view_lag.labels(s.name).set(s.lag)
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
