"""Per-file overhead of ``flightpaths score``: many small logs against the same data in one file.

    .venv/bin/python benchmarks/bench_small_files.py [--files 700] [--minutes 18] [--repeats 3] [--model DIR]

A simulated SBS log of ``--files`` aircraft (each flying part of ``--minutes``) is written
twice: once as one file, once as one small file per aircraft (the shape of a folder of
per-flight exports). Each aircraft's points are the same in both, so both cut the same
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

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def make_logs(root: Path, n_files: int, minutes: float, seed: int) -> tuple[Path, list[Path]]:
    """One SBS log of *n_files* aircraft, and the same lines split into one file per aircraft."""
    from flightpaths.simulate import SimSettings, simulate, write_simulation

    sim = simulate(SimSettings(seed=seed, hours=minutes / 60.0, aircraft=n_files))
    whole = write_simulation(sim, root / "one")["log"]
    by_aircraft: dict[str, list[str]] = {}
    with open(whole, encoding="utf-8") as fh:
        for line in fh:
            by_aircraft.setdefault(line.split(",", 5)[4].lower(), []).append(line)
    folder = root / "many"
    folder.mkdir()
    files = []
    for i, (_, lines) in enumerate(sorted(by_aircraft.items())):
        path = folder / f"flight-{i:04d}.sbs"
        path.write_text("".join(lines), encoding="utf-8")
        files.append(path)
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
        score_once([whole], root / "warm", bundle)  # compile and load once, outside the timings
        one, many = [], []
        for r in range(args.repeats):
            s1, n1 = score_once([whole], root / "out-one", bundle)
            s2, n2 = score_once(files, root / "out-many", bundle)
            one.append(s1)
            many.append(s2)
            print(f"run {r + 1}: one file {s1:.1f} s ({n1} windows), {len(files)} files {s2:.1f} s ({n2} windows)", flush=True)
        a = pd.read_parquet(root / "out-one" / "windows.parquet").sort_values("window_id")["window_id"].tolist()
        b = pd.read_parquet(root / "out-many" / "windows.parquet").sort_values("window_id")["window_id"].tolist()
        same = "the same windows" if a == b else f"DIFFERENT windows ({len(a)} vs {len(b)})"
    m1, m2 = statistics.median(one), statistics.median(many)
    print(f"score, median of {args.repeats}: one file {m1:.1f} s, {len(files)} small files {m2:.1f} s; "
          f"ratio {m2 / m1:.2f}x (target <= 1.5x); {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
