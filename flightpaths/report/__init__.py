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

from .baselines import (
    HIST_SPECS,
    RuleBaseline,
    baseline_table,
    fit_forest_baseline,
    fit_multiscale_threshold,
    fit_rule_baseline,
    histogram_features,
)
from .evaluation import Evaluation, confusion_matrix, most_confused, per_class_metrics, precision_at_k, summary_row, top_losses
from .interpretation import interpretation_report
from .page import write_interpretation

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
