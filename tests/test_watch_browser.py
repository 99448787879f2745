"""watch's live page in a real headless Chromium (offline): an open alert on a Leaflet map over
the shipped map context, its context as text, hostile fields shown as text, pushed updates.
Needs Debian's ``chromium`` and ``chromium-driver`` (``make test`` installs them)."""

from __future__ import annotations

import math
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_tipsheet_browser import _Tiles, tile_server  # noqa: F401 - the tile server fixture, shared with the tip sheet's test

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


# ------------------------------------------------------------------- the page as a reporter sees it
def _reporter_data() -> dict[str, Any]:
    """Two open alerts (one with its track, one whose track is still empty: only its centre and
    radius are known), one with no position at all, hostile text in every field a feed fills,
    long unbreakable text that would widen a table, and a feed 12 s behind the browser's clock."""
    from flightpaths.watch.server import alert_view, closed_view

    now_ms = int(time.time() * 1000)
    tracked = alert_view({**_episode(HOSTILE), "p_segment": 0.61, "radius_m": 900.0}, _orbit(40.62, -73.83))
    centre_only = alert_view({"alert_id": "aa2183_x", "object_id": "aa2183", "callsign": "N752AM" + HOSTILE,
                              "registration": "N752AM", "operator": "US Department of Homeland Security", "place": "Cleveland, Ohio, US",
                              "start": "2024-06-01 10:00:00+00:00", "end": "2024-06-01 10:20:00+00:00",
                              "lat": 41.4993, "lon": -81.6944, "radius_m": 1500.0, "p_segment": 0.93}, [])  # fmt: skip
    nowhere = alert_view({"alert_id": "bb0001_x", "object_id": "bb0001", "start": "2024-06-01 10:00:00+00:00",
                          "end": "2024-06-01 10:05:00+00:00", "p_segment": 0.3}, [])  # fmt: skip
    long = "W" * 120  # no break opportunity: the table must wrap or scroll inside its own box
    aircraft = [{"object_id": f"a{i:05x}", "callsign": HOSTILE if i == 0 else long, "registration": "N1", "seen_ms": now_ms - 12_000,
                 "lat": 40.6, "lon": -73.8, "altitude_ft": 1200.0, "speed_kt": 90.0, "alert": i == 0} for i in range(5)]  # fmt: skip
    closed = [closed_view({"episode_id": "c1", "object_id": "a1b2c3", "callsign": long, "place": HOSTILE + long,
                           "start": "2024-06-01 08:00:00+00:00", "end": "2024-06-01 08:40:00+00:00", "lat": 40.6, "lon": -73.8,
                           "p_segment": 0.8, "tz": "America/New_York", "registration": "N556BW"})]  # fmt: skip
    return {"feed_time": "t", "feed_ms": now_ms - 12_000, "alerts": [tracked, centre_only, nowhere], "aircraft": aircraft, "closed": closed}


def _bounds(drv: Any, alert_id: str) -> list[float]:
    got = _wait(drv, f"return document.querySelector('.alert[data-alert-id=\"{alert_id}\"] .livemap').dataset.bounds")
    return [float(v) for v in str(got).split(",")]


