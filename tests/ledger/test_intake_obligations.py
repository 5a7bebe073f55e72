"""What the platform may ask of an applicant at intake (RULES.md "Further obligations"), each
expectation read off the article:

- GZ20·12 "网上办事的流程环节、所需材料、所需填报表单、办理时限均不得多于实体窗口所需内容" and
  "申请人在线下办理业务时，不得强制要求其先到线上预约或在线提交申请材料";
- FZ·23 "已在实体大厅办理的事项，不得要求申请人补填网上流程";
- GZ20·10 "除法律法规要求必须提供纸质材料或必须到现场外，应提供全流程网上办理服务能力";
- NH·18 "部门不得拒收和拒用电子材料"; PY·12(一) "对于已经提交符合电子签名要求的电子材料，各部门
  不得要求服务对象在书式材料上重新签名";
- GZ16·4 / PY·4(六) "对无法共享的信息，信息所属部门需提供充分的法律依据，并通过智慧政务服务告知服务
  对象"; FZ·13 "共享的可信电子文件信息在不齐全或更新不及时而无法调用的情况下……应允许群众提交
  资质材料";
- GZ16·18 / PY·24 "示范文本及空表", FZ·7 "结果样本".

Every refusal records nothing (the chain head does not move)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.domain.calendar import deadline
from ledger.domain.cases import CaseState, SubmittedMaterial
from ledger.domain.catalogue import FormSpec, Guide, HandlingMode, MaterialSpec, ServiceItem
from ledger.domain.rules import (
    AuthenticationTooLow,
    ElectronicMaterialRefused,
    FullOnlineBasisMissing,
    GuideFormsOrLimitExceedWindow,
    GuideOnlineExceedsWindow,
    GuideSamplesMissing,
    InvalidCaseStep,
    OnlineBackfillDemanded,
    PaperResignatureDemanded,
    SharedDataNotFetched,
    SharingBasisMissing,
    WindowApplicantForcedOnline,
)
from ledger.services.cases import Outcome
from tests.ledger.case_world import FOOD, World, food_guide, opened_world
from tests.ledger.test_case_lifecycle import refused


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with opened_world(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tmp_path) as w:
        yield w


def republish(world: World, guide: Guide) -> None:
    """Publish ``guide`` as the food item's next version."""
    item = world.ledger.repository.get(ServiceItem.id_for(FOOD))
    item.publish_version(guide)
    world.ledger.save_signed(item, signer=world.food)


def ask(world: World, serial: str, ground: str, **defects: str) -> Outcome:
    """A correction request for ``defects`` (material code, with '-' as '_' → reason), every
    one on ``ground``."""
    listed = {code.replace("_", "-"): reason for code, reason in defects.items()}
    grounds = dict.fromkeys(listed, ground)
    return world.cases.request_correction(serial, listed, grounds=grounds, signer=world.food)


FORM = FormSpec("APPLY", "申请书", blank_form="https://zwfw.example/a.docx", sample_text="s.pdf")


# --- GZ20·12: online forms and time limit no more than the window's --------------------------


def test_a_form_filled_in_online_but_not_at_the_window_is_refused_GZ20_12() -> None:
    online_only = FormSpec("EXTRA", "网上补充信息表", "b.docx", "s.pdf", online=True, window=False)
    with pytest.raises(GuideFormsOrLimitExceedWindow) as caught:
        food_guide(forms=(FORM, online_only))
    assert caught.value.field == "forms"
    assert "EXTRA" in str(caught.value)
    assert caught.value.rule == "GZ20·12"
    assert isinstance(caught.value, GuideOnlineExceedsWindow)  # the same family as steps
    window_only = FormSpec("PAPER", "现场签名确认表", "b.docx", "s.pdf", online=False, window=True)
    assert food_guide(forms=(FORM, window_only)).forms[1] == window_only


def test_an_online_time_limit_beyond_the_window_is_refused_GZ20_12() -> None:
    with pytest.raises(GuideFormsOrLimitExceedWindow) as caught:
        food_guide(promised_limit_days=20, online_promised_limit_days=21)
    assert caught.value.field == "online_promised_limit_days"
    assert food_guide(online_promised_limit_days=20).online_limit_days == 20
    assert food_guide(online_promised_limit_days=15).online_limit_days == 15
    assert food_guide().online_limit_days == 20  # none stated: the window's


def test_an_online_application_runs_on_the_shorter_online_limit_GZ20_12(world: World) -> None:
    republish(world, food_guide(online_promised_limit_days=15))
    online = world.submit_food().serial
    window = world.submit_food(channel="window").serial
    assert world.case(online).promised_limit_days == 15
    assert world.case(window).promised_limit_days == 20
    world.to_accepted(online)
    world.cases.accept(window, signer=world.food)
    today = world.clock.today
    assert world.case(online).due == deadline(today, 15).due
    assert world.case(window).due == deadline(today, 20).due


# --- GZ20·12: no forced online pre-step ----------------------------------------------------


