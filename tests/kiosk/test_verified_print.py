"""Verified print: a kiosk prints only a closed case's result that verifies end to end (seal,
chain entry, inclusion in a cosigned checkpoint, status), records every print and refusal in
the ledger, and the printout verifies back from its rendered image at 300 and 150 dpi.
Self-service printing of results at the kiosk: GZ20·14, PY·23."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from api.demo import attacks
from kiosk.errors import PrintRefused
from kiosk.printing import FontCache
from kiosk.service import KioskService
from kiosk.verify import extract_qr_text, qr_texts_in_image, verify_printout
from ledger.domain.kiosks import KioskPrint, PrintOutcome
from ledger.services.application import open_ledger
from ledger.services.domain_services import CertificateService
from tests.kiosk.world import KIOSK_ID, KioskWorld, closed_certificate_case, closed_document_case
from tests.ledger.case_world import FOOD_DEPT


def render(pdf: bytes, tmp: Path, dpi: int) -> Path:
    source = tmp / f"printout-{dpi}.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", "-singlefile", str(source), str(tmp / f"page-{dpi}")],
        check=True,
        timeout=60,
    )
    return tmp / f"page-{dpi}.png"


def print_(kw: KioskWorld, serial: str, service: KioskService | None = None) -> bytes:
    printout = (service or kw.service).print_result(
        serial, kiosk_id=KIOSK_ID, kiosk_signer=kw.world.kiosk
    )
    return printout.pdf


@pytest.mark.parametrize("dpi", [300, 150])
def test_a_printed_result_verifies_back_from_its_rendered_image(
    kw: KioskWorld, tmp_path: Path, dpi: int
) -> None:
    pdf = print_(kw, kw.document_serial)
    png = render(pdf, tmp_path, dpi)
    with Image.open(png) as image:
        texts = qr_texts_in_image(image.convert("L"))
    assert len(texts) == 1 and texts[0].startswith("CL1:")
    verdict = verify_printout(png.read_bytes(), kw.policy)
    assert verdict.ok, verdict.lines()
    assert verdict.claim is not None and verdict.claim.subject == kw.document_serial
    assert verdict.claim.kiosk == KIOSK_ID and verdict.source == "image"


def test_a_certificate_prints_and_verifies_from_the_pdf_and_from_a_jpeg(
    kw: KioskWorld, tmp_path: Path
) -> None:
    pdf = print_(kw, kw.certificate_serial)
    verdict = verify_printout(pdf, kw.policy)
    assert verdict.ok and verdict.source == "pdf"
    assert verdict.claim is not None and verdict.claim.subject == kw.certificate_id
    jpeg = tmp_path / "photo.jpg"
    with Image.open(render(pdf, tmp_path, 200)) as image:
        image.convert("RGB").rotate(3, expand=True, fillcolor="white").save(jpeg, quality=80)
    assert verify_printout(jpeg.read_bytes(), kw.policy).ok
    text, source = extract_qr_text(pdf)
    assert source == "pdf" and verify_printout(text.encode(), kw.policy).ok


def test_the_pdf_carries_the_result_seal_anchor_and_kiosk_in_chinese(
    kw: KioskWorld, tmp_path: Path
) -> None:
    pdf = print_(kw, kw.document_serial)
    source = tmp_path / "p.pdf"
    source.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(source), "-"], capture_output=True, text=True, check=True
    ).stdout
    for expected in (
        "政务服务办理结果",
        "食品经营许可",
        "广州市市场监督管理局",
        "电子印章",
        "区块高度",
        "checkpoint size",
        KIOSK_ID,
        "打印时间",
    ):
        assert expected in text
    fonts = subprocess.run(
        ["pdffonts", str(source)], capture_output=True, text=True, check=True
    ).stdout
    assert "WenQuanYi" in fonts and " yes " in fonts  # embedded subset


def _pdf_text(pdf: bytes, tmp: Path) -> str:
    source = tmp / "printout.pdf"
    source.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(source), "-"], capture_output=True, text=True, check=True
    ).stdout


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_a_certificate_printout_labels_every_field_in_chinese_and_english(
    kw: KioskWorld, tmp_path: Path
) -> None:
    text = _pdf_text(print_(kw, kw.certificate_serial), tmp_path)
    table = text[: text.index("本结果由")]
    rows = [line for line in table.splitlines()[3:] if line and not line.startswith(" ")]
    labels = [re.split(r"\s{2,}", line)[0] for line in rows]
    assert len(labels) >= 18
    for label in labels:  # 中文 English, e.g. 有效期至 Valid until
        assert _has_cjk(label) and re.search(r"[A-Za-z]{2,}", label), label
    for raw in ("case_serial", "holder", "item_code", "valid_from", "valid_until"):
        assert raw not in text  # no raw field names
    case = kw.world.cases.case(kw.certificate_serial)
    assert str(case.applicant_id) not in text  # no internal id for the holder
    assert "持证人 Holder" in text and "广********司" in text and "9144**********8216" in text
    assert "广州某某餐饮有限公司" in text  # the name the department put in the certificate
    assert "有效期至 Valid until" in text and "2031年9月27日" in text and "2031-09-27" not in text
    assert re.search(r"出具时间 Issued\s+2026年9月28日 10:00:00（北京时间 Beijing time）", text)


def test_without_a_masker_the_holder_is_withheld(kw: KioskWorld, tmp_path: Path) -> None:
    service = KioskService(
        kw.world.ledger, kw.policy, kw.service.tree, kw.world.platform, FontCache.default()
    )
    text = _pdf_text(print_(kw, kw.certificate_serial, service), tmp_path)
    assert "持证人 Holder" in text and "已隐去 withheld" in text and "广****" not in text


def test_each_print_is_recorded_in_the_ledger_signed_by_the_kiosk(kw: KioskWorld) -> None:
    printout = kw.service.print_result(
        kw.document_serial, kiosk_id=KIOSK_ID, kiosk_signer=kw.world.kiosk
    )
    record: KioskPrint = kw.world.ledger.repository.get(
        KioskPrint.create_id(printout.claim.print_id)
    )
    assert record.outcome is PrintOutcome.PRINTED and record.kiosk_id == KIOSK_ID
    assert record.content_hash == printout.claim.content_hash
    head = kw.world.ledger.chain.chain_head()
    assert head is not None and head.key_id == kw.world.kiosk.key_id


def test_an_open_case_prints_nothing_and_the_refusal_is_recorded(kw: KioskWorld) -> None:
    open_serial = kw.world.submit_food().serial
    with pytest.raises(PrintRefused) as refused:
        print_(kw, open_serial)
    assert refused.value.check == "case" and "not closed" in refused.value.reason
    head = kw.world.ledger.chain.chain_head()
    assert head is not None and head.topic.endswith("KioskPrint.Recorded")


def test_a_result_not_yet_anchored_is_refused(kw: KioskWorld) -> None:
    serial = closed_document_case(kw.world)
    with pytest.raises(PrintRefused) as refused:
        print_(kw, serial)
    assert refused.value.check == "anchor" and "not yet anchored" in refused.value.reason
    kw.anchor()
    assert verify_printout(print_(kw, serial), kw.policy).ok


def test_an_updated_certificate_prints_its_current_version_and_a_revoked_one_nothing(
    kw: KioskWorld,
) -> None:
    serial, identifier = closed_certificate_case(kw.world, "2026000999")
    certificates = CertificateService(kw.world.ledger)
    current = certificates.update(
        identifier,
        signer=kw.world.food,
        department=FOOD_DEPT,
        content={"名称": "广州某某餐饮有限公司（更名）"},
        reason="名称变更",
        at=kw.world.clock.now(),
    )
    kw.anchor()
    verdict = verify_printout(print_(kw, serial), kw.policy)
    assert verdict.claim is not None and verdict.claim.subject == current != identifier
    certificates.revoke(
        current, signer=kw.world.food, department=FOOD_DEPT, reason="吊销", at=kw.world.clock.now()
    )
    kw.anchor()
    with pytest.raises(PrintRefused) as refused:
        print_(kw, serial)
    assert refused.value.check == "status" and "revoked" in refused.value.reason


def _copy(kw: KioskWorld, tmp: Path) -> tuple[str, KioskService]:
    from anchors.tree import PersistentTree, SQLiteTreeStore

    source = kw.world.url.removeprefix("sqlite:///")
    target = tmp / "copy.sqlite3"
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    ledger = open_ledger(f"sqlite:///{target}")
    tree = PersistentTree(SQLiteTreeStore(str(target)))
    service = KioskService(ledger, kw.policy, tree, kw.world.platform, FontCache.default())
    return str(target), service


def test_a_kiosk_refuses_to_print_from_an_edited_ledger(kw: KioskWorld, tmp_path: Path) -> None:
    path, service = _copy(kw, tmp_path)
    with sqlite3.connect(path) as conn:
        (rowid, state), *_ = conn.execute(
            "SELECT e.rowid, e.state FROM stored_events e WHERE e.topic LIKE '%Case.ResultIssued' "
            "ORDER BY e.rowid LIMIT 1"
        ).fetchall()
        edited = bytes(state).replace("食品经营许可".encode(), "食品生产许可".encode(), 1)
        assert edited != bytes(state)
        conn.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (edited, rowid))
    with pytest.raises(PrintRefused) as refused:
        print_(kw, kw.document_serial, service)
    assert refused.value.check == "chain" and "altered" in refused.value.reason
    service.ledger.close()


def test_a_kiosk_refuses_to_print_from_a_rewritten_chain(kw: KioskWorld, tmp_path: Path) -> None:
    path, service = _copy(kw, tmp_path)
    service.ledger.close()
    w = kw.world
    every_key = {s.key_id: s for s in (w.platform, w.portal, w.kiosk, *w.seals.values())}
    # every later hash recomputed and every later command re-signed: all keys stolen
    attacks.rename_actor(f"sqlite:///{path}", 2, every_key)
    ledger = open_ledger(f"sqlite:///{path}")
    service = KioskService(ledger, kw.policy, service.tree, kw.world.platform, FontCache.default())
    with pytest.raises(PrintRefused) as refused:
        print_(kw, kw.document_serial, service)
    assert refused.value.check == "anchor" and "not included" in refused.value.reason
    ledger.close()
