"""Episodes: consecutive or overlapping positive windows of one object, merged.

A reporter wants "N917PD circled over the park from 14:02 to 14:31", not forty overlapping
five-minute windows. :func:`merge_episodes` turns a scored windows table (one ``p_<class>``
column per class) into one row per episode, ranked by peak probability.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import SchemaError
from .settings import episode_classes

__all__ = ["EARTH_RADIUS_M", "EPISODE_COLUMNS", "headline_probability", "merge_episodes", "probability_columns"]

EARTH_RADIUS_M = 6_371_008.8

#: Columns of the episodes table, in order.
EPISODE_COLUMNS: tuple[str, ...] = (
    "rank",
    "episode_id",
    "class",
    "object_id",
    "callsign",
    "start",
    "end",
    "duration_s",
    "lat",
    "lon",
    "radius_m",
    "spread_m",
    "peak_p",
    "mean_p",
    "p_segment",
    "n_windows",
    "peak_window_id",
    "window_ids",
    "source_file",
    "line_first",
    "line_last",
)

_REQUIRED = ("window_id", "object_id", "start", "end")


def headline_probability(episode: Mapping[str, object]) -> tuple[float, bool]:
    """The probability an episode is shown and filtered by: its ``p_segment`` when it has one
    (True), else its peak window probability (False).

    >>> headline_probability({"peak_p": 0.9, "p_segment": float("nan")})
    (0.9, False)
    >>> headline_probability({"peak_p": 0.9, "p_segment": 0.4})
    (0.4, True)
    """
    raw = episode.get("p_segment")
    segment = float(raw) if raw is not None else float("nan")  # type: ignore[arg-type]
    if math.isfinite(segment):
        return segment, True
    return float(episode.get("peak_p", float("nan"))), False  # type: ignore[arg-type]


def probability_columns(windows: pd.DataFrame) -> list[str]:
    """The class names that have a ``p_<class>`` column, in column order.

    >>> probability_columns(pd.DataFrame(columns=["start", "p_circling", "p_not_circling"]))
    ['circling', 'not_circling']
    """
    return [c[2:] for c in windows.columns if isinstance(c, str) and c.startswith("p_")]


def _centroid(lat: np.ndarray, lon: np.ndarray) -> tuple[float, float]:
    """Mean position on the sphere (safe across the antimeridian); NaN for screen tracks."""
    ok = np.isfinite(lat) & np.isfinite(lon)
    if not ok.any():
        return float("nan"), float("nan")
    la, lo = np.radians(lat[ok]), np.radians(lon[ok])
    x, y, z = (np.cos(la) * np.cos(lo)).mean(), (np.cos(la) * np.sin(lo)).mean(), np.sin(la).mean()
    return float(np.degrees(np.arctan2(z, np.hypot(x, y)))), float(np.degrees(np.arctan2(y, x)))


def _distance_m(lat0: float, lon0: float, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Great-circle distances (haversine) from one point to many."""
    p0, p, dl = np.radians(lat0), np.radians(lat), np.radians(lon - lon0)
    a = np.sin((p - p0) / 2) ** 2 + np.cos(p0) * np.cos(p) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _mode(values: pd.Series) -> object:
    values = values.dropna()
    values = values[values.astype(str).str.len() > 0]
    if values.empty:
        return pd.NA
    return values.astype(str).value_counts().index[0]


def _one_episode(group: pd.DataFrame, cls: str) -> dict[str, object]:
    p = group[f"p_{cls}"].to_numpy(dtype=float)
    lat = group["lat"].to_numpy(dtype=float) if "lat" in group else np.full(len(group), np.nan)
    lon = group["lon"].to_numpy(dtype=float) if "lon" in group else np.full(len(group), np.nan)
    clat, clon = _centroid(lat, lon)
    ok = np.isfinite(lat) & np.isfinite(lon)
    spread = float(_distance_m(clat, clon, lat[ok], lon[ok]).max()) if ok.any() else float("nan")
    radius = float(np.nanmedian(group["radius_m"].to_numpy(dtype=float))) if "radius_m" in group and group["radius_m"].notna().any() else float("nan")
    start, end = group["start"].min(), group["end"].max()
    object_id = str(group["object_id"].iloc[0])
    files = sorted({str(f) for f in group["source_file"].dropna()}) if "source_file" in group else []
    lines_first = group["line_first"].dropna() if "line_first" in group else pd.Series(dtype=float)
    lines_last = group["line_last"].dropna() if "line_last" in group else pd.Series(dtype=float)
    return {
        "episode_id": f"{object_id}_{start:%Y%m%dT%H%M%S}_{cls}",
        "class": cls,
        "object_id": object_id,
        "callsign": _mode(group["callsign"]) if "callsign" in group else pd.NA,
        "start": start,
        "end": end,
        "duration_s": float((end - start).total_seconds()),
        "lat": clat,
        "lon": clon,
        "radius_m": radius,
        "spread_m": spread,
        "peak_p": float(p.max()),
        "mean_p": float(p.mean()),
        "p_segment": float("nan"),
        "n_windows": int(len(group)),
        "peak_window_id": str(group["window_id"].iloc[int(p.argmax())]),
        "window_ids": ";".join(group["window_id"].astype(str)),
        "source_file": ";".join(files) if files else pd.NA,
        "line_first": int(lines_first.min()) if len(lines_first) else pd.NA,
        "line_last": int(lines_last.max()) if len(lines_last) else pd.NA,
    }


