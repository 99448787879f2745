"""Scorers of flight segments: the 5-minute and multi-scale turn rules, traffic's holding
detector, a model bundle."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..errors import BundleError, FlightpathsError
from ..score.aggregate import (
    CRUISE_GUARD,
    CruiseGuard,
    add_window_geometry,
    local_xy,
    max_net_turn_deg,
    segment_features,
)
from ..score.turns import MULTISCALE, MultiScaleSettings, multiscale_turn_deg
from .sets import EvalSet, _seconds

__all__ = [
    "ModelScorer",
    "MultiScaleRuleScorer",
    "RuleScorer",
    "Scorer",
    "TrafficHoldingScorer",
    "aggregate_windows",
    "traffic_available",
    "window_segments",
]

log = logging.getLogger(__name__)


class Scorer(Protocol):
    """Anything that gives one score per segment (higher = more likely circling)."""

    @property
    def name(self) -> str:
        """The scorer's name in tables and plots."""
        ...

    def segment_scores(self, data: EvalSet) -> pd.Series:
        """Scores indexed by segment id (every segment of *data*)."""
        ...


@dataclass(frozen=True)
class RuleScorer:
    """The turn-counting rule per segment (see :func:`max_net_turn_deg`); score in degrees."""

    window_s: float = 300.0
    thin_m: float = 50.0
    name: str = "rule"

    def segment_scores(self, data: EvalSet) -> pd.Series:
        out = {}
        for sid, g in data.points.groupby("segment_id", sort=False):
            x, y = local_xy(g["lat"].to_numpy(), g["lon"].to_numpy())
            t = _seconds(g["time"])
            out[str(sid)] = max_net_turn_deg(t, x, y, window_s=self.window_s, thin_m=self.thin_m)
        return pd.Series(out, name=self.name, dtype="float64").reindex(data.segments.index, fill_value=0.0)


@dataclass(frozen=True)
class MultiScaleRuleScorer:
    """The multi-scale turn rule per segment (see :func:`~flightpaths.score.turns.multiscale_turn_deg`:
    the largest |net signed turn| over windows of 5 to 40 minutes); score in degrees."""

    settings: MultiScaleSettings = MULTISCALE
    name: str = "multiscale-rule"

    def segment_scores(self, data: EvalSet) -> pd.Series:
        out = {}
        for sid, g in data.points.groupby("segment_id", sort=False):
            x, y = local_xy(g["lat"].to_numpy(), g["lon"].to_numpy())
            out[str(sid)] = multiscale_turn_deg(_seconds(g["time"]), x, y, settings=self.settings)
        return pd.Series(out, name=self.name, dtype="float64").reindex(data.segments.index, fill_value=0.0)


def traffic_available() -> tuple[bool, str]:
    """Whether the ``traffic`` library's holding-pattern detector can run, and why not."""
    try:
        from traffic.core import Flight  # noqa: F401
    except ImportError as exc:
        return False, f"the traffic package is not importable ({exc}); its holding-pattern baseline is skipped"
    except Exception as exc:  # a broken install (e.g. a pandas it was not built for)
        return False, f"the traffic package failed to import ({type(exc).__name__}: {exc}); baseline skipped"
    return True, "traffic holding-pattern detector available"


@dataclass(frozen=True)
class TrafficHoldingScorer:
    """``traffic``'s ML holding-pattern detector: score = fraction of the segment in holds."""

    name: str = "traffic-holding"

    def segment_scores(self, data: EvalSet) -> pd.Series:
        ok, why = traffic_available()
        if not ok:
            raise FlightpathsError(why)
        from traffic.core import Flight

        out = {}
        for sid, g in data.points.groupby("segment_id", sort=False):
            frame = pd.DataFrame({
                "timestamp": g["time"], "icao24": g["object_id"].astype(str),
                "callsign": g["callsign"].fillna("").astype(str), "latitude": g["lat"],
                "longitude": g["lon"], "altitude": g["altitude_ft"], "groundspeed": g["speed_kt"],
                "track": g["track_deg"]})
            duration = max((g["time"].iloc[-1] - g["time"].iloc[0]).total_seconds(), 1.0)
            try:
                held = sum(h.duration.total_seconds() for h in Flight(frame).holding_pattern())
            except Exception as exc:  # the detector needs speed/track; sparse files lack them
                log.debug("traffic holding detector failed on %s: %s", sid, exc)
                held = 0.0
            out[str(sid)] = held / duration
        return pd.Series(out, name=self.name, dtype="float64").reindex(data.segments.index, fill_value=0.0)


def aggregate_windows(window_probs: pd.Series, window_segment: pd.Series, *, how: str = "max",
                      k: int = 3) -> pd.Series:
    """Window probabilities -> one score per segment: ``max`` or ``topk`` (mean of the k best).

    >>> p = pd.Series([0.1, 0.9, 0.8, 0.2])
    >>> s = pd.Series(["a", "a", "a", "b"])
    >>> aggregate_windows(p, s, how="topk", k=2).round(2).to_dict()
    {'a': 0.85, 'b': 0.2}
    """
    frame = pd.DataFrame({"p": np.asarray(window_probs, float), "s": np.asarray(window_segment)})
    if how == "max":
        return frame.groupby("s")["p"].max()
    if how == "topk":
        return frame.groupby("s")["p"].apply(lambda v: float(np.sort(v.to_numpy())[::-1][:k].mean()))
    raise ValueError(f"unknown aggregation {how!r}; choose from max, topk")


