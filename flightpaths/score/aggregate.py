"""From window probabilities to one calibrated score per flight segment.

A reporter asks "did this flight circle?", not "was this 5-minute window round?". A segment
(an hour of one aircraft in ``flightpaths evaluate``; an episode and the windows around it in
``flightpaths score``) gets its score from a small learned model, the *segment aggregator*: a
logistic regression over a handful of features that mix what the window model saw with
geometry the pictures cannot carry well. Every feature is computed from the segment's windows
(:func:`add_window_geometry`, :func:`segment_features`), so scoring and evaluation compute
them the same way:

``turn_5min``, ``turn_10min``, ``turn_20min``
    the turn-counting statistic inside each window of that length (the net signed heading
    change along its points thinned to 50 m, :func:`window_turn_deg`), the segment's largest;
    wide slow orbits show at 20 minutes what a 5-minute window misses. Points reported on
    the ground are not in windows (``WindowSettings.airborne_only``).
``revisit_1km``
    the fraction of a window's (thinned) points that come back within 1 km of where the
    aircraft was 2.5 minutes or more earlier, the segment's largest over its longest windows:
    orbits return, survey lines and transits do not.
``p_max``, ``p_top3``, ``p_mean``
    the window model's probabilities of the positive class: the best window, the mean of
    the three best, the mean of all.

Two more columns are computed beside them (:data:`SEGMENT_EXTRAS`): ``turn_multi``, the
multi-scale turn rule (:func:`flightpaths.score.turns.multiscale_turn_deg`) inside each window,
the segment's largest (an aggregator may take it as a feature; the built-in one predates it),
and ``alt_median``, the median of the windows' median altitudes (feet). The
:class:`CruiseGuard` reads both: a single turn or a V at cruise is not an orbit, whatever
the pictures look like.

Beside the geometry, :func:`add_window_geometry` adds the behaviour features of
:mod:`flightpaths.score.behaviour` (reusing its thinned points, multi-scale turn and revisits),
and :func:`add_segment_probability` names each episode's behaviour with the built-in behaviour
classifier (:mod:`flightpaths.score.behaviour_model`).

The aggregator is fitted on labelled segments (``benchmarks/make_default_model.py`` uses
real flights of aircraft held apart from the evaluation, with out-of-fold window
probabilities) and stored as JSON in the bundle's ``model.json`` (``segment_aggregator``).
Fitted without class weights, its output is a probability at the training prevalence.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> table = pd.DataFrame({"turn_5min": rng.uniform(0, 720, 200), "p_max": rng.uniform(0.01, 0.99, 200)})
>>> labels = (table["turn_5min"] > 300).to_numpy()
>>> agg = SegmentAggregator.fit(table, labels)
>>> agg.features
('turn_5min', 'p_max')
>>> p = agg.predict(pd.DataFrame({"turn_5min": [30.0, 700.0], "p_max": [0.5, 0.5]}))
>>> bool(p[0] < 0.2 < 0.8 < p[1])
True
>>> SegmentAggregator.from_dict(agg.to_dict()) == agg
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from ..errors import BundleError, InputError
from .behaviour import add_window_behaviour
from .behaviour_model import BehaviourModel, add_behaviour, default_behaviour_model
from .turns import MULTISCALE, THIN_M, cumulative_turn, max_net_turn_deg, multiscale_turn_thinned, thin_indices

__all__ = [
    "CRUISE_GUARD",
    "SEGMENT_EXTRAS",
    "SEGMENT_FEATURES",
    "CruiseGuard",
    "SegmentAggregator",
    "add_segment_probability",
    "add_window_geometry",
    "epoch_ns",
    "local_xy",
    "max_net_turn_deg",
    "revisit_fraction",
    "segment_features",
    "thin_indices",
    "window_turn_deg",
]

#: The segment features, in the order the built-in aggregator uses them.
SEGMENT_FEATURES: Final[tuple[str, ...]] = (
    "turn_5min", "turn_10min", "turn_20min", "revisit_1km", "p_max", "p_top3", "p_mean",
)
#: Further segment columns: features an aggregator may use but the built-in one does not
#: (``turn_multi``), and what :class:`CruiseGuard` reads (``alt_median``).
SEGMENT_EXTRAS: Final[tuple[str, ...]] = ("turn_multi", "alt_median")
#: Names an aggregator may use as features.
_KNOWN_FEATURES: Final = (*SEGMENT_FEATURES, "turn_multi")
#: Window lengths (s) of the ``turn_*`` features.
_TURN_WINDOWS: Final[dict[str, float]] = {"turn_5min": 300.0, "turn_10min": 600.0, "turn_20min": 1200.0}
_EARTH_M: Final = 6_371_008.8
#: ``revisit_1km``: within this distance (m), this many seconds apart (min, max).
REVISIT_M: Final = 1000.0
REVISIT_GAP_S: Final = (150.0, 1800.0)
AGGREGATOR_FORMAT: Final = 1


def local_xy(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Metres east and north of the points' mean position (equirectangular; fine below ~200 km).

    >>> x, y = local_xy(np.array([0.0, 0.0]), np.array([0.0, 1.0]))
    >>> round(float(x[1] - x[0]))
    111195
    """
    lat0 = math.radians(float(np.nanmean(lat)))
    lon0 = float(np.nanmean(lon))
    dlon = (np.asarray(lon, float) - lon0 + 180.0) % 360.0 - 180.0
    x = np.radians(dlon) * _EARTH_M * math.cos(lat0)
    y = np.radians(np.asarray(lat, float) - math.degrees(lat0)) * _EARTH_M
    return x, y


