"""Settings of the context step: one frozen dataclass with every default in one place."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import FlightpathsError

__all__ = ["ContextSettings"]


@dataclass(frozen=True)
class ContextSettings:
    """How episodes get their who, where and when.

    registry: registry store folder or parquet file; ``None`` = the user store
        (``flightpaths registry path``) when it exists.
    use_registry: join the registry at all (``--no-registry`` turns it off).
    watchlist: watchlist file; listed aircraft are marked and ranked first.
    near_airport_km: an episode this close to an airport (airportsdata's list) is flagged ``near_airport``.
    exclude_near_airports_km: leave out episodes this close to an airport (``None`` = keep all).
    """

    registry: str | None = None
    use_registry: bool = True
    watchlist: str | None = None
    near_airport_km: float = 2.0
    exclude_near_airports_km: float | None = None

    def __post_init__(self) -> None:
        if self.near_airport_km < 0:
            raise FlightpathsError(f"near_airport_km {self.near_airport_km!r} must not be negative")
        if self.exclude_near_airports_km is not None and self.exclude_near_airports_km < 0:
            raise FlightpathsError(f"exclude_near_airports_km {self.exclude_near_airports_km!r} must not be negative")

    def replace(self, **changes: object) -> ContextSettings:
        """A copy with *changes* applied."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
