"""The service catalogue: 政务服务事项 and their versioned 办事指南 (service guides).

Layer: domain (standard library, ``eventsourcing.domain``, ``ledger.domain.rules``).
A guide holds every field FZ·7 and GZ16·18 require and validates when built;
online steps and materials may not exceed the window's (GZ16·10, GZ16·14, NH·10,
FZ·23). Guides are versioned (1, 2, 3 …): a case keeps the version it was
submitted under and is judged by it (RULES.md "Service catalogue").

Publishing (:meth:`ServiceItem.publish`, :meth:`ServiceItem.publish_version`) further checks
what RULES.md "Further obligations" asks of a published guide: online forms and time limit no
more than the window's and no forced online pre-step (GZ20·12), full-online handling or the
law that requires paper or presence (GZ20·10), each form's blank form and sample text and the
result sample (GZ16·18, PY·24, FZ·7). Guides stored before those fields existed still read.
Events carry the guide as :meth:`Guide.to_dict` (canonical-encodable values only).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Final, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.domain.departments import DEPARTMENT_CODE_PATTERN
from ledger.domain.keyed import NaturalKey
from ledger.domain.rules import (
    FullOnlineBasisMissing,
    GuideCodeChanged,
    GuideFormsOrLimitExceedWindow,
    GuideOnlineExceedsWindow,
    GuideSamplesMissing,
    InvalidGuide,
    PromisedLimitExceedsStatutory,
    ServiceItemWithdrawn,
    SharingBasisMissing,
    UnknownGuideVersion,
    WindowApplicantForcedOnline,
)
from ledger.domain.topics import keep_topics

__all__ = [
    "ITEM_NAMESPACE",
    "FormSpec",
    "Guide",
    "HandlingMode",
    "ItemType",
    "MaterialSpec",
    "ResultType",
    "Retention",
    "ServiceItem",
    "Sharing",
]

ITEM_NAMESPACE: Final = uuid5(NAMESPACE_URL, "https://caseledger.invalid/service-items")
ITEM_CODE_PATTERN: Final = re.compile(r"[0-9A-Z-]{2,64}")
HOTLINE_PATTERN: Final = re.compile(r"[0-9][0-9-]{2,19}")
MAX_TEXT: Final = 2000
MAX_LIMIT_DAYS: Final = 3650
MAX_ITEMS: Final = 200  # materials, steps, legal bases per guide


class ItemType(StrEnum):
    """事项类型, coded as GB/T 39046 (RULES.md "Service catalogue")."""

    LICENCE = "01"
    """行政许可"""
    PENALTY = "02"
    """行政处罚"""
    ENFORCEMENT = "03"
    """行政强制"""
    LEVY = "04"
    """行政征收"""
    PAYMENT = "05"
    """行政给付"""
    INSPECTION = "06"
    """行政检查"""
    CONFIRMATION = "07"
    """行政确认"""
    AWARD = "08"
    """行政奖励"""
    ADJUDICATION = "09"
    """行政裁决"""
    OTHER = "10"
    """其他行政权力"""
    PUBLIC_SERVICE = "20"
    """公共服务"""
    FILING = "filing"
    """行政备案 (GZ20·2); not among the GB/T 39046 codes of RULES.md, so a local code."""

    @property
    def chinese_name(self) -> str:
        return _ITEM_TYPE_NAMES[self]


_ITEM_TYPE_NAMES: Final = {
    ItemType.LICENCE: "行政许可",
    ItemType.PENALTY: "行政处罚",
    ItemType.ENFORCEMENT: "行政强制",
    ItemType.LEVY: "行政征收",
    ItemType.PAYMENT: "行政给付",
    ItemType.INSPECTION: "行政检查",
    ItemType.CONFIRMATION: "行政确认",
    ItemType.AWARD: "行政奖励",
    ItemType.ADJUDICATION: "行政裁决",
    ItemType.OTHER: "其他行政权力",
    ItemType.PUBLIC_SERVICE: "公共服务",
    ItemType.FILING: "行政备案",
}


class HandlingMode(StrEnum):
    """办理形式: how the item may be handled (FZ·7 办理形式, NH·10)."""

    ONLINE_PRE_ACCEPTANCE = "online_pre_acceptance"
    """网上预审 (apply online, finish at the window)"""
    FULL_ONLINE = "full_online"
    """全流程网上办理 (no paper, no visit)"""
    FORM_GENERATION = "form_generation"
    """网上生成申请表 (fill the form online, submit at the window)"""
    WINDOW = "window"
    """窗口办理"""

    @property
    def is_online(self) -> bool:
        return self is not HandlingMode.WINDOW


class ResultType(StrEnum):
    """结果类型: what the applicant receives; a certificate result closes only once issued."""

    CERTIFICATE = "certificate"
    """证照 (issued as an 电子证照, GZ16·15, FZ·19)"""
    APPROVAL_DOCUMENT = "approval_document"
    """批文 / 批复"""
    OTHER = "other"
    """其他结果 (e.g. 备案回执)"""


class Retention(StrEnum):
    """保管期限 of the case archive (DA/T 70-2018 practice): permanent, 30 or 10 years."""

    PERMANENT = "Y"
    """永久"""
    YEARS_30 = "D30"
    """30年"""
    YEARS_10 = "D10"
    """10年"""


_ONLINE_PRE_STEPS: Final = frozenset(
    {HandlingMode.ONLINE_PRE_ACCEPTANCE, HandlingMode.FORM_GENERATION}
)
"""Modes that begin online and finish at the window (GZ20·12: never the only way in)."""


# --- field checks (each error names its field) ---------------------------------------------


def _text(field_name: str, value: object, *, max_length: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidGuide(field_name, "must be non-empty text")
    if len(value) > max_length:
        raise InvalidGuide(field_name, f"longer than {max_length} characters")
    return value


def _optional_text(field_name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidGuide(field_name, "must be text")
    if len(value) > MAX_TEXT:
        raise InvalidGuide(field_name, f"longer than {MAX_TEXT} characters")
    return value


def _code(field_name: str, value: object) -> str:
    if not isinstance(value, str) or not ITEM_CODE_PATTERN.fullmatch(value):
        raise InvalidGuide(field_name, "must be 2–64 characters of 0-9, A-Z and '-'")
    return value


def _flag(field_name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidGuide(field_name, "must be true or false")
    return value


def _texts(field_name: str, values: object, *, non_empty: bool) -> tuple[str, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidGuide(field_name, "must be a list of text")
    out = tuple(values)
    if non_empty and not out:
        raise InvalidGuide(field_name, "must list at least one entry")
    if len(out) > MAX_ITEMS:
        raise InvalidGuide(field_name, f"more than {MAX_ITEMS} entries")
    for index, item in enumerate(out):
        _text(f"{field_name}[{index}]", item)
    if len(set(out)) != len(out):
        raise InvalidGuide(field_name, "entries must be unique")
    return out


def _days(field_name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidGuide(field_name, "must be a whole number of working days")
    if not 0 <= value <= MAX_LIMIT_DAYS:
        raise InvalidGuide(field_name, f"must be between 0 and {MAX_LIMIT_DAYS} working days")
    return value


_E = TypeVar("_E", bound=StrEnum)


def _enum(field_name: str, enum: type[_E], value: object) -> _E:
    try:
        return enum(value)  # type: ignore[arg-type]
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in enum)
        raise InvalidGuide(
            field_name, f"unknown value {value!r}: expected one of {allowed}"
        ) from None


def _fee(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise InvalidGuide("fee", "must be a Decimal amount of yuan")
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError):
        raise InvalidGuide("fee", f"not a decimal amount: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise InvalidGuide("fee", "must be a finite amount of at least 0 yuan")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise InvalidGuide("fee", "yuan amounts have at most two decimal places (分)")
    return amount


_S = TypeVar("_S", "MaterialSpec", "FormSpec")


def _specs(field_name: str, values: object, kind: type[_S]) -> tuple[_S, ...]:
    """A guide's list of ``kind`` (materials, forms): at most MAX_ITEMS, codes unique."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidGuide(field_name, f"must be a list of {kind.__name__}")
    out = tuple(values)
    if len(out) > MAX_ITEMS:
        raise InvalidGuide(field_name, f"more than {MAX_ITEMS} {field_name}")
    for item in out:
        if not isinstance(item, kind):
            raise InvalidGuide(field_name, f"expected {kind.__name__}, got {type(item).__name__}")
    codes = [item.code for item in out]
    if len(set(codes)) != len(codes):
        raise InvalidGuide(field_name, f"{field_name[:-1]} codes must be unique")
    return out


