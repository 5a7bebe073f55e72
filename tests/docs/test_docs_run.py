"""The documents run as written: every ``sh`` block of docs/HTTP.md, KIOSK.md, ANCHORING.md and
ARCHIVE.md, in order, in one bash session in an empty directory, against the real
``caseledger serve`` and anchor node the blocks themselves start on loopback; each block must
exit 0 and print what the document shows after it (``tests/docs/runner.py`` has the
convention). So a document cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs.runner import failures, fenced_blocks, run_blocks, shell_blocks

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
RUNNABLE = ("HTTP.md", "KIOSK.md", "ANCHORING.md", "ARCHIVE.md")
SESSION_SECONDS = 900.0
CONVENTION = "runs as written"
"""Each runnable document says so before its first shell block, pointing to the convention."""


@pytest.mark.parametrize("doc", RUNNABLE)
def test_every_shell_block_runs_and_prints_what_the_document_shows(
    doc: str, tmp_path: Path
) -> None:
    blocks = shell_blocks((ROOT / "docs" / doc).read_text(encoding="utf-8"))
    assert blocks, f"docs/{doc} has no sh block"
    work = tmp_path / "work"
    work.mkdir()
    ran, problem = run_blocks(blocks, work, tmp_path / "session", timeout=SESSION_SECONDS)
    found = failures(f"docs/{doc}", ran, problem)
    assert not found, "\n\n".join(found)
    assert [r.status for r in ran] == [0] * len(blocks)


@pytest.mark.parametrize("doc", RUNNABLE)
def test_the_document_states_the_convention_and_marks_every_fence(doc: str) -> None:
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    first = shell_blocks(text)[0].line
    before = "\n".join(text.splitlines()[:first])
    assert CONVENTION in before and "tests/docs/runner.py" in before, f"docs/{doc}"
    assert fenced_blocks(text)  # raises on a fence without a language or never closed


_EARLY_EXIT = re.compile(r"\|\s*head\b")
"""A pipe into ``head`` stops reading early; under ``pipefail`` the writer's SIGPIPE (exit 141)
then fails the block whenever its output outgrows the pipe buffer — a flaky block. ``sed -n 1p``
reads everything and prints the same."""


@pytest.mark.parametrize("doc", RUNNABLE)
def test_no_block_pipes_into_a_reader_that_stops_early(doc: str) -> None:
    blocks = shell_blocks((ROOT / "docs" / doc).read_text(encoding="utf-8"))
    early = [f"docs/{doc} line {b.line}" for b in blocks if _EARLY_EXIT.search(b.text)]
    assert not early, f"use `sed -n 1p`, not `| head`: {early}"
