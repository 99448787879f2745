"""Validation metrics: accuracy, precision, recall, F1, average precision, with bootstrap intervals.

For two classes the *positive* class is the one that is not named like a negative (``not_*``,
``no_*``, ``non_*``, ``other``, ``negative``, ``background``), else the second; for more, the
figures are macro averages over classes (one-vs-rest for average precision).

>>> average_precision(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1]))
0.8333333333333333
>>> positive_index(["circling", "not_circling"])
0
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ..metrics import average_precision

__all__ = ["METRIC_NAMES", "MIN_GROUPS", "average_precision", "classification_metrics", "positive_index"]

#: Fewer validation groups than this: bootstrap intervals resample images, not groups.
MIN_GROUPS = 5
METRIC_NAMES = ("loss", "accuracy", "precision", "recall", "f1", "aupr")
#: Class names that mean "nothing of interest" (the scorer uses the same list): the other class is positive.
_NEGATIVE = re.compile(r"^(not|no|non)[_\- ]|^(other|others|negative|background|none|normal|ordinary|straight|human)$", re.I)


def positive_index(classes: Sequence[str]) -> int:
    """Index of the positive class of a two-class problem.

    >>> positive_index(["circling", "straight"]), positive_index(["circling", "not_circling"])
    (0, 0)
    >>> positive_index(["bot", "human"]), positive_index(["a", "b"])
    (0, 1)
    """
    negative = [bool(_NEGATIVE.search(c)) for c in classes]
    if len(classes) == 2 and negative.count(True) == 1:
        return negative.index(False)
    return len(classes) - 1


def _point(labels: np.ndarray, probs: np.ndarray, pos: int | None) -> dict[str, float]:
    pred = probs.argmax(1)
    k = probs.shape[1]
    classes = [pos] if pos is not None else list(range(k))
    prec, rec, f1, ap = [], [], [], []
    for c in classes:
        tp = float(((pred == c) & (labels == c)).sum())
        fp = float(((pred == c) & (labels != c)).sum())
        fn = float(((pred != c) & (labels == c)).sum())
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        prec.append(p)
        rec.append(r)
        f1.append(2 * p * r / (p + r) if p + r else 0.0)
        ap.append(average_precision((labels == c).astype(np.int64), probs[:, c]))
    return {
        "accuracy": float((pred == labels).mean()) if len(labels) else float("nan"),
        "precision": float(np.mean(prec)),
        "recall": float(np.mean(rec)),
        "f1": float(np.mean(f1)),
        "aupr": float(np.nanmean(ap)) if not np.all(np.isnan(ap)) else float("nan"),
    }


def classification_metrics(
    labels: np.ndarray,
    probs: np.ndarray,
    classes: Sequence[str],
    *,
    groups: Sequence[str] | None = None,
    n_boot: int = 200,
    seed: int = 0,
    small: int = 1000,
) -> dict[str, float]:
    """Point metrics, plus 95% bootstrap intervals (``<name>_lo``/``_hi``) when fewer than *small* images.

    With *groups* the bootstrap resamples whole groups (aircraft), not images; with fewer than
    :data:`MIN_GROUPS` groups that would give a degenerate interval (one aircraft-day drawn
    again and again), so it resamples images instead; the interval is then too narrow for
    images that are alike within a group (the trainer says so).

    >>> labels = np.array([0, 1] * 20)
    >>> guess = np.where(np.arange(40) < 4, 1 - labels, labels)  # 4 of 40 wrong
    >>> probs = np.column_stack([1 - guess * 0.8 - 0.1, guess * 0.8 + 0.1])
    >>> m = classification_metrics(labels, probs, ["circling", "straight"], groups=["one-day"] * 40)
    >>> m["accuracy"], bool(m["accuracy_lo"] < 0.9 < m["accuracy_hi"])  # not collapsed onto 0.9
    (0.9, True)
    """
    labels = np.asarray(labels, np.int64)
    probs = np.asarray(probs, np.float64)
    pos = positive_index(classes) if len(classes) == 2 else None
    out = _point(labels, probs, pos)
    eps = 1e-12
    out["loss"] = float(-np.log(probs[np.arange(len(labels)), labels] + eps).mean()) if len(labels) else float("nan")
    if 0 < len(labels) < small and n_boot > 0:
        out.update(_intervals(labels, probs, pos, _resampled_units(len(labels), groups), n_boot, seed))
    return out


def _resampled_units(n: int, groups: Sequence[str] | None) -> list[np.ndarray]:
    """What the bootstrap draws: the images of each group, or single images (no groups, or too few of them)."""
    codes = np.unique(np.asarray(groups), return_inverse=True)[1] if groups is not None else None
    if codes is not None and codes.max() + 1 < MIN_GROUPS:
        codes = None  # too few groups to resample (the trainer warns once)
    if codes is not None:
        return [np.flatnonzero(codes == g) for g in range(codes.max() + 1)]
    return [np.array([i]) for i in range(n)]


def _intervals(labels: np.ndarray, probs: np.ndarray, pos: int | None, members: list[np.ndarray], n_boot: int,
               seed: int) -> dict[str, float]:
    """95% bootstrap intervals (``<name>_lo``/``_hi``) of accuracy, F1 and AUPR, drawing *members* with replacement."""
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {name: [] for name in ("accuracy", "f1", "aupr")}
    for _ in range(n_boot):
        pick = rng.integers(0, len(members), len(members))
        idx = np.concatenate([members[g] for g in pick])
        m = _point(labels[idx], probs[idx], pos)
        for name in samples:
            samples[name].append(m[name])
    out: dict[str, float] = {}
    for name, vals in samples.items():
        arr = np.asarray(vals, np.float64)
        arr = arr[np.isfinite(arr)]
        if len(arr):
            out[f"{name}_lo"], out[f"{name}_hi"] = (float(v) for v in np.percentile(arr, [2.5, 97.5]))
    return out
