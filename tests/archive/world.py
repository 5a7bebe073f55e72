"""A real world for archive tests: cases on every lifecycle path, anchored at a real node.

Built on ``tests.ledger.case_world`` (real ledger on SQLite or PostgreSQL, real keys, vault and
blob store; only time is simulated) and ``tests.anchors.fixtures.wire`` (the anchoring worker
pointed at a ``caseledger node serve`` process). Materials are real files: a PDF with a
cross-reference table, a PNG and a JPEG.
"""

from __future__ import annotations

import datetime as dt
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from api.demo.custody import pdf as make_pdf
from ledger.domain.cases import SubmittedMaterial
from ledger.services.domain_services import CertificateService
from projections.archive.service import ArchiveService, BuildResult, WorkerAnchoring
from tests.anchors.fixtures import Anchored, wire
from tests.helpers import Ledger
from tests.ledger.case_world import FOOD_DEPT, World, build_world

ARCHIVIST = "档案员 王五"

JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300100b0c0e0c0a100e0d0e1211101318281a1816"
    "16183123251d283a333d3c3933383740485c4e404457453738506d51575f626768673e4d71797064785c6567"
    "63ffdb0043011112121815182f1a1a2f63423842636363636363636363636363636363636363636363636363"
    "6363636363636363636363636363636363636363636363636363ffc000110800040004030122000211010311"
    "01ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b5100002010303"
    "020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f024"
    "33627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a63646566"
    "6768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7"
    "b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffc400"
    "1f0100030101010101010101010000000000000102030405060708090a0bffc400b511000201020404030407"
    "05040400010277000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a"
    "162434e125f11718191a262728292a35363738393a434445464748494a535455565758595a63646566676869"
    "6a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9"
    "bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9faffda000c030100"
    "02110311003f00c7a28a2b84fa83ffd9"
)


def pdf(text: str) -> bytes:
    """A small but well-formed PDF 1.7 (catalog, pages, one page, xref table, trailer)."""
    stream = f"BT /F1 12 Tf 10 50 Td ({text}) Tj ET".encode("latin-1")
    return make_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        ]
    )


