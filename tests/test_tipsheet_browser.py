"""The tip sheet in a real headless Chromium with no network at all.

Loads ``tipsheet.html`` from ``file://`` with every host unresolvable and a dead proxy: the map
must still show the shipped Natural Earth context under the track (never a blank box), one
lead per aircraft, the probability filter down to 0 with a count of what it hides, sorting,
thumbnails that enlarge, and hostile strings as text. Takes a desktop and a phone-width
screenshot (kept in the test's tmp folder; ``FLIGHTPATHS_SCREENSHOTS=DIR`` copies them there).
A second test serves tiles from a local HTTPS fixture (self-signed, via ``openssl``) in place
of OpenStreetMap: they load and the shipped land fill fades.
Needs Debian's ``chromium`` and ``chromium-driver`` (``make test`` installs them).
"""

from __future__ import annotations

import http.server
import io
import os
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest
from test_score import HOSTILE
from test_tipsheet import fake_places_near, lead_episodes, lead_windows

from flightpaths.score import write_tip_sheet

pytestmark = pytest.mark.browser  # skipped without Chromium (conftest.py)


#: no network at all: every host unresolvable and a dead proxy
OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9")


@pytest.fixture()
def driver(chromium: Callable[..., object]) -> object:
    return chromium(*OFFLINE, window="1280,1000")


@pytest.fixture()
def sheet(tmp_path: Path) -> Path:
    windows = lead_windows()
    windows.loc[windows["object_id"] == "000bad", "callsign"] = "<img src=x onerror=\"document.title='pwned'\">" + HOSTILE
    late = windows["object_id"] == "000bad"  # the London aircraft flies 40 min later, briefly
    windows.loc[late, "start"] += pd.Timedelta(minutes=40)
    windows.loc[late, "end"] += pd.Timedelta(minutes=40)
    eps = lead_episodes(windows)
    return write_tip_sheet(eps, tmp_path / "tipsheet.html", windows=windows, threshold=0.5, places_near=fake_places_near)


def _js(driver: object, script: str) -> object:
    return driver.execute_script(script)  # type: ignore[attr-defined]


def _order(driver: object) -> list[str]:
    return _js(driver, "return Array.from(document.querySelectorAll('article.lead')).map(a=>a.getAttribute('data-object'))")  # type: ignore[return-value]


def _set_threshold(driver: object, value: str) -> tuple[int, str]:
    _js(driver, f"var t=document.getElementById('thr'); t.value='{value}'; t.dispatchEvent(new Event('input'));")
    shown = len(_js(driver, "return Array.from(document.querySelectorAll('article.lead')).filter(a=>!a.hidden)"))  # type: ignore[arg-type]
    return shown, str(_js(driver, "return document.getElementById('hidden').textContent"))


