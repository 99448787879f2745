"""What the default tip sheet lists, on the real aircraft held out from the built-in models.

    .venv/bin/python benchmarks/bench_tipsheet_recall.py            # needs ../shared/data

Each held-out flight segment of ``flightpaths evaluate``'s real set (``--set shared``, reviewed
segments left out) is one track; its windows are cut, drawn and scored with the built-in
model once, then turned into episodes as ``flightpaths score`` does
(:func:`flightpaths.score.pipeline.episodes_from_windows`) twice: with the circling model's
windows only (``--circling-only``, as before) and with the behaviour classifier's episodes too
(the default). An episode is listed when the tip sheet shows it at its default threshold (its
``p_segment``, else its peak probability, at 0.5 or more); a segment is listed when one of its
windows is in a listed episode. Printed: the share of orbiting segments listed (recall), and
the share of segments of every negative category listed, for both runs.
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

from flightpaths.evaluate import DEFAULT_DATA_ROOT, build_shared_set, holdout_aircraft, window_segments  # noqa: E402
from flightpaths.score import ScoreSettings, score_windows  # noqa: E402
from flightpaths.score.episodes import headline_probability  # noqa: E402
from flightpaths.score.pipeline import (  # noqa: E402
    behaviour_scan,
    episodes_from_windows,
    positive_class_of,
    slim_windows,
)
from flightpaths.score.settings import BUILTIN_MODEL, episode_classes  # noqa: E402
from flightpaths.tracks import make_windows  # noqa: E402
from flightpaths.train.predict import load_bundle  # noqa: E402


def listed_segments(episodes: pd.DataFrame, windows: pd.DataFrame, segments: pd.DataFrame, threshold: float) -> set[str]:
    """The segments with a window in an episode the tip sheet shows at *threshold*."""
    track = dict(zip(windows["window_id"].astype(str), window_segments(windows, segments)))
    out: set[str] = set()
    for ep in episodes.to_dict(orient="records"):
        if headline_probability(ep)[0] >= threshold:
            out.update(track[w] for w in str(ep["window_ids"]).split(";") if w in track)
    return out


def table(segments: pd.DataFrame, listed: set[str]) -> pd.DataFrame:
    """Per category: segments, listed, share listed."""
    seg = segments.assign(listed=segments.index.isin(list(listed)))
    rows = seg.groupby(["label", "category"])["listed"].agg(["size", "sum"]).rename(columns={"size": "segments",
                                                                                           "sum": "listed"})
    rows.loc[(True, "ALL orbiting"), ["segments", "listed"]] = [int(seg["label"].sum()), int(seg.loc[seg["label"], "listed"].sum())]
    rows.loc[(False, "ALL others"), ["segments", "listed"]] = [int((~seg["label"]).sum()),
                                                               int(seg.loc[~seg["label"], "listed"].sum())]
    rows["share"] = rows["listed"] / rows["segments"]
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    ap.add_argument("--out", type=Path, default=None, help="write the per-category table here (CSV)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="keep the scored windows in this parquet file and read them from it when it exists")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    data = build_shared_set(args.data_root)
    held = set(holdout_aircraft(data.segments))
    data = data.subset(data.segments.index[data.segments["object_id"].isin(held)])
    bundle = load_bundle(BUILTIN_MODEL)
    settings = ScoreSettings(progress=False)
    classes = episode_classes(list(bundle.classes), settings.positive_class)
    if args.cache is not None and args.cache.exists():
        scored = pd.read_parquet(args.cache)
    else:
        windows = make_windows(data.points.assign(track_id=data.points["segment_id"].astype(str)), bundle.window_settings)
        scored = score_windows(windows, bundle)
        if args.cache is not None:
            try:
                scored.to_parquet(args.cache)
            except (ValueError, TypeError, OSError) as exc:  # a cache that cannot be written is no reason to stop
                print(f"scored windows not cached: {exc}")
    t1 = time.perf_counter()
    print(f"{len(data.segments)} held-out segments of {len(held)} aircraft, {len(windows)} windows scored in "
          f"{t1 - t0:.0f} s (positive class {positive_class_of(bundle)})")
    results = {}
    for name, scan in (("circling model only", False), ("with behaviour episodes", True)):
        t = time.perf_counter()
        slim = slim_windows(behaviour_scan(scored, classes, settings.threshold) if scan else scored, classes,
                            settings.threshold, geometry=True)
        episodes = episodes_from_windows(slim, bundle, settings, classes)
        listed = listed_segments(episodes, slim, data.segments, settings.threshold)
        results[name] = table(data.segments, listed)
        found = episodes["found_by"].value_counts().to_dict() if "found_by" in episodes else {}
        print(f"\n## {name}: {len(episodes)} episodes {found}, {time.perf_counter() - t:.0f} s\n")
        print(results[name].to_string(float_format=lambda v: f"{v:.3f}"))
    both = pd.concat(results, axis=1)
    if args.out is not None:
        both.to_csv(args.out)
    a, b = (results[k].loc[(True, "ALL orbiting"), "share"] for k in results)
    c, d = (results[k].loc[(False, "ALL others"), "share"] for k in results)
    print(f"\norbiting segments listed: {a:.3f} -> {b:.3f}; other segments listed: {c:.3f} -> {d:.3f}; "
          f"{time.perf_counter() - t0:.0f} s in all")
    return 0 if np.isfinite(b) else 1


if __name__ == "__main__":
    raise SystemExit(main())
