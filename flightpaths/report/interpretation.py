"""The interpretation report of a model bundle on a dataset: the judged side, the baselines, the honesty sections."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..fileio import atomic_write_bytes, check_output, csv_plain_frame
from ..score.turns import window_multiscale_deg
from .baselines import baseline_table, histogram_features
from .evaluation import Evaluation
from .page import _contact_png, _load_image, _table_html, write_interpretation

__all__ = [
    "interpretation_report",
]


def _provenance(data: Any) -> pd.DataFrame:
    """image path, window id and source rows of every dataset image (from manifest.csv)."""
    items = pd.DataFrame({"image": [str(p) for p in data.paths], "group": list(data.groups)})
    items["window_id"] = [Path(p).stem for p in data.paths]
    manifest_path = Path(data.root) / "manifest.csv"
    if manifest_path.is_file():
        manifest = csv_plain_frame(pd.read_csv(manifest_path, dtype=str))
        keep = [c for c in ("window_id", "object_id", "callsign", "start", "source_file", "line_first", "line_last") if c in manifest]
        if "window_id" in keep:
            items = items.merge(manifest[keep].drop_duplicates("window_id"), on="window_id", how="left")
    return items


def _model_name(meta: dict[str, Any]) -> str:
    """What the report calls the model: a figures-only head is no CNN.

    >>> _model_name({"backbone": "efficientnet_lite0", "head": "figures"})
    'figures head (no CNN)'
    >>> _model_name({"backbone": "efficientnet_lite0", "head": "hybrid"})
    'CNN + figures (efficientnet_lite0)'
    """
    backbone = meta.get("backbone", "bundle")
    head = meta.get("head", "cnn")
    if head == "figures":
        return "figures head (no CNN)"
    return f"CNN + figures ({backbone})" if head == "hybrid" else f"CNN ({backbone})"


@dataclass(frozen=True)
class _Judged:
    """The judged (validation) side of a dataset: indices, probabilities already in hand, and how it was chosen."""

    train: np.ndarray
    valid: np.ndarray
    probs: np.ndarray | None  # out-of-fold probabilities of the valid rows, when cross-validation gave them
    notes: tuple[str, ...]


def interpretation_report(
    model_dir: str | Path,
    dataset_dir: str | Path,
    out_dir: str | Path,
    *,
    windows: str | Path | None = None,
    overwrite: bool = False,
    batch_size: int = 64,
) -> Path:
    """Score the dataset's validation side with the bundle and write the report.

    The validation images are those recorded in the bundle's split (``valid_images``);
    without that record the dataset is split again the trainer's way (grouped, seed 0).
    Baselines use the window figures from the dataset's ``manifest.csv``; the gradient-boosted
    one adds histograms of speed, altitude and turn rate when *windows* (a windows parquet
    with per-point arrays, from ``flightpaths tracks``) is given.
    """
    from ..train.console import read_warnings

    bundle, meta, data = _bundle_and_dataset(model_dir, dataset_dir)
    cv = _read_cv(Path(model_dir))
    oof = {str(r["image"]): r for r in cv.get("out_of_fold", [])} if cv else {}
    judged = _judged_side(data, bundle, meta, cv, oof)
    valid = judged.valid
    probs = judged.probs if judged.probs is not None else _valid_probs(bundle, meta, data, valid, batch_size)
    items = _provenance(data).iloc[valid].reset_index(drop=True)
    ev = Evaluation(tuple(data.classes), data.labels[valid], probs, items, name=_model_name(meta), notes=judged.notes)
    table, curves, baseline_note = _interpretation_baselines(ev, data, judged, windows)
    said = _report_warnings(read_warnings(model_dir), data, valid, ev)
    out = Path(out_dir)
    check_output(out / "index.html", overwrite=overwrite)
    out.mkdir(parents=True, exist_ok=True)
    sections = [_metrics_section(meta, cv), _groups_section(data, valid, oof), _duplicates_section(data, out, overwrite)]
    return write_interpretation(out_dir, ev, baselines=table, baseline_curves=curves, overwrite=overwrite,
                                warnings=said, sections=sections, baseline_note=baseline_note)


def _bundle_and_dataset(model_dir: str | Path, dataset_dir: str | Path) -> tuple[Any, dict[str, Any], Any]:
    """The bundle, its metadata, and the dataset read the way the bundle was trained; their classes must agree."""
    from ..train.data import scan_dataset
    from ..train.predict import load_bundle

    bundle = load_bundle(model_dir)
    meta = getattr(bundle, "meta", None) or {}
    trained = meta.get("settings") or {}
    data = scan_dataset(dataset_dir, group_by=str(trained.get("group_by", "object")),
                        session_gap_min=float(trained.get("session_gap_min", 30.0)))
    if list(data.classes) != [str(c) for c in bundle.classes]:
        raise InputError(f"dataset classes {list(data.classes)} differ from the model's {list(bundle.classes)}", path=dataset_dir)
    return bundle, meta, data


def _judged_side(data: Any, bundle: Any, meta: dict[str, Any], cv: dict[str, Any], oof: dict[str, Any]) -> _Judged:
    """Out-of-fold images when cross-validation judged them, else the bundle's validation images, else a re-split."""
    from ..train.data import split_dataset

    rel = data.relpaths
    split_meta = getattr(bundle, "split", None) or meta.get("split") or {}
    valid_names = set(split_meta.get("valid_images") or []) if isinstance(split_meta, dict) else set()
    if oof and set(oof) & set(rel):
        valid = np.array([i for i, r in enumerate(rel) if r in oof])
        return _Judged(np.array([i for i, r in enumerate(rel) if r not in oof], dtype=np.int64), valid,
                       np.array([oof[rel[i]]["probs"] for i in valid], float),
                       (f"out-of-fold predictions of {cv.get('k')}-fold cross-validation ({cv.get('method')}): each image"
                        " judged by the fold model that did not train on it; the saved model was then trained on all images",))
    if valid_names & set(rel):
        valid = np.array([i for i, r in enumerate(rel) if r in valid_names])
        return _Judged(np.array([i for i, r in enumerate(rel) if r not in valid_names]), valid, None,
                       (f"validation side: the {len(valid)} images the model was validated on"
                        f" ({split_meta.get('method', 'recorded split')})",))
    split = split_dataset(data)
    return _Judged(split.train, split.valid, None,
                   (f"validation side: re-split ({split.method}); the bundle records no matching split",))


