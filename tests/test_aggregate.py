"""Segment scoring: the features a reporter's "did this flight circle?" rests on, the learned
aggregator stored as JSON in the bundle, and parked aircraft left out of windows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flightpaths.errors import BundleError, InputError, SettingsError
from flightpaths.schema import validate_points
from flightpaths.score.aggregate import (
    CRUISE_GUARD,
    SEGMENT_EXTRAS,
    SEGMENT_FEATURES,
    SegmentAggregator,
    add_segment_probability,
    add_window_geometry,
    revisit_fraction,
    segment_features,
)
from flightpaths.tracks import WindowSettings, make_windows, windows_with_report


def _points(kind: str, n: int = 240, dt: float = 15.0, on_ground: bool = False, oid: str = "abc123") -> pd.DataFrame:
    """Points of one flight, 50 N: an orbit of 1.5 km radius, or a straight line, at ~100 kt."""
    t = np.arange(n) * dt
    if kind == "orbit":  # one lap every 5 minutes
        a = 2 * np.pi * t / 300.0
        x, y = 1500 * np.cos(a), 1500 * np.sin(a)
    else:
        x, y = 50.0 * t, np.zeros(n)
    lat = 50 + y / 111_195.0
    lon = 4 + x / (111_195.0 * np.cos(np.radians(50)))
    return validate_points(pd.DataFrame({
        "object_id": oid, "time": pd.Timestamp("2024-05-01", tz="UTC") + pd.to_timedelta(t, unit="s"),
        "lat": lat, "lon": lon, "x": np.nan, "y": np.nan, "altitude_ft": 1500.0, "speed_kt": 100.0,
        "track_deg": np.nan, "vrate_fpm": np.nan, "callsign": "TEST", "squawk": pd.NA,
        "on_ground": on_ground, "new_leg": False, "source_file": f"{kind}.sbs", "source_line": np.arange(1, n + 1)}))


def _features(pts: pd.DataFrame, probs: dict[str, float]) -> pd.DataFrame:
    windows = make_windows(pts, WindowSettings(window_s=(300.0, 600.0, 1200.0)))
    geo = add_window_geometry(windows).assign(p=windows["object_id"].map(probs).to_numpy(float))
    return segment_features(geo, windows["object_id"].to_numpy())


def test_orbit_features_are_far_from_a_straight_line() -> None:
    pts = pd.concat([_points("orbit", oid="aaaaaa"), _points("line", oid="bbbbbb")], ignore_index=True)
    table = _features(pts, {"aaaaaa": 0.9, "bbbbbb": 0.1})
    assert list(table.columns) == [*SEGMENT_FEATURES, *SEGMENT_EXTRAS]
    orbit, line = table.loc["aaaaaa"], table.loc["bbbbbb"]
    assert 300 < orbit["turn_5min"] < 380 and 1300 < orbit["turn_20min"] < 1450  # a lap each 5 minutes
    assert line["turn_5min"] < 1.0 and line["revisit_1km"] == 0.0
    assert orbit["revisit_1km"] > 0.6
    assert orbit["p_max"] == pytest.approx(0.9) and line["p_mean"] == pytest.approx(0.1)
    assert 1300 < orbit["turn_multi"] < 1450 and line["turn_multi"] < 1.0  # 5-20 minutes inside 20-minute windows
    assert orbit["alt_median"] == pytest.approx(1500.0)


def test_context_probabilities_and_missing_lengths() -> None:
    windows = pd.DataFrame({"window_s": [300.0, 300.0, 300.0], "turn_thin_deg": [400.0, 10.0, 5.0],
                            "revisit_1km": [0.3, 0.0, 0.0], "p": [0.9, 0.2, 0.1]})
    # an episode: its geometry from its own window, its probabilities from the windows around it
    table = segment_features(windows, np.array(["ep1", "", ""]), context=np.array(["ep1", "ep1", "ep1"]))
    row = table.loc["ep1"]
    assert row["turn_5min"] == 400.0 and row["turn_20min"] == 0.0  # no 20-minute windows: 0
    assert row["p_max"] == 0.9 and row["p_mean"] == pytest.approx(0.4) and row["p_top3"] == pytest.approx(0.4)


def test_points_on_the_ground_make_no_windows_and_add_no_turns() -> None:
    parked = _points("orbit", on_ground=True)  # the same scribble, but the transponder says "on the ground"
    assert make_windows(parked).empty
    table = _features(pd.concat([parked, _points("line", oid="bbbbbb")], ignore_index=True), {"bbbbbb": 0.1})
    assert "abc123" not in table.index


def test_revisit_needs_time_to_pass() -> None:
    t = np.arange(50) * 10.0  # hovering within 20 m for 8 minutes: thinned to a point or two
    rng = np.random.default_rng(0)
    assert revisit_fraction(t, rng.normal(0, 5, 50), rng.normal(0, 5, 50)) == 0.0


def test_aggregator_learns_ranks_and_round_trips_through_json() -> None:
    rng = np.random.default_rng(1)
    n = 300
    y = rng.random(n) < 0.3
    table = pd.DataFrame({
        "turn_5min": np.where(y, rng.uniform(250, 900, n), rng.uniform(0, 400, n)),
        "turn_10min": 0.0, "turn_20min": 0.0,
        "revisit_1km": np.where(y, rng.uniform(0.2, 0.9, n), rng.uniform(0, 0.3, n)),
        "p_max": np.where(y, rng.uniform(0.5, 1, n), rng.uniform(0, 0.8, n)), "p_top3": 0.5, "p_mean": 0.2})
    agg = SegmentAggregator.fit(table, y)
    p = agg.predict(table)
    assert ((p > 0) & (p < 1)).all()
    assert p[y].mean() > 0.6 > 0.2 > p[~y].mean()
    # fitted without class weights: the mean probability is the share of positives it saw
    assert p.mean() == pytest.approx(y.mean(), abs=0.03)
    again = SegmentAggregator.from_dict(json.loads(json.dumps(agg.to_dict())))
    assert again == agg and np.allclose(again.predict(table), p)
    with pytest.raises(InputError, match="segment features missing: revisit_1km"):
        agg.predict(table.drop(columns="revisit_1km"))


def test_aggregator_refuses_what_it_cannot_use() -> None:
    table = pd.DataFrame({"turn_5min": [1.0, 2.0], "p_max": [0.1, 0.2]})
    with pytest.raises(InputError, match="both positive and negative"):
        SegmentAggregator.fit(table, [True, True])
    good = SegmentAggregator.fit(table, [True, False]).to_dict()
    for broken, message in [
        ({**good, "kind": "forest"}, "kind 'logistic'"),
        ({**good, "format": 99}, "format 99 is not supported"),
        ({**good, "coef": [1.0]}, "same non-zero length"),
        ({**good, "features": ["turn_5min", "colour"]}, "unknown feature"),
        ({**good, "intercept": "NaN"}, "non-finite"),
        ({k: v for k, v in good.items() if k != "mean"}, "malformed"),
    ]:
        with pytest.raises(BundleError, match=message):
            SegmentAggregator.from_dict(broken)


def test_windows_leave_out_points_on_the_ground_unless_asked() -> None:
    flying = _points("line", n=120, oid="aaaaaa")
    parked = _points("orbit", n=120, on_ground=True, oid="bbbbbb")
    pts = pd.concat([flying, parked], ignore_index=True)
    windows, report = windows_with_report(pts, WindowSettings())
    assert set(windows["object_id"]) == {"aaaaaa"}
    assert report.removed["on ground"] == 120 and report.points_in == 240
    kept, _ = windows_with_report(pts, WindowSettings(airborne_only=False))
    assert set(kept["object_id"]) == {"aaaaaa", "bbbbbb"}
    with pytest.raises(SettingsError, match="disagree on airborne_only"):
        windows_with_report(pts, [WindowSettings(), WindowSettings(window_s=600, airborne_only=False)])


def test_built_in_model_carries_a_segment_aggregator() -> None:
    """The shipped bundle scores flight segments with its stored aggregator (no pickle)."""
    meta_path = Path(__file__).resolve().parents[1] / "flightpaths" / "models" / "default" / "model.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if "segment_aggregator" not in meta:
        pytest.skip("the built-in model has no segment aggregator")
    agg = SegmentAggregator.from_dict(meta["segment_aggregator"])
    assert set(agg.features) <= set(SEGMENT_FEATURES) and agg.n_train > 100
    orbit = pd.DataFrame([{"turn_5min": 720.0, "turn_10min": 1440.0, "turn_20min": 2880.0, "revisit_1km": 0.8,
                           "p_max": 0.99, "p_top3": 0.98, "p_mean": 0.9}])
    line = pd.DataFrame([{"turn_5min": 20.0, "turn_10min": 25.0, "turn_20min": 30.0, "revisit_1km": 0.0,
                          "p_max": 0.05, "p_top3": 0.03, "p_mean": 0.01}])
    assert agg.predict(orbit)[0] > 0.9 > 0.1 > agg.predict(line)[0]


def test_episodes_get_a_segment_probability_and_rank_by_it() -> None:
    from flightpaths.score.aggregate import add_segment_probability

    t0 = pd.Timestamp("2024-05-01 12:00", tz="UTC")
    minutes = [0, 10, 60, 70]  # two objects, one episode each (a: an orbit; b: one round window)
    windows = pd.DataFrame({
        "window_id": ["a1", "a2", "b1", "b2"], "object_id": ["aaaaaa", "aaaaaa", "bbbbbb", "bbbbbb"],
        "start": [t0 + pd.Timedelta(minutes=m) for m in minutes],
        "end": [t0 + pd.Timedelta(minutes=m + 5) for m in minutes],
        "window_s": 300.0, "p_circling": [0.8, 0.7, 0.95, 0.05],
        "turn_thin_deg": [700.0, 720.0, 200.0, np.nan], "revisit_1km": [0.6, 0.7, 0.0, np.nan]})
    episodes = pd.DataFrame({
        "rank": [2, 1], "episode_id": ["ea", "eb"], "class": "circling", "object_id": ["aaaaaa", "bbbbbb"],
        "start": [t0, t0 + pd.Timedelta(minutes=60)], "end": [t0 + pd.Timedelta(minutes=15), t0 + pd.Timedelta(minutes=65)],
        "peak_p": [0.8, 0.95], "mean_p": [0.75, 0.95], "p_segment": np.nan, "window_ids": ["a1;a2", "b1"]})
    train = pd.DataFrame({"turn_5min": [700.0, 650.0, 100.0, 200.0, 30.0, 400.0],
                          "revisit_1km": [0.6, 0.5, 0.0, 0.1, 0.0, 0.3],
                          "p_max": [0.9, 0.6, 0.95, 0.7, 0.2, 0.8]})
    agg = SegmentAggregator.fit(train, [True, True, False, False, False, True], c=1.0)
    out = add_segment_probability(episodes, windows, agg, positive_class="circling")
    assert out["episode_id"].tolist() == ["ea", "eb"]  # the turning orbit now outranks the one round window
    assert out["rank"].tolist() == [1, 2]
    assert out.loc[0, "p_segment"] > 0.5 > out.loc[1, "p_segment"]


def test_a_single_turn_at_cruise_is_capped_an_orbit_at_cruise_is_not() -> None:
    t0 = pd.Timestamp("2024-05-01 12:00", tz="UTC")
    windows = pd.DataFrame({
        "window_id": ["a1", "b1", "c1"], "object_id": ["aaaaaa", "bbbbbb", "cccccc"],
        "start": [t0] * 3, "end": [t0 + pd.Timedelta(minutes=20)] * 3, "window_s": 1200.0,
        "p_circling": [0.99, 0.99, 0.99], "turn_thin_deg": [150.0, 1100.0, 150.0],
        "turn_multi_deg": [150.0, 1100.0, 150.0], "revisit_1km": [0.0, 0.5, 0.0],
        "median_altitude_ft": [37000.0, 37000.0, 3000.0]})
    episodes = pd.DataFrame({
        "rank": [1, 2, 3], "episode_id": ["ea", "eb", "ec"], "class": "circling",
        "object_id": ["aaaaaa", "bbbbbb", "cccccc"], "start": [t0] * 3, "end": [t0 + pd.Timedelta(minutes=20)] * 3,
        "peak_p": 0.99, "mean_p": 0.99, "p_segment": np.nan, "window_ids": ["a1", "b1", "c1"]})
    train = pd.DataFrame({"turn_20min": [700.0, 650.0, 100.0, 200.0, 30.0, 400.0],
                          "p_max": [0.9, 0.6, 0.95, 0.7, 0.2, 0.8]})
    agg = SegmentAggregator.fit(train, [True, True, False, False, False, True], c=1.0)
    out = add_segment_probability(episodes, windows, agg, positive_class="circling").set_index("episode_id")
    assert out.loc["ea", "p_segment"] == pytest.approx(CRUISE_GUARD.cap)  # one 150-degree turn at FL370
    assert out.loc["eb", "p_segment"] > 0.5  # a hold at FL370: more than a full turn
    assert out.loc["ec", "p_segment"] > CRUISE_GUARD.cap  # the same turn at 3,000 ft is left to the model
    assert out["rank"].idxmax() == "ea"
    off = add_segment_probability(episodes, windows, agg, positive_class="circling", guard=None)
    assert off.set_index("episode_id").loc["ea", "p_segment"] > CRUISE_GUARD.cap


def test_an_aggregator_may_use_the_multiscale_turn() -> None:
    table = pd.DataFrame({"turn_multi": [1400.0, 900.0, 100.0, 200.0], "p_max": [0.5, 0.6, 0.9, 0.4]})
    agg = SegmentAggregator.fit(table, [True, True, False, False], features=("turn_multi", "p_max"))
    assert SegmentAggregator.from_dict(agg.to_dict()).features == ("turn_multi", "p_max")
    assert SegmentAggregator.fit(table, [True, True, False, False]).features == ("p_max",)  # default set unchanged


@pytest.mark.slow
def test_builtin_model_scores_episodes_per_flight_segment(tmp_path: Path) -> None:
    """`flightpaths score` with the built-in model: every episode has a segment probability, the
    table and the tip sheet are in that order."""
    from click.testing import CliRunner

    from flightpaths.cli import cli

    repo = Path(__file__).resolve().parents[1]
    meta = json.loads((repo / "flightpaths" / "models" / "default" / "model.json").read_text(encoding="utf-8"))
    if "segment_aggregator" not in meta:
        pytest.skip("the built-in model has no segment aggregator")
    out = tmp_path / "tips"
    result = CliRunner().invoke(cli, ["-q", "score", str(repo / "data/sim/score/sim.sbs.gz"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    episodes = pd.read_csv(out / "episodes.csv")
    assert len(episodes) and episodes["p_segment"].between(0, 1).all()
    assert episodes["rank"].tolist() == list(range(1, len(episodes) + 1))
    assert episodes["p_segment"].is_monotonic_decreasing
    html = (out / "tipsheet.html").read_text(encoding="utf-8")
    assert html.count("flight-segment probability; peak window") == len(episodes)
