"""``revisit_1km`` per window on a dense orbit: all pairs at once against the old loop per point.

A 200k-line `score` of one aircraft circling (bench_memory's log) spent 73 s of 403 s in the
loop (cProfile, 1,165 windows). This times both on the same windows: the points of one
aircraft circling 2 km out at 1 s steps, cut into 5-, 10- and 20-minute windows every 150 s,
thinned as ``add_window_geometry`` thins them (in both timings), and checks that both give the same values.

    python benchmarks/bench_revisit.py --windows 300 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from scipy.spatial import cKDTree

from flightpaths.score.aggregate import REVISIT_GAP_S, REVISIT_M, revisit_fraction
from flightpaths.score.turns import THIN_M, thin_indices


def loop_per_point(t: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """The old ``revisit_fraction``: thinned, then one ball query and one numpy test per point (the baseline)."""
    k = thin_indices(x, y, THIN_M)
    tk, xy = t[k], np.c_[x[k], y[k]]
    radius_m, (min_gap_s, max_gap_s) = REVISIT_M, REVISIT_GAP_S
    hits = 0
    for i, near in enumerate(cKDTree(xy).query_ball_point(xy, radius_m)):
        lag = tk[i] - tk[np.asarray(near, dtype=np.int64)]
        hits += bool(np.any((lag >= min_gap_s) & (lag <= max_gap_s)))
    return hits / len(tk)


def all_pairs(t: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    return revisit_fraction(t, x, y)


def orbit_windows(n: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    out = []
    for w in range(n):
        length = (300, 600, 1200)[w % 3]
        t = np.arange(w * 150, w * 150 + length, dtype=float)
        a = 2 * np.pi * t / 240
        out.append((t, 2000 * np.cos(a), 2000 * np.sin(a)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    windows = orbit_windows(args.windows)
    same = all(loop_per_point(*w) == all_pairs(*w) for w in windows)
    times: dict[str, list[float]] = {"loop per point (before)": [], "all pairs (now)": []}
    for _ in range(args.repeats):  # alternating, so load on a shared machine hits both alike
        for name, fn in (("loop per point (before)", loop_per_point), ("all pairs (now)", all_pairs)):
            start = time.perf_counter()
            for w in windows:
                fn(*w)
            times[name].append(time.perf_counter() - start)
    points = sum(len(thin_indices(w[1], w[2], THIN_M)) for w in windows)
    print(f"{len(windows)} windows, {points:,} thinned points; same values: {same}")
    base = statistics.median(times["loop per point (before)"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<26} {med * 1000 / len(windows):8.2f} ms/window  {base / med:6.1f}x")


if __name__ == "__main__":
    main()
