"""Behaviours per flight segment: per-class precision and recall, the confusion matrix and
macro-F1 of a behaviour classifier, with bootstrap intervals over aircraft.

The truth of a real segment is its curator category's behaviour
(:data:`flightpaths.score.behaviour.REAL_CATEGORY_CLASS`: calibration and government
helicopters = orbit, surveys = survey, ordinary traffic = transit, skywriting = other, ...),
never a turn statistic; segments whose category has none (on the ground) are left out. The
prediction is the classifier's behaviour of the segment's windows
(:func:`flightpaths.score.behaviour.segment_behaviour` over windows of
:data:`~flightpaths.score.behaviour.BEHAVIOUR_WINDOW_S`), as in ``score``.

Macro-F1 is the mean F1 over the classes that have true segments (in each bootstrap
replicate, those present in it). Aircraft are resampled within strata (each aircraft's
commonest true behaviour) with :func:`~flightpaths.evaluate.metrics.bootstrap_weights`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..score.behaviour import BEHAVIOUR_CLASSES, BEHAVIOUR_WINDOW_S, REAL_CATEGORY_CLASS, add_window_behaviour, segment_behaviour
from ..score.behaviour_model import BehaviourModel
from .metrics import bootstrap_weights
from .scorers import window_segments
from .sets import EvalSet

__all__ = [
    "BehaviourEvaluation",
    "behaviour_markdown",
    "behaviour_metrics",
    "evaluate_behaviours",
    "predict_segment_behaviours",
    "segment_behaviour_truth",
]


@dataclass(frozen=True)
class BehaviourEvaluation:
    """Per-class rows (``segments``, ``predicted``, ``precision``, ``recall``, ``f1`` with
    ``_lo``/``_hi`` interval columns) and a ``macro`` row (its ``f1`` = macro-F1);
    the confusion matrix (rows truth, columns predicted); each segment's truth and prediction."""

    table: pd.DataFrame
    confusion: pd.DataFrame
    segments: pd.DataFrame
    notes: tuple[str, ...] = field(default=())

    @property
    def macro_f1(self) -> float:
        """The observed macro-F1."""
        return float(self.table.loc["macro", "f1"])


def segment_behaviour_truth(segments: pd.DataFrame) -> pd.Series:
    """Each segment's behaviour from its curator category; ``<NA>`` where the category has none.

    >>> seg = pd.DataFrame({"category": ["calibration", "onground", "survey-sparse"]}, index=["a", "b", "c"])
    >>> segment_behaviour_truth(seg).tolist()
    ['orbit', <NA>, 'survey']
    """
    return segments["category"].astype(str).map(REAL_CATEGORY_CLASS).astype("string")


def predict_segment_behaviours(data: EvalSet, model: BehaviourModel) -> pd.DataFrame:
    """``behaviour`` and ``p_behaviour`` of every segment of *data* (``<NA>``/NaN where it has no window)."""
    from ..tracks import WindowSettings, make_windows

    out = pd.DataFrame({"behaviour": pd.array([pd.NA] * len(data.segments), dtype="string"),
                        "p_behaviour": np.nan}, index=data.segments.index)
    pts = data.points.assign(track_id=data.points["segment_id"].astype(str))
    windows = make_windows(pts, WindowSettings(window_s=BEHAVIOUR_WINDOW_S))
    if windows.empty:
        return out
    windows = add_window_behaviour(windows)
    table = segment_behaviour(windows, window_segments(windows, data.segments).to_numpy())
    table = table[table.notna().any(axis=1) & table.index.isin(out.index)]
    if len(table):
        label, p = model.predict(table)
        out.loc[table.index, "behaviour"] = label
        out.loc[table.index, "p_behaviour"] = p
    return out


def _counts(truth: np.ndarray, predicted: np.ndarray, w: np.ndarray, c: str) -> tuple[np.ndarray, ...]:
    """Weighted true positives, predictions and true segments of class *c* per replicate (rows of *w*)."""
    t, p = truth == c, predicted == c
    return w @ (t & p).astype(float), w @ p.astype(float), w @ t.astype(float)


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def _interval(vals: np.ndarray, level: float) -> tuple[float, float, float]:
    boot = vals[1:][np.isfinite(vals[1:])]
    alpha = (1 - level) / 2
    lo, hi = np.quantile(boot, [alpha, 1 - alpha]) if len(boot) else (math.nan, math.nan)
    return float(vals[0]), float(lo), float(hi)


