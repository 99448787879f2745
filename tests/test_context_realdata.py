"""The BuzzFeed 2016 convention files, read as they are: every government aircraft's leads
show registration, type and operator from the file's own columns, a place and local time."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flightpaths.context import ContextSettings, add_context, identity_by_object
from flightpaths.ingest import read_logs
from flightpaths.score.episodes import merge_episodes

pytestmark = pytest.mark.realdata

GOVERNMENT = {"aa2183": ("N752AM", "AS50"), "a94aea": ("N6981A", "AS50"), "ab8fb2": ("N844LC", "S76"),
              "a6684f": ("N51159", "B350"), "a996cb": ("N717HP", "C208")}


def test_rnc_leads_say_who_where_and_when(shared_data: Path) -> None:
    log = shared_data / "adsb" / "buzzfeed-2016-conventions" / "rnc.csv"
    if not log.is_file():
        pytest.skip(f"{log} is absent")
    points = read_logs(log).points
    identity = identity_by_object(points)
    # one pseudo-episode per aircraft and day: its positions' centre, first and last time
    points["day"] = points["time"].dt.floor("D")
    groups = points.groupby(["object_id", "day"])
    episodes = groups.agg(start=("time", "min"), end=("time", "max"), lat=("lat", "median"), lon=("lon", "median")).reset_index()
    episodes = episodes.drop(columns="day").assign(rank=range(1, len(episodes) + 1))
    out = add_context(episodes, identity, ContextSettings(use_registry=False))
    for hexid, (reg, typ) in GOVERNMENT.items():
        leads = out[out["object_id"] == hexid]
        assert len(leads), hexid
        assert set(leads["registration"]) == {reg} and set(leads["type_code"]) == {typ}
        assert leads["operator"].str.contains("Homeland Security|Public Safety").all()
        assert leads["identity_source"].str.startswith("log").all()
        assert leads["tz"].eq("America/New_York").all() and leads["local_start"].str.endswith("-04:00").all()
    dhs = out[out["object_id"] == "aa2183"]
    assert dhs["place"].str.endswith("Cleveland, Ohio, US").any()
    assert (dhs["country"] == "United States").all()


def test_rnc_windows_carry_identity_into_merged_episodes(shared_data: Path) -> None:
    """The path `score` takes: identity joined onto windows, episodes merged, then context."""
    log = shared_data / "adsb" / "buzzfeed-2016-conventions" / "rnc.csv"
    if not log.is_file():
        pytest.skip(f"{log} is absent")
    from flightpaths.context import join_identity
    from flightpaths.tracks import make_windows, split_tracks

    points = read_logs(log).points
    points = points[points["object_id"] == "aa2183"]
    tracked, _ = split_tracks(points)
    windows = join_identity(make_windows(tracked), identity_by_object(points))
    windows["p_circling"] = 1.0
    episodes = add_context(merge_episodes(windows, classes=["circling"]), identity_by_object(windows), ContextSettings(use_registry=False))
    assert len(episodes) and (episodes["registration"] == "N752AM").all()
    assert (episodes["operator"] == "Department of Homeland Security").all()
    assert episodes["place"].str.contains("Cleveland, Ohio, US").any()
    assert pd.notna(episodes["local_start"]).all()
