"""Interpretation: what the model gets right and wrong, beside two simple baselines.

:func:`interpretation_report` (``flightpaths report MODEL DATASET -o OUT/``) scores a dataset's
validation images with a model bundle and writes, into one folder with an ``index.html``:
the confusion matrix (plot and table), per-class precision/recall/F1, the precision-recall
curve with its area (AUPR), precision at k, the top losses (what the model was most
confidently wrong about, with file names and provenance), the most-confused class pairs and
the likeliest examples of each class as contact sheets.

Beside the CNN, on the same split: (1) a rule on window figures (net signed turn and
compactness, thresholds fitted on the training side), and, when the windows' points are at
hand (``--windows``), the circling-alert bots' multi-scale turn rule (the largest |net turn|
over 5 to 40 minutes inside the window, :mod:`flightpaths.score.turns`; threshold fitted on
the training side), (2) a gradient-boosted model on
per-window histograms of speed, altitude and turn rate plus the scalar figures, in the
style of BuzzFeed News' and Quartz's spy-plane classifiers. A reporter can see whether the
CNN earns its keep. :func:`write_interpretation` is the same report from predictions already
in hand (the trainer calls it at the end of training).
"""

from __future__ import annotations

import html
import io
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import FlightpathsError, InputError
from .fileio import atomic_write_bytes, atomic_write_text, check_output, csv_plain_frame, write_csv
from .metrics import average_precision
from .score.settings import episode_classes
from .score.turns import window_multiscale_deg

__all__ = [
    "Evaluation",
    "HIST_SPECS",
    "RuleBaseline",
    "baseline_table",
    "confusion_matrix",
    "fit_forest_baseline",
    "fit_multiscale_threshold",
    "fit_rule_baseline",
    "histogram_features",
    "interpretation_report",
    "most_confused",
    "per_class_metrics",
    "precision_at_k",
    "summary_row",
    "top_losses",
    "write_interpretation",
]

log = logging.getLogger(__name__)

#: Per-point array -> histogram bin edges (absolute values for turn rate), as in the
#: BuzzFeed News and Quartz classifiers (speed, altitude and turn-rate distributions).
HIST_SPECS: dict[str, tuple[float, ...]] = {
    "pspeed": (0, 40, 80, 120, 160, 200, 300, 450, 1e9),
    "palt": (-1e9, 500, 1000, 2000, 3000, 5000, 10000, 20000, 1e9),
    "pturn": (0, 0.5, 1, 2, 3, 5, 8, 1e9),
}
_RULE_FIGURES = ("net_turn_rev", "straightness")
_KS = (5, 10, 20, 50, 100)


