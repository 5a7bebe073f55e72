"""``caseledger kiosk verify`` on the worst files we could construct (issue 15): each is
refused with exit 2 and one line, or read within the decoders' caps — the peak memory of the
whole command stays under a generous bound — and a genuine claim in anything but its one byte
form does not verify."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import cbor2
import pytest

from kiosk.claims import encode_qr_text
from tests import hostile_files as h
from tests.api.conftest import ROOT

PEAK_MB = 500
"""What a refused input may cost the whole command (it cost 4 980 MB before the limits)."""
SANDBOX_PEAK_MB = 1_000
"""What an input that reaches a decoder may cost: the process plus the child's 768 MiB cap."""


def verify(tmp: Path, target: str, *extra: str, stdin: bytes | None = None) -> h.Measured:
    policy, _ = h.policy_and_claim(tmp)
    return h.measured_cli(
        ["kiosk", "verify", target, "--policy", str(policy), *extra],
        tree=ROOT,
        timeout=180,
        address_space=6 * 2**30,
        stdin=stdin,
    )


def file_of(tmp: Path, name: str, data: bytes) -> str:
    path = tmp / name
    path.write_bytes(data)
    return str(path)


def refused(run: h.Measured, *needles: str) -> None:
    """Exit 2, nothing on stdout, exactly one line on stderr holding every needle."""
    assert run.returncode == 2, (run.returncode, run.stdout, run.stderr)
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("caseledger kiosk verify: "), run.stderr
    for needle in needles:
        assert needle in lines[0]
    assert run.peak_rss_mb < PEAK_MB, run.peak_rss_mb


def test_a_page_of_14400_points_is_refused_before_it_is_rendered(tmp_path: Path) -> None:
    run = verify(tmp_path, file_of(tmp_path, "huge.pdf", h.huge_page_pdf()))
    refused(run, "PDF page 1 is 14,400 × 14,400 pt", "1,800 pt")


def test_a_pdf_of_too_many_pages_is_refused(tmp_path: Path) -> None:
    refused(
        verify(tmp_path, file_of(tmp_path, "pages.pdf", h.many_pages_pdf(5_000))),
        "PDF of 5,000 pages",
    )


def test_an_image_bomb_on_an_a4_page_is_refused_by_its_declared_pixels(tmp_path: Path) -> None:
    run = verify(tmp_path, file_of(tmp_path, "image.pdf", h.image_bomb_pdf(12_000)))
    refused(run, "draws images of more than 100,000,000 pixels", "12,000 × 12,000")


def test_a_soft_mask_bomb_stays_within_the_decoders_cap(tmp_path: Path) -> None:
    run = verify(tmp_path, file_of(tmp_path, "smask.pdf", h.smask_bomb_pdf(40_000)))
    assert run.returncode in (1, 2) and "Traceback" not in run.stderr
    assert run.peak_rss_mb < SANDBOX_PEAK_MB, run.peak_rss_mb


@pytest.mark.parametrize(
    ("name", "make"),
    [("bomb.png", lambda: h.png_bomb(20_000)), ("bomb.jpg", h.huge_jpeg_header)],
)
def test_pixel_bombs_are_refused_by_their_declared_size(
    tmp_path: Path, name: str, make: Callable[[], bytes]
) -> None:
    run = verify(tmp_path, file_of(tmp_path, name, make()))
    refused(run, "image larger than 60,000,000 pixels")


@pytest.mark.parametrize("length", [1_601, 5_000])
def test_long_qr_text_is_refused_in_one_line_not_tried_as_a_file(
    tmp_path: Path, length: int
) -> None:
    run = verify(tmp_path, "CL1:" + "A" * length)
    refused(run, f"QR text of {length + 4:,} characters", "at most 1,600")
    assert "Traceback" not in run.stderr and "File name too long" not in run.stderr


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("CL1:abc", "outside the Base45 alphabet"),
        ("CL1:AB\tC", "outside the Base45 alphabet"),
        ("HC1:ABC", "no such file, and not QR text starting with CL1:"),
    ],
)
def test_odd_qr_text_is_refused_in_one_line(tmp_path: Path, text: str, needle: str) -> None:
    refused(verify(tmp_path, text), needle)


def test_text_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    refused(verify(tmp_path, file_of(tmp_path, "odd.txt", b"CL1:\xff\xfe")), "not a PDF")
    refused(verify(tmp_path, "-", stdin=b"CL1:ABC\x00"), "outside the Base45 alphabet")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "printout.pdf"
    os.mkfifo(fifo)
    refused(verify(tmp_path, str(fifo)), "not a regular file")


def _genuine(tmp: Path) -> bytes:
    return h.policy_and_claim(tmp)[1]


def test_the_genuine_claim_verifies(tmp_path: Path) -> None:
    run = verify(tmp_path, encode_qr_text(_genuine(tmp_path)))
    assert run.returncode == 0 and run.stdout.startswith("VALID printout (text)"), run.stdout


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda c: c + b"\x00", "1 bytes after the CBOR item"),
        (lambda c: b"\xd8\x12" + c[1:], "not in its shortest form"),  # tag 18 in two bytes
        (lambda c: c[1:], "expected tag 18"),  # untagged
        (lambda c: b"\xd9\xd9\xf7" + c, "a tag"),  # self-described CBOR around it
    ],
)
def test_the_genuine_claim_in_another_byte_form_does_not_verify(
    tmp_path: Path, mutate: object, needle: str
) -> None:
    cose = mutate(_genuine(tmp_path))  # type: ignore[operator]
    run = verify(tmp_path, encode_qr_text(cose))
    assert run.returncode == 1 and run.stdout.startswith("INVALID printout (text)"), run.stdout
    assert "failed check: format:" in run.stdout and needle in run.stdout


def test_a_longer_signature_head_is_refused_even_with_the_same_content(tmp_path: Path) -> None:
    cose = _genuine(tmp_path)
    signature = cbor2.loads(cose).value[3]
    head = bytes([0x58, 64])  # the shortest head of a 64-byte string
    assert cose.endswith(head + signature)
    longer = cose[: -len(head + signature)] + b"\x59\x00\x40" + signature
    assert cbor2.loads(longer).value[3] == signature  # a lenient decoder sees the same
    run = verify(tmp_path, encode_qr_text(longer))
    assert run.returncode == 1 and "not in its shortest form" in run.stdout