def test_tip_sheet_offline_in_chromium(driver: object, sheet: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver.get(sheet.as_uri())  # type: ignore[attr-defined]
    assert driver.title == "flightpaths tip sheet"  # type: ignore[attr-defined]  # no injected onerror ran
    # the map: open on the best lead, drawn from the shipped context though no tile can load
    assert _js(driver, "return typeof L") == "object"
    size = _js(driver, "var r=document.getElementById('map').getBoundingClientRect(); return [r.width, r.height]")
    assert size[0] > 300 and size[1] > 200  # type: ignore[index]
    for cls in ("fp-land", "fp-track", "fp-place", "fp-centre"):  # London: land all round at this scale
        assert _js(driver, f"return document.querySelectorAll('#map path.{cls}').length") > 0, cls
    assert _js(driver, "return document.getElementById('mapbox').classList.contains('online')") is False
    assert _js(driver, "return document.querySelectorAll('#map img.leaflet-tile-loaded').length") == 0
    # hostile strings are text: in the page, in a map label, in the callsign
    body = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert HOSTILE in body and "<img src=x onerror=alert(2)>Evil" in body
    assert _js(driver, "return document.querySelectorAll('img[src=\"x\"]').length") == 0
    # one lead per aircraft, its moments listed
    assert sorted(_order(driver)) == ["000bad", "a1b2c3"]
    assert _js(driver, "return document.querySelector('article[data-object=a1b2c3]').querySelectorAll('li.moment').length") == 2
    # the filter reaches 0 and says how many leads it hides
    assert _set_threshold(driver, "0") == (2, "none hidden")
    shown, hidden = _set_threshold(driver, "0.97")
    assert shown == 1 and hidden.startswith("1 lead hidden by the filter")
    assert driver.find_element(By.ID, "count").text == "1"  # type: ignore[attr-defined]
    _set_threshold(driver, "0")
    # sorting: probability (000bad 0.99 first), time (a1b2c3 at 12:00 first), duration (a1b2c3 20 min first)
    assert _order(driver) == ["000bad", "a1b2c3"]
    driver.find_element(By.CSS_SELECTOR, "button.sort[data-key=t]").click()  # type: ignore[attr-defined]
    assert _order(driver) == ["a1b2c3", "000bad"]
    driver.find_element(By.CSS_SELECTOR, "button.sort[data-key=p]").click()  # type: ignore[attr-defined]
    assert _order(driver) == ["000bad", "a1b2c3"]
    driver.find_element(By.CSS_SELECTOR, "button.sort[data-key=d]").click()  # type: ignore[attr-defined]
    assert _order(driver) == ["a1b2c3", "000bad"]
    # another moment's map moves into its lead and redraws
    driver.find_elements(By.CSS_SELECTOR, "article[data-object=a1b2c3] button.showmap")[-1].click()  # type: ignore[attr-defined]  # its later moment
    assert _js(driver, "return document.getElementById('mapbox').closest('article').getAttribute('data-object')") == "a1b2c3"
    for cls in ("fp-land", "fp-coast", "fp-track", "fp-before"):  # New York harbour: a coastline too
        assert _js(driver, f"return document.querySelectorAll('#map path.{cls}').length") > 0, cls
    # thumbnails enlarge on click
    thumb = driver.find_element(By.CSS_SELECTOR, "article[data-object=a1b2c3] img.thumb")  # type: ignore[attr-defined]
    thumb.click()
    assert "big" in thumb.get_attribute("class") and thumb.size["width"] >= 250
    from selenium.webdriver.common.keys import Keys

    thumb.send_keys(Keys.ENTER)  # and back, from the keyboard
    assert "big" not in thumb.get_attribute("class")
    thumb.send_keys(Keys.ENTER)
    shots = [tmp_path / "tipsheet-desktop.png", tmp_path / "tipsheet-phone.png"]
    driver.save_screenshot(str(shots[0]))  # type: ignore[attr-defined]
    driver.set_window_size(390, 900)  # type: ignore[attr-defined]
    assert _js(driver, "return document.documentElement.scrollWidth <= document.documentElement.clientWidth")  # no sideways scroll
    driver.save_screenshot(str(shots[1]))  # type: ignore[attr-defined]
    assert all(p.stat().st_size > 10_000 for p in shots)
    keep = os.environ.get("FLIGHTPATHS_SCREENSHOTS")
    if keep:
        for p in shots:
            shutil.copy(p, Path(keep) / p.name)


class _Tiles(http.server.BaseHTTPRequestHandler):
    """A tile server fixture: every request gets the same plain 256 px PNG."""

    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        from PIL import Image

        buf = io.BytesIO()
        Image.new("RGB", (256, 256), (200, 230, 200)).save(buf, "PNG")
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(buf.getvalue())))
        self.end_headers()
        self.wfile.write(buf.getvalue())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def tile_server(tmp_path: Path) -> Iterator[int]:
    """HTTPS on 127.0.0.1 with a self-signed certificate for tile.openstreetmap.org."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command for a self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=tile.openstreetmap.org"], check=True, capture_output=True, timeout=60)  # fmt: skip
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Tiles)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()


def test_tip_sheet_online_shows_tiles_and_fades_the_fallback(sheet: Path, chromium: Callable[..., object], tile_server: int) -> None:
    """With tiles reachable (a local fixture standing in for OpenStreetMap), they load under the
    track and the shipped land fill fades so it does not hide them."""
    import time

    _Tiles.hits.clear()
    rules = f"MAP tile.openstreetmap.org:443 127.0.0.1:{tile_server}, MAP * ~NOTFOUND"
    drv = chromium(f"--host-resolver-rules={rules}", "--ignore-certificate-errors", window="1280,1000")
    drv.get(sheet.as_uri())  # type: ignore[attr-defined]
    for _ in range(50):
        if _js(drv, "return document.getElementById('mapbox').classList.contains('online')"):
            break
        time.sleep(0.1)
    assert _Tiles.hits and all(h.endswith(".png") for h in _Tiles.hits)
    assert _js(drv, "return document.querySelectorAll('#map img.leaflet-tile-loaded').length") > 0
    assert _js(drv, "return getComputedStyle(document.querySelector('#map path.fp-land')).fillOpacity") == "0"
    assert _js(drv, "return document.querySelectorAll('#map path.fp-track').length") > 0
