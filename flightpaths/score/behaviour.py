"""What was the aircraft doing? Behaviour features per window and per episode or segment.

A reporter asks what an aircraft was doing, not only whether it turned: an orbit over a
neighbourhood, a hover over a scene, a racetrack (holding, refuelling, surveillance), a survey
lawnmower, an airport circuit or approach, a transit (route turns included) or some other
manoeuvre. :data:`BEHAVIOUR_CLASSES` names them; the classifier that picks one
(:mod:`flightpaths.score.behaviour_model`) reads the features computed here.

Per window (:func:`window_behaviour`, from the per-point arrays ``pt``, ``px``, ``py``,
``pspeed``, ``palt`` of :func:`flightpaths.tracks.make_windows`), all numpy:

``bh_turn_net``, ``bh_turn_total``, ``bh_turn_multi``
    the net signed turn (absolute), the sum of absolute turns (both per window, points
    thinned to 50 m, degrees) and the multi-scale turn rule inside the window
    (:mod:`flightpaths.score.turns`);
``bh_consistency``
    net over total turn: 1 for an orbit or a racetrack (every turn one way), near 0 for a
    survey or S-turns (turns alternate);
``bh_alternation``
    of consecutive turns (runs of steps turning the same way by more than 20 degrees), the
    share that turn the other way than the one before: a lawnmower alternates;
``bh_speed_kt``, ``bh_slow_share``
    median ground speed, and the share of time under :data:`HOVER_KT` (hover);
``bh_alt_ft``, ``bh_alt_change_ft``, ``bh_alt_range_ft``
    median altitude, last minus first and the range (a circuit climbs and descends each lap,
    an approach descends);
``bh_straight_share``
    the share of the path (points thinned to :data:`LEG_THIN_M`) flown on straight legs
    (heading change under :data:`STRAIGHT_DEG` a step);
``bh_axial``, ``bh_polar``
    how concentrated the leg headings are, taken as axes (doubled angles: parallel legs flown
    both ways, survey and racetrack) and as directions (a transit);
``bh_cross_ratio``
    across-track spread of the straight legs over their along-track extent: a lawnmower's
    legs sit side by side, a racetrack's two legs close together;
``bh_extent_m``, ``bh_straightness``, ``bh_revisit``
    the window's extent, net displacement over path length, and the share of points that come
    back within 1 km of where the aircraft was 2.5 minutes or more before.

Per episode or segment (:func:`segment_behaviour`): the median of each feature over its
windows of the longest window length it has.

>>> a = np.linspace(0, 6 * np.pi, 181)  # three laps of a 1 km circle in 15 minutes
>>> f = window_behaviour(np.arange(181) * 5.0, 1000 * np.cos(a), 1000 * np.sin(a), np.full(181, 80.0), np.full(181, 1500.0))
>>> round(f["bh_consistency"], 2), round(f["bh_straight_share"], 2), f["bh_slow_share"]
(1.0, 0.0, 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from .turns import MULTISCALE, THIN_M, cumulative_turn, multiscale_turn_thinned, thin_indices

__all__ = [
    "BEHAVIOUR_CLASSES",
    "BEHAVIOUR_FEATURES",
    "BEHAVIOUR_WINDOW_S",
    "HOVER_KT",
    "LEG_THIN_M",
    "REAL_CATEGORY_CLASS",
    "SEGMENT_EXTREMES",
    "SEGMENT_FEATURES",
    "SIM_BEHAVIOUR_CLASS",
    "STRAIGHT_DEG",
    "add_window_behaviour",
    "segment_behaviour",
    "sim_class",
    "window_behaviour",
]

#: The behaviours a reporter tells apart, in the classifier's order.
BEHAVIOUR_CLASSES: Final[tuple[str, ...]] = ("orbit", "hover", "survey", "racetrack", "pattern", "transit", "other")
#: Per-window behaviour features, in the classifier's order.
BEHAVIOUR_FEATURES: Final[tuple[str, ...]] = (
    "bh_turn_net", "bh_turn_total", "bh_turn_multi", "bh_consistency", "bh_alternation", "bh_speed_kt",
    "bh_slow_share", "bh_alt_ft", "bh_alt_change_ft", "bh_alt_range_ft", "bh_straight_share", "bh_axial", "bh_polar",
    "bh_cross_ratio", "bh_extent_m", "bh_straightness", "bh_revisit",
    "bh_uturns", "bh_antiparallel", "bh_leg_gap_m", "bh_event_var", "bh_events_per_km",
)
#: Per-segment features beside the medians: the largest (or smallest) value over the segment's
#: windows of its longest length, so one lawnmower turn or one loop in an hour is not lost.
SEGMENT_EXTREMES: Final[tuple[tuple[str, str], ...]] = (
    ("bh_uturns", "max"), ("bh_antiparallel", "max"), ("bh_turn_net", "max"), ("bh_straightness", "min"),
    ("bh_event_var", "max"),
)
#: Every per-segment feature: the window features' medians, then the extremes (``bhs_max_...``).
SEGMENT_FEATURES: Final[tuple[str, ...]] = BEHAVIOUR_FEATURES + tuple(
    f"bhs_{how}_{name.removeprefix('bh_')}" for name, how in SEGMENT_EXTREMES)
#: Window lengths (s) the classifier was trained on (the built-in circling model's).
BEHAVIOUR_WINDOW_S: Final[tuple[float, ...]] = (300.0, 600.0, 1200.0)
#: The reporter's behaviour of each simulator behaviour (:data:`flightpaths.simulate.BEHAVIOURS`);
#: ``parked`` is on the ground (no window) and has none. Partial orbits of a revolution or more
#: are orbits, shorter ones "other" (see :func:`sim_class`).
SIM_BEHAVIOUR_CLASS: Final[dict[str, str]] = {
    "straight": "transit", "gentle_turns": "transit", "route_turn": "transit", "orbit": "orbit",
    "wide_orbit": "orbit", "partial_orbit": "other", "hover": "hover", "racetrack": "racetrack", "hold": "racetrack",
    "survey": "survey", "s_turns": "other", "meander": "other", "approach": "pattern", "circuit": "pattern",
}
#: The behaviour of each curator category of the real flights in ``../shared/data``
#: (:data:`flightpaths.evaluate.SHARED_SOURCES`, plus ``gliders`` thermalling); ``onground``
#: (taxiing, parked) has none: windows are airborne only.
REAL_CATEGORY_CLASS: Final[dict[str, str]] = {
    "calibration": "orbit", "government-heli": "orbit", "gliders": "orbit", "refuelling": "racetrack",
    "survey": "survey", "survey-sparse": "survey", "ordinary": "transit", "skywriting": "other",
}
#: Ground speed (kt) under which an airborne aircraft counts as hovering.
HOVER_KT: Final = 10.0
#: Points closer than this (m) are dropped before legs are found.
LEG_THIN_M: Final = 250.0
#: A thinned step turning less than this (deg) is on a straight leg.
STRAIGHT_DEG: Final = 5.0
#: A run of steps turning one way by more than this (deg) in all is a turn (for alternation).
_TURN_EVENT_DEG: Final = 20.0
_UTURN_DEG: Final = (150.0, 270.0)
_LEG_MIN_M: Final = 1000.0
_REVISIT_M: Final = 1000.0
_REVISIT_GAP_S: Final = (150.0, 1800.0)


def sim_class(behaviour: str, revolutions: float = math.nan) -> str | None:
    """The reporter's behaviour of a simulator truth interval; None for ``parked``.

    >>> sim_class("hold"), sim_class("partial_orbit", 1.2), sim_class("partial_orbit", 0.5), sim_class("parked")
    ('racetrack', 'orbit', 'other', None)
    """
    if behaviour == "partial_orbit" and revolutions >= 1.0:
        return "orbit"
    return SIM_BEHAVIOUR_CLASS.get(behaviour)


def _wrap(deg: np.ndarray) -> np.ndarray:
    return (deg + 180.0) % 360.0 - 180.0


def _time_share(t: np.ndarray, mask: np.ndarray) -> float:
    """Share of the window's time spent where *mask* holds (each point weighs the half
    intervals around it); the share of points when every time is the same."""
    if len(t) < 2 or not np.ptp(t) > 0:
        return float(np.mean(mask)) if len(mask) else 0.0
    dt = np.diff(t)
    w = np.concatenate([dt[:1], dt[:-1] + dt[1:], dt[-1:]]) / 2.0
    return float(np.sum(w * mask) / np.sum(w))


def _alternation(turns: np.ndarray) -> float:
    """Share of consecutive turn events (:func:`_turn_events`) that turn the other way than
    the one before."""
    events = np.sign(_turn_events(turns))
    if len(events) < 2:
        return 0.0
    return float(np.mean(events[1:] != events[:-1]))


def _legs(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Leg structure of a path: straight share, axial and polar heading concentration, and
    the across-track spread of straight legs over their along-track extent."""
    out = {"bh_straight_share": 0.0, "bh_axial": 0.0, "bh_polar": 0.0, "bh_cross_ratio": 0.0}
    k = thin_indices(x, y, LEG_THIN_M) if len(x) else np.zeros(0, int)
    if len(k) < 3:
        return out
    dx, dy = np.diff(x[k]), np.diff(y[k])
    length = np.hypot(dx, dy)
    heading = np.arctan2(dx, dy)
    turn = np.abs(_wrap(np.degrees(np.diff(heading))))
    # a step is straight when neither of its ends turns much
    straight = np.concatenate([turn[:1], np.maximum(turn[:-1], turn[1:]), turn[-1:]]) < STRAIGHT_DEG
    total = float(length.sum())
    if total <= 0:
        return out
    out["bh_straight_share"] = float(length[straight].sum() / total)
    w = length / total
    out["bh_polar"] = float(abs(np.sum(w * np.exp(1j * heading))))
    axial = np.sum(w * np.exp(2j * heading))
    out["bh_axial"] = float(abs(axial))
    if straight.sum() >= 2:
        axis = np.angle(axial) / 2.0  # dominant axis, radians from north
        mx, my = (x[k][:-1] + x[k][1:]) / 2, (y[k][:-1] + y[k][1:]) / 2
        along = mx * math.sin(axis) + my * math.cos(axis)
        across = mx * math.cos(axis) - my * math.sin(axis)
        sa, sc = along[straight], across[straight]
        out["bh_cross_ratio"] = float(np.ptp(sc) / max(float(np.ptp(sa)), LEG_THIN_M))
    return out


