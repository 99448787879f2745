"""Images per second: rasterize vs a straightforward matplotlib renderer, in the same run.

    .venv/bin/python benchmarks/bench_rasterize.py [--windows 10000] [--mpl 200] [--repeats 5]

Windows come from the simulator (``flightpaths.simulate`` + ``flightpaths.tracks``: 5-minute
windows, mixed helicopters and fixed-wing, dense and sparse sampling). The process is pinned
to one CPU core, so every figure is per core. For each renderer it prints the median over
repeats of wall-clock and of CPU-time rates (the CPU-time figure is steadier on a shared
machine). The matplotlib baseline draws one figure per window with Agg and saves it to PNG
at the same size (it is too slow for 10,000, so it runs on the first ``--mpl`` windows and
its rate is per image). Targets (issue 4): >= 100x matplotlib and >= 2,000 images/s per core
without PNG encoding.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from io import BytesIO

import numpy as np


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of *fn* over *repeats* runs."""
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def simulated_windows(n: int):  # type: ignore[no-untyped-def]
    from flightpaths.simulate import SimSettings, simulate
    from flightpaths.tracks import make_windows

    aircraft = 40
    while True:
        windows = make_windows(simulate(SimSettings(seed=7, hours=8, aircraft=aircraft)).points)
        if len(windows) >= n:
            return windows.iloc[:n].reset_index(drop=True)
        aircraft = int(aircraft * 1.5 * n / max(len(windows), 1)) + 1


def matplotlib_png(px: np.ndarray, py: np.ndarray, size: int) -> bytes:
    """The straightforward renderer: one Agg figure per window, a line plot, saved to PNG."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size / 100, size / 100), dpi=100, facecolor="black")
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.plot(px, py, color="white", linewidth=1.5 * 0.72)
    ax.set_aspect("equal", adjustable="datalim")
    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=100, facecolor="black")
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--windows", type=int, default=10_000)
    parser.add_argument("--mpl", type=int, default=200, help="windows for the matplotlib baseline")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import matplotlib

    matplotlib.use("Agg")
    from flightpaths.render import windows_to_batch
    from rasterize import RenderConfig, draw_batch, encode_png

    windows = simulated_windows(args.windows)
    n = len(windows)
    pts = windows["n_points"].to_numpy()
    print(f"{n} simulated 5-minute windows, points per window: median {np.median(pts):.0f}, mean {pts.mean():.0f}, max {pts.max()}")
    cfg = RenderConfig(size=args.size)
    print(f"config: size {cfg.size}, channels {[c.var for c in cfg.channels]}, frame {cfg.frame}, one CPU core")

    pack_w, pack_c = timed(lambda: windows_to_batch(windows), args.repeats)
    batch = windows_to_batch(windows)
    step = 500
    parts = [batch.slice(s, min(s + step, n)) for s in range(0, n, step)]
    buffers = {len(p.offsets) - 1: np.zeros((len(p.offsets) - 1, cfg.size, cfg.size, cfg.n_channels), np.uint8) for p in parts}

    def draw_reusing() -> None:  # a training loop: batches of 500 into a reused buffer
        for part in parts:
            draw_batch(part, cfg, out=buffers[part.n])

    draw_w, draw_c = timed(draw_reusing, args.repeats)
    fresh_w, fresh_c = timed(lambda: draw_batch(batch, cfg), args.repeats)
    images, _ = draw_batch(batch, cfg)
    png_w, png_c = timed(lambda: [encode_png(img) for img in images], max(1, args.repeats // 2))
    png_bytes = sum(len(encode_png(img)) for img in images[:500]) / min(500, n)

    m = min(args.mpl, n)
    xs, ys = list(windows["px"][:m]), list(windows["py"][:m])
    mpl_w, mpl_c = timed(lambda: [matplotlib_png(x, y, cfg.size) for x, y in zip(xs, ys)], max(1, args.repeats // 2))

    def rate(count: int, seconds: float) -> float:
        return count / seconds if seconds > 0 else float("inf")

    rows = [
        ("rasterize, draw only (batches of 500 into a reused buffer)", rate(n, draw_w), rate(n, draw_c)),
        (f"rasterize, draw only (one call, a new {n:,}-image array)", rate(n, fresh_w), rate(n, fresh_c)),
        ("rasterize, draw + PNG encode", rate(n, fresh_w + png_w), rate(n, fresh_c + png_c)),
        ("rasterize, windows table -> batch packing", rate(n, pack_w), rate(n, pack_c)),
        ("PNG encoding alone", rate(n, png_w), rate(n, png_c)),
        (f"matplotlib, one Agg figure per window + PNG ({m} windows)", rate(m, mpl_w), rate(m, mpl_c)),
    ]
    print(f"\n{'renderer':60s} {'images/s (wall)':>16s} {'images/s (CPU)':>16s}")
    for name, w, c in rows:
        print(f"{name:60s} {w:16,.0f} {c:16,.0f}")
    mpl_rate_w, mpl_rate_c = rows[-1][1], rows[-1][2]
    print(f"\nmean PNG size: {png_bytes / 1024:.1f} KiB")
    print(f"speed-up, draw only:     {rows[0][1] / mpl_rate_w:7.0f}x wall   {rows[0][2] / mpl_rate_c:7.0f}x CPU   (target >= 100x)")
    print(f"speed-up, draw (new array): {rows[1][1] / mpl_rate_w:4.0f}x wall   {rows[1][2] / mpl_rate_c:7.0f}x CPU")
    print(f"speed-up, draw + PNG:    {rows[2][1] / mpl_rate_w:7.0f}x wall   {rows[2][2] / mpl_rate_c:7.0f}x CPU")
    print(f"draw only per core:      {rows[0][1]:7,.0f}/s wall {rows[0][2]:7,.0f}/s CPU (target >= 2,000/s)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
