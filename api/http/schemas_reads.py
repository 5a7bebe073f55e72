"""Response bodies of the read endpoints: worklists, indicators, registers, supervision.

Layer: api (HTTP). ``*Public`` models are what a caller sees; they are built from the read
models' rows by the routers (``routes_reads``, ``routes_supervision``) and rendered by the
dashboard, so they live apart from all three. Where a row is shown as it is (a worklist item,
a certificate and its versions, a rating distribution, a bad rating, a restriction, a case
light, a flag, the anchoring lag), its model is the row's own dataclass made a pydantic one
(with the field descriptions added), so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field
from pydantic.dataclasses import dataclass as response

from projections.blacklist import RestrictionEntry
from projections.certificates import CertificateStatus, VersionEntry
from projections.ratings import BadRating, Distribution
from projections.supervision import AnchoringStatus, CaseLight, Flag
from projections.worklist import WorkItem


@response(frozen=True)
class WorkItemPublic(WorkItem):
    pass


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


@response(frozen=True)
class VersionPublic(VersionEntry):
    pass


@response(frozen=True)
class CertificateStatusPublic(CertificateStatus):
    status: Annotated[str, Field(description="valid, superseded, revoked or disputed")]
    versions: tuple[VersionPublic, ...]


@response(frozen=True)
class DistributionPublic(Distribution):
    pass


@response(frozen=True)
class BadRatingPublic(BadRating):
    pass


class BadRatingsPage(BaseModel):
    department: str
    today: str
    items: list[BadRatingPublic]
    total: int
    offset: int
    limit: int
    next: int | None


@response(frozen=True)
class RestrictionPublic(RestrictionEntry):
    pass


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


@response(frozen=True)
class CaseLightPublic(CaseLight):
    light: Annotated[str, Field(description="green, yellow or red")]


@response(frozen=True)
class FlagPublic(Flag):
    pass


class DepartmentCounts(BaseModel):
    lights: dict[str, int]
    flags: dict[str, int]
    needs_order: int
    deducted_points: int = Field(0, description="考核扣分 for red cases (FZ·24)")


@response(frozen=True)
class AnchoringPublic(AnchoringStatus):
    pass


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
