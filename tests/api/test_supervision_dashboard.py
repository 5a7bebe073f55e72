"""The supervision dashboard in a real headless Chromium against a real ``caseledger serve``:
the token is exchanged for an HttpOnly cookie, the page shows the counts
``GET /v1/supervision/warnings`` gives, with SVG charts, and a screenshot is taken."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api import reads_world
from tests.api.http_world import FOOD
from tests.api.reads_world import ReadsWorld
from tests.browser import headless_chromium, needs_chromium, screenshot

rworld_sqlite = reads_world.rworld_sqlite


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with headless_chromium(profile, window="1280,1800", implicit_wait=10) as driver:
        yield driver


def test_the_dashboard_needs_a_supervisor_token(rworld_sqlite: ReadsWorld) -> None:
    url = rworld_sqlite.world.served.url
    page = httpx.get(f"{url}/supervision")
    assert page.status_code == 200 and "Supervisor token" in page.text
    assert "count-red" not in page.text
    refused = httpx.get(
        f"{url}/supervision",
        params={"token": rworld_sqlite.world.tokens["food"]},
        follow_redirects=False,
    )
    assert refused.status_code == 401
    granted = httpx.get(
        f"{url}/supervision",
        params={"token": rworld_sqlite.world.tokens["supervisor"]},
        follow_redirects=False,
    )
    assert granted.status_code == 303 and granted.headers["location"] == "/supervision"
    cookie = granted.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/supervision" in cookie
    bearer = httpx.get(
        f"{url}/supervision",
        headers={"Authorization": f"Bearer {rworld_sqlite.world.tokens['supervisor']}"},
    )
    assert bearer.status_code == 200 and "id='count-red'" in bearer.text
    assert "http-equiv='refresh'" in bearer.text and "<svg" in bearer.text
    data = httpx.get(
        f"{url}/supervision/data.json",
        headers={"Authorization": f"Bearer {rworld_sqlite.world.tokens['supervisor']}"},
    )
    assert data.status_code == 200 and "summary" in data.json()
    assert httpx.get(f"{url}/supervision/data.json").status_code == 401


@needs_chromium
def test_the_dashboard_in_chromium_shows_the_warnings(
    rworld_sqlite: ReadsWorld, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    w = rworld_sqlite.world
    browser.get(f"{w.served.url}/supervision?token={w.tokens['supervisor']}")
    assert browser.current_url.endswith("/supervision")  # the token left the address bar
    expected = w.as_("supervisor").get("/v1/supervision/warnings").json()["summary"]
    shown = {
        k: int(browser.find_element(By.ID, f"count-{k}").text)
        for k in ("open", "green", "yellow", "red", "needs-order")
    }
    assert shown == {
        "open": expected["open_cases"],
        "green": expected["lights"]["green"],
        "yellow": expected["lights"]["yellow"],
        "red": expected["lights"]["red"],
        "needs-order": expected["needs_order"],
    }
    assert "电子监察看板" in browser.title
    rows = browser.find_elements(By.CSS_SELECTOR, "#departments tr[data-department]")
    assert {r.get_attribute("data-department") for r in rows} == set(expected["by_department"])
    assert browser.find_elements(By.CSS_SELECTOR, f"svg[id^='indicators-{FOOD}'] rect.bar")
    assert browser.find_elements(By.CSS_SELECTOR, "#lights-chart rect.bar")
    # the cookie holds the session; it is invisible to scripts (HttpOnly)
    assert browser.execute_script("return document.cookie") == ""
    # a supervisor may look at another day: 40 days after the due date both cases are red
    late = (dt.date.fromisoformat(rworld_sqlite.due) + dt.timedelta(days=40)).isoformat()
    browser.get(f"{w.served.url}/supervision?as_of={late}")
    later = w.as_("supervisor").get("/v1/supervision/warnings", params={"as_of": late}).json()
    assert browser.find_element(By.ID, "today").text == late
    assert int(browser.find_element(By.ID, "count-red").text) == later["summary"]["lights"]["red"]
    assert (
        int(browser.find_element(By.ID, "count-needs-order").text)
        == later["summary"]["needs_order"]
    )
    assert later["summary"]["lights"]["red"] >= 2
    assert len(browser.find_elements(By.CSS_SELECTOR, "tr.case.red")) == later["lights"]["total"]
    width, _ = screenshot(browser, tmp_path / "supervision.png")  # text and charts, not blank
    assert width >= 1000
