"""Calibrating segment scores into probabilities and measuring how well they are calibrated."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .sets import stable_hash

__all__ = ["IsotonicCalibrator", "cross_fit_calibration", "expected_calibration_error"]


@dataclass(frozen=True)
class IsotonicCalibrator:
    """A monotone map from raw score to probability (isotonic regression), JSON-friendly.

    ``0.8`` after calibration means that about 80% of segments with that score were
    positive in the data it was fitted on. Stored as breakpoints, applied by interpolation.
    """

    x: tuple[float, ...]
    y: tuple[float, ...]

    @classmethod
    def fit(cls, scores: np.ndarray, labels: np.ndarray) -> IsotonicCalibrator:
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(np.asarray(scores, float), np.asarray(labels, float))
        return cls(tuple(map(float, iso.X_thresholds_)), tuple(map(float, iso.y_thresholds_)))

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(scores, float), self.x, self.y)

    def to_dict(self) -> dict[str, list[float]]:
        """For model.json: ``{"x": [...], "y": [...]}``."""
        return {"x": list(self.x), "y": list(self.y)}


def cross_fit_calibration(scores: pd.Series, segments: pd.DataFrame, *, folds: int = 2,
                          seed: int = 0) -> pd.Series:
    """Calibrated probabilities where each aircraft's segments come from a map fitted without it."""
    aircraft = segments["object_id"].astype(str)
    fold = aircraft.map(lambda a: stable_hash(a, seed) % folds)
    out = pd.Series(np.nan, index=segments.index, name=f"{scores.name}_calibrated")
    labels = segments["label"].astype(float)
    for f in range(folds):
        train, test = fold != f, fold == f
        if labels[train].nunique() < 2 or not test.any():
            continue
        cal = IsotonicCalibrator.fit(scores[train].to_numpy(), labels[train].to_numpy())
        out[test] = cal(scores[test].to_numpy())
    return out


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, *, bins: int = 10) -> float:
    """Mean |predicted - observed| over equal-width probability bins, weighted by bin size.

    >>> expected_calibration_error(np.array([0.0, 1.0]), np.array([0, 1]))
    0.0
    """
    p = np.asarray(probs, float)
    y = np.asarray(labels, float)
    ok = np.isfinite(p)
    p, y = p[ok], y[ok]
    if not len(p):
        return float("nan")
    which = np.minimum((p * bins).astype(int), bins - 1)
    err = 0.0
    for b in np.unique(which):
        m = which == b
        err += m.sum() / len(p) * abs(p[m].mean() - y[m].mean())
    return float(err)
