"""Demo stage "cases": a city's service catalogue, applicants, and a few hundred cases.

Layer: api (demo). Publishes six service items with their guides, registers sixty applicants
(valid resident IDs and unified social credit codes, personal data sealed), then drives ≈300
cases through every path of the lifecycle (RULES.md "Case lifecycle") with simulated business
dates over the weeks before 2026-11-20: straight approval, correction then approval, a second
correction request (one refused, one recorded), disapproval, non-acceptance, return,
withdrawal, special procedure, deemed acceptance (ALL·32), courier and public-notice delivery.
Some cases are left open — pending pre-review, accepted, paused — for the read models.
Everything goes through :class:`~ledger.services.cases.CaseService`, the surface the HTTP API and
kiosk use; only the clock is simulated. Finally one applicant is erased (data key destroyed).
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from api.bootstrap import enrol_actor
from api.demo.main import DEPARTMENTS, DemoContext, Stage
from api.services import Services, build_services, sqlite_side_paths
from ledger.domain.applicants import Applicant
from ledger.domain.calendar import is_working_day
from ledger.domain.cases import SubmittedMaterial
from ledger.domain.catalogue import (
    FormSpec,
    Guide,
    HandlingMode,
    ItemType,
    MaterialSpec,
    ResultType,
    Retention,
    ServiceItem,
    Sharing,
)
from ledger.domain.certificate_id import make_certificate_id
from ledger.domain.departments import Department
from ledger.domain.identity import (
    parse_credential,
    resident_id_check_character,
    uscc_check_character,
    validate_uscc,
)
from ledger.domain.keys import KeyRole
from ledger.domain.personal_data import ERASED, PersonalData
from ledger.domain.result_delivery import IdCheck, IdDocument
from ledger.domain.signer import Signer
from ledger.errors import RuleViolation

SHANGHAI: Final = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
FIRST_DAY: Final = dt.date(2026, 9, 1)
LAST_DAY: Final = dt.date(2026, 11, 20)
NOW: Final = dt.datetime(2026, 11, 20, 18, 0, tzinfo=SHANGHAI)
CASES: Final = 300
PERSONS: Final = 44
ENTERPRISES: Final = 16
OPEN_SHARE: Final = 0.14
PORTAL_ACTOR: Final = "portal:gov-service-platform"

PATHS: Final = {
    "approved": 30,
    "corrected_then_approved": 12,
    "second_correction": 5,
    "disapproved": 7,
    "not_accepted": 6,
    "returned": 5,
    "withdrawn": 6,
    "special_procedure": 8,
    "deemed_accepted": 5,
    "courier_delivery": 10,
    "public_notice": 3,
}
"""Relative weights of the paths a case takes."""

PATH_NAMES: Final = {
    "approved": "approved",
    "corrected_then_approved": "corrected→approved",
    "second_correction": "second correction",
    "disapproved": "disapproved",
    "not_accepted": "not accepted",
    "returned": "returned",
    "withdrawn": "withdrawn",
    "special_procedure": "special procedure",
    "deemed_accepted": "deemed accepted (ALL·32)",
    "courier_delivery": "courier delivery",
    "public_notice": "public notice",
}


# --- the catalogue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemPlan:
    """A service item of the demo city and who applies for it."""

    guide: Guide
    for_enterprises: bool
    weight: int
    defects: tuple[tuple[str, str], ...]
    """(material code, reason) a correction request may list."""
    procedures: tuple[str, ...] = ()


def _m(
    code: str, name: str, required: bool = True, *types: str, online: bool = True
) -> MaterialSpec:
    return MaterialSpec(code, name, required, tuple(types), online=online)


def _form(item: str, code: str, name: str) -> FormSpec:
    """A form with its blank form (空表) and sample text (示范文本), as the platform publishes
    them (GZ16·18, PY·24)."""
    base = f"https://zwfw.example.gov.cn/guides/{item}/{code.lower()}"
    return FormSpec(code, name, blank_form=f"{base}-blank.docx", sample_text=f"{base}-sample.pdf")


def _catalogue() -> tuple[ItemPlan, ...]:
    return (
        ItemPlan(
            Guide(
                name="食品经营许可",
                basic_code="00012307800Y",
                implementation_code="GZ-SCJG-SPJY-001",
                item_type=ItemType.LICENCE,
                department="GZ-SCJG",
                legal_basis=(
                    "《中华人民共和国食品安全法》第三十五条",
                    "《食品经营许可和备案管理办法》",
                ),
                acceptance_conditions="具有与经营的食品品种、数量相适应的食品原料处理和食品加工、销售、贮存等场所",
                materials=(
                    _m("APPLICATION", "食品经营许可申请书"),
                    _m("LICENCE", "营业执照", True, "营业执照"),
                    _m("ID", "法定代表人身份证明", True, "居民身份证"),
                    _m("FLOOR-PLAN", "经营场所平面布局图"),
                    _m("SAFETY-RULES", "食品安全管理制度"),
                    _m("HEALTH", "从业人员健康证明", False),
                ),
                window_steps=("申请", "受理", "审查", "现场核查", "决定", "送达"),
                online_steps=("网上申请", "审查", "决定", "送达"),
                statutory_limit_days=20,
                promised_limit_days=20,
                handling_modes=(
                    HandlingMode.FULL_ONLINE,
                    HandlingMode.ONLINE_PRE_ACCEPTANCE,
                    HandlingMode.WINDOW,
                ),
                retention=Retention.YEARS_30,
                hotline="12345",
                result_type=ResultType.CERTIFICATE,
                result_sample="食品经营许可证（正副本样本）",
                forms=(_form("GZ-SCJG-SPJY-001", "APPLY-FORM", "食品经营许可申请书"),),
            ),
            for_enterprises=True,
            weight=30,
            defects=(
                ("FLOOR-PLAN", "平面布局图未标注加工区与清洗区"),
                ("HEALTH", "健康证明已过期"),
            ),
            procedures=("site_survey",),
        ),
        ItemPlan(
            Guide(
                name="个体工商户设立登记",
                basic_code="00012306100Y",
                implementation_code="NH-XZFW-GTGSH-002",
                item_type=ItemType.LICENCE,
                department="NH-XZFW",
                legal_basis=(
                    "《促进个体工商户发展条例》",
                    "《中华人民共和国市场主体登记管理条例》",
                ),
                acceptance_conditions="有经营能力的自然人，经营场所合法",
                materials=(
                    _m("APPLICATION", "个体工商户登记（备案）申请书"),
                    _m("ID", "经营者身份证明", True, "居民身份证"),
                    _m("PREMISES", "经营场所使用证明原件", online=False),
                ),
                window_steps=("申请", "受理", "核准", "发照"),
                online_steps=("网上申请", "核准", "发照"),
                statutory_limit_days=15,
                promised_limit_days=3,
                handling_modes=(HandlingMode.ONLINE_PRE_ACCEPTANCE, HandlingMode.WINDOW),
                retention=Retention.YEARS_30,
                hotline="12345",
                result_type=ResultType.CERTIFICATE,
                result_sample="个体工商户营业执照（样本）",
                forms=(_form("NH-XZFW-GTGSH-002", "APPLY-FORM", "个体工商户登记（备案）申请书"),),
                full_online_exception="《促进个体工商户发展条例》：经营场所使用证明原件须现场核验",
            ),
            for_enterprises=False,
            weight=20,
            defects=(("APPLICATION", "经营范围表述不规范"), ("ID", "身份证明与申请人不一致")),
        ),
        ItemPlan(
            Guide(
                name="建筑工程施工许可",
                basic_code="00011904300Y",
                implementation_code="FZ-SPJ-SGXK-003",
                item_type=ItemType.LICENCE,
                department="FZ-SPJ",
                legal_basis=("《中华人民共和国建筑法》第七条", "《建筑工程施工许可管理办法》"),
                acceptance_conditions="已办理用地批准手续，已取得建设工程规划许可证，施工图审查合格",
                materials=(
                    _m("APPLICATION", "建筑工程施工许可申请表"),
                    _m("LAND", "不动产权证书", True, "不动产权证书"),
                    _m("PLANNING", "建设工程规划许可证", True, "建设工程规划许可证"),
                    _m("DRAWINGS", "施工图设计文件审查合格书"),
                    _m("CONTRACT", "施工合同及中标通知书"),
                    _m("FUNDS", "建设资金已落实承诺书"),
                ),
                window_steps=("申请", "受理", "审查", "现场踏勘", "决定", "送达"),
                online_steps=("网上申请", "审查", "决定", "送达"),
                statutory_limit_days=7,
                promised_limit_days=5,
                handling_modes=(HandlingMode.FULL_ONLINE, HandlingMode.WINDOW),
                retention=Retention.PERMANENT,
                hotline="12345",
                result_type=ResultType.CERTIFICATE,
                result_sample="建筑工程施工许可证（样本）",
                forms=(_form("FZ-SPJ-SGXK-003", "APPLY-FORM", "建筑工程施工许可申请表"),),
            ),
            for_enterprises=True,
            weight=15,
            defects=(
                ("DRAWINGS", "审查合格书未加盖审查机构印章"),
                ("FUNDS", "承诺书缺法定代表人签字"),
            ),
            procedures=("site_survey", "expert_review"),
        ),
        ItemPlan(
            Guide(
                name="居住证签注",
                basic_code="00012210400Y",
                implementation_code="GZ-GA-JZZQZ-004",
                item_type=ItemType.PUBLIC_SERVICE,
                department="GZ-GA",
                legal_basis=("《居住证暂行条例》第十三条", "《广东省流动人口服务管理条例》"),
                acceptance_conditions="居住证持有人在居住地连续居住",
                materials=(
                    _m("ID", "居民身份证", True, "居民身份证"),
                    _m("PERMIT", "居住证", True, "居住证"),
                    _m("RESIDENCE", "居住登记证明"),
                ),
                window_steps=("申请", "受理", "签注"),
                online_steps=("网上申请", "签注"),
                statutory_limit_days=15,
                promised_limit_days=3,
                handling_modes=(HandlingMode.FULL_ONLINE, HandlingMode.WINDOW),
                retention=Retention.YEARS_10,
                hotline="12345",
                result_type=ResultType.CERTIFICATE,
                result_sample="居住证签注页（样本）",
                forms=(_form("GZ-GA-JZZQZ-004", "APPLY-FORM", "居住证签注申请表"),),
            ),
            for_enterprises=False,
            weight=20,
            defects=(("RESIDENCE", "居住登记证明已超过有效期"),),
        ),
        ItemPlan(
            Guide(
                name="医师执业注册",
                basic_code="00012402800Y",
                implementation_code="FZ-WJW-YSZC-005",
                item_type=ItemType.LICENCE,
                department="FZ-WJW",
                legal_basis=("《中华人民共和国医师法》第十三条", "《医师执业注册管理办法》"),
                acceptance_conditions="取得医师资格，受聘于医疗卫生机构",
                materials=(
                    _m("APPLICATION", "医师执业注册申请审核表"),
                    _m("QUALIFICATION", "医师资格证书", True, "医师资格证书"),
                    MaterialSpec(
                        "HEALTH",
                        "近6个月内的健康体检证明",
                        True,
                        sharing=Sharing.NOT_SHAREABLE,
                        sharing_basis="《中华人民共和国基本医疗卫生与健康促进法》第九十二条：个人健康信息不予共享",
                    ),
                    _m("EMPLOYMENT", "医疗卫生机构聘用证明"),
                ),
                window_steps=("申请", "受理", "审核", "决定", "发证"),
                online_steps=("网上申请", "审核", "决定", "发证"),
                statutory_limit_days=20,
                promised_limit_days=10,
                handling_modes=(HandlingMode.ONLINE_PRE_ACCEPTANCE, HandlingMode.WINDOW),
                retention=Retention.PERMANENT,
                hotline="12345",
                result_type=ResultType.CERTIFICATE,
                result_sample="医师执业证书（样本）",
                forms=(_form("FZ-WJW-YSZC-005", "APPLY-FORM", "医师执业注册申请审核表"),),
                full_online_exception="《医师执业注册管理办法》第九条：首次注册须本人到场核验身份",
            ),
            for_enterprises=False,
            weight=10,
            defects=(("HEALTH", "体检证明超过6个月"), ("EMPLOYMENT", "聘用证明未盖章")),
            procedures=("expert_review",),
        ),
        ItemPlan(
            Guide(
                name="居民身份证换领",
                basic_code="00012200300Y",
                implementation_code="GZ-GA-SFZHL-006",
                item_type=ItemType.PUBLIC_SERVICE,
                department="GZ-GA",
                legal_basis=("《中华人民共和国居民身份证法》第十一条",),
                acceptance_conditions="居民身份证有效期满或者登记项目有误",
                materials=(
                    _m("PHOTO", "数码相片回执"),
                    _m("ID", "原居民身份证", True, "居民身份证"),
                ),
                window_steps=("申请", "受理", "审核", "制证", "发证"),
                online_steps=("网上申请", "审核", "发证"),
                statutory_limit_days=60,
                promised_limit_days=15,
                fee=Decimal("20"),
                fee_basis="《国家发展改革委 财政部关于居民身份证收费标准及有关问题的通知》",
                handling_modes=(HandlingMode.FULL_ONLINE, HandlingMode.WINDOW),
                retention=Retention.YEARS_10,
                hotline="12345",
                result_type=ResultType.CERTIFICATE,
                result_sample="居民身份证（样本）",
                forms=(_form("GZ-GA-SFZHL-006", "APPLY-FORM", "居民身份证申领登记表"),),
            ),
            for_enterprises=False,
            weight=12,
            defects=(("PHOTO", "相片背景不符合要求"),),
        ),
    )


# --- applicants ------------------------------------------------------------------------------

SURNAMES: Final = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余"
GIVEN: Final = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红"
    "建文志海燕雪梅晓东晨宇浩然欣怡子轩思源嘉豪佳琪"
)
PLACES: Final = (
    ("440106", "广州市天河区", ("天河路", "体育西路", "林和中路", "黄埔大道西")),
    ("440104", "广州市越秀区", ("中山五路", "北京路", "东风中路")),
    ("440605", "佛山市南海区", ("桂城南海大道", "灯湖东路", "海八路")),
    ("350102", "福州市鼓楼区", ("五四路", "杨桥中路", "东街")),
    ("350103", "福州市台江区", ("八一七中路", "江滨西大道")),
    ("430102", "长沙市芙蓉区", ("五一大道", "韶山北路")),
)
TRADES: Final = ("餐饮管理", "食品贸易", "建设工程", "建筑安装", "房地产开发", "供应链管理")
_USCC_SET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _org_code_check(body: str) -> str:
    """GB 11714-1997 check character of an 8-character organisation code."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(
        (int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body, weights, strict=True)
    )
    return {10: "X", 11: "0"}.get(11 - total % 11, str(11 - total % 11))


