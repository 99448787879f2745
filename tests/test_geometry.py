"""The shared geometry helpers: LineStrings from flat arrays and the one GeoPackage writer."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flightpaths.geometry import linestrings, write_layers

gpd = pytest.importorskip("geopandas")


def _lines(n: int) -> gpd.GeoDataFrame:
    xy = np.arange(2.0 * n)
    return gpd.GeoDataFrame({"name": [f"l{k}" for k in range(n)]}, geometry=linestrings(xy, xy, np.full(n, 2)), crs="EPSG:4326")


def _chatter(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("pyogrio")]


def test_layers_are_written_together_without_driver_chatter(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    out = write_layers(tmp_path / "sub" / "two.gpkg", [("first", _lines(2)), ("second", _lines(3))])
    assert out == tmp_path / "sub" / "two.gpkg"
    assert gpd.read_file(out, layer="first")["name"].tolist() == ["l0", "l1"]
    assert len(gpd.read_file(out, layer="second")) == 3
    assert _chatter(caplog) == [], "pyogrio's 'Created N records' must not reach the user's log"
    assert sorted(p.name for p in out.parent.iterdir()) == ["two.gpkg"], "no temporary file is left behind"
    assert logging.getLogger("pyogrio").level == logging.NOTSET, "the logger's level is put back"


def test_geojson_and_an_empty_first_layer(tmp_path: Path) -> None:
    gj = write_layers(tmp_path / "one.geojson", [(None, _lines(1))], driver="GeoJSON")
    assert gpd.read_file(gj)["name"].tolist() == ["l0"]
    out = write_layers(tmp_path / "e.gpkg", [("empty", _lines(0)), ("full", _lines(2))])
    assert len(gpd.read_file(out, layer="full")) == 2


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    out = tmp_path / "keep.gpkg"
    out.write_bytes(b"old")
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises for a frame it cannot write
        write_layers(out, [("bad", pd.DataFrame({"a": [1]}))])  # type: ignore[list-item]
    assert out.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["keep.gpkg"]


def test_every_gpkg_writer_is_quiet(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """ingest's tracks, the tracks stage's windows and score's episodes all go through write_layers."""
    from flightpaths.ingest.output import write_points
    from flightpaths.score import write_episodes_gpkg
    from flightpaths.tracks import write_geo

    caplog.set_level(logging.INFO)
    t = pd.to_datetime([0, 60, 120], unit="s", utc=True)
    points = pd.DataFrame({"object_id": ["a"] * 3, "lon": [0.0, 1, 2], "lat": [0.0, 1, 0], "time": t, "callsign": ["X"] * 3,
                           "new_leg": [False] * 3, "source_file": ["f"] * 3, "x": [np.nan] * 3})
    write_points(points, tmp_path / "points.gpkg")
    write_geo(_lines(2), tmp_path / "windows.gpkg")
    episodes = pd.DataFrame({"episode_id": ["e1"], "lat": [1.0], "lon": [2.0], "probability": [0.9]})
    write_episodes_gpkg(episodes, tmp_path / "episodes.gpkg", tracks={"e1": np.array([[2.0, 1.0], [2.1, 1.1]])})
    assert _chatter(caplog) == []
    assert len(gpd.read_file(tmp_path / "episodes.gpkg", layer="tracks")) == 1
