"""Interpretation report and baselines on hand-made predictions and figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from flightpaths.report import (
    Evaluation,
    RuleBaseline,
    baseline_table,
    confusion_matrix,
    fit_rule_baseline,
    histogram_features,
    most_confused,
    per_class_metrics,
    precision_at_k,
    top_losses,
    write_interpretation,
)

HOSTILE = "<script>alert(1)</script>"


def test_confusion_and_per_class_by_hand() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2])
    preds = np.array([0, 1, 0, 1, 0, 2])
    cm = confusion_matrix(labels, preds, 3)
    assert cm.tolist() == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]
    m = per_class_metrics(labels, preds, ["a", "b", "c"]).set_index("class")
    assert m.loc["a", "precision"] == pytest.approx(2 / 3) and m.loc["a", "recall"] == pytest.approx(2 / 3)
    assert m.loc["b", "precision"] == 0.5 and m.loc["b", "recall"] == 0.5
    assert m.loc["c", "f1"] == 1.0 and list(m["support"]) == [3, 2, 1]
    pairs = most_confused(cm, ["a", "b", "c"])
    assert set(map(tuple, pairs[["actual", "predicted"]].values)) == {("a", "b"), ("b", "a")}


def test_precision_at_k_and_top_losses() -> None:
    assert precision_at_k(np.array([0, 1, 1]), np.array([0.9, 0.5, 0.4]), [1, 3, 5]) == {1: 0.0, 3: pytest.approx(2 / 3)}
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.99, 0.01], [0.6, 0.4]])
    ev = Evaluation(("circling", "not_circling"), np.array([0, 1, 1, 0]), probs, pd.DataFrame({"image": list("abcd")}))
    losses = top_losses(ev, 2)
    assert list(losses["image"]) == ["c", "d"]  # c: true class got 0.01; d: 0.6 (b got 0.8)
    assert list(losses["predicted"]) == ["circling", "circling"] and losses["loss"].iloc[0] == pytest.approx(-np.log(0.01))
    assert ev.positive == 0


def _figures(n: int, rng: np.random.Generator, positive: bool) -> pd.DataFrame:
    if positive:
        turn = rng.uniform(1.2, 4.0, n) * rng.choice([-1, 1], n)
        straight = rng.uniform(0.0, 0.2, n)
    else:
        turn = rng.uniform(-0.4, 0.4, n)
        straight = rng.uniform(0.4, 1.0, n)
    return pd.DataFrame({"net_turn_rev": turn, "straightness": straight, "median_speed_kt": rng.uniform(60, 300, n)})


def test_rule_baseline_fits_separable_figures() -> None:
    rng = np.random.default_rng(0)
    figs = pd.concat([_figures(40, rng, True), _figures(60, rng, False)], ignore_index=True)
    y = np.r_[np.ones(40, bool), np.zeros(60, bool)]
    rule = fit_rule_baseline(figs, y)
    assert (rule.decide(figs) == y).all()
    assert rule.min_turn_rev <= 1.2 and rule.max_straightness >= 0.2
    assert RuleBaseline(1.0, 0.3).decide(pd.DataFrame({"net_turn_rev": [np.nan], "straightness": [np.nan]})).tolist() == [False]


def test_histogram_features_from_point_arrays() -> None:
    w = pd.DataFrame({
        "pspeed": [np.array([10.0, 50, 90, np.nan]), np.array([])],
        "palt": [np.array([400.0, 1500, 1500]), np.array([30000.0])],
        "pturn": [np.array([-3.5, 0.2, 9.0]), np.array([0.1])],
        "straightness": [0.5, 0.9],
    })
    f = histogram_features(w, ["straightness", "not_there"])
    assert f.loc[0, "pspeed_0_40"] == pytest.approx(1 / 3) and f.loc[0, "pspeed_80_120"] == pytest.approx(1 / 3)
    assert f.loc[1, [c for c in f if c.startswith("pspeed")]].sum() == 0  # no points: all zeros
    assert f.loc[0, "pturn_3_5"] == pytest.approx(1 / 3) and f.loc[0, "pturn_8_hi"] == pytest.approx(1 / 3)
    assert f.loc[1, "palt_20000_hi"] == 1.0 and "not_there" not in f


def test_baselines_sit_beside_the_cnn_on_the_same_items() -> None:
    rng = np.random.default_rng(1)
    train = pd.concat([_figures(50, rng, True), _figures(50, rng, False)], ignore_index=True)
    ytr = np.r_[np.zeros(50, int), np.ones(50, int)]  # class 0 = circling
    valid = pd.concat([_figures(20, rng, True), _figures(20, rng, False)], ignore_index=True)
    yva = np.r_[np.zeros(20, int), np.ones(20, int)]
    p = np.clip(0.5 + 0.4 * (yva == 0) - 0.2 + rng.normal(0, 0.25, 40), 0, 1)  # a mediocre "CNN"
    ev = Evaluation(("circling", "not_circling"), yva, np.c_[p, 1 - p], pd.DataFrame({"image": [f"{i}.png" for i in range(40)]}))
    table = baseline_table(ev, train, ytr, valid).set_index("model")
    assert len(table) == 3 and table.index[0] == "CNN"
    rule_row = table.loc[[i for i in table.index if i.startswith("rule")][0]]
    assert rule_row["f1"] == 1.0 and rule_row["aupr"] == pytest.approx(1.0)
    assert table.loc["gradient-boosted trees", "f1"] >= 0.9
    assert table.loc["CNN", "f1"] < 1.0


def test_write_interpretation_writes_every_part_and_escapes(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    paths = []
    for i in range(12):
        p = tmp_path / "imgs" / f"{'bad' if i == 0 else 'w'}{i}.png"
        p.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    labels = np.array([0, 1] * 6)
    p0 = rng.uniform(0, 1, 12)
    items = pd.DataFrame({"image": paths, "source_file": [HOSTILE] + ["day.sbs"] * 11, "line_first": range(12)})
    ev = Evaluation(("circling", "not_circling"), labels, np.c_[p0, 1 - p0], items, notes=(f"note {HOSTILE}",))
    index = write_interpretation(tmp_path / "out", ev)
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"index.html", "confusion_matrix.png", "confusion_matrix.csv", "per_class.csv", "pr_curve.png",
            "precision_at_k.csv", "top_losses.png", "top_losses.csv", "most_confused.csv", "likeliest_00.png",
            "likeliest_01.png", "baselines.csv", "metrics.json"} <= names
    text = index.read_text(encoding="utf-8")
    assert HOSTILE not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script" not in text
    cm = pd.read_csv(tmp_path / "out" / "confusion_matrix.csv", index_col=0)
    assert int(cm.to_numpy().sum()) == 12
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["positive"] == "circling" and metrics["n"] == 12
    with Image.open(tmp_path / "out" / "top_losses.png") as im:
        assert im.size[0] > 200
    from flightpaths.fileio import OutputExistsError

    with pytest.raises(OutputExistsError):
        write_interpretation(tmp_path / "out", ev)


def test_multiscale_rule_row_when_the_windows_points_are_known() -> None:
    rng = np.random.default_rng(2)
    train = pd.concat([_figures(30, rng, True), _figures(30, rng, False)], ignore_index=True)
    valid = pd.concat([_figures(10, rng, True), _figures(10, rng, False)], ignore_index=True)
    ytr = np.r_[np.zeros(30, int), np.ones(30, int)]
    yva = np.r_[np.zeros(10, int), np.ones(10, int)]
    # a window's multi-scale turn: orbits 700-1500 degrees, others 0-300 (one, in valid, at 800: a false alarm)
    train["turn_multi_deg"] = np.r_[rng.uniform(700, 1500, 30), rng.uniform(0, 300, 30)]
    valid["turn_multi_deg"] = np.r_[rng.uniform(700, 1500, 10), rng.uniform(0, 300, 9), 800.0]
    ev = Evaluation(("circling", "not_circling"), yva, np.c_[np.full(20, 0.5), np.full(20, 0.5)],
                    pd.DataFrame({"image": [f"{i}.png" for i in range(20)]}))
    table = baseline_table(ev, train, ytr, valid).set_index("model")
    row = table.loc[[i for i in table.index if i.startswith("multi-scale turn rule")][0]]
    assert row.name in {"multi-scale turn rule >= 360 deg", "multi-scale turn rule >= 540 deg"}
    assert row["recall"] == 1.0 and row["precision"] == pytest.approx(10 / 11)
    without = baseline_table(ev, train.drop(columns="turn_multi_deg"), ytr, valid.drop(columns="turn_multi_deg"))
    assert not without["model"].str.startswith("multi-scale").any()
