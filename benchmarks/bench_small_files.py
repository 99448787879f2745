"""Per-file overhead of ``flightpaths score``: many small logs against the same data in one file.

    .venv/bin/python benchmarks/bench_small_files.py [--files 700] [--minutes 18] [--repeats 3] [--model DIR]

An SBS log of ``--files`` aircraft (a third orbiting, the others straight; each flying part of
``--minutes``, 4-8 s sampling) is written twice: once as one file in time order, once as one
small file per aircraft (the shape of a folder of per-flight exports). Each aircraft's points are the same in both, so both cut the same
windows. Both are scored by ``score_logs`` in this process with the same model (the built-in
model by default: EfficientNet-Lite0 body, 96 px, 5/10/20-minute windows), every output
written, median of ``--repeats`` runs, alternating. Prints the seconds of each, the windows
scored, and the ratio many-files / one-file. Target (issue 17, part 7): at most 1.5.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def _flight(k: int, rng: np.random.Generator, minutes: float, t0: pd.Timestamp) -> list[str]:
    """One aircraft's SBS position lines: every third orbits (1-2 km, 2-4 min a turn), the others fly
    straight; 4-8 s sampling, a random share of *minutes* starting at a random time."""
    dt = rng.uniform(4.0, 8.0)
    span = minutes * 60.0 * rng.uniform(0.5, 1.0)
    s = np.arange(0.0, span, dt)
    start = t0 + pd.Timedelta(seconds=float(rng.uniform(0, minutes * 60.0 - span + 1)))
    lat0, lon0 = 40.5 + rng.uniform(0, 0.4), -74.2 + rng.uniform(0, 0.4)
    if k % 3 == 0:
        r, period = rng.uniform(1000, 2000), rng.uniform(120, 240)
        a = 2 * np.pi * s / period
        x, y = r * np.sin(a), r * (1 - np.cos(a))
    else:
        heading = rng.uniform(0, 2 * np.pi)
        x, y = 70.0 * s * np.sin(heading), 70.0 * s * np.cos(heading)
    x, y = x + rng.normal(0, 5, len(s)), y + rng.normal(0, 5, len(s))
    lat = lat0 + y / 111_195
    lon = lon0 + x / (111_195 * np.cos(np.radians(lat0)))
    times = (start + pd.to_timedelta(s, unit="s")).strftime("%Y/%m/%d,%H:%M:%S.%f").str[:-3]
    hexid = f"{0xA00000 + k:06X}"
    return [f"MSG,3,1,1,{hexid},1,{t},{t},,2500,,,{la:.5f},{lo:.5f},,,,,,0\n" for t, la, lo in zip(times, lat, lon)]


def make_logs(root: Path, n_files: int, minutes: float, seed: int) -> tuple[Path, list[Path]]:
    """*n_files* small SBS logs (one aircraft each), and the same lines in one file, in time order."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2024-06-01 12:00:00")
    flights = [_flight(k, rng, minutes, t0) for k in range(n_files)]
    (root / "many").mkdir()
    files = []
    for k, lines in enumerate(flights):
        path = root / "many" / f"flight-{k:04d}.sbs"
        path.write_text("".join(lines), encoding="utf-8")
        files.append(path)
    every = sorted((line.split(",", 8)[7], line) for lines in flights for line in lines)
    whole = root / "one.sbs"
    whole.write_text("".join(line for _, line in every), encoding="utf-8")
    return whole, files


def score_once(inputs: list[Path], out: Path, bundle: object) -> tuple[float, int]:
    from flightpaths.score import ScoreSettings, score_logs

    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    result = score_logs(inputs, out, bundle, ScoreSettings(progress=False))
    return time.perf_counter() - t0, result.n_windows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=700)
    parser.add_argument("--minutes", type=float, default=18.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", type=Path, default=REPO / "flightpaths" / "models" / "default")
    args = parser.parse_args(argv)

    import logging

    logging.basicConfig(level=logging.WARNING)
    from flightpaths.train.predict import load_bundle

    bundle = load_bundle(args.model)
    with tempfile.TemporaryDirectory(prefix="fp-small-files-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        whole, files = make_logs(root, args.files, args.minutes, args.seed)
        lines = sum(1 for _ in open(whole, encoding="utf-8"))
        print(f"data: {len(files)} files ({lines:,} lines in all, {lines / len(files):.0f} a file) and the same in one file; "
              f"made in {time.perf_counter() - t0:.1f} s", flush=True)
        score_once(files[:10], root / "warm", bundle)  # compile and load once, outside the timings
        one, many = [], []
        for r in range(args.repeats):
            s1, n1 = score_once([whole], root / "out-one", bundle)
            s2, n2 = score_once(files, root / "out-many", bundle)
            one.append(s1)
            many.append(s2)
            print(f"run {r + 1}: one file {s1:.1f} s ({n1} windows), {len(files)} files {s2:.1f} s ({n2} windows); "
                  f"ratio {s2 / s1:.2f}x", flush=True)
        a = pd.read_parquet(root / "out-one" / "windows.parquet").sort_values("window_id")["window_id"].tolist()
        b = pd.read_parquet(root / "out-many" / "windows.parquet").sort_values("window_id")["window_id"].tolist()
        same = "the same windows" if a == b else f"DIFFERENT windows ({len(a)} vs {len(b)})"
    m1, m2 = statistics.median(one), statistics.median(many)
    print(f"score, median of {args.repeats}: one file {m1:.1f} s, {len(files)} small files {m2:.1f} s; "
          f"ratio {m2 / m1:.2f}x (target <= 1.5x); {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