# --- values -------------------------------------------------------------------------------


class Sharing(StrEnum):
    """Where a material's data comes from (资源共享, GZ16·4, PY·4(六), FZ·13)."""

    APPLICANT = "applicant"
    """the applicant submits it"""
    SHARED = "shared"
    """fetched by the department through data sharing (共享调取); when the fetch fails the
    applicant may submit it (FZ·13)"""
    NOT_SHAREABLE = "not_shareable"
    """held by a department but not shared: the guide states the legal basis (GZ16·4)"""


@dataclass(frozen=True)
class MaterialSpec:
    """One 申请材料 of a guide: whether required, which 电子证照 types satisfy it, and where
    it is accepted (online and/or at the window)."""

    code: str
    name: str
    required: bool
    certificate_types: tuple[str, ...] = ()
    online: bool = True
    window: bool = True
    sharing: Sharing = Sharing.APPLICANT
    sharing_basis: str = ""
    """The law by which the data is not shared, told to the applicant (GZ16·4, PY·4(六))."""

    def __post_init__(self) -> None:
        code = _code("materials.code", self.code)
        where = f"materials[{code}]"
        _text(f"{where}.name", self.name, max_length=200)
        _flag(f"{where}.required", self.required)
        types = _texts(f"{where}.certificate_types", self.certificate_types, non_empty=False)
        object.__setattr__(self, "certificate_types", types)
        _flag(f"{where}.online", self.online)
        _flag(f"{where}.window", self.window)
        if not (self.online or self.window):
            raise InvalidGuide(where, "a material is accepted online, at the window, or both")
        object.__setattr__(self, "sharing", _enum(f"{where}.sharing", Sharing, self.sharing))
        _optional_text(f"{where}.sharing_basis", self.sharing_basis)
        if self.sharing is Sharing.NOT_SHAREABLE and not self.sharing_basis.strip():
            raise SharingBasisMissing(
                f"{where}.sharing_basis",
                "data that is not shared states the legal basis told to the applicant "
                "(GZ16·4, PY·4(六))",
            )

    def to_dict(self) -> dict[str, Any]:
        """The stored map, written out: every submission keeps its guide's materials, and
        ``dataclasses.asdict`` deep-copies each field (~25 µs a material)."""
        return {
            "code": self.code,
            "name": self.name,
            "required": self.required,
            "certificate_types": list(self.certificate_types),
            "online": self.online,
            "window": self.window,
            "sharing": self.sharing.value,
            "sharing_basis": self.sharing_basis,
        }

    @classmethod
    def from_dict(cls, data: object) -> MaterialSpec:
        """Parse a stored material; raises :class:`InvalidGuide` naming the field."""
        if not isinstance(data, Mapping):
            raise InvalidGuide("materials", "each material is a map")
        values = _fields(
            "materials",
            data,
            ("code", "name", "required", "certificate_types", "online", "window"),
            _MATERIAL_LATER,
        )
        return cls(**values)


