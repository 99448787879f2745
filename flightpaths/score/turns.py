"""Turn-counting rules: the 5-minute rule and the multi-scale rule of circling-alert bots.

Both count the net signed heading change along a track whose points are first thinned to
:data:`THIN_M` (so GPS jitter of a parked aircraft adds no turns); one full circle gives
about 360 degrees.

* :func:`max_net_turn_deg`, the *5-minute rule* (the notes' baseline): the largest absolute
  change of the cumulative turn between two points at most 5 minutes apart.
* :func:`multiscale_turn_deg`, the *multi-scale rule* of the strongest circling-alert bot we
  know (``spangborn/watcher-in-the-sky``, ``src/jobs/detect.ts``: ``getCirclingSegment``):
  windows that start at every point and last 5, 7, 9 ... 39 minutes (5 to 40 minutes in
  2-minute steps); a window holds the points up to its start plus its length; its score is
  the absolute *net* signed turn from its first to its last point; the track's score is the
  largest. The bot alerts at 1,440 degrees (four turns). Two differences from the bot,
  both on purpose: points are thinned to 50 m (the bot reads a point every 10 s and keeps
  airborne points only; here windows are built from airborne points anyway), and the bot's
  first term, which compares the window's first bearing with north (0 degrees) and adds up
  to 180 degrees depending on the direction of flight, is left out.

Wide slow orbits and racetracks, which turn only 70-130 degrees in 5 minutes, reach several
revolutions within 40 minutes; a single turn or a V of an airliner stays under half of one.

>>> a = np.linspace(0, 8 * np.pi, 241)  # four laps of a 1 km circle, a point every 5 s (20 min)
>>> t, x, y = np.arange(241) * 5.0, 1000 * np.cos(a), 1000 * np.sin(a)
>>> round(max_net_turn_deg(t, x, y)), round(multiscale_turn_deg(t, x, y))
(360, 1434)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

__all__ = [
    "MULTISCALE",
    "THIN_M",
    "MultiScaleSettings",
    "cumulative_turn",
    "max_net_turn_deg",
    "multiscale_turn_deg",
    "multiscale_turn_thinned",
    "thin_indices",
    "window_multiscale_deg",
]

#: Points closer than this to the last one kept are dropped before turns are counted.
THIN_M: Final = 50.0


@dataclass(frozen=True)
class MultiScaleSettings:
    """The multi-scale rule's windows (seconds) and the bot's alert threshold (degrees)."""

    min_s: float = 300.0
    max_s: float = 2400.0
    step_s: float = 120.0
    thin_m: float = THIN_M
    alert_deg: float = 1440.0

    def spans(self) -> np.ndarray:
        """The window lengths: *min_s*, *min_s* + *step_s*, ... up to *max_s* (5, 7, ... 39 min)."""
        return np.arange(self.min_s, self.max_s + 1e-9, self.step_s)


#: The bot's settings (5 to 40 minutes, 2-minute steps, alert at 1,440 degrees).
MULTISCALE: Final = MultiScaleSettings()


def thin_indices(x: np.ndarray, y: np.ndarray, min_m: float) -> np.ndarray:
    """Indices of points kept when each must be at least *min_m* from the last one kept.

    >>> thin_indices(np.array([0.0, 10, 60, 70, 200]), np.zeros(5), 50.0).tolist()
    [0, 2, 4]
    """
    keep = [0]
    lx, ly = x[0], y[0]
    d2 = min_m * min_m
    for i in range(1, len(x)):
        if (x[i] - lx) ** 2 + (y[i] - ly) ** 2 >= d2:
            keep.append(i)
            lx, ly = x[i], y[i]
    return np.asarray(keep)


def cumulative_turn(x: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """Cumulative signed heading change (deg) at the start of each step along already-thinned
    points (``[0, turn at point 1, ...]``, one value per step); None under 3 points.

    >>> cumulative_turn(np.array([0.0, 1, 1, 0]), np.array([0.0, 0, 1, 1])).tolist()
    [0.0, 90.0, 180.0]
    """
    if len(x) < 3:
        return None
    heading = np.degrees(np.arctan2(np.diff(y), np.diff(x)))
    out: np.ndarray = np.r_[0.0, np.cumsum((np.diff(heading) + 180.0) % 360.0 - 180.0)]
    return out


def max_net_turn_deg(t: np.ndarray, x: np.ndarray, y: np.ndarray, *, window_s: float = 300.0,
                     thin_m: float = THIN_M) -> float:
    """The 5-minute turn-counting rule: the largest net signed heading change (deg) in any window.

    The cumulative signed heading change is taken along the thinned points, and the result
    is the largest absolute change between two points at most *window_s* apart.

    >>> a = np.linspace(0, 2 * np.pi, 61)
    >>> round(max_net_turn_deg(np.arange(61) * 5.0, 1000 * np.cos(a), 1000 * np.sin(a)))
    354
    >>> max_net_turn_deg(np.arange(10) * 5.0, np.arange(10) * 100.0, np.zeros(10))
    0.0
    """
    t, x, y = (np.asarray(v, float) for v in (t, x, y))
    if len(t) < 3:
        return 0.0
    k = thin_indices(x, y, thin_m)
    cum = cumulative_turn(x[k], y[k])
    if cum is None:
        return 0.0
    tk = np.r_[t[k[0]], t[k[1:-1]]]
    series = pd.Series(cum, index=pd.to_datetime(tk, unit="s"))
    roll = series.rolling(pd.Timedelta(seconds=window_s), closed="both")
    net = np.maximum(roll.max().to_numpy() - cum, cum - roll.min().to_numpy())
    return float(np.nanmax(net)) if len(net) else 0.0


def multiscale_turn_thinned(tk: np.ndarray, cum: np.ndarray, spans: np.ndarray) -> float:
    """:func:`multiscale_turn_deg` on thinned points: their times *tk* (m) and
    :func:`cumulative_turn` *cum* (m - 1), for windows of each length in *spans* (s).

    A window from point i to point j (the last one at most a span after point i) turns
    ``cum[j - 1] - cum[i]``: every heading change at its inner points. Vectorised: one
    ``searchsorted`` per span over every start point.
    """
    m = len(tk)
    if m < 3 or len(cum) != m - 1:
        return 0.0
    starts = np.arange(m)
    ends = np.searchsorted(tk, tk[None, :] + np.asarray(spans, float)[:, None], side="right") - 1
    valid = ends >= starts + 2  # at least one inner point
    net = np.abs(cum[np.clip(ends - 1, 0, m - 2)] - cum[np.minimum(starts, m - 2)])
    return float(np.max(np.where(valid, net, 0.0)))


def multiscale_turn_deg(t: np.ndarray, x: np.ndarray, y: np.ndarray, *,
                        settings: MultiScaleSettings = MULTISCALE) -> float:
    """The multi-scale rule: the largest |net signed turn| (deg) over windows of 5 to 40 minutes.

    *t* in seconds (increasing), *x*, *y* in metres. Windows start at every (thinned) point;
    their lengths are :meth:`MultiScaleSettings.spans`. A track shorter than the shortest
    span is judged as one window.

    >>> a = np.linspace(0, 2 * np.pi, 61)  # one lap of a 1 km circle in 5 minutes
    >>> round(multiscale_turn_deg(np.arange(61) * 5.0, 1000 * np.cos(a), 1000 * np.sin(a)))
    354
    >>> a = np.r_[np.zeros(60), np.linspace(0, np.pi / 2, 30), np.full(60, np.pi / 2)]  # one 90-degree turn
    >>> round(multiscale_turn_deg(np.arange(150) * 10.0, np.cumsum(np.cos(a)) * 200, np.cumsum(np.sin(a)) * 200))
    90
    """
    t, x, y = (np.asarray(v, float) for v in (t, x, y))
    if len(t) < 3:
        return 0.0
    k = thin_indices(x, y, settings.thin_m)
    cum = cumulative_turn(x[k], y[k])
    if cum is None:
        return 0.0
    return multiscale_turn_thinned(t[k], cum, settings.spans())


def window_multiscale_deg(windows: pd.DataFrame, *, settings: MultiScaleSettings = MULTISCALE) -> np.ndarray:
    """The multi-scale rule inside each window, from its per-point arrays ``pt``, ``px``, ``py``
    (as :func:`flightpaths.tracks.make_windows` writes them); NaN where a window has none
    (a window missing from the table, reindexed, has NaN there).

    >>> a = np.linspace(0, 4 * np.pi, 121)
    >>> w = pd.DataFrame({"pt": [np.arange(121) * 5.0, None, np.nan], "px": [1000 * np.cos(a), None, np.nan],
    ...                   "py": [1000 * np.sin(a), None, np.nan]})
    >>> window_multiscale_deg(w).round().tolist()
    [714.0, nan, nan]
    """
    out = np.full(len(windows), np.nan)
    if not {"pt", "px", "py"} <= set(windows.columns):
        return out
    for i, (t, x, y) in enumerate(zip(windows["pt"], windows["px"], windows["py"])):
        if not all(isinstance(v, (np.ndarray, list, tuple)) for v in (t, x, y)):
            continue  # None or NaN: no points for this window
        ta, xa, ya = (np.asarray(v, float) for v in (t, x, y))
        if ta.ndim == xa.ndim == ya.ndim == 1 and len(ta) == len(xa) == len(ya):
            out[i] = multiscale_turn_deg(ta, xa, ya, settings=settings)
    return out