def _valid_probs(bundle: Any, meta: dict[str, Any], data: Any, valid: np.ndarray, batch_size: int) -> np.ndarray:
    """The bundle's class probabilities for the images *valid*, *batch_size* at a time."""
    size = int(getattr(bundle, "image_size", 0) or meta.get("image_size", 224))
    transform = str(meta.get("image_transform", "none"))
    paths = [data.paths[i] for i in valid]
    fig_cols = list(getattr(bundle, "figure_columns", ()) or ())
    probs = []
    for lo in range(0, len(paths), batch_size):
        imgs = _model_inputs(paths[lo : lo + batch_size], size, transform)
        figs = data.figures.iloc[valid[lo : lo + batch_size]][fig_cols].reset_index(drop=True) if fig_cols and data.figures is not None else None
        probs.append(np.asarray(bundle.predict_images(imgs, figs), float))
    return np.concatenate(probs) if probs else np.zeros((0, len(data.classes)))


def _interpretation_baselines(ev: Evaluation, data: Any, judged: _Judged, windows: str | Path | None
                              ) -> tuple[pd.DataFrame | None, list[tuple[str, np.ndarray, np.ndarray]], str]:
    """The baselines table and curves, fitted on the training side; or why there are none."""
    curves: list[tuple[str, np.ndarray, np.ndarray]] = []
    if data.figures is None:
        return None, curves, ("this is a plain image folder: the turn-counting rule and the gradient-boosted baseline read"
                              " window figures (turn, straightness, radius...) from the manifest.csv that `flightpaths render`"
                              " writes, and a folder of pictures has none, so the model stands alone.")
    if not len(judged.train):
        return None, curves, "every image was judged out of fold; the baselines need a training side and were not fitted."
    feats, note = data.figures, "scalar window figures"
    if windows is not None:
        feats = _window_features(data, windows)
        note = "speed/altitude/turn-rate histograms + scalar window figures"
    train, valid = judged.train, judged.valid
    table = baseline_table(ev, feats.iloc[train].reset_index(drop=True), data.labels[train],
                           feats.iloc[valid].reset_index(drop=True), figure_note=note, curves=curves)
    return table, curves, ""


def _window_features(data: Any, windows: str | Path) -> pd.DataFrame:
    """Histograms and the multi-scale turn of each image's window (from the windows parquet), beside its figures."""
    win = pd.read_parquet(windows)
    stems = [Path(p).stem for p in data.paths]
    win = win.drop_duplicates("window_id").set_index("window_id").reindex(stems).reset_index()
    hist = histogram_features(win).assign(turn_multi_deg=window_multiscale_deg(win))
    return pd.concat([hist, data.figures.reset_index(drop=True)], axis=1)



# ------------------------------------------------------------------------------- honesty sections


