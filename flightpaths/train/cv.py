"""Grouped K-fold cross-validation for small folders, then one final model on every image.

A folder of a few hundred images gives a validation split of one or two dozen groups, and its
figure swings with the split. :func:`cross_validate` trains K grouped folds
(:func:`flightpaths.train.data.grouped_folds`: groups and duplicate images never straddle),
reports the mean and spread of each fold's accuracy, balanced accuracy and AUPR at the end of
the fixed schedule (no epoch is picked on the fold it is judged on), and then trains the final
model on all images with the same schedule. The figures go into the bundle's ``model.json``
(``cv``) and ``cv.json``.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..fileio import atomic_write_text, check_output
from .data import LabelledImages, Split, grouped_folds, load_images, scan_dataset
from .engine import TrainResult, TrainSettings, train

__all__ = ["AUTO_CV_BELOW", "CV_METRICS", "CVResult", "cross_validate", "cv_summary", "default_folds", "summarise_folds"]

log = logging.getLogger(__name__)

#: Folders with fewer images than this are cross-validated by default (``flightpaths train``).
AUTO_CV_BELOW = 400
CV_METRICS = ("accuracy", "balanced_accuracy", "aupr", "loss")


@dataclass
class CVResult:
    """Per-fold figures, their summary, and the final model trained on every image."""

    folds: list[dict[str, Any]]
    summary: dict[str, float]
    method: str
    final: TrainResult | None
    notes: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    predictions: list[dict[str, Any]] = field(default_factory=list)  # out-of-fold: image, fold, label, probs

    def to_json(self) -> dict[str, Any]:
        """What ``cv.json`` and the bundle's ``cv`` record."""
        return {"method": self.method, "k": len(self.folds), "summary": self.summary, "folds": self.folds,
                "notes": list(self.notes), "timings": self.timings, "out_of_fold": self.predictions,
                "note": "each fold judged at the end of the fixed schedule (no epoch chosen on the fold itself)"}


def summarise_folds(folds: list[dict[str, Any]]) -> dict[str, float]:
    """Mean, standard deviation, minimum and maximum over folds of each metric in :data:`CV_METRICS`.

    >>> summarise_folds([{"accuracy": 0.8}, {"accuracy": 0.9}])["accuracy_mean"]
    0.85
    """
    out: dict[str, float] = {}
    for name in CV_METRICS:
        vals = np.asarray([f[name] for f in folds if name in f and np.isfinite(f[name])], float)
        if len(vals):
            out[f"{name}_mean"] = round(float(vals.mean()), 6)
            out[f"{name}_sd"] = round(float(vals.std(ddof=1)) if len(vals) > 1 else 0.0, 6)
            out[f"{name}_min"], out[f"{name}_max"] = float(vals.min()), float(vals.max())
    pooled = sum(f.get("n_valid", 0) for f in folds)
    if pooled:
        out["n_valid_total"] = pooled
    return out


def _fold_row(i: int, split: Split, result: TrainResult, seconds: float) -> dict[str, Any]:
    last = result.history.iloc[-1].to_dict() if len(result.history) else {}
    row = {"fold": i + 1, "n_train": int(len(split.train)), "n_valid": int(len(split.valid)),
           "groups_valid": split.n_groups_valid, "seconds": round(seconds, 1)}
    for name in (*CV_METRICS, "predicted_share"):
        if name in last:
            row[name] = float(last[name])
    return row


def cross_validate(
    dataset: str | Path,
    out_dir: str | Path,
    settings: TrainSettings = TrainSettings(),
    *,
    k: int = 5,
    final: bool = True,
    overwrite: bool = False,
    progress: bool = False,
) -> CVResult:
    """Train *k* grouped folds of *dataset*, summarise them, then (with *final*) train on every image into *out_dir*."""
    t0 = time.perf_counter()
    out = Path(out_dir)
    if final and out.exists() and any(out.iterdir()):
        check_output(out, overwrite=overwrite)  # refuse before hours of folds, not after
    folds = _prepare_folds(dataset, settings, k, progress)
    rows, oof, fold_of = _run_folds(folds)
    _warn_one_class(rows)
    summary = summarise_folds(rows)
    method = folds.splits[0].method.split(" (fold")[0] + f" by {folds.data.group_source}"
    timings = {"folds_s": round(time.perf_counter() - t0, 1)}
    cv = CVResult(rows, summary, method, None, folds.splits[0].notes, timings, _oof_predictions(folds.data, oof, fold_of))
    if final:
        _train_final(folds, out_dir, overwrite, cv)
    return cv


@dataclass(frozen=True)
class _Folds:
    """What the folds and the final model of one cross-validation share."""

    dataset: str | Path
    data: LabelledImages
    splits: list[Split]
    images: np.ndarray
    settings: TrainSettings  # the folds' settings: the whole schedule, judged at its end
    progress: bool


def _prepare_folds(dataset: str | Path, settings: TrainSettings, k: int, progress: bool) -> _Folds:
    """Read *dataset*, make its *k* grouped folds (warning when there are few groups) and load its images once."""
    data = scan_dataset(dataset, group_by=settings.group_by, session_gap_min=settings.session_gap_min)
    for w in data.warnings:
        log.warning("warning: %s", w)
    splits = grouped_folds(data, k, seed=settings.seed)
    n_groups = len(set(data.groups))
    log.info("%d-fold cross-validation: %d images in %d groups (%s); %s", len(splits), len(data), n_groups,
             data.group_source, "; ".join(splits[0].notes[1:]))
    if n_groups < 2 * len(splits):
        log.warning("warning: only %d groups (%s) for %d folds: each fold is judged on one or two groups, so the"
                    " spread between folds is large", n_groups, data.group_source, len(splits))
    images = load_images(data.paths, settings.size, progress=progress, workers=settings.workers,
                         transform=settings.transform)
    return _Folds(dataset, data, splits, images, replace(settings, patience=10**6), progress)