# --------------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class Evaluation:
    """Predictions of one model on labelled items (rows align).

    items: one row per item with at least ``image`` (a path or name shown to people); any
    provenance columns (``window_id``, ``object_id``, ``source_file``, ``line_first``,
    ``line_last``) are shown in the galleries.
    """

    classes: tuple[str, ...]
    labels: np.ndarray
    probs: np.ndarray
    items: pd.DataFrame
    name: str = "CNN"
    notes: tuple[str, ...] = field(default=())

    @property
    def preds(self) -> np.ndarray:
        """The most probable class of each item."""
        return self.probs.argmax(axis=1)

    @property
    def positive(self) -> int:
        """Index of the class a reporter looks for (e.g. ``circling``)."""
        return self.classes.index(episode_classes(list(self.classes))[0])


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts: rows are true classes, columns predicted classes.

    >>> confusion_matrix(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 2).tolist()
    [[1, 1], [0, 2]]
    """
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (labels.astype(int), preds.astype(int)), 1)
    return cm


def per_class_metrics(labels: np.ndarray, preds: np.ndarray, classes: Sequence[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support of each class (0 where undefined)."""
    cm = confusion_matrix(labels, preds, len(classes))
    tp = np.diag(cm).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(cm.sum(0) > 0, tp / cm.sum(0), 0.0)
        recall = np.where(cm.sum(1) > 0, tp / cm.sum(1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return pd.DataFrame({"class": list(classes), "precision": precision, "recall": recall, "f1": f1, "support": cm.sum(1)})


def precision_at_k(is_positive: np.ndarray, scores: np.ndarray, ks: Sequence[int] = _KS) -> dict[int, float]:
    """Share of true positives among the *k* highest scores (for each k not above the count).

    >>> precision_at_k(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1]), [1, 2, 4])
    {1: 1.0, 2: 0.5, 4: 0.5}
    """
    order = np.argsort(-np.asarray(scores, float), kind="stable")
    hits = np.asarray(is_positive, bool)[order]
    return {int(k): float(hits[:k].mean()) for k in ks if 0 < k <= len(hits)}


def _aupr(is_positive: np.ndarray, scores: np.ndarray) -> float:
    if is_positive.all() or not is_positive.any():
        return float("nan")
    return average_precision(is_positive, scores)


def summary_row(name: str, is_positive: np.ndarray, scores: np.ndarray, decided: np.ndarray, *, features: str = "") -> dict[str, Any]:
    """One row of the comparison table for a positive-class scorer."""
    tp = int((decided & is_positive).sum())
    precision = tp / max(int(decided.sum()), 1)
    recall = tp / max(int(is_positive.sum()), 1)
    p_at = precision_at_k(is_positive, scores, (10, 50))
    return {
        "model": name,
        "features": features,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "aupr": _aupr(is_positive, scores),
        "p_at_10": p_at.get(10, float("nan")),
        "p_at_50": p_at.get(50, float("nan")),
        "n": int(len(scores)),
    }


def top_losses(ev: Evaluation, k: int = 16) -> pd.DataFrame:
    """The *k* items with the highest loss (lowest probability given to the true class)."""
    p_true = ev.probs[np.arange(len(ev.labels)), ev.labels]
    loss = -np.log(np.clip(p_true, 1e-7, 1.0))
    order = np.argsort(-loss, kind="stable")[:k]
    out = ev.items.iloc[order].copy().reset_index(drop=True)
    out.insert(0, "loss", loss[order])
    out.insert(1, "actual", [ev.classes[i] for i in ev.labels[order]])
    out.insert(2, "predicted", [ev.classes[i] for i in ev.preds[order]])
    out.insert(3, "p_predicted", ev.probs[order, ev.preds[order]])
    return out


def most_confused(cm: np.ndarray, classes: Sequence[str], min_count: int = 1) -> pd.DataFrame:
    """Off-diagonal pairs (actual, predicted, count), most frequent first.

    >>> most_confused(np.array([[5, 2], [3, 9]]), ["a", "b"])
      actual predicted  count
    0      b         a      3
    1      a         b      2
    """
    rows = [(classes[i], classes[j], int(cm[i, j])) for i in range(len(classes)) for j in range(len(classes))
            if i != j and cm[i, j] >= min_count]
    rows.sort(key=lambda r: -r[2])
    return pd.DataFrame(rows, columns=["actual", "predicted", "count"])


# -------------------------------------------------------------------------------- baselines


@dataclass(frozen=True)
class RuleBaseline:
    """Positive when ``|net_turn_rev| >= min_turn_rev`` and ``straightness <= max_straightness``.

    Its ranking score is ``|net_turn_rev| * (1 - straightness)``: many net turns while staying
    compact (coming back to where it was).

    >>> rule = RuleBaseline(1.0, 0.3)
    >>> f = pd.DataFrame({"net_turn_rev": [-1.5, 0.2, 2.0], "straightness": [0.1, 0.05, 0.6]})
    >>> rule.decide(f).tolist(), rule.score(f).round(2).tolist()
    ([True, False, False], [1.35, 0.19, 0.8])
    """

    min_turn_rev: float
    max_straightness: float

    def score(self, figures: pd.DataFrame) -> np.ndarray:
        turn = np.abs(figures["net_turn_rev"].to_numpy(float))
        straight = np.clip(figures["straightness"].to_numpy(float), 0.0, 1.0)
        return np.nan_to_num(turn * (1.0 - straight), nan=0.0)

    def decide(self, figures: pd.DataFrame) -> np.ndarray:
        turn = np.nan_to_num(np.abs(figures["net_turn_rev"].to_numpy(float)), nan=0.0)
        straight = np.nan_to_num(figures["straightness"].to_numpy(float), nan=1.0)
        return (turn >= self.min_turn_rev) & (straight <= self.max_straightness)


def fit_rule_baseline(figures: pd.DataFrame, is_positive: np.ndarray) -> RuleBaseline:
    """The two thresholds that maximise F1 on the training side (a small grid)."""
    missing = [c for c in _RULE_FIGURES if c not in figures.columns]
    if missing:
        raise FlightpathsError(f"the rule baseline needs window figure(s) {', '.join(missing)}")
    best = (-1.0, RuleBaseline(1.0, 0.5))
    y = np.asarray(is_positive, bool)
    for turn in (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0):
        for straight in (0.1, 0.2, 0.3, 0.5, 0.7, 1.0):
            rule = RuleBaseline(turn, straight)
            d = rule.decide(figures)
            tp = float((d & y).sum())
            f1 = 2 * tp / max(float(d.sum() + y.sum()), 1.0)
            if f1 > best[0]:
                best = (f1, rule)
    return best[1]


#: Thresholds (degrees) the multi-scale rule's decision is chosen from (the bot alerts at 1,440).
_MULTISCALE_GRID = (90.0, 180.0, 270.0, 360.0, 540.0, 720.0, 1080.0, 1440.0)


def fit_multiscale_threshold(turn_deg: np.ndarray, is_positive: np.ndarray) -> float:
    """The multi-scale rule's threshold (degrees) that maximises F1 on the training side.

    >>> fit_multiscale_threshold(np.array([800.0, 400.0, 200.0, 30.0]), np.array([True, True, False, False]))
    270.0
    """
    turn = np.nan_to_num(np.asarray(turn_deg, float), nan=0.0)
    y = np.asarray(is_positive, bool)
    scores = [2 * float((turn >= th)[y].sum()) / max(float((turn >= th).sum() + y.sum()), 1.0) for th in _MULTISCALE_GRID]
    return _MULTISCALE_GRID[int(np.argmax(scores))]


def histogram_features(windows: pd.DataFrame, scalar_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Per-window features: normalised histograms of speed, altitude and |turn rate| (from the
    per-point arrays ``pspeed``, ``palt``, ``pturn``, when present) plus scalar figures.

    >>> w = pd.DataFrame({"pspeed": [np.array([50.0, 60, 250])], "straightness": [0.2]})
    >>> f = histogram_features(w, ["straightness"])
    >>> round(float(f["pspeed_40_80"].iloc[0]), 3), float(f["straightness"].iloc[0])
    (0.667, 0.2)
    """
    cols: dict[str, np.ndarray] = {}
    for name, edges in HIST_SPECS.items():
        if name not in windows.columns:
            continue
        rows = []
        for arr in windows[name]:
            a = np.asarray(arr if arr is not None else [], float)
            a = np.abs(a[np.isfinite(a)]) if name == "pturn" else a[np.isfinite(a)]
            h, _ = np.histogram(a, bins=np.asarray(edges, float))
            rows.append(h / max(len(a), 1))
        mat = np.asarray(rows, float).reshape(len(windows), len(edges) - 1)
        for j in range(len(edges) - 1):
            lo, hi = edges[j], edges[j + 1]
            label = f"{name}_{'lo' if lo <= -1e9 else f'{lo:g}'}_{'hi' if hi >= 1e9 else f'{hi:g}'}"
            cols[label] = mat[:, j]
    for name in scalar_columns:
        if name in windows.columns:
            cols[name] = pd.to_numeric(windows[name], errors="coerce").to_numpy(float)
    return pd.DataFrame(cols, index=windows.index)


def fit_forest_baseline(features: pd.DataFrame, labels: np.ndarray, *, seed: int = 0) -> Any:
    """A gradient-boosted tree model (scikit-learn; missing values allowed)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=seed)
    return model.fit(features.to_numpy(float), np.asarray(labels))


def baseline_table(
    ev: Evaluation,
    train_figures: pd.DataFrame | None,
    train_labels: np.ndarray | None,
    valid_figures: pd.DataFrame | None,
    *,
    figure_note: str = "",
    curves: list[tuple[str, np.ndarray, np.ndarray]] | None = None,
) -> pd.DataFrame:
    """The CNN beside the rule and the gradient-boosted baseline, positive class, same items.

    When *curves* is a list, ``(name, is_positive, scores)`` of each baseline is appended to it
    (for the precision-recall plot).
    """
    pos = ev.positive
    y = ev.labels == pos
    rows = [summary_row(ev.name, y, ev.probs[:, pos], ev.preds == pos, features="images")]
    if train_figures is None or valid_figures is None or train_labels is None:
        log.warning("no window figures for this dataset: baselines skipped")
        return pd.DataFrame(rows)
    ytr = train_labels == pos
    if all(c in train_figures.columns for c in _RULE_FIGURES):
        rule = fit_rule_baseline(train_figures, ytr)
        name = f"rule |net turn| >= {rule.min_turn_rev:g} rev and straightness <= {rule.max_straightness:g}"
        rows.append(summary_row(name, y, rule.score(valid_figures), rule.decide(valid_figures), features="net_turn_rev, straightness"))
        if curves is not None:
            curves.append(("rule", y, rule.score(valid_figures)))
    if "turn_multi_deg" in train_figures.columns and "turn_multi_deg" in valid_figures.columns:
        th = fit_multiscale_threshold(train_figures["turn_multi_deg"].to_numpy(float), ytr)
        turn = np.nan_to_num(valid_figures["turn_multi_deg"].to_numpy(float), nan=0.0)
        rows.append(summary_row(f"multi-scale turn rule >= {th:g} deg", y, turn, turn >= th,
                                features="largest |net turn| over 5-40 min inside the window"))
        if curves is not None:
            curves.append(("multi-scale rule", y, turn))
    usable = [c for c in train_figures.columns if train_figures[c].notna().any() and c in valid_figures.columns]
    forest = None
    if len(set(train_labels.tolist())) >= 2 and usable:
        try:
            forest = fit_forest_baseline(train_figures[usable], train_labels)
        except ValueError as exc:  # e.g. too few rows to bin the features
            log.warning("gradient-boosted baseline skipped: %s", exc)
    if forest is not None:
        proba = forest.predict_proba(valid_figures[usable].to_numpy(float))
        col = list(forest.classes_).index(pos) if pos in forest.classes_ else None
        if col is not None:
            score = proba[:, col]
            decided = np.asarray(forest.classes_)[proba.argmax(1)] == pos
            rows.append(summary_row("gradient-boosted trees", y, score, decided, features=figure_note or ", ".join(usable)))
            if curves is not None:
                curves.append(("gradient-boosted trees", y, score))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------- figures


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _confusion_png(cm: np.ndarray, classes: Sequence[str]) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1.2 + 0.9 * len(classes), 1.0 + 0.9 * len(classes)))
    ax = fig.add_subplot()
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(classes)), [str(c) for c in classes], rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), [str(c) for c in classes])
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="white" if cm[i, j] > (cm.max() + cm.min()) / 2 else "black")
    ax.set_title("confusion matrix")
    return _png(fig)


