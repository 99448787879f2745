"""watch's live page in a real headless Chromium (offline): an open alert on a Leaflet map over
the shipped map context, its context as text, hostile fields shown as text, pushed updates.
Needs Debian's ``chromium`` and ``chromium-driver`` (``make test`` installs them)."""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
HOSTILE = '<img src=x onerror="window.pwned=1">'

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; `make test` does it)",
    ),
]


@pytest.fixture()
def driver(tmp_path: Path) -> Iterator[Any]:
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager reach the network
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # offline: map tiles fail, the page must not care
                 f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1100,1000"):  # fmt: skip
        options.add_argument(flag)
    drv = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    drv.set_page_load_timeout(20)
    try:
        yield drv
    finally:
        drv.quit()


def _wait(drv: Any, script: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = drv.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script}")


def _orbit(lat0: float, lon0: float, n: int = 60) -> list[list[float]]:
    """A circle of about 1 km over Jamaica Bay, New York, as [lat, lon] points."""
    return [[round(lat0 + 0.009 * math.sin(2 * math.pi * i / 20), 5),
             round(lon0 + 0.012 * math.cos(2 * math.pi * i / 20), 5)] for i in range(n)]  # fmt: skip


def _episode(callsign: str) -> dict[str, Any]:
    return {"alert_id": "a1b2c3_20240601T093100_circling", "object_id": "a1b2c3", "callsign": callsign,
            "registration": "N556BW", "type_code": "B407", "operator": HOSTILE, "place": "Howard Beach, Queens",
            "start": "2024-06-01 09:31:00+00:00", "end": "2024-06-01 09:59:00+00:00", "lat": 40.62, "lon": -73.83,
            "p_segment": 0.97}  # fmt: skip


def test_live_page_shows_an_alert_on_a_map_with_its_context_as_text(driver: Any, tmp_path: Path) -> None:
    from flightpaths.watch.server import LivePage, alert_view

    page = LivePage.start(0)
    try:
        alert = alert_view(_episode(HOSTILE), _orbit(40.62, -73.83))
        assert alert["context"]["land"] and alert["context"]["coast"]  # New York: land and coast, offline
        assert "EDT" in alert["when_local"] and alert["when_utc"] == "2024-06-01 09:31–09:59 UTC"
        page.state["data"] = {"feed_time": "2024-06-01 09:45:00+00:00", "alerts": [alert], "closed": [],
                              "aircraft": [{"object_id": "a1b2c3", "callsign": HOSTILE, "time": "t", "lat": 40.6, "lon": -73.8}]}  # fmt: skip
        page.state["version"] += 1
        driver.get(page.url)
        _wait(driver, "return document.querySelector('.alert .leaflet-container path.fp-track') !== null")
        assert driver.execute_script("return typeof L") == "object"  # Leaflet loaded under the strict CSP
        text = driver.find_element("css selector", ".alert").text
        for want in (HOSTILE, "N556BW", "B407", "Howard Beach, Queens", "Sat 01 Jun 2024, 05:31–05:59 EDT",
                     "2024-06-01 09:31–09:59 UTC", "0.97"):  # fmt: skip
            assert want in text, (want, text)
        assert driver.execute_script("return document.querySelectorAll('.fp-land').length") > 0  # offline context drawn
        assert driver.execute_script("return document.querySelectorAll('img[src=\"x\"]').length") == 0
        assert driver.execute_script("return window.pwned === undefined")
        assert HOSTILE in driver.find_element("css selector", "#aircraft").text
        driver.save_screenshot(str(tmp_path / "live.png"))
        shot = os.environ.get("FLIGHTPATHS_SCREENSHOT")
        if shot:
            shutil.copy(tmp_path / "live.png", shot)
        # a pushed update changes the text in place; the map stays
        driver.execute_script("document.querySelector('.alert .leaflet-container').dataset.mark = 'same'")
        page.state["data"] = {**page.state["data"], "alerts": [alert_view(_episode("NYPD2"), _orbit(40.62, -73.83, 80))]}
        page.state["version"] += 1
        _wait(driver, "return document.querySelector('.alert h3').textContent.includes('NYPD2')")
        assert driver.execute_script("return document.querySelector('.alert .leaflet-container').dataset.mark") == "same"
        page.state["data"] = {**page.state["data"], "alerts": []}
        page.state["version"] += 1
        _wait(driver, "return document.querySelectorAll('.alert').length === 0")
    finally:
        page.stop()