def _run_folds(f: _Folds) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
    """Train every fold (in a temporary folder): each fold's row, the out-of-fold probabilities and each image's fold."""
    rows = []
    oof = np.full((len(f.data), len(f.data.classes)), np.nan)
    fold_of = np.zeros(len(f.data), np.int64)
    with tempfile.TemporaryDirectory(prefix="flightpaths-cv-") as tmp:
        for i, split in enumerate(f.splits):
            t = time.perf_counter()
            result = train(f.dataset, Path(tmp) / f"fold{i + 1}", f.settings, split=split, images=f.images, quiet=True,
                           progress=f.progress)
            rows.append(_fold_row(i, split, result, time.perf_counter() - t))
            if result.last_valid_probs is not None and len(result.last_valid_probs) == len(split.valid):
                oof[split.valid] = result.last_valid_probs
                fold_of[split.valid] = i + 1
            log.info("fold %d/%d: %d valid images (%d groups): accuracy %.3f, balanced accuracy %.3f, AUPR %.3f",
                     i + 1, len(f.splits), rows[-1]["n_valid"], rows[-1]["groups_valid"], rows[-1].get("accuracy", np.nan),
                     rows[-1].get("balanced_accuracy", np.nan), rows[-1].get("aupr", np.nan))
            shutil.rmtree(Path(tmp) / f"fold{i + 1}", ignore_errors=True)
    return rows, oof, fold_of


def _warn_one_class(rows: list[dict[str, Any]]) -> None:
    """Warn about folds whose model calls every image it judges one class."""
    one_class = [r["fold"] for r in rows if r.get("predicted_share", 0.0) >= 1.0]
    if one_class:
        log.warning("warning: fold(s) %s predict one class for every image they judge: read their accuracy as the"
                    " share of that class, not as skill", ", ".join(map(str, one_class)))


def _oof_predictions(data: LabelledImages, oof: np.ndarray, fold_of: np.ndarray) -> list[dict[str, Any]]:
    """Every judged image's out-of-fold probabilities, with its fold and label."""
    judged = np.flatnonzero(np.isfinite(oof).all(1))
    return [{"image": data.relpaths[j], "fold": int(fold_of[j]), "label": data.classes[data.labels[j]],
             "probs": [round(float(p), 6) for p in oof[j]]} for j in judged]


def _train_final(f: _Folds, out_dir: str | Path, overwrite: bool, cv: CVResult) -> None:
    """Train the final model on every image into *out_dir* and record the cross-validation there."""
    t = time.perf_counter()
    first = f.splits[0]
    everything = Split(np.arange(len(f.data)), np.zeros(0, np.int64), "all images (final model; judged by cross-validation)",
                       len(set(f.data.groups)), 0, first.duplicate_sets, first.notes)
    cv.final = train(f.dataset, out_dir, f.settings, split=everything, images=f.images, quiet=True,
                     overwrite=overwrite, progress=f.progress)
    cv.timings["final_s"] = round(time.perf_counter() - t, 1)
    _record(Path(out_dir), cv)


def _record(out: Path, result: CVResult) -> None:
    """Write ``cv.json`` and put the cross-validated figures into the bundle's ``model.json``."""
    record = result.to_json()
    atomic_write_text(out / "cv.json", json.dumps(record, indent=2) + "\n")
    meta_path = out / "model.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["cv"] = {k: v for k, v in record.items() if k != "out_of_fold"}  # predictions stay in cv.json
    meta["metrics"] = {name: value for name, value in result.summary.items() if name.endswith("_mean")}
    meta["metrics_note"] = f"means over {len(result.folds)} cross-validation folds ({result.method}); see cv"
    atomic_write_text(meta_path, json.dumps(meta, indent=2) + "\n")


def default_folds(dataset: str | Path, settings: TrainSettings, cv: int | None, *, resume: bool = False) -> tuple[int, str]:
    """How many folds to cross-validate (0 = one split), and a sentence saying why."""
    if resume:
        return 0, "resuming a single-split run: no cross-validation"
    if cv is not None:
        return cv, (f"{cv}-fold grouped cross-validation, then a final model on all images" if cv else
                    "one grouped train/validation split (--cv 0)")
    data = scan_dataset(dataset, group_by=settings.group_by, session_gap_min=settings.session_gap_min)
    if data.valid_mask is not None:
        return 0, "explicit train/ and valid/ folders: judged on valid/, no cross-validation"
    if len(data) < AUTO_CV_BELOW:
        return 5, (f"{len(data)} images (under {AUTO_CV_BELOW}): one validation split would be a handful of groups, so"
                   " 5-fold grouped cross-validation, then a final model on all images (--cv 0 for one split)")
    return 0, f"{len(data)} images: one grouped train/validation split (--cv K to cross-validate)"


def cv_summary(model_dir: str | Path, head: str, result: CVResult) -> dict[str, Any]:
    """The JSON ``flightpaths train --cv`` prints: method, folds and mean/spread of the metrics."""
    s = result.summary
    metrics = {name: round(s[f"{name}_mean"], 4) for name in CV_METRICS if f"{name}_mean" in s}
    spread = {name: [round(s[f"{name}_min"], 4), round(s[f"{name}_max"], 4)] for name in CV_METRICS if f"{name}_min" in s}
    return {"model": str(model_dir), "head": head, "split": result.method, "folds": len(result.folds),
            "n_valid": int(s.get("n_valid_total", 0)), "metrics": metrics,
            "sd": {name: round(s[f"{name}_sd"], 4) for name in CV_METRICS if f"{name}_sd" in s},
            "fold_range": spread}