@dataclass(frozen=True)
class ModelScorer:
    """A model bundle: windows of each segment drawn as in training, scored, aggregated.

    Windows come from :func:`flightpaths.tracks.make_windows` with the bundle's window
    settings (each segment is one track); images and probabilities from
    :func:`flightpaths.score.score_windows` (the bundle's render config, figures for hybrid
    bundles). The segment score is, with *how*: ``learned``, the bundle's segment aggregator
    (:class:`flightpaths.score.aggregate.SegmentAggregator`, stored in model.json) over the
    segment's features; ``max`` or ``topk``, the maximum or the mean of the *k* best windows'
    probabilities of *positive_class*; ``auto`` (default), ``learned`` when the bundle has
    an aggregator, else ``max``. Segments with no drawable window score 0 on the window
    probabilities (the learned score still sees their geometry). The learned score goes
    through *guard* (:class:`~flightpaths.score.aggregate.CruiseGuard`, as in ``score``;
    None = off).
    """

    bundle_path: Path | None
    positive_class: str = "circling"
    how: str = "auto"
    k: int = 3
    name: str = "model"
    guard: CruiseGuard | None = CRUISE_GUARD
    bundle: Any = None  # an already loaded bundle (a score.pipeline.ScoringModel: classes, render_config, window_settings, predict_images)

    def segment_scores(self, data: EvalSet) -> pd.Series:
        """The model's score of every segment of *data*."""
        try:
            from ..score import score_windows
            from ..score.pipeline import bundle_aggregator
            from ..tracks import make_windows
            from ..train.predict import load_bundle
        except ImportError as exc:
            raise FlightpathsError(f"model evaluation needs the tracks, score and train stages: {exc}") from exc
        bundle = self._bundle(load_bundle)
        pts = data.points.assign(track_id=data.points["segment_id"].astype(str))
        windows = make_windows(pts, bundle.window_settings)
        if windows.empty:
            return pd.Series(0.0, index=data.segments.index, name=self.name)
        scored = score_windows(windows, bundle)
        probs = scored[f"p_{self.positive_class}"].astype(float).fillna(0.0).reset_index(drop=True)
        window_segment = window_segments(windows, data.segments)
        aggregator = bundle_aggregator(bundle)
        how = ("learned" if aggregator is not None else "max") if self.how == "auto" else self.how
        if how == "learned":
            return self._learned_scores(aggregator, windows, probs, window_segment, data.segments.index)
        scores = aggregate_windows(probs, window_segment, how=how, k=self.k)
        return scores.rename(self.name).reindex(data.segments.index, fill_value=0.0)

    def _bundle(self, load_bundle: Callable[[Any], Any]) -> Any:
        """The loaded bundle, or the one at :attr:`bundle_path`; it must know :attr:`positive_class`."""
        if self.bundle is None and self.bundle_path is None:
            raise BundleError("give a model folder or a loaded bundle")
        bundle = self.bundle if self.bundle is not None else load_bundle(self.bundle_path)
        classes = [str(c) for c in bundle.classes]
        if self.positive_class not in classes:
            raise BundleError(f"{self.bundle_path}: no class {self.positive_class!r}; choose from {', '.join(classes)}")
        return bundle

    def _learned_scores(self, aggregator: Any, windows: pd.DataFrame, probs: pd.Series, window_segment: pd.Series,
                        index: pd.Index) -> pd.Series:
        """The bundle's segment aggregator over each segment's window features (then the cruise guard)."""
        if aggregator is None:
            raise BundleError(f"{self.bundle_path}: this model has no segment aggregator; use how='max'")
        geo = add_window_geometry(windows.reset_index(drop=True), behaviour=False).assign(p=probs.to_numpy())
        table = segment_features(geo, window_segment.to_numpy())
        table = table.reindex(index).fillna(0.0)
        p = aggregator.predict(table)
        return pd.Series(self.guard.apply(p, table) if self.guard is not None else p, index=table.index,
                         name=self.name)


def window_segments(windows: pd.DataFrame, segments: pd.DataFrame) -> pd.Series:
    """The segment each window belongs to: its track id when that is a segment id, else by time."""
    track = windows["track_id"].astype(str)
    if track.isin(segments.index).all():
        return track.reset_index(drop=True)
    mid = pd.to_datetime(windows["start"], utc=True) + (pd.to_datetime(windows["end"], utc=True)
                                                        - pd.to_datetime(windows["start"], utc=True)) / 2
    left = pd.DataFrame({"object_id": windows["object_id"].astype(str).to_numpy(), "t": mid.to_numpy(),
                         "row": np.arange(len(windows))}).sort_values("t")
    right = segments.reset_index()[["segment_id", "object_id", "start", "end"]].sort_values("start")
    right["t"] = pd.to_datetime(right["start"], utc=True).astype(left["t"].dtype)  # same unit (ns or us) both sides
    right["object_id"] = right["object_id"].astype(str)
    merged = pd.merge_asof(left, right, on="t", by="object_id", direction="backward")
    inside = merged["t"] <= pd.to_datetime(merged["end"], utc=True)
    return merged.set_index("row").sort_index()["segment_id"].where(inside.to_numpy()).fillna("").astype(str)
