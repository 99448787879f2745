"""The multi-scale turn rule: the bot's windows, checked against a plain loop, and what it separates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flightpaths.evaluate import EvalSet, MetricSettings, MultiScaleRuleScorer, RuleScorer, run_evaluation
from flightpaths.score.turns import (
    MultiScaleSettings,
    cumulative_turn,
    max_net_turn_deg,
    multiscale_turn_deg,
    thin_indices,
)


def _bot_loop(t: np.ndarray, x: np.ndarray, y: np.ndarray, settings: MultiScaleSettings) -> float:
    """The bot's getCirclingSegment written as its loops (thinned points; no north quirk)."""
    k = thin_indices(x, y, settings.thin_m)
    tk, xk, yk = t[k], x[k], y[k]
    best = 0.0
    for i in range(len(tk) - 1):
        duration = settings.min_s
        while duration <= settings.max_s:
            j = i
            while j < len(tk) and tk[j] <= tk[i] + duration:
                j += 1
            j -= 1
            if j > i:
                heading = np.degrees(np.arctan2(np.diff(yk[i:j + 1]), np.diff(xk[i:j + 1])))
                total = float(np.sum((np.diff(heading) + 180.0) % 360.0 - 180.0))
                best = max(best, abs(total))
            duration += settings.step_s
    return best


def _track(turn_rate_deg_s: np.ndarray, dt: float, speed: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    heading = np.radians(np.cumsum(turn_rate_deg_s * dt))
    return np.arange(len(heading)) * dt, np.cumsum(np.cos(heading)) * speed * dt, np.cumsum(np.sin(heading)) * speed * dt


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_rule_equals_the_bots_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    dt = rng.uniform(2, 40, n)  # irregular sampling, gaps included
    rate = np.repeat(rng.normal(0, 2.5, n // 20), 20)  # spells of turns both ways and straight legs
    t = np.cumsum(dt)
    heading = np.radians(np.cumsum(rate * dt))
    x, y = np.cumsum(np.cos(heading) * 60 * dt), np.cumsum(np.sin(heading) * 60 * dt)
    settings = MultiScaleSettings()
    assert multiscale_turn_deg(t, x, y, settings=settings) == pytest.approx(_bot_loop(t, x, y, settings), abs=1e-6)
    short = MultiScaleSettings(min_s=60.0, max_s=600.0, step_s=30.0)
    assert multiscale_turn_deg(t, x, y, settings=short) == pytest.approx(_bot_loop(t, x, y, short), abs=1e-6)


def test_wide_slow_orbit_reaches_revolutions_that_five_minutes_miss() -> None:
    t, x, y = _track(np.full(240, 0.6), 10.0, 60.0)  # 0.6 deg/s: one lap in 10 min, 40 minutes, ~5.7 km across
    assert max_net_turn_deg(t, x, y) < 200
    assert multiscale_turn_deg(t, x, y) > 1300  # about 39 minutes of turning


def test_one_turn_at_cruise_stays_under_half_a_revolution() -> None:
    rate = np.r_[np.zeros(60), np.full(60, 1.5), np.zeros(60)]  # straight, a 135-degree turn, straight
    t, x, y = _track(rate, 1.5, 240.0)
    assert multiscale_turn_deg(t, x, y) == pytest.approx(135, abs=2)
    v_turn = np.r_[np.zeros(200), np.full(100, 1.5), np.zeros(200), np.full(100, -1.5), np.zeros(200)]
    t, x, y = _track(v_turn, 2.0, 240.0)  # out and back: the two turns cancel in the net
    assert multiscale_turn_deg(t, x, y) < 310


def test_jitter_and_short_tracks_score_zero() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(0, 3600, 5.0)
    assert multiscale_turn_deg(t, rng.normal(0, 8, len(t)), rng.normal(0, 8, len(t))) == 0.0
    assert multiscale_turn_deg(t[:2], t[:2], t[:2]) == 0.0
    assert cumulative_turn(np.zeros(2), np.zeros(2)) is None


def _set() -> EvalSet:
    rows, segs = [], []
    start = pd.Timestamp("2024-01-01", tz="UTC")
    for i in range(12):
        positive = i < 4
        rate = np.full(240, 0.6 if positive else 0.0)
        if not positive and i % 2:
            rate[100:112] = 2.0  # one 240-degree turn in 2 minutes
        t, x, y = _track(rate, 10.0, 60.0 + 5 * i)
        sid = f"s{i:02d}"
        lat = 50 + y / 111_195.0
        lon = 4 + x / (111_195.0 * np.cos(np.radians(50)))
        rows.append(pd.DataFrame({"segment_id": sid, "object_id": f"a{i}", "time": start + pd.to_timedelta(t, "s"),
                                  "lat": lat, "lon": lon}))
        segs.append({"segment_id": sid, "object_id": f"a{i}", "label": positive,
                     "category": "orbit" if positive else "ordinary", "sampling": "dense", "ground": False,
                     "callsign": "", "extent_m": 1000.0})
    return EvalSet(pd.concat(rows, ignore_index=True), pd.DataFrame(segs).set_index("segment_id"))


def test_evaluation_shows_both_rules_and_recall_at_false_alarm_budgets() -> None:
    data = _set()
    result = run_evaluation(data, [RuleScorer(), MultiScaleRuleScorer()], settings=MetricSettings(n_boot=20))
    assert {"rule", "multiscale-rule"} <= set(result.scores.columns)
    assert "multiscale-rule+rule" not in result.scores.columns  # rules are not blended with each other
    m = result.metrics.query("subset == 'all'").set_index(["scorer", "metric"])["value"]
    assert m[("multiscale-rule", "AP")] == 1.0  # 40-minute orbits against straight legs and single turns
    assert m[("rule", "AP")] < 1.0  # in 5 minutes a 0.6 deg/s orbit turns less than a sharp single turn
    for name in ("R@0%", "R@0.1%", "R@0.5%"):
        assert m[("multiscale-rule", name)] == 1.0
    assert m[("multiscale-rule", "AP-minus-rule")] > 0
