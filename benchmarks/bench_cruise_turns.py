"""Single turns at cruise against the built-in model, with and without the cruise guard.

    .venv/bin/python benchmarks/bench_cruise_turns.py [--model DIR] [--n 8] [--seed 0]

The model's most confident false alarms on real held-out flights (issue 21) were airliners at
about 36,000 ft making one turn or a V on their route. The shared real data hold no such
airliner among the held-out aircraft, so this script draws them: hour-long segments at
FL330-FL410, 420-500 kt, a point every 4-15 s, with one route turn (45-180 degrees, 25 degrees
of bank), a V (out and back), or a dogleg (two opposite turns); and, as controls that must
stay high, holds at FL250-FL350 (racetrack, 1.5-minute legs, standard-rate turns) and a slow
orbit at 3,000 ft. Each segment is scored as ``flightpaths evaluate`` scores a segment: the
model's windows, its segment aggregator, then the :class:`~flightpaths.score.aggregate.CruiseGuard`
(on) or not (off). Printed: every segment's multi-scale turn, 5-minute rule and both scores,
and per kind the median score and how many reach 0.5. Takes about a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flightpaths.evaluate import EvalSet, ModelScorer, MultiScaleRuleScorer, RuleScorer  # noqa: E402
from flightpaths.evaluate.sets import segment_points  # noqa: E402
from flightpaths.schema import validate_points  # noqa: E402

_G = 9.81
_KT = 0.514444


def _rate_deg_s(speed_kt: float, bank_deg: float) -> float:
    """Turn rate of a coordinated turn at this true air speed and bank."""
    return float(np.degrees(_G * np.tan(np.radians(bank_deg)) / (speed_kt * _KT)))


def _plan(kind: str, rng: np.random.Generator, speed_kt: float) -> list[tuple[float, float]]:
    """(seconds, turn rate deg/s) legs of one hour."""
    if kind == "hold":
        rate = 3.0  # standard rate
        laps = [(90.0, 0.0), (180.0 / rate, rate)] * 2
        return [(600.0, 0.0)] + laps * 12 + [(600.0, 0.0)]
    if kind == "orbit":
        return [(3600.0, 360.0 / 300.0)]
    rate = _rate_deg_s(speed_kt, 25.0) * rng.choice([-1.0, 1.0])
    angle = rng.uniform(45.0, 180.0)
    t_turn = angle / abs(rate)
    if kind == "turn":
        return [(rng.uniform(900, 2100), 0.0), (t_turn, rate), (3600.0, 0.0)]
    if kind == "v":  # out and back: two turns the same way, 170-180 degrees in all
        half = rng.uniform(170.0, 180.0) / 2 / abs(rate)
        return [(1200.0, 0.0), (half, rate), (rng.uniform(60, 300), 0.0), (half, rate), (3600.0, 0.0)]
    # dogleg: a turn and the opposite turn a few minutes later
    return [(1200.0, 0.0), (t_turn, rate), (rng.uniform(180, 600), 0.0), (t_turn, -rate), (3600.0, 0.0)]


def _flight(kind: str, i: int, rng: np.random.Generator) -> pd.DataFrame:
    low = kind == "orbit"
    speed = rng.uniform(90, 110) if low else rng.uniform(420, 500)
    alt = 3000.0 if low else (rng.uniform(25000, 35000) if kind == "hold" else rng.uniform(33000, 41000))
    dt = rng.uniform(4, 15)
    t = np.arange(0.0, 3600.0, dt)
    plan = _plan(kind, rng, speed)
    edges = np.cumsum([0.0] + [d for d, _ in plan])
    rates = np.array([r for _, r in plan])
    rate = rates[np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(rates) - 1)]
    heading = np.radians(rng.uniform(0, 360) + np.cumsum(rate * dt))
    step = speed * _KT * dt
    x, y = np.cumsum(np.sin(heading) * step), np.cumsum(np.cos(heading) * step)
    x, y = x + rng.normal(0, 15, len(t)), y + rng.normal(0, 15, len(t))
    lat0, lon0 = 48.0 + rng.uniform(-2, 2), 5.0 + rng.uniform(-3, 3)
    n = len(t)
    return validate_points(pd.DataFrame({
        "object_id": f"{kind[:2]}{i:04d}", "time": pd.Timestamp("2024-05-01", tz="UTC") + pd.to_timedelta(t, unit="s"),
        "lat": lat0 + y / 111_195.0, "lon": lon0 + x / (111_195.0 * np.cos(np.radians(lat0))),
        "x": np.nan, "y": np.nan, "altitude_ft": alt, "speed_kt": speed, "track_deg": np.degrees(heading) % 360,
        "vrate_fpm": 0.0, "callsign": f"SIM{i:03d}", "squawk": pd.NA, "on_ground": False, "new_leg": False,
        "source_file": f"{kind}.sim", "source_line": np.arange(1, n + 1)}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=REPO / "flightpaths" / "models" / "default")
    parser.add_argument("--n", type=int, default=8, help="segments of each kind")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from flightpaths.train.predict import load_bundle

    rng = np.random.default_rng(args.seed)
    kinds = {"turn": False, "v": False, "dogleg": False, "hold": True, "orbit": True}
    parts = []
    for kind, label in kinds.items():
        for i in range(args.n):
            parts.append(segment_points(_flight(kind, i, rng), category=kind, label=label))
    data = EvalSet(pd.concat([p[0] for p in parts], ignore_index=True), pd.concat([p[1] for p in parts]))
    t0 = time.perf_counter()
    bundle = load_bundle(args.model)
    table = data.segments[["category", "label"]].copy()
    table["multiscale_deg"] = MultiScaleRuleScorer().segment_scores(data)
    table["rule_5min_deg"] = RuleScorer().segment_scores(data)
    table["p_guard_off"] = ModelScorer(None, bundle=bundle, guard=None).segment_scores(data)
    table["p_guard_on"] = ModelScorer(None, bundle=bundle).segment_scores(data)
    seconds = time.perf_counter() - t0
    with pd.option_context("display.width", 160, "display.max_rows", 200):
        print(table.round(3).to_string())
        summary = table.groupby("category", sort=False).agg(
            n=("label", "size"), multiscale_median=("multiscale_deg", "median"),
            p_off_median=("p_guard_off", "median"), off_at_least_half=("p_guard_off", lambda p: int((p >= 0.5).sum())),
            p_on_median=("p_guard_on", "median"), on_at_least_half=("p_guard_on", lambda p: int((p >= 0.5).sum())))
        print()
        print(summary.round(3).to_string())
    print(f"\n{len(table)} segments scored twice in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
