"""Tie-aware ranking metrics (:mod:`flightpaths.metrics`) with bootstrap intervals over aircraft."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import average_precision, grouped_weights, precision_at_k, rank_metric, recall_at_fpr, tie_groups

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


@dataclass(frozen=True)
class MetricSettings:
    """Which metrics, and how the bootstrap over aircraft runs."""

    ks: tuple[int, ...] = (20, 100)
    #: false-alarm rates: 0, 1 and 5 per 1,000 negative segments, then 1% and 5%
    fprs: tuple[float, ...] = (0.0, 0.001, 0.005, 0.01, 0.05)
    n_boot: int = 1000
    seed: int = 0
    level: float = 0.95
    baseline: str = "rule"
    #: every scorer's AP is also compared with these on the same replicates (when present)
    also_against: tuple[str, ...] = ("multiscale-rule",)

    @property
    def baselines(self) -> tuple[str, ...]:
        """The baseline, then the other scorers every scorer is compared with."""
        return tuple(dict.fromkeys((self.baseline, *self.also_against)))

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
    plus rows ``AP-minus-<baseline>`` for every other scorer and each of
    :attr:`MetricSettings.baselines` (the difference on the same bootstrap replicates).
    """
    segments = segments.loc[scores.index]
    strata = segments.groupby("object_id")["label"].transform("max").to_numpy()
    weights = bootstrap_weights(segments["object_id"].astype(str).to_numpy(), strata,
                                n_boot=settings.n_boot, seed=settings.seed)
    subsets = dict(subsets) if subsets is not None else default_subsets(segments)
    rows = []
    for subset, mask in subsets.items():
        rows += _subset_rows(subset, np.asarray(mask, bool), scores, segments, weights, settings)
    return pd.DataFrame(rows, columns=["subset", "scorer", "metric", "value", "lo", "hi", "n_pos", "n_neg",
                                       "n_aircraft"])


def _subset_rows(subset: str, m: np.ndarray, scores: pd.DataFrame, segments: pd.DataFrame, weights: np.ndarray,
                 settings: MetricSettings) -> list[dict[str, Any]]:
    """The rows of the segments *m* of one subset; none when it lacks positives or negatives."""
    y = segments["label"].astype(bool).to_numpy()[m].astype(float)
    if y.sum() == 0 or y.sum() == len(y):
        return []
    alpha = (1 - settings.level) / 2
    base = dict(subset=subset, n_pos=int(y.sum()), n_neg=int(len(y) - y.sum()),
                n_aircraft=int(segments["object_id"][m].nunique()))
    rows, ap_by_scorer = _scorer_rows(base, scores, m, y, weights[:, m], settings, alpha)
    return rows + _difference_rows(base, ap_by_scorer, settings, alpha)


def _scorer_rows(base: dict[str, Any], scores: pd.DataFrame, m: np.ndarray, y: np.ndarray, w: np.ndarray,
                 settings: MetricSettings, alpha: float) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Every metric of every scorer on the segments *m* (labels *y*, bootstrap weights *w*); and each scorer's AP."""
    rows = []
    ap_by_scorer = {}
    for scorer in scores.columns:
        order, group = tie_groups(scores[scorer].to_numpy()[m])
        pos, neg = grouped_weights(y[order], w[:, order], group)
        for name in settings.metric_names:
            vals = rank_metric(name)(pos, neg)
            if name == "AP":
                ap_by_scorer[scorer] = vals
            rows.append({**base, "scorer": scorer, "metric": name, **_interval(vals, alpha)})
    return rows, ap_by_scorer


def _difference_rows(base: dict[str, Any], ap_by_scorer: dict[str, np.ndarray], settings: MetricSettings,
                     alpha: float) -> list[dict[str, Any]]:
    """``AP-minus-<baseline>`` of every other scorer, on the same bootstrap replicates."""
    rows = []
    for baseline in (b for b in settings.baselines if b in ap_by_scorer):
        for scorer, vals in ap_by_scorer.items():
            if scorer != baseline and not (baseline != settings.baseline and scorer == settings.baseline):
                diff = vals - ap_by_scorer[baseline]
                rows.append({**base, "scorer": scorer, "metric": f"AP-minus-{baseline}", **_interval(diff, alpha)})
    return rows


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