def png(width: int = 3, height: int = 2) -> bytes:
    """A valid RGB PNG (every chunk with its CRC)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    raw = b"".join(b"\x00" + bytes([40, 120, 200]) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@dataclass
class ArchiveWorld:
    """The case world, its anchoring and the archive service; ``paths`` maps a lifecycle path
    to the serial of a case that took it."""

    world: World
    anchored: Anchored
    archive: ArchiveService
    paths: dict[str, str] = field(default_factory=dict)
    open_serial: str = ""

    def build(self, serial: str, target: Path, **kwargs: object) -> BuildResult:
        return self.archive.build(
            serial,
            target,
            archivist=ARCHIVIST,
            signer=self.world.platform,
            **kwargs,  # type: ignore[arg-type]
        )

    def close(self) -> None:
        self.anchored.close()


def _upload(w: World, code: str, data: bytes, media: str) -> SubmittedMaterial:
    ref = w.cases.upload(data, media)
    return SubmittedMaterial.e_copy(code, ref.sha256, ref.size, ref.media_type)


def _materials(w: World, tag: str, *, floor_plan: bool = True) -> list[SubmittedMaterial]:
    out = [
        _upload(w, "APPLICATION", pdf(f"application {tag}"), "application/pdf"),
        w.licence(),
        SubmittedMaterial.paper("ORIGINAL", "SF1234567890"),
        _upload(w, "HEALTH", JPEG, "image/jpeg"),
    ]
    if floor_plan:
        out.insert(2, _upload(w, "FLOOR-PLAN", png(3, 2), "image/png"))
    return out


def _approved(w: World, tag: str) -> str:
    serial = w.submit_food(_materials(w, tag)).serial
    w.to_accepted(serial)
    w.to_closed(serial)
    return serial


def _with_certificate(w: World, tag: str) -> str:
    serial = w.submit_food(_materials(w, tag)).serial
    w.to_accepted(serial)
    w.cases.approve(serial, signer=w.food)
    certificate = w.issue_certificate(serial)
    CertificateService(w.ledger).update(
        certificate.identifier,
        signer=w.food,
        department=FOOD_DEPT,
        content={"licence": "食品经营许可证", "valid_until": "2031-09-27", "scope": "热食类"},
        reason="经营项目变更",
        at=w.clock.now(),
    )
    w.cases.dispatch(serial, "online", signer=w.food)
    w.cases.sign_off(serial, signer=w.portal)
    w.cases.close(serial, signer=w.food)
    return serial


def _corrected(w: World, tag: str) -> str:
    serial = w.submit_food(_materials(w, tag)).serial
    w.cases.request_correction(serial, {"FLOOR-PLAN": "未标注清洗区"}, signer=w.food)
    fixed = _upload(w, "FLOOR-PLAN", png(4, 4), "image/png")
    w.cases.correct(serial, w.enterprise.id, [fixed], signer=w.portal)
    w.to_accepted(serial)
    w.to_closed(serial)
    return serial


def _not_accepted(w: World, tag: str) -> str:
    serial = w.submit_food(_materials(w, tag)).serial
    w.cases.not_accept(serial, ["不属于本机关职权范围"], signer=w.food)
    return serial


def _returned(w: World, tag: str) -> str:
    serial = w.submit_food(_materials(w, tag)).serial
    w.cases.return_case(serial, ["材料与申请事项不符"], signer=w.food)
    return serial


def _withdrawn(w: World, tag: str) -> str:
    serial = w.submit_food(_materials(w, tag)).serial
    w.cases.withdraw(serial, w.enterprise.id, "申请人主动撤回", signer=w.portal)
    return serial


def _disapproved(w: World, tag: str) -> str:
    serial = w.submit_food(_materials(w, tag)).serial
    w.to_accepted(serial)
    w.cases.disapprove(serial, ["经营场所不符合要求"], signer=w.food)
    w.cases.dispatch(serial, "online", signer=w.food)
    w.cases.sign_off(serial, signer=w.portal)
    w.cases.close(serial, signer=w.food)
    return serial


def _special_procedure(w: World, tag: str) -> str:
    serial = w.submit_food(_materials(w, tag), channel="window").serial
    w.cases.accept(serial, signer=w.food)
    w.cases.start_special_procedure(serial, "site_survey", 3, signer=w.food)
    w.cases.end_special_procedure(serial, "现场踏勘合格", signer=w.food)
    w.to_closed(serial)
    return serial


def _deemed_accepted(w: World, tag: str) -> str:
    serial = w.submit_food(_materials(w, tag)).serial
    w.clock.set(w.clock.today + dt.timedelta(days=15))
    w.cases.deem_accepted(serial, signer=w.platform)
    w.to_closed(serial)
    return serial


def _public_notice(w: World, tag: str) -> str:
    serial = w.submit_card().serial
    w.cases.pass_pre_review(serial, signer=w.card)
    w.cases.accept(serial, signer=w.card)
    w.cases.assess_fee(serial, Decimal("20"), signer=w.card)
    w.cases.pay_fee(serial, "PAY-20261001-0001", Decimal("20"), signer=w.platform)
    w.cases.approve(serial, signer=w.card)
    w.cases.issue_result_document(serial, signer=w.card)
    w.issue_certificate(serial, serial="2026000901")
    w.cases.dispatch(serial, "courier", waybill="SF9876543210", signer=w.card)
    w.cases.record_delivery_failure(serial, "查无此人", signer=w.card)
    w.cases.deliver_by_public_notice(serial, notice_days=2, signer=w.card)
    w.clock.set(w.clock.today + dt.timedelta(days=3))
    w.cases.close(serial, signer=w.card)
    return serial


PATHS: dict[str, Callable[[World, str], str]] = {
    "approved": _approved,
    "e_certificate_two_versions": _with_certificate,
    "corrected_then_approved": _corrected,
    "not_accepted": _not_accepted,
    "returned": _returned,
    "withdrawn": _withdrawn,
    "disapproved": _disapproved,
    "special_procedure": _special_procedure,
    "deemed_accepted": _deemed_accepted,
    "courier_public_notice_with_fee": _public_notice,
}
"""Every lifecycle path RULES.md "Case lifecycle" names, each ending the case."""


def build_archive_world(
    url: str, tmp: Path, node_url: str, paths: tuple[str, ...] = tuple(PATHS)
) -> ArchiveWorld:
    """A world with one ended case per path in ``paths`` and one open case."""
    w = build_world(url, tmp)
    anchored = wire(Ledger(url, w.ledger, w.platform, w.food), node_url)
    archive = ArchiveService(
        w.ledger,
        w.cases,
        w.cases.blobs,  # type: ignore[arg-type]
        WorkerAnchoring(anchored.worker),
        clock=w.clock,
        vault=w.vault,
    )
    found = ArchiveWorld(w, anchored, archive)
    found.open_serial = w.submit_food(_materials(w, "open")).serial
    for name in paths:
        found.paths[name] = PATHS[name](w, name)
    return found
