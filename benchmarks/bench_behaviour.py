"""What naming the behaviour costs `flightpaths score`, against the steps beside it, same run.

    .venv/bin/python benchmarks/bench_behaviour.py [--log data/sim/score/sim.sbs.gz] [--repeats 3]

The windows of a log (the built-in model's 5/10/20-minute windows) are cut once; then, median
of ``--repeats`` runs on every window (score computes them only on windows that may join an
episode, so this is an upper bound):

* window geometry as before (``add_window_geometry(..., behaviour=False)``: thinning, turn
  statistics, multi-scale rule, revisits), the step the behaviour features sit beside;
* the behaviour features alone (``add_window_behaviour``);
* both together (``add_window_geometry``, what score runs now);
* the episode step: the behaviour of every window as a one-window episode
  (``add_behaviour`` with the built-in classifier), i.e. segment features + trees.

It prints milliseconds per window and the ratio of the new step to the geometry step.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flightpaths.ingest import read_logs  # noqa: E402
from flightpaths.score.aggregate import add_window_geometry  # noqa: E402
from flightpaths.score.behaviour import add_window_behaviour  # noqa: E402
from flightpaths.score.behaviour_model import add_behaviour, default_behaviour_model  # noqa: E402
from flightpaths.tracks import TrackSettings, WindowSettings, make_windows, split_tracks  # noqa: E402


def _median_s(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--log", type=Path, default=REPO / "data" / "sim" / "score" / "sim.sbs.gz")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    points = read_logs([args.log]).points
    tracked, _ = split_tracks(points, TrackSettings())
    windows = make_windows(tracked, WindowSettings(window_s=(300.0, 600.0, 1200.0)))
    n = len(windows)
    model = default_behaviour_model()
    featured = add_window_behaviour(windows)
    episodes = pd.DataFrame({"episode_id": featured["window_id"].astype(str), "window_ids": featured["window_id"].astype(str)})
    rows = {
        "geometry (before)": _median_s(lambda: add_window_geometry(windows, behaviour=False), args.repeats),
        "behaviour features": _median_s(lambda: add_window_behaviour(windows), args.repeats),
        "geometry + behaviour (now)": _median_s(lambda: add_window_geometry(windows), args.repeats),
        "episode behaviour (trees)": _median_s(lambda: add_behaviour(episodes, featured, model), args.repeats),
    }
    base = rows["geometry (before)"]
    print(f"{args.log}: {len(points):,} points, {n:,} windows; median of {args.repeats} runs")
    print("| step | total s | ms per window | ratio to geometry |")
    print("|---|---|---|---|")
    for name, s in rows.items():
        print(f"| {name} | {s:.2f} | {1000 * s / max(n, 1):.2f} | {s / base:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