def _read_cv(model_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((model_dir / "cv.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _model_inputs(paths: Sequence[Path], size: int, transform: str) -> Any:
    """Images as the bundle must see them: resized here when no transform, else full size (the bundle transforms, then resizes)."""
    from PIL import Image

    from ..train.data import load_images, read_image

    if transform == "none":
        return load_images(list(paths), size)
    out = []
    for p in paths:
        with Image.open(p) as im:
            side = max(im.size)
        out.append(read_image(p, side))
    return out


def _report_warnings(said: Sequence[str], data: Any, valid: np.ndarray, ev: Evaluation) -> list[str]:
    """The console's warnings, plus those the report can see for itself (no repeats)."""
    from ..train.metrics import MIN_GROUPS

    out = list(said)
    out += [w for w in data.warnings if w not in out]
    n_groups = len({data.groups[i] for i in valid})
    if 0 < n_groups < MIN_GROUPS:
        out.append(f"the judged images come from only {n_groups} group(s) ({data.group_source}): the figures swing with the split")
    if len(ev.preds) and len(set(ev.preds.tolist())) == 1:
        out.append(f"the model predicts {ev.classes[int(ev.preds[0])]!r} for every judged image: a one-class model")
    return out


def _metrics_section(meta: dict[str, Any], cv: dict[str, Any]) -> str:
    """Metrics with their 95% intervals, and the cross-validation folds when there were any."""
    metrics = meta.get("metrics") or {}
    rows = [{"metric": name, "value": metrics[name], "95% interval": f"[{metrics[name + '_lo']:.3f}, {metrics[name + '_hi']:.3f}]"}
            for name in ("accuracy", "f1", "aupr") if name in metrics and f"{name}_lo" in metrics]
    parts = ["<h2>Intervals</h2>"]
    if rows:
        parts.append(_table_html(pd.DataFrame(rows)))
        parts.append(f"<p>{html.escape(str(meta.get('metrics_note', '')))}</p>")
    if cv.get("folds"):
        parts.append(f"<h3>Cross-validation: {html.escape(str(cv.get('method', '')))}</h3>")
        parts.append(_table_html(pd.DataFrame(cv["folds"])))
        summary = cv.get("summary") or {}
        spread = [{"metric": n, "mean": summary.get(f"{n}_mean"), "sd": summary.get(f"{n}_sd"), "min": summary.get(f"{n}_min"),
                   "max": summary.get(f"{n}_max")} for n in ("accuracy", "balanced_accuracy", "aupr") if f"{n}_mean" in summary]
        parts.append(_table_html(pd.DataFrame(spread)))
        parts.append(f"<p>{html.escape(str(cv.get('note', '')))}</p>")
    if len(parts) == 1:
        parts.append("<p>The bundle records no intervals (more than 1,000 validation images, or an older bundle).</p>")
    return "".join(parts)


def _groups_section(data: Any, valid: np.ndarray, oof: dict[str, Any]) -> str:
    """One row per group: images per class and the side it was judged on."""
    judged = set(valid.tolist())
    frame = pd.DataFrame({"group": list(data.groups), "class": [data.classes[k] for k in data.labels],
                          "side": ["judged" if i in judged else "training" for i in range(len(data))]})
    if oof:
        rel = data.relpaths
        frame["side"] = [f"fold {oof[r]['fold']}" if r in oof else "training" for r in rel]
    table = frame.pivot_table(index=["group", "side"], columns="class", aggfunc="size", fill_value=0).reset_index()
    return (f"<h2>Groups ({html.escape(data.group_source)}): {frame['group'].nunique()}</h2>"
            "<p>All images of a group stay on one side of every split.</p>" + _table_html(table))


def _duplicates_section(data: Any, out: Path, overwrite: bool, limit: int = 12) -> str:
    """Every set of repeated images, with thumbnails of the first *limit* sets."""
    from ..label.duplicates import describe_duplicates, find_duplicates

    report = find_duplicates(list(data.paths))
    lines = describe_duplicates(report, data.relpaths)
    parts = [f"<h2>Duplicate sets: {len(lines)}</h2><p>{html.escape(report.summary())}</p>"]
    if not lines:
        return "".join(parts)
    parts.append("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>")
    sets = [*report.exact_sets, *[s for s in report.near_sets if s not in report.exact_sets]][:limit]
    for k, members in enumerate(sets):
        name = f"duplicates_{k + 1:02d}.png"
        atomic_write_bytes(out / name, _contact_png([_load_image(data.paths[i]) for i in members[:8]],
                                                    [data.relpaths[i][-34:] for i in members[:8]], f"set {k + 1}"))
        parts.append(f'<img src="{name}" alt="duplicate set {k + 1}" style="max-width:48%">')
    return "".join(parts)
