"""Running an evaluation end to end: settings, scorers, metrics."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..score.behaviour_model import default_behaviour_model
from .behaviour import BehaviourEvaluation, evaluate_behaviours
from .calibration import cross_fit_calibration, expected_calibration_error
from .metrics import MetricSettings, evaluate_scores
from .report import EvaluationResult
from .scorers import (
    ModelScorer,
    MultiScaleRuleScorer,
    RuleScorer,
    Scorer,
    TrafficHoldingScorer,
    traffic_available,
)
from .sets import EvalSet, holdout_aircraft

__all__ = ["EvaluateSettings", "evaluate", "run_evaluation"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluateSettings:
    """One evaluation run: which aircraft, which scorers, how many bootstrap replicates."""

    holdout_only: bool = False
    holdout_fraction: float = 0.3
    n_boot: int = 1000
    seed: int = 0
    aggregate: str = "auto"  # auto = the bundle's learned segment aggregator when it has one, else max
    top_k: int = 3
    positive_class: str = "circling"
    contact_n: int = 12
    traffic: bool = True
    behaviour: bool = True  # judge the model folder's behaviour classifier too, when it has one


def evaluate(data: EvalSet, model: str | Path | None = None, *,
             settings: EvaluateSettings = EvaluateSettings(), notes: Sequence[str] = ()) -> EvaluationResult:
    """Score *data* with the 5-minute and multi-scale turn rules, the traffic detector (when
    importable) and *model*; and judge *model*'s behaviour classifier (when it has one and
    ``settings.behaviour``) on the segments whose category names a behaviour.

    With ``holdout_only`` only the aircraft of :func:`holdout_aircraft` are judged. *notes*
    are added to the report.
    """
    notes = list(notes)
    if settings.holdout_only:
        held = set(holdout_aircraft(data.segments, fraction=settings.holdout_fraction, seed=settings.seed))
        data = data.subset(data.segments.index[data.segments["object_id"].isin(held)])
        notes.append(f"held-out aircraft only: {len(held)} aircraft (fraction {settings.holdout_fraction}, "
                     f"seed {settings.seed})")
    scorers: list[Scorer] = [RuleScorer(), MultiScaleRuleScorer()]
    if settings.traffic:
        ok, why = traffic_available()
        scorers += [TrafficHoldingScorer()] if ok else []
        notes.append(why)
    if model is not None:
        scorers.append(ModelScorer(Path(model), positive_class=settings.positive_class, how=settings.aggregate,
                                   k=settings.top_k))
    metric = MetricSettings(n_boot=settings.n_boot, seed=settings.seed)
    result = run_evaluation(data, scorers, settings=metric, notes=notes)
    if model is None or not settings.behaviour:
        return result
    return replace(result, behaviour=_behaviours(data, Path(model), metric))


def _behaviours(data: EvalSet, model: Path, metric: MetricSettings) -> BehaviourEvaluation | None:
    """The behaviour classifier beside the model in *model*, judged on *data*; None without one."""
    classifier = default_behaviour_model(model)
    if classifier is None:
        log.info("%s has no behaviour classifier; behaviours not judged", model)
        return None
    log.info("judging the behaviour classifier on %d segments", len(data.segments))
    return evaluate_behaviours(data, classifier, n_boot=metric.n_boot, seed=metric.seed, level=metric.level)


def _add_calibrated(scores: pd.DataFrame, name: str, segments: pd.DataFrame, seed: int) -> list[str]:
    """Add the cross-fitted calibrated column of scorer *name* to *scores*; notes on its calibration error."""
    notes = []
    labels = segments["label"].to_numpy(float)
    raw = scores[name].to_numpy(float)
    if len(raw) and np.nanmin(raw) >= 0.0 and np.nanmax(raw) <= 1.0:
        notes.append(f"{name}: expected calibration error of its own probabilities = "
                     f"{expected_calibration_error(raw, labels):.3f}")
    cal = cross_fit_calibration(scores[name], segments, seed=seed)
    ece = expected_calibration_error(cal.to_numpy(), labels)
    scores[cal.name] = cal
    notes.append(f"{name}: expected calibration error after isotonic calibration "
                 f"(2-fold cross-fitted by aircraft) = {ece:.3f}")
    return notes


def run_evaluation(data: EvalSet, scorers: Sequence[Scorer], *,
                   settings: MetricSettings = MetricSettings(), notes: Sequence[str] = (),
                   blend: bool = True) -> EvaluationResult:
    """Score every segment with every scorer and compute the metric table.

    With *blend*, every scorer X that is not a baseline (:attr:`MetricSettings.baselines`)
    also gets ``X+rule``: the mean of the two scorers' percentile ranks (the crude
    combination that the notes found better than either). Non-baseline scorers get
    cross-fitted calibrated probabilities (``X_calibrated``).
    """
    columns = {}
    for scorer in scorers:
        log.info("scoring %d segments with %s", len(data.segments), scorer.name)
        columns[scorer.name] = scorer.segment_scores(data).reindex(data.segments.index).astype(float)
    if blend and settings.baseline in columns:
        base = columns[settings.baseline].rank(pct=True)
        for name in [n for n in columns if n not in settings.baselines]:
            columns[f"{name}+{settings.baseline}"] = (columns[name].rank(pct=True) + base) / 2
    scores = pd.DataFrame(columns, index=data.segments.index)
    extra = list(notes)
    for name in list(columns):
        if name not in settings.baselines and "+" not in name:
            extra += _add_calibrated(scores, name, data.segments, settings.seed)
    metrics = evaluate_scores(scores[list(columns)], data.segments, settings=settings)
    return EvaluationResult(metrics, scores, data.segments, tuple(extra))
