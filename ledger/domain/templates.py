"""The published standard templates (标准化模板) and the check of every document against them.

Layer: domain data (standard library and ``ledger.domain.rules``). FZ·16: "行政服务部门应结合实际
制作并公开网上行政审批和公共服务申请表、受理承诺单、不予受理通知单、缺件通知书、补齐补正通知书、整改
通知书、窗口否决报备单等标准化模板". The ledger publishes that set here, one :class:`Template` per
title, with the fields a document issued from it must state; :mod:`ledger.domain.documents`
and :mod:`ledger.domain.sealed` check every document against its template when it is issued
(:func:`check_against_template`), so a notice missing a field of the published template is
refused naming the field and records nothing. ``caseledger templates`` and ``GET
/v1/templates`` print the set and its digest (:func:`templates_digest`), so an auditor can
compare the published set with the one the ledger enforced.

Choices where FZ·16 is silent (docs/OBLIGATIONS.md "Published templates"):

- 缺件通知书 is the one-time correction notice (补齐补正通知书) listing the missing materials:
  GZ20·11 and FZ·15 allow ONE notice for everything missing or defective, so a separate
  missing-materials notice would be a second notice. Both titles point at ``correction_notice``.
- 整改通知书 (责令整改, FZ·25, FZ·26) is the supervision order of the managing office
  (``SupervisionService.issue``): the office holds no e-seal, so the order is a signed command,
  not a sealed document; its template lists the order's fields.
- 申请表 is each guide's own form (its materials, GZ16·18, PY·24), not one ledger document.
- 窗口否决报备单: recorded with every refusal of a window application (不予受理 or 退件 of a case
  whose channel is the window), reported to the managing office (行政服务管理机构) and shown
  in the supervision view.

The module names document kinds by their text values (``ledger.domain.documents`` imports it,
so it cannot import them); ``tests/ledger/test_templates.py`` checks each is a real kind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

from ledger.domain.rules import DocumentOffTemplate

__all__ = [
    "BASIS",
    "MANAGING_OFFICE",
    "PUBLISHED_TEMPLATES",
    "Template",
    "check_against_template",
    "template_for",
    "templates_digest",
]

BASIS: Final = "FZ·16"
MANAGING_OFFICE: Final = "行政服务管理机构"
"""Who receives a window-veto report (报备): the office that supervises the halls (FZ·24, FZ·25)."""


@dataclass(frozen=True)
class Template:
    """One published template: its title, the document kind issued from it (``""`` when the
    ledger issues no sealed document of it), the fields that document states, how it is
    issued, and the articles it serves."""

    title: str
    kind: str
    fields: tuple[str, ...]
    issued_by: str
    articles: str
    note: str = ""


PUBLISHED_TEMPLATES: Final[tuple[Template, ...]] = (
    Template(
        "网上行政审批和公共服务申请表",
        "",
        ("materials", "forms"),
        "the guide of each item (its materials and blank forms)",
        "FZ·16, GZ16·18, PY·24",
        "each item's own form, published with its guide",
    ),
    Template(
        "受理承诺单",
        "acceptance_receipt",
        ("accepted_on", "due", "promised_limit_days", "item_name", "applicant"),
        "CaseService.accept / deem_accepted",
        "FZ·16, FZ·15, NH·14",
    ),
    Template(
        "不予受理通知单",
        "non_acceptance_notice",
        ("reasons", "item_name", "applicant"),
        "CaseService.not_accept",
        "FZ·16, GZ16·12",
    ),
    Template(
        "缺件通知书",
        "correction_notice",
        ("materials", "round", "basis"),
        "CaseService.request_correction",
        "FZ·16, GZ20·11, FZ·15",
        "the one-time correction notice listing the missing materials (one notice only)",
    ),
    Template(
        "补齐补正通知书",
        "correction_notice",
        ("materials", "round", "basis"),
        "CaseService.request_correction",
        "FZ·16, GZ20·11, FZ·15",
    ),
    Template(
        "整改通知书",
        "",
        ("department", "reason", "details", "due"),
        "SupervisionService.issue (责令整改, a signed supervision order)",
        "FZ·16, FZ·25, FZ·26",
        "the managing office orders the rectification; it holds no e-seal",
    ),
    Template(
        "窗口否决报备单",
        "window_veto_report",
        ("decision", "reasons", "item_code", "item_name", "applicant", "reported_to", "basis"),
        "CaseService.not_accept / return_case of a window application (recorded with it)",
        "FZ·16",
        f"reported to the {MANAGING_OFFICE}; listed in the supervision view",
    ),
)
"""The published set, in FZ·16's order."""

_BY_KIND: Final[Mapping[str, Template]] = {t.kind: t for t in PUBLISHED_TEMPLATES if t.kind}


def template_for(kind: str) -> Template | None:
    """The published template documents of ``kind`` are issued from, or None."""
    return _BY_KIND.get(str(kind))


def check_against_template(kind: str, body: Mapping[str, Any]) -> None:
    """Refuse (:class:`DocumentOffTemplate` naming ``body.<field>``) a document of a published
    template's kind that leaves out one of the template's fields (FZ·16)."""
    template = template_for(kind)
    if template is None:
        return
    for name in template.fields:
        if body.get(name) in (None, "", [], {}):
            raise DocumentOffTemplate(
                f"body.{name}",
                f"the published template {template.title} ({BASIS}) states its {name}",
            )


def templates_digest() -> str:
    """SHA-256 (hex) of the published set as canonical JSON: the version an auditor compares."""
    data = [asdict(t) for t in PUBLISHED_TEMPLATES]
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