def _pr_png(curves: Sequence[tuple[str, np.ndarray, np.ndarray]], positive: str) -> bytes:
    from matplotlib.figure import Figure
    from sklearn.metrics import precision_recall_curve

    fig = Figure(figsize=(5, 4))
    ax = fig.add_subplot()
    for name, y, s in curves:
        if y.any() and not y.all():
            p, r, _ = precision_recall_curve(y, s)
            ax.step(r, p, where="post", label=f"{name[:40]} (AUPR {_aupr(y, s):.2f})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"precision-recall, class {positive!r}")
    ax.legend(loc="lower left", fontsize=7)
    return _png(fig)


def _contact_png(images: Sequence[np.ndarray | None], titles: Sequence[str], title: str) -> bytes:
    from matplotlib.figure import Figure

    n = max(len(images), 1)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(2.6 * cols, 2.8 * rows))
    fig.suptitle(title)
    for i, (img, t) in enumerate(zip(images, titles)):
        ax = fig.add_subplot(rows, cols, i + 1)
        if img is not None:
            ax.imshow(img)
        ax.set_title(t, fontsize=7)
        ax.axis("off")
    return _png(fig)


def _load_image(path: object) -> np.ndarray | None:
    from PIL import Image

    try:
        with Image.open(str(path)) as im:
            im.thumbnail((192, 192))
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------------------- the report