def _turn_events(turn: np.ndarray) -> np.ndarray:
    """Signed totals (deg) of the runs of steps turning one way by more than :data:`_TURN_EVENT_DEG`."""
    sign = np.sign(turn)
    nz = sign != 0
    if not nz.any():
        return np.zeros(0)
    s, d = sign[nz], turn[nz]
    run = np.concatenate([[0], np.cumsum(s[1:] != s[:-1])])
    totals = np.bincount(run, weights=d)
    return totals[np.abs(totals) > _TURN_EVENT_DEG]


def _shape(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Turn events and legs of a path thinned to :data:`LEG_THIN_M`: U-turns (events of
    150-270 deg), the share of consecutive legs flown the opposite way, their median
    across-track gap, the variety of turn sizes and turn events per km."""
    out = {"bh_uturns": 0.0, "bh_antiparallel": 0.0, "bh_leg_gap_m": 0.0, "bh_event_var": 0.0, "bh_events_per_km": 0.0}
    k = thin_indices(x, y, LEG_THIN_M) if len(x) else np.zeros(0, int)
    if len(k) < 3:
        return out
    dx, dy = np.diff(x[k]), np.diff(y[k])
    heading = np.arctan2(dx, dy)
    turn = _wrap(np.degrees(np.diff(heading)))
    events = np.abs(_turn_events(turn))
    out["bh_uturns"] = float(np.sum((events >= _UTURN_DEG[0]) & (events <= _UTURN_DEG[1])))
    path_km = float(np.hypot(dx, dy).sum()) / 1000.0
    out["bh_events_per_km"] = len(events) / path_km if path_km > 0 else 0.0
    out["bh_event_var"] = float(np.std(np.log2(events))) if len(events) >= 2 else 0.0
    legs = _straight_legs(x[k], y[k], np.abs(turn))
    if len(legs) >= 2:
        h = np.array([leg[0] for leg in legs])
        flip = np.abs(_wrap(np.degrees(np.diff(h)))) > 150.0
        out["bh_antiparallel"] = float(flip.mean())
        if flip.any():
            gaps = [abs((legs[i + 1][1] - legs[i][1]) * math.cos(h[i]) - (legs[i + 1][2] - legs[i][2]) * math.sin(h[i]))
                    for i in np.flatnonzero(flip)]
            out["bh_leg_gap_m"] = float(np.median(gaps))
    return out


def _straight_legs(xk: np.ndarray, yk: np.ndarray, turn: np.ndarray) -> list[tuple[float, float, float]]:
    """(heading rad, mid x, mid y) of each run of straight steps at least :data:`_LEG_MIN_M` long."""
    straight = np.concatenate([turn[:1], np.maximum(turn[:-1], turn[1:]), turn[-1:]]) < STRAIGHT_DEG
    edges = np.flatnonzero(np.diff(np.r_[0, straight.astype(int), 0]))
    legs = []
    for a, b in zip(edges[::2], edges[1::2]):  # steps a..b-1, points a..b
        ddx, ddy = xk[b] - xk[a], yk[b] - yk[a]
        if math.hypot(ddx, ddy) >= _LEG_MIN_M:
            legs.append((math.atan2(ddx, ddy), (xk[a] + xk[b]) / 2.0, (yk[a] + yk[b]) / 2.0))
    return legs


def _revisit_share(tk: np.ndarray, xk: np.ndarray, yk: np.ndarray) -> float:
    """Share of (thinned) points within 1 km of a point 2.5 to 30 minutes earlier."""
    if len(tk) < 3:
        return 0.0
    d2 = (xk[:, None] - xk[None, :]) ** 2 + (yk[:, None] - yk[None, :]) ** 2
    lag = tk[:, None] - tk[None, :]
    hit = (d2 <= _REVISIT_M**2) & (lag >= _REVISIT_GAP_S[0]) & (lag <= _REVISIT_GAP_S[1])
    return float(hit.any(axis=1).mean())


def _nan_features() -> dict[str, float]:
    return dict.fromkeys(BEHAVIOUR_FEATURES, math.nan)


def window_behaviour(t: np.ndarray, x: np.ndarray, y: np.ndarray, speed_kt: np.ndarray | None = None,
                     alt_ft: np.ndarray | None = None, *, known: tuple[float, float] | None = None,
                     thinned: np.ndarray | None = None) -> dict[str, float]:
    """The :data:`BEHAVIOUR_FEATURES` of one window: point times (s), local metres, ground
    speeds (kt) and altitudes (ft); NaN everywhere under 3 points. *known*: the window's
    multi-scale turn and revisit share when already computed (``turn_multi_deg``,
    ``revisit_1km`` of :func:`flightpaths.score.aggregate.add_window_geometry`, the same
    definitions), so they are not computed twice; *thinned*, likewise, the indices of the
    points thinned to :data:`flightpaths.score.turns.THIN_M`."""
    t, x, y = (np.asarray(v, float) for v in (t, x, y))
    n = len(t)
    if n < 3:
        return _nan_features()
    speed = np.asarray(speed_kt, float) if speed_kt is not None else np.full(n, np.nan)
    alt = np.asarray(alt_ft, float) if alt_ft is not None else np.full(n, np.nan)
    out = _nan_features()
    k = thin_indices(x, y, THIN_M) if thinned is None else thinned
    cum = cumulative_turn(x[k], y[k])
    steps = np.diff(cum, prepend=0.0) if cum is not None else np.zeros(0)
    net = abs(float(cum[-1])) if cum is not None and len(cum) else 0.0
    total = float(np.abs(steps).sum()) if len(steps) else 0.0
    out["bh_turn_net"] = net
    out["bh_turn_total"] = total
    if known is not None:
        out["bh_turn_multi"], out["bh_revisit"] = known
    else:
        out["bh_turn_multi"] = multiscale_turn_thinned(t[k], cum, MULTISCALE.spans()) if cum is not None else 0.0
        out["bh_revisit"] = _revisit_share(t[k], x[k], y[k])
    out["bh_consistency"] = net / total if total > 0 else 0.0
    out["bh_alternation"] = _alternation(steps)
    fin = np.isfinite(speed)
    out["bh_speed_kt"] = float(np.median(speed[fin])) if fin.any() else math.nan
    out["bh_slow_share"] = _time_share(t[fin], speed[fin] < HOVER_KT) if fin.sum() >= 2 else math.nan
    fa = np.isfinite(alt)
    if fa.any():
        out["bh_alt_ft"] = float(np.median(alt[fa]))
        out["bh_alt_change_ft"] = float(alt[fa][-1] - alt[fa][0])
        out["bh_alt_range_ft"] = float(np.ptp(alt[fa]))
    out.update(_legs(x, y))
    out.update(_shape(x, y))
    out["bh_extent_m"] = float(max(np.ptp(x), np.ptp(y)))
    path = float(np.hypot(np.diff(x), np.diff(y)).sum())
    out["bh_straightness"] = float(math.hypot(x[-1] - x[0], y[-1] - y[0]) / path) if path > 0 else 0.0
    return out


def _array(value: Any) -> np.ndarray | None:
    if isinstance(value, (np.ndarray, list, tuple)) and len(value):
        return np.asarray(value, float)
    return None


def add_window_behaviour(windows: pd.DataFrame, rows: np.ndarray | None = None, *,
                         thinned: Sequence[np.ndarray | None] | None = None) -> pd.DataFrame:
    """*windows* with one column per :data:`BEHAVIOUR_FEATURES` (NaN where not computed).

    Needs the per-point arrays ``pt``, ``px``, ``py`` (``pspeed`` and ``palt`` when present);
    *rows* (a boolean mask) limits the work to some windows. Where the windows already carry
    ``turn_multi_deg`` and ``revisit_1km`` (:func:`flightpaths.score.aggregate.add_window_geometry`),
    those are taken instead of computed again, and so are the thinned points' indices given
    as *thinned* (one entry per window, None where not known).
    """
    values = np.full((len(windows), len(BEHAVIOUR_FEATURES)), np.nan)
    if len(windows) and {"pt", "px", "py"} <= set(windows.columns):
        mask = np.ones(len(windows), bool) if rows is None else np.asarray(rows, bool)
        cols = [windows[c].to_numpy() if c in windows.columns else None for c in ("pt", "px", "py", "pspeed", "palt")]
        have = {"turn_multi_deg", "revisit_1km"} <= set(windows.columns)
        multi = windows["turn_multi_deg"].to_numpy(float) if have else np.full(len(windows), np.nan)
        revisit = windows["revisit_1km"].to_numpy(float) if have else np.full(len(windows), np.nan)
        for i in np.flatnonzero(mask):
            t, x, y, s, a = (_array(c[i]) if c is not None else None for c in cols)
            if t is None or x is None or y is None or not len(t) == len(x) == len(y):
                continue
            s = s if s is not None and len(s) == len(t) else None
            a = a if a is not None and len(a) == len(t) else None
            known = (float(multi[i]), float(revisit[i])) if np.isfinite(multi[i]) and np.isfinite(revisit[i]) else None
            k = thinned[int(i)] if thinned is not None else None
            f = window_behaviour(t, x, y, s, a, known=known, thinned=k)
            values[i] = [f[name] for name in BEHAVIOUR_FEATURES]
    out = windows.copy()
    for j, name in enumerate(BEHAVIOUR_FEATURES):
        out[name] = values[:, j]
    return out


def segment_behaviour(windows: pd.DataFrame, key: pd.Series | np.ndarray) -> pd.DataFrame:
    """One row of :data:`SEGMENT_FEATURES` per segment key ("" = none): the median of each
    window feature over the segment's windows of its longest window length (windows without
    features are skipped), then the :data:`SEGMENT_EXTREMES` over the same windows. Indexed
    by key, sorted."""
    key = np.asarray(key, dtype=object).astype(str)
    present = [c for c in BEHAVIOUR_FEATURES if c in windows.columns]
    frame = pd.DataFrame({c: windows[c].to_numpy(float) for c in present})
    frame["_k"] = key
    frame["_w"] = windows["window_s"].to_numpy(float) if "window_s" in windows.columns else 0.0
    if present:
        frame = frame[(frame["_k"] != "") & frame[present].notna().any(axis=1)]
    else:
        frame = frame[frame["_k"] != ""]
    longest = frame.groupby("_k")["_w"].transform("max") if len(frame) else frame["_w"]
    groups = frame[frame["_w"] == longest].groupby("_k")
    table = groups[present].median()
    for (name, how), column in zip(SEGMENT_EXTREMES, SEGMENT_FEATURES[len(BEHAVIOUR_FEATURES):]):
        table[column] = groups[name].agg(how) if name in present else np.nan
    for c in SEGMENT_FEATURES:
        if c not in table.columns:
            table[c] = np.nan
    return table[list(SEGMENT_FEATURES)].sort_index()
