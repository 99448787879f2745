"""The windows table's columns: figures, scalar columns with their dtypes, per-point arrays."""

from __future__ import annotations

from typing import Any, Final

import pandas as pd

__all__ = ["ARRAY_COLUMNS", "FIGURE_COLUMNS", "RADIUS_CAP_M", "SCALAR_COLUMNS", "empty_windows"]


#: Figures of a window, in this order (used by rules, baselines and the hybrid head).
FIGURE_COLUMNS: Final[tuple[str, ...]] = (
    "n_points",
    "duration_s",
    "path_length_m",
    "net_displacement_m",
    "straightness",
    "total_turn_deg",
    "net_turn_rev",
    "radius_m",
    "extent_m",
    "median_speed_kt",
    "median_altitude_ft",
    "sample_interval_s",
)
#: Scalar columns of the windows table and their dtypes.
SCALAR_COLUMNS: Final[dict[str, str]] = {
    "window_id": "string",
    "object_id": "string",
    "track_id": "string",
    "callsign": "string",
    "start": "datetime64[ns, UTC]",
    "end": "datetime64[ns, UTC]",
    "window_s": "float64",
    "source_file": "string",
    "line_first": "int64",
    "line_last": "int64",
    "lat": "float64",
    "lon": "float64",
    "units": "string",
    **{name: ("int64" if name == "n_points" else "float64") for name in FIGURE_COLUMNS},
    "few_points": "bool",
}
#: Per-point array columns (float64) and event columns (ev_kind holds strings).
ARRAY_COLUMNS: Final[tuple[str, ...]] = (
    "px", "py", "pt", "pspeed", "palt", "pturn", "pcumturn", "ev_x", "ev_y", "ev_kind",
)
#: Fitted radii larger than this (a straight line) are reported as this value.
RADIUS_CAP_M: Final = 1.0e6


def empty_windows() -> pd.DataFrame:
    """An empty windows table with every column and its dtype."""
    cols: dict[str, Any] = {name: pd.Series(dtype=dtype) for name, dtype in SCALAR_COLUMNS.items()}
    for name in ARRAY_COLUMNS:
        cols[name] = pd.Series(dtype=object)
    return pd.DataFrame(cols)
