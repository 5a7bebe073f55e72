"""Fixtures of the archive tests: one anchored world with a case on every lifecycle path, and
its packages, built once per session (everything real: SQLite ledger, node process, files)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from projections.archive.service import BuildResult
from tests.anchors.processes import NodeProcess
from tests.archive.world import ArchiveWorld, build_archive_world


@pytest.fixture(scope="session")
def archive_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    with NodeProcess(tmp_path_factory.mktemp("archive-node")).start() as node:
        yield node


@pytest.fixture(scope="session")
def aworld(
    tmp_path_factory: pytest.TempPathFactory, archive_node: NodeProcess
) -> Iterator[ArchiveWorld]:
    tmp = tmp_path_factory.mktemp("archive-world")
    with closing(
        build_archive_world(f"sqlite:///{tmp / 'ledger.sqlite3'}", tmp, archive_node.url)
    ) as found:
        yield found


@pytest.fixture(scope="session")
def packages(
    aworld: ArchiveWorld, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, BuildResult]:
    """The package of every path's case, keyed by path name."""
    root = tmp_path_factory.mktemp("packages")
    return {name: aworld.build(serial, root / name) for name, serial in aworld.paths.items()}


@pytest.fixture
def package(packages: dict[str, BuildResult]) -> Path:
    """The e-certificate case's package (the richest: every kind of file)."""
    return packages["e_certificate_two_versions"].path
