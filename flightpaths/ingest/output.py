"""Writing what ingest read: the points table (parquet or CSV) or tracks as LineStrings.

``.parquet`` and ``.csv`` get the points table. ``.gpkg`` (GeoPackage) and ``.geojson`` get
one LineString per object and leg (a new leg starts at a readsb new-leg flag or after a gap
longer than ``gap_s``), with object_id, callsign, start, end, n_points and source_file.
Writes are atomic and refuse to replace an existing file unless ``overwrite=True``.

:func:`write_logs` reads logs straight into such a file in bounded memory (the ``ingest``
command): chunks are sorted out of core (:mod:`.runs`) and a points table is written a row
group (parquet) or a block of lines (CSV) at a time, so memory is set by ``chunk_rows``.
"""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Iterable, Iterator
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from ..errors import InputError
from ..fileio import atomic_path, atomic_write_bytes, atomic_write_text, check_output, csv_text, write_csv
from ..geometry import linestrings, write_layers
from ..runtime import resident_mb
from ..schema import is_screen
from .ledger import IngestReport, Ledger
from .legs import Leg, LegStream, legs_frame
from .points import iter_points, points_table
from .runs import SortedRuns
from .settings import IngestSettings

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["OUTPUT_SUFFIXES", "points_to_lines", "write_logs", "write_points", "write_points_chunks"]

OUTPUT_SUFFIXES: Final = (".parquet", ".csv", ".gpkg", ".geojson")
log = logging.getLogger(__name__)


def _legs(pts: pd.DataFrame, gap_s: float) -> tuple[np.ndarray, np.ndarray]:
    """``(leg, keep)``: each point's leg number (a new leg at a new object, a new-leg flag or a gap
    over *gap_s*) and whether its leg has two distinct positions (one repeated point is a
    LineString GIS tools call invalid)."""
    obj = pts["object_id"].astype(str).to_numpy()
    t = pts["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
    start = np.ones(len(pts), dtype=bool)
    if len(pts):
        start[1:] = (obj[1:] != obj[:-1]) | (np.diff(t) > gap_s) | pts["new_leg"].fillna(False).to_numpy(bool)[1:]
    leg = np.cumsum(start) - 1
    lon, lat = pts["lon"].to_numpy(float), pts["lat"].to_numpy(float)
    moved = np.zeros(len(pts), dtype=bool)
    if len(pts):
        moved[1:] = ~start[1:] & ((lon[1:] != lon[:-1]) | (lat[1:] != lat[:-1]))
    distinct = np.bincount(leg, weights=moved, minlength=int(leg.max()) + 1 if len(leg) else 0) + 1
    keep = distinct[leg] >= 2
    return leg, keep


def _leg_table(pts: pd.DataFrame, leg: np.ndarray) -> pd.DataFrame:
    """One row per leg: object, most common callsign, start, end, points and source file."""
    grouped = pts.groupby(leg, sort=True)
    return pd.DataFrame({
        "object_id": grouped["object_id"].first().astype(str),
        "callsign": grouped["callsign"].agg(lambda s: s.dropna().mode().iloc[0] if s.notna().any() else None),
        "start": grouped["time"].min().dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": grouped["time"].max().dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "n_points": grouped.size().astype(int),
        "source_file": grouped["source_file"].first().astype(str),
    }).reset_index(drop=True) if len(pts) else pd.DataFrame(columns=["object_id", "callsign", "start", "end", "n_points", "source_file"])


def points_to_lines(points: pd.DataFrame, *, gap_s: float = 1800.0) -> gpd.GeoDataFrame:
    """One LineString per object and leg (legs split at new-leg flags and gaps over *gap_s*).

    Legs with fewer than two distinct positions are left out (a LineString of one point is invalid). Screen (mouse) tracks raise InputError.

    >>> import flightpaths.ingest as ingest
    >>> pts = pd.DataFrame({"object_id": ["a"] * 3, "lon": [0.0, 1, 2], "lat": [0.0, 1, 0],
    ...     "time": pd.to_datetime([0, 60, 120], unit="s", utc=True), "callsign": ["X"] * 3,
    ...     "new_leg": [False] * 3, "source_file": ["f"] * 3, "x": [np.nan] * 3})
    >>> points_to_lines(pts)[["object_id", "n_points"]].values.tolist()
    [['a', 3]]
    """
    import geopandas as gpd

    if len(points) and is_screen(points):
        raise InputError("screen tracks (mouse telemetry) have no geographic coordinates; write .parquet or .csv instead")
    pts = points.sort_values(["object_id", "time"], kind="stable").reset_index(drop=True)
    leg, keep = _legs(pts, gap_s)
    pts, leg = pts.loc[keep].reset_index(drop=True), leg[keep]
    _, leg = np.unique(leg, return_inverse=True)
    lines = linestrings(pts["lon"].to_numpy(float), pts["lat"].to_numpy(float), np.bincount(leg)) if len(pts) else np.empty(0, object)
    table = _leg_table(pts, leg)
    return gpd.GeoDataFrame(table, geometry=list(lines), crs="EPSG:4326")


def _checked(path: str | Path, overwrite: bool) -> Path:
    out = check_output(path, overwrite=overwrite)
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"cannot write {suffix or 'a file without suffix'!r}; use one of {', '.join(OUTPUT_SUFFIXES)}", path=str(out))
    return out


