"""What the context step (identity, place, airport, time zone, watchlist) costs.

    .venv/bin/python benchmarks/bench_context.py [--log data/sim/score/sim.sbs.gz] [--repeats 3] [--points 100000]

1. ``score_logs`` with the built-in model on the simulated day, with the context step and
   without it (the same run, alternating; without = the pipeline's identity collection, join,
   ``add_context`` and the windows' ``add_local_times`` replaced by pass-throughs). The per-process look-up tables are dropped
   before each run with context, so every run pays for loading them (from the parquet cache
   in the user's cache folder, as every run after the first on a machine does; the one-off
   conversion of the packaged data is timed on its own). Target: at most 10% more time.
   Whole runs vary a lot on a shared machine (18 to 57 s for the same run at load 8-10), so
   the target is judged on the seconds spent inside the context hooks, timed within each run
   with context and set against the rest of that same run; whole-run times are printed too.
2. Place look-ups: ``nearest_places`` (KD-tree query, distance, bearing and the one-line
   description) on ``--points`` random points spread evenly over the globe, and near places,
   against the index's look-up alone (queries in Z-order) and the bare tree query in the
   points' own order (how the index queried before: the baseline, measured in the same run).
   Target: at least 100,000 episodes/s. Rates are medians of ``--repeats`` wall times.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def _passthrough_context() -> dict[str, object]:
    """Swap the pipeline's context hooks for pass-throughs; returns the originals."""
    from flightpaths.score import pipeline

    class NoCollector:
        def watch(self, chunks):  # type: ignore[no-untyped-def]
            return chunks

        def table(self) -> pd.DataFrame:
            return pd.DataFrame()

    saved = {name: getattr(pipeline, name) for name in ("IdentityCollector", "join_identity", "add_context", "add_local_times")}
    pipeline.IdentityCollector = NoCollector  # type: ignore[misc,assignment]
    pipeline.join_identity = lambda frame, identity: frame  # type: ignore[assignment]
    pipeline.add_context = lambda episodes, identity, settings=None: episodes  # type: ignore[assignment]
    pipeline.add_local_times = lambda frame: frame  # type: ignore[assignment]
    return saved


def _restore(saved: dict[str, object]) -> None:
    from flightpaths.score import pipeline

    for name, value in saved.items():
        if name == "_by_object":
            from flightpaths.context import identity as identity_module

            identity_module.identity_by_object = value  # type: ignore[assignment]
        else:
            setattr(pipeline, name, value)


def _timed_context(spent: list[float]) -> dict[str, object]:
    """Wrap the pipeline's context hooks so that the seconds spent in them add up in *spent*."""
    from flightpaths.context import identity as identity_module
    from flightpaths.score import pipeline

    saved = {name: getattr(pipeline, name) for name in ("join_identity", "add_context", "add_local_times")}
    by_object = identity_module.identity_by_object

    def timed(fn):  # type: ignore[no-untyped-def]
        def run(*args, **kwargs):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - t
        return run

    pipeline.join_identity = timed(saved["join_identity"])  # type: ignore[assignment]
    pipeline.add_context = timed(saved["add_context"])  # type: ignore[assignment]
    pipeline.add_local_times = timed(saved["add_local_times"])  # type: ignore[assignment]
    identity_module.identity_by_object = timed(by_object)  # what IdentityCollector.watch calls per chunk
    saved["_by_object"] = by_object
    return saved


def _drop_tables() -> None:
    from flightpaths.context import airports, places

    places.gazetteer.cache_clear()
    airports.airports.cache_clear()


def score_times(log: Path, repeats: int) -> tuple[list[float], list[float], list[float], int]:
    from flightpaths.cli.score import DEFAULT_MODEL
    from flightpaths.score import ScoreSettings, score_logs
    from flightpaths.train.predict import load_bundle

    bundle = load_bundle(DEFAULT_MODEL)
    settings = ScoreSettings(progress=False)
    with_ctx: list[float] = []
    without: list[float] = []
    inside: list[float] = []
    n_episodes = 0
    with tempfile.TemporaryDirectory() as tmp:
        score_logs([log], Path(tmp) / "warm", bundle, settings)  # numba compilation, file cache
        for r in range(repeats):
            for mode in (("with", "without") if r % 2 == 0 else ("without", "with")):
                out = Path(tmp) / f"{mode}{r}"
                if mode == "with":
                    _drop_tables()
                    spent = [0.0]
                    saved = _timed_context(spent)
                    try:
                        t = time.perf_counter()
                        result = score_logs([log], out, bundle, settings)
                        with_ctx.append(time.perf_counter() - t)
                    finally:
                        _restore(saved)
                    inside.append(spent[0])
                    n_episodes = result.n_episodes
                else:
                    saved = _passthrough_context()
                    try:
                        t = time.perf_counter()
                        score_logs([log], out, bundle, settings)
                        without.append(time.perf_counter() - t)
                    finally:
                        _restore(saved)
    return with_ctx, without, inside, n_episodes


