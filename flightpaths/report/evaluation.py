"""The judged predictions of one model and the metrics read off them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import average_precision
from ..score.settings import episode_classes

__all__ = [
    "Evaluation",
    "confusion_matrix",
    "most_confused",
    "per_class_metrics",
    "precision_at_k",
    "summary_row",
    "top_losses",
]


_KS = (5, 10, 20, 50, 100)


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
        preds: np.ndarray = self.probs.argmax(axis=1)
        return preds

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
