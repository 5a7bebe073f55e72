"""The printout: an A4 PDF of a verified result, in Chinese, with its QR claim.

Layer: kiosk (edge: PDF and fonts, ``fpdf2`` and ``fontTools``; QR by ``segno``). What the page
carries (issue 9, GZ20·14, GZ16·14): the result in Chinese, every field labelled in Chinese
with English and dates written the Chinese way (``kiosk.labels``; issue 17), a certificate's
holder masked as the progress query shows applicants, the department's e-seal information,
the anchor reference (checkpoint size, block height), the time and kiosk of printing, and the
QR code of the signed claim (``kiosk.claims``) at error correction level Q (ISO/IEC 18004),
drawn as vector modules of :data:`MODULE_MM`.

Font: the CJK font comes from Debian (``fonts-wqy-zenhei``: WenQuanYi Zen Hei). Parsing the
17 MB collection costs ~0.4 s per document, so :class:`FontCache` subsets it ONCE per machine
to GB 2312 level 1 (3 755 common hanzi, ~1.2 MB) and, when a text needs more, to all of GB 2312
(~2.3 MB), each with ASCII and punctuation, kept as TrueType files in a cache directory and
rebuilt when the source font changes; every printout embeds a per-document subset of the
smallest that covers its text. Text outside GB 2312 falls back to the full font (slower, still
correct).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import segno

from kiosk.claims import ClaimKind, PrintClaim
from kiosk.errors import KioskError
from kiosk.labels import HIDDEN_CONTENT, chinese_datetime, content_label, content_value, holder_text
from kiosk.verified_print import VerifiedDocument
from projections.progress import MaskedIdentity

__all__ = [
    "DEFAULT_FONT",
    "MODULE_MM",
    "FontCache",
    "Printout",
    "qr_code",
    "render_pdf",
]

DEFAULT_FONT: Final = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
"""Debian package ``fonts-wqy-zenhei``; override with ``$CASELEDGER_CJK_FONT``."""
FONT_ENV: Final = "CASELEDGER_CJK_FONT"
CACHE_ENV: Final = "CASELEDGER_CACHE_DIR"
SUBSET_VERSION: Final = "v2"
MODULE_MM: Final = 0.5
"""QR module size: 0.5 mm reads at 150 dpi (≈ 3 px a module) and from phone cameras."""
QR_ERROR: Final = "q"
QUIET_MODULES: Final = 4


class FontUnavailable(KioskError):
    """The CJK font is missing or cannot be subset."""


def _gb2312(last_row: int) -> frozenset[int]:
    """ASCII, punctuation and the GB 2312 rows 0xA1 (symbols) through ``last_row``: 0xD7 ends
    level 1 (3 755 common hanzi), 0xF7 level 2 (6 763 in all)."""
    chars = set(range(0x20, 0x7F))
    for hi in range(0xA1, last_row + 1):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(ord(bytes([hi, lo]).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    chars.update(range(0x3000, 0x3040))  # CJK punctuation
    chars.update(range(0xFF00, 0xFF70))  # full-width forms
    chars.update((0x00B7, 0x2014, 0x2026, 0x2022, 0x2192, 0x2713, 0x00D7))
    return frozenset(chars)


TIERS: Final = (("gb2312-l1", 0xD7), ("gb2312", 0xF7))
"""The cached subsets, smallest first: a document uses the first that covers its text."""


@dataclass
class FontCache:
    """The CJK font subsets, built once per machine and loaded by every printout."""

    source: Path
    directory: Path
    _built: dict[str, tuple[Path, frozenset[int]]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def default(cls) -> FontCache:
        source = Path(os.environ.get(FONT_ENV) or DEFAULT_FONT)
        directory = Path(
            os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir()) / "caseledger-cache"
        )
        return cls(source, directory)

    def subset(self, tier: int = 0) -> tuple[Path, frozenset[int]]:
        """The cached subset font of ``TIERS[tier]`` and its characters (built on first use,
        a few seconds; later processes find the file)."""
        name, last_row = TIERS[tier]
        with self._lock:
            if name not in self._built:
                self._built[name] = self._build(name, _gb2312(last_row))
            return self._built[name]

    def _build(self, name: str, chars: frozenset[int]) -> tuple[Path, frozenset[int]]:
        try:
            stat = self.source.stat()
        except OSError as exc:
            raise FontUnavailable(
                f"CJK font {self.source} missing (apt-get install fonts-wqy-zenhei): {exc}"
            ) from None
        tag = hashlib.sha256(
            f"{self.source}|{stat.st_size}|{stat.st_mtime_ns}|{name}|{SUBSET_VERSION}".encode()
        ).hexdigest()[:16]
        target = self.directory / f"cjk-{name}-{tag}.ttf"
        if not target.exists():
            from fontTools import subset, ttLib

            try:
                font = ttLib.TTFont(str(self.source), fontNumber=0)
                options = subset.Options()
                options.layout_features = []
                options.hinting = False
                options.notdef_outline = True
                options.name_IDs = ["*"]
                subsetter = subset.Subsetter(options)
                subsetter.populate(unicodes=chars)
                subsetter.subset(font)
                self.directory.mkdir(parents=True, exist_ok=True)
                fd, temp = tempfile.mkstemp(dir=self.directory, suffix=".ttf")
                os.close(fd)
                font.save(temp)
                os.replace(temp, target)
            except Exception as exc:  # fontTools raises many kinds on a bad font
                raise FontUnavailable(f"cannot subset {self.source}: {exc}") from None
        return target, chars

    def font_for(self, texts: Iterable[str]) -> Path:
        """The smallest cached subset covering every character of ``texts``, else the full
        font."""
        needed = {ord(ch) for text in texts for ch in text if ch.isprintable()}
        for tier in range(len(TIERS)):
            path, chars = self.subset(tier)
            if needed <= chars:
                return path
        return self.source


@dataclass(frozen=True)
class Printout:
    """A finished printout: the PDF, its claim and QR text, and the QR's size."""

    pdf: bytes
    claim: PrintClaim
    qr_text: str
    qr_version: int
    qr_mm: float