def _table_html(frame: pd.DataFrame, floatfmt: str = "{:.3f}") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for v in row:
            missing = v is None or (isinstance(v, float) and np.isnan(v))
            text = floatfmt.format(v) if isinstance(v, (float, np.floating)) and np.isfinite(v) else ("" if missing else str(v))
            cells.append(f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def write_interpretation(
    out_dir: str | Path,
    ev: Evaluation,
    *,
    baselines: pd.DataFrame | None = None,
    baseline_curves: Sequence[tuple[str, np.ndarray, np.ndarray]] = (),
    image_loader: Callable[[object], np.ndarray | None] = _load_image,
    k_losses: int = 16,
    k_likely: int = 12,
    overwrite: bool = False,
    warnings: Sequence[str] = (),
    sections: Sequence[str] = (),
    baseline_note: str = "",
) -> Path:
    """Write the interpretation report for predictions in hand; returns ``index.html``.

    *warnings* (plain text) are listed at the top, as the console gave them; *sections* are
    ready HTML fragments (escaped by their maker) placed after the baselines; *baseline_note*
    says why a baseline is missing.
    """
    out = Path(out_dir)
    check_output(out / "index.html", overwrite=overwrite)
    out.mkdir(parents=True, exist_ok=True)
    classes = list(ev.classes)
    cm = confusion_matrix(ev.labels, ev.preds, len(classes))
    cm_frame = pd.DataFrame(cm, index=pd.Index(classes, name="actual"), columns=classes)
    write_csv(out / "confusion_matrix.csv", cm_frame)
    atomic_write_bytes(out / "confusion_matrix.png", _confusion_png(cm, classes))
    per_class = per_class_metrics(ev.labels, ev.preds, classes)
    write_csv(out / "per_class.csv", per_class, index=False)
    pos = ev.positive
    y = ev.labels == pos
    p_at = precision_at_k(y, ev.probs[:, pos])
    pak = pd.DataFrame({"k": list(p_at), "precision": list(p_at.values())})
    write_csv(out / "precision_at_k.csv", pak, index=False)
    table = baselines if baselines is not None else pd.DataFrame([summary_row(ev.name, y, ev.probs[:, pos], ev.preds == pos, features="images")])
    write_csv(out / "baselines.csv", table, index=False)
    curves = [(ev.name, y, ev.probs[:, pos]), *baseline_curves]
    atomic_write_bytes(out / "pr_curve.png", _pr_png(curves, classes[pos]))
    losses = top_losses(ev, k_losses)
    write_csv(out / "top_losses.csv", losses, index=False)
    atomic_write_bytes(out / "top_losses.png", _contact_png(
        [image_loader(p) for p in losses["image"]],
        [f"{Path(str(r.image)).name[:28]}\n{r.actual} -> {r.predicted} ({r.p_predicted:.2f})" for r in losses.itertuples()],
        "top losses (actual -> predicted, p)"))
    confused = most_confused(cm, classes)
    write_csv(out / "most_confused.csv", confused, index=False)
    likely_html = []
    for k, c in enumerate(classes):
        order = np.argsort(-ev.probs[:, k], kind="stable")[:k_likely]
        name = f"likeliest_{k:02d}.png"
        atomic_write_bytes(out / name, _contact_png(
            [image_loader(ev.items["image"].iloc[i]) for i in order],
            [f"{Path(str(ev.items['image'].iloc[i])).name[:28]}\np={ev.probs[i, k]:.2f} actual {classes[ev.labels[i]]}" for i in order],
            f"likeliest {c!r}"))
        likely_html.append(f"<h3>{html.escape(c)}</h3><img src=\"{name}\" alt=\"likeliest {html.escape(c)}\">")
    metrics = {
        "classes": classes, "positive": classes[pos], "n": int(len(ev.labels)),
        "accuracy": float((ev.preds == ev.labels).mean()) if len(ev.labels) else float("nan"),
        "aupr": _aupr(y, ev.probs[:, pos]), "precision_at_k": p_at, "notes": list(ev.notes),
        "warnings": list(warnings),
    }
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2, default=float) + "\n")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in ev.notes)
    warned = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
    warned_html = (f'<div style="border:2px solid #c60;padding:.3em 1em;margin:1em 0"><h2>Warnings</h2><ul>{warned}</ul></div>'
                   if warned else "")
    missing_html = f"<p><b>Why baselines are missing:</b> {html.escape(baseline_note)}</p>" if baseline_note else ""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Interpretation: {html.escape(ev.name)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:1.5em;max-width:70em}}table{{border-collapse:collapse;margin:.5em 0}}
