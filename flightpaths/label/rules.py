"""Weak labels from the window figures: a documented rule to start labelling from.

The render manifest carries each window's figures (see the windows table in the tracks
stage). Three outcomes, decided per window:

``circling``
    The net *signed* heading change reaches ``min_revolutions`` full turns
    (``|net_turn_rev| >= 1`` by default: turning left and right cancel, so S-turns and
    lawnmower surveys do not count) **and** the window stays in a compact area: its extent
    (the larger side of its bounding box) is between ``min_extent_m`` and ``max_extent_m``
    and its straightness (net displacement / path length) at most
    ``max_circling_straightness``. The lower extent bound and ``min_speed_kt`` (on the
    window's median ground speed) keep parked or taxiing aircraft, whose GPS jitter adds up
    to many "turns" within a few metres, out of ``circling``, also in the window where a
    parked aircraft sets off.
``straight``
    Straightness at least ``min_straightness`` and a small turn: the net signed turn at
    most ``max_straight_net_rev`` (0.1 rev = 36 degrees), and, when ``max_total_turn_deg``
    is set, the total absolute turn at most that. The total-turn bound is off by default:
    on densely sampled tracks GPS jitter adds up to hundreds of degrees along a straight
    line (median 1,429 degrees for the simulator's straight 5-minute windows, against 585
    for its wide orbits), so it would call no straight flight straight. The net-turn bound
    keeps wide orbits, which look like bent lines within one window (straightness about
    0.9, net turn about 0.2 rev), out of ``straight``.
``unsure``
    Everything else, and every window with missing figures or fewer than ``min_points``
    points. ``unsure`` is a hint for the human, never a class: it is not written as a label.

For screen tracks (``units == "px"``) the ``*_m`` figures are in pixels, so the extent
bounds ``min_extent_px`` / ``max_extent_px`` apply instead (``None`` = no bound) and the
speed bound does not apply. Missing speeds never veto.

The rule score orders images for review (highest first): the absolute net turn in
revolutions (capped at 3), damped where the window spreads beyond the compact area, where
it is smaller than the jitter bound, and where the aircraft hardly moves::

    score = min(|net_turn_rev|, 3) * min(1, max_extent / extent) * min(1, extent / min_extent)
            * min(1, median_speed_kt / min_speed_kt)

(a missing speed counts as moving); NaN when the turn or the extent is missing.

>>> import pandas as pd
>>> figs = pd.DataFrame({
...     "net_turn_rev": [1.4, 0.02, 0.6, 2.5], "total_turn_deg": [520, 12, 300, 950],
...     "straightness": [0.1, 0.98, 0.4, 0.05], "extent_m": [2400, 9000, 3000, 15],
...     "n_points": [60, 60, 60, 60]})
>>> apply_rules(figs)["rule_label"].tolist()
['circling', 'straight', 'unsure', 'unsure']
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import SettingsError

__all__ = ["RULE_COLUMNS", "RuleSettings", "UNSURE", "apply_rules", "rule_labels"]

#: The label the rule gives when it cannot decide (never written to the dataset).
UNSURE = "unsure"

#: Figures the rule reads (missing columns are treated as missing values).
RULE_COLUMNS = ("net_turn_rev", "total_turn_deg", "straightness", "extent_m", "n_points", "median_speed_kt")


@dataclass(frozen=True)
class RuleSettings:
    """Thresholds of the weak-label rule (see the module docstring for what each means)."""

    min_revolutions: float = 1.0
    max_circling_straightness: float = 0.5
    min_extent_m: float = 150.0
    max_extent_m: float = 10_000.0
    min_extent_px: float | None = 10.0
    max_extent_px: float | None = None
    min_straightness: float = 0.9
    max_straight_net_rev: float = 0.1
    max_total_turn_deg: float | None = None
    min_points: int = 5
    min_speed_kt: float = 5.0
    circling_label: str = "circling"
    straight_label: str = "straight"

    def __post_init__(self) -> None:
        if not self.min_revolutions > 0:
            raise SettingsError(f"min_revolutions must be > 0, got {self.min_revolutions}")
        if not 0 <= self.max_circling_straightness <= 1 or not 0 <= self.min_straightness <= 1:
            raise SettingsError("straightness thresholds must lie between 0 and 1")
        if not 0 <= self.min_extent_m < self.max_extent_m:
            raise SettingsError(f"need 0 <= min_extent_m < max_extent_m, got {self.min_extent_m}, {self.max_extent_m}")


def rule_labels(settings: RuleSettings = RuleSettings()) -> tuple[str, str]:
    """The two class names the rule can write: ``(circling_label, straight_label)``."""
    return settings.circling_label, settings.straight_label


def _column(figures: pd.DataFrame, name: str) -> np.ndarray:
    if name not in figures.columns:
        return np.full(len(figures), np.nan)
    return np.array(pd.to_numeric(figures[name], errors="coerce"), dtype="float64")  # a writable copy


def _bounds(figures: pd.DataFrame, settings: RuleSettings) -> tuple[np.ndarray, np.ndarray]:
    """Per-row extent bounds: metres, or pixels for screen tracks."""
    lo = np.full(len(figures), settings.min_extent_m)
    hi = np.full(len(figures), settings.max_extent_m)
    if "units" in figures.columns:
        px = figures["units"].astype("string").fillna("m").to_numpy() == "px"
        lo[px] = 0.0 if settings.min_extent_px is None else settings.min_extent_px
        hi[px] = math.inf if settings.max_extent_px is None else settings.max_extent_px
    return lo, hi


def apply_rules(figures: pd.DataFrame, settings: RuleSettings = RuleSettings()) -> pd.DataFrame:
    """Label each row of *figures* ``circling``, ``straight`` or ``unsure``.

    Returns a frame with the same index and columns ``rule_label``, ``rule_score`` (float,
    NaN when figures are missing) and ``rule_reason`` (a short human-readable why).
    """
    f = _rule_figures(figures, settings)
    with np.errstate(invalid="ignore", divide="ignore"):
        circling = _circling(f, settings)
        is_straight = _straight(f, settings)
        score = _rule_score(f, settings)
    label = np.where(circling, settings.circling_label, np.where(is_straight & ~circling, settings.straight_label, UNSURE))
    reasons = [
        _reason(r, s, t, e, n, settings.min_points) for r, s, t, e, n in zip(f.rev, f.straight, f.total, f.extent, f.n_points)
    ]
    return pd.DataFrame(
        {"rule_label": label.astype(object), "rule_score": score, "rule_reason": reasons}, index=figures.index
    )


@dataclass(frozen=True)
class _RuleFigures:
    """What the rule reads of each window (NaN where a figure is missing), and its extent bounds."""

    rev: np.ndarray  # |net turn| in revolutions
    total: np.ndarray
    straight: np.ndarray
    extent: np.ndarray
    n_points: np.ndarray
    speed: np.ndarray  # NaN for screen tracks (their speed is not in knots)
    lo: np.ndarray
    hi: np.ndarray


def _rule_figures(figures: pd.DataFrame, settings: RuleSettings) -> _RuleFigures:
    """The figures of every row of *figures* that the rule reads."""
    speed = _column(figures, "median_speed_kt")
    if "units" in figures.columns:
        speed[figures["units"].astype("string").fillna("m").to_numpy() == "px"] = np.nan
    lo, hi = _bounds(figures, settings)
    return _RuleFigures(np.abs(_column(figures, "net_turn_rev")), _column(figures, "total_turn_deg"),
                        _column(figures, "straightness"), _column(figures, "extent_m"), _column(figures, "n_points"),
                        speed, lo, hi)


def _circling(f: _RuleFigures, settings: RuleSettings) -> np.ndarray:
    """Enough points, moving, turning enough, within the extent bounds and not straight."""
    enough = ~(f.n_points < settings.min_points)  # NaN point counts do not veto
    moving = ~(f.speed < settings.min_speed_kt)  # NaN speeds do not veto
    circling: np.ndarray = (
        enough
        & moving
        & (f.rev >= settings.min_revolutions)
        & (f.extent >= f.lo)
        & (f.extent <= f.hi)
        & (f.straight <= settings.max_circling_straightness)
    )
    return circling


def _straight(f: _RuleFigures, settings: RuleSettings) -> np.ndarray:
    """Enough points, straight enough, barely turning (in all, too, when a total turn limit is set)."""
    enough = ~(f.n_points < settings.min_points)
    is_straight: np.ndarray = enough & (f.straight >= settings.min_straightness) & (f.rev <= settings.max_straight_net_rev)
    if settings.max_total_turn_deg is not None:
        is_straight &= f.total <= settings.max_total_turn_deg
    return is_straight


def _rule_score(f: _RuleFigures, settings: RuleSettings) -> np.ndarray:
    """Revolutions (at most 3), scaled down for extents outside the bounds and for slow movement."""
    spread = np.minimum(1.0, np.where(f.extent > 0, f.hi / f.extent, 1.0))
    jitter = np.minimum(1.0, np.where(f.lo > 0, f.extent / np.where(f.lo > 0, f.lo, 1.0), 1.0))
    slow = np.where(np.isnan(f.speed), 1.0, np.minimum(1.0, f.speed / settings.min_speed_kt if settings.min_speed_kt > 0 else 1.0))
    score: np.ndarray = np.minimum(f.rev, 3.0) * spread * jitter * slow
    return score


def _reason(rev: float, straight: float, total: float, extent: float, n_points: float, min_points: int) -> str:
    if n_points < min_points:
        return f"only {int(n_points)} points"
    parts = []
    if not math.isnan(rev):
        parts.append(f"net turn {rev:.2f} rev")
    if not math.isnan(total):
        parts.append(f"total turn {total:.0f} deg")
    if not math.isnan(straight):
        parts.append(f"straightness {straight:.2f}")
    if not math.isnan(extent):
        parts.append(f"extent {extent:,.0f}")
    return ", ".join(parts) if parts else "no figures"
