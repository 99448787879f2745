"""Behaviour features, the exported behaviour classifier and the behaviour of episodes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flightpaths.errors import BundleError
from flightpaths.score.behaviour import (
    BEHAVIOUR_FEATURES,
    HOVER_KT,
    add_window_behaviour,
    segment_behaviour,
    sim_class,
    window_behaviour,
)
from flightpaths.score.behaviour_model import BehaviourModel, add_behaviour, default_behaviour_model


def _path(turn_deg: np.ndarray, speed_ms: float = 50.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points each second from turn rates (deg/s) at a constant speed."""
    h = np.radians(np.cumsum(turn_deg))
    return np.arange(len(h), dtype=float), np.cumsum(np.sin(h)) * speed_ms, np.cumsum(np.cos(h)) * speed_ms


def _orbit_arrays() -> dict[str, np.ndarray]:
    """A window's point arrays: twenty minutes of ten laps of a 950 m circle at 90 kt, 1,500 ft."""
    t, x, y = _path(np.full(1200, 3.0))
    return {"pt": t, "px": x, "py": y, "pspeed": np.full(1200, 90.0), "palt": np.full(1200, 1500.0)}


def _line_arrays() -> dict[str, np.ndarray]:
    """A window's point arrays: twenty minutes of a straight line at 230 kt, 9,000 ft."""
    t, x, y = _path(np.zeros(1200), 120.0)
    return {"pt": t, "px": x, "py": y, "pspeed": np.full(1200, 230.0), "palt": np.full(1200, 9000.0)}


def _lawnmower(legs: int = 6, leg_s: int = 80, rate: float = 6.0) -> np.ndarray:
    parts = []
    for i in range(legs):
        parts += [np.zeros(leg_s), np.full(int(180 / rate), rate if i % 2 == 0 else -rate)]
    return np.concatenate(parts)


def test_orbit_survey_transit_and_hover_look_like_themselves() -> None:
    t, x, y = _path(np.full(1200, 3.0))  # ten laps of a 950 m circle
    orbit = window_behaviour(t, x, y, np.full(1200, 97.0), np.full(1200, 1500.0))
    t, x, y = _path(_lawnmower())
    survey = window_behaviour(t, x, y, np.full(len(t), 97.0), np.full(len(t), 4000.0))
    t, x, y = _path(np.zeros(600), 230.0)
    transit = window_behaviour(t, x, y, np.full(600, 450.0), np.full(600, 37000.0))
    rng = np.random.default_rng(0)
    hover = window_behaviour(np.arange(300.0), *rng.normal(0, 5, (2, 300)), np.full(300, 2.0), np.full(300, 400.0))
    assert orbit["bh_consistency"] > 0.95 and orbit["bh_turn_multi"] > 1400 and orbit["bh_revisit"] > 0.5
    assert orbit["bh_straight_share"] < 0.1 and orbit["bh_polar"] < 0.2
    # a lawnmower: turns alternate, legs parallel both ways, side by side, nothing comes back
    assert survey["bh_alternation"] == 1.0 and survey["bh_consistency"] < 0.2
    assert survey["bh_axial"] > 0.5 > survey["bh_polar"] and survey["bh_straight_share"] > 0.4
    assert survey["bh_cross_ratio"] > 0.5
    assert transit["bh_polar"] > 0.99 and transit["bh_straight_share"] > 0.99 and transit["bh_straightness"] > 0.99
    assert transit["bh_alt_ft"] == 37000.0 and transit["bh_speed_kt"] == 450.0
    assert hover["bh_slow_share"] == 1.0 and hover["bh_extent_m"] < 100
    assert orbit["bh_slow_share"] == survey["bh_slow_share"] == 0.0


def test_slow_share_weighs_time_and_short_windows_are_nan() -> None:
    t = np.array([0.0, 10, 20, 100])  # the last point stands for 40 s of the 100
    f = window_behaviour(t, t * 50, np.zeros(4), np.array([2.0, 2, 50, 50]), None)
    assert f["bh_slow_share"] == pytest.approx(15 / 100)  # 5 s + 10 s under HOVER_KT
    assert HOVER_KT == 10.0 and math.isnan(f["bh_alt_ft"])
    assert all(math.isnan(v) for v in window_behaviour(np.arange(2.0), np.zeros(2), np.zeros(2)).values())