_MATERIAL_LATER: Final = {"sharing": Sharing.APPLICANT.value, "sharing_basis": ""}
"""Material fields added after materials were first stored, with the value they had then."""


@dataclass(frozen=True)
class FormSpec:
    """One 填报表单 the applicant fills in, with its blank form (空表) and sample text (示范文本,
    GZ16·18, PY·24), and where it is filled in: online forms may not exceed the window's
    (GZ20·12). ``blank_form`` and ``sample_text`` are references (an address or a document
    number) of what the platform publishes."""

    code: str
    name: str
    blank_form: str = ""
    sample_text: str = ""
    online: bool = True
    window: bool = True

    def __post_init__(self) -> None:
        code = _code("forms.code", self.code)
        where = f"forms[{code}]"
        _text(f"{where}.name", self.name, max_length=200)
        _optional_text(f"{where}.blank_form", self.blank_form)
        _optional_text(f"{where}.sample_text", self.sample_text)
        _flag(f"{where}.online", self.online)
        _flag(f"{where}.window", self.window)
        if not (self.online or self.window):
            raise InvalidGuide(where, "a form is filled in online, at the window, or both")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> FormSpec:
        """Parse a stored form; raises :class:`InvalidGuide` naming the field."""
        if not isinstance(data, Mapping):
            raise InvalidGuide("forms", "each form is a map")
        names = ("code", "name", "blank_form", "sample_text", "online", "window")
        return cls(**_fields("forms", data, names))