def _csv_block(frame: pd.DataFrame, header: bool) -> str:
    frame = frame.copy()
    frame["time"] = frame["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return csv_text(frame, index=False, header=header)


def _write_table_chunks(chunks: Iterable[pd.DataFrame], tmp: Path, suffix: str) -> int:
    """Write *chunks* (tables with the same columns) to *tmp* as parquet row groups or CSV blocks; the rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 0
    writer: pq.ParquetWriter | None = None
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as text:
            for chunk in chunks:
                if suffix == ".csv":
                    text.write(_csv_block(chunk, header=rows == 0))
                elif len(chunk) or writer is None:
                    table = pa.Table.from_pandas(chunk, preserve_index=False)
                    writer = writer or pq.ParquetWriter(tmp, table.schema)
                    writer.write_table(table.cast(writer.schema))
                rows += len(chunk)
    finally:
        if writer is not None:
            writer.close()
    return rows


_FEATURES_HEAD: Final = '{"type": "FeatureCollection", "features": ['


def _write_line_chunks(chunks: Iterable[pd.DataFrame], tmp: Path, suffix: str, batch_points: int) -> int:
    """Write the legs of *chunks* (sorted by object, then time) to *tmp* as LineStrings, a batch
    of closed legs (about *batch_points* points) at a time; returns the rows read."""
    from ..geometry import quiet_pyogrio

    stream, pending, held, rows, written = LegStream(), [], 0, 0, 0

    def flush(legs: list[Leg]) -> None:
        nonlocal written
        frame = legs_frame(legs)
        if suffix == ".geojson":
            features = frame.to_json(drop_id=True)[len(_FEATURES_HEAD):-2]  # the list's items
            if features:
                with open(tmp, "a", encoding="utf-8") as fh:
                    fh.write((", " if written else "") + features)
        else:
            with quiet_pyogrio():
                frame.to_file(tmp, driver="GPKG", layer="tracks", engine="pyogrio", mode="a" if written else "w")
        written += len(frame) if len(frame) or suffix == ".geojson" else 1

    if suffix == ".geojson":
        tmp.write_text(_FEATURES_HEAD, encoding="utf-8")
    else:
        tmp.unlink()  # the driver makes the file
    for chunk in chunks:
        if len(chunk) and is_screen(chunk):
            raise InputError("screen tracks (mouse telemetry) have no geographic coordinates; write .parquet or .csv instead")
        rows += len(chunk)
        for leg in stream.add(chunk):
            pending.append(leg)
            held += leg.n
        if held >= batch_points:
            flush(pending)
            pending, held = [], 0
    pending.extend(stream.close())
    if pending or not written:
        flush(pending)
    if suffix == ".geojson":
        with open(tmp, "a", encoding="utf-8") as fh:
            fh.write("]}")
    return rows


def write_points_chunks(chunks: Iterable[pd.DataFrame], path: str | Path, *, overwrite: bool = False,
                        batch_points: int = 500_000) -> int:
    """Write a points table given as *chunks* (same columns, sorted by object, then time) to
    *path* by its suffix, a chunk at a time: ``.parquet`` a row group each, ``.csv`` a block of
    lines, ``.gpkg`` and ``.geojson`` the legs each closes (see :func:`points_to_lines`; an open
    leg is carried as coordinates). Returns the rows read; with none, nothing is written and
    :class:`InputError` is raised."""
    out = _checked(path, overwrite)
    suffix = out.suffix.lower()
    with atomic_path(out, suffix=".tmp" if suffix != ".gpkg" else suffix) as tmp:  # GDAL wants .gpkg
        if suffix in (".parquet", ".csv"):
            rows = _write_table_chunks(chunks, tmp, suffix)
        else:
            rows = _write_line_chunks(chunks, tmp, suffix, batch_points)
        if not rows:
            raise InputError("no points kept from the input; see the summary above for why")
    return rows


def write_logs(paths: Iterable[str | PathLike[str]] | str | PathLike[str], path: str | Path, *,
               settings: IngestSettings = IngestSettings(), overwrite: bool = False) -> IngestReport:
    """Read every log in *paths* and write the table :func:`~flightpaths.ingest.read_logs`
    would return to *path* (see :func:`write_points_chunks`; nothing when no row is kept), in
    memory set by ``settings.chunk_rows``, not by the logs: chunks are sorted out of core
    (:class:`~.runs.SortedRuns`, temporary files beside *path*). The report is read_logs' too,
    except that rows re-sorted by time are counted before repeats are dropped. Returns it."""
    out = _checked(path, overwrite)
    report = IngestReport()
    ledger = Ledger(strict=settings.strict, max_examples=settings.max_examples)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.sort-", dir=out.parent if out.parent.is_dir() else None) as tmp:
        runs = SortedRuns(settings.chunk_rows, Path(tmp), ledger, dedupe=settings.dedupe)
        for chunk in iter_points(paths, settings, report=report, ledger=ledger, order=False):
            before = len(runs.runs)
            runs.add(points_table([chunk.points], ledger, order=False))
            if len(runs.runs) > before:
                log.debug("ingest: sorted run %d written, resident %.0f MB", len(runs.runs), resident_mb() or float("nan"))
        if runs.seq:
            write_points_chunks(_counted(runs.chunks(), report), out, overwrite=overwrite, batch_points=settings.chunk_rows)
    report.objects = len(runs.latest)
    report.dropped, report.notes, report.examples = dict(ledger.dropped), dict(ledger.notes), list(ledger.examples)
    return report


def _counted(chunks: Iterator[pd.DataFrame], report: IngestReport) -> Iterator[pd.DataFrame]:
    """*chunks*, their rows and time span added to *report* on the way."""
    for chunk in chunks:
        if len(chunk):
            report.rows_kept += len(chunk)
            lo, hi = chunk["time"].min(), chunk["time"].max()
            report.time_start = lo if report.time_start is None else min(report.time_start, lo)
            report.time_end = hi if report.time_end is None else max(report.time_end, hi)
            log.debug("ingest: %d rows written, resident %.0f MB", report.rows_kept, resident_mb() or float("nan"))
        yield chunk


def write_points(points: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write *points* to *path* by its suffix (see :data:`OUTPUT_SUFFIXES`); returns the path."""
    out = _checked(path, overwrite)
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        buf = io.BytesIO()
        points.to_parquet(buf, index=False)
        return atomic_write_bytes(out, buf.getvalue())
    if suffix == ".csv":
        frame = points.copy()
        frame["time"] = frame["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return write_csv(out, frame, index=False)
    lines = points_to_lines(points)
    if suffix == ".geojson":
        return atomic_write_text(out, lines.to_json(drop_id=True))
    return write_layers(out, [("tracks", lines)])