def test_window_and_segment_tables() -> None:
    t, x, y = _path(np.full(600, 3.0))
    w = pd.DataFrame({"window_id": ["a", "b", "c"], "window_s": [300.0, 600.0, 600.0],
                      "pt": [t[:300], t, None], "px": [x[:300], x, None], "py": [y[:300], y, None]})
    out = add_window_behaviour(w)
    assert list(out.columns[-len(BEHAVIOUR_FEATURES):]) == list(BEHAVIOUR_FEATURES)
    assert out[BEHAVIOUR_FEATURES[0]].notna().tolist() == [True, True, False]
    only = add_window_behaviour(w, rows=np.array([True, False, False]))
    assert only["bh_turn_net"].notna().tolist() == [True, False, False]
    # beside the window geometry, its multi-scale turn and revisits are reused: the same features
    from flightpaths.score.aggregate import add_window_geometry

    both = add_window_geometry(w)
    pd.testing.assert_frame_equal(both[list(BEHAVIOUR_FEATURES)], out[list(BEHAVIOUR_FEATURES)])
    seg = segment_behaviour(out, np.array(["s", "s", "s"]))
    # the segment takes its longest windows (600 s), skipping the one without points
    assert seg.loc["s", "bh_turn_total"] == pytest.approx(out.loc[1, "bh_turn_total"])
    assert segment_behaviour(out, np.array(["", "", ""])).empty


def test_simulator_behaviours_map_to_reporter_classes() -> None:
    from flightpaths.simulate import BEHAVIOURS

    assert {sim_class(b) for b in BEHAVIOURS} - {None} <= {"orbit", "hover", "survey", "racetrack", "pattern",
                                                          "transit", "other"}
    assert sim_class("parked") is None and sim_class("approach") == sim_class("circuit") == "pattern"


def _fitted(seed: int = 0):
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, 3))
    x[rng.random((400, 3)) < 0.1] = np.nan  # missing values take the learned side
    y = np.where(np.nan_to_num(x[:, 0]) > 0.5, "a", np.where(np.nan_to_num(x[:, 1]) > 0, "b", "c"))
    model = HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=7, random_state=0).fit(x, y)
    return model, x


def test_exported_trees_give_sklearns_probabilities(tmp_path: Path) -> None:
    model, x = _fitted()
    names = ("f0", "f1", "f2")
    ours = BehaviourModel.from_sklearn(model, names, meta={"note": "test"})
    table = pd.DataFrame(x, columns=list(names))
    np.testing.assert_allclose(ours.predict_proba(table), model.predict_proba(x), rtol=0, atol=1e-12)
    assert (ours.predict(table)[0] == model.predict(x)).all()
    ours.save(tmp_path)
    back = BehaviourModel.load(tmp_path)
    np.testing.assert_allclose(back.predict_proba(table), model.predict_proba(x), rtol=0, atol=1e-12)
    assert back.classes == ("a", "b", "c") and back.meta["note"] == "test"
    assert not list(tmp_path.glob("*.pkl"))


def test_damaged_behaviour_model_is_a_clear_error(tmp_path: Path) -> None:
    model, _ = _fitted()
    ours = BehaviourModel.from_sklearn(model, ("f0", "f1", "f2"))
    ours.save(tmp_path)
    (tmp_path / "behaviour.json").write_text('{"kind": "pickle"}', encoding="utf-8")
    with pytest.raises(BundleError, match="not a behaviour model"):
        BehaviourModel.load(tmp_path)
    nodes = dict(ours.nodes)
    nodes["left"] = nodes["left"] + 10**6
    with pytest.raises(BundleError, match="outside the tree"):
        BehaviourModel(ours.classes, ours.features, ours.baseline, ours.tree_start, nodes, {})
    with pytest.raises(BundleError, match="missing"):
        ours.predict_proba(pd.DataFrame({"f0": [1.0]}))


def test_episodes_get_the_behaviour_of_their_windows() -> None:
    model = default_behaviour_model()
    if model is None:
        pytest.skip("no built-in behaviour model (make it with benchmarks/make_behaviour_model.py)")
    orbit = _orbit_arrays()
    t2, x2, y2 = _path(_lawnmower(legs=12, leg_s=60), 45.0)
    survey = {"pt": t2, "px": x2, "py": y2, "pspeed": np.full(len(t2), 90.0), "palt": np.full(len(t2), 4000.0)}
    windows = add_window_behaviour(pd.DataFrame([{"window_id": "w1", "window_s": 1200.0, **orbit},
                                                 {"window_id": "w2", "window_s": 1200.0, **survey}]))
    episodes = pd.DataFrame({"episode_id": ["e1", "e2", "e3"], "window_ids": ["w1", "w2", "gone"]})
    out = add_behaviour(episodes, windows, model)
    assert out["behaviour"].tolist()[:2] == ["orbit", "survey"]
    assert out["behaviour"].isna().tolist() == [False, False, True] and out["p_behaviour"].iloc[0] > 0.5
    assert "behaviour" not in add_behaviour(episodes, windows, None).columns