def _fields(
    where: str,
    data: Mapping[Any, Any],
    names: Iterable[str],
    later: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The fields ``names`` of ``data``; ``later`` are fields added since data was first stored,
    taken with their old meaning when absent."""
    later = later or {}
    out = {}
    for name in names:
        if name not in data:
            raise InvalidGuide(f"{where}.{name}" if where else name, "missing")
        out[name] = data[name]
    for name, default in later.items():
        out[name] = data.get(name, default)
    extra = set(data) - set(out)
    if extra:
        raise InvalidGuide(where or "guide", f"unknown fields {sorted(map(str, extra))}")
    return out


_GUIDE_FIELDS: Final = (
    "name",
    "basic_code",
    "implementation_code",
    "item_type",
    "department",
    "legal_basis",
    "acceptance_conditions",
    "materials",
    "window_steps",
    "online_steps",
    "statutory_limit_days",
    "promised_limit_days",
    "fee",
    "fee_basis",
    "handling_modes",
    "result_type",
    "result_sample",
    "hotline",
    "retention",
)
_GUIDE_LATER: Final[dict[str, Any]] = {
    "forms": [],
    "online_promised_limit_days": None,
    "full_online_exception": "",
}
"""Guide fields added after guides were first stored (RULES.md "Further obligations"), with
the meaning an older guide had: no forms listed, one time limit, no basis cited."""


@dataclass(frozen=True, kw_only=True)
class Guide:
    """One version of a 办事指南, with every field FZ·7 / GZ16·18 require.

    Building one validates it and raises :class:`InvalidGuide` (naming the field),
    :class:`GuideOnlineExceedsWindow` or :class:`PromisedLimitExceedsStatutory`.
    Time limits are working days; ``fee`` is in yuan; ``department`` is the code
    of the 事项实施主体.
    """

    name: str
    basic_code: str
    implementation_code: str
    item_type: ItemType
    department: str
    legal_basis: tuple[str, ...]
    acceptance_conditions: str
    materials: tuple[MaterialSpec, ...]
    window_steps: tuple[str, ...]
    online_steps: tuple[str, ...]
    statutory_limit_days: int
    promised_limit_days: int
    fee: Decimal = Decimal(0)
    fee_basis: str = ""
    handling_modes: tuple[HandlingMode, ...] = field(default=(HandlingMode.WINDOW,))
    result_type: ResultType
    result_sample: str = ""
    hotline: str
    retention: Retention
    forms: tuple[FormSpec, ...] = ()
    online_promised_limit_days: int | None = None
    """The promised limit online; ``None``: the same as at the window (GZ20·12: never more)."""
    full_online_exception: str = ""
    """The law requiring paper or presence, for an item without full-online handling (GZ20·10)."""

    def __post_init__(self) -> None:
        _text("name", self.name, max_length=200)
        _code("basic_code", self.basic_code)
        _code("implementation_code", self.implementation_code)
        self._set("item_type", _enum("item_type", ItemType, self.item_type))
        if not isinstance(self.department, str) or not DEPARTMENT_CODE_PATTERN.fullmatch(
            self.department
        ):
            raise InvalidGuide("department", "must be a department code of 2–32 0-9, A-Z, '-'")
        self._set("legal_basis", _texts("legal_basis", self.legal_basis, non_empty=True))
        _text("acceptance_conditions", self.acceptance_conditions)
        self._set("materials", self._check_materials())
        self._set("window_steps", _texts("window_steps", self.window_steps, non_empty=True))
        self._set("online_steps", _texts("online_steps", self.online_steps, non_empty=False))
        self._set("handling_modes", self._check_modes())
        self._check_online_not_beyond_window()
        statutory = _days("statutory_limit_days", self.statutory_limit_days)
        promised = _days("promised_limit_days", self.promised_limit_days)
        if promised > statutory:
            raise PromisedLimitExceedsStatutory(
                "promised_limit_days",
                f"{promised} working days exceed the statutory limit of {statutory}",
            )
        self._set("fee", _fee(self.fee))
        _optional_text("fee_basis", self.fee_basis)
        if self.fee > 0 and not self.fee_basis.strip():
            raise InvalidGuide("fee_basis", "a charged item states its 收费依据")
        self._set("result_type", _enum("result_type", ResultType, self.result_type))
        _optional_text("result_sample", self.result_sample)
        if not isinstance(self.hotline, str) or not HOTLINE_PATTERN.fullmatch(self.hotline):
            raise InvalidGuide("hotline", "must be a telephone number (digits and '-')")
        self._set("retention", _enum("retention", Retention, self.retention))
        self._set("forms", self._check_forms())
        self._check_online_limit()
        _optional_text("full_online_exception", self.full_online_exception)

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)

    def _check_materials(self) -> tuple[MaterialSpec, ...]:
        return _specs("materials", self.materials, MaterialSpec)

    def _check_forms(self) -> tuple[FormSpec, ...]:
        forms = _specs("forms", self.forms, FormSpec)
        extra = [f.code for f in forms if f.online and not f.window]
        if extra:
            raise GuideFormsOrLimitExceedWindow(
                "forms",
                f"{extra} are filled in online but not at the window — online forms may not "
                "exceed the window's (GZ20·12)",
            )
        return forms

    def _check_online_limit(self) -> None:
        online = self.online_promised_limit_days
        if online is None:
            return
        _days("online_promised_limit_days", online)
        if online > self.promised_limit_days:
            raise GuideFormsOrLimitExceedWindow(
                "online_promised_limit_days",
                f"{online} working days online exceed the window's {self.promised_limit_days} "
                "— the online time limit may not exceed the window's (GZ20·12)",
            )

    def check_publishable(self) -> None:
        """What a guide must hold to be published now (RULES.md "Further obligations");
        a guide stored before these rules still reads. Raises the violation naming the field."""
        modes = set(self.handling_modes)
        if modes & _ONLINE_PRE_STEPS and HandlingMode.WINDOW not in modes:
            raise WindowApplicantForcedOnline(
                "handling_modes",
                "an item finished at the window is also handled at the window without an "
                "online pre-step (不得强制要求其先到线上预约或在线提交申请材料, GZ20·12)",
            )
        if HandlingMode.FULL_ONLINE not in modes and not self.full_online_exception.strip():
            raise FullOnlineBasisMissing(
                "full_online_exception",
                "an item without full-online handling cites the law requiring paper or "
                "presence (GZ20·10)",
            )
        if not self.forms:
            raise GuideSamplesMissing(
                "forms", "list the forms the applicant fills in, with blank form and sample text"
            )
        for form in self.forms:
            for name in ("blank_form", "sample_text"):
                if not getattr(form, name).strip():
                    raise GuideSamplesMissing(
                        f"forms[{form.code}].{name}",
                        "each form has its blank form (空表) and sample text (示范文本) "
                        "(GZ16·18, PY·24)",
                    )
        if not self.result_sample.strip():
            raise GuideSamplesMissing("result_sample", "a guide shows its result sample (FZ·7)")

    @property
    def online_limit_days(self) -> int:
        """The promised limit of an online application (the window's unless shorter)."""
        online = self.online_promised_limit_days
        return self.promised_limit_days if online is None else online

    def _check_modes(self) -> tuple[HandlingMode, ...]:
        values = self.handling_modes
        if isinstance(values, str | bytes) or not isinstance(values, Iterable):
            raise InvalidGuide("handling_modes", "must be a list of handling modes")
        modes = {_enum("handling_modes", HandlingMode, v) for v in values}
        if not modes:
            raise InvalidGuide("handling_modes", "must name at least one handling mode")
        ordered = tuple(m for m in HandlingMode if m in modes)
        if any(m.is_online for m in ordered) and not self.online_steps:
            raise InvalidGuide("online_steps", "an item handled online lists its online steps")
        if HandlingMode.FULL_ONLINE in modes:
            paper = [m.code for m in self.materials if not m.online]
            if paper:
                raise InvalidGuide(
                    "materials",
                    f"a fully online item accepts every material online; {paper} are "
                    "window-only (GZ20·26, FZ·26)",
                )
        return ordered

    def _check_online_not_beyond_window(self) -> None:
        online, window = len(self.online_steps), len(self.window_steps)
        if online > window:
            raise GuideOnlineExceedsWindow(
                "online_steps",
                f"{online} online steps exceed the {window} window steps — online "
                "steps may not exceed window steps",
            )
        extra = [m.code for m in self.materials if m.online and not m.window]
        if extra:
            raise GuideOnlineExceedsWindow(
                "materials",
                f"{extra} are asked online but not at the window — online materials may "
                "not exceed window materials",
            )

    # -- queries --------------------------------------------------------------------------

    def material(self, code: str) -> MaterialSpec | None:
        return next((m for m in self.materials if m.code == code), None)

    @property
    def required_materials(self) -> tuple[MaterialSpec, ...]:
        return tuple(m for m in self.materials if m.required)

    @property
    def is_online(self) -> bool:
        return any(m.is_online for m in self.handling_modes)

    # -- storage ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The guide as canonical-encodable values (event attribute)."""
        return {
            "name": self.name,
            "basic_code": self.basic_code,
            "implementation_code": self.implementation_code,
            "item_type": self.item_type.value,
            "department": self.department,
            "legal_basis": list(self.legal_basis),
            "acceptance_conditions": self.acceptance_conditions,
            "materials": [m.to_dict() for m in self.materials],
            "window_steps": list(self.window_steps),
            "online_steps": list(self.online_steps),
            "statutory_limit_days": self.statutory_limit_days,
            "promised_limit_days": self.promised_limit_days,
            "fee": self.fee,
            "fee_basis": self.fee_basis,
            "handling_modes": [m.value for m in self.handling_modes],
            "result_type": self.result_type.value,
            "result_sample": self.result_sample,
            "hotline": self.hotline,
            "retention": self.retention.value,
            "forms": [f.to_dict() for f in self.forms],
            **{name: getattr(self, name) for name in _GUIDE_LATER if name != "forms"},
        }

    @classmethod
    def from_dict(cls, data: object) -> Guide:
        """Parse a stored or submitted guide; raises a rule violation naming the field."""
        if not isinstance(data, Mapping):
            raise InvalidGuide("guide", "must be a map")
        values = _fields("", data, _GUIDE_FIELDS, _GUIDE_LATER)
        for name, spec in (("materials", MaterialSpec), ("forms", FormSpec)):
            raw = values[name]
            if isinstance(raw, str | bytes) or not isinstance(raw, Iterable):
                raise InvalidGuide(name, "must be a list")
            values[name] = tuple(spec.from_dict(m) for m in raw)
        return cls(**values)


# --- aggregate ----------------------------------------------------------------------------


class ServiceItem(NaturalKey, Aggregate):
    """A 政务服务事项 and the history of its guide versions, found by its 实施编码."""

    @staticmethod
    def create_id(implementation_code: str) -> UUID:
        return uuid5(ITEM_NAMESPACE, implementation_code)

    @classmethod
    def publish(cls, guide: Guide) -> ServiceItem:
        """Publish the first guide (version 1) of a new item."""
        if not isinstance(guide, Guide):
            raise InvalidGuide("guide", f"expected a Guide, got {type(guide).__name__}")
        guide.check_publishable()
        return cls(implementation_code=guide.implementation_code, guide=guide.to_dict())

    @event("Published")
    def __init__(self, implementation_code: str, guide: dict[str, Any]) -> None:
        self.implementation_code = implementation_code
        self._guides: list[dict[str, Any]] = [guide]
        self._cache: dict[int, Guide] = {}
        self.withdrawn = False
        self.withdrawal_reason = ""

    @event("VersionPublished")
    def _version_published(self, version: int, guide: dict[str, Any]) -> None:
        self._guides.append(guide)

    @event("Withdrawn")
    def _withdrawn(self, reason: str) -> None:
        self.withdrawn = True
        self.withdrawal_reason = reason

    # -- commands -------------------------------------------------------------------------

    def publish_version(self, guide: Guide) -> int:
        """Publish a new guide version; returns its number. Earlier cases keep theirs."""
        if self.withdrawn:
            raise ServiceItemWithdrawn(
                f"implementation_code: item {self.implementation_code} was withdrawn"
            )
        if not isinstance(guide, Guide):
            raise InvalidGuide("guide", f"expected a Guide, got {type(guide).__name__}")
        if guide.implementation_code != self.implementation_code:
            raise GuideCodeChanged(
                "implementation_code",
                f"a new version of {self.implementation_code} may not change it to "
                f"{guide.implementation_code}",
            )
        guide.check_publishable()
        version = len(self._guides) + 1
        self._version_published(version, guide.to_dict())
        return version

    def withdraw(self, reason: str) -> None:
        """Withdraw the item from the catalogue (no new applications)."""
        if self.withdrawn:
            raise ServiceItemWithdrawn(
                f"implementation_code: item {self.implementation_code} is already withdrawn"
            )
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidGuide("reason", "a withdrawal states its reason")
        self._withdrawn(reason)

    # -- queries --------------------------------------------------------------------------

    @property
    def current_version(self) -> int:
        return len(self._guides)

    @property
    def current_guide(self) -> Guide:
        return self.guide(self.current_version)

    def guide(self, version: int) -> Guide:
        """The guide of ``version`` (1-based). Raises :class:`UnknownGuideVersion`."""
        if isinstance(version, bool) or not isinstance(version, int):
            raise UnknownGuideVersion(f"version: expected a whole number, got {version!r}")
        if not 1 <= version <= len(self._guides):
            raise UnknownGuideVersion(
                f"version: item {self.implementation_code} has versions 1–{len(self._guides)}, "
                f"not {version}"
            )
        cached = self._cache.get(version)
        if cached is None:
            cached = self._cache[version] = Guide.from_dict(self._guides[version - 1])
        return cached


keep_topics(globals(), "ledger.catalogue")
