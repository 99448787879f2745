"""Judge circling detectors on real flights, per flight segment, with intervals over aircraft.

A reporter asks "does this flight segment contain circling?", so that is the unit here: a
track split at time gaps and cut into pieces of at most an hour (:class:`SegmentSettings`).
Each segment carries a label, the aircraft that flew it (bootstrap and hold-out are grouped
by aircraft, because a few aircraft dominate each category), a sampling tag (``dense`` or
``sparse``, about 60 s between points) and the curator's category.

The built-in real set (:data:`SHARED_SOURCES`, read from ``../shared/data``, never copied):

=================  =====  =========================================================
category           label  source
=================  =====  =========================================================
calibration        1      ``traffic-samples/calibration``: navaid calibration circles
refuelling         1      ``traffic-samples/military/inflight_refuelling``: racetrack
government-heli    1      BuzzFeed 2016 ``rnc.csv``/``dnc.csv``: police/DHS aircraft
                          orbiting the conventions, one point a minute (sparse)
ordinary           0      ``traffic-samples/collections/quickstart``: Paris traffic
survey             0      ``traffic-samples/surveys``: photo/LIDAR lawnmowers
survey-sparse      0      BuzzFeed ``aeroptic.csv``: survey lawnmowers, one point a minute
onground           0      ``traffic-samples/onground/zurich_airport``: taxiing, parked
skywriting         0      ``traffic-samples/featured``: drawn shapes (tree, rabbit, ...)
=================  =====  =========================================================

Left out on purpose: **gliders** (thermalling *is* circling, so they cannot be negatives,
but their tight 30-second thermals inside straight glides are not the loitering a newsroom
looks for, and they would make both detectors look better than they are on the cases that
matter; pass them with ``--positives`` to measure them), ambulances (short point-to-point
helicopter hops with ambiguous hovering), the aircraft-carrier sample (deck circuits),
``noisy/`` (spoofing and time glitches) and the featured farewell/zero-g flights whose
loops are neither clearly orbits nor clearly not. Labels come from the curator's category,
never from a turn statistic. Segments of a positive source that sit still (parked at base)
are left out, and so are the segments listed in :data:`REVIEW_NO_CIRCLING` (transit legs
of orbiting flights) and :data:`REVIEW_HAS_ORBITS` (clear orbits inside negative sources):
every segment was reviewed by eye as a thumbnail, in id order, without any score.

Hold-out: :func:`holdout_aircraft` lists about 30% of the aircraft of each category
(grouped, seeded, deterministic) to keep out of training; evaluate a model on those only
(``flightpaths evaluate MODEL --set shared`` does by default).

Scorers share one interface, ``segment_scores(data) -> Series`` indexed by segment id:
:class:`RuleScorer` (the turn-counting rule from the notes: the largest net signed heading
change in any 5-minute window, points thinned to 50 m), :class:`MultiScaleRuleScorer` (the
circling-alert bots' multi-scale rule: the largest |net signed turn| over windows of 5 to 40
minutes, :mod:`flightpaths.score.turns`), :class:`TrafficHoldingScorer` (the
``traffic`` library's holding-pattern detector when it imports) and :class:`ModelScorer`
(a model bundle's window probabilities aggregated per segment by max or top-k mean).

Metrics (:func:`evaluate_scores`) are tie-aware (a tie group counts as its average): average
precision, precision at 20 and 100, recall at 0, 1 and 5 false alarms per 1,000 negative
segments and at 1% and 5% false-alarm rate, each with a
percentile bootstrap interval over *aircraft* (aircraft are resampled with replacement
within two strata, those with positive segments and the rest, so every replicate keeps both
classes), and the bootstrap interval of the difference in AP between each scorer and each
rule on the same replicates.

Behaviours (:mod:`.behaviour`): with a model folder that holds a behaviour classifier, its
per-class precision and recall, confusion matrix and macro-F1 per segment, the truth being
the curator category's behaviour, with the same bootstrap over aircraft.

Modules: :mod:`.sets` (the real set, segments, hold-out), :mod:`.scorers`, :mod:`.behaviour`, :mod:`.calibration`,
:mod:`.metrics`, :mod:`.report` (tables and the contact sheet) and :mod:`.run` (end to end).
"""

from __future__ import annotations

from ..score.aggregate import local_xy, max_net_turn_deg
from ..score.turns import multiscale_turn_deg
from .behaviour import (
    BehaviourEvaluation,
    behaviour_markdown,
    behaviour_metrics,
    evaluate_behaviours,
    predict_segment_behaviours,
    segment_behaviour_truth,
)
from .calibration import IsotonicCalibrator, cross_fit_calibration, expected_calibration_error
from .metrics import (
    MetricSettings,
    average_precision,
    bootstrap_weights,
    default_subsets,
    evaluate_scores,
    false_alarm_ranks,
    precision_at_k,
    recall_at_fpr,
)
from .report import (
    EvaluationResult,
    apply_labels,
    ground_summary,
    metrics_markdown,
    write_contact_sheet,
    write_evaluation,
)
from .run import EvaluateSettings, evaluate, run_evaluation
from .scorers import (
    ModelScorer,
    MultiScaleRuleScorer,
    RuleScorer,
    Scorer,
    TrafficHoldingScorer,
    aggregate_windows,
    traffic_available,
    window_segments,
)
from .sets import (
    DEFAULT_DATA_ROOT,
    REVIEW_HAS_ORBITS,
    REVIEW_NO_CIRCLING,
    SHARED_SOURCES,
    EvalSet,
    EvalSource,
    SegmentSettings,
    build_set,
    build_shared_set,
    holdout_aircraft,
    holdout_table,
    load_source_points,
    main_categories,
    read_points_file,
    segment_points,
    stable_hash,
)

# Old private names (benchmarks and other branches used them): remove once they use the public ones.
_ground_summary, _stable_hash, _window_segments = ground_summary, stable_hash, window_segments

__all__ = [
    "BehaviourEvaluation",
    "DEFAULT_DATA_ROOT",
    "EvalSet",
    "EvalSource",
    "EvaluateSettings",
    "EvaluationResult",
    "IsotonicCalibrator",
    "MetricSettings",
    "ModelScorer",
    "REVIEW_HAS_ORBITS",
    "REVIEW_NO_CIRCLING",
    "MultiScaleRuleScorer",
    "RuleScorer",
    "SHARED_SOURCES",
    "Scorer",
    "SegmentSettings",
    "TrafficHoldingScorer",
    "aggregate_windows",
    "apply_labels",
    "average_precision",
    "behaviour_markdown",
    "behaviour_metrics",
    "bootstrap_weights",
    "build_set",
    "build_shared_set",
    "cross_fit_calibration",
    "default_subsets",
    "evaluate",
    "evaluate_behaviours",
    "evaluate_scores",
    "expected_calibration_error",
    "false_alarm_ranks",
    "ground_summary",
    "holdout_aircraft",
    "holdout_table",
    "load_source_points",
    "local_xy",
    "main_categories",
    "max_net_turn_deg",
    "metrics_markdown",
    "multiscale_turn_deg",
    "precision_at_k",
    "predict_segment_behaviours",
    "read_points_file",
    "recall_at_fpr",
    "run_evaluation",
    "segment_behaviour_truth",
    "segment_points",
    "stable_hash",
    "traffic_available",
    "window_segments",
    "write_contact_sheet",
    "write_evaluation",
]