def test_a_guide_reaching_the_window_only_through_an_online_step_is_not_published_GZ20_12(
    world: World,
) -> None:
    for modes in [(HandlingMode.ONLINE_PRE_ACCEPTANCE,), (HandlingMode.FORM_GENERATION,)]:
        guide = food_guide(handling_modes=modes)
        with pytest.raises(WindowApplicantForcedOnline) as caught:
            ServiceItem.publish(dataclasses.replace(guide, implementation_code="NEW-ITEM-01"))
        assert caught.value.field == "handling_modes"
        refused(world, WindowApplicantForcedOnline, lambda g=guide: republish(world, g))
    republish(world, food_guide(handling_modes=(HandlingMode.FORM_GENERATION, "window")))


def test_a_window_application_needs_no_appointment_nor_online_authentication_GZ20_12(
    world: World,
) -> None:
    """The basic-level applicant may not apply online (FZ·8) and booked nothing: at the window
    the application is made all the same."""
    refused(
        world,
        AuthenticationTooLow,
        lambda: world.submit_food(applicant=world.basic_person),
    )
    outcome = world.submit_food(channel="window", applicant=world.basic_person)
    case = world.case(outcome.serial)
    assert case.state is CaseState.SUBMITTED
    assert case.channel == "window"
    world.cases.accept(outcome.serial, signer=world.food)
    assert world.case(outcome.serial).state is CaseState.ACCEPTED


# --- FZ·23: no online back-filling of a window case ------------------------------------------


def test_a_window_case_is_not_made_to_deliver_its_materials_online_afterwards_FZ_23(
    world: World,
) -> None:
    serial = world.submit_food(channel="window").serial
    world.cases.pass_pre_review(serial, signer=world.food)
    error = refused(
        world,
        OnlineBackfillDemanded,
        lambda: world.cases.record_material_delivery(serial, "online", signer=world.food),
    )
    assert error.rule == "FZ·23"
    world.cases.record_material_delivery(serial, "on_site", signer=world.food)
    online = world.submit_food().serial
    world.cases.pass_pre_review(online, signer=world.food)
    world.cases.record_material_delivery(online, "online", signer=world.food)  # not back-filling


def test_a_window_case_is_not_asked_to_fill_in_the_online_process_FZ_23(world: World) -> None:
    serial = world.submit_food(channel="window").serial
    reason = "请到网上办事大厅补填申报信息"
    refused(
        world,
        OnlineBackfillDemanded,
        lambda: ask(world, serial, "online_backfill", FLOOR_PLAN=reason),
    )
    online = world.submit_food().serial
    outcome = ask(world, online, "online_backfill", FLOOR_PLAN=reason)
    assert outcome.document is not None
    assert outcome.document.body["materials"][0]["ground"] == "online_backfill"


# --- GZ20·10: full-online capability or the law that requires paper or presence --------------


def test_a_guide_without_full_online_handling_cites_its_legal_basis_GZ20_10() -> None:
    guide = food_guide(full_online_exception="")
    assert HandlingMode.FULL_ONLINE not in guide.handling_modes
    with pytest.raises(FullOnlineBasisMissing) as caught:
        ServiceItem.publish(guide)
    assert caught.value.field == "full_online_exception"
    assert caught.value.rule == "GZ20·10"
    with pytest.raises(FullOnlineBasisMissing):
        ServiceItem.publish(food_guide(full_online_exception="  "))
    ServiceItem.publish(food_guide())  # cites 《食品经营许可管理办法》
    full_online = food_guide(
        full_online_exception="",
        handling_modes=("full_online", "window"),
        materials=tuple(m for m in food_guide().materials if m.online),
    )
    assert ServiceItem.publish(full_online).current_guide.full_online_exception == ""


# --- NH·18, PY·12(一): electronic materials are not refused nor re-signed on paper -----------


def test_a_material_is_not_refused_for_being_electronic_NH_18(world: World) -> None:
    serial = world.submit_food().serial
    error = refused(
        world,
        ElectronicMaterialRefused,
        lambda: ask(world, serial, "electronic_not_paper", FLOOR_PLAN="请提交纸质平面图"),
    )
    assert error.rule == "NH·18"
    assert error.field == "grounds[FLOOR-PLAN]"  # type: ignore[attr-defined]
    grounds = {"APPLICATION": "electronic_not_paper"}
    for refuse in (world.cases.not_accept, world.cases.return_case):
        refused(
            world,
            ElectronicMaterialRefused,
            lambda r=refuse: r(serial, ["请提交纸质件"], grounds=grounds, signer=world.food),
        )
    outcome = ask(world, serial, "illegible", FLOOR_PLAN="平面图不清晰")
    assert outcome.state is CaseState.CORRECTION_REQUESTED


