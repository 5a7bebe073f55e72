"""A second opinion on a bag from the independent ``bagit`` package (Library of Congress).

Layer: projections, archive (edge: a third-party library, run in a bounded child process).
RFC 8493 validity as ``bagit.Bag.validate`` sees it, full and ``fast`` (Payload-Oxum only). It
is an extra check beside our own strict one (DESIGN "Chosen dependencies"), not a substitute:
``bagit`` passes a bag whose tag manifest was deleted, whose unlisted tag files were added,
whose payload was rewritten with every manifest recomputed, and — with ``fast`` — a same-size
edit; docs/ARCHIVE.md lists what each catches.

``bagit`` reads what it is given without limits (a 20 MB ``bag-info.txt`` line took it 90 s:
its tag parsing is quadratic in a line's length) and follows what the directory holds (a FIFO
among the payload would block it for ever). So the bag is handed over only after a walk of
its own — no symbolic link or special file, at most :data:`~projections.archive.layout.MAX_FILES`
files and :data:`~projections.archive.layout.MAX_TOTAL_BYTES` bytes, every tag file at most
:data:`~projections.archive.layout.MAX_TAG_FILE_BYTES` bytes, and the tag files ``bagit``
parses (``bagit.txt``, ``bag-info.txt``, ``fetch.txt``, the manifests) with lines of at most
:data:`MAX_TAG_LINE_BYTES` — and ``bagit`` then runs in a child process capped at
:data:`BAGIT_MEMORY_BYTES` of memory and :data:`BAGIT_CPU_SECONDS` of CPU
(:mod:`ledger.storage.bounded`). A bag beyond a limit gets no second opinion, and that counts
as a failed one (``ran`` false): fail safe.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ledger.storage.bounded import BoundedError, run_bounded
from projections.archive import layout

__all__ = ["MAX_TAG_LINE_BYTES", "SecondOpinion", "bagit_opinion", "refuse_reason"]

MAX_TAG_LINE_BYTES: Final = 64 * 1024
"""Longest line of a tag file handed to ``bagit`` (its parse is quadratic in it)."""
BAGIT_MEMORY_BYTES: Final = 512 * 1024 * 1024
BAGIT_CPU_SECONDS: Final = 300
BAGIT_WALL_SECONDS: Final = 600.0


@dataclass(frozen=True)
class SecondOpinion:
    """``bagit``'s verdict: full validation and fast (Payload-Oxum) validation. ``ran`` is
    false when the bag was beyond the limits it is handed over within (``detail`` says which);
    such a bag has no valid second opinion."""

    available: bool
    valid: bool
    fast_valid: bool
    detail: str
    ran: bool = True

    def as_json(self) -> dict[str, Any]:
        return {
            "tool": "bagit (Library of Congress, python)",
            "available": self.available,
            "ran": self.ran,
            "valid": self.valid,
            "fast_valid": self.fast_valid,
            "detail": self.detail,
        }


def _is_tag_file(rel: str) -> bool:
    return not rel.startswith(layout.PAYLOAD_DIR + "/")


def _parsed_by_bagit(rel: str) -> bool:
    """The tag files ``bagit`` parses line by line (the others it only hashes)."""
    return rel in ("bagit.txt", "bag-info.txt", "fetch.txt") or bool(
        re.fullmatch(r"(tag)?manifest-[a-z0-9]+\.txt", rel)
    )


def _long_line(path: Path) -> int | None:
    """The number of the first line longer than :data:`MAX_TAG_LINE_BYTES`, else None; read
    in blocks, so the check itself stays linear and small."""
    number, run = 1, 0
    with path.open("rb") as fh:
        while block := fh.read(1024 * 1024):
            start = 0
            while (end := block.find(b"\n", start)) >= 0:
                if run + end - start > MAX_TAG_LINE_BYTES:
                    return number
                number, run, start = number + 1, 0, end + 1
            run += len(block) - start
            if run > MAX_TAG_LINE_BYTES:
                return number
    return None


def refuse_reason(path: str | Path) -> str:
    """Why the bag at ``path`` is not handed to ``bagit`` (module docstring), or ""."""
    root = Path(path)
    files = total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            try:
                st = os.lstat(full)
            except OSError as exc:
                return f"{rel}: {exc.strerror or exc}"
            if stat.S_ISDIR(st.st_mode):
                continue
            if not stat.S_ISREG(st.st_mode):
                return f"{rel}: not a regular file ({stat.filemode(st.st_mode)})"
            files += 1
            total += st.st_size
            if files > layout.MAX_FILES:
                return f"more than {layout.MAX_FILES:,} files"
            if total > layout.MAX_TOTAL_BYTES:
                return f"more than {layout.MAX_TOTAL_BYTES:,} bytes"
            if _is_tag_file(rel) and st.st_size > layout.MAX_TAG_FILE_BYTES:
                limit = layout.MAX_TAG_FILE_BYTES
                return f"tag file {rel}: {st.st_size:,} bytes (limit {limit:,})"
            if _parsed_by_bagit(rel):
                try:
                    line = _long_line(full)
                except OSError as exc:
                    return f"{rel}: {exc.strerror or exc}"
                if line is not None:
                    return (
                        f"tag file {rel}: line {line} is longer than {MAX_TAG_LINE_BYTES:,} bytes"
                    )
    return ""


def _validate(path: str) -> list[list[Any]]:
    """Body of the bounded child: bagit's full and fast verdicts (JSON)."""
    import bagit

    logging.getLogger("bagit").setLevel(logging.CRITICAL)
    results: list[list[Any]] = []
    for fast in (False, True):
        try:
            bag = bagit.Bag(path)
            bag.validate(fast=fast)
            results.append([True, "valid"])
        except (bagit.BagError, OSError, ValueError, UnicodeError) as exc:
            results.append([False, " ".join(str(exc).split())[:300]])
    return results


def bagit_opinion(path: str | Path) -> SecondOpinion:
    """Validate ``path`` with ``bagit`` within the limits; never raises (a missing library,
    a bag beyond the limits and a run beyond its caps are reported)."""
    try:
        import bagit  # noqa: F401  (imported before the fork: the child starts with it)
    except ImportError:
        return SecondOpinion(False, False, False, "the bagit package is not installed")
    reason = refuse_reason(path)
    if reason:
        return SecondOpinion(True, False, False, f"not handed to bagit: {reason}", ran=False)
    try:
        results = run_bounded(
            _validate,
            str(path),
            memory_bytes=BAGIT_MEMORY_BYTES,
            cpu_seconds=BAGIT_CPU_SECONDS,
            wall_seconds=BAGIT_WALL_SECONDS,
            what="bagit",
        )
        (full, full_detail), (fast_ok, fast_detail) = results
    except (BoundedError, ValueError, TypeError) as exc:
        return SecondOpinion(True, False, False, f"bagit did not finish: {exc}", ran=False)
    detail = full_detail if full == fast_ok else f"full: {full_detail}; fast: {fast_detail}"
    return SecondOpinion(True, bool(full), bool(fast_ok), str(detail))
