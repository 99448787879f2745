"""``revisit_1km`` per window on a dense orbit: all pairs at once against the old loop per point.

A 200k-line `score` of one aircraft circling (bench_memory's log) spent 73 s of 403 s in the
loop (cProfile, 1,165 windows). This times both on the same windows: the points of one
aircraft circling 2 km out at 1 s steps, cut into 5-, 10- and 20-minute windows every 150 s,
thinned as ``add_window_geometry`` thins them, and checks that both give the same values.

    python benchmarks/bench_revisit.py --windows 300 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from scipy.spatial import cKDTree

from flightpaths.score.aggregate import REVISIT_GAP_S, REVISIT_M, _revisits
from flightpaths.score.turns import THIN_M, thin_indices


def loop_per_point(tk: np.ndarray, xk: np.ndarray, yk: np.ndarray, radius_m: float, min_gap_s: float,
                   max_gap_s: float) -> float:
    """The old ``_revisits``: one ball query and one numpy test per point (the baseline)."""
    xy = np.c_[xk, yk]
    hits = 0
    for i, near in enumerate(cKDTree(xy).query_ball_point(xy, radius_m)):
        lag = tk[i] - tk[np.asarray(near, dtype=np.int64)]
        hits += bool(np.any((lag >= min_gap_s) & (lag <= max_gap_s)))
    return hits / len(tk)


def orbit_windows(n: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    out = []
    for w in range(n):
        length = (300, 600, 1200)[w % 3]
        t = np.arange(w * 150, w * 150 + length, dtype=float)
        a = 2 * np.pi * t / 240
        x, y = 2000 * np.cos(a), 2000 * np.sin(a)
        k = thin_indices(x, y, THIN_M)
        out.append((t[k], x[k], y[k]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    windows = orbit_windows(args.windows)
    same = all(loop_per_point(*w, REVISIT_M, *REVISIT_GAP_S) == _revisits(*w, REVISIT_M, *REVISIT_GAP_S) for w in windows)
    times: dict[str, list[float]] = {"loop per point (before)": [], "all pairs (now)": []}
    for _ in range(args.repeats):  # alternating, so load on a shared machine hits both alike
        for name, fn in (("loop per point (before)", loop_per_point), ("all pairs (now)", _revisits)):
            start = time.perf_counter()
            for w in windows:
                fn(*w, REVISIT_M, *REVISIT_GAP_S)
            times[name].append(time.perf_counter() - start)
    points = sum(len(w[0]) for w in windows)
    print(f"{len(windows)} windows, {points:,} thinned points; same values: {same}")
    base = statistics.median(times["loop per point (before)"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<26} {med * 1000 / len(windows):8.2f} ms/window  {base / med:6.1f}x")


if __name__ == "__main__":
    main()
