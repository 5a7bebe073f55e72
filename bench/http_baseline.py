"""The baseline of bench/http.py: a trivial FastAPI app, one SQL statement per request.

Run by the benchmark as ``python -m uvicorn bench.http_baseline:app --workers W`` — the same
uvicorn settings as ``caseledger serve --workers W`` (httptools, uvloop where installed, no
access log) — with ``BENCH_BASELINE_DB`` naming the database (a ``?schema=`` is honoured).
``POST /v1/cases`` inserts the JSON body as one row (one transaction); ``GET /v1/cases/{id}``
reads one row by primary key (one transaction). No authentication, no validation beyond
JSON: what a request costs when the application does almost nothing.
"""

from __future__ import annotations

import os
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from fastapi import FastAPI, HTTPException
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

TABLE = "bench_baseline_cases"


def _conninfo(url: str) -> tuple[str, str]:
    """The URL without its ``?schema=`` and the schema (default ``public``)."""
    parts = urlsplit(url)
    schema = parse_qs(parts.query).get("schema", ["public"])[0]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), schema


_url, _schema = _conninfo(os.environ.get("BENCH_BASELINE_DB", "postgresql:///postgres"))
_pool = ConnectionPool(
    _url,
    min_size=1,
    max_size=8,
    kwargs={"autocommit": True, "options": f"-c search_path={_schema}"},
    open=True,
)
with _pool.connection() as _conn:
    _conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id uuid PRIMARY KEY, body jsonb NOT NULL)")

app = FastAPI()


@app.post("/v1/cases", status_code=201)
def submit(body: dict[str, Any]) -> dict[str, str]:
    case_id = uuid.uuid4()
    with _pool.connection() as conn:
        conn.execute(f"INSERT INTO {TABLE} (id, body) VALUES (%s, %s)", (case_id, Jsonb(body)))
    return {"id": str(case_id), "serial": str(case_id)}


@app.get("/v1/cases/{case_id}")
def read(case_id: uuid.UUID) -> dict[str, Any]:
    with _pool.connection() as conn:
        row = conn.execute(f"SELECT body FROM {TABLE} WHERE id = %s", (case_id,)).fetchone()
    if row is None:
        raise HTTPException(404)
    return {"id": str(case_id), "body": row[0]}
