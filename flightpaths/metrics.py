"""Ranking metrics, written once: average precision, precision at k, recall at a false-alarm rate.

Ties count as a group (its precision is the group's average), as in scikit-learn's average
precision. Each metric works on weighted counts per tie group (:func:`grouped_weights`), so a
bootstrap computes every replicate in one call: a row of weights per replicate (see
:func:`flightpaths.evaluate.evaluate_scores`). Used by the trainer, ``report`` and ``evaluate``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["average_precision", "grouped_weights", "precision_at_k", "rank_metric", "recall_at_fpr", "tie_groups"]


def tie_groups(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order (highest first) and group index of tied scores in that order.

    >>> order, group = tie_groups(np.array([0.2, 0.9, 0.2]))
    >>> order.tolist(), group.tolist()
    ([1, 0, 2], [0, 1, 1])
    >>> tie_groups(np.array([]))[1].tolist()
    []
    """
    order = np.argsort(-np.asarray(scores, float), kind="mergesort")
    s = np.asarray(scores, float)[order]
    group = np.r_[0, np.cumsum(s[1:] != s[:-1])] if len(s) else np.zeros(0, dtype=np.int64)
    return order, group


def grouped_weights(y: np.ndarray, w: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per tie group (in rank order): total weight of positives and of negatives. w: (B, n)."""
    n_groups = int(group[-1]) + 1 if len(group) else 0
    pos = np.zeros((w.shape[0], n_groups))
    neg = np.zeros((w.shape[0], n_groups))
    np.add.at(pos.T, group, (w * y).T)
    np.add.at(neg.T, group, (w * (1 - y)).T)
    return pos, neg


def _ap(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    tp, fp = np.cumsum(pos, 1), np.cumsum(neg, 1)
    total = tp[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp)
        gained = pos / total
        ap: np.ndarray = np.where(total[:, 0] > 0, np.nansum(gained * precision, 1), np.nan)
    return ap


def _p_at_k(pos: np.ndarray, neg: np.ndarray, k: int) -> np.ndarray:
    w = pos + neg
    cum = np.cumsum(w, 1)
    take = np.clip(k - (cum - w), 0, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(w > 0, pos / w, 0.0)
        return (take * frac).sum(1) / np.minimum(k, cum[:, -1])


def _recall_at_fpr(pos: np.ndarray, neg: np.ndarray, fpr: float) -> np.ndarray:
    tp, fp = np.cumsum(pos, 1), np.cumsum(neg, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = fp / fp[:, -1:]
        recall = tp / tp[:, -1:]
    ok = rate <= fpr + 1e-12
    best = np.where(ok, recall, 0.0).max(1)
    return np.where(tp[:, -1] > 0, best, np.nan)


def rank_metric(name: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The metric *name* (``AP``, ``P@<k>``, ``R@<fpr>%``) as a function of the per-tie-group
    positive and negative weights (:func:`grouped_weights`), one value per row (replicate)."""
    if name == "AP":
        return _ap
    if name.startswith("P@"):
        k = int(name[2:])
        return lambda p, n: _p_at_k(p, n, k)
    if name.startswith("R@"):
        f = float(name[2:].rstrip("%")) / 100
        return lambda p, n: _recall_at_fpr(p, n, f)
    raise ValueError(f"unknown metric {name!r}; choose from AP, P@<k>, R@<fpr>%")


def _one(metric: Callable[[np.ndarray, np.ndarray], np.ndarray], labels: ArrayLike,
         scores: ArrayLike) -> float:
    y = np.asarray(labels, float)
    if not len(y):
        return float("nan")  # no examples: undefined, like a class with no positives
    order, group = tie_groups(np.asarray(scores, float))
    pos, neg = grouped_weights(y[order], np.ones((1, len(y))), group)
    return float(metric(pos, neg)[0])


def average_precision(labels: ArrayLike, scores: ArrayLike) -> float:
    """Average precision (area under the step precision-recall curve; ties count as a group).

    >>> average_precision([1, 1, 0, 0], [0.9, 0.8, 0.3, 0.1])
    1.0
    >>> average_precision([0, 1], [0.9, 0.1])
    0.5
    """
    return _one(_ap, labels, scores)


def precision_at_k(labels: ArrayLike, scores: ArrayLike, k: int) -> float:
    """The share of positives among the *k* highest scores (tied groups counted pro rata).

    >>> precision_at_k([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], 2)
    0.5
    """
    return _one(lambda p, n: _p_at_k(p, n, int(k)), labels, scores)


def recall_at_fpr(labels: ArrayLike, scores: ArrayLike, fpr: float) -> float:
    """The share of positives found at the lowest threshold whose false-alarm rate is <= *fpr*.

    >>> recall_at_fpr([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], 0.0)
    0.5
    """
    return _one(lambda p, n: _recall_at_fpr(p, n, fpr), labels, scores)
