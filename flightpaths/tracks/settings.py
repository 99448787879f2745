"""Settings of cleaning and windowing (frozen, defaults here) and the report of what they did."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from ..errors import SettingsError

__all__ = ["PRESETS", "TRACK_PRESETS", "WINDOW_PRESETS", "CleanReport", "TrackSettings", "WindowSettings"]


#: the longest duration a window, step or gap may have (ten years): nanosecond times stay in range
MAX_DURATION_S: Final = 10 * 366 * 86_400.0


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise SettingsError(f"setting {name} must be a positive number, got {value!r}")


def _duration(name: str, value: float) -> None:
    _positive(name, value)
    if value > MAX_DURATION_S:
        raise SettingsError(f"setting {name} must be at most {MAX_DURATION_S:,.0f} s (ten years), got {value!r}")


@dataclass(frozen=True)
class TrackSettings:
    """How points are cleaned and cut into tracks.

    ``gap_s``: a silence longer than this starts a new track. ``min_points`` and
    ``min_duration_s``: shorter tracks are dropped (counted). A point whose implied speed from
    its neighbours exceeds ``max(max_speed_kt, jump_factor x reported speed)`` (plus
    ``jump_tolerance_m`` for position noise) on both sides is a spike and removed; a jump that
    cannot be blamed on one point splits the track. Altitudes outside ``altitude_range_ft``
    and speeds above ``max_reported_speed_kt`` are blanked (counted), not dropped.
    ``jump_rule``: False turns the spike/jump rule off (mouse telemetry: a cursor may jump,
    and a bot's teleport is what a detector should see). Named presets: :data:`TRACK_PRESETS`.
    """

    gap_s: float = 600.0
    min_points: int = 2
    min_duration_s: float = 0.0
    split_on_new_leg: bool = True
    max_speed_kt: float = 1000.0
    jump_factor: float = 3.0
    jump_tolerance_m: float = 500.0
    max_speed_px_s: float = 50_000.0
    screen_limit_px: float = 16_384.0
    altitude_range_ft: tuple[float, float] = (-1500.0, 60_000.0)
    max_reported_speed_kt: float = 1500.0
    jump_rule: bool = True

    def __post_init__(self) -> None:
        _duration("gap_s", self.gap_s)
        if self.min_duration_s:
            _duration("min_duration_s", self.min_duration_s)
        _positive("max_speed_kt", self.max_speed_kt)
        _positive("max_speed_px_s", self.max_speed_px_s)
        if int(self.min_points) < 1:
            raise SettingsError(f"setting min_points must be at least 1, got {self.min_points!r}")
        object.__setattr__(self, "altitude_range_ft", tuple(float(v) for v in self.altitude_range_ft))


def _as_tuple(value: float | Iterable[float] | None) -> tuple[float, ...] | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return (float(value),)
    return tuple(float(v) for v in value)


@dataclass(frozen=True)
class WindowSettings:
    """How tracks are cut into windows.

    ``window_s``: one length or several (e.g. ``(300, 600, 1200)``), seconds. ``step_s``:
    ``None`` for half of each length, one value for all lengths, or one value per length.
    Windows with fewer than ``min_points`` points are dropped (counted); those with fewer
    than ``few_points`` are kept and flagged in the ``few_points`` column. Steps shorter than
    ``min_segment_m`` (metres, or pixels for screen tracks) do not set a heading, so GPS
    jitter on a near-stationary aircraft adds less false turning. ``projection`` is
    ``"local"`` (vectorized) or ``"pyproj"`` (exact, one transformer per window, slow).
    ``airborne_only``: points the transponder reports on the ground are left out before
    windows are cut (counted as removed "on ground"): a parked or taxiing aircraft is not
    circling, and its GPS jitter and taxiway turns look like orbits when drawn to fit.
    """

    window_s: float | tuple[float, ...] = 300.0
    step_s: float | tuple[float, ...] | None = None
    min_points: int = 3
    few_points: int = 5
    min_segment_m: float = 0.0
    projection: str = "local"
    airborne_only: bool = True

    def __post_init__(self) -> None:
        lengths = _as_tuple(self.window_s) or ()
        if not lengths:
            raise SettingsError("setting window_s needs at least one window length")
        for value in lengths:
            _duration("window_s", value)
        object.__setattr__(self, "window_s", lengths if len(lengths) > 1 else lengths[0])
        steps = _as_tuple(self.step_s)
        if steps is not None:
            for value in steps:
                _duration("step_s", value)
            if len(steps) not in (1, len(lengths)):
                raise SettingsError(
                    f"setting step_s has {len(steps)} values for {len(lengths)} window lengths; "
                    "give one step, one per length, or none (half of each length)"
                )
            object.__setattr__(self, "step_s", steps if len(steps) > 1 else steps[0])
        if int(self.min_points) < 1:
            raise SettingsError(f"setting min_points must be at least 1, got {self.min_points!r}")
        if self.projection not in ("local", "pyproj"):
            raise SettingsError(f"setting projection must be 'local' or 'pyproj', got {self.projection!r}")

    def lengths(self) -> list[tuple[float, float]]:
        """The (window length, step) pairs in seconds.

        >>> WindowSettings(window_s=(300, 1200)).lengths()
        [(300.0, 150.0), (1200.0, 600.0)]
        """
        lengths = _as_tuple(self.window_s) or ()
        steps = _as_tuple(self.step_s)
        if steps is None:
            steps = tuple(w / 2 for w in lengths)
        elif len(steps) == 1:
            steps = steps * len(lengths)
        return list(zip(lengths, steps))


#: Kinds of data with their own settings; ``flight`` is the default everywhere.
PRESETS: Final = ("flight", "mouse")

#: Named track settings: ``mouse`` keeps every cursor point (no jump rule).
TRACK_PRESETS: Final[dict[str, TrackSettings]] = {"flight": TrackSettings(), "mouse": TrackSettings(jump_rule=False)}

#: Named window settings: ``mouse`` cuts 20 s windows (a gesture, not a flight leg).
WINDOW_PRESETS: Final[dict[str, WindowSettings]] = {"flight": WindowSettings(), "mouse": WindowSettings(window_s=20.0)}


@dataclass
class CleanReport:
    """What cleaning, track splitting and windowing did, with counts by reason."""

    points_in: int = 0
    points_kept: int = 0
    tracks: int = 0
    tracks_dropped: int = 0
    reordered: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    blanked: dict[str, int] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)
    windows: int = 0
    windows_dropped: dict[str, int] = field(default_factory=dict)
    few_point_windows: int = 0

    def count(self, bucket: str, reason: str, n: int) -> None:
        """Add *n* to ``getattr(self, bucket)[reason]`` (zero counts are not recorded)."""
        if n:
            target: dict[str, int] = getattr(self, bucket)
            target[reason] = target.get(reason, 0) + int(n)

    def merge(self, other: CleanReport) -> None:
        """Add the window counts of *other* (a report on a chunk of the same tracks)."""
        self.windows += other.windows
        self.few_point_windows += other.few_point_windows
        for reason, n in other.windows_dropped.items():
            self.count("windows_dropped", reason, n)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    def summary(self) -> str:
        """A few human-readable lines."""

        def fmt(d: dict[str, int]) -> str:
            return ", ".join(f"{k}: {v}" for k, v in sorted(d.items())) or "none"

        lines = [
            f"points: {self.points_in} in, {self.points_kept} kept; removed: {fmt(self.removed)}",
            f"values blanked: {fmt(self.blanked)}; rows out of time order (sorted): {self.reordered}",
            f"tracks: {self.tracks} kept, {self.tracks_dropped} dropped as too short; splits: {fmt(self.splits)}",
            f"windows: {self.windows} ({self.few_point_windows} flagged few_points, kept); dropped: {fmt(self.windows_dropped)}",
        ]
        return "\n".join(lines)
