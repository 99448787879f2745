"""Behaviours in `evaluate`: per-class metrics by eye, the bootstrap over aircraft, the tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flightpaths.evaluate import (
    EvalSet,
    EvaluationResult,
    behaviour_metrics,
    evaluate_behaviours,
    segment_behaviour_truth,
    segment_points,
    write_evaluation,
)


def test_behaviour_metrics_by_eye() -> None:
    truth = ["orbit", "orbit", "orbit", "survey", "survey", "transit"]
    predicted = ["orbit", "orbit", "survey", "survey", "hover", "transit"]
    table, cm = behaviour_metrics(truth, predicted, ["a", "a", "b", "c", "c", "d"], n_boot=200)
    assert table.loc["orbit", ["precision", "recall"]].tolist() == [1.0, pytest.approx(2 / 3)]
    assert table.loc["survey", ["precision", "recall", "f1"]].tolist() == [0.5, 0.5, 0.5]
    assert table.loc["hover", "segments"] == 0 and table.loc["hover", "predicted"] == 1
    # macro-F1 averages the classes with true segments (orbit 0.8, survey 0.5, transit 1): hover does not count
    assert table.loc["macro", "f1"] == pytest.approx((0.8 + 0.5 + 1.0) / 3)
    assert cm.loc["orbit", "survey"] == 1 and cm.loc["survey", "hover"] == 1 and int(cm.to_numpy().sum()) == 6
    assert list(cm.index) == ["orbit", "hover", "survey", "transit"]  # the classifier's order
    for c in ("orbit", "survey", "macro"):
        assert table.loc[c, "f1_lo"] <= table.loc[c, "f1"] <= table.loc[c, "f1_hi"]


def test_behaviour_intervals_resample_whole_aircraft() -> None:
    # one aircraft flew every orbit segment, all right: drawing it again and again changes nothing
    truth = ["orbit"] * 4 + ["transit"] * 4
    predicted = ["orbit"] * 4 + ["transit", "transit", "orbit", "orbit"]
    table, _ = behaviour_metrics(truth, predicted, ["o"] * 4 + ["t1", "t2", "t3", "t4"], n_boot=300)
    assert table.loc["orbit", "recall_lo"] == table.loc["orbit", "recall_hi"] == 1.0
    assert table.loc["transit", "recall_lo"] < 0.5 < table.loc["transit", "recall_hi"]


def _flight(name: str, x: np.ndarray, y: np.ndarray, speed: float, category: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = len(x)
    lat, lon = 47.0 + y / 111_320.0, 8.0 + x / (111_320.0 * np.cos(np.radians(47.0)))
    points = pd.DataFrame({
        "object_id": name, "time": pd.date_range("2024-05-01 10:00", periods=n, freq="5s", tz="UTC"),
        "lat": lat, "lon": lon, "altitude_ft": 2000.0, "speed_kt": speed, "track_deg": 0.0,
        "on_ground": pd.array([False] * n, "boolean"), "callsign": name.upper(), "source_file": f"{category}/{name}.json",
        "source_line": np.arange(1, n + 1)})
    return segment_points(points, category=category, label=category == "calibration")


def _orbits_and_lines() -> EvalSet:
    t = np.arange(0, 40 * 60, 5.0)
    a = 2 * np.pi * t / 240.0  # a lap every 4 minutes, 1.2 km across
    parts = [_flight("orb", 1200 * np.cos(a), 1200 * np.sin(a), 60.0, "calibration"),
             _flight("line", t * 120.0, t * 10.0, 240.0, "ordinary"),
             _flight("taxi", t * 0.0, t * 0.0, 0.0, "onground")]
    return EvalSet(pd.concat([p for p, _ in parts], ignore_index=True), pd.concat([s for _, s in parts]))


def test_evaluate_behaviours_names_an_orbit_and_a_transit() -> None:
    from flightpaths.score.behaviour_model import default_behaviour_model

    model = default_behaviour_model()
    if model is None:
        pytest.skip("no built-in behaviour classifier")
    data = _orbits_and_lines()
    assert segment_behaviour_truth(data.segments).isna().sum() == 1  # the ground segment has no behaviour
    ev = evaluate_behaviours(data, model, n_boot=20)
    assert ev is not None and set(ev.segments["category"]) == {"calibration", "ordinary"}
    assert dict(zip(ev.segments["truth"], ev.segments["behaviour"])) == {"orbit": "orbit", "transit": "transit"}
    assert ev.macro_f1 == 1.0


def test_write_evaluation_adds_the_behaviour_tables(tmp_path: Path) -> None:
    data = _orbits_and_lines()
    table, cm = behaviour_metrics(["orbit", "transit"], ["orbit", "survey"], ["orb", "line"], n_boot=10)
    seg = pd.DataFrame({"object_id": ["orb", "line"], "truth": ["orbit", "transit"], "behaviour": ["orbit", "survey"]})
    from flightpaths.evaluate import BehaviourEvaluation

    scores = pd.DataFrame({"rule": np.linspace(0, 1, len(data.segments))}, index=data.segments.index)
    metrics = pd.DataFrame(columns=["subset", "scorer", "metric", "value", "lo", "hi", "n_pos", "n_neg", "n_aircraft"])
    result = EvaluationResult(metrics, scores, data.segments, (), BehaviourEvaluation(table, cm, seg))
    written = {p.name for p in write_evaluation(tmp_path, data, result)}
    assert {"behaviour.csv", "behaviour_confusion.csv", "behaviour_segments.csv"} <= written
    text = (tmp_path / "metrics.md").read_text()
    assert "## Behaviours (2 segments of 2 aircraft, macro-F1 0.50" in text
    assert "| transit | 0 | 1 | 0 |" in text  # the transit was called survey (columns: orbit, survey, transit)
    assert pd.read_csv(tmp_path / "behaviour.csv", index_col=0).loc["macro", "f1"] == 0.5
