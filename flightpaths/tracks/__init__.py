"""From points to tracks and overlapping time windows, with the figures later stages need.

A reporter's question is "when and where did it circle?", so a flight is cut into tracks (at
time gaps and readsb new-leg flags) and each track into fixed-length windows that overlap
(default 5 minutes long every 2.5 minutes; several lengths in one call). Every window keeps
where it came from (object, file, line range), its centroid, a set of summary figures
(:data:`FIGURE_COLUMNS`) and per-point arrays in a local frame, ready to be drawn.

No Python loop runs per point: points are sorted by track and time (a counting sort by
object), windows are index ranges ``[lo, hi)`` into that order found with one
``searchsorted``, and each window's figures and per-point arrays come from compiled loops
(:mod:`._kernel`, numba: one pass over each window's points, on several threads, all
windows writing into one buffer). Where numba is missing, the same is computed vectorized with
numpy (prefix sums, one fancy-index gather): the same results to rounding, about half as fast.
A window's ``pspeed`` and ``palt`` are read-only views of its points' arrays (windows overlap:
they share them). Only the final wrapping of per-window arrays into object columns loops,
once per window.

Projection: each window is projected to metres with an azimuthal equidistant projection
centred on the window's centroid, so circles stay circles at any latitude. The default
(``projection="local"``) evaluates it on a sphere whose east and north scales are
the WGS84 radii of curvature (agrees with pyproj's ellipsoidal ``aeqd`` to about one part in
10^5 of the distance from the centre); ``projection="pyproj"`` calls pyproj once per window.
Screen tracks stay in pixels, y pointing down.

Conventions: headings are clockwise from north (for screen tracks, clockwise as seen on the
screen); a positive ``net_turn_rev`` is a clockwise (right-hand) turn.

Figures (:data:`FIGURE_COLUMNS`; ``*_m`` are pixels and speeds px/s for screen tracks):
``n_points``; ``duration_s`` (first to last point); ``path_length_m`` (sum of steps);
``net_displacement_m`` (first to last point); ``straightness`` (net / path, 1.0 when nothing
moved); ``total_turn_deg`` (sum of absolute heading changes between steps, in the window's
plane; steps shorter than ``min_segment_m`` set no heading); ``net_turn_rev`` (signed sum /
360); ``radius_m`` (least-squares circle through the points; :data:`RADIUS_CAP_M` for a
straight line); ``extent_m`` (larger side of the bounding box); ``median_speed_kt`` (of
``pspeed``: the reported speed, or the speed from positions where none was reported);
``median_altitude_ft``; ``sample_interval_s`` (median time between points). ``start`` and
``end`` are the first and last point; ``window_id`` uses the window's nominal start, which is
unique per track and length. ``few_points`` flags windows with fewer than
``WindowSettings.few_points`` points (kept: sparse 60-second tracks give 3-5 points).

Modules: :mod:`.settings` (TrackSettings, WindowSettings, CleanReport), :mod:`.columns` (the
windows table's columns), :mod:`.projection` (local AEQD), :mod:`.clean` (cleaning and track
splitting), :mod:`.windows` (window ranges and the table), :mod:`.figures` (the numpy figures),
:mod:`._kernel` (the same figures compiled with numba), :mod:`.stream` (a long log cut a
stretch at a time, exactly as one pass would), :mod:`.files` (points in, windows out)
and :mod:`.geo` (LineStrings, GeoPackage/GeoJSON).

>>> import pandas as pd
>>> from flightpaths.schema import validate_points
>>> pts = validate_points(pd.DataFrame({
...     "object_id": ["abc123"] * 4, "time": pd.to_datetime([0, 10, 20, 30], unit="s", utc=True),
...     "lat": [60.0, 60.001, 60.002, 60.003], "lon": [10.0] * 4, "x": float("nan"), "y": float("nan"),
...     "altitude_ft": 1000.0, "speed_kt": float("nan"), "track_deg": float("nan"),
...     "vrate_fpm": float("nan"), "callsign": "TEST1", "squawk": pd.NA, "on_ground": False,
...     "new_leg": False, "source_file": "a.sbs", "source_line": [1, 2, 3, 4]}))
>>> w = make_windows(pts)
>>> str(w.window_id[0]), int(w.n_points[0]), float(w.straightness[0])
('abc123_0_19700101T000000_300s', 4, 1.0)
"""


from __future__ import annotations

from .clean import split_tracks
from .columns import ARRAY_COLUMNS, FIGURE_COLUMNS, RADIUS_CAP_M, SCALAR_COLUMNS, empty_windows
from .files import WINDOW_OUTPUT_SUFFIXES, WindowsWriter, load_points, read_windows, save_windows, write_windows
from .geo import to_geodataframe, tracks_to_geodataframe, write_geo
from .projection import inverse_local_aeqd, local_aeqd
from .settings import PRESETS, TRACK_PRESETS, WINDOW_PRESETS, CleanReport, TrackSettings, WindowSettings
from .stream import windows_from_chunks
from .windows import make_windows, windows_with_report

__all__ = [
    "ARRAY_COLUMNS",
    "CleanReport",
    "PRESETS",
    "FIGURE_COLUMNS",
    "RADIUS_CAP_M",
    "SCALAR_COLUMNS",
    "TRACK_PRESETS",
    "TrackSettings",
    "WINDOW_OUTPUT_SUFFIXES",
    "WINDOW_PRESETS",
    "WindowSettings",
    "WindowsWriter",
    "empty_windows",
    "inverse_local_aeqd",
    "load_points",
    "local_aeqd",
    "make_windows",
    "read_windows",
    "save_windows",
    "split_tracks",
    "to_geodataframe",
    "tracks_to_geodataframe",
    "windows_from_chunks",
    "windows_with_report",
    "write_geo",
    "write_windows",
]
