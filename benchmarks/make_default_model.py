"""Train the built-in circling model and measure it on real flights it never saw.

    .venv/bin/python benchmarks/make_default_model.py            # train, evaluate, install
    .venv/bin/python benchmarks/make_default_model.py --no-install --out /tmp/dm

(`make default-model` runs the first form.) What it does:

1. Training windows with labels that do NOT come from the turn-counting rule:
   * simulator ground truth: the shipped ``data/sim/train`` log plus a few more seeded
     simulations (orbits, wide slow orbits, racetracks vs straight legs, gentle turns,
     S-turns, surveys, approaches, hovering jitter, parked aircraft; 1-60 s sampling);
     a window is ``circling`` when at least 60% of it lies in a circling interval and
     ``straight`` when at most 5% does (the ambiguous rest is left out);
   * real flights from ``../shared/data`` (when present) of the aircraft NOT held out for
     evaluation, labelled by the curator's category of their flight segment (negatives only:
     a positive segment's windows include transit legs, so they are not window labels).
2. Windows of 5, 10 and 20 minutes, drawn with the default render config; one dataset.
3. Three heads on the same cached, unchanged ImageNet body (EfficientNet-Lite0): CNN-only,
   figures-only and hybrid (CNN features + window figures).
4. A segment aggregator for the hybrid head (``flightpaths.score.aggregate``): a logistic
   regression over segment features (in-window turn-counting statistic at 5/10/20 minutes,
   revisits, window probabilities), fitted on the real flight segments of the aircraft NOT held
   out, labelled by the curator's category; their window probabilities come from heads trained
   without them (``--folds`` out-of-fold splits by aircraft), so the aggregator does not learn
   from over-confident in-sample probabilities. Stored as JSON in the hybrid's model.json.
5. Each head evaluated per flight segment on the held-out real aircraft next to the rule, with
   bootstrap intervals over aircraft (``flightpaths.evaluate``): the best window per segment
   for every head, and the learned aggregator for the hybrid; each table is printed and
   written to OUT/evaluation-<head>.md.
6. The hybrid head with its aggregator (or ``--install-head``) is copied to
   flightpaths/models/default/, head-only: its body is the unchanged pretrained one.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
DEFAULT_DIR = REPO / "flightpaths" / "models" / "default"

sys.path.insert(0, str(REPO))

from flightpaths.ingest import read_logs  # noqa: E402
from flightpaths.label import session  # noqa: E402
from flightpaths.render import render_windows  # noqa: E402
from flightpaths.simulate import SimSettings, label_windows, simulate  # noqa: E402
from flightpaths.tracks import TrackSettings, WindowSettings, make_windows, split_tracks  # noqa: E402
from flightpaths.train.engine import TrainSettings, train  # noqa: E402

WINDOWS = WindowSettings(window_s=(300.0, 600.0, 1200.0))
EXTRA_SIM_SEEDS = (101, 102)


def sim_windows(log: logging.Logger) -> pd.DataFrame:
    """Windows of the shipped training log and extra seeded simulations, labelled by ground truth."""
    parts = []
    shipped = read_logs([REPO / "data" / "sim" / "train" / "sim.sbs.gz"]).points
    truth = pd.read_csv(REPO / "data" / "sim" / "train" / "truth.csv")
    parts.append((shipped, truth, "sim-train"))
    for seed in EXTRA_SIM_SEEDS:
        sim = simulate(SimSettings(seed=seed, hours=2.5, aircraft=30))
        parts.append((sim.points, sim.truth, f"sim-{seed}"))
    frames = []
    for points, truth, name in parts:
        tracked, _ = split_tracks(points, TrackSettings())
        windows = make_windows(tracked, WINDOWS)
        lab = label_windows(windows, truth)
        frac = lab["circling_fraction"].to_numpy()
        keep = (frac >= 0.6) | (frac <= 0.05)
        windows = windows[keep].copy()
        windows["label"] = np.where(frac[keep] >= 0.6, "circling", "straight")
        windows["origin"] = name
        # distinct simulations reuse hex ids: make object ids unique per simulation
        windows["object_id"] = name + "-" + windows["object_id"].astype(str)
        windows["window_id"] = name + "-" + windows["window_id"].astype(str)
        log.info("%s: %d windows (%d circling)", name, len(windows), int((windows["label"] == "circling").sum()))
        frames.append(windows)
    return pd.concat(frames, ignore_index=True)


def real_negative_windows(log: logging.Logger, *, all_aircraft: bool = False) -> pd.DataFrame:
    """Windows of real aircraft in negative segments (ordinary traffic, surveys, ground).

    Only the aircraft not held out for evaluation, unless *all_aircraft* (cross-fitting picks
    its own folds: benchmarks/crossfit_default_model.py).
    """
    from flightpaths.evaluate import build_shared_set, holdout_aircraft

    data = build_shared_set()
    held = set() if all_aircraft else set(holdout_aircraft(data.segments))
    segs = data.segments[(~data.segments["object_id"].isin(held)) & (~data.segments["label"].astype(bool))]
    pts = data.points[data.points["segment_id"].isin(segs.index)]
    pts = pts.assign(track_id=pts["segment_id"].astype(str))
    windows = make_windows(pts, WINDOWS)
    windows["label"] = "straight"
    windows["origin"] = "real-" + windows["track_id"].map(segs["category"]).astype(str)
    windows["window_id"] = "real-" + windows["window_id"].astype(str)
    log.info("real negatives: %d windows of %d segments", len(windows), len(segs))
    return windows


def build_dataset(windows: pd.DataFrame, out: Path, size: int, log: logging.Logger) -> Path:
    from rasterize import RenderConfig

    render = out / "render"
    render_windows(windows, render, replace(RenderConfig(), size=size), workers=2, overwrite=True)
    labels = out / "labels-import.csv"
    windows[["window_id", "label"]].to_csv(labels, index=False)
    dataset = out / "dataset"
    shutil.rmtree(dataset, ignore_errors=True)
    images, ds = session.open_dataset(render, dataset, classes=("circling", "straight"))
    with ds:
        bulk = session.bulk_label(ds, images, import_from=labels)
        for m in bulk.messages:
            log.info("%s", m)
    return dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "build" / "default-model")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--freeze-epochs", type=int, default=6)
    parser.add_argument("--no-install", action="store_true", help="do not copy a model into the package")
    parser.add_argument("--install-head", default="hybrid",
                        help="which head to install: hybrid (default: with its segment aggregator), cnn, figures, or "
                             "best (highest held-out AP)")
    parser.add_argument("--heads", default="cnn,figures,hybrid")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--aggregator-head", default="hybrid",
                        help="the head whose bundle gets a learned segment aggregator (fitted on real flights of "
                             "aircraft not held out, with out-of-fold window probabilities)")
    parser.add_argument("--folds", type=int, default=2, help="out-of-fold splits of the real training aircraft")
    parser.add_argument("--aggregator-features", default=None,
                        help="comma-separated segment features of the aggregator (default: the seven of "
                             "SEGMENT_FEATURES; add turn_multi, the multi-scale turn rule, to give it that statistic)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log = logging.getLogger("default-model")
    t0 = time.perf_counter()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    windows = sim_windows(log)
    if SHARED.is_dir():
        windows = pd.concat([windows, real_negative_windows(log)], ignore_index=True)
    log.info("training windows: %d (%s)", len(windows), windows["label"].value_counts().to_dict())
    dataset = build_dataset(windows, out, args.size, log)

    from flightpaths.evaluate import EvaluateSettings, build_shared_set, evaluate, ground_summary, metrics_markdown

    results = {}
    for head in args.heads.split(","):
        model_dir = out / f"model-{head}"
        res = train(dataset, model_dir, TrainSettings(size=args.size, freeze_epochs=args.freeze_epochs, epochs=0,
                                                      head=head, group_by="object"), overwrite=True)
        _record_windows(model_dir)
        results[head] = {"model_dir": model_dir, "valid": res.metrics}
        log.info("%s head: validation %s", head, {k: round(float(v), 3) for k, v in res.metrics.items()
                                                    if isinstance(v, (int, float))})
    if not SHARED.is_dir():
        log.warning("no ../shared/data: cannot fit a segment aggregator or evaluate on real flights; "
                    "installing the hybrid head")
        best = "hybrid"
    else:
        data = build_shared_set()
        agg_head = args.aggregator_head
        if agg_head in results:
            fit_aggregator(data, dataset, results[agg_head]["model_dir"], args, out, log)
        for head, info in list(results.items()):
            modes = ("max", "learned") if head == agg_head else ("max",)
            for how in modes:
                ev = evaluate(data, info["model_dir"], settings=EvaluateSettings(
                    holdout_only=True, n_boot=args.bootstrap, aggregate=how))
                name = head if how == "max" else f"{head}+segments"
                results.setdefault(name, {**info})["metrics"] = ev.metrics
                report = metrics_markdown(ev.metrics, notes=ev.notes, ground=ground_summary(ev.scores, ev.segments))
                (out / f"evaluation-{name}.md").write_text(report, encoding="utf-8")
                print(f"\n### {name} ({how})\n" + metrics_markdown(ev.metrics, notes=ev.notes))
        best = max((h for h in results if "metrics" in results[h]), key=lambda h: _ap(results[h]["metrics"], h))
    log.info("best head by held-out AP: %s", best)
    chosen = best if args.install_head == "best" else args.install_head
    if not args.no_install:
        install(results[chosen]["model_dir"], log)
    log.info("done in %.0f s", time.perf_counter() - t0)
    return 0


def _fold_of(object_id: str, folds: int) -> int:
    import hashlib

    return int(hashlib.sha256(f"fold:{object_id}".encode()).hexdigest(), 16) % folds


def _subset_dataset(dataset: Path, dest: Path, leave_out: set[str]) -> Path:
    """A copy of *dataset* (images hard-linked) without the windows of *leave_out* aircraft."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for name in ("labels.csv", "manifest.csv"):
        table = pd.read_csv(dataset / name, dtype=str, keep_default_na=False)
        table = table[~table["object_id"].isin(leave_out)]
        table.to_csv(dest / name, index=False)
        if name == "labels.csv":
            images = table["image"].tolist()
    for name in ("render_config.json", "dataset.json"):
        if (dataset / name).exists():
            shutil.copy2(dataset / name, dest / name)
    for rel in images:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        try:
            (dest / rel).hardlink_to(dataset / rel)
        except OSError:
            shutil.copy2(dataset / rel, dest / rel)
    return dest


