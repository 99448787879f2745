"""Simple baselines beside the CNN: a rule on window figures, the multi-scale turn rule, gradient-boosted trees."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import FlightpathsError
from .evaluation import Evaluation, summary_row

__all__ = [
    "HIST_SPECS",
    "RuleBaseline",
    "baseline_table",
    "fit_forest_baseline",
    "fit_multiscale_threshold",
    "fit_rule_baseline",
    "histogram_features",
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
        score: np.ndarray = np.nan_to_num(turn * (1.0 - straight), nan=0.0)
        return score

    def decide(self, figures: pd.DataFrame) -> np.ndarray:
        turn = np.nan_to_num(np.abs(figures["net_turn_rev"].to_numpy(float)), nan=0.0)
        straight = np.nan_to_num(figures["straightness"].to_numpy(float), nan=1.0)
        decided: np.ndarray = (turn >= self.min_turn_rev) & (straight <= self.max_straightness)
        return decided


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
        mat = _histograms(windows[name], edges, absolute=name == "pturn")
        for j in range(len(edges) - 1):
            lo, hi = edges[j], edges[j + 1]
            label = f"{name}_{'lo' if lo <= -1e9 else f'{lo:g}'}_{'hi' if hi >= 1e9 else f'{hi:g}'}"
            cols[label] = mat[:, j]
    for name in scalar_columns:
        if name in windows.columns:
            cols[name] = pd.to_numeric(windows[name], errors="coerce").to_numpy(float)
    return pd.DataFrame(cols, index=windows.index)


def _histograms(arrays: pd.Series, edges: tuple[float, ...], *, absolute: bool) -> np.ndarray:
    """One row per window: the share of its finite values (absolute values when *absolute*) in each bin."""
    rows = []
    for arr in arrays:
        a = np.asarray(arr if arr is not None else [], float)
        a = np.abs(a[np.isfinite(a)]) if absolute else a[np.isfinite(a)]
        h, _ = np.histogram(a, bins=np.asarray(edges, float))
        rows.append(h / max(len(a), 1))
    return np.asarray(rows, float).reshape(len(arrays), len(edges) - 1)


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
    found = [*_rule_rows(train_figures, train_labels == pos, valid_figures, y),
             *_forest_rows(train_figures, train_labels, valid_figures, y, pos, figure_note)]
    if curves is not None:
        curves += [curve for _, curve in found]
    return pd.DataFrame([*rows, *(row for row, _ in found)])


_Found = tuple[dict[str, Any], tuple[str, np.ndarray, np.ndarray]]  # a baseline's row, and its precision-recall curve


def _rule_rows(train_figures: pd.DataFrame, ytr: np.ndarray, valid_figures: pd.DataFrame, y: np.ndarray) -> list[_Found]:
    """The turn rule's row (when the figures it reads are there) and the multi-scale turn rule's (likewise)."""
    found: list[_Found] = []
    if all(c in train_figures.columns for c in _RULE_FIGURES):
        rule = fit_rule_baseline(train_figures, ytr)
        name = f"rule |net turn| >= {rule.min_turn_rev:g} rev and straightness <= {rule.max_straightness:g}"
        found.append((summary_row(name, y, rule.score(valid_figures), rule.decide(valid_figures),
                                  features="net_turn_rev, straightness"), ("rule", y, rule.score(valid_figures))))
    if "turn_multi_deg" in train_figures.columns and "turn_multi_deg" in valid_figures.columns:
        th = fit_multiscale_threshold(train_figures["turn_multi_deg"].to_numpy(float), ytr)
        turn = np.nan_to_num(valid_figures["turn_multi_deg"].to_numpy(float), nan=0.0)
        found.append((summary_row(f"multi-scale turn rule >= {th:g} deg", y, turn, turn >= th,
                                  features="largest |net turn| over 5-40 min inside the window"),
                      ("multi-scale rule", y, turn)))
    return found


def _forest_rows(train_figures: pd.DataFrame, train_labels: np.ndarray, valid_figures: pd.DataFrame, y: np.ndarray,
                 pos: int, figure_note: str) -> list[_Found]:
    """The gradient-boosted trees' row, when they can be fitted on two classes and know the positive one."""
    usable = [c for c in train_figures.columns if train_figures[c].notna().any() and c in valid_figures.columns]
    if len(set(train_labels.tolist())) < 2 or not usable:
        return []
    try:
        forest = fit_forest_baseline(train_figures[usable], train_labels)
    except ValueError as exc:  # e.g. too few rows to bin the features
        log.warning("gradient-boosted baseline skipped: %s", exc)
        return []
    if pos not in forest.classes_:
        return []
    proba = forest.predict_proba(valid_figures[usable].to_numpy(float))
    score = proba[:, list(forest.classes_).index(pos)]
    decided = np.asarray(forest.classes_)[proba.argmax(1)] == pos
    return [(summary_row("gradient-boosted trees", y, score, decided, features=figure_note or ", ".join(usable)),
             ("gradient-boosted trees", y, score))]