def qr_code(text: str) -> segno.QRCode:
    """The QR code of claim text: ECC level Q, never boosted, alphanumeric mode."""
    return segno.make_qr(text, error=QR_ERROR, boost_error=False)


MAX_CONTENT_ROWS: Final = 8
"""Certificate content fields printed (after the fixed rows)."""


def _rows(
    document: VerifiedDocument, claim: PrintClaim, holder: MaskedIdentity | None
) -> list[tuple[str, str]]:
    body = document.body
    rows = [
        ("办件编号 Serial No.", document.serial),
        ("事项名称 Service item", document.item_name),
    ]
    if document.kind is ClaimKind.E_CERTIFICATE:
        rows.append(("证照编号 Certificate ID", document.subject))
        rows.append(("持证人 Holder", holder_text(holder)))
        content = body.get("content")
        if isinstance(content, dict):
            shown = [
                (str(k), v)
                for k, v in content.items()
                if str(k) not in HIDDEN_CONTENT and str(k) != "holder"
            ]
            for name, value in shown[:MAX_CONTENT_ROWS]:
                rows.append((content_label(name), content_value(value)[:60]))
        rows.append(("证照状态 Status", "现行有效 current"))
    else:
        rows.append(("结果 Result", str(body.get("conclusion") or document.title)))
        reasons = body.get("reasons")
        if isinstance(reasons, list) and reasons:
            rows.append(("理由 Reasons", "；".join(str(r) for r in reasons)[:120]))
    rows += [
        ("办理部门 Department", f"{document.issuer_name}（{document.issuer}）"),
        ("出具时间 Issued", chinese_datetime(document.issued_at)),
        ("电子印章 E-seal", f"密钥 key {document.seal_key_id.hex()}，Ed25519，核验通过 verified"),
        ("内容摘要 SHA-256", document.content_hash.hex()),
        ("账本序号 Ledger entry", f"{document.sequence}（{document.entry_hash.hex()[:32]}…）"),
        (
            "区块链存证 Anchored",
            f"检查点 checkpoint size {document.anchor.checkpoint_size}，区块高度 block "
            f"{document.anchor.block_height}，{len(document.anchor.cosigners)} 个验证节点共同签名",
        ),
        ("账本 Ledger", document.anchor.origin),
        ("打印时间 Printed", chinese_datetime(claim.printed)),
        ("自助终端 Kiosk", f"{claim.kiosk}　打印编号 print {claim.print_id.hex()}"),
    ]
    return rows