def _check_page(drv: Any, width: int) -> None:
    _wait(drv, "return document.querySelectorAll('.alert .leaflet-container').length === 2")
    # the tracked alert is fitted to its track, the centre-only one to its circle: never to 0, 0
    for alert_id, (lat, lon) in (("a1b2c3_20240601T093100_circling", (40.62, -73.83)), ("aa2183_x", (41.4993, -81.6944))):
        west, south, east, north = _bounds(drv, alert_id)
        assert west < lon < east and south < lat < north, (alert_id, west, south, east, north)
        assert north - south < 0.5, (alert_id, north - south)  # zoomed on the place, not the world
    centre_only = ".alert[data-alert-id=\"aa2183_x\"]"
    assert drv.execute_script(f"return document.querySelectorAll('{centre_only} path.fp-track').length") == 0
    assert drv.execute_script(f"return document.querySelectorAll('{centre_only} path.fp-radius').length") == 1
    label = drv.execute_script(f"return document.querySelector('{centre_only} .livemap').getAttribute('aria-label')")
    assert "Cleveland, Ohio, US" in label, label  # the map says what it shows
    assert "No position for this alert yet" in drv.find_element("css selector", ".alert[data-alert-id=\"bb0001_x\"]").text
    # highest probability first, "possible" never "confirmed", the count in the title
    heads = [e.text for e in drv.find_elements("css selector", ".alert h3")]
    assert "N752AM" in heads[0] and all(h.startswith("possible circling") for h in heads), heads
    assert "confirmed" not in drv.find_element("css selector", "#alerts").text.lower()
    assert drv.title.startswith("(3) flightpaths watch")
    # the feed time to the second with its zone, and its age; no nanoseconds anywhere
    feed, age = drv.find_element("css selector", "#feed").text, drv.find_element("css selector", "#age").text
    assert re.search(r"\b\d{2}:\d{2}:\d{2} [A-Z][A-Za-z0-9+:-]*$", feed) and not re.search(r"\d{2}\.\d", feed), feed
    assert re.fullmatch(r"\(1[2-9] s ago\)|\([2-9]\d s ago\)", age), age
    body = drv.find_element("css selector", "body").text
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d{3}", body)
    # hostile fields are text; nothing widens the page
    assert HOSTILE in drv.find_element("css selector", "#aircraft").text and HOSTILE in body
    assert drv.execute_script("return document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert drv.execute_script("return window.pwned === undefined")
    sizes = drv.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert sizes[0] <= sizes[1], (width, sizes)
    # the offline context under the maps (no tiles here), with place links to check each alert
    assert drv.execute_script("return document.querySelectorAll('.fp-land').length") > 0
    assert drv.execute_script("return document.querySelector('.livemap.online') === null")  # no tiles: the land fill stays
    links = drv.execute_script("return [...document.querySelectorAll('.alert .links a')].map(a => a.textContent)")
    assert "ADS-B Exchange" in links and "FAA registry" in links, links


@pytest.mark.parametrize("width", [1280, 900, 390])
def test_live_page_as_a_reporter_sees_it(chromium: Any, tmp_path: Path, width: int) -> None:
    from flightpaths.watch.server import LivePage

    page = LivePage.start(0)
    try:
        page.state["data"] = _reporter_data()
        page.state["version"] += 1
        drv = chromium("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", window=f"{max(width, 500)},900")
        if width < 500:  # a headless window is at least 500 px wide: a phone is emulated
            drv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        drv.get(page.url)
        assert drv.execute_script("return window.innerWidth") == width
        _check_page(drv, width)
        drv.save_screenshot(str(tmp_path / f"live-{width}.png"))
        keep = os.environ.get("FLIGHTPATHS_SCREENSHOTS")
        if keep:
            shutil.copy(tmp_path / f"live-{width}.png", Path(keep) / f"live-{width}.png")
        if width != 1280:
            return
        _connection_status_is_true(drv, page)
    finally:
        page.stop()


def _quiet(drv: Any, seconds: float, page: Any = None) -> None:
    """No word of a lost connection for *seconds* (pushing updates meanwhile, when *page*)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert drv.execute_script("return document.getElementById('status').hidden"), drv.find_element("css selector", "#status").text
        if page is not None:
            page.state["version"] += 1
        time.sleep(0.2)


def _connection_status_is_true(drv: Any, page: Any) -> Any:
    """'connection lost' never shows while the server is up, nor for a drop the browser mends by
    itself; it shows once the server is gone, and goes when the server is back."""
    from flightpaths.watch.server import LivePage

    _quiet(drv, 5, page)
    page.server.stopping.set()  # every open event stream ends; the server stays up
    time.sleep(0.6)
    page.server.stopping.clear()
    _quiet(drv, 3)
    page.state["data"] = {**page.state["data"], "alerts": page.state["data"]["alerts"][:1]}  # the page reconnected: it sees this
    page.state["version"] += 1
    _wait(drv, "return document.title.startsWith('(1) ')")
    _quiet(drv, 1)
    port, token = page.server.port, page.token
    page.stop()
    lost = "const s = document.getElementById('status'); return !s.hidden && s.textContent.includes('connection')"
    _wait(drv, "return " + "(() => {" + lost + "})()")
    back = LivePage.start(port, token)  # watch restarted on the same port (a test keeps the token)
    try:
        back.state["data"] = {"feed_ms": None, "alerts": [], "aircraft": [], "closed": []}
        back.state["version"] += 1
        _wait(drv, "return document.getElementById('status').hidden && document.title === 'flightpaths watch'", timeout=20)
    finally:
        back.stop()


def test_live_page_empty_state_says_what_it_waits_for(chromium: Any) -> None:
    from flightpaths.watch.server import LivePage

    page = LivePage.start(0)
    try:
        drv = chromium("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", window="1280,900")
        drv.get(page.url)
        _wait(drv, "return document.getElementById('aircraft').textContent.length > 0")
        text = drv.find_element("css selector", "body").text
        for want in ("waiting for the feed", "No alerts yet", "No aircraft heard yet", "No closed episodes yet"):
            assert want in text, (want, text)
        assert drv.title == "flightpaths watch"
    finally:
        page.stop()


def test_live_page_online_shows_tiles_and_fades_the_fallback(chromium: Any, request: pytest.FixtureRequest) -> None:
    """With tiles reachable (the tip sheet's local stand-in for OpenStreetMap) they load under the
    track and the shipped land fill fades; offline (the tests above) it stays."""
    from flightpaths.watch.server import LivePage, alert_view

    port = request.getfixturevalue("tile_server")
    _Tiles.hits.clear()
    page = LivePage.start(0)
    try:
        page.state["data"] = {"feed_ms": int(time.time() * 1000), "alerts": [alert_view(_episode("NYPD2"), _orbit(40.62, -73.83))],
                              "aircraft": [], "closed": []}  # fmt: skip
        page.state["version"] += 1
        rules = f"MAP tile.openstreetmap.org:443 127.0.0.1:{port}, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
        drv = chromium(f"--host-resolver-rules={rules}", "--ignore-certificate-errors", window="1280,900")
        drv.get(page.url)
        _wait(drv, "return document.querySelector('.livemap.online') !== null")
        assert _Tiles.hits and all(h.endswith(".png") for h in _Tiles.hits)
        assert drv.execute_script("return document.querySelectorAll('.livemap img.leaflet-tile-loaded').length") > 0
        assert drv.execute_script("return getComputedStyle(document.querySelector('.livemap path.fp-land')).fillOpacity") == "0"
        assert drv.execute_script("return document.querySelectorAll('.livemap path.fp-track').length") > 0
    finally:
        page.stop()
