"""Tracks and windows: gap splitting, cleaning counts, figures on hand-made tracks, projection,
files, the CLI, and the real samples in ../shared/data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from flightpaths.cli import cli
from flightpaths.errors import InputError, SchemaError, SettingsError
from flightpaths.schema import POINT_COLUMNS, validate_points
from flightpaths.tracks import (
    ARRAY_COLUMNS,
    FIGURE_COLUMNS,
    RADIUS_CAP_M,
    SCALAR_COLUMNS,
    TrackSettings,
    WindowSettings,
    WindowsWriter,
    inverse_local_aeqd,
    load_points,
    local_aeqd,
    make_windows,
    read_windows,
    split_tracks,
    to_geodataframe,
    tracks_to_geodataframe,
    windows_with_report,
    write_geo,
    write_windows,
)

T0 = pd.Timestamp("2024-06-01T12:00:00Z")


@pytest.fixture(params=["compiled", "numpy"])
def both_paths(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test on numba's compiled loops (what users get) and on the numpy code that runs
    where numba is missing: both must give the answers checked by eye."""
    import flightpaths.tracks._arrays as tracks_module

    if request.param == "compiled":
        assert tracks_module._kernel() is not None, "numba is a dependency: the compiled loops must load"
    else:
        monkeypatch.setattr(tracks_module, "_KERNEL", None)
    return request.param


def geo_points(lat, lon, seconds, *, object_id="abc123", speed=np.nan, callsign="TEST1", **extra) -> pd.DataFrame:
    n = len(lat)
    frame = pd.DataFrame(
        {
            "object_id": object_id, "time": T0 + pd.to_timedelta(np.asarray(seconds, float), unit="s"),
            "lat": np.asarray(lat, float), "lon": np.asarray(lon, float), "x": np.nan, "y": np.nan,
            "altitude_ft": 1500.0, "speed_kt": speed, "track_deg": np.nan, "vrate_fpm": np.nan,
            "callsign": callsign, "squawk": pd.NA, "on_ground": False, "new_leg": False,
            "source_file": "hand.sbs", "source_line": np.arange(1, n + 1),
        }
    )
    for k, v in extra.items():
        frame[k] = v
    return validate_points(frame)


def local_points(x_m, y_m, seconds, *, lat0=45.0, lon0=7.0, **kw) -> pd.DataFrame:
    lat, lon = inverse_local_aeqd(np.asarray(x_m, float), np.asarray(y_m, float), lat0, lon0)
    return geo_points(lat, lon, seconds, **kw)


