"""The kiosk UI in a real headless Chromium against a real ``caseledger serve``: enrol, query
by serial number and verification code, timeline, print, rate; screenshots show Chinese text.
Then the HTTP edge: wrong codes, rate limiting (429 + Retry-After), the status endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kiosk.trust import load_trust_policy
from kiosk.verify import verify_printout
from ledger.domain.kiosks import PRINT_RECORDED_TOPIC
from ledger.services.application import open_ledger
from tests.api.conftest import Served, run_cli
from tests.browser import headless_chromium, needs_chromium, screenshot
from tests.kiosk.served import KIOSK_ID, ServedWorld

pytestmark = needs_chromium


def kiosk_token(served: Served) -> str:
    args = ["token", "create", "--db", served.db, "--role", "kiosk", "--name", KIOSK_ID]
    return run_cli(*args, env=served.env, timeout=60, check=True).stdout.strip()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with headless_chromium(profile, window="1200,1600", implicit_wait=30) as driver:
        yield driver


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


# WCAG 2.1 AA 1.4.3 (contrast minimum), computed in the browser for every element that shows
# text (its own text nodes, or a form field's text): the colour the browser renders against the
# background it paints behind it (ancestors' background colours composited over a white
# canvas), relative luminance and ratio as WCAG 2.1 defines them; "large" text (at least 24 px,
# or 18.66 px bold) needs 3:1, all other text 4.5:1.
CONTRAST_JS = r"""
const channel = (v) => {
  v /= 255;
  return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
};
const luminance = (c) => 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
const parse = (s) => {
  const m = s.match(/rgba?\(([^)]+)\)/);
  if (!m) return [0, 0, 0, 0];
  const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
};
const over = (top, under) =>
  [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
const backdrop = (el) => {
  const layers = [];
  for (let e = el; e; e = e.parentElement) layers.push(parse(getComputedStyle(e).backgroundColor));
  return layers.reverse().reduce((under, layer) => over(layer, under), [255, 255, 255, 1]);
};
const found = [];
for (const el of document.querySelectorAll("body *")) {
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  if (style.display === "none" || style.visibility === "hidden") continue;
  if (!box.width || !box.height) continue;
  const field = ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName)
    && !["hidden", "radio", "checkbox"].includes(el.type);
  const text = Array.from(el.childNodes).filter((n) => n.nodeType === 3)
    .map((n) => n.textContent).join("").trim();
  if (!text && !field) continue;
  const bg = backdrop(el);
  const fg = over(parse(style.color), bg);
  const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
  const size = parseFloat(style.fontSize);
  const bold = parseInt(style.fontWeight, 10) >= 700;
  found.push({
    element: el.tagName.toLowerCase() + (el.className ? "." + el.className : "")
      + (el.parentElement ? " in " + el.parentElement.tagName.toLowerCase() : ""),
    text: (text || "[" + (el.id || el.name) + "]").slice(0, 40),
    color: style.color,
    background: "rgb(" + bg.slice(0, 3).map(Math.round).join(", ") + ")",
    ratio: Math.round(((hi + 0.05) / (lo + 0.05)) * 100) / 100,
    needed: size >= 24 || (bold && size >= 18.66) ? 3 : 4.5,
  });
}
return found;
"""


def contrast(d: Any) -> list[dict[str, Any]]:
    """Every text element of the page with its contrast ratio and the ratio it needs."""
    found: list[dict[str, Any]] = d.execute_script(CONTRAST_JS)
    return found


def test_every_kiosk_text_meets_wcag_aa_contrast(
    browser: object, server: Served, served_world: ServedWorld
) -> None:
    from selenium.webdriver.common.by import By

    d: Any = browser
    d.delete_all_cookies()
    checked: dict[str, list[dict[str, Any]]] = {}
    d.get(server.url + "/kiosk")
    checked["enrol"] = contrast(d)
    d.find_element(By.ID, "token").send_keys(kiosk_token(server))
    navigate(d, "enrol")
    checked["query"] = contrast(d)
    serial = served_world.closed
    d.find_element(By.ID, "serial").send_keys(serial)
    d.find_element(By.ID, "code").send_keys("000000")
    navigate(d, "query")
    checked["wrong code"] = contrast(d)
    d.get(server.url + "/kiosk")
    d.find_element(By.ID, "serial").send_keys(serial)
    d.find_element(By.ID, "code").send_keys(served_world.codes[serial])
    navigate(d, "query")
    checked["case"] = contrast(d)
    navigate(d, "print")
    checked["printed"] = contrast(d)
    navigate(d, "rate")
    checked["rating form"] = contrast(d)
    d.find_element(By.ID, "level-2").click()
    navigate(d, "submit-rating")
    checked["rated or refused"] = contrast(d)

    shown = checked
    assert all(len(items) >= 5 for items in shown.values()), shown
    buttons = [x for items in shown.values() for x in items if " in button" in x["element"]]
    assert any(x["text"] == "Print result" for x in buttons)  # the English labels on red
    failures = [
        f"{page}: {x['element']} {x['text']!r} {x['color']} on {x['background']} = "
        f"{x['ratio']}:1 < {x['needed']}:1"
        for page, items in shown.items()
        for x in items
        if x["ratio"] < x["needed"]
    ]
    assert not failures, "\n".join(failures)


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