def _empty_episodes() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in EPISODE_COLUMNS})
    frame["start"] = pd.Series(dtype="datetime64[ns, UTC]")
    frame["end"] = pd.Series(dtype="datetime64[ns, UTC]")
    for c in ("duration_s", "lat", "lon", "radius_m", "spread_m", "peak_p", "mean_p", "p_segment"):
        frame[c] = pd.Series(dtype=float)
    for c in ("rank", "n_windows"):
        frame[c] = pd.Series(dtype="int64")
    return frame


def merge_episodes(
    windows: pd.DataFrame,
    *,
    threshold: float = 0.5,
    classes: Sequence[str] | None = None,
    merge_gap_s: float = 0.0,
) -> pd.DataFrame:
    """Merge positive windows into episodes, one row each, best first.

    A window is positive for a class when ``p_<class> >= threshold``. Positive windows of the
    same object merge when the next one starts no later than ``merge_gap_s`` seconds after the
    latest end so far (so overlapping and touching windows merge). *classes* defaults to the
    classes that do not mean "nothing" (see :func:`flightpaths.score.episode_classes`).

    >>> t = pd.Timestamp("2024-05-01 12:00", tz="UTC")
    >>> w = pd.DataFrame({
    ...     "window_id": ["a1", "a2", "a3", "b1"], "object_id": ["abc123"] * 3 + ["def456"],
    ...     "callsign": ["N1"] * 3 + [None],
    ...     "start": [t, t + pd.Timedelta("150s"), t + pd.Timedelta("20min"), t],
    ...     "end": [t + pd.Timedelta("300s"), t + pd.Timedelta("450s"), t + pd.Timedelta("25min"),
    ...             t + pd.Timedelta("300s")],
    ...     "lat": [40.0] * 4, "lon": [-74.0] * 4,
    ...     "p_circling": [0.9, 0.7, 0.6, 0.2], "p_not_circling": [0.1, 0.3, 0.4, 0.8]})
    >>> merge_episodes(w)[["object_id", "n_windows", "duration_s", "peak_p", "window_ids"]]
      object_id  n_windows  duration_s  peak_p window_ids
    0    abc123          2       450.0     0.9      a1;a2
    1    abc123          1       300.0     0.6         a3
    """
    missing = [c for c in _REQUIRED if c not in windows.columns]
    known = probability_columns(windows)
    if missing or not known:
        need = missing + ([] if known else ["p_<class>"])
        raise SchemaError(f"a scored windows table needs column(s) {', '.join(need)}", path="windows")
    chosen = list(classes) if classes is not None else episode_classes(known)
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise SchemaError(f"no probability column for class(es) {', '.join(unknown)}; have {', '.join(known)}", path="windows")
    rows: list[dict[str, object]] = []
    gap = pd.Timedelta(seconds=float(merge_gap_s))
    for cls in chosen:
        pos = windows[windows[f"p_{cls}"].to_numpy(dtype=float) >= threshold]
        if pos.empty:
            continue
        pos = pos.sort_values(["object_id", "start", "end"], kind="stable").reset_index(drop=True)
        obj = pos["object_id"].astype(str)
        reach = pos.groupby(obj, sort=False)["end"].cummax()
        prev_reach = reach.groupby(obj, sort=False).shift(1)
        new = obj.ne(obj.shift(1)) | prev_reach.isna() | (pos["start"] > prev_reach + gap)
        for _, group in pos.groupby(new.cumsum().to_numpy(), sort=True):
            rows.append(_one_episode(group, cls))
    if not rows:
        return _empty_episodes()
    episodes = pd.DataFrame(rows)
    episodes = episodes.sort_values(["peak_p", "mean_p", "start"], ascending=[False, False, True], kind="stable")
    episodes.insert(0, "rank", np.arange(1, len(episodes) + 1, dtype="int64"))
    return episodes.reset_index(drop=True)[list(EPISODE_COLUMNS)]
