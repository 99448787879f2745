"""A reporter's own folder of maps: grouped cross-validation, flightpaths beside fastai, same folds.

The folder is the 183 hand-sorted NYPD helicopter maps (``../shared/data/images/quartz-choppers``).
Folds are grouped by flight session (same tail number, snapshots at most ``--gap`` minutes
apart; duplicate images never straddle a fold) and stratified by class. In the same run, on
the same folds and the same EfficientNet-Lite0 ImageNet weights:

* fastai 2.8 ``vision_learner`` + ``fine_tune(4)`` on the maps as they are (the lesson-1 recipe);
* ``flightpaths`` cross-validation (:func:`flightpaths.train.cv.cross_validate`) for each
  ``TRANSFORM[:HEAD]`` in ``--runs`` (transforms: ``none``, the maps as they are; ``red-track``,
  the red track kept and the basemap whitened; ``red-track-loops``, also the areas the track
  closes around filled. Heads: ``cnn``; ``hybrid``, the CNN's pooled features beside the figures
  the transform measures on each map (loops closed, track length and extent,
  :mod:`flightpaths.train.mapfigures`); ``figures``, those figures alone, no CNN).

Prints per fold and the mean, spread and wall time of each. Each fold is judged at the end of
its fixed schedule (no epoch chosen on the fold it is judged on). fastai's ``fine_tune(4)`` takes
about 15 minutes a fold on a busy 2-core CPU: ``--fastai-folds N`` runs it on the first N folds
only, and the table then also gives each flightpaths row's mean over those same folds.

    .venv/bin/python benchmarks/bench_folder.py --fastai-folds 5     # all five folds: over an hour on a busy 2-core CPU
    .venv/bin/python benchmarks/bench_folder.py --runs red-track-loops:hybrid --skip-fastai

fastai is the project's ``bench`` extra: ``pip install 'fastai>=2.8,<2.9'``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from flightpaths.train.cv import cross_validate  # noqa: E402
from flightpaths.train.data import grouped_folds, scan_dataset  # noqa: E402
from flightpaths.train.engine import TrainSettings  # noqa: E402

FOLDER = REPO.parent / "shared" / "data" / "images" / "quartz-choppers"


def _line(name: str, accs: list[float], bal: list[float], wall: float, n: int, k: int, first: int = 0) -> str:
    a, b = np.asarray(accs), np.asarray(bal)
    balanced = f"{b.mean():.3f}" if np.isfinite(b).all() else "-"
    sd = f"{a.std(ddof=1):.3f}" if len(a) > 1 else "-"
    on_first = f"{a[:first].mean():.3f}" if first else f"{a.mean():.3f}"
    return (f"| {name} | {n} of {k} | {a.mean():.3f} ± {sd} | {a.min():.2f}-{a.max():.2f} | {balanced} | {wall:.0f} s |"
            f" {on_first} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=FOLDER)
    ap.add_argument("--k", type=int, default=5, help="folds")
    ap.add_argument("--gap", type=float, default=30.0, help="flight-session gap in minutes")
    ap.add_argument("--size", type=int, default=128, help="image side for both trainers")
    ap.add_argument("--epochs", type=int, default=4, help="epochs with the body unfrozen (fine_tune(4))")
    ap.add_argument("--runs", default="red-track-loops:figures,red-track-loops:hybrid",
                    help="flightpaths runs to compare, TRANSFORM[:HEAD] (head auto, cnn, hybrid or figures)")
    ap.add_argument("--fastai-folds", type=int, default=5, help="run fastai on the first N folds only (0 = skip)")
    ap.add_argument("--skip-fastai", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not args.folder.is_dir():
        sys.exit(f"{args.folder} not found (the Quartz helicopter maps; see ../shared/data/README.md)")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    data = scan_dataset(args.folder, group_by="session", session_gap_min=args.gap)
    folds = grouped_folds(data, args.k, seed=args.seed)
    n_fastai = 0 if args.skip_fastai else min(args.fastai_folds, len(folds))
    print(f"{len(data)} images, {len(set(data.groups))} flight sessions (gap {args.gap:g} min); {folds[0].method.split(' (')[0]};"
          f" validation images per fold {[len(f.valid) for f in folds]}; torch {torch.__version__},"
          f" {torch.get_num_threads()} threads; size {args.size}, fine_tune({args.epochs})", flush=True)
    rows = []
    if n_fastai:
        from bench_train import run_fastai

        t = time.perf_counter()
        accs, bals = [], []
        for i, f in enumerate(folds[:n_fastai]):
            res = run_fastai(args.folder, list(data.paths), f.train, f.valid, data.classes, epochs=args.epochs, freeze=1,
                             size=args.size, bs=16, seed=args.seed)
            accs.append(res["accuracy"])
            bals.append(res.get("balanced_accuracy", np.nan))
            print(f"  fastai fold {i + 1}: accuracy {res['accuracy']:.3f} ({res['wall_s']:.0f} s)", flush=True)
        rows.append(_line(f"fastai 2.8 `fine_tune({args.epochs})`, maps as they are", accs, bals, time.perf_counter() - t,
                          n_fastai, len(folds)))
        print(f"  row: {rows[-1]}", flush=True)
    for run in [r for r in args.runs.split(",") if r]:
        transform, _, head = run.partition(":")
        settings = TrainSettings(group_by="session", session_gap_min=args.gap, transform=transform, size=args.size,
                                 epochs=args.epochs, freeze_epochs=1, seed=args.seed, head=head or "auto")
        t = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            res = cross_validate(args.folder, Path(tmp) / "m", settings, k=args.k, final=False)
        accs = [r["accuracy"] for r in res.folds]
        bals = [r["balanced_accuracy"] for r in res.folds]
        for r in res.folds:
            print(f"  flightpaths {run} fold {r['fold']}: accuracy {r['accuracy']:.3f} ({r['seconds']:.0f} s)", flush=True)
        name = f"flightpaths `--transform {transform}`" + (f", head {head}" if head else "")
        rows.append(_line(name, accs, bals, time.perf_counter() - t, len(folds), len(folds), n_fastai))
        print(f"  row: {rows[-1]}", flush=True)
    same = f" | accuracy on fastai's {n_fastai} fold(s)" if 0 < n_fastai < len(folds) else ""
    print(f"\n| trainer | folds | accuracy, mean ± sd over folds | fold range | balanced accuracy | wall time{same} |")
    print("|---|---|---|---|---|---|" + ("---|" if same else ""))
    for row in rows:
        print(row if same else row.rsplit(" |", 2)[0] + " |")


if __name__ == "__main__":
    main()