def test_tip_sheet_kml_and_csv_show_the_behaviour(tmp_path: Path) -> None:
    from test_tipsheet import lead_episodes, lead_windows

    from flightpaths.score import write_episodes_csv, write_episodes_kml, write_tip_sheet

    windows = lead_windows()
    eps = lead_episodes(windows)
    eps["behaviour"] = ["orbit"] + ["<b>x</b>"] * (len(eps) - 1)
    eps["p_behaviour"] = 0.93
    eps["behaviours"] = ["orbit 20 min, hover 9 min, other 5 min"] + ["hover 5 min, orbit <i>"] * (len(eps) - 1)
    page = write_tip_sheet(eps, tmp_path / "t.html", windows=windows, classes=["circling"], threshold=0.5)
    text = page.read_text(encoding="utf-8")
    # the hover inside the orbit is said; "other" is no lead and is not
    assert '<span class="behaviour"' in text and "possible orbit (0.93), with hover 9 min</span>" in text
    assert "<b>x</b>" not in text and "possible &lt;b&gt;x&lt;/b&gt; (0.93), with hover 5 min, orbit &lt;i&gt;" in text
    kml = write_episodes_kml(eps, tmp_path / "e.kml").read_text(encoding="utf-8")
    assert "(possible orbit, with hover 9 min)" in kml
    table = pd.read_csv(write_episodes_csv(eps, tmp_path / "e.csv"))
    assert table["behaviour"].iloc[0] == "orbit" and "p_behaviour" in table.columns
    plain = write_tip_sheet(eps.drop(columns=["behaviour", "p_behaviour"]), tmp_path / "p.html", windows=windows,
                            classes=["circling"], threshold=0.5)
    assert 'class="behaviour"' not in plain.read_text(encoding="utf-8")


def test_behaviour_filter_setting_and_option() -> None:
    from click.testing import CliRunner

    from flightpaths.cli import cli
    from flightpaths.errors import SettingsError
    from flightpaths.score import ScoreSettings
    from flightpaths.score.behaviour_model import filter_behaviours

    assert ScoreSettings(behaviours=("orbit", "hover")).behaviours == ("orbit", "hover")
    with pytest.raises(SettingsError, match="choose from orbit, hover"):
        ScoreSettings(behaviours=("circling",))
    with pytest.raises(SettingsError, match="tuple"):
        ScoreSettings(behaviours="orbit")  # type: ignore[arg-type]
    log = Path(__file__).parent / "data"
    result = CliRunner().invoke(cli, ["score", str(log), "-o", "never", "--behaviour", "orbit,flying"])
    assert result.exit_code == 2 and "'flying' unknown" in result.output
    eps = pd.DataFrame({"rank": [1, 2, 3], "behaviour": pd.array(["survey", pd.NA, "orbit"], dtype="string")})
    assert filter_behaviours(eps, ("orbit",))["rank"].tolist() == [1]
    assert filter_behaviours(eps, ()).equals(eps)
    assert filter_behaviours(eps.drop(columns="behaviour"), ("orbit",)).empty


def test_legs_uturns_and_turn_variety_tell_a_lawnmower_from_an_orbit_and_a_drawing() -> None:
    t, x, y = _path(_lawnmower())
    survey = window_behaviour(t, x, y, np.full(len(t), 97.0), None)
    t, x, y = _path(np.full(1200, 3.0))
    orbit = window_behaviour(t, x, y, np.full(1200, 97.0), None)
    t, x, y = _path(np.zeros(600), 230.0)
    transit = window_behaviour(t, x, y, np.full(600, 450.0), None)
    turns = np.concatenate([np.r_[np.zeros(60), np.full(n, r)] for n, r in ((10, 3.0), (30, -4.0), (15, 8.0), (60, -2.0), (8, 5.0))])
    t, x, y = _path(turns)
    drawing = window_behaviour(t, x, y, np.full(len(t), 97.0), None)
    # six legs of 4 km, flown both ways 955 m apart (50 m/s turning 6 deg/s), joined by five U-turns
    assert survey["bh_uturns"] >= 5 and survey["bh_antiparallel"] == 1.0
    assert 700 < survey["bh_leg_gap_m"] < 1200 and survey["bh_event_var"] < 0.2
    assert orbit["bh_uturns"] == 0 and orbit["bh_antiparallel"] == 0  # one turn of ten laps, no leg
    assert transit["bh_uturns"] == transit["bh_events_per_km"] == transit["bh_leg_gap_m"] == 0
    # turns of 30, 120, 120, 120 and 40 degrees: sizes vary, none reverses the path
    assert drawing["bh_event_var"] > 0.5 and drawing["bh_uturns"] == 0 and drawing["bh_events_per_km"] > 0


