"""The one points reader: :func:`iter_points` streams files as validated points tables.

Every command that reads positions goes through it: ``ingest`` and ``tracks`` (by
:func:`~flightpaths.ingest.read_logs`, which gathers its chunks into one table), ``score``
(chunk by chunk, with bounded memory) and ``evaluate``. Formats are detected per file from
content; a points table written by ``flightpaths ingest`` (``.parquet``) is read by record
batch. Dropped rows go to one :class:`~.ledger.Ledger`, so messages name the original file and
line wherever a chunk boundary falls.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..schema import OPTIONAL_COLUMNS, POINT_COLUMNS, empty_points, validate_points
from ._decode import display_name
from .chunks import bound_numbers, finalize, kept_positions, order_and_dedupe, read_one, skip_unreadable
from .formats import Format, detect_format, get_format
from .ledger import IngestReport, IngestResult, Ledger
from .paths import expand_inputs, expand_paths
from .repeats import RepeatFilter
from .settings import IngestSettings
from .sources import Source

__all__ = ["PointsChunk", "iter_points", "points_table", "read_logs", "sniff_formats"]

_REQUIRED = ("object_id", "time")


@dataclass(frozen=True)
class PointsChunk:
    """Points of one file (each object's points in time order), and whether the file ends here.

    ``nbytes``: bytes of the file on disk this chunk accounts for (all of them on its last chunk).
    """

    path: Path
    points: pd.DataFrame
    last: bool
    nbytes: int


def points_table(chunks: list[pd.DataFrame], ledger: Ledger, *, dedupe: bool = True, order: bool = True) -> pd.DataFrame:
    """One validated table from reader chunks: missing optional columns filled and, with *order*,
    repeats dropped (with *dedupe*; counted in *ledger*) and each object's points ordered by time."""
    frames = [ch for ch in chunks if len(ch)]
    if not frames:
        return empty_points()
    optional = [c for c in OPTIONAL_COLUMNS if any(c in ch.columns for ch in frames)]
    cols = [*POINT_COLUMNS, *optional]
    points = pd.concat([validate_points(ch.reindex(columns=cols)) for ch in frames], ignore_index=True)
    return validate_points(order_and_dedupe(points, ledger, dedupe)) if order else points


def _is_points_parquet(source: Source) -> bool:
    if not source.name.lower().endswith(".parquet"):
        return False
    import pyarrow.parquet as pq

    try:
        names = set(pq.read_schema(source.path).names)
    except (OSError, ValueError):
        return False
    return set(_REQUIRED) <= names and {"lat", "x"} & names != set()


def _parquet_chunks(source: Source, rows: int, ledger: Ledger) -> Iterator[pd.DataFrame]:
    """A points parquet in validated tables; the checks every reader's rows pass apply too (a table
    edited by hand may hold an infinite latitude), each row named by its row number in the table."""
    import pyarrow.parquet as pq

    first = 1
    try:
        for batch in pq.ParquetFile(source.path).iter_batches(batch_size=rows):
            frame = validate_points(batch.to_pandas(), source=source.name)
            rows_at = np.arange(first, first + len(frame), dtype=np.int64)
            first += len(frame)
            bound_numbers(frame, rows_at, source, ledger)
            lat, lon, x, y = (frame[c].to_numpy(float) for c in ("lat", "lon", "x", "y"))
            keep = kept_positions(lat, lon, x, y, rows_at, source.name, ledger)
            yield frame if keep.all() else frame.loc[keep]
    except (OSError, ValueError) as exc:
        raise InputError(f"not a readable parquet file: {exc}", path=source.name) from exc


def _format_of(source: Source, settings: IngestSettings) -> Format:
    head = source.head()
    if settings.fmt != "auto":
        if not head.data.strip():
            raise InputError("empty file", path=source.name)
        return get_format(settings.fmt)
    return detect_format(source, head, settings)


def _file_chunks(source: Source, fmt: Format | None, settings: IngestSettings, ledger: Ledger, rows: int,
                 order: bool) -> Iterator[pd.DataFrame]:
    """The points of one file (*fmt* None: a points parquet) in tables of at least *rows* rows (the last may be smaller)."""
    if fmt is None:
        yield from _parquet_chunks(source, rows, ledger)
        return
    pending: list[pd.DataFrame] = []
    n = 0
    try:
        for chunk in read_one(source, fmt, settings, ledger):
            pending.append(chunk)
            n += len(chunk)
            if n >= rows:
                yield from _pieces(pending, rows, ledger, settings.dedupe, order)
                pending, n = [], 0
    except InputError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, UnicodeError, EOFError, OSError, zlib.error, RecursionError) as raw:
        raise InputError(f"could not be read as {fmt.name} ({type(raw).__name__}: {raw})", path=source.name) from raw
    if pending:
        yield from _pieces(pending, rows, ledger, settings.dedupe, order)