td,th{{border:1px solid #ccc;padding:.25em .5em;text-align:left}}img{{max-width:100%}}</style></head><body>
<h1>How good is {html.escape(ev.name)}, and where is it wrong?</h1>
<p>{metrics['n']} validation items; accuracy {metrics['accuracy']:.3f}; positive class
<b>{html.escape(classes[pos])}</b>, AUPR {metrics['aupr']:.3f}.</p><ul>{notes}</ul>{warned_html}
<h2>Beside simple baselines (same items)</h2>{_table_html(table)}{missing_html}
<p>If a rule on two numbers does as well as the CNN, trust the rule: it is easier to explain.</p>{''.join(sections)}
<h2>Confusion matrix</h2><img src="confusion_matrix.png" alt="confusion matrix">{_table_html(cm_frame.reset_index())}
<h2>Per class</h2>{_table_html(per_class)}
<h2>Precision-recall</h2><img src="pr_curve.png" alt="precision-recall curve">
<h3>Precision at k</h3>{_table_html(pak)}
<h2>Most confused pairs</h2>{_table_html(confused)}
<h2>Top losses: what the model was most confidently wrong about</h2><img src="top_losses.png" alt="top losses">
{_table_html(losses)}
<h2>Likeliest examples per class</h2>{''.join(likely_html)}
</body></html>
"""
    return atomic_write_text(out / "index.html", page)


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
    from .train.console import read_warnings
    from .train.data import scan_dataset, split_dataset
    from .train.predict import load_bundle

    bundle = load_bundle(model_dir)
    meta = getattr(bundle, "meta", None) or {}
    trained = meta.get("settings") or {}
    data = scan_dataset(dataset_dir, group_by=str(trained.get("group_by", "object")),
                        session_gap_min=float(trained.get("session_gap_min", 30.0)))
    if list(data.classes) != [str(c) for c in bundle.classes]:
        raise InputError(f"dataset classes {list(data.classes)} differ from the model's {list(bundle.classes)}", path=dataset_dir)
    rel = data.relpaths
    split_meta = getattr(bundle, "split", None) or meta.get("split") or {}
    notes = []
    cv = _read_cv(Path(model_dir))
    oof = {str(r["image"]): r for r in cv.get("out_of_fold", [])} if cv else {}
    valid_names = set(split_meta.get("valid_images") or []) if isinstance(split_meta, dict) else set()
    probs_all: np.ndarray | None = None
    if oof and set(oof) & set(rel):
        valid = np.array([i for i, r in enumerate(rel) if r in oof])
        train = np.array([i for i, r in enumerate(rel) if r not in oof], dtype=np.int64)
        probs_all = np.array([oof[rel[i]]["probs"] for i in valid], float)
        notes.append(f"out-of-fold predictions of {cv.get('k')}-fold cross-validation ({cv.get('method')}): each image"
                     " judged by the fold model that did not train on it; the saved model was then trained on all images")
    elif valid_names & set(rel):
        valid = np.array([i for i, r in enumerate(rel) if r in valid_names])
        train = np.array([i for i, r in enumerate(rel) if r not in valid_names])
        notes.append(f"validation side: the {len(valid)} images the model was validated on ({split_meta.get('method', 'recorded split')})")
    else:
        split = split_dataset(data)
        train, valid = split.train, split.valid
        notes.append(f"validation side: re-split ({split.method}); the bundle records no matching split")
    size = int(getattr(bundle, "image_size", 0) or meta.get("image_size", 224))
    transform = str(meta.get("image_transform", "none"))
    paths = [data.paths[i] for i in valid]
    probs = [] if probs_all is None else [probs_all]
    fig_cols = list(getattr(bundle, "figure_columns", ()) or ())
    for lo in range(0, len(paths), batch_size) if probs_all is None else ():
        imgs = _model_inputs(paths[lo : lo + batch_size], size, transform)
        figs = data.figures.iloc[valid[lo : lo + batch_size]][fig_cols].reset_index(drop=True) if fig_cols and data.figures is not None else None
        probs.append(np.asarray(bundle.predict_images(imgs, figs), float))
    items = _provenance(data).iloc[valid].reset_index(drop=True)
    ev = Evaluation(tuple(data.classes), data.labels[valid], np.concatenate(probs) if probs else np.zeros((0, len(data.classes))),
                    items, name=_model_name(meta), notes=tuple(notes))
    table = None
    curves: list[tuple[str, np.ndarray, np.ndarray]] = []
    baseline_note = ""
    if data.figures is None:
        baseline_note = ("this is a plain image folder: the turn-counting rule and the gradient-boosted baseline read"
                         " window figures (turn, straightness, radius...) from the manifest.csv that `flightpaths render`"
                         " writes, and a folder of pictures has none, so the model stands alone.")
    elif not len(train):
        baseline_note = "every image was judged out of fold; the baselines need a training side and were not fitted."
    else:
        feats, note = data.figures, "scalar window figures"
        if windows is not None:
            win = pd.read_parquet(windows)
            stems = [Path(p).stem for p in data.paths]
            win = win.drop_duplicates("window_id").set_index("window_id").reindex(stems).reset_index()
            hist = histogram_features(win).assign(turn_multi_deg=window_multiscale_deg(win))
            feats = pd.concat([hist, data.figures.reset_index(drop=True)], axis=1)
            note = "speed/altitude/turn-rate histograms + scalar window figures"
        table = baseline_table(ev, feats.iloc[train].reset_index(drop=True), data.labels[train],
                               feats.iloc[valid].reset_index(drop=True), figure_note=note, curves=curves)
    said = _report_warnings(read_warnings(model_dir), data, valid, ev)
    out = Path(out_dir)
    check_output(out / "index.html", overwrite=overwrite)
    out.mkdir(parents=True, exist_ok=True)
    sections = [_metrics_section(meta, cv), _groups_section(data, valid, oof), _duplicates_section(data, out, overwrite)]
    return write_interpretation(out_dir, ev, baselines=table, baseline_curves=curves, overwrite=overwrite,
                                warnings=said, sections=sections, baseline_note=baseline_note)


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

    from .train.data import load_images, read_image

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
    from .train.metrics import MIN_GROUPS

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
    from .label.duplicates import describe_duplicates, find_duplicates

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