def _online(person: Person) -> bool:
    return person.applicant.authentication_level.value == "advanced"


def _uscc(rng: Any, prefix: str, region: str) -> str:
    """A unified social credit code (GB 32100) with correct check characters."""
    body = "".join(rng.choice(_USCC_SET) for _ in range(8))
    first17 = prefix + region + body + _org_code_check(body)
    return validate_uscc(first17 + uscc_check_character(first17))


def _resident_id(rng: Any, region: str) -> str:
    born = dt.date(1962, 1, 1) + dt.timedelta(days=rng.randrange(0, 40 * 365))
    first17 = f"{region}{born:%Y%m%d}{rng.randrange(1, 999):03d}"
    return first17 + resident_id_check_character(first17)


@dataclass
class Person:
    applicant: Applicant
    enterprise: bool
    place: int


# --- the simulation --------------------------------------------------------------------------


class SimulatedClock:
    """The demo's clock: the scheduler sets it to each step's business time."""

    def __init__(self, now: dt.datetime) -> None:
        self._now = now

    def now(self) -> dt.datetime:
        return self._now

    def set(self, now: dt.datetime) -> None:
        self._now = now


@dataclass
class Step:
    delay: int
    """Working days after the previous step (0: the same day, a little later)."""
    name: str
    run: Callable[[Run], None]


