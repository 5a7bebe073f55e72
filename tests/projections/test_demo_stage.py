"""The demo's supervision stage reports lights, flags and indicators computed by the views."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from api.demo.main import DemoContext
from api.demo.supervision import STAGE
from tests.projections.city import build_city


def test_the_supervision_stage_summarises_lights_flags_and_indicators(tmp_path: Path) -> None:
    city = build_city(f"sqlite:///{tmp_path / 'l.sqlite3'}", tmp_path)
    runtime: Any = SimpleNamespace(
        ledger=city.world.ledger, settings=SimpleNamespace(storage=city.storage)
    )
    ctx = DemoContext(runtime=runtime, rng=random.Random(1), out=tmp_path)
    STAGE.run(ctx)
    s = ctx.summary["supervision"]
    assert s["today"] == "2026-11-20"
    assert s["lights"] == {"green": 4, "yellow": 0, "red": 3} and s["open_cases"] == 7
    assert s["flags"]["second_correction"] == 1 and s["flags"]["paper_demanded"] == 1
    assert s["indicators"]["GZ-SCJG"]["on_time"] == {"numerator": 2, "denominator": 2}
    text = "\n".join(STAGE.lines(ctx))
    assert "green 4, yellow 0, red 3" in text and "GZ-SCJG" in text
    STAGE.run(ctx)  # running again applies nothing new and reports the same
    assert ctx.summary["supervision"]["lights"] == s["lights"]
    assert sum(ctx.summary["supervision"]["events_applied"].values()) == 0
