"""A real headless Chromium for the browser tests (the supervision dashboard, the kiosk UI).

Layer: tests (helpers). Debian's ``chromium`` and ``chromium-driver`` drive the pages that
``caseledger serve`` renders; tests that need them carry ``needs_chromium`` and are skipped
where they are not installed. Screenshots are checked to show something (text, charts), not
a blank page.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"

needs_chromium = pytest.mark.skipif(
    not (Path(CHROMEDRIVER).exists() and Path(CHROMIUM).exists()),
    reason="needs Debian's chromium and chromium-driver",
)


@contextmanager
def headless_chromium(profile: Path, *, window: str, implicit_wait: float) -> Iterator[Any]:
    """A WebDriver for headless Chromium in Chinese with its profile in ``profile`` (removed
    on exit); ``window`` is ``"W,H"``, ``implicit_wait`` the seconds to wait for elements."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={window}",
        "--lang=zh-CN",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.implicitly_wait(implicit_wait)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: Any, path: Path) -> tuple[int, int]:
    """Save the page as PNG at ``path``, assert it shows text (not a blank page), and return
    the image's size in pixels."""
    png = driver.get_screenshot_as_png()
    path.write_bytes(png)
    with Image.open(io.BytesIO(png)) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        size: tuple[int, int] = image.size
    assert len(png) > 20_000 and colours is not None and len(colours) > 50  # text, not blank
    return size
