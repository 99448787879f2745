"""Trainer benchmark: flightpaths' trainer versus fastai 2.8 ``vision_learner`` + ``fine_tune``.

Side by side in one run, on the same simulated windows (simulator ground truth as labels,
drawn at 128 px by flightpaths.render), the same EfficientNet-Lite0 ImageNet weights, the same
grouped split and the same number of epochs. Prints accuracy, F1, AUPR and wall time for each,
the ratio of wall times, and phase-1 (frozen body) time with and without feature caching.

    .venv/bin/python benchmarks/bench_train.py                 # defaults: fine_tune(2, freeze_epochs=1)
    .venv/bin/python benchmarks/bench_train.py --epochs 3 --repeats 3

fastai is an optional benchmark dependency: ``pip install 'fastai>=2.8,<2.9'`` (``make bench``).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flightpaths.train.data import scan_dataset, split_dataset  # noqa: E402
from flightpaths.train.engine import TrainSettings, train  # noqa: E402
from flightpaths.train.metrics import classification_metrics  # noqa: E402


def make_dataset(root: Path, *, seed: int, hours: float, aircraft: int, size: int) -> Path:
    """Simulate flights, cut 5-minute windows, draw them, and sort them by ground truth."""
    from flightpaths.render import images_from_windows
    from flightpaths.simulate import SimSettings, label_windows, simulate
    from flightpaths.tracks import FIGURE_COLUMNS, WindowSettings, make_windows
    from rasterize.config import RenderConfig

    sim = simulate(SimSettings(seed=seed, hours=hours, aircraft=aircraft))
    windows = make_windows(sim.points, WindowSettings(window_s=300.0)).reset_index(drop=True)
    truth = label_windows(windows, sim.truth)
    config = RenderConfig(size=size)
    images, status = images_from_windows(windows, config)
    rows, manifest = [], []
    for i, w in windows.iterrows():
        if not str(status[i]).startswith("ok"):
            continue
        label = "circling" if bool(truth["circling"].iloc[i]) else "other"
        rel = f"{label}/{w['window_id']}.png"
        (root / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i]).save(root / rel)
        rows.append({"image": rel, "window_id": w["window_id"], "object_id": w["object_id"], "label": label,
                     "source": "import", "time": "2024-06-01T00:00:00Z"})
        manifest.append({"image": f"images/{w['window_id']}.png", "window_id": w["window_id"], "object_id": w["object_id"],
                         **{c: w[c] for c in FIGURE_COLUMNS if c in w}})
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    pd.DataFrame(manifest).to_csv(root / "manifest.csv", index=False)
    (root / "render_config.json").write_text(config.to_json() if hasattr(config, "to_json") else "{}")
    return root


def run_ours(ds: Path, out: Path, settings: TrainSettings) -> dict:
    t = time.perf_counter()
    result = train(ds, out, settings, overwrite=True)
    wall = time.perf_counter() - t
    final = result.history.iloc[-1].to_dict()
    return {"wall_s": wall, "accuracy": final["accuracy"], "f1": final["f1"], "aupr": final["aupr"],
            "best_accuracy": result.metrics["accuracy"], "valid": result.split.valid, "timings": result.timings}


def run_fastai(ds: Path, paths: list[Path], train_idx: np.ndarray, valid_idx: np.ndarray, classes: tuple[str, ...], *, epochs: int, freeze: int,
               size: int, bs: int, seed: int) -> dict:
    import timm
    from fastai.vision.all import (
        CategoryBlock,
        DataBlock,
        Dihedral,
        ImageBlock,
        IndexSplitter,
        Normalize,
        Resize,
        parent_label,
        set_seed,
        vision_learner,
    )

    from flightpaths.train.backbones import efficientnet_lite0_state_dict

    def lite0(pretrained: bool = True, **kwargs: object) -> torch.nn.Module:
        model = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=1000)
        if pretrained:
            model.load_state_dict(efficientnet_lite0_state_dict(), strict=True)
        return model

    t = time.perf_counter()
    set_seed(seed, reproducible=True)
    items = [paths[i] for i in train_idx] + [paths[i] for i in valid_idx]  # exactly our split
    valid = list(range(len(train_idx), len(items)))
    block = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=lambda _: items, splitter=IndexSplitter(valid),
                      get_y=parent_label, item_tfms=Resize(size),
                      batch_tfms=[Dihedral(p=1.0), Normalize.from_stats([0.5] * 3, [0.5] * 3)])
    dls = block.dataloaders(ds, bs=bs, num_workers=0, device="cpu")
    assert tuple(dls.vocab) == classes, (dls.vocab, classes)
    learn = vision_learner(dls, lite0, cut=5, normalize=False, pretrained=True)  # body = conv_stem..bn2
    with learn.no_bar(), learn.no_logging():
        learn.fine_tune(epochs, freeze_epochs=freeze)
        probs, targets = learn.get_preds(dl=dls.valid)
    wall = time.perf_counter() - t
    m = classification_metrics(targets.numpy(), probs.numpy(), classes, n_boot=0)
    y, pred = targets.numpy(), probs.numpy().argmax(1)
    balanced = float(np.mean([(pred[y == k] == k).mean() for k in range(len(classes)) if (y == k).any()]))
    return {"wall_s": wall, "accuracy": m["accuracy"], "balanced_accuracy": balanced, "f1": m["f1"], "aupr": m["aupr"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=2, help="fine_tune epochs (body unfrozen)")
    ap.add_argument("--freeze-epochs", type=int, default=1, help="frozen-body epochs")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--hours", type=float, default=3.0)
    ap.add_argument("--aircraft", type=int, default=24)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=1, help="runs of each trainer (medians reported)")
    ap.add_argument("--phase1-epochs", type=int, default=4, help="frozen epochs for the caching comparison")
    ap.add_argument("--skip-fastai", action="store_true")
    ap.add_argument("--hybrid", action="store_true", help="also train the hybrid head (CNN + window figures)")
    ap.add_argument("--unfreeze", default="1", help="comma-separated --unfreeze values to run (0 = all stages; default 1)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    torch.set_num_threads(max(1, len(__import__("os").sched_getaffinity(0))))

    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        tmp_path = Path(tmp)
        t = time.perf_counter()
        ds = make_dataset(tmp_path / "ds", seed=args.seed, hours=args.hours, aircraft=args.aircraft, size=args.size)
        data = scan_dataset(ds, group_by="object")
        split = split_dataset(data, seed=0)
        counts = {c: int((data.labels == k).sum()) for k, c in enumerate(data.classes)}
        print(f"data: {len(data)} simulated windows at {args.size} px {counts}, made in {time.perf_counter() - t:.1f}s")
        print(f"split: {split.method}; {len(split.train)} train / {len(split.valid)} valid; "
              f"{split.n_groups_train}/{split.n_groups_valid} aircraft; {'; '.join(split.notes)}")
        print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, epochs: fine_tune({args.epochs}, "
              f"freeze_epochs={args.freeze_epochs}), batch {args.batch_size}")

        common = dict(size=args.size, epochs=args.epochs, freeze_epochs=args.freeze_epochs, batch_size=args.batch_size,
                      head="cnn", seed=0, patience=99)
        variants = {
            f"flightpaths (unfreeze {'all' if k == 0 else f'last {k}'})": TrainSettings(**{**common, "unfreeze": k})
            for k in (int(v) for v in args.unfreeze.split(","))
        }
        if args.hybrid:
            variants["flightpaths hybrid (CNN + figures)"] = TrainSettings(**{**common, "head": "hybrid"})
        # the window figures alone (issue 9's comparison): seconds, so always run
        variants["flightpaths figures only"] = TrainSettings(**{**common, "head": "figures", "epochs": 30, "lr": 1e-2})
        results: dict[str, list[dict]] = {name: [] for name in [*variants, *([] if args.skip_fastai else ["fastai 2.8"])]}
        for r in range(args.repeats):
            for name, settings in variants.items():
                res = run_ours(ds, tmp_path / f"m{r}", settings)
                assert np.array_equal(res["valid"], split.valid), "the trainer used a different split"
                results[name].append(res)
                print(f"  run {r + 1}: {name}: {res['wall_s']:.1f}s acc {res['accuracy']:.3f} aupr {res['aupr']:.3f}"
                      f" {json.dumps({k: round(v, 1) for k, v in res['timings'].items()})}", flush=True)
            if not args.skip_fastai:
                res = run_fastai(ds, list(data.paths), split.train, split.valid, data.classes, epochs=args.epochs,
                                 freeze=args.freeze_epochs, size=args.size, bs=args.batch_size, seed=0)
                results["fastai 2.8"].append(res)
                print(f"  run {r + 1}: fastai 2.8: {res['wall_s']:.1f}s acc {res['accuracy']:.3f} aupr {res['aupr']:.3f}", flush=True)

        print("\ntrainer                        wall s (median)  accuracy  F1     AUPR   (final epoch, grouped validation)")
        med = {name: {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "accuracy", "f1", "aupr")}
               for name, runs in results.items() if runs}
        for name, m in med.items():
            print(f"{name:<30} {m['wall_s']:>14.1f}  {m['accuracy']:.3f}     {m['f1']:.3f}  {m['aupr']:.3f}")
        if "fastai 2.8" in med:
            for name in [v for v in variants if "figures" not in v]:
                ratio = med[name]["wall_s"] / med["fastai 2.8"]["wall_s"]
                print(f"ratio {name} / fastai wall time: {ratio:.2f} (target <= 0.50); "
                      f"accuracy difference {med[name]['accuracy'] - med['fastai 2.8']['accuracy']:+.3f}")

        phase1 = {}
        for cache in (True, False):
            s = TrainSettings(**{**common, "epochs": 0, "freeze_epochs": args.phase1_epochs, "cache_features": cache, "unfreeze": 0})
            res = run_ours(ds, tmp_path / "p1", s)
            phase1[cache] = res["timings"].get("phase1_cache_s", 0.0) + res["timings"].get("phase1_train_s", 0.0)
        print(f"\nphase 1 ({args.phase1_epochs} frozen-body epochs): {phase1[True]:.1f}s with feature caching, "
              f"{phase1[False]:.1f}s running the body every epoch (ratio {phase1[True] / phase1[False]:.2f})")


if __name__ == "__main__":
    main()
