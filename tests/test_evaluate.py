"""Evaluation: metrics checkable by eye, the bootstrap over aircraft, the rule, the command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from flightpaths.cli import cli
from flightpaths.errors import InputError
from flightpaths.evaluate import (
    EvalSet,
    MetricSettings,
    apply_labels,
    average_precision,
    bootstrap_weights,
    build_set,
    evaluate_scores,
    false_alarm_ranks,
    holdout_aircraft,
    max_net_turn_deg,
    precision_at_k,
    recall_at_fpr,
    segment_points,
)

# ----------------------------------------------------------------------------- metrics


def test_average_precision_by_eye() -> None:
    assert average_precision([1, 1, 0, 0], [4, 3, 2, 1]) == 1.0  # perfect ranking
    assert average_precision([0, 0, 1, 1], [4, 3, 2, 1]) == pytest.approx((1 / 3 + 2 / 4) / 2)
    assert average_precision([1, 0, 1], [3, 2, 1]) == pytest.approx((1 + 2 / 3) / 2)
    # a tie between one positive and one negative counts as precision 1/2 for that group
    assert average_precision([1, 0], [0.5, 0.5]) == 0.5


def test_average_precision_matches_scikit_learn() -> None:
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    s = np.round(y * 0.5 + rng.random(300), 2)  # rounded: many ties
    assert average_precision(y, s) == pytest.approx(average_precision_score(y, s))


def test_precision_at_k_and_recall_at_fpr_by_eye() -> None:
    labels = [1, 0, 1, 1, 0, 0]
    scores = [0.9, 0.8, 0.7, 0.6, 0.2, 0.1]
    assert precision_at_k(labels, scores, 1) == 1.0
    assert precision_at_k(labels, scores, 2) == 0.5
    assert precision_at_k(labels, scores, 4) == 0.75
    assert precision_at_k(labels, scores, 100) == 0.5  # fewer items than k: all of them
    assert precision_at_k([1, 0, 0], [0.5, 0.5, 0.1], 1) == 0.5  # tie split pro rata
    assert recall_at_fpr(labels, scores, 0.0) == pytest.approx(1 / 3)
    assert recall_at_fpr(labels, scores, 1 / 3) == 1.0


def test_bootstrap_weights_resample_whole_aircraft_within_strata() -> None:
    aircraft = ["a", "a", "a", "b", "c", "d"]
    strata = [1, 1, 1, 1, 0, 0]
    w = bootstrap_weights(aircraft, strata, n_boot=200, seed=1)
    assert w.shape == (201, 6)
    assert (w[0] == 1).all()  # row 0 is the data as observed
    assert (w[:, 0] == w[:, 1]).all() and (w[:, 1] == w[:, 2]).all()  # one aircraft, one weight
    # two aircraft drawn per stratum in every replicate
    assert ((w[1:, 0] + w[1:, 3]) == 2).all() and ((w[1:, 4] + w[1:, 5]) == 2).all()


def _dominated() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Aircraft 'big' flies 40 easy positives; four aircraft fly one hard positive each."""
    rows, scores = [], []
    for i in range(40):
        rows.append(("big", True))
        scores.append(0.9 + i / 1000)
    for i, ac in enumerate(["p1", "p2", "p3", "p4"]):
        rows.append((ac, True))
        scores.append(0.1 + i / 100)
    for i in range(30):
        rows.append((f"n{i}", False))
        scores.append(0.2 + i / 100)
    ids = [f"s{i:03d}" for i in range(len(rows))]
    segments = pd.DataFrame(rows, columns=["object_id", "label"], index=ids)
    segments["sampling"] = "dense"
    segments["category"] = np.where(segments["label"], "orbit", "ordinary")
    segments["ground"] = False
    segments["callsign"] = ""
    return segments, pd.DataFrame({"rule": scores}, index=ids)


def test_bootstrap_over_aircraft_is_wider_than_over_segments() -> None:
    segments, scores = _dominated()
    settings = MetricSettings(n_boot=400, seed=0)
    by_aircraft = evaluate_scores(scores, segments, settings=settings, subsets={"all": segments["label"] | True})
    per_segment = segments.assign(object_id=segments.index)
    by_segment = evaluate_scores(scores, per_segment, settings=settings, subsets={"all": segments["label"] | True})
    ap_a = by_aircraft.query("metric == 'AP'").iloc[0]
    ap_s = by_segment.query("metric == 'AP'").iloc[0]
    assert ap_a["value"] == ap_s["value"]  # same data, same point estimate
    assert ap_a["lo"] <= ap_a["value"] <= ap_a["hi"]
    # one aircraft carries 40 of 44 positives: resampling aircraft moves AP far more
    assert (ap_a["hi"] - ap_a["lo"]) > 2 * (ap_s["hi"] - ap_s["lo"])


