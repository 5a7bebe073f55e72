"""A second opinion on a bag from the independent ``bagit`` package (Library of Congress).

Layer: projections, archive (edge: a third-party library). RFC 8493 validity as
``bagit.Bag.validate`` sees it, full and ``fast`` (Payload-Oxum only). It is an extra check beside
our own strict one (DESIGN "Chosen dependencies"), not a substitute: ``bagit`` passes a bag whose
tag manifest was deleted, whose unlisted tag files were added, whose payload was rewritten with
every manifest recomputed, and — with ``fast`` — a same-size edit; docs/ARCHIVE.md lists what each
catches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SecondOpinion", "bagit_opinion"]


@dataclass(frozen=True)
class SecondOpinion:
    """``bagit``'s verdict: full validation and fast (Payload-Oxum) validation."""

    available: bool
    valid: bool
    fast_valid: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {
            "tool": "bagit (Library of Congress, python)",
            "available": self.available,
            "valid": self.valid,
            "fast_valid": self.fast_valid,
            "detail": self.detail,
        }


def bagit_opinion(path: str | Path) -> SecondOpinion:
    """Validate ``path`` with ``bagit``; never raises (a missing library is reported)."""
    try:
        import bagit
    except ImportError:
        return SecondOpinion(False, False, False, "the bagit package is not installed")
    logger = logging.getLogger("bagit")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        results = []
        for fast in (False, True):
            try:
                bag = bagit.Bag(str(path))
                bag.validate(fast=fast)
                results.append((True, "valid"))
            except (bagit.BagError, OSError, ValueError, UnicodeError) as exc:
                results.append((False, " ".join(str(exc).split())[:300]))
    finally:
        logger.setLevel(level)
    (full, full_detail), (fast_ok, fast_detail) = results
    detail = full_detail if full == fast_ok else f"full: {full_detail}; fast: {fast_detail}"
    return SecondOpinion(True, full, fast_ok, detail)
