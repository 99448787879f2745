"""Windowing throughput: points per second on a simulated 10-million-point table, peak memory,
and a naive per-point Python loop measured on a subset in the same run.

    .venv/bin/python benchmarks/bench_tracks.py [--points 10000000] [--repeats 3] [--naive-points 30000]

The table is the simulator's traffic (helicopters and light aircraft, 1-60 s sampling) copied
under new aircraft ids until it has the requested size, written once to a parquet file. Each
timed run is a fresh process, as a batch job is: it reads that file, windows a small table
first (start-up: importing numba and loading the compiled loops from their cache; printed),
then times the windowing of the whole table (cleaning, track splitting, 5-minute windows every
2.5 minutes with every figure and per-point array). Its extra peak memory is the process's
high-water mark (reset just before, via ``/proc/self/clear_refs``) minus its resident size
then. Figures are medians over the repeats.

``--fork`` times the runs the way earlier versions of this script did: in a child forked
from the process that built the table. That costs 15-25% more here, none of it windowing:
the child's reference-count updates on the parent's string columns copy their pages.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time

import pandas as pd

from flightpaths.simulate import SimSettings, simulate
from flightpaths.tracks import WindowSettings, windows_with_report

TARGET = 2_000_000  # points per second (issue 3)


def build_table(n_points: int, seed: int = 0) -> pd.DataFrame:
    """A points table of about *n_points* rows: one simulation copied under new aircraft ids."""
    base = simulate(SimSettings(seed=seed, hours=4.0, aircraft=120)).points
    copies = max(1, math.ceil(n_points / len(base)))
    frames = []
    for k in range(copies):
        part = base.copy()
        part["object_id"] = part["object_id"].astype(str) + f"{k:04x}"
        frames.append(part)
    table = pd.concat(frames, ignore_index=True).iloc[:n_points]
    return table.sort_values("time", kind="stable").reset_index(drop=True)  # interleaved, like a log


def _rss_kb() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


_TABLE: pd.DataFrame | None = None


def _cpu_s() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


CHILD = r"""
import json, resource, sys, time
import pandas as pd
from flightpaths.tracks import windows_with_report
path, workers = sys.argv[1], (int(sys.argv[2]) or None)
table = pd.read_parquet(path)
t0 = time.perf_counter()
windows_with_report(table.iloc[:2000])
startup = time.perf_counter() - t0

def status(key):
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(key))

try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the high-water mark to the current resident size
except OSError:
    pass
rss0 = status("VmRSS:")
use0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
windows, _report = windows_with_report(table, workers=workers)
seconds = time.perf_counter() - t0
use1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (use1.ru_utime + use1.ru_stime) - (use0.ru_utime + use0.ru_stime)
print(json.dumps({"seconds": seconds, "windows": len(windows), "extra_kb": status("VmHWM:") - rss0,
                  "cpu": cpu, "startup": startup}))
