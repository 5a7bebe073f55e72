"""The endpoint table of docs/HTTP.md is the OpenAPI document's list of operations: every row
(method and path, path parameters named alike) is an operation of ``app.openapi()`` of the app
``caseledger serve`` builds, and every operation has its row."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.bootstrap import open_runtime
from api.serve.app import build_app
from api.settings import Settings
from ledger.storage.urls import parse_storage_url

ROOT = Path(__file__).resolve().parents[2]
_ROW = re.compile(r"^\| (GET|POST|PUT|PATCH|DELETE) \| (/\S*) \| .+ \|$")


def documented(markdown: str) -> list[tuple[str, str]]:
    """(method, path) of each row of the first table under "## Endpoints"."""
    section = markdown.split("\n## Endpoints\n", 1)[1].split("\n## ", 1)[0]
    rows: list[tuple[str, str]] = []
    in_table = False
    for line in section.splitlines():
        if line.startswith("| method |"):
            if in_table or rows:
                break  # the second table (pages) is not the OpenAPI document's
            in_table = True
            continue
        if in_table and line.startswith("|---"):
            continue
        if in_table and not line.startswith("|"):
            break
        if in_table:
            found = _ROW.match(line)
            assert found, f"docs/HTTP.md endpoint row not 'method | path | roles': {line!r}"
            rows.append((found.group(1), found.group(2)))
    return rows


@pytest.fixture(scope="module")
def operations(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("openapi")
    settings = Settings(
        parse_storage_url(f"sqlite:///{tmp / 'ledger.sqlite3'}"),
        tmp / "keys",
        "a passphrase for tests",
    )
    runtime = open_runtime(settings, migrate=True)
    try:
        document = build_app(runtime).openapi()
    finally:
        runtime.close()
    return {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}


def test_every_documented_endpoint_is_an_operation_with_the_same_parameters(
    operations: set[tuple[str, str]],
) -> None:
    rows = documented((ROOT / "docs" / "HTTP.md").read_text(encoding="utf-8"))
    assert len(rows) == len(set(rows)), "a row appears twice"
    assert [row for row in rows if row not in operations] == []


def test_every_operation_has_its_row(operations: set[tuple[str, str]]) -> None:
    rows = set(documented((ROOT / "docs" / "HTTP.md").read_text(encoding="utf-8")))
    assert sorted(operations - rows) == []


def test_the_table_reader_refuses_a_row_it_cannot_read() -> None:
    table = "\n## Endpoints\n\n| method | path | roles |\n|---|---|---|\n| GET /x | y |\n"
    with pytest.raises(AssertionError, match="endpoint row"):
        documented(table)
