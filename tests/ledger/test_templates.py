"""Published standard templates and the window-veto report (FZ·16): "行政服务部门应结合实际制作
并公开……受理承诺单、不予受理通知单、缺件通知书、补齐补正通知书、整改通知书、窗口否决报备单等标准化模板".

Every template names a real document kind; a notice that leaves out a field of its template
is refused (recording nothing); a window application refused at the window carries a sealed
窗口否决报备单, reported to the managing office and shown in the supervision view, while an
online application refused carries none."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.chain.seals import verify_document
from ledger.domain.documents import DocumentKind, SignedDocument, issue_document
from ledger.domain.rules import DocumentOffTemplate, InvalidDocument, ReasonRequired
from ledger.domain.sealed import SealedKind
from ledger.domain.templates import (
    MANAGING_OFFICE,
    PUBLISHED_TEMPLATES,
    template_for,
    templates_digest,
)
from ledger.storage.urls import parse_storage_url
from projections.runner import catch_up, open_view
from projections.supervision import SupervisionView, flags
from tests.ledger import test_case_lifecycle as lifecycle
from tests.ledger.case_world import FOOD_DEPT, World
from tests.ledger.test_case_lifecycle import refused

world = lifecycle.world
ROOT = Path(__file__).resolve().parents[2]

FZ_16_TITLES = (
    "受理承诺单",
    "不予受理通知单",
    "缺件通知书",
    "补齐补正通知书",
    "整改通知书",
    "窗口否决报备单",
)
"""The notices FZ·16 names (besides the application form, each guide's own)."""


def test_the_published_set_holds_every_template_FZ_16_names_each_of_a_real_kind() -> None:
    titles = [t.title for t in PUBLISHED_TEMPLATES]
    assert set(FZ_16_TITLES) <= set(titles)
    kinds = {k.value for k in DocumentKind} | {k.value for k in SealedKind}
    for template in PUBLISHED_TEMPLATES:
        assert template.kind == "" or template.kind in kinds, template.title
        assert template.fields, template.title
        assert "FZ·16" in template.articles
    veto = template_for("window_veto_report")
    assert veto is not None and veto.title == "窗口否决报备单"
    assert {"decision", "reasons", "reported_to"} <= set(veto.fields)
    assert len(templates_digest()) == 64


def test_a_notice_missing_a_field_of_its_template_is_refused_FZ_16(world: World) -> None:
    at = dt.datetime(2026, 9, 28, 2, tzinfo=dt.UTC)
    with pytest.raises(DocumentOffTemplate) as caught:
        issue_document(
            "non_acceptance_notice",
            serial="GZ-2026-000001",
            issuer_department=FOOD_DEPT,
            issued_at=at,
            body={"reasons": ["材料不齐"], "applicant": "x"},  # no item_name
            signer=world.food,
        )
    assert caught.value.field == "body.item_name" and caught.value.rule == "FZ·16"
    assert isinstance(caught.value, InvalidDocument)  # parsed documents keep their old check


def test_a_window_application_refused_carries_a_sealed_window_veto_report_FZ_16(
    world: World,
) -> None:
    serial = world.submit_food(channel="window").serial
    world.cases.not_accept(serial, ["申请事项不属于本机关职权范围"], signer=world.food)
    documents = world.case(serial).documents
    kinds = [d["kind"] for d in documents]
    assert kinds[-2:] == ["window_veto_report", "non_acceptance_notice"]
    report = SignedDocument.from_dict(documents[-2])
    assert verify_document(report, world.food.public_key)
    assert report.issuer_department == FOOD_DEPT and report.serial == serial
    assert report.body["decision"] == "non_acceptance_notice"
    assert report.body["reasons"] == ["申请事项不属于本机关职权范围"]
    assert report.body["reported_to"] == MANAGING_OFFICE == "行政服务管理机构"
    assert report.body["basis"] == "FZ·16"

    view = open_view(SupervisionView, parse_storage_url(world.url))
    catch_up(view, world.ledger)
    raised = [f for f in flags(view, today=dt.date(2026, 9, 28)) if f.flag == "window_veto"]  # type: ignore[arg-type]
    assert [(f.case_serial, f.department) for f in raised] == [(serial, FOOD_DEPT)]
    assert "申请事项不属于本机关职权范围" in raised[0].detail


def test_an_online_application_refused_carries_no_window_veto_report(world: World) -> None:
    serial = world.submit_food().serial  # online (web)
    world.cases.return_case(serial, ["材料与申请事项无关"], signer=world.food)
    kinds = [d["kind"] for d in world.case(serial).documents]
    assert "window_veto_report" not in kinds and kinds[-1] == "return_notice"


def test_a_window_return_is_reported_too_and_a_refused_refusal_records_nothing(
    world: World,
) -> None:
    serial = world.submit_food(channel="window").serial
    refused(world, ReasonRequired, lambda: world.cases.return_case(serial, [], signer=world.food))
    world.cases.return_case(serial, ["申请人撤回纸质材料"], signer=world.food)
    kinds = [d["kind"] for d in world.case(serial).documents]
    assert kinds[-2:] == ["window_veto_report", "return_notice"]


def test_caseledger_templates_prints_the_set_and_its_digest() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "templates"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first == f"7 published templates (FZ·16), digest sha256:{templates_digest()}"
    assert "窗口否决报备单\n  kind      window_veto_report" in done.stdout
