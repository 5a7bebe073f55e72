"""Archivist endpoints: build and download a case's archive package, check it, list the archive.

Layer: api (HTTP). Roles archivist (and admin). RULES.md "Archiving" (NH·22, FZ·21, GZ20·24):

- ``POST /v1/archive/packages/{serial}`` builds the package of an ended case (an open case is a
  422 rule violation citing NH·22, FZ·21, GZ20·24), records the transfer in the ledger signed by
  the platform key with the caller as archivist, anchors it, checks the package, and keeps it
  under the server's archive directory;
- ``GET /v1/archive/packages/{serial}`` downloads the latest package as a ZIP of the bag;
- ``GET /v1/archive/packages/{serial}/check`` re-runs the four-property check (DA/T 70-2018);
- ``GET /v1/archive/index`` lists archived cases with retention and payload digest.

The anchor node is ``$CASELEDGER_NODE`` (default ``http://127.0.0.1:8700``); when it cannot be
reached the build answers 503.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import shutil
import threading
import zipfile
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.http.context import ApiContext
from api.http.deps import Ctx, require
from api.http.problems import Problem
from api.tokens import Principal, Role

router = APIRouter(prefix="/v1/archive", tags=["archive"])
Archivist = Annotated[Principal, Depends(require(Role.ARCHIVIST))]
SERIAL: Final = re.compile(r"[0-9A-Za-z-]{1,64}")
ARCHIVE_DIR_ENV: Final = "CASELEDGER_ARCHIVE_DIR"
_lock = threading.Lock()
_NOT_BUILT: Final[dict[int | str, dict[str, Any]]] = {
    404: {"description": "No package of this case was built here."},
    422: {"description": "The serial is not 1–64 of 0-9, A-Z, a-z, '-'."},
}


def archive_root(ctx: ApiContext) -> Path:
    """Where built packages are kept: ``$CASELEDGER_ARCHIVE_DIR``, else beside the SQLite
    ledger (``<ledger>.archive``), else ``var/archive``."""
    configured = os.environ.get(ARCHIVE_DIR_ENV)
    if configured:
        return Path(configured)
    storage = ctx.runtime.settings.storage
    if storage.is_sqlite:
        ledger = Path(storage.path)
        return ledger.with_name(ledger.name + ".archive")
    return Path("var") / "archive"


def _service(ctx: ApiContext) -> Any:
    """The archive service of this process (built on first use)."""
    found = ctx.services.get("archive")
    if found is not None:
        return found
    from anchors.node.client import NodeClient
    from anchors.worker import AnchoringWorker, open_ledger_anchors
    from api.anchoring import node_url
    from api.services import build_archive_service

    runtime = ctx.runtime
    anchors = open_ledger_anchors(
        runtime.ledger, runtime.settings.storage, runtime.keystore, runtime.platform_signer()
    )
    worker = AnchoringWorker(anchors, NodeClient(node_url(None)))
    service = build_archive_service(runtime, worker)
    ctx.services["archive"] = service
    return service


def _serial(serial: str) -> str:
    if not SERIAL.fullmatch(serial):
        raise Problem(
            422, "Validation error", "serial: 1–64 of 0-9, A-Z, a-z, '-'", code="validation"
        )
    return serial


def _latest(ctx: ApiContext, serial: str) -> Path:
    folder = archive_root(ctx) / serial
    built = sorted(p for p in folder.glob("*") if p.is_dir() and not p.name.startswith("."))
    if not built:
        raise Problem(404, "Not found", f"no package of {serial} was built here", code="not-found")
    return max(built, key=lambda p: p.stat().st_mtime)


@router.post(
    "/packages/{serial}",
    status_code=201,
    summary="Build and transfer a package",
    responses={
        404: {"description": "No case has this serial."},
        409: {"description": "The package cannot be built (archive or anchoring refused)."},
        422: {"description": "The case has not ended (NH·22, FZ·21, GZ20·24), or a bad serial."},
        503: {"description": "The anchor node cannot be reached."},
    },
)
def build(ctx: Ctx, who: Archivist, serial: str) -> dict[str, Any]:
    from anchors.errors import AnchorError, NodeUnavailable
    from ledger.services.cases import NotFound
    from projections.archive.errors import ArchiveError

    serial = _serial(serial)
    try:
        result, final = build_and_keep(
            ctx, serial, archivist=f"{who.role.value}:{who.name or who.token_id}"
        )
    except NotFound as exc:
        raise Problem(404, "Not found", str(exc), code="not-found") from None
    except NodeUnavailable as exc:
        raise Problem(503, "Anchor node unavailable", str(exc), code="node-unavailable") from None
    except (ArchiveError, AnchorError) as exc:
        raise Problem(409, "Cannot build", str(exc), code="archive-build") from None
    body = result.as_json()
    body["path"] = str(final)
    body["download"] = f"/v1/archive/packages/{serial}"
    return body


def build_and_keep(ctx: ApiContext, serial: str, *, archivist: str) -> tuple[Any, Path]:
    """Build, transfer and check the package of ``serial`` signed by the platform key, and keep
    it under :func:`archive_root` named by its payload digest; returns the build result and the
    kept folder. Used by the archivist's endpoint and by the automatic archiver
    (:mod:`api.serve.archiving`); raises what ``ArchiveService.build`` raises."""
    with _lock:  # one build at a time per process: transfers and anchoring rounds serialise
        service = _service(ctx)
        root = archive_root(ctx) / serial
        target = root / f".build-{secrets.token_hex(6)}"
        result = service.build(
            serial, target, archivist=archivist, signer=ctx.runtime.platform_signer()
        )
        final = root / result.payload_digest.hex()[:16]
        if result.path != final:
            if final.exists():  # the same payload was built before: keep the first
                shutil.rmtree(result.path, ignore_errors=True)
            else:
                os.rename(result.path, final)
    return result, final


@router.get(
    "/packages/{serial}",
    summary="Download the latest package as a ZIP of the bag",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}, **_NOT_BUILT},
)
def download(ctx: Ctx, _: Archivist, serial: str) -> Response:
    bag = _latest(ctx, _serial(serial))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in bag.rglob("*") if p.is_file() and not p.is_symlink()):
            archive.write(path, f"{serial}/{path.relative_to(bag).as_posix()}")
    return Response(
        buffer.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="archive-{serial}.zip"'},
    )


@router.get(
    "/packages/{serial}/check",
    summary="The four-property check of the latest package",
    responses=_NOT_BUILT,
)
def check(ctx: Ctx, _: Archivist, serial: str) -> dict[str, Any]:
    from projections.archive.checker import check_package

    report = check_package(_latest(ctx, _serial(serial)))
    value: dict[str, Any] = report.as_json()
    value["package"] = serial
    return value


@router.get("/index", summary="Archived cases with their retention and payload digest")
def index(
    ctx: Ctx,
    _: Archivist,
    retention: Annotated[str | None, Query(pattern="^(Y|D30|D10)$")] = None,
    after: Annotated[str, Query(max_length=64, pattern="^[0-9A-Za-z-]*$")] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    from projections.archive_index import ArchiveIndexView, archived_cases
    from projections.runner import catch_up, open_view

    view: Any = ctx.views.get(ArchiveIndexView.name)
    if view is None:  # not registered to follow the log: bring an own copy up to date
        view = ctx.services.get("archive_index_view")
        if view is None:
            view = open_view(ArchiveIndexView, ctx.runtime.settings.storage)
            ctx.services["archive_index_view"] = view
        catch_up(view, ctx.runtime.ledger)
    return archived_cases(view, retention=retention, limit=limit, after=after)
