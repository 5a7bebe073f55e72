"""Error root of the archive package (api layer).

Every error raised while building, reading or checking an archive package derives from
:class:`ArchiveError`; a parser of package files never lets a stray ``ValueError`` or
``KeyError`` out (STYLE habit 6).
"""

from __future__ import annotations

__all__ = ["ArchiveError", "BuildError", "PackageError"]


class ArchiveError(Exception):
    """Root of every error of ``projections.archive``."""


class PackageError(ArchiveError):
    """A package file is malformed, too large, or not what the layout says (untrusted input)."""


class BuildError(ArchiveError):
    """A package could not be built (nothing anchored, a material missing, target not empty)."""
