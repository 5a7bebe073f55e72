"""Parsers of package files: round trips, malformed input refused with a named reason, random
bytes never crash (only ``PackageError`` or a list of problems comes out)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import re
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.archiving import CaseNotArchivable, InvalidTransfer, Transfer, check_archivable
from projections.archive.bagfiles import (
    format_bag_info,
    format_manifest,
    parse_bag_info,
    parse_manifest,
)
from projections.archive.checker import validate_metadata
from projections.archive.errors import PackageError
from projections.archive.formats import active_content, encryption, opens_as
from projections.archive.layout import check_relative_path, stage_of
from projections.archive.provenance import Agent, Provenance, ProvenanceEvent, parse_provenance
from tests.archive.world import JPEG, pdf, png

HEX = "ab" * 64


# --- manifests and bag-info (RFC 8493) ---------------------------------------------------------


def test_a_manifest_round_trips_sorted() -> None:
    data = format_manifest([("data/b.pdf", HEX), ("data/a.json", "cd" * 64)])
    assert data.decode().splitlines()[0].endswith("  data/a.json")
    assert parse_manifest(data, "sha512", "m").as_dict() == {
        "data/a.json": "cd" * 64,
        "data/b.pdf": HEX,
    }


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (f"{HEX[:-2]}  data/a.pdf", "not '<sha512 hex>"),
        (f"{'zz' * 64}  data/a.pdf", "not '<sha512 hex>"),
        (f"{HEX}  /etc/passwd", "absolute"),
        (f"{HEX}  data/../../x", "traversal"),
        (f"{HEX}  data\\x.pdf", "backslash"),
        (f"{HEX}  data/a%0A.pdf", "percent-encoded"),
        (f"{HEX}  data/ä.pdf", "outside"),
        (f"{HEX}  data/a.pdf\n{HEX}  data/a.pdf", "listed twice"),
        (f"{HEX}", "not '<sha512 hex>"),
    ],
)
def test_malformed_manifest_lines_are_refused(line: str, why: str) -> None:
    with pytest.raises(PackageError, match=why):
        parse_manifest((line + "\n").encode(), "sha512", "manifest-sha512.txt")


def test_a_manifest_must_be_utf8_without_bom() -> None:
    with pytest.raises(PackageError, match="UTF-8"):
        parse_manifest(b"\xff\xfe", "sha512", "m")
    with pytest.raises(PackageError, match="byte-order mark"):
        parse_manifest(f"\ufeff{HEX}  data/a.pdf\n".encode(), "sha512", "m")


def test_bag_info_round_trips_and_reads_continuations() -> None:
    data = format_bag_info(
        [("Source-Organization", "广州市市场监督管理局"), ("Payload-Oxum", "3.1")]
    )
    assert parse_bag_info(data).get("Payload-Oxum") == "3.1"
    folded = parse_bag_info(b"External-Description: one\n  two\n")
    assert folded.get("External-Description") == "one two"
    with pytest.raises(PackageError, match="appears 2 times"):
        parse_bag_info(b"Payload-Oxum: 1.1\nPayload-Oxum: 2.2\n").get("Payload-Oxum")
    with pytest.raises(PackageError, match="Label: value"):
        parse_bag_info(b"no colon here\n")
    with pytest.raises(PackageError, match="continuation"):
        parse_bag_info(b"  starts folded\n")


@given(st.binary(max_size=600))
@settings(max_examples=200, deadline=None)
def test_random_bytes_never_crash_the_tag_file_parsers(data: bytes) -> None:
    for parse in (
        lambda: parse_manifest(data, "sha512", "m"),
        lambda: parse_bag_info(data),
        lambda: parse_provenance(data),
    ):
        with contextlib.suppress(PackageError):
            parse()


# --- paths ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["", "/abs", "a//b", "a/./b", "../x", "data/..", "C:/x", "a\\b", "data/\u00e9", "data/.hidden",
     "a/b/c/d/e/f/g", "x" * 600],
)  # fmt: skip
def test_unsafe_paths_are_refused(path: str) -> None:
    with pytest.raises(PackageError):
        check_relative_path(path)


def test_layout_paths_are_accepted() -> None:
    assert check_relative_path("data/certificates/c01/v001.msgpack")
    assert check_relative_path("metadata/transfer-bundle.json")


def test_stage_codes_of_topics() -> None:
    assert stage_of("ledger.cases:Case.Submitted") == 1
    assert stage_of("ledger.cases:Case.CorrectionRequested") == 11
    assert stage_of("ledger.cases:Case.SpecialProcedureStarted") == 12
    assert stage_of("ledger.cases:Case.Closed") == 4
    assert stage_of("ledger.cases:Case.Something") == 99


# --- provenance (PREMIS) -------------------------------------------------------------------------

AT = dt.datetime(2026, 10, 1, 2, 0, tzinfo=dt.UTC)


def _provenance() -> Provenance:
    agent = Agent("档案员 王五", "implementer", "key 0011223344556677")
    return Provenance(
        "GZ-SCJG-20260928-000001E",
        "sha512:" + HEX,
        (
            ProvenanceEvent("e1", "creation", AT, "built", "success", "ok", (agent,)),
            ProvenanceEvent(
                "e2", "transfer", AT + dt.timedelta(seconds=1), "moved", "success", "ok", (agent,)
            ),
        ),
    )


def test_provenance_round_trips() -> None:
    p = _provenance()
    assert parse_provenance(p.to_bytes()) == p


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda v: v.update(format="other"), "format"),
        (lambda v: v["events"][0].update(eventType="deletion"), "eventType"),
        (lambda v: v["events"][0].update(eventDateTime="2026-10-01T02:00:00"), "ending in Z"),
        (lambda v: v["events"][1].update(eventDateTime="2020-01-01T00:00:00Z"), "time order"),
        (lambda v: v["events"][0].update(extra=1), "exactly the fields"),
        (lambda v: v["events"][0]["linkingAgents"][0].update(role="owner"), "role"),
        (lambda v: v["object"].update(payloadDigest="md5:00"), "payloadDigest"),
    ],
)
def test_malformed_provenance_is_refused(edit: object, why: str) -> None:
    value = json.loads(_provenance().to_bytes())
    edit(value)  # type: ignore[operator]
    with pytest.raises(PackageError, match=why):
        parse_provenance(json.dumps(value).encode())


def test_provenance_refuses_duplicate_keys_and_floats() -> None:
    with pytest.raises(PackageError):
        parse_provenance(b'{"format": 1, "format": 2}')
    with pytest.raises(PackageError):
        parse_provenance(b'{"format": 1.5}')


# --- metadata ------------------------------------------------------------------------------------


def _metadata() -> dict[str, object]:
    return {
        "format": "caseledger-archive-metadata/v1",
        "serial": "GZ-SCJG-20260928-000001E",
        "approval_code": "11440100MB2C92400X-FOOD-01-20260928-000001",
        "case_id": "6f1c1f7e-7b1e-5d3a-9a4b-1c2d3e4f5a6b",
        "item": {
            "name": "食品经营许可",
            "implementation_code": "X-FOOD-01",
            "type_code": "01",
            "guide_version": 1,
            "legal_basis": ["《食品安全法》"],
            "promised_limit_days": 20,
            "statutory_limit_days": 20,
        },
        "department": {"code": "GZ-SCJG", "name": "广州市市场监督管理局"},
        "applicant": {"id": "6f1c1f7e-7b1e-5d3a-9a4b-1c2d3e4f5a6c", "personal_data": "reference"},
        "channel": "web",
        "handling_mode": "online_pre_acceptance",
        "state": "closed",
        "final_stage": 4,
        "retention": "D30",
        "dates": {"submitted_at": "2026-09-28T02:00:00Z", "accepted_on": "2026-09-28"},
        "events": [{"version": 1, "sequence": 15, "topic": "ledger.cases:Case.Submitted",
                    "stage": 1, "at": "2026-09-28T02:00:00Z"}],
        "counts": {"events": 1, "documents": 1, "materials": 0, "certificates": 0,
                   "certificate_versions": 0},
        "certificates": [],
    }  # fmt: skip


def test_valid_metadata_passes() -> None:
    assert validate_metadata(_metadata())["retention"] == "D30"


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda m: m.update(retention="D20"), "retention"),
        (lambda m: m.update(final_stage=5), "final_stage"),
        (lambda m: m.update(state="accepted"), "state"),
        (lambda m: m.update(extra=1), "fields"),
        (lambda m: m["item"].update(type_code="11"), "item.type_code"),
        (lambda m: m["item"].update(guide_version=True), "item.guide_version"),
        (lambda m: m["counts"].update(events=2), "counts.events"),
        (lambda m: m["events"][0].update(version=2), "events[0].version"),
        (lambda m: m["events"][0].update(stage=7), "events[0].stage"),
        (lambda m: m["dates"].update(accepted_on="yesterday"), "dates.accepted_on"),
        (lambda m: m["applicant"].update(clear={"name": "张三"}), "applicant"),
        (lambda m: m.update(serial="x" * 65), "serial"),
        (lambda m: m.update(case_id="not-a-uuid"), "case_id"),
    ],
)
def test_malformed_metadata_is_refused_naming_the_field(edit: object, field: str) -> None:
    value = _metadata()
    edit(value)  # type: ignore[operator]
    with pytest.raises(PackageError, match=re.escape(f"case.json {field}:")):
        validate_metadata(value)


# --- formats --------------------------------------------------------------------------------------


def test_well_formed_files_open_as_their_type() -> None:
    assert opens_as("application/pdf", pdf("hello")) == []
    assert opens_as("image/png", png()) == []
    assert opens_as("image/jpeg", JPEG) == []
    assert opens_as("application/json", b'{"a": 1}') == []
    assert opens_as("application/msgpack", b"\x81\xa1a\x01") == []
    assert opens_as("application/xml", b"<a><b/></a>") == []


@pytest.mark.parametrize(
    ("media", "data", "why"),
    [
        ("application/pdf", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF", "startxref"),
        ("application/pdf", b"PDF-1.7", "header"),
        ("application/pdf", pdf("x").replace(b"%%EOF", b"%%EOX"), "%%EOF"),
        ("image/png", png()[:-4] + b"\x00\x00\x00\x00", "CRC"),
        ("image/png", png()[:20], "past the end"),
        ("image/jpeg", JPEG[:-2], "EOI"),
        ("image/jpeg", b"\xff\xd8" + b"\x00" * 10 + b"\xff\xd9", "marker"),
        ("application/json", b'{"a": 1, "a": 2}', "duplicate"),
        ("application/msgpack", b"\x82\xa1b\x01\xa1a\x02", "canonical"),
        ("application/xml", b"<!DOCTYPE x [<!ENTITY e 'x'>]><a>&e;</a>", "DTD"),
        ("application/zip", b"PK", "not one a package may hold"),
    ],
)
def test_broken_files_do_not_open(media: str, data: bytes, why: str) -> None:
    problems = opens_as(media, data)
    assert problems and why in " ".join(problems)


def test_png_whose_image_data_is_short_does_not_open() -> None:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    short = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 10, 10, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00" * 5))
        + chunk(b"IEND", b"")
    )
    assert "inflates" in " ".join(opens_as("image/png", short))


MEDIA = ["application/pdf", "image/png", "image/jpeg", "application/json",
         "application/msgpack", "application/xml", "application/ofd"]  # fmt: skip


@given(st.binary(max_size=400), st.sampled_from(MEDIA))
@settings(max_examples=300, deadline=None)
def test_random_bytes_never_crash_the_format_checks(data: bytes, media: str) -> None:
    assert isinstance(opens_as(media, data), list)
    assert isinstance(active_content(media, data), list)
    assert isinstance(encryption(media, data), list)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x7fELF\x02\x01", "ELF"),
        (b"MZ\x90\x00", "Windows"),
        (b"#!/bin/sh\nrm -rf /", "interpreter"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "OLE"),
        (pdf("x").replace(b"/Pages 2 0 R", b"/Pages 2 0 R /OpenAction << /S /JavaScript >>"),
         "JavaScript"),
        (pdf("x").replace(b"/Pages 2 0 R", b"/Pages 2 0 R /#4Aava#53cript 1"), "JavaScript"),
        (pdf("x").replace(b"/Pages 2 0 R", b"/Pages 2 0 R /Launch 1"), "Launch"),
    ],
)  # fmt: skip
def test_active_content_is_found(data: bytes, why: str) -> None:
    assert why in " ".join(active_content("application/pdf", data))


def test_macros_in_a_zip_container_and_encrypted_entries_are_found() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("OFD.xml", "<ofd/>")
        archive.writestr("word/vbaProject.bin", b"macro")
    assert "vbaProject.bin" in " ".join(active_content("application/ofd", buffer.getvalue()))
    data = bytearray(buffer.getvalue())
    data[6] |= 0x01  # the first local header's "encrypted" flag
    central = data.rfind(b"PK\x01\x02", 0, len(data))
    first_central = data.find(b"PK\x01\x02")
    for at in {central, first_central}:
        data[at + 8] |= 0x01
    assert "encrypted" in " ".join(encryption("application/ofd", bytes(data)))
    assert encryption("application/pdf", pdf("x").replace(b"/Root", b"/Encrypt 5 0 R /Root"))


# --- the domain values ---------------------------------------------------------------------------


def test_only_an_ended_case_is_archivable() -> None:
    for state in ("closed", "not_accepted", "returned", "withdrawn"):
        check_archivable("S-1", state)
    with pytest.raises(CaseNotArchivable) as refused:
        check_archivable("S-1", "accepted")
    assert refused.value.rule == "NH·22, FZ·21, GZ20·24"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"payload_digest": b"short"}, "payload_digest"),
        ({"event_count": 0}, "event_count"),
        ({"last_version": 4}, "event_count"),
        ({"retention": "D20"}, "retention"),
        ({"archivist": "a\nb"}, "archivist"),
        ({"transferred_at": dt.datetime(2026, 1, 1)}, "transferred_at"),
    ],
)
def test_a_transfer_validates_its_fields(changes: dict[str, object], field: str) -> None:
    values: dict[str, object] = {
        "payload_digest": bytes(64),
        "event_count": 3,
        "last_version": 3,
        "anchor_size": 10,
        "retention": "Y",
        "archivist": "王五",
        "transferred_at": AT,
    }
    assert Transfer(**values).to_dict()["retention"] == "Y"  # type: ignore[arg-type]
    with pytest.raises(InvalidTransfer) as refused:
        Transfer(**{**values, **changes})  # type: ignore[arg-type]
    assert refused.value.field == field
