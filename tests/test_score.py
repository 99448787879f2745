"""Scoring outputs on hand-made windows: episodes, writers, escaping, the tip sheet."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flightpaths.errors import FlightpathsError, SchemaError
from flightpaths.fileio import OutputExistsError
from flightpaths.score import (
    EPISODE_COLUMNS,
    ScoreSettings,
    episode_classes,
    merge_episodes,
    write_episodes_csv,
    write_episodes_geojson,
    write_episodes_kml,
    write_windows_parquet,
)
from flightpaths.score.writers import KML_NS

T0 = pd.Timestamp("2024-05-01 12:00:00", tz="UTC")
HOSTILE = "<script>alert(1)</script>"


def _w(wid: str, obj: str, start_min: float, p: float, *, length_min: float = 5, lat: float = 40.7,
       lon: float = -74.0, callsign: str | None = "NYPD1", line: int = 1) -> dict[str, object]:
    start = T0 + pd.Timedelta(minutes=start_min)
    circle = np.linspace(0, 2 * np.pi, 30)
    return {
        "window_id": wid, "object_id": obj, "callsign": callsign, "start": start,
        "end": start + pd.Timedelta(minutes=length_min), "window_s": length_min * 60,
        "lat": lat, "lon": lon, "radius_m": 500.0, "n_points": 30,
        "source_file": "day1.sbs", "line_first": line, "line_last": line + 99,
        "px": 500 * np.cos(circle), "py": 500 * np.sin(circle),
        "p_circling": p, "p_not_circling": 1 - p,
    }


@pytest.fixture()
def windows() -> pd.DataFrame:
    """Aircraft a1b2c3: windows every 2.5 min from 0 to 30 min, positive 0-10 and 20-25;
    aircraft 000bad: one positive window with a hostile callsign; ffffff: never positive."""
    rows = []
    probs = [0.9, 0.8, 0.95, 0.6, 0.2, 0.1, 0.3, 0.2, 0.7, 0.75, 0.1, 0.0]
    for i, p in enumerate(probs):
        rows.append(_w(f"a_{i}", "a1b2c3", 2.5 * i, p, line=100 * i + 1))
    rows.append(_w("h_0", "000bad", 0, 0.99, lat=51.5, lon=-0.1, callsign=HOSTILE, line=5000))
    rows.append(_w("n_0", "ffffff", 0, 0.1))
    return pd.DataFrame(rows)


def test_overlapping_positive_windows_merge_into_episodes(windows: pd.DataFrame) -> None:
    eps = merge_episodes(windows, threshold=0.5)
    assert list(eps.columns) == list(EPISODE_COLUMNS)
    assert list(eps["rank"]) == [1, 2, 3]
    by_obj = {(r.object_id, r.start.strftime("%H:%M")): r for r in eps.itertuples()}
    first = by_obj[("a1b2c3", "12:00")]  # windows 0..3 start 0, 2.5, 5, 7.5 min; last ends 12.5
    assert first.window_ids == "a_0;a_1;a_2;a_3"
    assert first.end == T0 + pd.Timedelta(minutes=12.5)
    assert first.duration_s == 750.0
    assert first.peak_p == 0.95 and first.mean_p == pytest.approx((0.9 + 0.8 + 0.95 + 0.6) / 4)
    assert first.peak_window_id == "a_2"
    assert (first.line_first, first.line_last) == (1, 400)
    assert first.lat == pytest.approx(40.7) and first.lon == pytest.approx(-74.0)
    second = by_obj[("a1b2c3", "12:20")]  # windows 8, 9 (20, 22.5 min)
    assert second.window_ids == "a_8;a_9" and second.n_windows == 2
    assert eps.iloc[0]["object_id"] == "000bad"  # the highest peak ranks first
    assert "ffffff" not in set(eps["object_id"])
    assert set(eps["class"]) == {"circling"}


def test_touching_windows_merge_and_gaps_need_merge_gap() -> None:
    rows = [_w("x0", "abcdef", 0, 0.9), _w("x1", "abcdef", 5, 0.9), _w("x2", "abcdef", 12, 0.9)]
    frame = pd.DataFrame(rows)
    assert list(merge_episodes(frame)["n_windows"]) == [2, 1]  # 0-5 touches 5-10; 12 is 2 min later
    assert list(merge_episodes(frame, merge_gap_s=120)["n_windows"]) == [3]
    assert list(merge_episodes(frame, merge_gap_s=119)["n_windows"]) == [2, 1]


def test_windows_of_different_objects_never_merge() -> None:
    frame = pd.DataFrame([_w("a", "aaaaaa", 0, 0.9), _w("b", "bbbbbb", 1, 0.9)])
    assert sorted(merge_episodes(frame)["object_id"]) == ["aaaaaa", "bbbbbb"]


def test_threshold_and_class_choice(windows: pd.DataFrame) -> None:
    assert len(merge_episodes(windows, threshold=0.96)) == 1
    assert len(merge_episodes(windows, threshold=1.0)) == 0
    neg = merge_episodes(windows, classes=["not_circling"], threshold=0.85)
    assert set(neg["class"]) == {"not_circling"} and len(neg) >= 1
    with pytest.raises(SchemaError, match="no probability column.*hovering"):
        merge_episodes(windows, classes=["hovering"])
    with pytest.raises(SchemaError, match="p_<class>"):
        merge_episodes(windows.drop(columns=["p_circling", "p_not_circling"]))


def test_episode_classes_and_settings_validation() -> None:
    assert episode_classes(["circling", "not_circling"]) == ["circling"]
    with pytest.raises(FlightpathsError, match="choose from circling, not_circling"):
        episode_classes(["circling", "not_circling"], "orbit")
    with pytest.raises(FlightpathsError, match="threshold"):
        ScoreSettings(threshold=1.5)
    with pytest.raises(FlightpathsError, match="time zone"):
        ScoreSettings(display_tz="Mars/Olympus_Mons")


def test_centroid_is_safe_across_the_antimeridian() -> None:
    frame = pd.DataFrame([_w("a", "aaaaaa", 0, 0.9, lat=0.0, lon=179.9), _w("b", "aaaaaa", 2, 0.9, lat=0.0, lon=-179.9)])
    ep = merge_episodes(frame).iloc[0]
    assert abs(ep["lon"]) == pytest.approx(180.0, abs=1e-6)
    assert ep["spread_m"] == pytest.approx(11_119.5, rel=1e-3)  # 0.1 degree of the equator


def test_writers_geojson_csv_parquet(windows: pd.DataFrame, tmp_path: Path) -> None:
    gpd = pytest.importorskip("geopandas")
    eps = merge_episodes(windows)
    gj = write_episodes_geojson(eps, tmp_path / "episodes.geojson")
    frame = gpd.read_file(gj)
    assert len(frame) == len(eps) == 3
    assert frame.crs is None or frame.crs.to_epsg() == 4326
    hostile = frame[frame["object_id"] == "000bad"].iloc[0]
    assert hostile["callsign"] == HOSTILE and hostile.geometry.x == pytest.approx(-0.1)
    csv = pd.read_csv(write_episodes_csv(eps, tmp_path / "episodes.csv"))
    assert list(csv.columns) == list(EPISODE_COLUMNS) and csv["start"].iloc[0].endswith("Z")
    pq = pd.read_parquet(write_windows_parquet(windows, tmp_path / "windows.parquet"))
    assert "px" not in pq.columns and {"p_circling", "source_file", "line_first"} <= set(pq.columns)
    assert len(pq) == len(windows)
    with pytest.raises(OutputExistsError, match="--overwrite"):
        write_episodes_csv(eps, tmp_path / "episodes.csv")


def test_kml_is_valid_escaped_and_has_one_placemark_per_episode(windows: pd.DataFrame, tmp_path: Path) -> None:
    windows.loc[windows["object_id"] == "000bad", "callsign"] = HOSTILE + "&\x01\"'"
    eps = merge_episodes(windows)
    path = write_episodes_kml(eps, tmp_path / "episodes.kml")
    text = path.read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;&amp;" in text
    root = ET.parse(path).getroot()
    assert root.tag == f"{{{KML_NS}}}kml"
    placemarks = root.findall(f".//{{{KML_NS}}}Placemark")
    assert len(placemarks) == len(eps) == 3
    names = [pm.find(f"{{{KML_NS}}}name").text for pm in placemarks]  # type: ignore[union-attr]
    assert any(HOSTILE in (n or "") for n in names)
    coords = placemarks[0].find(f".//{{{KML_NS}}}coordinates").text  # type: ignore[union-attr]
    assert coords == "-0.1000000,51.5000000,0"  # lon,lat order as KML wants
    begin = placemarks[0].find(f".//{{{KML_NS}}}begin").text  # type: ignore[union-attr]
    assert begin == "2024-05-01T12:00:00Z"


def test_settings_replace_keeps_validation() -> None:
    s = ScoreSettings()
    assert s.replace(threshold=0.7).threshold == 0.7
    with pytest.raises(FlightpathsError):
        s.replace(chunk_lines=10)
    assert json.loads(json.dumps({"t": s.threshold}))["t"] == 0.5