"""


def fresh_run(path: str, workers: int | None = None) -> tuple[float, int, int, float, float]:
    """(wall seconds, windows, extra peak memory in kB, CPU seconds, start-up seconds) of one
    windowing run in a fresh process that reads the table from *path*."""
    import json
    import subprocess

    res = subprocess.run([sys.executable, "-c", CHILD, path, str(workers or 0)], check=True, capture_output=True, text=True)
    r = json.loads(res.stdout.strip().splitlines()[-1])
    return r["seconds"], r["windows"], r["extra_kb"], r["cpu"], r["startup"]


def _child(queue: mp.Queue, workers: int | None) -> None:
    start_rss = _rss_kb()
    c0, t0 = _cpu_s(), time.perf_counter()
    windows, _report = windows_with_report(_TABLE, workers=workers)
    seconds, cpu = time.perf_counter() - t0, _cpu_s() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((seconds, len(windows), peak - start_rss, cpu))


def timed_run(workers: int | None = None) -> tuple[float, int, int, float]:
    """(wall seconds, windows, extra peak memory in kB, CPU seconds) of one windowing run in a
    forked child."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, workers))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def naive_windows(points: pd.DataFrame, window_s: float = 300.0, step_s: float = 150.0, gap_s: float = 600.0) -> list[dict]:
    """The obvious per-point Python loop: split at gaps, cut windows, project each point with
    the spherical azimuthal equidistant formulas, sum path, turns and extent, take medians."""
    r_earth = 6371008.8
    out = []
    pts = points.sort_values(["object_id", "time"])
    for _, obj in pts.groupby("object_id", sort=False):
        t = (obj["time"].astype("int64") / 1e9).tolist()
        lat, lon, spd = obj["lat"].tolist(), obj["lon"].tolist(), obj["speed_kt"].tolist()
        tracks, cur = [], [0]
        for i in range(1, len(t)):
            if t[i] - t[i - 1] > gap_s:
                tracks.append(cur)
                cur = []
            cur.append(i)
        tracks.append(cur)
        for idx in tracks:
            start = t[idx[0]]
            while True:
                win = [i for i in idx if start <= t[i] < start + window_s]
                if len(win) >= 3:
                    la0 = math.radians(sum(lat[i] for i in win) / len(win))
                    lo0 = math.radians(sum(lon[i] for i in win) / len(win))
                    xy = []
                    for i in win:
                        p, lam = math.radians(lat[i]), math.radians(lon[i])
                        c = math.acos(max(-1.0, min(1.0, math.sin(la0) * math.sin(p) + math.cos(la0) * math.cos(p) * math.cos(lam - lo0))))
                        k = c / math.sin(c) if c > 1e-12 else 1.0
                        xy.append((r_earth * k * math.cos(p) * math.sin(lam - lo0),
                                   r_earth * k * (math.cos(la0) * math.sin(p) - math.sin(la0) * math.cos(p) * math.cos(lam - lo0))))
                    path, turn, prev_h = 0.0, 0.0, None
                    for (x0, y0), (x1, y1) in zip(xy, xy[1:]):
                        d = math.hypot(x1 - x0, y1 - y0)
                        path += d
                        if d > 0:
                            h = math.degrees(math.atan2(x1 - x0, y1 - y0))
                            if prev_h is not None:
                                turn += (h - prev_h + 180) % 360 - 180
                            prev_h = h
                    xs, ys = [p[0] for p in xy], [p[1] for p in xy]
                    speeds = sorted(spd[i] for i in win if spd[i] == spd[i])
                    out.append({"n": len(win), "path": path, "turn": turn, "extent": max(max(xs) - min(xs), max(ys) - min(ys)),
                                "speed": speeds[len(speeds) // 2] if speeds else float("nan")})
                if start + window_s >= t[idx[-1]]:
                    break
                start += step_s
    return out


def main(argv: list[str] | None = None) -> int:
    global _TABLE
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=10_000_000, help="table size (default: 10,000,000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of the vectorized windowing (default: 3)")
    parser.add_argument("--naive-points", type=int, default=30_000, help="subset for the naive loop (default: 30,000)")
    parser.add_argument("--workers", type=int, default=None, help="threads for the windowing (default: CPUs, at most 8)")
    parser.add_argument("--fork", action="store_true", help="time in children forked from this process (the earlier method)")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    _TABLE = build_table(args.points)
    n = len(_TABLE)
    mem_table = _TABLE.memory_usage(deep=True).sum() / 2**20
    print(f"table: {n:,} points, {_TABLE['object_id'].nunique():,} aircraft, {mem_table:,.0f} MiB in memory "
          f"(built in {time.perf_counter() - t0:.1f} s)")
    print(f"windows: {WindowSettings().lengths()} (length, step) in seconds, all figures and per-point arrays")

    if args.fork:
        t_up = time.perf_counter()
        windows_with_report(_TABLE.iloc[:2000])  # load the compiled loops before forking
        print(f"start-up (compiled loops loaded, small table windowed): {time.perf_counter() - t_up:.2f} s")
        runs = [timed_run(args.workers) for _ in range(args.repeats)]
    else:
        with tempfile.TemporaryDirectory(prefix="bench_tracks_") as tmp:
            path = os.path.join(tmp, "points.parquet")
            _TABLE.to_parquet(path)
            fresh = [fresh_run(path, args.workers) for _ in range(args.repeats)]
        print(f"start-up per process (numba imported, compiled loops loaded, small table windowed): "
              f"median {statistics.median(r[4] for r in fresh):.2f} s, not in the times below")
        runs = [r[:4] for r in fresh]
    secs = [r[0] for r in runs]
    med = statistics.median(secs)
    rate = n / med
    cpu = statistics.median(r[3] for r in runs)
    peak_mib = statistics.median(r[2] for r in runs) / 1024
    print(f"vectorized: {runs[0][1]:,} windows; wall times {', '.join(f'{s:.2f}' for s in secs)} s; "
          f"median {med:.2f} s = {rate:,.0f} points/s; CPU {cpu:.2f} s (all threads) = {n / cpu:,.0f} points per CPU-second; "
          f"extra peak memory {peak_mib:,.0f} MiB ({peak_mib * 2**20 / n:.0f} bytes/point)")

    subset = _TABLE[_TABLE["object_id"].isin(_TABLE["object_id"].drop_duplicates().iloc[:200])]
    subset = subset.iloc[: args.naive_points]
    t1, c1 = time.perf_counter(), _cpu_s()
    naive = naive_windows(subset)
    naive_s, naive_cpu = time.perf_counter() - t1, _cpu_s() - c1
    naive_rate = len(subset) / naive_s
    windows_with_report(subset.iloc[:2000])  # start-up (compiled loops loaded) outside the timing
    t2 = time.perf_counter()
    vec_small = windows_with_report(subset)[0]
    small_s = time.perf_counter() - t2
    print(f"naive per-point loop: {len(subset):,} points -> {len(naive):,} windows in {naive_s:.2f} s = "
          f"{naive_rate:,.0f} points/s, {len(subset) / naive_cpu:,.0f} points per CPU-second "
          f"(vectorized on the same subset: {len(subset) / small_s:,.0f} points/s, {len(vec_small):,} windows)")
    print(f"ratio vectorized ({n:,} points, median) / naive: {rate / naive_rate:,.1f}x wall, "
          f"{(n / cpu) / (len(subset) / naive_cpu):,.1f}x per CPU-second")
    print(f"target {TARGET:,} points/s: {'met' if rate >= TARGET else 'NOT met'} ({rate / TARGET:.2f} of target)")
    print(f"machine: {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f} (figures are noisy when loaded); "
          f"the timed runs got {cpu / med:.2f} cores on average (CPU / wall), so at full use of "
          f"{os.cpu_count()} core(s) the wall rate would be about {min(os.cpu_count() or 1, args.workers or 8) * n / cpu:,.0f} points/s "
          f"if the work split perfectly (an upper bound)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
