"""Settings for live alerts: one frozen dataclass with every default in one place."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import InputError

__all__ = ["WatchSettings"]


@dataclass(frozen=True)
class WatchSettings:
    """How ``flightpaths watch`` reads a feed, scores it and raises alerts.

    threshold, positive_class, merge_gap_s: as for ``flightpaths score`` (episodes are made the
        same way, so a live episode equals the batch one).
    alert_p: an episode raises an alert once its headline probability (``p_segment`` with the
        built-in model, else its peak window probability) reaches this. 0.2: on the simulated
        score day every circling interval of 5 minutes or more reaches it (0.5 misses 4 of 34).
    input_tz: zone of SBS times (receivers log their local clock).
    tick_s: how often (wall-clock seconds) buffered lines are parsed, windows cut and scored.
    hold_s: the last seconds of the feed held back before they become points, so that a
        position meets its velocity message (SBS sends them apart).
    idle_s: an aircraft not heard for this long (feed time) is let go; ``None``: the bundle's
        track gap (a later point would start a new track anyway).
    context_s: an episode closes when the windows this long after its end are in (the segment
        score looks this far around an episode), or when its aircraft is let go.
    cooldown_s: an alert of an aircraft that starts within this many seconds after the end of
        its last closed alert is logged but not notified again (one orbit split in two).
    """

    threshold: float = 0.5
    positive_class: str | None = None
    merge_gap_s: float = 0.0
    alert_p: float = 0.2
    input_tz: str = "UTC"
    tick_s: float = 1.0
    hold_s: float = 5.0
    idle_s: float | None = None
    context_s: float = 1800.0
    cooldown_s: float = 600.0
    batch_size: int = 64

    def __post_init__(self) -> None:
        for name in ("threshold", "alert_p"):
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise InputError(f"setting {name} must be between 0 and 1, got {value!r}")
        for name in ("tick_s", "hold_s", "context_s"):
            if not float(getattr(self, name)) > 0:
                raise InputError(f"setting {name} must be positive, got {getattr(self, name)!r}")

    def replace(self, **changes: object) -> WatchSettings:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