@dataclass
class Run:
    """One case being driven: its plan, and what happened."""

    number: int
    item: ItemPlan
    person: Person
    path: str
    channel: str
    delivery: str
    steps: list[Step] = field(default_factory=list)
    serial: str = ""
    done: int = 0
    open_at: str = ""
    """If set, the case is still waiting for this step on 2026-11-20."""


class Simulation:
    """Builds the plans, then executes every step of every case in business-time order."""

    def __init__(self, ctx: DemoContext, services: Services, clock: SimulatedClock) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.cases = services.cases
        self.services = services
        self.clock = clock
        self.portal: Signer = ctx.signers[PORTAL_ACTOR]
        self.kiosks = [s for name, s in sorted(ctx.signers.items()) if name.startswith("kiosk:")]
        self.items = _catalogue()
        self.people: list[Person] = []
        self.refused: Counter[str] = Counter()
        self.blacklisted: set[UUID] = set()
        self.runs: list[Run] = []
        self.days = [
            d for d in (FIRST_DAY + dt.timedelta(days=i) for i in range(400)) if is_working_day(d)
        ]
        self.last_index = max(i for i, d in enumerate(self.days) if d <= LAST_DAY)
        self.issuers = {code: _uscc(self.rng, "11", "440100") for code, _n, _c in DEPARTMENTS}

    # -- helpers ------------------------------------------------------------------------------

    def seal(self, department: str) -> Signer:
        return self.ctx.signers[f"dept:{department}"]

    def blob(self, run: Run, code: str, version: int = 1) -> SubmittedMaterial:
        item = run.item.guide.implementation_code
        text = f"%PDF-1.7\n% {item} {code} {run.person.applicant.id} v{version}\n%%EOF"
        ref = self.cases.upload(text.encode(), "application/pdf")
        return SubmittedMaterial.e_copy(code, ref.sha256, ref.size, ref.media_type)

    def material(self, run: Run, spec: MaterialSpec, version: int = 1) -> SubmittedMaterial:
        if spec.certificate_types:
            issuer = self.issuers[run.item.guide.department]
            cert = make_certificate_id(
                issuer + "001", issuer, f"{run.number:08d}{spec.code[:2]}", 1
            )
            return SubmittedMaterial.e_certificate(spec.code, cert, spec.certificate_types[0])
        if not spec.online and run.channel != "window":
            return SubmittedMaterial.paper(spec.code, f"SF{self.rng.randrange(10**11, 10**12)}")
        return self.blob(run, spec.code, version)

    # -- plans --------------------------------------------------------------------------------

    def plan(self, number: int, path: str) -> Run:
        rng = self.rng
        weights = [i.weight for i in self.items]
        item = rng.choices(self.items, weights)[0]
        person = rng.choice([p for p in self.people if p.enterprise == item.for_enterprises])
        if path == "deemed_accepted":  # ALL·32 concerns applications waiting for pre-review
            person = rng.choice(
                [p for p in self.people if p.enterprise == item.for_enterprises and _online(p)]
            )
        online_ok = _online(person)
        channel = rng.choice(("web", "app", "wechat", "kiosk", "window")) if online_ok else "window"
        if path == "deemed_accepted" and channel == "window":
            channel = "web"
        delivery = (
            "courier"
            if path in ("courier_delivery", "public_notice")
            else rng.choice(("online", "online", "on_site"))
        )
        run = Run(number, item, person, path, channel, delivery)
        run.steps = self.steps(run)
        return run

    def steps(self, run: Run) -> list[Step]:
        rng = self.rng
        guide = run.item.guide
        dept = guide.department
        seal = self.seal(dept)
        specs = list(guide.materials)
        omitted: list[str] = []
        if run.path in ("corrected_then_approved", "second_correction", "returned"):
            optional_or_last = [s.code for s in specs if s.certificate_types == () and s.online]
            omitted = optional_or_last[-1:] if run.path != "second_correction" else []
        defects = dict(run.item.defects[: 1 + rng.randrange(len(run.item.defects))])
        for code in omitted:
            defects.setdefault(code, "材料缺失，请补充提交")
        has_paper = run.channel != "window" and any(not s.online for s in specs)
        signer = self.applicant_signer(run)

        def submit(r: Run) -> None:
            materials = [self.material(r, s) for s in specs if s.code not in omitted]
            mode = (
                "window"
                if r.channel == "window"
                else (
                    "full_online"
                    if HandlingMode.FULL_ONLINE in guide.handling_modes
                    else "online_pre_acceptance"
                )
            )
            outcome = self.cases.submit(
                item_code=guide.implementation_code,
                applicant_id=r.person.applicant.id,
                channel=r.channel,
                handling_mode=mode,
                materials=materials,
                delivery=r.delivery,
                signer=signer,
                idempotency_key=f"demo-submit-{r.number:05d}",
            )
            r.serial = outcome.serial

        def do(name: str, *args: Any, signer: Signer = seal) -> Callable[[Run], None]:
            def act(r: Run) -> None:
                getattr(self.cases, name)(r.serial, *args, signer=signer)

            return act

        def correct(round_codes: list[str], version: int) -> Callable[[Run], None]:
            def act(r: Run) -> None:
                by_code = {s.code: s for s in specs}
                fresh = [self.material(r, by_code[c], version) for c in round_codes]
                self.cases.correct(r.serial, r.person.applicant.id, fresh, signer=signer)

            return act

        def refused_second_request(r: Run) -> None:
            others = [s.code for s in specs if s.code not in defects]
            try:
                self.cases.request_correction(r.serial, {others[0]: "补充说明"}, signer=seal)
            except RuleViolation as exc:
                self.refused[exc.code] += 1

        steps = [Step(0, "submit", submit)]
        codes = sorted(defects)
        if run.path == "not_accepted":
            reasons = ["申请事项不属于本机关职权范围", "依法不需要取得行政许可"]
            return [*steps, Step(rng.randint(1, 3), "not_accept", do("not_accept", reasons[:1]))]
        if run.path == "returned":
            return [
                *steps,
                Step(rng.randint(1, 3), "request_correction", do("request_correction", defects)),
                Step(
                    rng.randint(12, 16), "return", do("return_case", ["申请人逾期未补齐补正材料"])
                ),
            ]
        if run.path == "deemed_accepted":
            steps.append(
                Step(
                    6,
                    "deem_accepted",
                    do("deem_accepted", signer=self.ctx.runtime.platform_signer()),
                )
            )
        elif run.path in ("corrected_then_approved", "second_correction"):
            steps.append(
                Step(rng.randint(1, 4), "request_correction", do("request_correction", defects))
            )
            steps.append(Step(rng.randint(1, 5), "correct", correct(codes, 2)))
            if run.path == "second_correction":
                steps.append(Step(1, "second request refused", refused_second_request))
                first = codes[:1]
                steps.append(
                    Step(
                        0,
                        "second request recorded",
                        do("request_correction", {first[0]: "补正后的材料仍不清晰"}),
                    )
                )
                steps.append(Step(rng.randint(1, 3), "correct again", correct(first, 3)))
            steps.extend(self.acceptance(run, seal, has_paper))
        else:
            steps.extend(self.acceptance(run, seal, has_paper))
        if run.path == "withdrawn":
            reason = rng.choice(
                ("经营计划调整", "已通过其他渠道办理", "申请信息填写有误，重新申请")
            )
            steps.append(
                Step(
                    rng.randint(1, 3),
                    "withdraw",
                    do("withdraw", run.person.applicant.id, reason, signer=signer),
                )
            )
            return steps
        if guide.fee > 0:
            steps.append(Step(0, "assess_fee", do("assess_fee", guide.fee)))
            steps.append(
                Step(
                    rng.randint(0, 2),
                    "pay_fee",
                    do(
                        "pay_fee",
                        f"PAY-{run.number:06d}-{rng.randrange(10**6):06d}",
                        guide.fee,
                        signer=self.ctx.runtime.platform_signer(),
                    ),
                )
            )
        if run.path == "special_procedure":
            procedure = rng.choice(run.item.procedures or ("expert_review",))
            days = rng.randint(3, 8)
            steps.append(
                Step(1, "start_special_procedure", do("start_special_procedure", procedure, days))
            )
            steps.append(
                Step(days, "end_special_procedure", do("end_special_procedure", "结论：符合要求"))
            )
        decide_in = rng.randint(1, max(1, guide.promised_limit_days - 1))
        if run.path == "public_notice":
            decide_in = 1
        if run.path == "disapproved":
            reasons = rng.choice(
                (
                    ["经现场核查，经营场所与申请材料不符"],
                    ["不符合法定条件：资金未落实"],
                    ["申请人不具备相应资格条件"],
                )
            )
            steps.append(Step(decide_in, "disapprove", do("disapprove", reasons)))
        else:
            steps.append(Step(decide_in, "approve", do("approve")))
            issuer = self.issuers[dept]
            cert = make_certificate_id(issuer + "002", issuer, f"C{run.number:08d}", 1)
            record = do("record_certificate", cert)
            if rng.random() < 0.5:
                # A result document too; the certificate still comes before dispatch (GZ16·15).
                document = do("issue_result_document")

                def both(r: Run) -> None:
                    document(r)
                    record(r)

                steps.append(Step(1, "issue_result_document", both))
            else:
                steps.append(Step(1, "record_certificate", record))
        return steps + self.delivery(run, seal)

    def applicant_signer(self, run: Run) -> Signer:
        if run.channel == "window":
            return self.seal(run.item.guide.department)
        if run.channel == "kiosk":
            return self.kiosks[run.number % len(self.kiosks)]
        return self.portal

    def acceptance(self, run: Run, seal: Signer, has_paper: bool) -> list[Step]:
        def do(name: str, *args: Any) -> Callable[[Run], None]:
            return lambda r: getattr(self.cases, name)(r.serial, *args, signer=seal)

        if run.channel == "window":
            return [Step(0, "accept", do("accept"))]
        steps = [Step(self.rng.randint(1, 3), "pass_pre_review", do("pass_pre_review"))]
        if has_paper:
            method = self.rng.choice(("courier", "on_site"))
            waybill = f"EMS{self.rng.randrange(10**9, 10**10)}" if method == "courier" else ""

            def delivered(r: Run) -> None:
                self.cases.record_material_delivery(r.serial, method, waybill=waybill, signer=seal)

            steps.append(Step(self.rng.randint(1, 3), "record_material_delivery", delivered))
        steps.append(Step(self.rng.randint(0, 1), "accept", do("accept")))
        return steps

    def delivery(self, run: Run, seal: Signer) -> list[Step]:
        rng = self.rng

        def do(
            name: str, *args: Any, signer: Signer = seal, **kwargs: Any
        ) -> Callable[[Run], None]:
            return lambda r: getattr(self.cases, name)(r.serial, *args, signer=signer, **kwargs)

        waybill = f"EMS{rng.randrange(10**11, 10**12)}"  # a licensed courier (GZ16·16)
        if run.path == "public_notice":
            return [
                Step(1, "dispatch courier", do("dispatch", "courier", waybill=waybill)),
                Step(2, "delivery failed", do("record_delivery_failure", "地址查无此人，快件退回")),
                Step(1, "dispatch on site", do("dispatch", "on_site")),
                Step(5, "delivery failed", do("record_delivery_failure", "短信通知后逾期未领取")),
                Step(1, "public notice", do("deliver_by_public_notice")),
                Step(24, "close", do("close")),  # 24 working days ≥ the 30-day notice period
            ]
        method = run.delivery
        signed_by = self.portal if method == "online" else seal
        recipient = (
            rng.choice(("applicant", "applicant", "agent")) if method != "online" else "applicant"
        )
        # a pick-up at the hall is signed off on a valid ID (FZ·20)
        picked_up = IdCheck(IdDocument.RESIDENT_ID_CARD) if method == "on_site" else None
        return [
            Step(
                rng.randint(0, 1),
                "dispatch",
                do("dispatch", method, waybill=waybill if method == "courier" else ""),
            ),
            Step(
                rng.randint(1, 3),
                "sign_off",
                do("sign_off", recipient, signer=signed_by, id_check=picked_up),
            ),
            Step(rng.randint(0, 1), "close", do("close")),
        ]

    # -- scheduling ---------------------------------------------------------------------------

    def schedule(self, runs: list[Run]) -> list[tuple[dt.datetime, int, int, Run]]:
        """Business times for every step: most cases finish before 2026-11-20, some are open."""
        heap: list[tuple[dt.datetime, int, int, Run]] = []
        for run in runs:
            delays = [s.delay for s in run.steps]
            total = sum(delays)
            names = [s.name for s in run.steps]
            forced = run.open_at in names
            if forced or (self.rng.random() < OPEN_SHARE and len(delays) > 1):
                stop = names.index(run.open_at) if forced else self.rng.randrange(1, len(delays))
                while stop > 1 and delays[stop] == 0:
                    stop -= 1
                before = sum(delays[1:stop])
                start = self.last_index - before - self.rng.randrange(0, max(1, delays[stop]))
            else:
                start = self.rng.randint(0, max(0, self.last_index - total - 1))
            if run.path == "public_notice":
                start = self.rng.randint(0, 3)
            index = max(0, start)
            minute = self.rng.randrange(0, 120)
            for position, step in enumerate(run.steps):
                if step.delay:
                    index += step.delay
                    minute = self.rng.randrange(0, 240)
                else:
                    minute += self.rng.randrange(5, 40)
                day = self.days[index]
                at = dt.datetime(day.year, day.month, day.day, 9, tzinfo=SHANGHAI) + dt.timedelta(
                    minutes=minute
                )
                if at <= NOW:
                    heap.append((at, run.number, position, run))
        heap.sort(key=lambda entry: entry[:3])
        return heap

    def execute(self, timeline: list[tuple[dt.datetime, int, int, Run]]) -> None:
        for at, _number, position, run in timeline:
            if position != run.done:
                continue  # an earlier step of this case did not happen
            self.clock.set(at.astimezone(dt.UTC))
            run.steps[position].run(run)
            run.done += 1