def _revisits(tk: np.ndarray, xk: np.ndarray, yk: np.ndarray, radius_m: float, min_gap_s: float,
              max_gap_s: float) -> float:
    """:func:`revisit_fraction` on already-thinned points: every pair within *radius_m* at once
    (a loop over each point's neighbours made a dense orbit's windows cost 60 ms each)."""
    from scipy.spatial import cKDTree

    if not len(tk):
        return 0.0
    pairs = cKDTree(np.c_[xk, yk]).query_pairs(radius_m, output_type="ndarray")
    hit = np.zeros(len(tk), dtype=bool)
    if len(pairs):
        a, b = pairs[:, 0], pairs[:, 1]
        lag = tk[a] - tk[b]  # a's time after b's: a revisits; before: b does
        hit[a[(lag >= min_gap_s) & (lag <= max_gap_s)]] = True
        hit[b[(-lag >= min_gap_s) & (-lag <= max_gap_s)]] = True
    return float(hit.sum()) / len(tk)


def revisit_fraction(t: np.ndarray, x: np.ndarray, y: np.ndarray, *, radius_m: float = REVISIT_M,
                     min_gap_s: float = REVISIT_GAP_S[0], max_gap_s: float = REVISIT_GAP_S[1],
                     thin_m: float = THIN_M) -> float:
    """Fraction of thinned points within *radius_m* of a point *min_gap_s*..*max_gap_s* earlier.

    An orbit keeps coming back over the same ground; a transit or a survey line does not.

    >>> a = np.linspace(0, 6 * np.pi, 181)  # three laps of a 1.5 km circle, one point per 10 s
    >>> round(revisit_fraction(np.arange(181) * 10.0, 1500 * np.cos(a), 1500 * np.sin(a)), 2)
    0.7
    >>> revisit_fraction(np.arange(100) * 10.0, np.arange(100) * 600.0, np.zeros(100))
    0.0
    """
    t, x, y = (np.asarray(v, float) for v in (t, x, y))
    if len(t) < 3:
        return 0.0
    k = thin_indices(x, y, thin_m)
    return _revisits(t[k], x[k], y[k], radius_m, min_gap_s, max_gap_s)


