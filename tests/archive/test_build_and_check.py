"""A closed case becomes a package that proves itself: every lifecycle path builds, passes the
four-property check (DA/T 70-2018) and ``bagit``; the transfer is recorded, signed and
anchored; a rebuild gives the same payload digest; the check runs offline."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from ledger.chain.verification import verify_chain
from ledger.domain.archiving import ArchiveRecord, CaseNotArchivable
from ledger.domain.keys import KeyRole
from projections.archive import layout
from projections.archive.checker import check_package
from projections.archive.second_opinion import bagit_opinion
from projections.archive.service import BuildResult
from projections.archive_index import ArchiveIndexView, archived_cases
from projections.runner import catch_up, open_view, rebuild
from tests.anchors.processes import NodeProcess
from tests.archive.world import ARCHIVIST, ArchiveWorld, build_archive_world

ROOT = Path(__file__).resolve().parents[2]
ENDED = {
    "not_accepted": "not_accepted",
    "returned": "returned",
    "withdrawn": "withdrawn",
}


def test_every_lifecycle_path_gives_a_package_passing_the_four_properties(
    packages: dict[str, BuildResult],
) -> None:
    for name, result in packages.items():
        report = check_package(result.path)
        assert report.ok, f"{name}:\n{report.table()}"
        assert report.properties() == dict.fromkeys(
            ("authenticity", "integrity", "usability", "security"), True
        )
        assert bagit_opinion(result.path).valid, name
        metadata = json.loads((result.path / layout.METADATA).read_text())
        assert metadata["state"] == ENDED.get(name, "closed")
        assert metadata["counts"]["events"] == result.events == result.transfer.event_count


def test_stage_codes_follow_the_path_RULES_archiving(packages: dict[str, BuildResult]) -> None:
    def stages(name: str) -> set[int]:
        metadata = json.loads((packages[name].path / layout.METADATA).read_text())
        return {e["stage"] for e in metadata["events"]}

    assert stages("approved") == {1, 2, 3, 4}
    assert 11 in stages("corrected_then_approved")
    assert 12 in stages("special_procedure")
    assert stages("withdrawn") == {1, 99}
    assert stages("not_accepted") == {1, 2}
    metadata = json.loads((packages["withdrawn"].path / layout.METADATA).read_text())
    assert metadata["final_stage"] == 99


def test_retention_comes_from_the_guide(packages: dict[str, BuildResult]) -> None:
    assert packages["approved"].transfer.retention == "D30"  # 食品经营许可
    assert packages["courier_public_notice_with_fee"].transfer.retention == "D10"  # 身份证换领
    info = (packages["approved"].path / layout.BAG_INFO).read_text()
    assert "Retention-Period: D30" in info
    assert "Source-Organization: 广州市市场监督管理局 (GZ-SCJG)" in info
    assert f"Package-Digest: sha512:{packages['approved'].payload_digest.hex()}" in info


def test_the_payload_holds_every_event_document_material_and_certificate_version(
    packages: dict[str, BuildResult],
) -> None:
    bag = packages["e_certificate_two_versions"].path
    names = {p.relative_to(bag).as_posix() for p in bag.rglob("*") if p.is_file()}
    events = packages["e_certificate_two_versions"].events
    assert {f"data/events/v{v:04d}.state.msgpack" for v in range(1, events + 1)} <= names
    assert {f"data/events/v{v:04d}.entry.msgpack" for v in range(1, events + 1)} <= names
    kinds = sorted(n.rpartition("-")[2] for n in names if n.startswith("data/documents/"))
    assert kinds == [
        "acceptance_receipt.msgpack",
        "application_receipt.msgpack",
        "approval_decision.msgpack",
        "delivery_receipt.msgpack",
    ]
    assert {"data/certificates/c01/v001.msgpack", "data/certificates/c01/v002.msgpack"} <= names
    assert {n.rpartition(".")[2] for n in names if n.startswith("data/materials/")} == {
        "pdf",
        "png",
        "jpg",
    }
    corrected = packages["corrected_then_approved"].path
    plans = sorted(p.name for p in (corrected / "data/materials").glob("*FLOOR-PLAN*"))
    assert len(plans) == 2  # the submitted and the corrected floor plan, both kept
    assert {"data/policy.json", "data/proof/case-bundle.json", "data/index.html"} <= names
    assert {"metadata/provenance.json", "metadata/transfer-bundle.json"} <= names


def test_an_open_case_is_refused_citing_NH_22_FZ_21_GZ20_24(
    aworld: ArchiveWorld, tmp_path: Path
) -> None:
    with pytest.raises(CaseNotArchivable) as refused:
        aworld.build(aworld.open_serial, tmp_path / "bag")
    assert refused.value.rule == "NH·22, FZ·21, GZ20·24"
    assert refused.value.code == "case-not-archivable"
    assert aworld.archive.record(aworld.open_serial) is None
    assert not (tmp_path / "bag").exists()


def test_building_twice_gives_the_same_payload_digest_and_records_once(
    aworld: ArchiveWorld, packages: dict[str, BuildResult], tmp_path: Path
) -> None:
    first = packages["approved"]
    head = aworld.world.head()
    again = aworld.build(aworld.paths["approved"], tmp_path / "again")
    assert again.payload_digest == first.payload_digest
    assert not again.recorded
    assert (again.path / layout.MANIFEST).read_bytes() == (
        first.path / layout.MANIFEST
    ).read_bytes()
    for name in ("data/case.json", "data/index.html", "data/register.json"):
        assert (again.path / name).read_bytes() == (first.path / name).read_bytes()
    record = aworld.archive.record(aworld.paths["approved"])
    assert record is not None and len(record.transfers) == 1
    assert aworld.world.head() == head  # nothing new was recorded (no receipt either)


def test_the_transfer_is_recorded_signed_and_anchored(
    aworld: ArchiveWorld, packages: dict[str, BuildResult]
) -> None:
    serial = aworld.paths["disapproved"]
    record = aworld.archive.record(serial)
    assert isinstance(record, ArchiveRecord)
    latest = record.latest
    assert latest.payload_digest == packages["disapproved"].payload_digest
    assert latest.archivist == ARCHIVIST
    assert latest.event_count == packages["disapproved"].events
    chain = aworld.world.ledger.chain
    entries = [e for e in chain.select_entries(1, 100_000) if e.originator_id == record.id]
    key = aworld.world.ledger.actor_key(entries[-1].key_id)
    assert key is not None and key.role == KeyRole.PLATFORM.value
    assert max(e.sequence for e in entries) <= aworld.anchored.anchors.recorded_size()
    assert verify_chain(chain).ok


def test_personal_data_is_a_reference_unless_the_policy_says_clear(
    aworld: ArchiveWorld, packages: dict[str, BuildResult], tmp_path: Path
) -> None:
    name = "广州某某餐饮有限公司".encode()
    for result in packages.values():
        for path in result.path.rglob("*"):
            if path.is_file():
                assert name not in path.read_bytes(), path
                assert b"13800138000" not in path.read_bytes(), path
    metadata = json.loads((packages["returned"].path / layout.METADATA).read_text())
    assert metadata["applicant"] == {
        "id": str(aworld.world.enterprise.id),
        "personal_data": "reference",
    }
    clear = aworld.build(aworld.paths["returned"], tmp_path / "clear", personal_data=True)
    metadata = json.loads((clear.path / layout.METADATA).read_text())
    assert metadata["applicant"]["clear"]["name"] == "广州某某餐饮有限公司"
    assert clear.payload_digest != packages["returned"].payload_digest and clear.recorded
    assert check_package(clear.path).ok


def test_the_provenance_says_who_created_transferred_and_checked_it(
    packages: dict[str, BuildResult],
) -> None:
    from projections.archive.provenance import parse_provenance

    provenance = parse_provenance((packages["approved"].path / layout.PROVENANCE).read_bytes())
    assert [e.event_type for e in provenance.events][-1] == "validation"
    assert {e.event_type for e in provenance.events} == {"creation", "transfer", "validation"}
    transfer = provenance.of_type("transfer")[0]
    assert transfer.agents[0].name == ARCHIVIST
    assert provenance.of_type("validation")[0].outcome == "success"


def _no_network_or_database(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the check must not touch the network or a database")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(sqlite3, "connect", refuse)
    monkeypatch.setattr(psycopg, "connect", refuse)


def test_a_package_copied_elsewhere_checks_offline(
    packages: dict[str, BuildResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = shutil.copytree(packages["special_procedure"].path, tmp_path / "elsewhere" / "pkg")
    _no_network_or_database(monkeypatch)
    report = check_package(elsewhere)
    assert report.ok, report.table()
    assert report.policy_source == "embedded"


def test_the_cli_checks_a_copy_with_nothing_but_the_project(
    packages: dict[str, BuildResult], tmp_path: Path
) -> None:
    elsewhere = shutil.copytree(packages["deemed_accepted"].path, tmp_path / "copy")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASELEDGER_")}
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "archive", "check", str(elsewhere), "--json"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    value = json.loads(done.stdout)
    assert value["ok"] and value["second_opinion"]["valid"]
    assert {i["id"] for i in value["items"]} >= {"proof.case", "bag.payload-fixity", "paths.safe"}


def test_the_archive_index_lists_archived_cases_with_retention_and_digest(
    aworld: ArchiveWorld, packages: dict[str, BuildResult]
) -> None:
    from ledger.storage.urls import parse_storage_url

    storage = parse_storage_url(aworld.world.url)
    view = open_view(ArchiveIndexView, storage)
    catch_up(view, aworld.world.ledger)
    rows = {r["serial"]: r for r in archived_cases(view)}
    for name, result in packages.items():
        row = rows[aworld.paths[name]]
        record = aworld.archive.record(aworld.paths[name])
        assert record is not None
        assert row["payload_digest"] == "sha512:" + record.latest.payload_digest.hex()
        assert row["retention"] == result.transfer.retention
    assert aworld.open_serial not in rows
    assert {r["serial"] for r in archived_cases(view, retention="D10")} == {
        aworld.paths["courier_public_notice_with_fee"]
    }
    assert rebuild(ArchiveIndexView, storage, aworld.world.ledger).identical


def test_build_and_check_on_each_backend(
    storage_url: str, tmp_path: Path, archive_node: NodeProcess
) -> None:
    found = build_archive_world(storage_url, tmp_path, archive_node.url, paths=("approved",))
    try:
        result = found.build(found.paths["approved"], tmp_path / "bag")
        assert result.report.ok, result.report.table()
        assert check_package(result.path).ok
        again = found.build(found.paths["approved"], tmp_path / "again")
        assert again.payload_digest == result.payload_digest and not again.recorded
    finally:
        found.close()
