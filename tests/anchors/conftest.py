"""Helpers for the anchors tests: where the conformance vectors live.

The vectors are part of the repository (``tests/vectors/``, each directory's README names its
upstream source and commit), found relative to this file: nothing outside the checkout is read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def vectors_dir(*parts: str) -> Path:
    """The vectors directory (or a path inside it); fails loudly if it is missing."""
    base = _VECTORS.resolve()
    if not base.is_dir():
        raise FileNotFoundError(f"conformance vectors not found at {base}")
    return base.joinpath(*parts)


def vector_files(kind: str) -> set[str]:
    """Every data file under vectors/<kind>, relative to it (READMEs are documentation)."""
    root = vectors_dir(kind)
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith("README")
    }


@pytest.fixture
def vectors() -> Path:
    return vectors_dir()
