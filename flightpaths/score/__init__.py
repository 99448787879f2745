"""Bulk scoring: new logs -> window probabilities -> episodes -> a ranked, sourced tip sheet.

The stages, each usable on its own:

- :func:`score_windows`: a windows table + a model bundle -> the same table with ``p_<class>``
  columns (drawn with the bundle's render config, batched inference).
- :func:`merge_episodes`: scored windows -> one row per episode (consecutive or overlapping
  positive windows of one object), ranked by peak probability; with a bundle that carries a
  segment aggregator (the built-in model does), :func:`add_segment_probability` gives each
  episode ``p_segment``, the calibrated probability that the flight circled then, and ranks
  by it (:mod:`flightpaths.score.aggregate`).
- behaviours (:mod:`flightpaths.score.behaviour`, :mod:`flightpaths.score.behaviour_model`):
  each episode's ``behaviour`` (orbit, hover, survey, racetrack, pattern, transit, other) and
  ``p_behaviour``, from features of its windows and a small tree model shipped without pickle.
- writers: ``windows.parquet``, ``episodes.csv``, ``episodes.geojson``, ``episodes.kml``,
  ``episodes.gpkg`` (tracks as lines from :func:`episode_lines`) and the self-contained tip
  sheet ``tipsheet.html`` (one lead per aircraft, maps, replay links).
- :func:`score_logs`: the whole chain over many files, streaming, resumable, optionally on a
  Dask cluster; a :class:`PathKeeper` per input keeps each aircraft's own points around its
  possible episodes (``path_margin_s`` before and after) for the maps and track lines.
"""

from __future__ import annotations

from .aggregate import SEGMENT_FEATURES, SegmentAggregator, add_segment_probability, add_window_geometry
from .behaviour import BEHAVIOUR_CLASSES, BEHAVIOUR_FEATURES, add_window_behaviour, segment_behaviour
from .behaviour_model import BehaviourModel, add_behaviour, default_behaviour_model, filter_behaviours
from .episodes import EPISODE_COLUMNS, merge_episodes, probability_columns
from .leadmap import episode_lines, episode_maps
from .paths import PATH_COLUMNS, PATH_MARGIN_S, PathKeeper
from .pipeline import (
    OUTPUT_NAMES,
    ScoreResult,
    bundle_fingerprint,
    score_input,
    score_logs,
    score_windows,
    windows_from_chunks,
)
from .settings import BUILTIN_MODEL, ScoreSettings, episode_classes
from .tipsheet import (
    CAVEAT,
    adsbx_url,
    episode_tracks,
    faa_registry_url,
    replay_urls,
    thumbnail_png,
    tip_sheet_html,
    write_tip_sheet,
)
from .writers import (
    scalar_windows,
    write_episodes_csv,
    write_episodes_geojson,
    write_episodes_gpkg,
    write_episodes_kml,
    write_windows_parquet,
)

__all__ = [
    "BUILTIN_MODEL",
    "BEHAVIOUR_CLASSES",
    "BEHAVIOUR_FEATURES",
    "BehaviourModel",
    "CAVEAT",
    "EPISODE_COLUMNS",
    "OUTPUT_NAMES",
    "PATH_COLUMNS",
    "PATH_MARGIN_S",
    "PathKeeper",
    "SEGMENT_FEATURES",
    "ScoreResult",
    "ScoreSettings",
    "SegmentAggregator",
    "add_behaviour",
    "add_segment_probability",
    "add_window_behaviour",
    "add_window_geometry",
    "adsbx_url",
    "bundle_fingerprint",
    "default_behaviour_model",
    "episode_classes",
    "episode_lines",
    "episode_maps",
    "episode_tracks",
    "faa_registry_url",
    "filter_behaviours",
    "merge_episodes",
    "probability_columns",
    "replay_urls",
    "scalar_windows",
    "score_input",
    "score_logs",
    "score_windows",
    "segment_behaviour",
    "thumbnail_png",
    "tip_sheet_html",
    "windows_from_chunks",
    "write_episodes_csv",
    "write_episodes_geojson",
    "write_episodes_gpkg",
    "write_episodes_kml",
    "write_tip_sheet",
    "write_windows_parquet",
]