def _pieces(pending: list[pd.DataFrame], rows: int, ledger: Ledger, dedupe: bool, order: bool) -> Iterator[pd.DataFrame]:
    """Reader chunks cut into tables of *rows* rows in reading order (so each is a stretch of the log);
    without *order*, the reader's chunks as they are (read_logs checks and orders them all at once)."""
    if not order:
        yield from pending
        return
    if sum(len(p) for p in pending) <= rows:
        yield points_table(pending, ledger, dedupe=dedupe, order=order)
        return
    whole = pd.concat(pending, ignore_index=True)
    for lo in range(0, len(whole), rows):
        yield points_table([whole.iloc[lo:lo + rows]], ledger, dedupe=dedupe, order=order)


def _note_skipped(reason: str, example: str, source_name: str, report: IngestReport, ledger: Ledger) -> None:
    report.files[source_name] = f"skipped: {reason}"
    ledger.note(f"files skipped: {reason}", 1, example=f"{source_name}: {example}")


def _update(report: IngestReport, ledger: Ledger, points: pd.DataFrame, objects: set[str]) -> None:
    report.rows_kept += len(points)
    report.dropped, report.notes, report.examples = dict(ledger.dropped), dict(ledger.notes), list(ledger.examples)
    report.partial = list(ledger.partial)
    if len(points):
        objects.update(points["object_id"].dropna().unique().tolist())
        lo, hi = points["time"].min(), points["time"].max()
        report.time_start = lo if report.time_start is None else min(report.time_start, lo)
        report.time_end = hi if report.time_end is None else max(report.time_end, hi)
    report.objects = len(objects)


