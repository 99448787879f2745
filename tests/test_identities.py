"""Identities kept apart (issue #23, class 8): object ids that differ only in case or only in
characters made safe for file names stay separate aircraft in tracks, render, score and label.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from flightpaths.fileio import file_stem, id_stem
from flightpaths.label.dataset import Dataset, load_images
from flightpaths.render import RenderConfig, render_windows
from flightpaths.schema import validate_points
from flightpaths.score import episode_lines, merge_episodes
from flightpaths.tracks import make_windows

#: ids that a lossy file-name rule merges: safe characters, case, the non-ICAO ``~`` prefix
IDS = ["a/b", "a_b", "A_B", "a b", "~a1b2c3", "a1b2c3", "Heli-1", "heli-1"]


def _points(ids: list[str]) -> pd.DataFrame:
    """Each id circles 20 minutes over its own spot, one degree of latitude apart."""
    frames = []
    t = np.arange(0, 1200, 10.0)
    for k, oid in enumerate(ids):
        a = 2 * math.pi * t / 240
        frames.append(pd.DataFrame({
            "object_id": oid, "time": pd.to_datetime(1714564800 + t, unit="s", utc=True),
            "lat": 40.0 + k + 0.01 * np.cos(a), "lon": -73.0 + 0.013 * np.sin(a), "x": np.nan, "y": np.nan,
            "altitude_ft": 1500.0, "speed_kt": np.nan, "track_deg": np.nan, "vrate_fpm": np.nan,
            "callsign": pd.NA, "squawk": pd.NA, "on_ground": False, "new_leg": False,
            "source_file": "ids.csv", "source_line": np.arange(len(t)) + 2 + k * len(t),
        }))
    return validate_points(pd.concat(frames, ignore_index=True))


def test_stems_are_unique_to_the_exact_id_even_where_case_is_ignored() -> None:
    stems = [id_stem(i) for i in IDS]
    assert len({s.casefold() for s in stems}) == len(IDS)
    assert id_stem("a1b2c3") == "a1b2c3"  # ICAO addresses keep their plain stem
    assert file_stem("a1b2c3_0_20240501T120000_300s") == "a1b2c3_0_20240501T120000_300s"
    assert file_stem("x/y") != file_stem("x_y") and "/" not in file_stem("x/y")


def test_tracks_give_each_id_its_own_window_ids() -> None:
    w = make_windows(_points(IDS))
    assert sorted(w["object_id"].unique()) == sorted(IDS)
    assert w.groupby("object_id").size().nunique() == 1  # no id lost windows to another
    assert w["window_id"].is_unique
    assert w["window_id"].str.casefold().is_unique
    assert w[w["object_id"] == "a1b2c3"]["window_id"].str.startswith("a1b2c3_0_").all()


def test_render_gives_every_window_its_own_file(tmp_path: Path) -> None:
    w = make_windows(_points(["a1b2c3"])).iloc[:6].copy()
    wids = ["x/y_0", "x_y_0", "X_Y_0", "x y_0", "x_y_0~", "../x_y_0"]
    w["window_id"] = pd.array(wids, dtype="string")
    manifest = render_windows(w, tmp_path / "r", RenderConfig(size=32))
    assert (manifest["status"] == "ok").all(), manifest["status"].tolist()
    images = manifest["image"].tolist()
    assert len({i.casefold() for i in images}) == len(wids)
    assert sorted(p.name for p in (tmp_path / "r" / "images").iterdir()) == sorted(Path(i).name for i in images)
    assert manifest["window_id"].tolist() == wids  # the manifest names the exact id of each file


def test_score_episodes_keep_their_own_windows_and_tracks() -> None:
    w = make_windows(_points(IDS))
    w["p_circling"], w["p_straight"] = 0.9, 0.1
    episodes = merge_episodes(w)
    assert sorted(episodes["object_id"]) == sorted(IDS)
    for ep in episodes.itertuples():
        members = w[w["window_id"].isin(str(ep.window_ids).split(";"))]
        assert set(members["object_id"]) == {ep.object_id}
    lines = episode_lines(episodes, w)
    for ep in episodes.itertuples():  # each episode's track lies over its own aircraft's spot
        lat = lines[ep.episode_id][:, 1]
        assert np.abs(lat - ep.lat).max() < 0.05, ep.object_id


def test_label_names_never_differ_only_in_case(tmp_path: Path) -> None:
    folder = tmp_path / "pngs"
    folder.mkdir()
    for name in ("A_B.png", "a_b.png", "x.png", "X.png"):
        Image.new("RGB", (8, 8), (len(name) * 20, 0, 0)).save(folder / name)
    images = load_images(folder)
    names = images.table["name"].tolist()
    assert len({n.casefold() for n in names}) == 4
    with Dataset.open(tmp_path / "ds", images, classes=["circling"]) as ds:
        ds.label(images.keys, "circling")
    written = [p.name for p in (tmp_path / "ds" / "circling").iterdir()]
    assert len({n.casefold() for n in written}) == 4
    with Dataset.open(tmp_path / "ds", images) as ds:  # the journal reads the names back
        assert sum(1 for e in ds.entries().values() if e.label == "circling") == 4


def test_a_long_episode_s_track_is_bounded_for_maps_and_lines() -> None:
    from flightpaths.score import episode_tracks
    from flightpaths.score.leadmap import TRACK_POINTS_MAX

    t = np.arange(0, 3 * 3600, 1.0)  # three hours circling, one point a second
    a = 2 * math.pi * t / 240
    pts = validate_points(pd.DataFrame({
        "object_id": "a1b2c3", "time": pd.to_datetime(1714564800 + t, unit="s", utc=True),
        "lat": 40.0 + 0.01 * np.cos(a), "lon": -73.0 + 0.013 * np.sin(a), "x": np.nan, "y": np.nan,
        "altitude_ft": 1500.0, "speed_kt": np.nan, "track_deg": np.nan, "vrate_fpm": np.nan, "callsign": pd.NA,
        "squawk": pd.NA, "on_ground": False, "new_leg": False, "source_file": "a.sbs", "source_line": np.arange(len(t)) + 1,
    }))
    w = make_windows(pts)
    w["p_circling"], w["p_straight"] = 0.9, 0.1
    episodes = merge_episodes(w)
    (x, y, when), = episode_tracks(episodes, w, with_time=True).values()
    assert len(x) == TRACK_POINTS_MAX < len(t)
    assert when[0] == t[0] + 1714564800 and when[-1] == t[-1] + 1714564800  # first and last kept
    assert (np.diff(when) > 0).all()
