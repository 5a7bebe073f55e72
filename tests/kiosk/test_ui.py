"""The kiosk UI in a real headless Chromium against a real ``caseledger serve``: enrol, query
by serial number and verification code, timeline, print, rate; screenshots show Chinese text.
Then the HTTP edge: wrong codes, rate limiting (429 + Retry-After), the status endpoint."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from kiosk.trust import load_trust_policy
from kiosk.verify import verify_printout
from ledger.domain.kiosks import PRINT_RECORDED_TOPIC
from ledger.services.application import open_ledger
from tests.api.conftest import ROOT, Served
from tests.kiosk.served import KIOSK_ID, ServedWorld

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(
    not (Path(CHROMEDRIVER).exists() and Path(CHROMIUM).exists()),
    reason="needs Debian's chromium and chromium-driver",
)


def kiosk_token(served: Served) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli",
            "token",
            "create",
            "--db",
            served.db,
            "--role",
            "kiosk",
            "--name",
            KIOSK_ID,
        ],
        cwd=ROOT,
        env=served.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1200,1600",
        "--lang=zh-CN",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.implicitly_wait(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: Any, path: Path) -> None:
    png = driver.get_screenshot_as_png()
    path.write_bytes(png)
    with Image.open(io.BytesIO(png)) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert len(png) > 20_000 and colours is not None and len(colours) > 50  # text, not blank


def navigate(d: Any, element_id: str) -> None:
    """Click a control that loads a new page, and wait until the old page is gone (reading
    the old page's elements right after the click races the navigation)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    old = d.find_element(By.TAG_NAME, "html")
    d.find_element(By.ID, element_id).click()

    def old_page_gone(_: Any) -> bool:
        try:
            old.is_enabled()
        except WebDriverException:  # stale, or chromedriver's "does not belong to the document"
            return True
        return False

    WebDriverWait(d, 30).until(old_page_gone)
    WebDriverWait(d, 30).until(
        lambda drv: drv.execute_script("return document.readyState") == "complete"
    )


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_an_applicant_walks_through_the_kiosk_in_a_browser(
    browser: object,
    server: Served,
    served_world: ServedWorld,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from selenium.webdriver.common.by import By

    d: Any = browser
    shots = tmp_path_factory.mktemp("screenshots")
    d.get(server.url + "/kiosk")
    assert "终端登记" in d.find_element(By.TAG_NAME, "body").text
    d.find_element(By.ID, "token").send_keys(kiosk_token(server))
    navigate(d, "enrol")
    assert KIOSK_ID in d.find_element(By.TAG_NAME, "header").text
    screenshot(d, shots / "1-query.png")

    serial = served_world.closed
    d.find_element(By.ID, "serial").send_keys(serial)
    d.find_element(By.ID, "code").send_keys(served_world.codes[serial])
    navigate(d, "query")
    body = d.find_element(By.TAG_NAME, "body").text
    assert "办理进度" in body and "已办结" in body and has_chinese(body)
    steps = d.find_elements(By.CSS_SELECTOR, "#timeline li")
    assert [s.text.split("\n")[-1].split(" ")[0] for s in steps][:2] == ["提交申请", "预审通过"]
    assert len(steps) >= 9
    assert d.find_element(By.ID, "due").text.startswith("2026-")
    assert "打印结果" in d.find_element(By.ID, "next").text
    assert d.execute_script("return document.fonts.check('26px \"WenQuanYi Zen Hei\"', '办理进度')")
    screenshot(d, shots / "2-timeline.png")

    navigate(d, "print")
    result = d.find_element(By.ID, "print-result").text
    assert "已核验并打印" in result
    print_id = d.find_element(By.ID, "print-id").text
    screenshot(d, shots / "3-printed.png")
    token = d.get_cookie("kiosk_token")["value"]
    pdf = httpx.get(
        f"{server.url}/kiosk/printouts/{print_id}.pdf",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert verify_printout(pdf.content, load_trust_policy(str(served_world.policy))).ok

    navigate(d, "rate")
    d.find_element(By.ID, "level-1").click()
    navigate(d, "submit-rating")
    assert "感谢您的评价" in d.find_element(By.ID, "rating-result").text
    screenshot(d, shots / "4-rated.png")

    d.get(server.url + "/kiosk")
    other = served_world.open_case
    d.find_element(By.ID, "serial").send_keys(other)
    d.find_element(By.ID, "code").send_keys(served_world.codes[other])
    navigate(d, "query")
    assert "已受理" in d.find_element(By.ID, "state").text
    d.implicitly_wait(0)
    assert not d.find_elements(By.ID, "print")
    d.implicitly_wait(30)

    ledger = open_ledger(served_world.db)
    try:
        head = ledger.chain.chain_head()
        assert head is not None
        topics = [e.topic for e in ledger.chain.select_entries(max(1, head.sequence - 10), 20)]
    finally:
        ledger.close()
    assert PRINT_RECORDED_TOPIC in topics and any(
        t.endswith("Rating.Rated") or "Rating" in t for t in topics
    )


def test_a_wrong_code_discloses_nothing_and_guessing_is_rate_limited(
    server: Served, served_world: ServedWorld
) -> None:
    token = kiosk_token(server)
    with server.client(token) as client:
        wrong = client.post("/kiosk/query", data={"serial": served_world.closed, "code": "000000"})
        assert wrong.status_code == 404 and "验证码不正确" in wrong.text
        assert "食品经营许可" not in wrong.text
        statuses = [
            client.post("/kiosk/query", data={"serial": served_world.closed, "code": "111111"})
            for _ in range(15)
        ]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and int(limited[0].headers["Retry-After"]) >= 1


def test_pages_need_a_kiosk_token(server: Served, served_world: ServedWorld) -> None:
    with server.client() as client:
        response = client.post(
            "/kiosk/query",
            data={"serial": served_world.closed, "code": served_world.codes[served_world.closed]},
        )
    assert response.status_code == 401 and "终端登记" in response.text
    with server.client(server.token("auditor")) as client:
        assert client.get("/kiosk").text.count("终端登记") >= 1


def test_the_status_endpoint_answers_for_a_certificate(
    server: Served, served_world: ServedWorld
) -> None:
    with server.client() as client:
        unknown = client.get(
            "/kiosk/api/status", params={"subject": served_world.certificate_id, "hash": "0" * 64}
        )
        bad = client.get("/kiosk/api/status", params={"subject": "x", "hash": "zz"})
    assert unknown.json()["status"] == "unknown"
    assert bad.status_code == 422
