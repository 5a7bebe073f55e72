"""``archive check`` on hostile packages (issue 15): active content hidden in a compressed
object stream is found, with every manifest recomputed; a bag-info line that would take the
``bagit`` second opinion minutes, or a FIFO that would block it for ever, gets no second
opinion and fails the check at once; the whole command stays within a generous memory bound."""

from __future__ import annotations

import os
from pathlib import Path

from api.cli.main import main
from projections.archive.checker import check_package
from projections.archive.second_opinion import MAX_TAG_LINE_BYTES, bagit_opinion
from tests import hostile_files as h
from tests.api.conftest import ROOT
from tests.archive.damage import copy, first, recompute


def test_javascript_in_an_object_stream_is_found_with_every_manifest_recomputed(
    package: Path, tmp_path: Path
) -> None:
    bag = copy(package, tmp_path / "bag")
    first(bag, "data/materials/*.pdf").write_bytes(h.javascript_in_object_stream_pdf())
    recompute(bag)
    report = check_package(bag)
    assert "content.active" in report.failed
    (problem,) = report.item("content.active").problems
    assert "PDF holds active content: /JS, /JavaScript" in problem
    opinion = bagit_opinion(bag)
    assert opinion.ran and opinion.valid  # bagit sees only consistent checksums


def test_a_long_bag_info_line_is_not_handed_to_bagit(package: Path, tmp_path: Path) -> None:
    bag = copy(package, tmp_path / "bag")
    info = bag / "bag-info.txt"
    long_line = b"External-Description: " + b"x" * (MAX_TAG_LINE_BYTES + 1) + b"\n"
    info.write_bytes(info.read_bytes() + long_line)
    recompute(bag)
    opinion = bagit_opinion(bag)
    assert opinion.available and not opinion.ran and not opinion.valid
    assert "bag-info.txt: line" in opinion.detail and "65,536" in opinion.detail


def test_a_twenty_megabyte_line_is_answered_at_once_and_within_memory(tmp_path: Path) -> None:
    bag = h.long_line_bag(tmp_path / "bag")
    run = h.measured_cli(
        ["archive", "check", str(bag)], tree=ROOT, timeout=120, address_space=4 * 2**30
    )
    assert run.returncode == 1 and not run.timed_out
    assert "second opinion (bagit): NOT RUN" in run.stdout
    assert run.peak_rss_mb < 500, run.peak_rss_mb


def test_a_fifo_in_the_payload_does_not_block_the_second_opinion(
    package: Path, tmp_path: Path
) -> None:
    bag = copy(package, tmp_path / "bag")
    os.mkfifo(bag / "data" / "pipe.pdf")
    opinion = bagit_opinion(bag)
    assert not opinion.ran and "data/pipe.pdf: not a regular file" in opinion.detail
    assert main(["archive", "check", str(bag)]) == 1