def test_segment_behaviour_keeps_the_extremes_of_its_longest_windows() -> None:
    from flightpaths.score.behaviour import SEGMENT_FEATURES

    w = pd.DataFrame({"window_s": [1200.0, 1200.0, 1200.0, 300.0], "bh_uturns": [0.0, 4.0, 1.0, 9.0],
                      "bh_straightness": [0.9, 0.2, 0.5, 0.0]})
    table = segment_behaviour(w, np.array(["a", "a", "a", "a"]))
    assert list(table.columns) == list(SEGMENT_FEATURES)
    row = table.loc["a"]
    assert row["bh_uturns"] == 1.0 and row["bhs_max_uturns"] == 4.0  # the 5-minute window is not read
    assert row["bhs_min_straightness"] == 0.2 and math.isnan(row["bhs_max_event_var"])


def _timed(rows: list[dict], t0: str = "2024-05-01 12:00") -> pd.DataFrame:
    start = pd.Timestamp(t0, tz="UTC")
    frame = pd.DataFrame(rows)
    frame["start"] = [start + pd.Timedelta(minutes=m) for m in frame.pop("minute")]
    frame["end"] = frame["start"] + pd.Timedelta(minutes=20)
    return frame


def test_the_behaviour_classifier_alone_makes_an_episode_of_an_unflagged_orbit() -> None:
    from flightpaths.score.behaviour_model import add_behaviour_episodes, show_behaviour_episodes, window_lead_probability
    from flightpaths.score.episodes import merge_episodes

    model = default_behaviour_model()
    if model is None:
        pytest.skip("no built-in behaviour model")
    orbit = _orbit_arrays()
    line = _line_arrays()
    windows = _timed([
        {"window_id": "a1", "object_id": "a", "window_s": 1200.0, "minute": 0, "p_circling": 0.1, **orbit},
        {"window_id": "a2", "object_id": "a", "window_s": 1200.0, "minute": 10, "p_circling": 0.2, **orbit},
        {"window_id": "b1", "object_id": "b", "window_s": 1200.0, "minute": 0, "p_circling": 0.1, **line},
        {"window_id": "c1", "object_id": "c", "window_s": 1200.0, "minute": 0, "p_circling": 0.9, **orbit}])
    windows = add_window_behaviour(windows)
    windows["lead_p"] = window_lead_probability(windows, model)
    assert windows["lead_p"].tolist()[:2] == [pytest.approx(windows["lead_p"].iloc[0])] * 2
    assert windows["lead_p"].iloc[0] > 0.5 and windows["lead_p"].iloc[2] == 0.0  # a straight line is no lead
    assert np.isnan(window_lead_probability(windows.assign(bh_turn_net=np.nan), model)).all()
    found = add_behaviour_episodes(merge_episodes(windows), windows, positive_class="circling")
    # c was flagged by the circling model; a only by the behaviour, its two windows one episode; b is not listed
    assert found["found_by"].tolist() == ["circling model", "behaviour"]
    assert found["object_id"].tolist() == ["c", "a"] and found["window_ids"].iloc[1] == "a1;a2"
    assert found["peak_p"].iloc[1] == pytest.approx(windows["lead_p"].iloc[0])
    named = add_behaviour(found, windows, model).assign(p_segment=[0.9, 0.05])
    shown = show_behaviour_episodes(named)
    # shown by its behaviour's probability (0.9999 > c's 0.9), so first
    assert shown["object_id"].tolist() == ["a", "c"] and shown["rank"].tolist() == [1, 2]
    assert shown["p_segment"].iloc[0] == pytest.approx(named["p_behaviour"].iloc[1])
    survey = show_behaviour_episodes(named.assign(behaviour=["orbit", "survey"]))
    assert survey["p_segment"].tolist() == [0.9, 0.05]  # a survey is not a lead: its circling probability stays
    # a window the circling model flagged takes precedence: nothing is listed twice
    again = add_behaviour_episodes(merge_episodes(windows.assign(p_circling=0.9)), windows, positive_class="circling")
    assert set(again["found_by"]) == {"circling model"} and len(again) == 3