def window_turn_deg(t: np.ndarray, x: np.ndarray, y: np.ndarray, *, thin_m: float = THIN_M) -> float:
    """The turn-counting statistic inside one window: the range of the cumulative signed
    heading change along its points thinned to *thin_m* (a window is never longer than the
    rule's span, so every pair of points counts).

    >>> a = np.linspace(0, 2 * np.pi, 61)
    >>> round(window_turn_deg(np.arange(61) * 5.0, 1000 * np.cos(a), 1000 * np.sin(a)))
    354
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3:
        return 0.0
    k = thin_indices(x, y, thin_m)
    cum = cumulative_turn(x[k], y[k])
    return float(np.ptp(cum)) if cum is not None else 0.0


def add_window_geometry(windows: pd.DataFrame, rows: np.ndarray | None = None, *, behaviour: bool = True) -> pd.DataFrame:
    """*windows* with ``turn_thin_deg``, ``turn_multi_deg`` (the multi-scale rule inside the
    window: windows of 5 minutes and up within it) and ``revisit_1km`` (NaN where not computed),
    and with *behaviour* the behaviour features (:func:`flightpaths.score.behaviour.add_window_behaviour`).

    Needs the per-point arrays ``pt``, ``px``, ``py`` of :func:`flightpaths.tracks.make_windows`;
    *rows* (a boolean mask) limits the work to some windows, e.g. those that may join an episode.
    """
    out = windows.copy()
    turn = np.full(len(out), np.nan)
    multi = np.full(len(out), np.nan)
    revisit = np.full(len(out), np.nan)
    spans = MULTISCALE.spans()
    thinned: list[np.ndarray | None] = [None] * len(out)
    if len(out) and {"pt", "px", "py"} <= set(out.columns):
        mask = np.ones(len(out), bool) if rows is None else np.asarray(rows, bool)
        for i in np.flatnonzero(mask):
            t, x, y = out["pt"].iat[i], out["px"].iat[i], out["py"].iat[i]
            if t is None or len(t) == 0:
                continue
            t, x, y = np.asarray(t, float), np.asarray(x, float), np.asarray(y, float)
            if len(t) < 3:  # as window_turn_deg and revisit_fraction
                turn[i] = multi[i] = revisit[i] = 0.0
                continue
            k = thinned[i] = thin_indices(x, y, THIN_M)  # once for every feature
            cum = cumulative_turn(x[k], y[k])
            turn[i] = float(np.ptp(cum)) if cum is not None else 0.0
            multi[i] = multiscale_turn_thinned(t[k], cum, spans) if cum is not None else 0.0
            revisit[i] = _revisits(t[k], x[k], y[k], REVISIT_M, *REVISIT_GAP_S)
    out["turn_thin_deg"] = turn
    out["turn_multi_deg"] = multi
    out["revisit_1km"] = revisit
    return add_window_behaviour(out, rows=rows, thinned=thinned) if behaviour else out


def segment_features(windows: pd.DataFrame, key: pd.Series | np.ndarray, *, probability: str = "p",
                     context: pd.Series | np.ndarray | None = None) -> pd.DataFrame:
    """One row of :data:`SEGMENT_FEATURES` and :data:`SEGMENT_EXTRAS` per segment key, from
    windows with geometry.

    *windows* needs ``window_s``, ``turn_thin_deg``, ``revisit_1km`` (see
    :func:`add_window_geometry`) and the probability column *probability*; *key* names each
    window's segment ("" = none). The ``p_*`` features use the windows of *context* (another
    key per window, default *key*) instead, so that an episode's probabilities can be taken
    over the hour around it while its geometry comes from its own windows. A window length
    missing from the windows (a model with 5-minute windows only) gives that feature 0, as
    does a missing ``turn_multi_deg`` or altitude column.
    """
    key = np.asarray(key, dtype=object).astype(str)
    ctx = key if context is None else np.asarray(context, dtype=object).astype(str)
    lengths = windows["window_s"].to_numpy(float)
    frame = pd.DataFrame(index=pd.Index(sorted(set(key[key != ""]) | set(ctx[ctx != ""])), dtype=object))
    geo = pd.DataFrame({"k": key, "w": lengths, "turn": windows["turn_thin_deg"].to_numpy(float),
                        "rev": windows["revisit_1km"].to_numpy(float)})
    geo = geo[geo["k"] != ""]
    for name, span in _TURN_WINDOWS.items():
        frame[name] = geo[np.isclose(geo["w"], span)].groupby("k")["turn"].max()
    longest = geo.groupby("k")["w"].transform("max") if len(geo) else geo["w"]
    frame["revisit_1km"] = geo[geo["w"] == longest].groupby("k")["rev"].max()
    for name, column, how in (("turn_multi", "turn_multi_deg", "max"), ("alt_median", "median_altitude_ft", "median")):
        values = windows[column].to_numpy(float) if column in windows.columns else np.full(len(windows), np.nan)
        frame[name] = pd.Series(values[key != ""]).groupby(key[key != ""]).agg(how)
    probs = pd.DataFrame({"p": windows[probability].to_numpy(float), "s": ctx})
    grouped = probs[probs["s"] != ""].groupby("s")["p"]
    frame["p_max"] = grouped.max()
    frame["p_top3"] = grouped.apply(lambda v: float(np.sort(v.to_numpy())[::-1][:3].mean()))
    frame["p_mean"] = grouped.mean()
    return frame.fillna(0.0)[[*SEGMENT_FEATURES, *SEGMENT_EXTRAS]]


@dataclass(frozen=True)
class CruiseGuard:
    """A documented rule on top of the learned segment score: one turn or a V at cruise is not
    an orbit.

    A segment (or episode) whose windows fly at a median altitude of at least *min_alt_ft*
    (FL250: airliners cruise at FL300-410) and whose multi-scale net turn (``turn_multi``)
    stays under *max_turn_deg* (one full turn) gets a probability of at most *cap*. The
    thresholds were set from what an airliner does, not fitted: a hold or a refuelling
    racetrack turns a full circle within minutes and passes; so does any segment whose
    altitude is unknown (``alt_median`` 0).

    >>> table = pd.DataFrame({"alt_median": [37000.0, 37000.0, 3000.0], "turn_multi": [150.0, 900.0, 150.0]})
    >>> CruiseGuard().apply(np.array([0.99, 0.99, 0.99]), table).tolist()
    [0.05, 0.99, 0.99]
    """

    min_alt_ft: float = 25000.0
    max_turn_deg: float = 360.0
    cap: float = 0.05

    def hits(self, table: pd.DataFrame) -> np.ndarray:
        """Which rows of a segment table (with :data:`SEGMENT_EXTRAS`) are single turns at cruise."""
        if not {"alt_median", "turn_multi"} <= set(table.columns):
            return np.zeros(len(table), bool)
        alt = table["alt_median"].to_numpy(float)
        turn = table["turn_multi"].to_numpy(float)
        return np.asarray((alt >= self.min_alt_ft) & (turn < self.max_turn_deg), bool)

    def apply(self, p: np.ndarray, table: pd.DataFrame) -> np.ndarray:
        """*p* with the rows :meth:`hits` flags capped at *cap*."""
        return np.where(self.hits(table), np.minimum(np.asarray(p, float), self.cap), np.asarray(p, float))


#: The guard every learned segment score goes through (``flightpaths score``, ``watch``, ``evaluate``).
CRUISE_GUARD: Final = CruiseGuard()


def _transform(name: str, values: np.ndarray) -> np.ndarray:
    """Feature scaling before the linear model: log turns, logit probabilities."""
    v = np.asarray(values, float)
    if name.startswith("turn_"):
        return np.log1p(np.maximum(v, 0.0))
    if name.startswith("p_"):
        p = np.clip(v, 1e-4, 1 - 1e-4)
        return np.log(p / (1 - p))
    return v


@dataclass(frozen=True)
class SegmentAggregator:
    """A logistic regression over segment features, stored as plain JSON in the bundle."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    c: float = 0.1
    n_train: int = 0
    note: str = ""

    def __post_init__(self) -> None:
        n = len(self.features)
        if not n or not all(len(v) == n for v in (self.mean, self.scale, self.coef)):
            raise BundleError(f"segment aggregator: features, mean, scale and coef need the same non-zero length "
                              f"(got {n}, {len(self.mean)}, {len(self.scale)}, {len(self.coef)})")
        unknown = [f for f in self.features if f not in _KNOWN_FEATURES]
        if unknown:
            raise BundleError(f"segment aggregator: unknown feature(s) {', '.join(unknown)}; "
                              f"known: {', '.join(_KNOWN_FEATURES)}")
        if not all(math.isfinite(v) for v in (*self.mean, *self.scale, *self.coef, self.intercept)):
            raise BundleError("segment aggregator: non-finite coefficient")

    @classmethod
    def fit(cls, table: pd.DataFrame, labels: Sequence[bool] | np.ndarray, *, c: float = 0.1,
            features: Sequence[str] | None = None, note: str = "") -> SegmentAggregator:
        """Fit on a feature table (columns named as :data:`SEGMENT_FEATURES`) and boolean labels."""
        from sklearn.linear_model import LogisticRegression

        names = tuple(features) if features is not None else tuple(f for f in SEGMENT_FEATURES if f in table.columns)
        missing = [f for f in names if f not in table.columns]
        if missing:
            raise InputError(f"segment features missing: {', '.join(missing)}")
        y = np.asarray(labels, bool)
        if len(np.unique(y)) < 2:
            raise InputError(f"need both positive and negative segments to fit an aggregator (got {len(y)} of one kind)")
        z = np.column_stack([_transform(f, table[f].to_numpy()) for f in names])
        mean, scale = z.mean(0), z.std(0)
        scale = np.where(scale > 0, scale, 1.0)
        model = LogisticRegression(C=c, max_iter=5000).fit((z - mean) / scale, y)
        return cls(features=names, mean=tuple(map(float, mean)), scale=tuple(map(float, scale)),
                   coef=tuple(map(float, model.coef_[0])), intercept=float(model.intercept_[0]), c=float(c),
                   n_train=int(len(y)), note=note)

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        """Probability of the positive class for each row of *table*."""
        missing = [f for f in self.features if f not in table.columns]
        if missing:
            raise InputError(f"segment features missing: {', '.join(missing)}")
        if not len(table):
            return np.zeros(0)
        z = np.column_stack([_transform(f, table[f].to_numpy()) for f in self.features])
        logit = ((z - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-logit))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (stored as ``segment_aggregator`` in model.json)."""
        return {"format": AGGREGATOR_FORMAT, "kind": "logistic", "features": list(self.features),
                "mean": list(self.mean), "scale": list(self.scale), "coef": list(self.coef),
                "intercept": self.intercept, "c": self.c, "n_train": self.n_train, "note": self.note}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SegmentAggregator:
        """Read what :meth:`to_dict` wrote; a clear :class:`BundleError` for anything else."""
        if not isinstance(data, Mapping) or data.get("kind") != "logistic":
            raise BundleError("segment_aggregator in model.json: expected an object with kind 'logistic'")
        if data.get("format") != AGGREGATOR_FORMAT:
            raise BundleError(f"segment_aggregator format {data.get('format')!r} is not supported "
                              f"(this flightpaths reads format {AGGREGATOR_FORMAT})")
        try:
            agg = cls(features=tuple(str(f) for f in data["features"]),
                       mean=tuple(float(v) for v in data["mean"]), scale=tuple(float(v) for v in data["scale"]),
                       coef=tuple(float(v) for v in data["coef"]), intercept=float(data["intercept"]),
                       c=float(data.get("c", 0.1)), n_train=int(data.get("n_train", 0)), note=str(data.get("note", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"segment_aggregator in model.json is malformed: {exc}") from exc
        numbers = (*agg.mean, *agg.scale, *agg.coef, agg.intercept)
        sizes = {len(agg.features), len(agg.mean), len(agg.scale), len(agg.coef)}
        if len(sizes) != 1 or not np.all(np.isfinite(numbers)) or min(agg.scale, default=1.0) <= 0:
            raise BundleError("segment_aggregator in model.json must give one finite mean, positive scale and finite "
                              "coefficient per feature (a NaN or zero there would score every episode NaN)")
        return agg

    def explain(self) -> dict[str, float]:
        """Standardised coefficient per feature (how much each one moves the log-odds)."""
        return dict(zip(self.features, self.coef))


def epoch_ns(values: pd.Series) -> np.ndarray:
    """UTC nanoseconds of a datetime column, whatever its unit."""
    return pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]").astype("int64").to_numpy()


def add_segment_probability(episodes: pd.DataFrame, windows: pd.DataFrame, aggregator: SegmentAggregator, *,
                            positive_class: str, context_s: float = 1800.0,
                            guard: CruiseGuard | None = CRUISE_GUARD,
                            behaviour: BehaviourModel | Literal["builtin"] | None = "builtin") -> pd.DataFrame:
    """*episodes* with ``p_segment`` filled for episodes of *positive_class*, re-ranked by it,
    and (with a *behaviour* model, by default the built-in one) the ``behaviour`` of each
    episode and its probability ``p_behaviour`` (:func:`flightpaths.score.behaviour_model.add_behaviour`).

    An episode's geometry features come from its own windows (which need ``turn_thin_deg``
    and ``revisit_1km``, :func:`add_window_geometry`), its probability features from every
    window of the same object within *context_s* before its start or after its end: about
    the hour-long flight segment the aggregator was fitted and measured on. Episodes rank by
    ``p_segment`` (those without one after), then by peak window probability. *guard*
    (default :data:`CRUISE_GUARD`; None = off) caps single turns at cruise.
    """
    model = default_behaviour_model() if isinstance(behaviour, str) else behaviour
    out = add_behaviour(episodes, windows, model)
    column = f"p_{positive_class}"
    mine = out.index[out["class"].astype(str) == positive_class] if len(out) else out.index
    if len(mine) and column in windows.columns and len(windows):
        ids = windows["window_id"].astype(str).to_numpy()
        obj = windows["object_id"].astype(str).to_numpy()
        start = epoch_ns(windows["start"])
        end = epoch_ns(windows["end"])
        pad = int(context_s * 1e9)
        by_object = pd.Series(np.arange(len(windows))).groupby(obj).indices  # object -> its rows
        none = np.zeros(0, dtype=np.int64)
        parts = []
        for i in mine:
            ep = out.loc[i]
            eid = str(ep["episode_id"])
            rows = by_object.get(str(ep["object_id"]), none)
            members = rows[np.isin(ids[rows], str(ep["window_ids"]).split(";"))]
            t0, t1 = epoch_ns(pd.Series([ep["start"], ep["end"]]))
            around = rows[(end[rows] >= t0 - pad) & (start[rows] <= t1 + pad)]
            parts.append(windows.iloc[members].assign(_key=eid, _ctx=""))
            parts.append(windows.iloc[around].assign(_key="", _ctx=eid))
        frame = pd.concat(parts, ignore_index=True)
        table = segment_features(frame.rename(columns={column: "_p"}), frame["_key"].to_numpy(),
                                 probability="_p", context=frame["_ctx"].to_numpy())
        raw = aggregator.predict(table)
        p = pd.Series(guard.apply(raw, table) if guard is not None else raw, index=table.index)
        out.loc[mine, "p_segment"] = out.loc[mine, "episode_id"].astype(str).map(p).to_numpy(float)
    if "p_segment" in out.columns and len(out):
        out = out.sort_values(["p_segment", "peak_p", "mean_p", "start"], ascending=[False, False, False, True],
                              na_position="last", kind="stable")
        out["rank"] = np.arange(1, len(out) + 1, dtype="int64")
    return out.reset_index(drop=True)
