"""A served city for the command tests: one real ``caseledger serve`` per backend and module,
set up entirely over HTTP (departments enrolled, an item published, applicants registered)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import Served, run_cli, start_server, stop_server
from tests.conftest import fresh_pg_schema

FOOD = "GZ-SCJG"
TRANSPORT = "NH-JTJ"
ITEM = "GZ-SCJG-SPJY-101"
OTHER_ITEM = "NH-JTJ-DLYS-201"
ISSUER = "914403001922038216"
PDF = b"%PDF-1.7\n% test material\n%%EOF"


def guide(code: str = ITEM, department: str = FOOD) -> dict[str, Any]:
    return {
        "name": "食品经营许可",
        "basic_code": "00012307800Y",
        "implementation_code": code,
        "item_type": "01",
        "department": department,
        "legal_basis": ["《中华人民共和国食品安全法》第三十五条"],
        "acceptance_conditions": "具有与经营的食品品种相适应的场所",
        "materials": [
            {
                "code": "APPLICATION",
                "name": "申请书",
                "required": True,
                "certificate_types": [],
                "online": True,
                "window": True,
            },
            {
                "code": "FLOOR-PLAN",
                "name": "平面布局图",
                "required": True,
                "certificate_types": [],
                "online": True,
                "window": True,
            },
        ],
        "window_steps": ["申请", "受理", "决定"],
        "online_steps": ["网上申请", "决定"],
        "statutory_limit_days": 20,
        "promised_limit_days": 10,
        "fee": "0",
        "fee_basis": "",
        "handling_modes": ["full_online", "window"],
        "result_type": "certificate",
        "result_sample": "食品经营许可证（样本）",
        "hotline": "12345",
        "retention": "D30",
        "forms": [
            {
                "code": "APPLICATION-FORM",
                "name": "食品经营许可申请书",
                "blank_form": "https://gdzwfw.example/forms/food-apply.docx",
                "sample_text": "https://gdzwfw.example/forms/food-apply-sample.pdf",
                "online": True,
                "window": True,
            }
        ],
        "online_promised_limit_days": None,
        "full_online_exception": "",
    }


def register_applicant(
    client: httpx.Client, credential: str = "11010519491231002X", level: str = "advanced"
) -> str:
    """Register a natural person (advanced authentication unless ``level`` says otherwise,
    FZ·8) through ``client``; their id."""
    r = client.post(
        "/v1/applicants",
        json={
            "kind": "natural_person",
            "credential_kind": "resident_id",
            "credential": credential,
            "name": "张三丰",
            "phone": "13800138000",
            "address": "广州市天河区体育西路1号",
            "authentication_level": level,
            "authentication_method": None if level == "none" else "face",
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def case_body(applicant: str, material: dict[str, Any]) -> dict[str, Any]:
    """A ``POST /v1/cases`` body: the food item online, ``material`` (an upload's reference)
    given as both required materials."""
    return {
        "item_code": ITEM,
        "applicant_id": applicant,
        "channel": "web",
        "handling_mode": "full_online",
        "materials": [
            {"code": "APPLICATION", "form": "e_copy", **material},
            {"code": "FLOOR-PLAN", "form": "e_copy", **material},
        ],
        "delivery": "online",
    }


@dataclass
class World:
    served: Served
    tokens: dict[str, str]
    applicant: str
    material: dict[str, Any]
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def as_(self, who: str) -> httpx.Client:
        if who not in self.clients:
            self.clients[who] = self.served.client(self.tokens[who])
        return self.clients[who]

    def submit_body(self, applicant: str | None = None, **over: Any) -> dict[str, Any]:
        return case_body(applicant or self.applicant, self.material) | over

    def submit(self, who: str = "food", **over: Any) -> dict[str, Any]:
        r = self.as_(who).post("/v1/cases", json=self.submit_body(**over))
        assert r.status_code == 201, r.text
        return dict(r.json())

    def issue_certificate(self, serial: str, licence: str) -> str:
        """The food department issues the approved case's e-certificate (licence number
        ``licence``) over HTTP; its identifier."""
        r = self.as_("food").post(
            "/v1/certificates",
            json={
                "case_serial": serial,
                "type_code": ISSUER + "001",
                "serial": serial.replace("-", "")[-20:],
                "issuer_code": ISSUER,
                "content": {"licence": licence, "scope": "热食类食品制售"},
            },
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def chain_head(self) -> int:
        return int(self.as_("auditor").get("/readyz").json()["chain_head"])

    def commands_since(self, head: int) -> list[list[str]]:
        """The topics of each command recorded after chain entry ``head``."""
        found = self.as_("auditor").get("/v1/audit/entries", params={"from": head + 1}).json()
        commands: list[list[str]] = []
        for e in found["entries"]:
            if e["command"][0] == 0:
                commands.append([])
            commands[-1].append(e["topic"])
        return commands

    def register_applicant(
        self, credential: str = "11010519491231002X", level: str = "advanced"
    ) -> str:
        return register_applicant(self.as_("food"), credential, level)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env=self.served.env)


def _setup(served: Served) -> World:
    tokens = {
        "admin": served.token("admin"),
        "food": served.token("department", FOOD),
        "transport": served.token("department", TRANSPORT),
        "stranger": served.token("department", "ZZ-NONE"),
        "kiosk": served.token("kiosk"),
        "supervisor": served.token("supervisor"),
        "auditor": served.token("auditor"),
        "archivist": served.token("archivist"),
    }
    world = World(served, tokens, "", {})
    admin = world.as_("admin")
    for code, name in ((FOOD, "广州市市场监督管理局"), (TRANSPORT, "南海区交通运输局")):
        r = admin.post("/v1/admin/departments", json={"code": code, "name": name, "city": "广州市"})
        assert r.status_code == 201, r.text
    r = world.as_("food").post("/v1/catalogue/items", json={"guide": guide()})
    assert r.status_code == 201, r.text
    r = world.as_("transport").post(
        "/v1/catalogue/items", json={"guide": guide(OTHER_ITEM, TRANSPORT)}
    )
    assert r.status_code == 201, r.text
    r = world.as_("food").post("/v1/materials", files={"file": ("a.pdf", PDF, "application/pdf")})
    assert r.status_code == 201, r.text
    world.material = dict(r.json())
    world.applicant = world.register_applicant()
    return world


def _storage(request: pytest.FixtureRequest, tmp: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp / 'ledger.sqlite3'}"
        return
    with fresh_pg_schema() as url:
        yield url


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One served city per backend, shared by a module's tests (server start is slow)."""
    tmp = tmp_path_factory.mktemp("served")
    storage = _storage(request, tmp)
    url = next(storage)
    served = start_server(url, tmp / "keys")
    try:
        yield _setup(served)
    finally:
        stop_server(served)
        for _ in storage:
            pass