def test_score_scans_every_long_window_for_lead_behaviours() -> None:
    from types import SimpleNamespace

    from flightpaths.score import ScoreSettings
    from flightpaths.score.pipeline import behaviour_scan, episodes_from_windows, slim_windows

    if default_behaviour_model() is None:
        pytest.skip("no built-in behaviour model")
    orbit = _orbit_arrays()
    line = _line_arrays()
    scored = _timed([
        {"window_id": "a5", "object_id": "a", "window_s": 300.0, "minute": 0, "p_circling": 0.1, **orbit},
        {"window_id": "a20", "object_id": "a", "window_s": 1200.0, "minute": 0, "p_circling": 0.1, **orbit},
        {"window_id": "b20", "object_id": "b", "window_s": 1200.0, "minute": 0, "p_circling": 0.1, **line}])
    scanned = behaviour_scan(scored, ["circling"], 0.5)
    assert np.isnan(scanned["lead_p"].iloc[0]) and scanned["lead_p"].iloc[1] > 0.5 and scanned["lead_p"].iloc[2] == 0
    slim = slim_windows(scanned, ["circling"], 0.5, geometry=True)
    assert "px" not in slim and slim["thumb_x"].notna().tolist() == [False, True, False]  # drawn for the tip sheet
    bundle = SimpleNamespace(meta={}, positive_class="circling", classes=["circling", "straight"])
    episodes = episodes_from_windows(slim, bundle, ScoreSettings(progress=False), ["circling"])  # type: ignore[arg-type]
    assert episodes[["object_id", "window_ids", "found_by"]].values.tolist() == [["a", "a20", "behaviour"]]
    assert episodes_from_windows(slim_windows(scored, ["circling"], 0.5), bundle, ScoreSettings(progress=False),
                                 ["circling"]).empty  # type: ignore[arg-type]


def test_a_hover_inside_an_orbit_episode_is_listed_and_kept_by_the_hover_filter() -> None:
    from flightpaths.score.behaviour_model import filter_behaviours, held_behaviours

    model = default_behaviour_model()
    if model is None:
        pytest.skip("no built-in behaviour model")
    orbit = _orbit_arrays()
    rng = np.random.default_rng(0)
    hover = {"pt": np.arange(300.0), "px": rng.normal(0, 5, 300), "py": rng.normal(0, 5, 300),
             "pspeed": np.zeros(300), "palt": np.full(300, 400.0)}
    windows = _timed([
        {"window_id": "o1", "object_id": "a", "window_s": 1200.0, "minute": 0, **orbit},
        {"window_id": "o2", "object_id": "a", "window_s": 1200.0, "minute": 10, **orbit},
        {"window_id": "h1", "object_id": "a", "window_s": 300.0, "minute": 30, **hover},
        {"window_id": "h2", "object_id": "b", "window_s": 300.0, "minute": 0, **hover}])
    windows["end"] = windows["start"] + pd.to_timedelta([20, 20, 5, 3], unit="min")
    windows = add_window_behaviour(windows)
    episodes = pd.DataFrame({"rank": [1, 2, 3], "episode_id": ["ea", "eb", "ec"],
                             "window_ids": ["o1;o2;h1", "h2", "o1;o2"]})
    out = add_behaviour(episodes, windows, model)
    # named by the majority (orbit), and the five-minute hover is not lost; b hovers only 3 minutes
    assert out["behaviour"].iloc[0] == "orbit"
    assert out["behaviours"].iloc[0] == "orbit 30 min, hover 5 min"
    assert held_behaviours(out["behaviours"].iloc[0]) == ["orbit", "hover"]
    assert pd.isna(out["behaviours"].iloc[1]) and out["behaviours"].iloc[2] == "orbit 30 min"
    kept = filter_behaviours(out, ("hover",))
    assert kept["episode_id"].tolist() == ["ea", "eb"] and kept["rank"].tolist() == [1, 2]  # eb is named hover
    assert filter_behaviours(out, ("orbit",))["episode_id"].tolist() == ["ea", "ec"]
