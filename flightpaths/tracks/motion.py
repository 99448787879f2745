"""Mouse motion normalised against recording shortcuts, and its features per window.

A detector must learn the movement, not the recording setup. So before any figure:

- **Screen fractions**: coordinates become fractions of the screen. A file whose coordinates
  all lie within ``[-fraction_max, fraction_max]`` is taken as already in 0-1 fractions (some
  generators write them); otherwise pixels are divided by the resolution the file states
  (``screen_w``/``screen_h``, DELBOT) or, when none, by the file's own largest x and y (a long
  Balabit session reaches near the screen's edges; a short one under-estimates its screen).
- **A fixed time step**: each stroke (points with no silence over ``stroke_gap_s``) is
  resampled by linear interpolation every ``step_s`` seconds, whatever the logger's interval,
  then smoothed by a moving average of ``smooth_steps`` steps (coarse logging leaves corners).
- **Windows of a fixed duration**: ``window_s`` long every ``hop_s``, inside strokes; strokes
  shorter than one window give none (counted), so a file's length is never a feature. At
  most ``max_windows`` per file, evenly spread (long sessions would otherwise dominate).

Per window (:data:`MOTION_FEATURES`): speed profile (mean, spread, peakiness, number of
speed peaks per second), acceleration and jerk (and jerk relative to acceleration, a
smoothness measure), curvature (turning per step, its spread, turning per screen fraction),
the speed-curvature coupling (people slow down in bends: the two-thirds power law),
straightness (chord over path), pauses (share of steps below ``pause_speed``) and click
timing (presses, releases and hold time inside the window; NaN when none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from ..errors import SettingsError
from .settings import _positive

__all__ = ["MOTION_FEATURES", "MotionReport", "MotionSettings", "motion_windows", "screen_fractions"]

MOTION_FEATURES: Final = (
    "speed_mean", "speed_cv", "speed_peak_ratio", "speed_peaks_per_s",
    "acc_mean", "acc_cv", "jerk_mean", "jerk_cv", "jerk_per_acc",
    "turn_mean", "turn_std", "turn_net", "curv_per_fraction", "speed_curv_corr",
    "straightness", "pause_share",
    "presses", "releases", "hold_s",
)


@dataclass(frozen=True)
class MotionSettings:
    """How mouse motion is normalised and cut (see the module docstring); seconds and screen fractions.
    ``arc_lengths`` (screen widths, longest first), ``arc_min_points`` and ``max_arcs`` set the arcs of :mod:`.arcs`."""

    step_s: float = 0.02
    window_s: float = 0.2
    hop_s: float = 0.1
    stroke_gap_s: float = 0.25
    max_windows: int = 200
    smooth_steps: int = 3
    fraction_max: float = 1.5
    pause_speed: float = 0.02
    arc_lengths: tuple[float, ...] = (0.25, 0.125)
    arc_min_points: int = 8
    max_arcs: int = 200

    def __post_init__(self) -> None:
        for name in ("step_s", "window_s", "hop_s", "stroke_gap_s", "fraction_max", "pause_speed"):
            _positive(name, getattr(self, name))
        if not self.arc_lengths:
            raise SettingsError("setting arc_lengths needs at least one length")
        for length in self.arc_lengths:
            _positive("arc_lengths", length)
        if self.window_s < 4 * self.step_s:
            raise SettingsError(f"setting window_s ({self.window_s}) must hold at least 4 steps of step_s ({self.step_s})")
        if int(self.smooth_steps) < 1:
            raise SettingsError(f"setting smooth_steps must be at least 1, got {self.smooth_steps!r}")
        if int(self.max_windows) < 1 or int(self.max_arcs) < 1:
            raise SettingsError(f"settings max_windows and max_arcs must be at least 1, got {self.max_windows!r}, {self.max_arcs!r}")
        if int(self.arc_min_points) < 6:
            raise SettingsError(f"setting arc_min_points must be at least 6 (a conic has 5 degrees of freedom), got {self.arc_min_points!r}")

    @property
    def steps(self) -> int:
        """Resampled points per window."""
        return int(round(self.window_s / self.step_s)) + 1


@dataclass
class MotionReport:
    """What normalising did: files by unit, files and strokes too short for a window, arcs (:mod:`.arcs`)."""

    files: int = 0
    fraction_files: int = 0
    pixel_files_stated_screen: int = 0
    pixel_files_screen_from_data: int = 0
    short_strokes: int = 0
    files_without_window: int = 0
    windows: int = 0
    arcs: int = 0
    files_with_arcs: int = 0

    def summary(self) -> str:
        """One line."""
        return (f"{self.files} files: {self.fraction_files} in 0-1 fractions, {self.pixel_files_stated_screen} in pixels "
                f"of a stated screen, {self.pixel_files_screen_from_data} in pixels scaled by their own extent; "
                f"{self.windows} windows; {self.short_strokes} strokes shorter than a window; "
                f"{self.files_without_window} files gave no window; {self.arcs} arcs from {self.files_with_arcs} files")


def _screen_of(points: pd.DataFrame, col: str, fallback: float) -> float:
    if col in points.columns:
        stated = pd.to_numeric(points[col], errors="coerce").to_numpy(float)
        stated = stated[np.isfinite(stated) & (stated > 0)]
        if len(stated):
            return float(stated[0])
    return fallback


def screen_fractions(points: pd.DataFrame, settings: MotionSettings = MotionSettings()) -> tuple[np.ndarray, np.ndarray, str]:
    """The x and y of one file's *points* as screen fractions, and how: ``fractions``,
    ``stated`` (pixels / stated resolution) or ``extent`` (pixels / the file's largest x, y).

    >>> p = pd.DataFrame({"x": [0.2, 0.5], "y": [0.1, 0.9]})
    >>> screen_fractions(p)[2]
    'fractions'
    >>> fx, fy, how = screen_fractions(pd.DataFrame({"x": [768.0], "y": [432.0], "screen_w": 1536.0, "screen_h": 864.0}))
    >>> float(fx[0]), float(fy[0]), how
    (0.5, 0.5, 'stated')
    """
    x = pd.to_numeric(points["x"], errors="coerce").to_numpy(float)
    y = pd.to_numeric(points["y"], errors="coerce").to_numpy(float)
    finite = np.isfinite(x) & np.isfinite(y)
    if finite.any() and max(np.abs(x[finite]).max(), np.abs(y[finite]).max()) <= settings.fraction_max:
        return x, y, "fractions"
    x_max = float(np.nanmax(x)) if finite.any() else 1.0
    y_max = float(np.nanmax(y)) if finite.any() else 1.0
    w = _screen_of(points, "screen_w", float("nan"))
    h = _screen_of(points, "screen_h", float("nan"))
    if np.isfinite(w) and np.isfinite(h):
        return x / w, y / h, "stated"
    return x / max(x_max, 1.0), y / max(y_max, 1.0), "extent"


def _seconds(points: pd.DataFrame) -> np.ndarray:
    t = points["time"]
    if pd.api.types.is_datetime64_any_dtype(t):
        return np.asarray(t.astype("datetime64[ns, UTC]").astype("int64").to_numpy() / 1e9, dtype=float)
    return np.asarray(pd.to_numeric(t, errors="coerce"), dtype=float)


def _strokes(t: np.ndarray, gap_s: float) -> list[tuple[int, int]]:
    """[lo, hi) index ranges of *t* (sorted) with no step over *gap_s*."""
    if len(t) == 0:
        return []
    cuts = np.flatnonzero(np.diff(t) > gap_s) + 1
    bounds = np.concatenate([[0], cuts, [len(t)]])
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def _resampled_windows(t: np.ndarray, fx: np.ndarray, fy: np.ndarray, s: MotionSettings,
                       report: MotionReport) -> tuple[np.ndarray, np.ndarray]:
    """Windows of one file as an array (n, steps, 2) of resampled positions, and their start times."""
    blocks, starts = [], []
    k = s.steps
    for lo, hi in _strokes(t, s.stroke_gap_s):
        tt, keep = np.unique(t[lo:hi], return_index=True)  # one position per instant (the first)
        if len(tt) < 2 or tt[-1] - tt[0] < s.window_s + (s.smooth_steps - 1) * s.step_s:
            report.short_strokes += 1
            continue
        block, start = _stroke_windows(tt, fx[lo:hi][keep], fy[lo:hi][keep], s)
        blocks.append(block)
        starts.append(start)
    if not blocks:
        return np.empty((0, k, 2)), np.empty(0)
    windows, start = np.concatenate(blocks), np.concatenate(starts)
    if len(windows) > s.max_windows:  # evenly spread over the file, deterministic
        pick = np.unique(np.linspace(0, len(windows) - 1, s.max_windows).round().astype(int))
        windows, start = windows[pick], start[pick]
    return windows, start


def _stroke_windows(tt: np.ndarray, x: np.ndarray, y: np.ndarray, s: MotionSettings) -> tuple[np.ndarray, np.ndarray]:
    """The windows of one stroke (positions *x*, *y* at distinct times *tt*) resampled every
    ``step_s`` (and smoothed), as an array (n, steps, 2), and their start times."""
    k = s.steps
    grid = np.arange(tt[0], tt[-1] + 1e-9, s.step_s)
    px, py = np.interp(grid, tt, x), np.interp(grid, tt, y)
    if s.smooth_steps > 1:  # a moving average rounds off the corners that coarse logging leaves
        kernel = np.ones(s.smooth_steps) / s.smooth_steps
        px, py = np.convolve(px, kernel, "valid"), np.convolve(py, kernel, "valid")
        grid = grid[(s.smooth_steps - 1) // 2:][: len(px)]
    hop = max(1, int(round(s.hop_s / s.step_s)))
    first = np.arange(0, len(grid) - k + 1, hop)
    idx = first[:, None] + np.arange(k)[None, :]
    return np.stack([px[idx], py[idx]], axis=-1), grid[first]


def _cv(values: np.ndarray) -> np.ndarray:
    mean = values.mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean > 0, values.std(axis=1) / mean, 0.0)


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation (0 where a row is constant)."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(axis=1) / den, 0.0)


def _shape_features(w: np.ndarray, s: MotionSettings) -> dict[str, np.ndarray]:
    """Kinematic figures of windows *w* (n, steps, 2), vectorised."""
    dt = s.step_s
    v = np.diff(w, axis=1) / dt
    speed = np.hypot(v[..., 0], v[..., 1])
    acc = np.diff(v, axis=1) / dt
    jerk = np.diff(acc, axis=1) / dt
    acc_mag, jerk_mag = np.hypot(acc[..., 0], acc[..., 1]), np.hypot(jerk[..., 0], jerk[..., 1])
    heading = np.arctan2(v[..., 1], v[..., 0])
    moving = speed > s.pause_speed
    turn = np.angle(np.exp(1j * np.diff(heading, axis=1)))
    turn = np.where(moving[:, 1:] & moving[:, :-1], turn, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {**_speed_features(speed, acc_mag, jerk_mag, moving, s), **_path_features(w, speed, turn, dt),
                "pause_share": (~moving).mean(axis=1)}


def _speed_features(speed: np.ndarray, acc_mag: np.ndarray, jerk_mag: np.ndarray, moving: np.ndarray,
                    s: MotionSettings) -> dict[str, np.ndarray]:
    """Speed, acceleration and jerk figures of each window (rows of the step arrays)."""
    tol = 1e-3 * speed.mean(axis=1, keepdims=True)  # rounding noise on a steady speed is not a peak
    peaks = ((speed[:, 1:-1] > speed[:, :-2] + tol) & (speed[:, 1:-1] >= speed[:, 2:] + tol) & moving[:, 1:-1]).sum(axis=1)
    speed_mean = speed.mean(axis=1)
    acc_mean, jerk_mean = acc_mag.mean(axis=1), jerk_mag.mean(axis=1)
    return {
        "speed_mean": speed_mean,
        "speed_cv": _cv(speed),
        "speed_peak_ratio": np.where(speed_mean > 0, speed.max(axis=1) / speed_mean, 0.0),
        "speed_peaks_per_s": peaks / s.window_s,
        "acc_mean": acc_mean,
        "acc_cv": _cv(acc_mag),
        "jerk_mean": jerk_mean,
        "jerk_cv": _cv(jerk_mag),
        "jerk_per_acc": np.where(acc_mean > 0, jerk_mean / acc_mean, 0.0),
    }


def _path_features(w: np.ndarray, speed: np.ndarray, turn: np.ndarray, dt: float) -> dict[str, np.ndarray]:
    """Turn, curvature and straightness figures of each window."""
    step_len = speed * dt
    path = step_len.sum(axis=1)
    chord = np.hypot(*(w[:, -1] - w[:, 0]).T)
    mid = 0.5 * (step_len[:, 1:] + step_len[:, :-1])
    curv = np.where(mid > 1e-6, np.abs(turn) / np.maximum(mid, 1e-6), 0.0)
    return {
        "turn_mean": np.abs(turn).mean(axis=1),
        "turn_std": turn.std(axis=1),
        "turn_net": np.abs(turn.sum(axis=1)),
        "curv_per_fraction": np.where(path > 0, np.abs(turn).sum(axis=1) / np.maximum(path, 1e-9), 0.0),
        "speed_curv_corr": _corr(np.log(np.maximum(speed[:, 1:] * speed[:, :-1], 1e-12)), np.log(curv + 1e-3)),
        "straightness": np.where(path > 0, chord / np.maximum(path, 1e-12), 1.0),
    }


def _click_features(t: np.ndarray, state: np.ndarray, start: np.ndarray, s: MotionSettings) -> dict[str, np.ndarray]:
    """Presses, releases and the first hold time (release after press) inside each window."""
    n = len(start)
    end = start + s.window_s
    press_t, release_t = t[state == "pressed"], t[state == "released"]
    presses = ((press_t[None, :] >= start[:, None]) & (press_t[None, :] < end[:, None])).sum(axis=1)
    releases = ((release_t[None, :] >= start[:, None]) & (release_t[None, :] < end[:, None])).sum(axis=1)
    hold = np.full(n, np.nan)
    for i in np.flatnonzero(presses):
        p = press_t[(press_t >= start[i]) & (press_t < end[i])][0]
        after = release_t[(release_t >= p) & (release_t < end[i])]
        if len(after):
            hold[i] = after[0] - p
    return {"presses": presses.astype(float), "releases": releases.astype(float), "hold_s": hold}


def motion_windows(points: pd.DataFrame, settings: MotionSettings = MotionSettings(),
                   report: MotionReport | None = None) -> pd.DataFrame:
    """One row per fixed-duration window of every object (file) in *points*: ``object_id``,
    ``source_file``, ``start_s`` (seconds into the file) and :data:`MOTION_FEATURES`."""
    report = report if report is not None else MotionReport()
    frames = []
    for object_id, one in points.groupby("object_id", sort=True, observed=True):
        frame = _file_windows(str(object_id), one.sort_values("time", kind="stable"), settings, report)
        if frame is not None:
            frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["object_id", "source_file", "start_s", *MOTION_FEATURES])
    return pd.concat(frames, ignore_index=True)[["object_id", "source_file", "start_s", *MOTION_FEATURES]]


def _file_windows(object_id: str, one: pd.DataFrame, settings: MotionSettings, report: MotionReport) -> pd.DataFrame | None:
    """The windows of one object (file), its points in time order, with their figures; None when it has none."""
    report.files += 1
    fx, fy, how = screen_fractions(one, settings)
    report.fraction_files += how == "fractions"
    report.pixel_files_stated_screen += how == "stated"
    report.pixel_files_screen_from_data += how == "extent"
    t = _seconds(one)
    ok = np.isfinite(t) & np.isfinite(fx) & np.isfinite(fy)
    t, fx, fy = t[ok], fx[ok], fy[ok]
    windows, start = _resampled_windows(t, fx, fy, settings, report)
    if not len(windows):
        report.files_without_window += 1
        return None
    state = one["state"].astype("string").str.lower().fillna("").to_numpy(str)[ok] if "state" in one.columns \
        else np.full(len(t), "", dtype=str)
    feats = {**_shape_features(windows, settings), **_click_features(t, state, start, settings)}
    frame = pd.DataFrame({"object_id": object_id, "source_file": str(one["source_file"].iloc[0]),
                          "start_s": start - t[0], **feats})
    report.windows += len(frame)
    return frame