def render_pdf(
    document: VerifiedDocument,
    claim: PrintClaim,
    qr_text: str,
    fonts: FontCache,
    holder: MaskedIdentity | None = None,
) -> Printout:
    """Lay out the A4 printout of ``document`` with the QR of ``qr_text``; a certificate's
    ``holder`` is printed masked (``kiosk.labels.holder_text``), withheld when None."""
    from fpdf import FPDF

    rows = _rows(document, claim, holder)
    heading = "政务服务办理结果" if document.kind is ClaimKind.RESULT_DOCUMENT else "电子证照打印件"
    seal_line = (
        f"本结果由{document.issuer_name}加盖电子印章。电子印章与实物印章具有同等法律效力"
        "（GZ16·14）。This result is e-sealed by the department; an e-seal equals a paper seal."
    )
    texts = [heading, seal_line, *(a + b for a, b in rows)]
    font = fonts.font_for(texts)
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_creator("caseledger kiosk")
    pdf.set_title(f"{heading} {document.serial}")
    pdf.add_font("cjk", fname=str(font))
    pdf.add_page()
    pdf.set_font("cjk", size=20)
    pdf.set_xy(15, 15)
    pdf.cell(180, 11, heading, align="C")
    pdf.set_font("cjk", size=10)
    pdf.set_xy(15, 27)
    pdf.cell(180, 6, "Government service result — printed at a self-service kiosk", align="C")
    pdf.set_draw_color(160, 0, 0)
    pdf.line(15, 35, 195, 35)
    y = 40.0
    for label, value in rows:
        pdf.set_font("cjk", size=10)
        pdf.set_xy(15, y)
        pdf.multi_cell(50, 6.5, label, align="L")
        label_end = pdf.get_y()
        pdf.set_font("cjk", size=11)
        pdf.set_xy(66, y)
        pdf.multi_cell(129, 6.5, value, align="L")
        y = max(y + 7.5, label_end + 1, pdf.get_y() + 1)
    pdf.set_draw_color(160, 0, 0)
    pdf.line(15, y + 2, 195, y + 2)
    pdf.set_font("cjk", size=10)
    pdf.set_xy(15, y + 5)
    pdf.multi_cell(180, 6, seal_line, align="L")
    code = qr_code(qr_text)
    width = code.symbol_size(border=0)[0]
    side = width * MODULE_MM
    x0, y0 = 195 - side, 282 - side
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(code.matrix):
        c = 0
        while c < width:
            if row[c]:
                start = c
                while c < width and row[c]:
                    c += 1
                pdf.rect(
                    x0 + start * MODULE_MM,
                    y0 + r * MODULE_MM,
                    (c - start) * MODULE_MM,
                    MODULE_MM,
                    style="F",
                )
            else:
                c += 1
    pdf.set_xy(15, y0)
    pdf.set_font("cjk", size=10)
    pdf.multi_cell(
        195 - side - 25,
        6,
        "扫码核验 Scan to verify\n"
        "任何人可离线核验本打印件：caseledger kiosk verify <本文件或照片>。"
        "Anyone can verify this printout offline against the ledger's trust policy; "
        "--online also checks it was not revoked since.\n"
        f"二维码 QR：版本 version {code.version}，纠错等级 level Q，{side:.1f} mm",
        align="L",
    )
    return Printout(bytes(pdf.output()), claim, qr_text, int(code.version), round(side, 1))