def test_difference_with_the_rule_uses_the_same_replicates() -> None:
    segments, scores = _dominated()
    scores["same"] = scores["rule"]
    scores["better"] = segments["label"].astype(float)
    out = evaluate_scores(scores, segments, settings=MetricSettings(n_boot=100), subsets={"all": segments["label"] | True})
    diff = out[out["metric"] == "AP-minus-rule"].set_index("scorer")
    assert diff.loc["same", ["value", "lo", "hi"]].tolist() == [0.0, 0.0, 0.0]
    assert diff.loc["better", "lo"] > 0


def test_false_alarm_ranks_flag_ground_segments() -> None:
    segments, scores = _dominated()
    segments.loc["s050", "ground"] = True
    ranks = false_alarm_ranks(scores["rule"], segments)
    assert ranks["rank"].min() == 1 and len(ranks) == 30
    assert ranks.index[0] == "s073"  # the highest-scored negative
    assert ranks.loc["s050", "rank"] == 24


# ----------------------------------------------------------------------------- the rule


def test_rule_counts_a_circle_not_a_line_nor_jitter() -> None:
    t = np.arange(0, 300, 5.0)
    a = 2 * np.pi * t / 240  # one turn every 4 minutes, 1 km radius
    circle = max_net_turn_deg(t, 1000 * np.cos(a), 1000 * np.sin(a))
    assert 400 < circle < 460  # 300 s of a 240 s turn = 450 degrees
    assert max_net_turn_deg(t, 70 * t, 0 * t) == 0.0
    zigzag = max_net_turn_deg(t, 70 * t, 300 * (np.arange(len(t)) % 2))
    assert zigzag < 180  # left-right alternation cancels
    rng = np.random.default_rng(0)
    parked = max_net_turn_deg(t, rng.normal(0, 8, len(t)), rng.normal(0, 8, len(t)))
    assert parked == 0.0  # 8 m of jitter never moves 50 m: thinned away


def test_segments_split_at_gaps_and_cut_long_tracks() -> None:
    times = pd.to_datetime(
        list(pd.date_range("2024-01-01 10:00", periods=150, freq="60s", tz="UTC"))  # 149 min
        + list(pd.date_range("2024-01-01 14:00", periods=5, freq="60s", tz="UTC"))  # too short
    )
    n = len(times)
    points = pd.DataFrame({
        "object_id": "abc123", "time": times, "lat": 50 + np.arange(n) * 0.01, "lon": 4.0,
        "altitude_ft": 1000.0, "speed_kt": 120.0, "track_deg": 0.0, "on_ground": pd.array([False] * n, "boolean"),
        "callsign": "TEST", "source_file": "x/test.json", "source_line": np.arange(1, n + 1)})
    pts, seg = segment_points(points, category="c", label=False)
    assert len(seg) == 3  # 149 min in three pieces of under 60 min; the 4-minute stub dropped
    assert (seg["duration_s"] <= 3600).all() and set(seg["sampling"]) == {"sparse"}
    assert pts["segment_id"].isin(seg.index).all()


def test_holdout_is_grouped_stratified_and_deterministic() -> None:
    seg = pd.DataFrame({"object_id": [f"c{i}" for i in range(10)] + [f"o{i}" for i in range(20)] + ["solo"],
                        "category": ["cal"] * 10 + ["ord"] * 20 + ["alone"]})
    held = holdout_aircraft(seg, fraction=0.3, seed=0)
    assert held == holdout_aircraft(seg.iloc[::-1], fraction=0.3, seed=0)  # order does not matter
    assert sum(a.startswith("c") for a in held) == 3 and sum(a.startswith("o") for a in held) == 6
    assert "solo" not in held  # a category's only aircraft stays in training
    assert held != holdout_aircraft(seg, fraction=0.3, seed=1)


# ----------------------------------------------------------------------------- real data and the command


def _excerpt(shared: Path) -> tuple[list[Path], list[Path]]:
    ts = shared / "adsb" / "traffic-samples"
    pos = [ts / "calibration" / "brussels_vor.json.gz", ts / "calibration" / "kota_kinabalu.json.gz"]
    neg = [ts / "surveys" / "texas.json.gz", ts / "featured" / "thankyou.json.gz", ts / "featured" / "kiwi.json.gz"]
    missing = [p for p in pos + neg if not p.exists()]
    if missing:
        pytest.skip(f"real sample {missing[0]} is absent")
    return pos, neg