def iter_points(
    paths: Iterable[str | PathLike[str]] | str | PathLike[str],
    settings: IngestSettings | None = None,
    *,
    chunk_rows: int | None = None,
    report: IngestReport | None = None,
    ledger: Ledger | None = None,
    order: bool = True,
) -> Iterator[PointsChunk]:
    """Yield the points of every file in *paths* (files, directories, globs; ``.gz`` transparent),
    file by file, in validated tables of about *chunk_rows* rows (default ``settings.chunk_rows``);
    *settings* default to ``IngestSettings()``.

    Each table has its objects' points in time order and exact repeats removed, across chunks
    and files too (among the last ``settings.dedupe_rows`` rows). Files that cannot be read (empty, binary, corrupt, unknown
    format) are skipped and named in *report*; with ``settings.strict`` they, and the first
    malformed row, raise :class:`InputError`, as does a file that breaks off at a known line.
    If no file at all could be read, the first file's error is raised. *ledger* collects the
    dropped rows (one is made from *settings* if not given); ``order=False`` yields the readers'
    chunks unchecked and leaves validation, ordering and repeats to the caller
    (:func:`~flightpaths.ingest.read_logs` does them once over all files).
    """
    from tqdm import tqdm

    settings = settings or IngestSettings()
    files, problems = expand_inputs(paths)
    rows = chunk_rows or settings.chunk_rows
    ledger = ledger or Ledger(strict=settings.strict, max_examples=settings.max_examples)
    report = report if report is not None else IngestReport()
    objects: set[str] = set()
    first_error: InputError | None = None
    kept = 0
    repeats = RepeatFilter(settings.dedupe_rows) if order and settings.dedupe else None
    for bad, why in problems.items():  # unreadable files, symlink loops, FIFOs: named, the rest read
        exc = InputError(why, path=display_name(str(bad)))
        if settings.strict:
            raise exc
        first_error = first_error or exc
        skip_unreadable(report, ledger, exc)
    for path in tqdm(files, unit="file", desc="ingest", leave=False, disable=not settings.progress or len(files) < 20):
        try:
            source = Source(path)
        except InputError as exc:  # gone or changed since it was listed
            if settings.strict:
                raise
            first_error = first_error or exc
            skip_unreadable(report, ledger, exc)
            continue
        try:
            fmt = None if _is_points_parquet(source) else _format_of(source, settings)
        except InputError as exc:
            if settings.strict:
                raise
            first_error = first_error or exc
            message = exc.message.split(";")[0]
            _note_skipped(re.sub(r" \(.*", "", message), message, source.name, report, ledger)
            continue
        report.files[source.name] = fmt.name if fmt is not None else "points"
        if source.decoding.describe():
            ledger.note(f"files mended while reading: {source.decoding.describe()}", 1)
        previous: pd.DataFrame | None = None
        try:
            for points in _file_chunks(source, fmt, settings, ledger, rows, order):
                points = repeats.drop_repeats(points, ledger) if repeats is not None else points
                if previous is not None:
                    yield PointsChunk(path, previous, False, 0)
                _update(report, ledger, points if order else empty_points(), objects)  # read_logs counts at the end
                kept += len(points)
                previous = points
        except InputError as exc:
            if settings.strict:
                raise
            first_error = first_error or exc
            _note_skipped(exc.message, exc.message, source.name, report, ledger)
            previous = None
        if source.trailing_bytes:
            ledger.note("gzip files with bytes after the compressed stream (ignored)", 1,
                        example=f"{source.name}: {source.trailing_bytes:,} byte(s) after the gzip stream ignored")
        _update(report, ledger, empty_points(), objects)
        yield PointsChunk(path, previous if previous is not None else empty_points(), True, source.size)
    if not kept and first_error is not None and all(v.startswith("skipped") for v in report.files.values()):
        raise first_error


def sniff_formats(paths: Iterable[str | PathLike[str]], settings: IngestSettings | None = None) -> list[str]:
    """The format of each file in *paths* as :func:`iter_points` would read it (from its first
    64 KiB; ``"points"`` for a points table, ``"unknown"`` for a file it would skip)."""
    settings = settings or IngestSettings()
    out = []
    for path in expand_paths(paths):
        source = Source(path)
        try:
            out.append("points" if _is_points_parquet(source) else _format_of(source, settings).name)
        except InputError:
            out.append("unknown")
    return out


def read_logs(
    paths: Iterable[str | PathLike[str]] | str | PathLike[str], *, settings: IngestSettings = IngestSettings()
) -> IngestResult:
    """Read every log in *paths* (files, directories, globs; ``.gz`` transparent) into one
    validated points table, with a report of what was kept, dropped and why.

    Files that cannot be read at all (empty, binary, corrupt gzip, unknown format) are skipped
    and listed in the report; with ``settings.strict`` the first such file or malformed row
    raises :class:`InputError`. If nothing at all could be read the first file's error is raised.
    """
    ledger = Ledger(strict=settings.strict, max_examples=settings.max_examples)
    report = IngestReport()
    chunks = [c.points for c in iter_points(paths, settings, report=report, ledger=ledger, order=False)]
    points = finalize(chunks, ledger, report, settings.dedupe)
    return IngestResult(points, report)