def test_an_e_signed_material_is_not_re_signed_on_paper_PY_12(world: World) -> None:
    signed_ref = world.cases.upload(b"%PDF-1.7\nsigned floor plan\n%%EOF", "application/pdf")
    signed = SubmittedMaterial.e_signed(
        "FLOOR-PLAN", signed_ref.sha256, signed_ref.size, signed_ref.media_type
    )
    materials = [m for m in world.full_food_materials() if m.code != "FLOOR-PLAN"] + [signed]
    serial = world.submit_food(materials).serial
    error = refused(
        world,
        PaperResignatureDemanded,
        lambda: ask(world, serial, "paper_resignature", FLOOR_PLAN="请重新签名", LICENCE="请签名"),
    )
    assert error.rule == "PY·12(一)"
    # The e-certificate (LICENCE) is as signed as the e-signed file: refused alike.
    refused(
        world,
        PaperResignatureDemanded,
        lambda: ask(world, serial, "paper_resignature", LICENCE="请签名"),
    )
    # An unsigned electronic copy may be asked to be signed.
    outcome = ask(world, serial, "paper_resignature", APPLICATION="申请书未签名")
    assert outcome.document is not None
    assert outcome.document.body["materials"] == [
        {"code": "APPLICATION", "name": "食品经营许可申请书", "reason": "申请书未签名",
         "ground": "paper_resignature"}
    ]  # fmt: skip


def test_a_ground_must_be_known_and_name_a_material_of_the_notice(world: World) -> None:
    serial = world.submit_food().serial
    for grounds in [{"FLOOR-PLAN": "because"}, {"HEALTH": "missing"}, ["missing"]]:
        refused(
            world,
            InvalidCaseStep,
            lambda g=grounds: world.cases.request_correction(
                serial, {"FLOOR-PLAN": "缺页"}, grounds=g, signer=world.food
            ),
        )


# --- GZ16·4, PY·4(六), FZ·13: shared and unshareable data ------------------------------------


def test_data_that_is_not_shared_states_its_legal_basis_GZ16_4_PY_4(world: World) -> None:
    with pytest.raises(SharingBasisMissing) as caught:
        MaterialSpec("HEALTH", "从业人员健康证明", False, sharing="not_shareable")
    assert caught.value.field == "materials[HEALTH].sharing_basis"
    assert caught.value.rule == "GZ16·4, PY·4(六)"
    basis = "《中华人民共和国基本医疗卫生与健康促进法》第九十二条"
    health = MaterialSpec("HEALTH", "从业人员健康证明", False, sharing="not_shareable",
                          sharing_basis=basis)  # fmt: skip
    materials = (*(m for m in food_guide().materials if m.code != "HEALTH"), health)
    republish(world, food_guide(materials=materials))
    receipt = world.submit_food().document
    assert receipt is not None
    # Told to the applicant: the application receipt names the basis.
    assert receipt.body["not_shared"] == [
        {"code": "HEALTH", "name": "从业人员健康证明", "basis": basis}
    ]


def test_when_shared_data_cannot_be_fetched_the_applicant_submits_it_FZ_13(world: World) -> None:
    materials = tuple(
        dataclasses.replace(m, sharing="shared") if m.code == "LICENCE" else m
        for m in food_guide().materials
    )
    republish(world, food_guide(materials=materials))
    without = [m for m in world.full_food_materials() if m.code != "LICENCE"]
    serial = world.submit_food(without).serial
    error = refused(
        world,
        SharedDataNotFetched,
        lambda: world.cases.not_accept(
            serial,
            ["营业执照共享数据无法调取"],
            grounds={"LICENCE": "shared_data_unavailable"},
            signer=world.food,
        ),
    )
    assert error.rule == "FZ·13"
    ask(world, serial, "shared_data_unavailable", LICENCE="共享数据无法调取，请上传营业执照")
    world.cases.correct(serial, world.enterprise.id, [world.copy("LICENCE")], signer=world.portal)
    assert world.case(serial).materials["LICENCE"]["form"] == "e_copy"
    world.to_accepted(serial)
    assert world.case(serial).state is CaseState.ACCEPTED


# --- GZ16·18, PY·24, FZ·7: blank forms, sample texts, result sample --------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"forms": ()}, "forms"),
        ({"forms": (dataclasses.replace(FORM, blank_form=""),)}, "forms[APPLY].blank_form"),
        ({"forms": (dataclasses.replace(FORM, sample_text=" "),)}, "forms[APPLY].sample_text"),
        ({"result_sample": ""}, "result_sample"),
    ],
)
def test_a_guide_without_blank_forms_sample_texts_or_result_sample_is_not_published_GZ16_18_PY_24_FZ_7(  # noqa: E501
    changes: dict[str, Any], field: str
) -> None:
    guide = food_guide(**changes)  # a valid guide value, not yet publishable
    with pytest.raises(GuideSamplesMissing) as caught:
        ServiceItem.publish(guide)
    assert caught.value.field == field
    item = ServiceItem.publish(food_guide())
    with pytest.raises(GuideSamplesMissing):
        item.publish_version(guide)
    assert item.current_version == 1


def test_a_guide_stored_before_these_fields_still_reads_but_is_not_republished() -> None:
    data = food_guide().to_dict()
    for name in ("forms", "online_promised_limit_days", "full_online_exception"):
        del data[name]
    for material in data["materials"]:
        del material["sharing"], material["sharing_basis"]
    old = Guide.from_dict(data)
    assert old.forms == () and old.online_limit_days == old.promised_limit_days
    with pytest.raises(FullOnlineBasisMissing):
        old.check_publishable()