def fit_aggregator(data, dataset: Path, model_dir: Path, args: argparse.Namespace, out: Path,
                   log: logging.Logger) -> None:
    """Fit the segment aggregator on real segments of the aircraft NOT held out, and store it.

    The window model saw the negative windows of these aircraft in training, so their window
    probabilities would be too confident; each fold's probabilities come instead from a head
    trained without that fold's aircraft (sim windows always in). The aggregator never sees
    a held-out aircraft.
    """
    from flightpaths.evaluate import holdout_aircraft, window_segments
    from flightpaths.score import score_windows
    from flightpaths.score.aggregate import SegmentAggregator, add_window_geometry, segment_features
    from flightpaths.train.predict import load_bundle

    held = set(holdout_aircraft(data.segments))
    train_segs = data.segments[~data.segments["object_id"].isin(held)]
    meta = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    tables = []
    for fold in range(args.folds):
        members = {a for a in train_segs["object_id"].unique() if _fold_of(str(a), args.folds) == fold}
        segs = train_segs[train_segs["object_id"].isin(members)]
        sub = _subset_dataset(dataset, out / f"dataset-fold{fold}", members)
        fold_dir = out / f"model-{args.aggregator_head}-fold{fold}"
        train(sub, fold_dir, TrainSettings(size=args.size, freeze_epochs=args.freeze_epochs, epochs=0,
                                           head=meta["head"], group_by="object"), overwrite=True)
        _record_windows(fold_dir)
        bundle = load_bundle(fold_dir)
        pts = data.points[data.points["segment_id"].isin(segs.index)]
        windows = make_windows(pts.assign(track_id=pts["segment_id"].astype(str)), WINDOWS)
        probs = score_windows(windows, bundle)["p_circling"].astype(float).fillna(0.0).to_numpy()
        geo = add_window_geometry(windows.reset_index(drop=True), behaviour=False).assign(p=probs)
        table = segment_features(geo, window_segments(windows, segs).to_numpy())
        tables.append(table.reindex(segs.index).fillna(0.0))
        log.info("fold %d: %d aircraft, %d segments, %d windows scored out of fold", fold, len(members), len(segs),
                 len(windows))
    table = pd.concat(tables)
    labels = train_segs.loc[table.index, "label"].astype(bool).to_numpy()
    table.assign(label=labels).to_csv(out / "aggregator-train.csv")
    features = args.aggregator_features.split(",") if args.aggregator_features else None
    agg = SegmentAggregator.fit(table, labels, features=features, note=(
        f"fitted by benchmarks/make_default_model.py on {len(table)} real segments of "
        f"{train_segs['object_id'].nunique()} aircraft not held out ({int(labels.sum())} circling), "
        f"window probabilities out of {args.folds} folds"))
    meta["segment_aggregator"] = agg.to_dict()
    (model_dir / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    log.info("segment aggregator: %s", {k: round(v, 2) for k, v in agg.explain().items()})


def install(model_dir: Path, log: logging.Logger) -> None:
    """Copy a bundle into the package as the built-in model, head-only (the body is the pretrained one)."""
    from flightpaths.train.backbones import build_backbone
    from flightpaths.train.bundle import head_only

    DEFAULT_DIR.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "model.json"):
        shutil.copy2(model_dir / name, DEFAULT_DIR / name)
    meta_path = DEFAULT_DIR / "model.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["dataset"] = "built by benchmarks/make_default_model.py"
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    body = build_backbone(meta["backbone"]).body.state_dict() if meta["head"] != "figures" else None
    if body is not None:
        head_only(DEFAULT_DIR, body)
    log.info("installed %s (%d bytes of weights)", DEFAULT_DIR, (DEFAULT_DIR / "model.safetensors").stat().st_size)


def _record_windows(model_dir: Path) -> None:
    """Record the track and window settings in model.json so scoring cuts windows as in training."""
    from flightpaths.settings import settings_dict
    from flightpaths.tracks import TrackSettings

    path = model_dir / "model.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["window_settings"] = settings_dict(WINDOWS)
    meta["track_settings"] = settings_dict(TrackSettings())  # the tracks here are cut with the defaults
    path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _ap(metrics: pd.DataFrame, head: str) -> float:
    """The model's held-out average precision over all segments."""
    rows = metrics[(metrics["scorer"] == "model") & (metrics["subset"] == "all") & (metrics["metric"] == "AP")]
    return float(rows["value"].iloc[0]) if len(rows) else float("nan")


if __name__ == "__main__":
    raise SystemExit(main())