def _seed_city(sim: Simulation) -> None:
    """Departments with their seal keys, the portal key, and the catalogue."""
    ctx = sim.ctx
    runtime = ctx.runtime
    platform = runtime.platform_signer()
    for code, name, city in DEPARTMENTS:
        seal = ctx.signers[f"dept:{code}"]
        runtime.ledger.save_signed(
            Department.register(code, name, city, seal.key_id), signer=platform
        )
    for plan in sim.items:
        item = ServiceItem.publish(plan.guide)
        runtime.ledger.save_signed(item, signer=sim.seal(plan.guide.department))


def _register_applicants(sim: Simulation) -> None:
    rng = sim.rng
    vault = sim.services.vault
    batch: list[Applicant] = []
    for index in range(PERSONS + ENTERPRISES):
        enterprise = index >= PERSONS
        place = rng.randrange(len(PLACES))
        region, district, roads = PLACES[place]
        address = f"{district}{rng.choice(roads)}{rng.randint(1, 399)}号"
        if enterprise:
            name = f"{district[:3]}{rng.choice('瑞丰华信和顺鸿达嘉')}{rng.choice(TRADES)}有限公司"
            credential = parse_credential("uscc", _uscc(rng, "91", region))
            kind, level, method = "enterprise", "advanced", "digital certificate"
        else:
            name = rng.choice(SURNAMES) + "".join(
                rng.choice(GIVEN) for _ in range(rng.randint(1, 2))
            )
            credential = parse_credential("resident_id", _resident_id(rng, region))
            kind = "natural_person"
            basic = index in (1, 2, 3) or rng.random() < 0.03
            level, method = ("basic", "sms") if basic else ("advanced", "face")
        phone = f"1{rng.choice('3589')}{rng.randrange(10**8, 10**9)}"
        applicant = Applicant.register(
            vault,
            kind=kind,
            credential=credential,
            personal=PersonalData(name, phone, address),
            level=level,
            method=method,
            applicant_id=UUID(int=rng.getrandbits(128), version=4),
        )
        batch.append(applicant)
        sim.people.append(Person(applicant, enterprise, place))
    for start in range(0, len(batch), 20):  # the identity platform registers in batches
        sim.ctx.runtime.ledger.save_signed(*batch[start : start + 20], signer=sim.portal)


