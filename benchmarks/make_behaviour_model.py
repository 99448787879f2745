"""Train the built-in behaviour classifier and measure it on aircraft it never saw.

    .venv/bin/python benchmarks/make_behaviour_model.py              # train, evaluate, install
    .venv/bin/python benchmarks/make_behaviour_model.py --no-install --out /tmp/bm

What it does (labels never come from a turn rule):

1. Simulated flight segments with ground truth: seeded simulations with airliners at cruise
   (route turns, Vs, doglegs, holds) and airport circuits beside the helicopters and light
   aircraft (:mod:`flightpaths.simulate`); each truth interval is a segment, its windows those
   lying at least 80% inside it, its class :func:`flightpaths.score.behaviour.sim_class`.
   Seeds ``TRAIN_SEEDS`` train; ``TEST_SEEDS`` (other aircraft) are held out.
2. Real flight segments from ``../shared/data`` (when present), labelled by the curator's
   category (:data:`REAL_CATEGORY_CLASS`: calibration, BuzzFeed government helicopters and
   gliders = orbit, refuelling = racetrack, surveys = survey, ordinary traffic = transit,
   skywriting = other); the aircraft :func:`flightpaths.evaluate.holdout_aircraft` holds out
   (30% per category, the built-in circling model's hold-out) are kept for evaluation only.
3. Windows of 5, 10 and 20 minutes (the built-in model's), behaviour features per window
   (:func:`add_window_behaviour`) and per segment (:func:`segment_behaviour`).
4. scikit-learn's HistGradientBoostingClassifier (balanced class weights, seeded), exported to
   safetensors + JSON (:class:`BehaviourModel`); the script checks that the export gives
   sklearn's probabilities on the held-out segments.
5. Per-class precision and recall, the confusion matrix and macro-F1 on the held-out
   simulated and real aircraft, printed and written to OUT/behaviour-evaluation.md, and the
   macro-F1 of a classifier fitted on :data:`BASELINE_FEATURES` alone on the same split
   (before and after the newer features).

The windows are kept in OUT (``windows-*.parquet``); ``--refeature`` recomputes the features
from them (after a change to :mod:`flightpaths.score.behaviour`) without simulating or reading
the flights again.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flightpaths.errors import InputError  # noqa: E402
from flightpaths.score.behaviour import (  # noqa: E402
    BEHAVIOUR_CLASSES,
    BEHAVIOUR_WINDOW_S,
    REAL_CATEGORY_CLASS,
    SEGMENT_FEATURES,
    add_window_behaviour,
    segment_behaviour,
    sim_class,
)
from flightpaths.score.behaviour_model import DEFAULT_BEHAVIOUR_DIR, BehaviourModel  # noqa: E402
from flightpaths.simulate import SimSettings, label_windows, simulate  # noqa: E402
from flightpaths.tracks import TrackSettings, WindowSettings, make_windows, split_tracks  # noqa: E402

WINDOWS = WindowSettings(window_s=BEHAVIOUR_WINDOW_S)
#: The features of the classifier shipped before the leg, U-turn and turn-variety features
#: and the segment extremes: fitted beside the new one in every run, for the before/after table.
BASELINE_FEATURES = (
    "bh_turn_net", "bh_turn_total", "bh_turn_multi", "bh_consistency", "bh_alternation", "bh_speed_kt",
    "bh_slow_share", "bh_alt_ft", "bh_alt_change_ft", "bh_alt_range_ft", "bh_straight_share", "bh_axial", "bh_polar",
    "bh_cross_ratio", "bh_extent_m", "bh_straightness", "bh_revisit",
)
TRAIN_SEEDS = (201, 202, 203, 204)
TEST_SEEDS = (301, 302)
SIM = dict(hours=3.0, aircraft=30, airliner_share=0.15, circuit_weight=0.10)
MIN_INSIDE = 0.8

log = logging.getLogger("make_behaviour_model")


def sim_segments(seed: int) -> pd.DataFrame:
    """One row per simulated truth interval with windows: features, class, aircraft."""
    sim = simulate(SimSettings(seed=seed, **SIM))  # type: ignore[arg-type]
    tracked, _ = split_tracks(sim.points, TrackSettings())
    windows = add_window_behaviour(make_windows(tracked, WINDOWS))
    truth = sim.truth.reset_index(drop=True)
    lab = label_windows(windows, truth.assign(behaviour=truth.index.astype(str)))
    key = lab["behaviour"].fillna("").astype(str).where(lab["behaviour_fraction"] >= MIN_INSIDE, "")
    _keep_windows(windows, key.to_numpy(), f"sim{seed}")
    table = segment_behaviour(windows, key.to_numpy())
    rows = truth.loc[table.index.astype(int)]
    table["label"] = [sim_class(b, r) for b, r in zip(rows["behaviour"], rows["revolutions"])]
    table["group"] = [f"sim{seed}-{o}" for o in rows["object_id"]]
    table["origin"] = f"sim-{seed}"
    table["detail"] = rows["behaviour"].to_numpy()
    table.index = [f"sim{seed}-{i}" for i in table.index]
    return table[table["label"].notna()]


def real_segments() -> pd.DataFrame:
    """Real flight segments labelled by curator category; ``held``: the aircraft is held out."""
    from flightpaths.evaluate import (
        DEFAULT_DATA_ROOT,
        SHARED_SOURCES,
        EvalSource,
        build_shared_set,
        holdout_aircraft,
        window_segments,
    )

    sources = (*SHARED_SOURCES, EvalSource("adsb/traffic-samples/gliders/*.json.gz", "gliders", True, "thermalling"))
    data = build_shared_set(DEFAULT_DATA_ROOT, sources=sources)
    segs = data.segments[data.segments["category"].isin(list(REAL_CATEGORY_CLASS))]
    pts = data.points[data.points["segment_id"].isin(segs.index)]
    windows = add_window_behaviour(make_windows(pts.assign(track_id=pts["segment_id"].astype(str)), WINDOWS))
    key = window_segments(windows, segs).to_numpy()
    _keep_windows(windows, key, "real")
    table = segment_behaviour(windows, key)
    table = table[table.notna().any(axis=1)]
    seg = segs.loc[table.index]
    table["label"] = seg["category"].map(REAL_CATEGORY_CLASS).to_numpy()
    table["group"] = "real-" + seg["object_id"].astype(str).to_numpy()
    table["origin"] = "real-" + seg["category"].astype(str).to_numpy()
    table["detail"] = seg["sampling"].to_numpy()
    held = {f"real-{a}" for a in holdout_aircraft(data.segments)}
    table["held"] = table["group"].isin(held)
    return table


_POINT_COLUMNS = ("track_id", "object_id", "window_s", "start", "end", "pt", "px", "py", "pspeed", "palt")
#: where the windows (per-point arrays) are kept for ``--refeature``; None: not kept
WINDOW_DIR: list[Path] = []


def _keep_windows(windows: pd.DataFrame, key: np.ndarray, name: str) -> None:
    """Write *windows*' per-point arrays and segment keys to WINDOW_DIR (when set), so that
    features can be recomputed later without simulating or reading the flights again."""
    if WINDOW_DIR:
        cols = [c for c in _POINT_COLUMNS if c in windows.columns]
        windows[cols].assign(segment_key=np.asarray(key, dtype=object).astype(str)).to_parquet(
            WINDOW_DIR[0] / f"windows-{name}.parquet")


def _cached(path: Path, reuse: bool, make: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    if reuse and path.exists():
        return pd.read_parquet(path)
    table = make()
    table.to_parquet(path)
    return table


def refeature(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The segment tables again from the windows an earlier run kept in *out* (features of
    the longest windows only, which are all :func:`segment_behaviour` reads); labels, aircraft
    and hold-out from that run's tables."""
    tables = []
    for name, old in (("sim", pd.read_parquet(out / "segments-sim.parquet")),
                      ("real", pd.read_parquet(out / "segments-real.parquet"))):
        parts = []
        for path in sorted(out.glob(f"windows-{name}*.parquet")):
            w = pd.read_parquet(path)
            w = w[w["segment_key"] != ""].reset_index(drop=True)
            w = w[w["window_s"] == w.groupby("segment_key")["window_s"].transform("max")].reset_index(drop=True)
            table = segment_behaviour(add_window_behaviour(w), w["segment_key"].to_numpy())
            prefix = f"{path.stem.removeprefix('windows-')}-" if name == "sim" else ""
            table.index = [f"{prefix}{k}" for k in table.index]
            parts.append(table)
        new = pd.concat(parts)
        info = old[[c for c in ("label", "group", "origin", "detail", "held") if c in old.columns]]
        tables.append(new.join(info, how="inner"))
        log.info("%s: %d of %d segments re-featured", name, len(tables[-1]), len(old))
    return tables[0], tables[1]


