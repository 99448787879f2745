"""Read the movement logs people really have into one points table.

``read_logs(paths, settings=IngestSettings())`` reads files, directories and globs (``.gz``
transparent), detects each file's format from its content, and returns an
:class:`IngestResult`: the validated points table (:mod:`flightpaths.schema`) and an
:class:`IngestReport` (rows kept, dropped by reason with ``file:line: reason`` examples,
formats per file, objects, time span; ``.summary()``).

Formats (the registry :data:`FORMATS`, one module per family): SBS-1 (:mod:`.sbs`),
dump1090/readsb ``aircraft.json`` and ``history_N.json`` (:mod:`.aircraft_json`), readsb/tar1090
traces (:mod:`.trace`), OpenSky state vectors, Flightradar24 exports, traffic record files
(:mod:`.tables`), any CSV with a column mapping (:mod:`.generic`), and mouse telemetry
(:mod:`.mouse`).

Line-based formats (SBS, CSV) stream in chunks, so memory stays bounded on multi-GB logs
(the returned table itself is in memory); JSON files (snapshots, traces, FR24, traffic) are
read one whole file at a time, as their structure requires. :func:`iter_sbs` yields SBS
points chunk by chunk for callers that want to stream further; :func:`iter_points` streams
any format file by file as validated tables (the one reader behind read_logs, ``score`` and
``tracks``). Writing tables and
LineStrings lives in :mod:`.output`; its :func:`~.output.write_logs` (the ``ingest`` command)
reads logs into a file in bounded memory, sorting out of core (:mod:`.runs`).
"""

from __future__ import annotations

from . import aircraft_json, generic, mouse, sbs, tables, trace  # noqa: F401 - register the formats
from .formats import FORMATS, Format, detect_format, get_format, register_format
from .generic import parse_columns
from .ledger import IngestReport, IngestResult
from .paths import expand_paths
from .points import PointsChunk, iter_points, points_table, read_logs, sniff_formats
from .sbs import iter_sbs, read_sbs
from .settings import IngestSettings

__all__ = [
    "FORMATS",
    "Format",
    "IngestReport",
    "IngestResult",
    "IngestSettings",
    "PointsChunk",
    "detect_format",
    "expand_paths",
    "get_format",
    "iter_points",
    "iter_sbs",
    "parse_columns",
    "points_table",
    "read_logs",
    "read_sbs",
    "register_format",
    "sniff_formats",
]
