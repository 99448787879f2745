"""Tie-aware ranking metrics with bootstrap intervals over aircraft."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "MetricSettings",
    "average_precision",
    "bootstrap_weights",
    "default_subsets",
    "evaluate_scores",
    "false_alarm_ranks",
    "precision_at_k",
    "recall_at_fpr",
]


def _tie_groups(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order (highest first) and group index of tied scores in that order."""
    order = np.argsort(-np.asarray(scores, float), kind="mergesort")
    s = np.asarray(scores, float)[order]
    group = np.r_[0, np.cumsum(s[1:] != s[:-1])]
    return order, group


def _grouped(y: np.ndarray, w: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
        return np.where(total[:, 0] > 0, np.nansum(gained * precision, 1), np.nan)


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


def _metric(name: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    if name == "AP":
        return _ap
    if name.startswith("P@"):
        k = int(name[2:])
        return lambda p, n: _p_at_k(p, n, k)
    if name.startswith("R@"):
        f = float(name[2:].rstrip("%")) / 100
        return lambda p, n: _recall_at_fpr(p, n, f)
    raise ValueError(f"unknown metric {name!r}; choose from AP, P@<k>, R@<fpr>%")


def _one(metric: Callable[[np.ndarray, np.ndarray], np.ndarray], labels: Sequence[Any],
         scores: Sequence[float]) -> float:
    y = np.asarray(labels, float)
    order, group = _tie_groups(np.asarray(scores, float))
    pos, neg = _grouped(y[order], np.ones((1, len(y))), group)
    return float(metric(pos, neg)[0])


def average_precision(labels: Sequence[Any], scores: Sequence[float]) -> float:
    """Average precision (area under the step precision-recall curve; ties count as a group).

    >>> average_precision([1, 1, 0, 0], [0.9, 0.8, 0.3, 0.1])
    1.0
    >>> average_precision([0, 1], [0.9, 0.1])
    0.5
    """
    return _one(_ap, labels, scores)


def precision_at_k(labels: Sequence[Any], scores: Sequence[float], k: int) -> float:
    """The share of positives among the *k* highest scores (tied groups counted pro rata).

    >>> precision_at_k([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], 2)
    0.5
    """
    return _one(lambda p, n: _p_at_k(p, n, int(k)), labels, scores)


def recall_at_fpr(labels: Sequence[Any], scores: Sequence[float], fpr: float) -> float:
    """The share of positives found at the lowest threshold whose false-alarm rate is <= *fpr*.

    >>> recall_at_fpr([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], 0.0)
    0.5
    """
    return _one(lambda p, n: _recall_at_fpr(p, n, fpr), labels, scores)


@dataclass(frozen=True)
class MetricSettings:
    """Which metrics, and how the bootstrap over aircraft runs."""

    ks: tuple[int, ...] = (20, 100)
    fprs: tuple[float, ...] = (0.01, 0.05)
    n_boot: int = 1000
    seed: int = 0
    level: float = 0.95
    baseline: str = "rule"

    @property
    def metric_names(self) -> tuple[str, ...]:
        return ("AP", *(f"P@{k}" for k in self.ks), *(f"R@{f * 100:g}%" for f in self.fprs))


def bootstrap_weights(aircraft: Sequence[str], strata: Sequence[Any], *, n_boot: int,
                      seed: int = 0) -> np.ndarray:
    """(n_boot, n_items) multiplicities: aircraft drawn with replacement within each stratum.

    Row 0 is the observed data (all ones); rows 1.. are replicates. Every segment of a drawn
    aircraft comes along as many times as the aircraft was drawn.
    """
    aircraft = np.asarray(aircraft, dtype=object)
    strata = np.asarray(strata, dtype=object)
    ids, inverse = np.unique(aircraft.astype(str), return_inverse=True)
    stratum_of = pd.Series(strata).groupby(inverse).agg(lambda s: s.iloc[0]).reindex(range(len(ids))).to_numpy()
    rng = np.random.default_rng(seed)
    counts = np.ones((n_boot + 1, len(ids)))
    for s in pd.unique(stratum_of):
        members = np.flatnonzero(stratum_of == s)
        draws = rng.integers(0, len(members), size=(n_boot, len(members)))
        c = np.zeros((n_boot, len(members)))
        np.add.at(c, (np.repeat(np.arange(n_boot), len(members)), draws.ravel()), 1.0)
        counts[1:, members] = c
    return counts[:, inverse]


def evaluate_scores(scores: pd.DataFrame, segments: pd.DataFrame, *,
                    settings: MetricSettings = MetricSettings(),
                    subsets: Mapping[str, pd.Series] | None = None) -> pd.DataFrame:
    """Metrics with bootstrap intervals for every scorer (a column of *scores*) and subset.

    *subsets* maps a name to a boolean mask over segments (default: :func:`default_subsets`).
    Returns one row per (subset, scorer, metric): value, lo, hi, n_pos, n_neg, n_aircraft;
    plus rows ``AP-minus-<baseline>`` for every other scorer (the difference on the same
    bootstrap replicates).
    """
    segments = segments.loc[scores.index]
    labels = segments["label"].astype(bool).to_numpy()
    strata = segments.groupby("object_id")["label"].transform("max").to_numpy()
    weights = bootstrap_weights(segments["object_id"].astype(str).to_numpy(), strata,
                                n_boot=settings.n_boot, seed=settings.seed)
    subsets = dict(subsets) if subsets is not None else default_subsets(segments)
    alpha = (1 - settings.level) / 2
    rows = []
    for subset, mask in subsets.items():
        m = np.asarray(mask, bool)
        y = labels[m].astype(float)
        if y.sum() == 0 or y.sum() == len(y):
            continue
        w = weights[:, m]
        base = dict(subset=subset, n_pos=int(y.sum()), n_neg=int(len(y) - y.sum()),
                    n_aircraft=int(segments["object_id"][m].nunique()))
        ap_by_scorer = {}
        for scorer in scores.columns:
            order, group = _tie_groups(scores[scorer].to_numpy()[m])
            pos, neg = _grouped(y[order], w[:, order], group)
            for name in settings.metric_names:
                vals = _metric(name)(pos, neg)
                if name == "AP":
                    ap_by_scorer[scorer] = vals
                rows.append({**base, "scorer": scorer, "metric": name, **_interval(vals, alpha)})
        if settings.baseline in ap_by_scorer:
            for scorer, vals in ap_by_scorer.items():
                if scorer != settings.baseline:
                    diff = vals - ap_by_scorer[settings.baseline]
                    rows.append({**base, "scorer": scorer, "metric": f"AP-minus-{settings.baseline}",
                                 **_interval(diff, alpha)})
    return pd.DataFrame(rows, columns=["subset", "scorer", "metric", "value", "lo", "hi", "n_pos", "n_neg",
                                       "n_aircraft"])


def _interval(vals: np.ndarray, alpha: float) -> dict[str, float]:
    boot = vals[1:][np.isfinite(vals[1:])]
    lo, hi = (np.quantile(boot, [alpha, 1 - alpha]) if len(boot) else (np.nan, np.nan))
    return {"value": float(vals[0]), "lo": float(lo), "hi": float(hi)}


def default_subsets(segments: pd.DataFrame) -> dict[str, pd.Series]:
    """all; dense / sparse (each class restricted to that sampling); each positive category
    against all negatives; all positives against each negative category."""
    pos = segments["label"].astype(bool)
    out: dict[str, pd.Series] = {"all": pd.Series(True, index=segments.index)}
    for sampling in ("dense", "sparse"):
        out[sampling] = segments["sampling"] == sampling
    for cat in sorted(segments.loc[pos, "category"].unique()):
        out[f"pos:{cat}"] = ~pos | (segments["category"] == cat)
    for cat in sorted(segments.loc[~pos, "category"].unique()):
        out[f"neg:{cat}"] = pos | (segments["category"] == cat)
    return out


def false_alarm_ranks(scores: pd.Series, segments: pd.DataFrame) -> pd.DataFrame:
    """Every negative segment with its rank among negatives (1 = the worst false alarm).

    Tied scores share their average rank.
    """
    neg = segments.index[~segments["label"].astype(bool)]
    s = scores.reindex(neg)
    out = segments.loc[neg, ["object_id", "category", "sampling", "ground", "callsign"]].copy()
    out["score"] = s
    out["rank"] = s.rank(ascending=False, method="average")
    return out.sort_values(["rank", "score"])
