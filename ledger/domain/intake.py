"""What a department may not ask of an applicant at intake: the grounds of a correction or a
non-acceptance, declared as codes (RULES.md "Further obligations").

Layer: domain (standard library and ``ledger.domain.rules``). A correction notice (补正通知书) or
a non-acceptance / return notice (不予受理 / 退件通知书) may name, per material, the ground
(:class:`DefectGround`) of its reason. The reason stays free text for the applicant; the ground
is the structured part the ledger judges — no text matching. Refused, recording nothing:

- a material refused because it is electronic (部门不得拒收和拒用电子材料, NH·18);
- a paper re-signature of a material submitted e-signed or as an e-certificate
  (不得要求服务对象在书式材料上重新签名, PY·12(一));
- a case handled at the window made to go through the online process afterwards
  (不得要求申请人补填网上流程, FZ·23) — by a ground or by an online material delivery;
- a non-acceptance because shared data could not be fetched: the applicant may submit the
  material instead (应允许群众提交资质材料, FZ·13), which a correction may ask for.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from ledger.domain.rules import (
    ElectronicMaterialRefused,
    InvalidCaseStep,
    OnlineBackfillDemanded,
    PaperResignatureDemanded,
    SharedDataNotFetched,
)

__all__ = ["E_SIGNED_FORMS", "DefectGround", "check_delivery", "check_grounds"]

E_SIGNED_FORMS: Final = frozenset({"e_signed", "e_certificate"})
"""Material forms (``MaterialForm`` values) that carry a valid electronic signature or seal."""


class DefectGround(StrEnum):
    """补正 / 不予受理的理由类别: why a material is asked for again or the case is not accepted."""

    MISSING = "missing"
    """缺少材料"""
    DEFECTIVE = "defective"
    """内容不符合要求"""
    ILLEGIBLE = "illegible"
    """不清晰可辨"""
    SHARED_DATA_UNAVAILABLE = "shared_data_unavailable"
    """共享数据无法调取 — the applicant submits it (a correction), never a non-acceptance (FZ·13)"""
    ELECTRONIC_NOT_PAPER = "electronic_not_paper"
    """材料为电子件、要求纸质件 — never (NH·18)"""
    PAPER_RESIGNATURE = "paper_resignature"
    """要求在纸质材料上重新签名 — never for an e-signed material (PY·12(一))"""
    ONLINE_BACKFILL = "online_backfill"
    """要求补填网上流程 — never for a case handled at the window (FZ·23)"""


def check_grounds(
    grounds: object,
    *,
    codes: frozenset[str],
    forms: Mapping[str, str],
    at_window: bool,
    refusal: bool,
) -> dict[str, DefectGround]:
    """The grounds by material code, checked. ``codes``: the materials the notice may name;
    ``forms``: the form of each material the applicant submitted; ``at_window``: the case was
    submitted at the window; ``refusal``: a non-acceptance or return (not a correction)."""
    if grounds is None:
        return {}
    if not isinstance(grounds, Mapping):
        raise InvalidCaseStep("grounds", "must map material codes to grounds")
    out: dict[str, DefectGround] = {}
    for code, value in grounds.items():
        where = f"grounds[{code}]"
        if code not in codes:
            raise InvalidCaseStep(where, "names no material of this notice")
        try:
            ground = DefectGround(value)
        except ValueError:
            allowed = ", ".join(repr(g.value) for g in DefectGround)
            raise InvalidCaseStep(where, f"unknown ground {value!r}: expected {allowed}") from None
        if ground is DefectGround.ELECTRONIC_NOT_PAPER:
            raise ElectronicMaterialRefused(
                where,
                "departments accept and use electronic materials (部门不得拒收和拒用电子材料)",
            )
        if ground is DefectGround.PAPER_RESIGNATURE and forms.get(code) in E_SIGNED_FORMS:
            raise PaperResignatureDemanded(
                where,
                f"submitted {forms[code]}: no re-signature on paper of an e-signed material",
            )
        if ground is DefectGround.ONLINE_BACKFILL and at_window:
            raise OnlineBackfillDemanded(
                where, "the case was handled at the window: no online process afterwards"
            )
        if ground is DefectGround.SHARED_DATA_UNAVAILABLE and refusal:
            raise SharedDataNotFetched(
                where,
                "shared data that cannot be fetched is asked of the applicant (a correction), "
                "not a ground to refuse the case",
            )
        out[str(code)] = ground
    return out


def check_delivery(method: str, *, at_window: bool) -> None:
    """A case handled at the window has its materials on site: no online delivery afterwards
    (FZ·23)."""
    if at_window and method == "online":
        raise OnlineBackfillDemanded(
            "method", "the case was handled at the window: its materials are not re-sent online"
        )
