"""What keeping each aircraft's own points around its possible episodes costs in ``score``.

    .venv/bin/python benchmarks/bench_paths.py [--log data/sim/score/sim.sbs.gz] [--chunk-lines 20000]

Scores the log once with the built-in model, timing every ``PathKeeper.add`` call (the whole
cost of keeping points: flattening the windows' point arrays, projecting them back to lat/lon,
merging the candidate spans) and set against the rest of the same run; and records the most
points a keeper held at once (kept and waiting) against the points in the log, and the points
kept in the end. Small chunks (``--chunk-lines``) make the streaming show: memory must follow
the possible leads, not the log.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", type=Path, default=REPO / "data" / "sim" / "score" / "sim.sbs.gz")
    parser.add_argument("--chunk-lines", type=int, default=20_000)
    args = parser.parse_args(argv)
    from flightpaths.cli.score import DEFAULT_MODEL
    from flightpaths.score import PathKeeper, ScoreSettings, score_logs
    from flightpaths.train.predict import load_bundle

    spent, most = [0.0], [0]
    plain_add = PathKeeper.add

    def timed_add(self: PathKeeper, windows: pd.DataFrame, candidate: object) -> None:
        t = time.perf_counter()
        try:
            plain_add(self, windows, candidate)  # type: ignore[arg-type]
        finally:
            spent[0] += time.perf_counter() - t
            most[0] = max(most[0], self.n_points)

    bundle = load_bundle(DEFAULT_MODEL)
    settings = ScoreSettings(progress=False, chunk_lines=args.chunk_lines)
    PathKeeper.add = timed_add  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            result = score_logs([args.log], Path(tmp) / "out", bundle, settings)
            whole = time.perf_counter() - t
            kept = sum(len(pd.read_parquet(p)) for p in (Path(tmp) / "out" / "parts").glob("*.paths.parquet"))
            page = (Path(tmp) / "out" / "tipsheet.html").stat().st_size
    finally:
        PathKeeper.add = plain_add  # type: ignore[method-assign]
    from flightpaths.ingest import read_logs

    points = len(read_logs(args.log).points)
    print(f"score {args.log.name} ({result.n_windows:,} windows, {result.n_episodes} episodes, chunks of "
          f"{args.chunk_lines:,} lines): {whole:.1f} s in all, {spent[0]:.2f} s keeping points: "
          f"{100 * spent[0] / (whole - spent[0]):.1f}% of the rest of the same run")
    print(f"points: {points:,} in the log; at most {most[0]:,} held "
          f"at once ({100 * most[0] / max(points, 1):.1f}%); {kept:,} kept in the end; tip sheet {page / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