def _refused_at_the_door(sim: Simulation) -> None:
    """Applications the rules refuse before any case exists: FZ·8 and the blacklist hook."""
    plan = next(
        p
        for p in sim.items
        if not p.for_enterprises and HandlingMode.FULL_ONLINE in p.guide.handling_modes
    )
    basic = [p for p in sim.people if p.applicant.authentication_level.value != "advanced"]
    advanced = [
        p
        for p in sim.people
        if not p.enterprise and p.applicant.authentication_level.value == "advanced"
    ]
    blocked = advanced[-1]
    sim.blacklisted.add(blocked.applicant.id)
    sim.clock.set(dt.datetime(2026, 10, 20, 10, tzinfo=SHANGHAI).astimezone(dt.UTC))
    for person in [*basic[:3], blocked]:
        run = Run(0, plan, person, "refused", "app", "online")
        try:
            sim.cases.submit(
                item_code=plan.guide.implementation_code,
                applicant_id=person.applicant.id,
                channel="app",
                handling_mode="full_online",
                materials=[sim.material(run, plan.guide.materials[-1])],
                delivery="online",
                signer=sim.portal,
            )
        except RuleViolation as exc:
            sim.refused[exc.code] += 1
    sim.blacklisted.discard(blocked.applicant.id)  # lifted on appeal: the act was unintentional


