"""Settings for bulk scoring: one frozen dataclass with every default in one place.

The drawing settings are deliberately absent: scoring always draws with the render config
stored in the model bundle, because a CNN trained on one drawing scale fails on another.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..context.settings import ContextSettings
from ..errors import FlightpathsError, SettingsError
from ..ingest import IngestSettings
from .behaviour import BEHAVIOUR_CLASSES
from .paths import PATH_MARGIN_S

__all__ = ["BUILTIN_MODEL", "NEGATIVE_NAMES", "ScoreSettings", "episode_classes"]

#: The built-in model bundle shipped in the package (``make default-model`` rebuilds it);
#: ``flightpaths score`` and ``watch`` use it when no ``--model`` is given.
BUILTIN_MODEL: Final[Path] = Path(__file__).resolve().parents[1] / "models" / "default"

#: Behaviours asked for with ``behaviours`` that turn on ``behaviour_episodes`` by default: the
#: circling model is not made to flag them.
_SCAN_FOR: Final = frozenset({"hover", "racetrack"})

#: Class names that mean "nothing to report" and never become episodes by default.
NEGATIVE_NAMES = frozenset({"other", "others", "negative", "background", "none", "normal", "ordinary", "straight", "human"})


@dataclass(frozen=True)
class ScoreSettings:
    """How to turn logs into scored windows and episodes.

    threshold: a window is positive for a class when ``p_<class> >= threshold``.
    positive_class: the class episodes are made for; ``None`` = every class whose name does not
        mean "nothing" (``not_*``, ``no_*``, ``non_*``, ``other``, ...), e.g. ``circling``.
    ingest: how logs are read (format, ``--columns`` mapping, ``tz``: the zone of the log's
        clock for times written without one, as in ``flightpaths ingest``).
    chunk_lines: points read at a time, about one per log line: peak memory grows with it, not
        with the log (windows are cut exactly as in one pass, see windows_from_chunks).
    batch_size: images per inference batch.
    workers: drawing processes; 0 = all cores.
    merge_gap_s: positive windows of one object merge when the next starts at most this long
        after the previous one ends (0 = they must touch or overlap).
    display_tz: IANA zone shown beside UTC in the tip sheet (e.g. ``America/New_York``).
    resume: skip inputs already scored with the same model (state file in the output folder).
    dask: ``None`` (this machine), ``"local"`` (a local Dask cluster) or a scheduler address.
    progress: show a progress bar on stderr.
    context: who, where and when of each episode (registry, watchlist, airports).
    path_margin_s: the aircraft's own points kept and mapped this long before and after each
        possible episode (points only for aircraft with a window at the threshold, so memory
        stays bounded).
    behaviours: keep only episodes whose named behaviour is one of these, or that hold a stretch
        of one (their ``behaviours`` column; ``orbit``, ``hover``, ...
        :data:`flightpaths.score.behaviour.BEHAVIOUR_CLASSES`); empty = keep all.
    behaviour_episodes: also make episodes of windows that the built-in behaviour classifier
        alone calls an orbit, hover or racetrack (models with a segment aggregator only);
        ``None`` (default) = only when *behaviours* asks for hover or racetrack (on held-out
        real flights they list no more orbits and 8% of other segments, see the README).
    """

    threshold: float = 0.5
    positive_class: str | None = None
    chunk_lines: int = 100_000
    batch_size: int = 64
    workers: int = 0
    merge_gap_s: float = 0.0
    display_tz: str = "UTC"
    ingest: IngestSettings = field(default_factory=IngestSettings)
    resume: bool = False
    dask: str | None = None
    progress: bool = True
    context: ContextSettings = ContextSettings()
    path_margin_s: float = PATH_MARGIN_S
    behaviours: tuple[str, ...] = ()
    behaviour_episodes: bool | None = None

    def __post_init__(self) -> None:
        names = [self.behaviours] if isinstance(self.behaviours, str) else list(self.behaviours)
        unknown = [repr(b) for b in names if isinstance(self.behaviours, str) or b not in BEHAVIOUR_CLASSES]
        if unknown:
            raise SettingsError(f"behaviour(s) {', '.join(unknown)} unknown (give a tuple of names); "
                                f"choose from {', '.join(BEHAVIOUR_CLASSES)}")
        if not 0.0 <= self.threshold <= 1.0:
            raise SettingsError(f"threshold {self.threshold!r} must be between 0 and 1")
        if self.chunk_lines < 1000:
            raise SettingsError(f"chunk_lines {self.chunk_lines!r} must be at least 1000")
        if self.batch_size < 1:
            raise SettingsError(f"batch_size {self.batch_size!r} must be at least 1")
        if self.workers < 0:
            raise SettingsError(f"workers {self.workers!r} must be 0 (all cores) or more")
        if self.path_margin_s < 0:
            raise SettingsError(f"path_margin_s {self.path_margin_s!r} must not be negative")
        if self.merge_gap_s < 0:
            raise SettingsError(f"merge_gap_s {self.merge_gap_s!r} must not be negative")
        for name in ("display_tz",):
            try:
                ZoneInfo(getattr(self, name))
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise SettingsError(
                    f"{name} {getattr(self, name)!r} is not a time zone; use an IANA name such as "
                    "'UTC' or 'America/New_York'"
                ) from exc

    @property
    def scan_behaviours(self) -> bool:
        """Whether episodes of the behaviour classifier alone are made (see ``behaviour_episodes``).

        >>> ScoreSettings().scan_behaviours, ScoreSettings(behaviours=("hover",)).scan_behaviours
        (False, True)
        >>> ScoreSettings(behaviours=("orbit",)).scan_behaviours, ScoreSettings(behaviour_episodes=True).scan_behaviours
        (False, True)
        """
        if self.behaviour_episodes is not None:
            return self.behaviour_episodes
        return any(b in _SCAN_FOR for b in self.behaviours)

    def replace(self, **changes: object) -> ScoreSettings:
        """A copy with *changes* applied (the settings are frozen)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _looks_negative(name: str) -> bool:
    low = name.lower()
    return low.startswith(("not_", "not-", "no_", "no-", "non_", "non-")) or low in NEGATIVE_NAMES


def episode_classes(classes: tuple[str, ...] | list[str], positive_class: str | None = None) -> list[str]:
    """The classes that episodes are made for.

    >>> episode_classes(["circling", "not_circling"])
    ['circling']
    >>> episode_classes(["orbit", "survey", "other"])
    ['orbit', 'survey']
    >>> episode_classes(["a", "b"], "b")
    ['b']
    """
    classes = list(classes)
    if positive_class is not None:
        if positive_class not in classes:
            raise FlightpathsError(
                f"class {positive_class!r} is not one the model knows; choose from {', '.join(classes)}"
            )
        return [positive_class]
    chosen = [c for c in classes if not _looks_negative(c)]
    return chosen or classes[-1:]