def fit(train: pd.DataFrame, features: tuple[str, ...] = SEGMENT_FEATURES, seed: int = 0) -> object:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=10,
                                           l2_regularization=1.0, class_weight="balanced", random_state=seed)
    return model.fit(train[list(features)].to_numpy(float), train["label"].to_numpy(str))


def macro_f1(test: pd.DataFrame, predicted: np.ndarray) -> float:
    """Macro-F1 over the classes with true segments."""
    from sklearn.metrics import f1_score

    truth = test["label"].to_numpy(str)
    return float(f1_score(truth, predicted, labels=sorted(set(truth)), average="macro", zero_division=0))


def report(test: pd.DataFrame, predicted: np.ndarray, title: str) -> str:
    """Per-class precision/recall/F1, macro-F1 and the confusion matrix, as markdown."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    truth = test["label"].to_numpy(str)
    labels = [c for c in BEHAVIOUR_CLASSES if c in set(truth) | set(predicted)]
    p, r, f, n = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    present = n > 0
    macro = float(f[present].mean()) if present.any() else float("nan")
    lines = [f"### {title}: {len(test)} segments of {test['group'].nunique()} aircraft, macro-F1 {macro:.3f}", "",
             "| class | segments | precision | recall | F1 |", "|---|---|---|---|---|"]
    lines += [f"| {c} | {int(k)} | {pp:.2f} | {rr:.2f} | {ff:.2f} |" for c, k, pp, rr, ff in zip(labels, n, p, r, f)]
    cm = confusion_matrix(truth, predicted, labels=labels)
    lines += ["", "confusion (rows: truth, columns: predicted)", "",
              "| | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    lines += [f"| {c} | " + " | ".join(str(v) for v in row) + " |" for c, row in zip(labels, cm)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "behaviour-model-out")
    ap.add_argument("--no-install", action="store_true", help="do not copy the model into flightpaths/models/default")
    ap.add_argument("--no-real", action="store_true", help="simulated segments only")
    ap.add_argument("--reuse", action="store_true", help="reuse the segment tables in --out from an earlier run")
    ap.add_argument("--refeature", action="store_true",
                    help="recompute the features from the windows an earlier run kept in --out (labels from its tables)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    WINDOW_DIR[:] = [args.out]
    if args.refeature:
        sim, refeatured = refeature(args.out)
        args.reuse = True
    sim = sim if args.refeature else _cached(args.out / "segments-sim.parquet", args.reuse,
                                             lambda: pd.concat([sim_segments(s) for s in (*TRAIN_SEEDS, *TEST_SEEDS)]))
    sim_test = sim["origin"].isin([f"sim-{s}" for s in TEST_SEEDS])
    parts_train, parts_test = [sim[~sim_test]], [sim[sim_test]]
    if not args.no_real:
        try:
            real = refeatured if args.refeature else _cached(args.out / "segments-real.parquet", args.reuse,
                                                             real_segments)
        except InputError as exc:  # the shared data are optional
            log.warning("real segments skipped: %s", exc)
        else:
            held = real["held"].astype(bool)
            parts_train.append(real[~held].drop(columns="held"))
            parts_test.append(real[held].drop(columns="held"))
    train, test = pd.concat(parts_train), pd.concat(parts_test)
    log.info("segments: %d train (%s), %d test; %.0f s", len(train), train["label"].value_counts().to_dict(), len(test),
             time.perf_counter() - t0)
    model = fit(train)
    exported = BehaviourModel.from_sklearn(model, SEGMENT_FEATURES, meta={
        "trained_on": f"{len(train)} segments: simulated seeds {list(TRAIN_SEEDS)} and real aircraft not held out",
        "train_counts": train["label"].value_counts().to_dict(),
        "made_by": "benchmarks/make_behaviour_model.py",
    })
    sk = model.predict_proba(test[list(SEGMENT_FEATURES)].to_numpy(float))
    ours = exported.predict_proba(test)
    order = [list(model.classes_).index(c) for c in exported.classes]
    gap = float(np.abs(sk[:, order] - ours).max()) if len(test) else 0.0
    log.info("export check: largest probability difference from sklearn %.2e", gap)
    if gap > 1e-9:
        raise SystemExit("the exported model does not match sklearn")
    predicted, _ = exported.predict(test)
    subsets = [(name, m) for name, m in (
        ("held-out simulated aircraft", test["origin"].str.startswith("sim").to_numpy()),
        ("held-out real aircraft", test["origin"].str.startswith("real").to_numpy()),
        ("all held-out aircraft", np.ones(len(test), bool))) if m.any()]
    text = "\n".join(report(test[m], predicted[m], name) for name, m in subsets)
    before = fit(train, BASELINE_FEATURES).predict(test[list(BASELINE_FEATURES)].to_numpy(float))  # type: ignore[attr-defined]
    text += "\n### macro-F1 before (the 17 window medians) and after, same split\n\n| held-out | before | after |\n|---|---|---|\n"
    text += "".join(f"| {name.removeprefix('held-out ')} | {macro_f1(test[m], before[m]):.3f} | "
                    f"{macro_f1(test[m], predicted[m]):.3f} |\n" for name, m in subsets)
    print(text)
    (args.out / "behaviour-evaluation.md").write_text(text, encoding="utf-8")
    test.assign(predicted=predicted).to_csv(args.out / "behaviour-test-segments.csv")
    exported.save(args.out / "model")
    if not args.no_install:
        exported.save(DEFAULT_BEHAVIOUR_DIR)
        log.info("installed into %s", DEFAULT_BEHAVIOUR_DIR)
    log.info("done in %.0f s", time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