def lookup_rates(n: int, repeats: int, *, near_places: bool = False) -> tuple[float, float, float, float]:
    """Look-ups per second (full, the index's look-up, the bare tree query in input order; and
    full per CPU-second, which a busy machine disturbs less) on *n* points spread evenly over the globe
    (70% of them over the sea, the slow case for a nearest-neighbour search), or with
    *near_places* within about 10 km of a random place of the gazetteer (where leads are)."""
    from flightpaths.context.places import gazetteer, nearest_places

    def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:  # as the index makes them
        la, lo = np.radians(lat), np.radians(lon)
        return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])

    rng = np.random.default_rng(0)
    gaz = gazetteer()
    if near_places:
        pick = rng.integers(0, len(gaz.name), n)
        lat = np.clip(gaz.index.lat[pick] + rng.normal(0, 0.1, n), -90, 90)
        lon = gaz.index.lon[pick] + rng.normal(0, 0.1, n)
    else:
        lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
        lon = rng.uniform(-180, 180, n)
    full, query, plain, cpu = [], [], [], []
    tree = gaz.index._tree
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        nearest_places(lat, lon, gaz)
        full.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        t = time.perf_counter()
        gaz.index.nearest(lat, lon)
        query.append(time.perf_counter() - t)
        t = time.perf_counter()
        tree.query(unit_vectors(lat, lon), k=1, workers=-1)
        plain.append(time.perf_counter() - t)
    return (n / statistics.median(full), n / statistics.median(query), n / statistics.median(plain),
            n / statistics.median(cpu))


def one_off_conversion() -> float:
    from flightpaths.context.airports import packaged_airports
    from flightpaths.context.places import packaged_places

    t = time.perf_counter()
    packaged_places()
    packaged_airports()
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", type=Path, default=REPO / "data" / "sim" / "score" / "sim.sbs.gz")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--skip-score", action="store_true", help="Only the look-up rates.")
    args = parser.parse_args(argv)
    for near, where in ((False, "spread evenly over the globe"), (True, "near populated places")):
        rate, tree_rate, plain_rate, cpu_rate = lookup_rates(args.points, args.repeats, near_places=near)
        print(f"place look-up: {rate:,.0f} episodes/s with the description line ({cpu_rate:,.0f} per CPU-second; "
              f"{tree_rate:,.0f}/s the index's look-up alone, Z-ordered; baseline {plain_rate:,.0f}/s the bare tree "
              f"query in input order, {rate / plain_rate:.2f}x of it) on {args.points:,} random points {where}; "
              f"target >= 100,000/s: {'met' if rate >= 100_000 else 'NOT met'}")
    print(f"one-off conversion of the packaged gazetteer and airport list to the parquet cache: {one_off_conversion():.2f} s")
    if args.skip_score:
        return 0
    with_ctx, without, inside, n = score_times(args.log, args.repeats)
    a, b = statistics.median(with_ctx), statistics.median(without)
    shares = [c / (w - c) for c, w in zip(inside, with_ctx)]
    print(f"time inside the context step (identity per chunk, join, add_context with table loading, windows' local times): "
          f"{', '.join(f'{c:.2f} s' for c in inside)}; as a share of the rest of the same run: "
          f"{', '.join(f'{100 * x:.1f}%' for x in shares)} (median {100 * statistics.median(shares):.1f}%)")
    share = statistics.median(shares)
    print(f"score {args.log.name} ({n} episodes), whole runs (noisy on a shared machine): with context "
          f"{', '.join(f'{x:.2f}' for x in with_ctx)} s (min {min(with_ctx):.2f}, median {a:.2f}); without "
          f"{', '.join(f'{x:.2f}' for x in without)} s (min {min(without):.2f}, median {b:.2f}); "
          f"min against min {100 * (min(with_ctx) / min(without) - 1):+.1f}%")
    print(f"context step adds {100 * share:.1f}% to score time (median of the in-run shares); target <= 10%: "
          f"{'met' if share <= 0.10 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
