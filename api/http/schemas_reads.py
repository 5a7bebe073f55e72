"""Response bodies of the read endpoints: worklists, indicators, registers, supervision.

Layer: api (HTTP). ``*Public`` models are what a caller sees; they are built from the read
models' rows by the routers (``routes_reads``, ``routes_supervision``) and rendered by the
dashboard, so they live apart from all three.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class WorkItemPublic(BaseModel):
    serial: str
    approval_code: str
    item_code: str
    item_name: str
    state: str
    waiting_on: str
    submitted_at: str
    due: str | None
    due_provisional: bool
    paused: bool
    overdue: bool


class WorklistPage(BaseModel):
    department: str
    today: str
    items: list[WorkItemPublic]
    total: int
    offset: int
    limit: int
    next: int | None = Field(description="Offset of the next page, or null")
    counts: dict[str, int] = Field(description="Open cases per state")


class RatePublic(BaseModel):
    numerator: int
    denominator: int
    value: float | None = Field(description="numerator / denominator, or null when 0/0")


class IndicatorsPublic(BaseModel):
    department: str
    month: str
    fully_online: RatePublic
    online_completion: RatePublic
    certificate_electronisation: RatePublic
    on_time: RatePublic
    satisfaction: RatePublic


class VersionPublic(BaseModel):
    identifier: str
    number: int
    status: str
    issued_at: str
    reason: str


class CertificateStatusPublic(BaseModel):
    identifier: str
    version: int
    status: str = Field(description="valid, superseded, revoked or disputed")
    current_identifier: str
    type_code: str
    issuer_department: str
    case_serial: str
    revoked_at: str | None
    revocation_reason: str
    open_disputes: int
    versions: list[VersionPublic]


class DistributionPublic(BaseModel):
    department: str
    month: str
    counts: dict[str, int]
    total: int
    satisfied: int
    satisfaction_rate: float | None
    excluded: int


class BadRatingPublic(BaseModel):
    case_serial: str
    kind: str
    department: str
    level: str
    channel: str
    reason: str
    rated_at: str
    rectification_due: str | None
    provisional: bool
    callback_at: str | None
    rectified_at: str | None
    rectified_late: bool
    dispute: str | None
    state: str


class BadRatingsPage(BaseModel):
    department: str
    today: str
    items: list[BadRatingPublic]
    total: int
    offset: int
    limit: int
    next: int | None


class RestrictionPublic(BaseModel):
    applicant_id: str
    ground: str
    authority: str
    starts: str
    until: str
    appeal_due: str
    appealed_on: str | None
    appeal_finding: str | None
    credit_referral: bool


class ApplicantRestrictions(BaseModel):
    applicant_id: str
    today: str
    restricted: bool = Field(description="A blacklisting is in force today: no online application")
    restrictions: list[RestrictionPublic]
    facts: dict[str, int] = Field(description="Counted facts per ground (NH·25)")
    unused: dict[str, int] = Field(description="Facts not yet used by a blacklisting")


class ProposalPublic(BaseModel):
    applicant_id: str
    ground: str
    facts: list[str]


class CaseLightPublic(BaseModel):
    serial: str
    department: str
    item_code: str
    state: str
    clock: str
    light: str = Field(description="green, yellow or red")
    days_left: int | None
    limit_days: int | None
    due: str | None
    provisional: bool
    paused: bool
    explained: bool
    order_open: bool
    explained_by_department: bool = False
    deducted_points: int = 0


class FlagPublic(BaseModel):
    flag: str
    subject: str
    department: str
    case_serial: str
    at: str
    detail: str


class DepartmentCounts(BaseModel):
    lights: dict[str, int]
    flags: dict[str, int]
    needs_order: int
    deducted_points: int = Field(0, description="考核扣分 for red cases (FZ·24)")


class AnchoringPublic(BaseModel):
    anchored_size: int
    log_head: int
    waiting: int
    last_anchor_at: str
    seconds_since: int
    lagging: bool


class SummaryPublic(BaseModel):
    today: str
    open_cases: int
    lights: dict[str, int]
    flags: dict[str, int]
    needs_order: int
    provisional: int
    paused: int
    by_department: dict[str, DepartmentCounts]
    anchoring: AnchoringPublic | None
    deducted_points: int = Field(0, description="考核扣分 for red cases, all departments (FZ·24)")


class LightsPage(BaseModel):
    items: list[CaseLightPublic]
    total: int
    offset: int
    limit: int
    next: int | None


class Warnings(BaseModel):
    today: str = Field(description="The Asia/Shanghai date the lights are evaluated on")
    summary: SummaryPublic = Field(description="Counts over every department (unfiltered)")
    lights: LightsPage
    needing_orders: list[CaseLightPublic]
    flags: list[FlagPublic]