def behaviour_metrics(truth: Sequence[str], predicted: Sequence[str], aircraft: Sequence[str], *,
                      classes: Sequence[str] = BEHAVIOUR_CLASSES, n_boot: int = 1000, seed: int = 0,
                      level: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-class precision, recall and F1 and macro-F1 with intervals over *aircraft*; the confusion matrix.

    Classes neither true nor predicted are left out of both tables.

    >>> table, cm = behaviour_metrics(["orbit", "orbit", "survey"], ["orbit", "survey", "survey"],
    ...                               ["a", "b", "c"], n_boot=10)
    >>> table[["precision", "recall", "f1"]].round(2).to_dict("index")["orbit"]
    {'precision': 1.0, 'recall': 0.5, 'f1': 0.67}
    >>> round(float(table.loc["macro", "f1"]), 2), int(cm.loc["orbit", "survey"])
    (0.67, 1)
    """
    t = np.asarray(truth, dtype=object).astype(str)
    p = np.asarray(predicted, dtype=object).astype(str)
    ac = np.asarray(aircraft, dtype=object).astype(str)
    strata = pd.Series(t).groupby(ac).transform(lambda s: s.mode().iloc[0]).to_numpy()
    w = bootstrap_weights(ac.tolist(), strata.tolist(), n_boot=n_boot, seed=seed)
    seen = set(t) | set(p)
    present = [c for c in classes if c in seen] + sorted(seen - set(classes))
    rows, f1s, has = {}, [], []
    for c in present:
        tp, npred, ntrue = _counts(t, p, w, c)
        prec, rec, f1 = _ratio(tp, npred), _ratio(tp, ntrue), _ratio(2 * tp, npred + ntrue)
        f1s.append(np.where(ntrue > 0, f1, np.nan))
        has.append(ntrue > 0)
        rows[c] = {"segments": int((t == c).sum()), "predicted": int((p == c).sum()),
                   **_cells("precision", prec, level), **_cells("recall", rec, level), **_cells("f1", f1, level)}
    if f1s:
        with np.errstate(invalid="ignore"):
            macro = np.nanmean(np.where(np.asarray(has), np.asarray(f1s), np.nan), axis=0) \
                if np.asarray(has).any() else np.full(len(w), np.nan)
    else:
        macro = np.full(len(w), np.nan)
    rows["macro"] = {"segments": len(t), "predicted": len(p), **_cells("f1", macro, level)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    cm = pd.crosstab(pd.Categorical(t, categories=present), pd.Categorical(p, categories=present), dropna=False)
    cm.index.name, cm.columns.name = "truth", "predicted"
    return table, cm


def _cells(name: str, vals: np.ndarray, level: float) -> dict[str, float]:
    v, lo, hi = _interval(vals, level)
    return {name: v, f"{name}_lo": lo, f"{name}_hi": hi}


def evaluate_behaviours(data: EvalSet, model: BehaviourModel, *, n_boot: int = 1000, seed: int = 0,
                        level: float = 0.95) -> BehaviourEvaluation | None:
    """Judge *model* on the segments of *data* whose category names a behaviour; None when none does."""
    truth = segment_behaviour_truth(data.segments)
    judged = data.segments.index[truth.notna().to_numpy()]
    if not len(judged):
        return None
    found = predict_segment_behaviours(data.subset(judged), model)
    seg = pd.DataFrame({"object_id": data.segments.loc[judged, "object_id"].astype(str),
                        "category": data.segments.loc[judged, "category"].astype(str),
                        "truth": truth.loc[judged], "behaviour": found["behaviour"],
                        "p_behaviour": found["p_behaviour"]})
    missing = int(seg["behaviour"].isna().sum())
    predicted = seg["behaviour"].fillna("none").astype(str)
    table, cm = behaviour_metrics(seg["truth"].astype(str), predicted, seg["object_id"], n_boot=n_boot, seed=seed,
                                  level=level)
    notes = [f"{missing} segment(s) without a drawable window count as predicted 'none'"] if missing else []
    return BehaviourEvaluation(table, cm, seg, tuple(notes))


def _fmt(v: float, lo: float, hi: float) -> str:
    if not np.isfinite(v):
        return ""
    return f"{v:.2f} [{lo:.2f}, {hi:.2f}]" if np.isfinite(lo) else f"{v:.2f}"


def behaviour_markdown(ev: BehaviourEvaluation) -> str:
    """The behaviour tables as markdown: per class, macro-F1, the confusion matrix."""
    seg = ev.segments
    lines = ["", f"## Behaviours ({len(seg)} segments of {seg['object_id'].nunique()} aircraft, "
                 f"macro-F1 {_fmt(*(ev.table.loc['macro', k] for k in ('f1', 'f1_lo', 'f1_hi'))).strip()})", "",
             "Truth: the curator category's behaviour; value [95% bootstrap interval over aircraft].", ""]
    lines += [f"- {n}" for n in ev.notes]
    lines += ["| behaviour | segments | predicted | precision | recall | F1 |", "|---|---|---|---|---|---|"]
    for c, r in ev.table.drop(index="macro").iterrows():
        cells = [_fmt(r[k], r[f"{k}_lo"], r[f"{k}_hi"]) for k in ("precision", "recall", "f1")]
        lines.append(f"| {c} | {int(r['segments'])} | {int(r['predicted'])} | " + " | ".join(cells) + " |")
    m = ev.table.loc["macro"]
    lines.append(f"| **macro** | {int(m['segments'])} | | | | **{_fmt(m['f1'], m['f1_lo'], m['f1_hi'])}** |")
    cols = list(ev.confusion.columns)
    lines += ["", "Confusion (rows: truth, columns: predicted)", "",
              "| truth | " + " | ".join(map(str, cols)) + " |", "|---" * (len(cols) + 1) + "|"]
    lines += [f"| {c} | " + " | ".join(str(int(v)) for v in row) + " |" for c, row in ev.confusion.iterrows()]
    return "\n".join(lines) + "\n"
