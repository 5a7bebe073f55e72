"""Active content where the applicant's material first arrives (GZ20·10, GZ20·25): scripts,
actions and embedded files are found inside compressed object streams too, by a real PDF
parser, within bounds; such an upload is refused naming the field ``file`` and stores nothing,
on a directory and on PostgreSQL; clean PDFs pass."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import psycopg
import pytest

from ledger.domain.rules import ActiveContentRefused
from ledger.storage.active_content import MAX_PDF_OBJECTS, active_content, pdf_active_names
from ledger.storage.bounded import Exceeded, Failed, run_bounded
from ledger.storage.materials import (
    BlobStore,
    DirectoryBlobStore,
    check_material,
)
from tests import hostile_files as h

HIDDEN = {
    "JavaScript in a FlateDecode object stream": h.javascript_in_object_stream_pdf(),
    "its names #-escaped as well": h.javascript_in_object_stream_pdf(hex_escaped=True),
    "behind ASCIIHex and Flate": h.javascript_in_object_stream_pdf(
        filters=(b"/ASCIIHexDecode", b"/FlateDecode")
    ),
    "a page's additional action": h.javascript_in_object_stream_pdf(
        open_action=False,
        page_extra=b"/AA << /O 4 0 R >> ",
        action=b"<< /S /GoTo /D [3 0 R /Fit] >>",
    ),
    "a Launch action": h.javascript_in_object_stream_pdf(action=b"<< /S /Launch /F (c.exe) >>"),
    "an embedded file": h.javascript_in_object_stream_pdf(
        open_action=False,
        action=b"<< /Type /EmbeddedFile /Length 0 >>",
    ),
    "XFA forms": h.javascript_in_object_stream_pdf(
        open_action=False, action=b"<< /Fields [] /XFA 3 0 R >>"
    ),
}


def _clean_pdf() -> bytes:
    """A real, compressed PDF with text and a drawing (fpdf2), as a scanner or editor
    would produce."""
    from fpdf import FPDF

    doc = FPDF()
    doc.set_compression(True)
    doc.add_page()
    doc.set_font("helvetica", size=12)
    doc.cell(text="Application form: JavaScript is a word here, not a name.")
    doc.line(10, 30, 100, 30)
    return bytes(doc.output())


@pytest.mark.parametrize("data", HIDDEN.values(), ids=HIDDEN.keys())
def test_active_content_hidden_in_object_streams_is_found(data: bytes) -> None:
    assert b"JavaScript" not in data and b"Launch" not in data  # nothing in the raw bytes
    (problem,) = active_content("application/pdf", data)
    assert problem.startswith("PDF holds active content: /")


@pytest.mark.parametrize("data", HIDDEN.values(), ids=HIDDEN.keys())
def test_such_an_upload_is_refused_naming_the_field_file(data: bytes) -> None:
    with pytest.raises(ActiveContentRefused) as refused:
        check_material(data, "application/pdf")
    assert refused.value.field == "file" and refused.value.rule == "GZ20·10, GZ20·25"
    assert refused.value.code == "active-content" and "active content" in str(refused.value)


def test_a_plain_go_to_open_action_and_clean_pdfs_pass() -> None:
    goto = h.javascript_in_object_stream_pdf(action=b"<< /S /GoTo /D [3 0 R /Fit] >>")
    for data in (goto, _clean_pdf(), h.huge_page_pdf(), b"%PDF-1.7\n% no objects\n%%EOF"):
        assert active_content("application/pdf", data) == []
        check_material(data, "application/pdf")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (h.flate_bomb_pdf(256 * 1024 * 1024), "LimitReachedError"),
        (h.flate_bomb_pdf(60_000_000, streams=3), "object streams inflate beyond"),
        (h.needing_the_parser(h.many_objects_pdf(MAX_PDF_OBJECTS + 1)), "at most 200,000"),
        (h.needing_the_parser(h.deep_nesting_pdf()), "PdfReadError"),
        (b"%PDF-1.7\n1 0 obj << /Type /ObjStm /Length 3 >> stream\nabc\nendstream", "cannot read"),
    ],
    ids=["one bomb", "three bombs", "too many objects", "deep nesting", "no structure"],
)
def test_what_cannot_be_inspected_within_bounds_is_refused(data: bytes, needle: str) -> None:
    (problem,) = active_content("application/pdf", data)
    assert problem.startswith("PDF cannot be inspected for active content:") and needle in problem
    with pytest.raises(ActiveContentRefused):
        check_material(data, "application/pdf")


def test_the_raw_scan_still_finds_names_outside_any_stream() -> None:
    names, problem = pdf_active_names(b"%PDF-1.4\n1 0 obj << /S /Launch >> endobj\n%%EOF")
    assert names == ["/Launch"] and problem == ""


def test_a_pdf_without_object_streams_is_judged_by_its_raw_bytes_alone() -> None:
    """Compressed objects are reachable only through a cross-reference stream: without
    ``/ObjStm`` or ``/XRef`` every object is in the raw bytes, and no parse is needed (nor
    any bound on one: a million objects and deep nesting pass when nothing is active)."""
    for data in (h.many_objects_pdf(MAX_PDF_OBJECTS + 1), h.deep_nesting_pdf(), _clean_pdf()):
        assert pdf_active_names(data) == ([], "")
    escaped = b"%PDF-1.4\n1 0 obj << /Type /Obj#53tm /Length 1 >> stream\nx\nendstream"
    assert "cannot read" in pdf_active_names(escaped)[1]  # still handed to the parser


def test_an_ofd_with_a_macro_project_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("OFD.xml", "<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'/>")
        archive.writestr("Doc_0/vbaProject.bin", b"\x00")
    with pytest.raises(ActiveContentRefused, match=r"vbaProject\.bin"):
        check_material(buffer.getvalue(), "application/ofd")


def test_a_refused_upload_stores_nothing(blob_store: BlobStore, tmp_path: Path) -> None:
    data = HIDDEN["JavaScript in a FlateDecode object stream"]
    with pytest.raises(ActiveContentRefused):
        blob_store.put(data, "application/pdf")
    assert blob_store.missing([hashlib.sha256(data).digest()])
    if isinstance(blob_store, DirectoryBlobStore):
        assert not any(p.is_file() for p in (tmp_path / "blobs").rglob("*"))
    else:
        with psycopg.connect(blob_store.conninfo) as conn:
            (count,) = conn.execute(
                f'SELECT COUNT(*) FROM "{blob_store.schema}".material_blobs'
            ).fetchone()  # type: ignore[misc]
        assert count == 0


# --- the bounded child ------------------------------------------------------------------------


def _allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


def _spin() -> None:
    while True:
        pass


def _sleep() -> None:
    import time

    time.sleep(60)


def _fail() -> None:
    raise ValueError("a decoder's own error")


def test_a_bounded_call_returns_its_json_value() -> None:
    assert run_bounded(_allocate, 8, memory_bytes=64 << 20, cpu_seconds=5, wall_seconds=20) == (
        8 << 20
    )


def test_a_bounded_call_beyond_its_memory_is_stopped() -> None:
    with pytest.raises(Exceeded, match="64 MiB"):
        run_bounded(_allocate, 512, memory_bytes=64 << 20, cpu_seconds=5, wall_seconds=20)


def test_a_bounded_call_beyond_its_cpu_or_wall_time_is_stopped() -> None:
    with pytest.raises(Exceeded, match="CPU"):
        run_bounded(_spin, memory_bytes=64 << 20, cpu_seconds=1, wall_seconds=30)
    with pytest.raises(Exceeded, match="longer than 1 s"):
        run_bounded(_sleep, memory_bytes=64 << 20, cpu_seconds=5, wall_seconds=1)


def test_a_bounded_calls_exception_comes_back_as_text() -> None:
    with pytest.raises(Failed, match="ValueError: a decoder's own error"):
        run_bounded(_fail, memory_bytes=64 << 20, cpu_seconds=5, wall_seconds=20)
