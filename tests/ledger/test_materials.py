"""Uploaded materials (GZ20·10, FZ·11): size limit, media-type allow-list checked by magic bytes,
and the content-addressed blob store contract on a directory and on PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ledger.domain.rules import (
    InvalidMaterial,
    MaterialTooLarge,
    MediaTypeMismatch,
    MediaTypeNotAllowed,
)
from ledger.encoding import canonical, decode
from ledger.storage.materials import (
    ALLOWED_MEDIA_TYPES,
    MAX_MATERIAL_BYTES,
    BlobCorrupted,
    BlobNotFound,
    BlobStore,
    DirectoryBlobStore,
    MaterialRef,
    PostgresBlobStore,
    check_material,
    sniff_media_type,
)
from tests.ledger.conftest import PostgresTarget


def _ofd() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "OFD.xml", '<?xml version="1.0"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"/>'
        )
    return buffer.getvalue()


def _plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return buffer.getvalue()


SAMPLES: dict[str, bytes] = {
    "application/pdf": b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF\n",
    "image/png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "application/ofd": _ofd(),
    "application/xml": b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?><form/>',
    "application/json": ' {"form": "申请表"}'.encode(),
}


@pytest.mark.parametrize("media_type", sorted(SAMPLES))
def test_each_allowed_type_is_recognised_by_its_magic_bytes(media_type: str) -> None:
    assert sniff_media_type(SAMPLES[media_type]) == media_type
    ref = check_material(SAMPLES[media_type], media_type)
    assert ref == MaterialRef(
        hashlib.sha256(SAMPLES[media_type]).digest(), len(SAMPLES[media_type]), media_type
    )


def test_the_allow_list_is_the_six_formats() -> None:
    assert set(SAMPLES) == ALLOWED_MEDIA_TYPES


def test_default_size_limit_is_20_MiB_GZ20_10() -> None:
    assert MAX_MATERIAL_BYTES == 20 * 1024 * 1024
    with pytest.raises(MaterialTooLarge) as caught:
        check_material(b"%PDF-" + bytes(MAX_MATERIAL_BYTES), "application/pdf")
    assert caught.value.field == "size"


def test_media_type_outside_the_allow_list_is_rejected_GZ20_10() -> None:
    with pytest.raises(MediaTypeNotAllowed) as caught:
        check_material(b"<html></html>", "text/html")
    assert caught.value.field == "media_type"
    assert caught.value.rule == "GZ20·10, FZ·11"


@pytest.mark.parametrize(
    ("data", "declared"),
    [
        (SAMPLES["image/png"], "application/pdf"),  # a PDF must start with %PDF-
        (b"MZ\x90\x00 executable", "application/pdf"),
        (_plain_zip(), "application/ofd"),
        (b"{not json", "application/json"),
        (b"plain text", "application/xml"),
    ],
)
def test_bytes_that_are_not_the_declared_type_are_rejected(data: bytes, declared: str) -> None:
    with pytest.raises(MediaTypeMismatch) as caught:
        check_material(data, declared)
    assert caught.value.field == "content"


def test_declared_type_parameters_and_case_are_ignored() -> None:
    ref = check_material(SAMPLES["application/json"], "Application/JSON; charset=utf-8")
    assert ref.media_type == "application/json"


def test_empty_upload_is_rejected() -> None:
    with pytest.raises(InvalidMaterial) as caught:
        check_material(b"", "application/pdf")
    assert caught.value.field == "content"


def test_material_ref_round_trips_through_to_dict_and_canonical_bytes() -> None:
    ref = check_material(SAMPLES["application/pdf"], "application/pdf")
    assert MaterialRef.from_dict(decode(canonical(ref.to_dict()))) == ref


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"sha256": b"x", "size": 1, "media_type": "application/pdf"},
        {"sha256": bytes(32), "size": 0, "media_type": "application/pdf"},
        {"sha256": bytes(32), "size": 1, "media_type": "text/html"},
        {"sha256": bytes(32), "size": 1},
        {"sha256": bytes(32), "size": 1, "media_type": "application/pdf", "name": "x"},
    ],
)
def test_malformed_material_ref_is_rejected(data: Any) -> None:
    with pytest.raises((InvalidMaterial, MediaTypeNotAllowed)):
        MaterialRef.from_dict(data)


# --- the blob store contract, on each real backend ------------------------------------------------


def test_store_returns_the_bytes_by_their_hash(blob_store: BlobStore) -> None:
    ref = blob_store.put(SAMPLES["application/pdf"], "application/pdf")
    assert blob_store.missing([ref.sha256]) == frozenset()
    assert blob_store.get(ref.sha256) == SAMPLES["application/pdf"]


def test_store_refuses_what_check_material_refuses(blob_store: BlobStore) -> None:
    with pytest.raises(MediaTypeMismatch):
        blob_store.put(SAMPLES["image/png"], "application/pdf")


def test_unknown_hash_is_not_found(blob_store: BlobStore) -> None:
    missing = hashlib.sha256(b"never stored").digest()
    assert blob_store.missing([missing]) == {missing}
    with pytest.raises(BlobNotFound):
        blob_store.get(missing)


def test_reuploading_the_same_bytes_returns_the_same_ref(blob_store: BlobStore) -> None:
    first = blob_store.put(SAMPLES["image/png"], "image/png")
    assert blob_store.put(SAMPLES["image/png"], "image/png") == first


def test_directory_store_lays_files_out_by_hash_and_stores_them_once(tmp_path: Path) -> None:
    store = DirectoryBlobStore(tmp_path / "blobs")
    ref = store.put(SAMPLES["application/pdf"], "application/pdf")
    name = ref.sha256.hex()
    path = tmp_path / "blobs" / name[:2] / name[2:]
    assert path.read_bytes() == SAMPLES["application/pdf"]
    before = path.stat().st_mtime_ns
    store.put(SAMPLES["application/pdf"], "application/pdf")
    assert path.stat().st_mtime_ns == before
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == [path]


def test_directory_store_detects_altered_bytes(tmp_path: Path) -> None:
    store = DirectoryBlobStore(tmp_path / "blobs")
    ref = store.put(SAMPLES["application/pdf"], "application/pdf")
    store.path(ref.sha256).write_bytes(b"%PDF-forged")
    with pytest.raises(BlobCorrupted):
        store.get(ref.sha256)


def test_directory_store_has_its_own_size_limit(tmp_path: Path) -> None:
    store = DirectoryBlobStore(tmp_path / "blobs", max_bytes=16)
    with pytest.raises(MaterialTooLarge):
        store.put(SAMPLES["application/pdf"], "application/pdf")


@pytest.mark.postgres
def test_postgres_store_keeps_one_row_per_hash(postgres: PostgresTarget) -> None:
    import psycopg

    store = PostgresBlobStore(postgres.conninfo, postgres.schema)
    store.migrate()
    ref = store.put(SAMPLES["application/json"], "application/json")
    store.put(SAMPLES["application/json"], "application/json")
    with psycopg.connect(postgres.conninfo) as conn:
        rows = conn.execute(
            f'SELECT sha256, media_type, size FROM "{postgres.schema}".material_blobs'
        ).fetchall()
    assert rows == [(ref.sha256, "application/json", ref.size)]


def test_a_submissions_materials_are_looked_up_together(blob_store: BlobStore) -> None:
    """``missing`` answers for several hashes at once: the stored ones are not in it, each
    absent one is, and a hash named twice counts once."""
    pdf = blob_store.put(SAMPLES["application/pdf"], "application/pdf").sha256
    png = blob_store.put(SAMPLES["image/png"], "image/png").sha256
    absent = [hashlib.sha256(b"never %d" % i).digest() for i in range(3)]
    assert blob_store.missing([pdf, png, pdf]) == frozenset()
    assert blob_store.missing([pdf, *absent, png, absent[0]]) == frozenset(absent)
    assert blob_store.missing([]) == frozenset()
