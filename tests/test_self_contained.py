"""The repository is self-contained: nothing in it reads the team's shared folder (``shared/``
beside the clone, or its absolute path) at run or test time, and the conformance vectors it
tests against are its own (``tests/vectors/``, each directory with its provenance README)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = "shared"
OUTSIDE = re.compile(
    r"(\.\./" + SHARED + r"\b"  # dot-dot, slash, the folder
    r"|/work/" + SHARED + r"\b"  # the absolute path of the team's folder
    r"|[\"']\.\.[\"']\s*/\s*[\"']" + SHARED + r"[\"'])"  # Path(...) / ".." / "shared"
)
TEXT_SUFFIXES = {".py", ".md", ".toml", ".cfg", ".ini", ".txt", ".sh", ".json", ""}


def repository_files() -> list[Path]:
    """The tracked files (a git checkout), else every file under the root but .venv/var."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
        ).stdout.decode()
        return [ROOT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        skipped = {".venv", "var", ".git"}
        return [
            p
            for p in ROOT.rglob("*")
            if p.is_file() and not skipped & set(p.relative_to(ROOT).parts)
        ]


def test_nothing_in_the_repository_reads_the_shared_folder() -> None:
    found = []
    for path in repository_files():
        if path.suffix not in TEXT_SUFFIXES or not path.is_file() or path == Path(__file__):
            continue  # (this file's own examples below are what the pattern must find)
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []


def test_the_pattern_finds_what_it_is_for() -> None:
    # The samples are assembled from parts, so this file itself holds none of them.
    for line in (
        'VECTORS = Path(__file__).parents[2] / ".." / "' + SHARED + '" / "vectors"',
        "cat ../" + SHARED + "/vectors/merkle/README.md",
        "open('/work/" + SHARED + "/RULES.md')",
    ):
        assert OUTSIDE.search(line), line
    assert not OUTSIDE.search("a lock shared by the workers; shared_node fixture")


def test_the_conformance_vectors_are_in_the_repository_with_their_provenance() -> None:
    vectors = ROOT / "tests" / "vectors"
    for kind in ("merkle", "note"):
        assert (vectors / kind / "README.md").is_file(), kind
        assert sum(1 for p in (vectors / kind).rglob("*") if p.is_file()) > 10, kind
