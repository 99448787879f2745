"""The aircraft's own points around possible episodes (score/paths.py) and what the map draws
from them: real points, not window centres; the margin; a bounded count; labels as text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flightpaths.score import PathKeeper, merge_episodes, write_tip_sheet
from flightpaths.score.leadmap import episode_lines, episode_maps
from flightpaths.score.paths import path_between, paths_by_object, thin_evenly
from flightpaths.tracks import local_aeqd

T0 = pd.Timestamp("2016-07-19 00:00:00", tz="UTC")
LAT0, LON0 = 41.5, -81.69
HOSTILE_PLACE = "</script><img src=x onerror=alert(1)>Cleveland"


def flight(seconds: float = 7200, dt: float = 10.0) -> pd.DataFrame:
    """One aircraft east at 50 m/s, then orbits 1 km around a point from 40 to 60 min, then on."""
    t = np.arange(0, seconds, dt)
    x = np.where(t < 2400, 50.0 * (t - 2400), np.where(t < 3600, 0.0, 50.0 * (t - 3600)))
    y = np.zeros_like(t)
    orbit = (t >= 2400) & (t < 3600)
    a = 2 * np.pi * (t[orbit] - 2400) / 300
    x[orbit], y[orbit] = 1000 * np.sin(a), 1000 * (1 - np.cos(a))
    lat = LAT0 + y / 111_195
    lon = LON0 + x / (111_195 * np.cos(np.radians(LAT0)))
    return pd.DataFrame({"t": t, "lat": lat, "lon": lon})


def windows_of(points: pd.DataFrame, *, obj: str = "aa2183", lengths: tuple[float, ...] = (300.0, 1200.0)) -> pd.DataFrame:
    """Windows as tracks cuts them (points in local metres about the window centroid), each
    length on a grid of half its length; p_circling 0.9 inside the orbit, else 0.1."""
    rows = []
    for w in lengths:
        for s in np.arange(0, points["t"].max() - w + 1, w / 2):
            part = points[(points["t"] >= s) & (points["t"] < s + w)]
            lat_c, lon_c = float(part["lat"].mean()), float(part["lon"].mean())
            px, py = local_aeqd(part["lat"].to_numpy(), part["lon"].to_numpy(), lat_c, lon_c)
            inside = 2400 <= s and s + w <= 3600
            rows.append({
                "window_id": f"{obj}_{w:.0f}_{s:.0f}", "object_id": obj, "callsign": "N752AM",
                "start": T0 + pd.Timedelta(seconds=float(s)), "end": T0 + pd.Timedelta(seconds=float(s + w)),
                "window_s": w, "lat": lat_c, "lon": lon_c, "n_points": len(part),
                "px": px, "py": py, "pt": part["t"].to_numpy() - s,
                "p_circling": 0.9 if inside else 0.1, "p_not_circling": 0.1 if inside else 0.9,
            })
    return pd.DataFrame(rows).sort_values(["start", "window_s"], kind="stable").reset_index(drop=True)


def keep(windows: pd.DataFrame, *, batches: int = 6, **kw: object) -> PathKeeper:
    """Feed *windows* to a keeper a batch at a time, in time order, as score does chunk by chunk."""
    keeper = PathKeeper(lengths=[(300.0, 150.0), (1200.0, 600.0)], **kw)  # type: ignore[arg-type]
    for part in np.array_split(np.arange(len(windows)), batches):
        batch = windows.iloc[part]
        keeper.add(batch, batch["p_circling"].to_numpy() >= 0.5)
    return keeper


def test_kept_points_are_the_real_points_within_the_margin() -> None:
    points = flight()
    kept = keep(windows_of(points), margin_s=600).table()
    assert list(kept.columns) == ["object_id", "t", "lat", "lon"]
    t = kept["t"].to_numpy() - T0.timestamp()
    # candidate windows span 40-60 min: the points from 30 to 70 min, each once, in order
    want = points[(points["t"] >= 1800) & (points["t"] <= 4200)]
    np.testing.assert_allclose(t, want["t"].to_numpy(), atol=1e-6)
    np.testing.assert_allclose(kept["lat"], want["lat"], atol=1e-7)
    np.testing.assert_allclose(kept["lon"], want["lon"], atol=1e-7)


def test_a_point_two_windows_share_is_kept_once() -> None:
    points = flight(dt=1.37)  # fractional times, and per-point times stored as float32 (as tracks stores them)
    windows = windows_of(points)
    windows["pt"] = [np.asarray(a, np.float32) for a in windows["pt"]]
    kept = keep(windows, margin_s=600).table()
    want = points[(points["t"] >= 1800) & (points["t"] <= 4200)]
    assert len(kept) == len(want)
    np.testing.assert_allclose(kept["t"].to_numpy() - T0.timestamp(), want["t"].to_numpy(), atol=1e-3)


def test_a_longer_margin_keeps_more_and_none_keeps_only_the_span() -> None:
    windows = windows_of(flight())
    t = keep(windows, margin_s=0).table()["t"].to_numpy() - T0.timestamp()
    assert t.min() >= 2400 and t.max() <= 3600
    t = keep(windows, margin_s=1200).table()["t"].to_numpy() - T0.timestamp()
    assert t.min() == 1200 and t.max() == 4800


def test_memory_is_bounded_by_the_cap_and_the_margin() -> None:
    points = flight(seconds=6 * 3600, dt=1.0)
    windows = windows_of(points, lengths=(300.0,))
    windows["p_circling"] = 0.9  # six hours all possible: one long stretch
    keeper = PathKeeper(margin_s=600, points_max=500, lengths=[(300.0, 150.0)])
    most = 0
    for part in np.array_split(np.arange(len(windows)), 40):
        batch = windows.iloc[part]
        keeper.add(batch, batch["p_circling"].to_numpy() >= 0.5)
        most = max(most, keeper.n_points)
    kept = keeper.table()
    assert len(kept) <= 1000 and most <= 1000 + 900  # 2 x cap kept, plus one batch waiting
    gaps = np.diff(kept["t"].to_numpy())
    assert gaps.max() <= 3 * np.median(gaps)  # thinned evenly in time, not truncated
    quiet = windows.assign(p_circling=0.1)  # nothing possible: only the margin waits
    keeper = PathKeeper(margin_s=600, lengths=[(300.0, 150.0)])
    for part in np.array_split(np.arange(len(quiet)), 40):
        keeper.add(quiet.iloc[part], np.zeros(len(part), bool))
        assert keeper.n_points <= 600 + 1200  # the margin behind the latest window, plus a batch
    assert keeper.table().empty


def test_aircraft_gone_quiet_are_forgotten() -> None:
    a = windows_of(flight(seconds=1800), obj="a00001").assign(p_circling=0.1)
    b = windows_of(flight(seconds=7200), obj="b00002").assign(p_circling=0.1)
    b = b[b["start"] >= T0 + pd.Timedelta(hours=1)]
    keeper = PathKeeper(margin_s=600, lengths=[(300.0, 150.0), (1200.0, 600.0)])
    keeper.add(a, np.zeros(len(a), bool))
    assert keeper.n_points > 0
    keeper.add(b, np.zeros(len(b), bool))
    assert "a00001" not in keeper._buffer  # an hour later, a00001 can no longer want its points


def test_helpers() -> None:
    assert thin_evenly(10, 4).tolist() == [0, 3, 6, 9]
    paths = pd.DataFrame({"object_id": ["x"] * 4, "t": [3.0, 1.0, 2.0, 1.0], "lat": [3.0, 1.0, 2.0, 1.0], "lon": 0.0})
    own = paths_by_object(paths)["x"]
    assert own[0].tolist() == [1.0, 2.0, 3.0]
    assert path_between(own, 1.5, 3.0, 10)[1].tolist() == [2.0, 3.0]


def _episode(windows: pd.DataFrame) -> pd.DataFrame:
    eps = merge_episodes(windows)
    eps["place"] = HOSTILE_PLACE
    eps["tz"] = "America/New_York"
    return eps


def test_the_map_draws_the_real_points_with_margins_and_time_labels() -> None:
    points = flight()
    windows = windows_of(points)
    eps = _episode(windows)
    paths = keep(windows, margin_s=600).table()
    m = next(iter(episode_maps(eps, windows, {}, paths=paths, margin_s=600).values()))
    orbit = points[(points["t"] >= 2400) & (points["t"] <= 3600)]
    assert len(m.track) == len(orbit)  # every real point of the span, not 64 a window or window centres
    np.testing.assert_allclose(np.array(m.track), orbit[["lat", "lon"]].to_numpy(), atol=1e-7)
    assert not m.approximate
    before, after = np.array(m.before), np.array(m.after)
    t_before = points[(points["t"] >= 1800) & (points["t"] < 2400)]
    np.testing.assert_allclose(before[:-1], t_before[["lat", "lon"]].to_numpy(), atol=1e-7)  # joined to the track
    assert len(after) == 61 and after[0].tolist() == list(m.track[-1])
    assert m.times == {"start": "20:40 EDT", "end": "21:00 EDT", "before": "20:30 EDT", "after": "21:10 EDT"}
    lines = episode_lines(eps, windows, paths)
    assert len(next(iter(lines.values()))) == len(orbit)


def test_without_kept_points_the_map_falls_back_to_window_centres() -> None:
    from flightpaths.score import episode_tracks

    windows = windows_of(flight())
    eps = _episode(windows)
    tracks = episode_tracks(eps, windows.drop(columns=["px", "py", "pt"]).assign(
        thumb_x=windows["px"], thumb_y=windows["py"], thumb_t=windows["pt"]), with_time=True)
    m = next(iter(episode_maps(eps, windows, tracks).values()))
    assert m.approximate


def test_tip_sheet_carries_the_path_and_labels_as_text(tmp_path: Path) -> None:
    windows = windows_of(flight())
    eps = _episode(windows)
    page = write_tip_sheet(eps, tmp_path / "tips.html", windows=windows, local_tz="America/New_York",
                           paths=keep(windows).table()).read_text(encoding="utf-8")
    raw = re.search(r'<script type="application/json" id="lead-data">(.*?)</script>', page, re.DOTALL).group(1)  # type: ignore[union-attr]
    assert "</script><img" not in raw and "<img src=x" not in page
    (d,) = json.loads(raw).values()
    assert d["label"] == HOSTILE_PLACE and d["approx"] is False
    assert len(d["track"]) == 121 and d["times"]["start"] == "20:40 EDT"
    assert "10 min before and after" in page
    assert "bindTooltip(text('start'+(tm.start?' '+tm.start:''))" in page  # labels go in as text nodes


def test_cli_passes_the_path_margin_and_the_merge_gap(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from click.testing import CliRunner

    import flightpaths.score as score_pkg
    import flightpaths.train.predict as predict
    from flightpaths.cli import cli

    seen: dict[str, object] = {}

    def fake_score_logs(inputs: object, out: object, bundle: object, settings: object, overwrite: bool = False) -> object:
        seen["settings"] = settings
        return SimpleNamespace(summary=lambda: "scored", outputs={"tipsheet.html": "tips.html"}, problems=[])

    monkeypatch.setattr(score_pkg, "score_logs", fake_score_logs)
    monkeypatch.setattr(predict, "load_bundle", lambda path: SimpleNamespace(classes=("circling", "not_circling")))
    log = tmp_path / "a.sbs"
    log.write_text("MSG,3,1,1,a1b2c3,1,2024/05/01,12:00:00.000,2024/05/01,12:00:00.000,,2000,,,40.6,-74.0,,,,,,0\n")
    (tmp_path / "m").mkdir()
    args = ["score", str(log), "-o", str(tmp_path / "o"), "--model", str(tmp_path / "m"), "--tz", "UTC"]
    result = CliRunner().invoke(cli, [*args, "--path-margin", "5min", "--merge-gap", "60s"])
    assert result.exit_code == 0, result.output
    settings = seen["settings"]
    assert settings.path_margin_s == 300.0 and settings.merge_gap_s == 60.0  # type: ignore[attr-defined]
    result = CliRunner().invoke(cli, [*args, "--path-margin", "soon"])
    assert result.exit_code == 2 and "--path-margin" in result.output


@pytest.mark.realdata
def test_rnc_dhs_helicopter_map_draws_its_real_reports(shared_data: Path) -> None:
    """BuzzFeed's RNC file, read as it is: N752AM's afternoon orbit over Cleveland on 19 July 2016
    (windows marked possible by hand, 18:00-20:00 UTC); the kept points are its own reports."""
    from flightpaths.ingest import read_logs
    from flightpaths.tracks import make_windows, split_tracks

    log = shared_data / "adsb" / "buzzfeed-2016-conventions" / "rnc.csv"
    if not log.is_file():
        pytest.skip(f"{log} is absent")
    points = read_logs(log).points
    tracked, _ = split_tracks(points[points["object_id"] == "aa2183"])
    windows = make_windows(tracked).sort_values("start", kind="stable").reset_index(drop=True)
    lo, hi = pd.Timestamp("2016-07-19 18:00", tz="UTC"), pd.Timestamp("2016-07-19 20:00", tz="UTC")
    windows["p_circling"] = np.where((windows["start"] >= lo) & (windows["end"] <= hi), 0.9, 0.1)
    windows["p_not_circling"] = 1 - windows["p_circling"]
    keeper = PathKeeper(lengths=[(300.0, 150.0)])
    for part in np.array_split(np.arange(len(windows)), 8):
        keeper.add(windows.iloc[part], windows["p_circling"].to_numpy()[part] >= 0.5)
    kept = keeper.table()
    eps = merge_episodes(windows)
    t0, t1 = eps["start"].min().timestamp() - 600, eps["end"].max().timestamp() + 600
    real = tracked[(tracked["time"] >= pd.Timestamp(t0, unit="s", tz="UTC"))
                   & (tracked["time"] <= pd.Timestamp(t1, unit="s", tz="UTC"))]
    real_t = real["time"].astype("int64").to_numpy() / 1e9
    assert kept["t"].min() >= t0 and kept["t"].max() <= t1
    assert 0.95 * len(np.unique(real_t)) <= len(kept) <= len(np.unique(real_t))  # every report, each once
    at = np.searchsorted(real_t, kept["t"].to_numpy())
    np.testing.assert_allclose(real_t[at], kept["t"], atol=1e-3)  # each kept point is a report ...
    np.testing.assert_allclose(real["lat"].to_numpy()[at], kept["lat"], atol=1e-6)  # ... at its own position
    np.testing.assert_allclose(real["lon"].to_numpy()[at], kept["lon"], atol=1e-6)
    maps = episode_maps(eps.assign(tz="America/New_York"), windows, {}, paths=kept)
    m = maps[str(eps["episode_id"].iloc[0])]
    assert not m.approximate and len(m.track) > 100 and m.times["start"].endswith("EDT")