def run(ctx: DemoContext) -> None:
    started = time.perf_counter()
    storage = ctx.runtime.settings.storage
    if storage.is_sqlite:  # the demo starts from an empty ledger: drop stale side stores too
        key_file, blob_dir = sqlite_side_paths(storage)
        key_file.unlink(missing_ok=True)
        if blob_dir.exists():
            shutil.rmtree(blob_dir)
    clock = SimulatedClock(dt.datetime(2026, 9, 1, 9, tzinfo=SHANGHAI).astimezone(dt.UTC))
    blacklisted: set[UUID] = set()

    def is_blacklisted(applicant_id: UUID, on: dt.date) -> tuple[bool, dt.date | None, str]:
        if applicant_id in blacklisted:
            return True, on + dt.timedelta(days=91), "30个工作日内向原决定机关提出申诉（GZ16·22）"
        return False, None, ""

    services = build_services(ctx.runtime, clock=clock, is_blacklisted=is_blacklisted)
    ctx.signers[PORTAL_ACTOR] = enrol_actor(ctx.runtime, PORTAL_ACTOR, KeyRole.APPLICANT_PORTAL)
    sim = Simulation(ctx, services, clock)
    sim.blacklisted = blacklisted
    _seed_city(sim)
    _register_applicants(sim)
    _refused_at_the_door(sim)

    paths = list(PATHS)
    weights = list(PATHS.values())
    runs = [
        sim.plan(n, p)
        for n, p in enumerate(ctx.rng.choices(paths, weights, k=CASES - len(paths)), 1)
    ]
    runs += [
        sim.plan(len(runs) + i + 1, p) for i, p in enumerate(paths)
    ]  # every path at least once
    for wanted, path, count in (
        ("end_special_procedure", "special_procedure", 3),  # paused: the clock stands still
        ("pass_pre_review", "approved", 3),  # waiting for pre-review
        ("correct", "corrected_then_approved", 2),  # waiting for the applicant's correction
        ("approve", "approved", 3),  # under review, the clock running
    ):
        candidates = [r for r in runs if r.path == path and not r.open_at]
        for r in [r for r in candidates if wanted in {s.name for s in r.steps}][:count]:
            r.open_at = wanted
    sim.execute(sim.schedule(runs))
    sim.runs = runs
    ctx.running["simulation"] = sim  # later stages drive more cases on the same services

    completed: Counter[str] = Counter()
    open_states: Counter[str] = Counter()
    for r in runs:
        case = sim.cases.case(r.serial)
        if case.is_open:
            open_states[case.state.value] += 1
        else:
            completed[r.path] += 1

    erased = _erase_one(sim)
    ctx.summary["cases"] = {
        "total": len(runs),
        "paths": {p: completed[p] for p in PATHS},
        "open": sum(open_states.values()),
        "open_states": dict(sorted(open_states.items())),
        "refused": dict(sorted(sim.refused.items())),
        "items": len(sim.items),
        "applicants": len(sim.people),
        "erased": erased,
        "business_dates": [FIRST_DAY.isoformat(), LAST_DAY.isoformat()],
        "seconds": round(time.perf_counter() - started, 2),
    }