def square_twice(side_m: float = 1000.0, per_side: int = 10, clockwise: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Start mid-way along the bottom side, fly the square twice, end where we began (same heading)."""
    h = side_m / 2
    corners = [(-h, -h), (-h, h), (h, h), (h, -h)] if clockwise else [(h, -h), (h, h), (-h, h), (-h, -h)]
    start = (0.0, -h)
    pts = [start]
    path = corners * 2 + [start]
    for cx, cy in path:
        px, py = pts[-1]
        for k in range(1, per_side + 1):
            pts.append((px + (cx - px) * k / per_side, py + (cy - py) * k / per_side))
    xy = np.array(pts)
    return xy[:, 0], xy[:, 1]


# ----------------------------------------------------------------------------------------------
# Track splitting and cleaning
# ----------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("both_paths")
def test_gap_splits_tracks_and_is_counted() -> None:
    sec = np.r_[np.arange(0, 300, 10), np.arange(1200, 1500, 10)]  # a 15-minute silence
    pts = local_points(sec * 50.0, np.zeros(len(sec)), sec)
    tracked, report = split_tracks(pts)
    assert tracked["track_id"].astype(str).unique().tolist() == ["abc123_0", "abc123_1"]
    assert report.splits == {"time gap": 1} and report.tracks == 2
    tracked, report = split_tracks(pts, TrackSettings(gap_s=1800))
    assert tracked["track_id"].nunique() == 1 and report.splits == {}


def test_new_leg_flag_splits_tracks() -> None:
    sec = np.arange(0, 200, 10)
    pts = local_points(sec * 50.0, np.zeros(len(sec)), sec, new_leg=np.arange(len(sec)) == 10)
    assert split_tracks(pts)[0]["track_id"].nunique() == 2
    assert split_tracks(pts, TrackSettings(split_on_new_leg=False))[0]["track_id"].nunique() == 1


@pytest.mark.usefixtures("both_paths")
def test_cleaning_counts_every_removal_by_reason() -> None:
    sec = np.arange(0, 600, 10.0)
    x = sec * 60.0
    pts = local_points(x, np.zeros(len(sec)), sec, speed=117.0)
    pts.loc[5, "lat"] = np.nan  # missing position
    pts.loc[8, "lat"] += 1.0  # a 111 km spike between two good points
    pts.loc[12, "time"] = pts.loc[11, "time"]  # duplicate timestamp
    pts.loc[20, "altitude_ft"] = 250_000.0  # out of range: blanked, not dropped
    pts.loc[30, ["lat", "lon"]] = [95.0, 7.0]  # impossible latitude
    pts = pd.concat([pts, local_points([0.0], [0.0], [0.0], object_id="lonely1")], ignore_index=True)
    tracked, report = split_tracks(pts)
    assert report.removed == {
        "missing position": 1, "impossible jump": 1, "duplicate time": 1, "position out of range": 1,
        "track too short": 1,
    }
    assert report.blanked == {"altitude out of range": 1}
    assert report.points_kept == len(tracked) == len(pts) - 5
    assert report.tracks == 1 and report.tracks_dropped == 1  # the single-point track
    assert tracked["altitude_ft"].isna().sum() == 1
    assert "impossible jump" in report.summary()


@pytest.mark.usefixtures("both_paths")
def test_non_monotonic_time_is_sorted_and_counted() -> None:
    sec = np.arange(0, 300, 10.0)
    pts = local_points(sec * 50.0, np.zeros(len(sec)), sec)
    shuffled = pts.sample(frac=1.0, random_state=1).reset_index(drop=True)
    tracked, report = split_tracks(shuffled)
    assert report.reordered > 0
    assert tracked["time"].is_monotonic_increasing
    w1, w2 = make_windows(pts), make_windows(shuffled)
    assert w1["window_id"].tolist() == w2["window_id"].tolist()
    np.testing.assert_allclose(w1["path_length_m"], w2["path_length_m"])


@pytest.mark.usefixtures("both_paths")
@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(validate_points(pd.DataFrame(columns=list(POINT_COLUMNS))), id="empty"),
        pytest.param(local_points([0.0], [0.0], [0.0]), id="single-point"),
        pytest.param(local_points([0.0, 100.0], [0.0, 0.0], [0.0, 10.0]), id="two-points"),
        pytest.param(geo_points([np.nan] * 5, [np.nan] * 5, np.arange(5.0)), id="all-nan-positions"),
    ],
)
def test_degenerate_input_gives_empty_windows_and_a_report(frame: pd.DataFrame) -> None:
    windows, report = windows_with_report(frame)
    assert len(windows) == 0
    assert list(windows.columns) == [*SCALAR_COLUMNS, *ARRAY_COLUMNS]
    assert report.points_in == len(frame)
    assert isinstance(report.summary(), str)


def test_all_nan_optional_columns_are_fine() -> None:
    sec = np.arange(0, 300, 10.0)
    pts = local_points(sec * 50.0, np.zeros(len(sec)), sec)
    pts["altitude_ft"] = np.nan
    pts["callsign"] = pd.NA
    w = make_windows(pts)
    assert len(w) == 1 and np.isnan(w.loc[0, "median_altitude_ft"]) and pd.isna(w.loc[0, "callsign"])
    assert w.loc[0, "median_speed_kt"] == pytest.approx(50 * 1.943844, rel=1e-3)  # 500 m per 10 s


def test_missing_columns_are_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="lat/lon or x/y"):
        make_windows(pd.DataFrame({"object_id": ["a"], "time": [T0]}))
    with pytest.raises(SettingsError, match="window_s"):
        WindowSettings(window_s=-5)
    with pytest.raises(SettingsError, match="step_s"):
        WindowSettings(window_s=(300, 600), step_s=(100, 200, 300))


# ----------------------------------------------------------------------------------------------
# Windows and their figures
# ----------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("both_paths")
def test_square_flown_twice_turns_720_degrees() -> None:
    x, y = square_twice(clockwise=True)
    sec = np.arange(len(x)) * 5.0
    w = make_windows(local_points(x, y, sec), WindowSettings(window_s=3600))
    assert len(w) == 1
    row = w.iloc[0]
    assert row["net_turn_rev"] == pytest.approx(2.0, abs=1e-6)  # clockwise is positive
    assert row["total_turn_deg"] == pytest.approx(720.0, abs=1e-4)
    assert row["pcumturn"][-1] == pytest.approx(720.0, abs=1e-4)
    assert row["path_length_m"] == pytest.approx(8000.0, rel=1e-4)
    assert row["net_displacement_m"] == pytest.approx(0.0, abs=0.01)
    assert row["extent_m"] == pytest.approx(1000.0, rel=1e-4)
    assert row["straightness"] == pytest.approx(0.0, abs=1e-5)
    x2, y2 = square_twice(clockwise=False)
    w2 = make_windows(local_points(x2, y2, sec), WindowSettings(window_s=3600))
    assert w2.loc[0, "net_turn_rev"] == pytest.approx(-2.0, abs=1e-6)


@pytest.mark.usefixtures("both_paths")
def test_straight_line_has_straightness_one_and_no_turn() -> None:
    sec = np.arange(0, 300, 5.0)
    w = make_windows(local_points(sec * 60.0, sec * 20.0, sec))
    row = w.iloc[0]
    assert row["straightness"] == pytest.approx(1.0, abs=1e-9)
    assert row["net_turn_rev"] == pytest.approx(0.0, abs=1e-6)
    assert row["total_turn_deg"] == pytest.approx(0.0, abs=1e-4)
    assert row["radius_m"] == RADIUS_CAP_M
    assert row["sample_interval_s"] == pytest.approx(5.0)
    assert row["median_speed_kt"] == pytest.approx(math.hypot(60, 20) * 1.943844, rel=1e-4)


def test_windows_cover_the_track_with_overlap_and_stable_ids() -> None:
    sec = np.arange(0, 1200, 10.0)  # 20 minutes at 10 s
    pts = local_points(sec * 40.0, np.zeros(len(sec)), sec)
    w = make_windows(pts)  # 5 min every 2.5 min
    assert len(w) == 7
    assert w["window_id"].is_unique
    assert w["window_id"].iloc[0] == "abc123_0_20240601T120000_300s"
    assert w["window_id"].iloc[1] == "abc123_0_20240601T120230_300s"
    assert (w["line_first"].to_numpy() == np.arange(7) * 15 + 1).all()
    assert w["line_last"].iloc[-1] == len(sec)  # the last window reaches the track's end
    assert set(w["n_points"].iloc[:-1]) == {30}
    many = make_windows(pts, WindowSettings(window_s=(300, 600, 1200)))
    assert many.groupby("window_s").size().to_dict() == {300.0: 7, 600.0: 3, 1200.0: 1}
    listed = make_windows(pts, [WindowSettings(window_s=300), WindowSettings(window_s=600, step_s=600)])
    assert listed.groupby("window_s").size().to_dict() == {300.0: 7, 600.0: 2}


@pytest.mark.usefixtures("both_paths")
def test_few_point_windows_are_kept_and_marked() -> None:
    sec = np.arange(0, 3600, 80.0)  # sparser than ADS-B Exchange's one point a minute
    pts = local_points(np.cos(sec / 600) * 3000, np.sin(sec / 600) * 3000, sec)
    w, report = windows_with_report(pts)
    assert len(w) > 0 and w["n_points"].between(3, 5).all()
    assert w["few_points"].sum() == (w["n_points"] < 5).sum() > 0
    assert report.few_point_windows == int(w["few_points"].sum())
    fewer, rep2 = windows_with_report(pts, WindowSettings(min_points=5))
    assert (fewer["n_points"] >= 5).all() and sum(rep2.windows_dropped.values()) > 0


@pytest.mark.usefixtures("both_paths")
def test_per_point_channels() -> None:
    sec = np.arange(0, 120, 10.0)
    speeds = np.where(np.arange(len(sec)) % 2 == 0, 150.0, np.nan)  # reported on every other point
    w = make_windows(local_points(sec * 10.0, np.zeros(len(sec)), sec, speed=speeds))
    row = w.iloc[0]
    np.testing.assert_allclose(row["pt"], sec)
    np.testing.assert_allclose(row["pspeed"][0::2], 150.0)
    np.testing.assert_allclose(row["pspeed"][1::2], 10.0 * 1.943844, rtol=1e-4)  # 100 m per 10 s
    np.testing.assert_allclose(row["palt"], 1500.0)
    np.testing.assert_allclose(row["py"], 0.0, atol=0.1)  # a parallel is not a geodesic: 5 cm of sag
    assert row["px"][-1] - row["px"][0] == pytest.approx(1100.0, rel=1e-5)
    for name in ARRAY_COLUMNS[:7]:
        assert len(row[name]) == row["n_points"]


@pytest.mark.usefixtures("both_paths")
def test_turn_rate_of_a_steady_orbit() -> None:
    sec = np.arange(0, 300, 2.0)
    ang = np.radians(3.0 * sec)  # 3 deg/s anticlockwise, radius 800 m
    w = make_windows(local_points(800 * np.cos(ang), 800 * np.sin(ang), sec, lat0=60.0))
    row = w.iloc[0]
    assert np.median(row["pturn"][2:]) == pytest.approx(-3.0, rel=1e-3)
    assert row["net_turn_rev"] == pytest.approx(-(300 - 4) * 3.0 / 360, rel=1e-3)
    assert row["radius_m"] == pytest.approx(800.0, rel=1e-3)


# ----------------------------------------------------------------------------------------------
# Projection
# ----------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("both_paths")
@pytest.mark.parametrize("lat0", [0.0, 60.0, 78.0, -45.0])
def test_a_500_m_circle_measures_500_m_at_any_latitude(lat0: float) -> None:
    from pyproj import Geod

    az = np.arange(0, 720, 5.0)
    lon, lat, _ = Geod(ellps="WGS84").fwd(np.full(len(az), 10.0), np.full(len(az), lat0), az, np.full(len(az), 500.0))
    w = make_windows(geo_points(lat, lon, np.arange(len(az)) * 2.0), WindowSettings(window_s=3600))
    row = w.iloc[0]
    assert row["radius_m"] == pytest.approx(500.0, abs=0.05)
    assert row["extent_m"] == pytest.approx(1000.0, abs=0.1)
    r = np.hypot(row["px"], row["py"])
    assert r.min() == pytest.approx(500.0, abs=0.05) and r.max() == pytest.approx(500.0, abs=0.05)
    assert row["lat"] == pytest.approx(lat0, abs=1e-4)
    assert abs(row["net_turn_rev"]) == pytest.approx((len(az) - 2) * 5 / 360, abs=1e-3)


def test_local_projection_agrees_with_pyproj_aeqd() -> None:
    from pyproj import Transformer

    rng = np.random.default_rng(0)
    lat0, lon0 = 60.0, 10.0
    lat = lat0 + rng.uniform(-0.18, 0.18, 200)
    lon = lon0 + rng.uniform(-0.36, 0.36, 200)
    x, y = local_aeqd(lat, lon, lat0, lon0)
    tr = Transformer.from_crs("EPSG:4326", f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m", always_xy=True)
    xe, ye = tr.transform(lon, lat)
    error = np.hypot(x - xe, y - ye)
    assert np.max(error / np.maximum(np.hypot(xe, ye), 1.0)) < 1e-5  # one part in 100,000
    back_lat, back_lon = inverse_local_aeqd(x, y, lat0, lon0)
    np.testing.assert_allclose(back_lat, lat, atol=1e-9)
    np.testing.assert_allclose(back_lon, lon, atol=1e-9)


def test_pyproj_projection_option_gives_the_same_figures() -> None:
    sec = np.arange(0, 600, 4.0)
    ang = np.radians(2.0 * sec)
    pts = local_points(1500 * np.cos(ang), 1500 * np.sin(ang), sec, lat0=52.0)
    fast = make_windows(pts)
    exact = make_windows(pts, WindowSettings(projection="pyproj"))
    for name in ("radius_m", "extent_m", "net_displacement_m", "net_turn_rev"):
        np.testing.assert_allclose(fast[name], exact[name], rtol=1e-5, atol=0.01)
    for a, b in zip(fast["px"], exact["px"]):
        np.testing.assert_allclose(a, b, atol=0.02)


# ----------------------------------------------------------------------------------------------
# Screen tracks (mouse)
# ----------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("both_paths")
def test_screen_tracks_stay_in_pixels_with_click_events() -> None:
    n = 40
    sec = np.arange(n) * 0.05
    frame = pd.DataFrame(
        {
            "object_id": "user7-session1", "time": T0 + pd.to_timedelta(sec, unit="s"), "lat": np.nan, "lon": np.nan,
            "x": 100 + np.arange(n) * 10.0, "y": np.full(n, 300.0), "altitude_ft": np.nan, "speed_kt": np.nan,
            "track_deg": np.nan, "vrate_fpm": np.nan, "callsign": pd.NA, "squawk": pd.NA, "on_ground": pd.NA,
            "new_leg": False, "source_file": "session_1", "source_line": np.arange(2, n + 2),
            "button": ["NoButton"] * n, "state": ["Move"] * n,
        }
    )
    frame.loc[10, ["button", "state"]] = ["Left", "Pressed"]
    frame.loc[25, ["button", "state"]] = ["Right", "Pressed"]
    frame.loc[30, "x"] = 65535.0  # a glitch seen in real sessions
    w, report = windows_with_report(validate_points(frame), WindowSettings(window_s=10))
    assert report.removed == {"position out of range": 1}
    row = w.iloc[0]
    assert row["units"] == "px" and np.isnan(row["lat"])
    np.testing.assert_allclose(row["px"][:5], [100, 110, 120, 130, 140])
    assert row["median_speed_kt"] == pytest.approx(200.0)  # px/s
    np.testing.assert_allclose(row["ev_x"], [200.0, 350.0])
    np.testing.assert_allclose(row["ev_y"], [300.0, 300.0])
    assert list(row["ev_kind"]) == ["left", "right"]
    assert row["window_id"].startswith("user7-session1_0_")


# ----------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------


def _two_tracks() -> pd.DataFrame:
    sec = np.arange(0, 900, 6.0)
    ang = np.radians(2.5 * sec)
    a = local_points(1200 * np.cos(ang), 1200 * np.sin(ang), sec, lat0=40.7, lon0=-74.0, speed=80.0)
    b = local_points(sec * 60, sec * 0, sec, lat0=40.7, lon0=-74.0, object_id="def456", callsign=pd.NA)
    return pd.concat([a, b], ignore_index=True)


def test_parquet_round_trip(tmp_path: Path) -> None:
    w = make_windows(_two_tracks(), WindowSettings(window_s=(300, 600)))
    path = write_windows(w, tmp_path / "w.parquet", settings={"note": "x"})
    back = read_windows(path)
    assert list(back.columns) == list(w.columns)
    for name, dtype in SCALAR_COLUMNS.items():
        assert str(back[name].dtype) == dtype, name
    pd.testing.assert_frame_equal(back[list(SCALAR_COLUMNS)], w[list(SCALAR_COLUMNS)])
    for name in ARRAY_COLUMNS:
        for a, b in zip(w[name], back[name]):
            np.testing.assert_array_equal(a, b)
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    assert str(schema.field("px").type) == "list<element: double>"
    assert b"flightpaths.windows" in schema.metadata


def test_read_windows_names_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(InputError, match="bad.parquet"):
        read_windows(bad)


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson"])
def test_geo_export_has_lines_in_lon_lat(tmp_path: Path, suffix: str) -> None:
    import geopandas as gpd

    pts = _two_tracks()
    w = make_windows(pts)
    gdf = to_geodataframe(w)
    assert gdf.crs.to_epsg() == 4326 and (gdf.geom_type == "LineString").all()
    first = np.asarray(gdf.geometry.iloc[0].coords)
    np.testing.assert_allclose(first[0], [pts["lon"].iloc[0], pts["lat"].iloc[0]], atol=1e-7)
    path = write_geo(gdf, tmp_path / f"w{suffix}")
    back = gpd.read_file(path)
    assert len(back) == len(w) and set(FIGURE_COLUMNS) <= set(back.columns)
    tracks = tracks_to_geodataframe(split_tracks(pts)[0])
    assert len(tracks) == 2 and tracks["n_points"].sum() == len(pts)


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------


def test_cli_tracks(tmp_path: Path) -> None:
    src = tmp_path / "points.parquet"
    _two_tracks().to_parquet(src)
    out = tmp_path / "w.parquet"
    runner = CliRunner()
    res = runner.invoke(cli, ["tracks", str(src), "-o", str(out), "--window", "5min,10min", "--step", "150s"])
    assert res.exit_code == 0, res.output
    w = read_windows(out)
    assert set(w["window_s"]) == {300.0, 600.0}
    assert (tmp_path / "w.parquet.settings.json").exists()
    again = runner.invoke(cli, ["tracks", str(src), "-o", str(out)])
    assert again.exit_code == 1 and "--overwrite" in again.output
    assert runner.invoke(cli, ["tracks", str(src), "-o", str(out), "--overwrite"]).exit_code == 0
    bad = runner.invoke(cli, ["tracks", str(src), "-o", str(tmp_path / "x.parquet"), "--window", "soon"])
    assert bad.exit_code == 2 and "soon" in bad.output
    res = runner.invoke(cli, ["tracks", str(src), "-o", str(tmp_path / "w.gpkg")])
    assert res.exit_code == 0 and (tmp_path / "w.gpkg").exists()
    res = runner.invoke(cli, ["tracks", str(src), "-o", str(tmp_path / "w.txt")])
    assert res.exit_code == 2


# ----------------------------------------------------------------------------------------------
# Real samples (../shared/data): calibration flights circle; ordinary traffic is mostly straight.
# ----------------------------------------------------------------------------------------------


def traffic_points(path: Path) -> pd.DataFrame:
    """A points table from a `traffic` sample file, read with pandas only."""
    raw = pd.read_json(path, dtype={"icao24": str})
    n = len(raw)
    col = lambda name: raw[name] if name in raw.columns else np.nan  # noqa: E731
    frame = pd.DataFrame(
        {
            "object_id": raw["icao24"].astype(str).str.lower(),
            "time": pd.to_datetime(raw["timestamp"], utc=True, unit="ms") if np.issubdtype(raw["timestamp"].dtype, np.number)
            else pd.to_datetime(raw["timestamp"], utc=True),
            "lat": col("latitude"), "lon": col("longitude"), "x": np.nan, "y": np.nan,
            "altitude_ft": col("altitude"), "speed_kt": col("groundspeed"), "track_deg": col("track"),
            "vrate_fpm": col("vertical_rate"), "callsign": raw["callsign"] if "callsign" in raw.columns else pd.NA,
            "squawk": pd.NA, "on_ground": pd.NA, "new_leg": False, "source_file": path.name,
            "source_line": np.arange(1, n + 1),
        }
    )
    return validate_points(frame)


def sample_points(path: Path) -> pd.DataFrame:
    """The project's reader when it knows the file's layout, else the pandas helper above."""
    from flightpaths.errors import UnsupportedFormatError
    from flightpaths.ingest import read_logs

    try:
        return read_logs(path).points
    except UnsupportedFormatError:  # e.g. column-oriented JSON ({"timestamp": {"0": ...}})
        return traffic_points(path)


@pytest.mark.realdata
def test_calibration_flights_complete_at_least_one_revolution(shared_data: Path) -> None:
    files = sorted((shared_data / "adsb" / "traffic-samples" / "calibration").glob("*.json.gz"))
    assert len(files) >= 10
    full = 0
    for path in files:
        w = make_windows(sample_points(path), WindowSettings(window_s=(300, 600, 1200)))
        full += bool((w["net_turn_rev"].abs() >= 1.0).any())
    assert full >= 0.8 * len(files), f"only {full} of {len(files)} calibration flights show a full revolution"


@pytest.mark.realdata
def test_pandas_helper_reads_a_sample_like_the_reader(shared_data: Path) -> None:
    path = shared_data / "adsb" / "traffic-samples" / "calibration" / "bornholm.json.gz"
    a, b = make_windows(traffic_points(path)), make_windows(sample_points(path))
    np.testing.assert_allclose(a["net_turn_rev"], b["net_turn_rev"], atol=1e-6)


@pytest.mark.realdata
@pytest.mark.slow
def test_ordinary_traffic_is_mostly_straight(shared_data: Path) -> None:
    pts = sample_points(shared_data / "adsb" / "traffic-samples" / "collections" / "quickstart.json.gz")
    w, report = windows_with_report(pts)
    assert len(w) > 1000 and report.tracks > 200
    airborne = w[w["median_speed_kt"] > 100]
    assert (airborne["net_turn_rev"].abs() < 0.5).mean() > 0.85
    assert (w["straightness"] > 0.9).mean() > 0.6


def test_chunks_and_threads_do_not_change_the_result() -> None:
    from flightpaths.simulate import SimSettings, simulate

    pts = simulate(SimSettings(seed=3, hours=1.0, aircraft=8)).points
    one, rep1 = windows_with_report(pts, WindowSettings(window_s=(300, 600)), workers=1, chunk_points=0)
    many, rep2 = windows_with_report(pts, WindowSettings(window_s=(300, 600)), workers=3, chunk_points=2000)
    assert len(one) > 50 and rep1.as_dict() == rep2.as_dict()
    pd.testing.assert_frame_equal(one[list(SCALAR_COLUMNS)], many[list(SCALAR_COLUMNS)])
    for name in ("px", "pcumturn"):
        for a, b in zip(one[name], many[name]):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)  # centroid sums differ in rounding only


def test_split_tracks_output_windows_like_raw_points() -> None:
    pts = _two_tracks()
    tracked, _ = split_tracks(pts)
    a, b = make_windows(pts), make_windows(tracked)
    pd.testing.assert_frame_equal(a[list(SCALAR_COLUMNS)], b[list(SCALAR_COLUMNS)])


def test_compiled_and_numpy_paths_give_the_same_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    import flightpaths.tracks._arrays as tracks_module
    from flightpaths.simulate import SimSettings, simulate

    pts = simulate(SimSettings(seed=5, hours=1.0, aircraft=10)).points
    pts = pts.sample(frac=1.0, random_state=1).reset_index(drop=True)  # rows out of order, as in a merged log
    settings = WindowSettings(window_s=(300, 600))
    fast, rep1 = windows_with_report(pts, settings)
    monkeypatch.setattr(tracks_module, "_KERNEL", None)
    slow, rep2 = windows_with_report(pts, settings)
    assert len(fast) > 50 and rep1.as_dict() == rep2.as_dict()
    assert rep1.reordered > 0
    pd.testing.assert_frame_equal(fast[list(SCALAR_COLUMNS)], slow[list(SCALAR_COLUMNS)], rtol=1e-9)
    for name in ARRAY_COLUMNS:
        for a, b in zip(fast[name], slow[name]):
            if a.dtype.kind == "f":
                np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-4)  # metres: centroid sums round differently
            else:
                assert list(a) == list(b)


def test_window_speeds_and_altitudes_cannot_be_changed_in_place() -> None:
    # overlapping windows share their points' speeds and altitudes: writing to one would change
    # its neighbour, so they are read-only
    x = np.linspace(0, 20_000, 121)
    w = make_windows(local_points(x, np.zeros_like(x), np.arange(121) * 5.0, speed=120.0))
    assert len(w) >= 2
    for name in ("pspeed", "palt"):
        with pytest.raises(ValueError, match="read-only"):
            w[name].iloc[0][0] = 1.0
    first = w["px"].iloc[0].copy()
    first[0] = 1.0  # a copy is the user's own


def test_windowing_leaves_the_garbage_collector_as_it_was() -> None:
    import gc

    x = np.linspace(0, 20_000, 121)
    pts = local_points(x, np.zeros_like(x), np.arange(121) * 5.0)
    assert gc.isenabled()
    make_windows(pts)
    assert gc.isenabled()
    gc.disable()
    try:
        make_windows(pts)
        assert not gc.isenabled()
    finally:
        gc.enable()


# ---- a long log a stretch at a time (issue #23: memory bounded by settings, not the log) ------
SIM_POINTS = Path(__file__).resolve().parents[1] / "data" / "sim" / "score" / "points.parquet"


@pytest.mark.parametrize("rows", [4000, 15000])
def test_windows_a_stretch_at_a_time_equal_one_pass_on_a_table_sorted_by_object(rows: int) -> None:
    from flightpaths.ingest import IngestSettings, iter_points
    from flightpaths.tracks import CleanReport, windows_from_chunks

    ws = WindowSettings(window_s=(300, 600, 1200))
    whole, one = windows_with_report(load_points(SIM_POINTS), ws)
    report = CleanReport()
    chunks = (c.points for c in iter_points([SIM_POINTS], IngestSettings(), chunk_rows=rows))
    parts = pd.concat(list(windows_from_chunks(chunks, TrackSettings(), ws, report=report, ground_first=True)))
    a, b = whole.set_index("window_id").sort_index(), parts.set_index("window_id").sort_index()
    assert a.index.equals(b.index) and b.index.is_unique
    for col in ("track_id", "start", "end", "n_points", "line_first", "line_last"):
        assert (a[col] == b[col]).all(), col
    np.testing.assert_allclose(a["net_turn_rev"], b["net_turn_rev"], atol=1e-9)
    assert (report.points_in, report.points_kept, report.tracks, report.windows) == \
        (one.points_in, one.points_kept, one.tracks, one.windows)
    assert report.removed == one.removed


def test_tracks_command_writes_the_windows_of_one_pass_part_by_part(tmp_path: Path) -> None:
    out = tmp_path / "w.parquet"
    result = CliRunner().invoke(cli, ["tracks", str(SIM_POINTS), "-o", str(out)])
    assert result.exit_code == 0, result.output
    got = read_windows(out).set_index("window_id").sort_index()
    want = make_windows(load_points(SIM_POINTS)).set_index("window_id").sort_index()
    assert got.index.equals(want.index) and (got["n_points"] == want["n_points"]).all()
    np.testing.assert_array_equal(got["px"].iloc[0], want["px"].iloc[0])
    with WindowsWriter(tmp_path / "parts.parquet") as writer:  # several parts: one file, all rows
        writer.write(want.reset_index().iloc[:10])
        writer.write(want.reset_index().iloc[10:])
    assert read_windows(tmp_path / "parts.parquet")["window_id"].tolist() == want.index.tolist()