@pytest.mark.realdata
def test_evaluate_command_on_a_real_excerpt(shared_data: Path, tmp_path: Path) -> None:
    pos, neg = _excerpt(shared_data)
    args = ["evaluate", "-o", str(tmp_path / "out"), "--bootstrap", "50"]
    for p in pos:
        args += ["--positives", str(p)]
    for p in neg:
        args += ["--negatives", str(p)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "rule" in result.output and "AP" in result.output
    out = tmp_path / "out"
    metrics = pd.read_csv(out / "metrics.csv")
    ap = metrics.query("subset == 'all' and scorer == 'rule' and metric == 'AP'").iloc[0]
    assert 0 <= ap["lo"] <= ap["value"] <= ap["hi"] <= 1
    segments = pd.read_csv(out / "segments.csv", index_col=0)
    assert segments["label"].sum() >= 2 and (~segments["label"]).sum() >= 3 and "rule" in segments
    assert (out / "contact_sheet.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| rule |" in (out / "metrics.md").read_text()
    assert "| multiscale-rule |" in (out / "metrics.md").read_text() and "multiscale-rule" in segments
    budgets = metrics.query("subset == 'all' and scorer == 'multiscale-rule'")["metric"].tolist()
    assert {"R@0%", "R@0.1%", "R@0.5%", "AP-minus-rule"} <= set(budgets)
    again = CliRunner().invoke(cli, args)  # nothing overwritten without --overwrite
    assert again.exit_code == 1 and "--overwrite" in again.output


def test_evaluate_command_needs_a_set_or_both_classes(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["evaluate", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--set shared" in result.output


@pytest.mark.realdata
def test_reviewed_labels_are_checked(shared_data: Path, tmp_path: Path) -> None:
    pos, neg = _excerpt(shared_data)
    data = build_set(pos[:1], neg[:1])
    assert isinstance(data, EvalSet)
    first = data.segments.index[0]
    good = tmp_path / "labels.csv"
    good.write_text(f"segment_id,label\n{first},exclude\n")
    assert first not in apply_labels(data, good).segments.index
    bad = tmp_path / "bad.csv"
    bad.write_text(f"segment_id,label\n{first},0\nnot_a_segment,1\n")
    with pytest.raises(InputError, match="bad.csv, line 3, column 'segment_id'"):
        apply_labels(data, bad)


@pytest.mark.realdata
@pytest.mark.slow
def test_reviewed_segment_ids_still_exist(shared_data: Path) -> None:
    """The review names segments by id: a change in reading or cutting must not orphan it."""
    from flightpaths.evaluate import REVIEW_HAS_ORBITS, REVIEW_NO_CIRCLING, SHARED_SOURCES, build_shared_set

    buzzfeed = [s for s in SHARED_SOURCES if "buzzfeed" in s.pattern]
    data = build_shared_set(shared_data, sources=buzzfeed, review=False)
    wanted = {s for s in (*REVIEW_NO_CIRCLING, *REVIEW_HAS_ORBITS) if s.startswith(("rnc_", "dnc_", "aeroptic_"))}
    assert len(wanted) > 40 and wanted <= set(data.segments.index)
    reviewed = build_shared_set(shared_data, sources=buzzfeed)
    assert len(reviewed.segments) == len(data.segments) - len(wanted)
    assert set(reviewed.segments["sampling"]) == {"sparse"}  # the BuzzFeed files: one point a minute


class _ConstantBundle:
    """A stand-in model: every drawn window gets p(circling) = 0.7."""

    classes = ("circling", "not_circling")
    figure_columns: list[str] = []
    path = None
    meta: dict = {}
    fingerprint = "constant"
    positive_class = "circling"
    windowing_known = True

    def __init__(self) -> None:
        from flightpaths.tracks import TrackSettings, WindowSettings
        from rasterize import RenderConfig

        self.render_config = RenderConfig()
        self.track_settings, self.window_settings = TrackSettings(), WindowSettings()
        self.calls = 0

    def predict_images(self, images: np.ndarray, figures: object = None) -> np.ndarray:
        self.calls += len(images)
        return np.tile([0.7, 0.3], (len(images), 1))


@pytest.mark.realdata
def test_model_scorer_aggregates_window_probabilities_per_segment(shared_data: Path) -> None:
    pytest.importorskip("flightpaths.score")
    from flightpaths.evaluate import ModelScorer

    pos, neg = _excerpt(shared_data)
    data = build_set(pos[1:], neg[1:2])
    bundle = _ConstantBundle()
    scores = ModelScorer(None, bundle=bundle).segment_scores(data)
    assert list(scores.index) == list(data.segments.index)
    assert bundle.calls >= len(data.segments)  # several windows per segment were drawn
    assert set(np.round(scores, 6)) == {0.7}  # the max of 0.7s is 0.7, for every segment
    with pytest.raises(Exception, match="choose from circling, not_circling"):
        ModelScorer(None, bundle=bundle, positive_class="orbit").segment_scores(data)