def _erase_one(sim: Simulation) -> str:
    """Erase one applicant: record it, destroy the data key; the chain must still verify."""
    person = sim.people[0].applicant
    ledger = sim.ctx.runtime.ledger
    applicant: Any = ledger.repository.get(person.id)
    assert isinstance(applicant, Applicant)
    applicant.erase("申请人依法要求删除个人信息")
    ledger.save_signed(applicant, signer=sim.ctx.runtime.platform_signer())
    sim.services.vault.erase(applicant.id)
    name = applicant.personal_data(sim.services.vault).name
    sealed_before = person.sealed("name")
    assert name is ERASED and sealed_before is not None
    assert sim.services.vault.open(sealed_before) is ERASED
    return str(applicant.id)


def lines(ctx: DemoContext) -> list[str]:
    s = ctx.summary.get("cases")
    if not s:
        return []
    paths = ", ".join(f"{PATH_NAMES[p]} {n}" for p, n in s["paths"].items())
    states = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in s["open_states"].items())
    refused = ", ".join(f"{k} {v}" for k, v in s["refused"].items())
    return [
        f"cases          {s['total']} cases, {s['items']} service items, {s['applicants']} "
        f"applicants, {s['business_dates'][0]} … {s['business_dates'][1]} ({s['seconds']} s)",
        f"  paths        {paths}",
        f"  open         {s['open']} ({states}); refused: {refused}",
        f"  erasure      applicant {s['erased'][:8]}… erased: data key destroyed, reads [erased]",
    ]


STAGE = Stage("cases", run, lines)
