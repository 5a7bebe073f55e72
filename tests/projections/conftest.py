"""The scripted city, built once per test session on a real SQLite file, views caught up."""

from __future__ import annotations

from typing import Any

import pytest

from tests.projections.city import City, build_city


@pytest.fixture(scope="session")
def city(tmp_path_factory: pytest.TempPathFactory) -> City:
    tmp = tmp_path_factory.mktemp("city")
    return build_city(f"sqlite:///{tmp / 'ledger.sqlite3'}", tmp)


Views = dict[str, Any]
"""The views by name (typed loosely: each query takes its own view class)."""


@pytest.fixture(scope="session")
def views(city: City) -> Views:
    return city.views()
