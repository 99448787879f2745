"""Checks common to every reader: each chunk's ids, times, coordinates and texts, and the
ordering and de-duplication of a whole table."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

from ..errors import InputError
from ..schema import OPTIONAL_COLUMNS, POINT_COLUMNS, empty_points, validate_points
from .formats import Format
from .ledger import IngestReport, Ledger
from .settings import MAX_TEXT_CHARS, PLAUSIBLE, IngestSettings
from .sources import Source, TruncatedInput

__all__ = [
    "bound_columns",
    "bound_numbers",
    "bound_text",
    "bounded_values",
    "finalize",
    "finish_chunk",
    "kept_positions",
    "order_and_dedupe",
    "read_one",
    "skip_unreadable",
]


def bound_text(chunk: pd.DataFrame, lines: np.ndarray, source: Source, ledger: Ledger) -> None:
    """Cut every text value longer than :data:`MAX_TEXT_CHARS` (a 10 MB callsign), counted."""
    for name in chunk.columns:
        if name in ("source_file", "time") or pd.api.types.is_numeric_dtype(chunk[name].dtype) \
                or pd.api.types.is_bool_dtype(chunk[name].dtype):
            continue
        col = chunk[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            if not len(col.cat.categories) or col.cat.categories.astype(str).str.len().max() <= MAX_TEXT_CHARS:
                continue
            col = col.astype("string")
        if not (col.dtype == object or pd.api.types.is_string_dtype(col.dtype)):
            continue
        lengths = col.astype("string").str.len()
        long = (lengths > MAX_TEXT_CHARS).fillna(False).to_numpy(bool)
        if long.any():
            first = int(np.argmax(long))
            ledger.note(f"column {name!r}: text longer than {MAX_TEXT_CHARS} characters cut", int(long.sum()),
                        example=f"{source.name}:{int(lines[first])}: column {name!r}: text of {int(lengths.iloc[first]):,} "
                                f"characters cut to {MAX_TEXT_CHARS}")
            chunk[name] = col.astype("string").str.slice(0, MAX_TEXT_CHARS).astype(chunk[name].dtype if chunk[name].dtype != object else object) \
                if not isinstance(chunk[name].dtype, pd.CategoricalDtype) else col.str.slice(0, MAX_TEXT_CHARS)


def bound_numbers(chunk: pd.DataFrame, lines: np.ndarray, source: Source, ledger: Ledger) -> None:
    """Blank every value of a :data:`PLAUSIBLE` column that is infinite or outside its range (an
    altitude of 1e300 ft, an infinite speed), counted and named by file, line and column; the
    row is kept."""
    for name in PLAUSIBLE:
        if name in chunk.columns and pd.api.types.is_numeric_dtype(chunk[name].dtype):
            values = chunk[name].to_numpy(dtype=float, na_value=np.nan)  # no copy for a float64 column
            blanked = bounded_values(name, values, lines, source.name, ledger)
            if blanked is not None:
                chunk[name] = blanked


def bound_columns(cols: dict[str, np.ndarray], lines: np.ndarray, name: str, ledger: Ledger) -> None:
    """:func:`bound_numbers` for a table held as plain arrays (the live parser's), in place."""
    for column in PLAUSIBLE:
        values = cols.get(column)
        if values is not None and values.dtype.kind == "f":
            blanked = bounded_values(column, values, lines, name, ledger)
            if blanked is not None:
                cols[column] = blanked


def bounded_values(column: str, values: np.ndarray, lines: np.ndarray, name: str, ledger: Ledger) -> np.ndarray | None:
    """*values* of a :data:`PLAUSIBLE` column with the infinite or out-of-range ones blanked and
    named in the ledger; None when every value is in range or missing (nothing to change)."""
    lo, hi = PLAUSIBLE[column]
    if not len(values) or (lo <= np.fmin.reduce(values) and np.fmax.reduce(values) <= hi):
        return None  # NaN is skipped by fmin/fmax (all-NaN gives NaN, which fails the test and is checked below)
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(values) & ~((values >= lo) & (values <= hi))
    if not bad.any():
        return None
    first = int(np.argmax(bad))
    ledger.note(f"column {column!r}: impossible values blanked (outside {lo:g} .. {hi:g})", int(bad.sum()),
                example=f"{name}:{int(lines[first])}: column {column!r}: {values[first]:g} is outside "
                        f"{lo:g} .. {hi:g}, blanked")
    return np.where(bad, np.nan, values)


def _detail_at(detail: Callable[[int], str], rows: np.ndarray) -> Callable[[int], str]:
    """*detail* of the chunk row behind the i-th dropped row."""
    return lambda i: detail(int(rows[i]))


def _fill_missing(chunk: pd.DataFrame, source: Source) -> None:
    """Add the points table's columns *chunk* lacks, empty (``new_leg`` False, ``source_file`` the source)."""
    for name, dtype in POINT_COLUMNS.items():
        if name not in chunk.columns:
            if name == "new_leg":
                chunk[name] = False
            elif name == "source_file":
                chunk[name] = source.name
            elif dtype == "float64":
                chunk[name] = np.nan
            else:
                chunk[name] = pd.Series(pd.NA, index=chunk.index, dtype=dtype)


def _kept_rows(chunk: pd.DataFrame, lines: np.ndarray, source: Source, ledger: Ledger) -> np.ndarray:
    """Rows with an id, a time and a possible position; the others go to the ledger by reason."""
    keep = np.ones(len(chunk), dtype=bool)
    for column, reason in (("object_id", "no object id"), ("time", "no usable time")):
        mask = chunk[column].isna().to_numpy() & keep
        if mask.any():
            ledger.drop(source.name, lines[mask], reason, bad=True, column=column)
            keep[mask] = False
    return kept_positions(chunk["lat"].to_numpy(float), chunk["lon"].to_numpy(float), chunk["x"].to_numpy(float),
                          chunk["y"].to_numpy(float), lines, source.name, ledger, keep)


def kept_positions(lat: np.ndarray, lon: np.ndarray, x: np.ndarray | None, y: np.ndarray | None, lines: np.ndarray,
                   name: str, ledger: Ledger, keep: np.ndarray | None = None) -> np.ndarray:
    """*keep* (default: all rows) less the rows without a possible position (x, y None: no
    screen coordinates); those go to the ledger by reason (*name*: the file, *lines*: theirs)."""
    keep = np.ones(len(lat), dtype=bool) if keep is None else keep
    x = np.full(len(lat), np.nan) if x is None else x
    y = np.full(len(lat), np.nan) if y is None else y

    def reject(mask: np.ndarray, reason: str, *, bad: bool, column: str | None = None,
               detail: Callable[[int], str] | None = None) -> None:
        mask = mask & keep
        if mask.any():
            ledger.drop(name, lines[mask], reason, bad=bad, column=column,
                        detail=_detail_at(detail, np.flatnonzero(mask)) if detail else None)
            keep[mask] = False

    geo = np.isnan(x) & np.isnan(y)  # rows without screen coordinates are geographic
    reject(geo & (np.isnan(lat) | np.isnan(lon)), "no position in this row", bad=False)
    reject(~geo & (np.isnan(x) | np.isnan(y)), "no position in this row", bad=False)
    impossible = geo & ((np.abs(lat) > 90) | (np.abs(lon) > 180))
    reject(impossible, "impossible coordinates", bad=True, column="lat",
           detail=lambda i: f"impossible coordinates lat={float(lat[i])}, lon={float(lon[i])}")
    reject(geo & (lat == 0) & (lon == 0), "position 0,0 (no fix)", bad=False)
    return keep


def finish_chunk(chunk: pd.DataFrame, source: Source, ledger: Ledger) -> pd.DataFrame:
    """Fill missing columns, then drop rows without id/time/position or with impossible ones."""
    chunk = chunk.reset_index(drop=True)
    _fill_missing(chunk, source)
    lines = chunk["source_line"].to_numpy(dtype=np.int64)
    bound_text(chunk, lines, source, ledger)
    bound_numbers(chunk, lines, source, ledger)
    return chunk.loc[_kept_rows(chunk, lines, source, ledger)]


def _repeats(points: pd.DataFrame, order: np.ndarray, obj_codes: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Rows (in input order) equal to an earlier row in every column but the source's file and
    line: only rows that tie with a neighbour on object and time (*order*) are hashed."""
    so, st = obj_codes[order], t[order]
    same = (so[1:] == so[:-1]) & (st[1:] == st[:-1])
    tie = np.zeros(len(order), dtype=bool)
    tie[1:] |= same
    tie[:-1] |= same
    candidates = np.sort(order[tie])  # in input order
    if not len(candidates):
        return candidates
    key = [c for c in points.columns if c not in ("source_line", "source_file")]
    hashed = pd.util.hash_pandas_object(points.iloc[candidates][key], index=False)
    dup: np.ndarray = candidates[hashed.duplicated().to_numpy()]
    return dup


def _note_reversals(points: pd.DataFrame, rows: np.ndarray, t: np.ndarray, obj_codes: np.ndarray, ledger: Ledger) -> None:
    """Count the *rows* whose time is before an earlier row of their object (input order)."""
    running = pd.Series(t[rows]).groupby(obj_codes[rows], sort=False).cummax().to_numpy()
    back = t[rows] < running
    if back.any():
        first = points.iloc[int(rows[np.argmax(back)])]
        ledger.note(
            "time going backwards within an object: rows re-sorted by time",
            int(back.sum()),
            example=f"{first['source_file']}:{first['source_line']}: time goes backwards for {first['object_id']}",
        )


def order_and_dedupe(points: pd.DataFrame, ledger: Ledger, dedupe: bool) -> pd.DataFrame:
    """Drop exact repeats per object, then sort each object's points by time (noting reversals).

    A repeat has its original's object and time, so only rows that tie on both are hashed
    (usually a handful); the first of each set of equal rows, in input order, is kept.
    """
    if points.empty:
        return points
    t = points["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    obj_codes = pd.factorize(points["object_id"], sort=True)[0]
    file_codes = pd.factorize(points["source_file"], sort=False)[0]
    order = np.lexsort((points["source_line"].to_numpy(), file_codes, t, obj_codes))
    keep = np.ones(len(points), dtype=bool)
    dup = _repeats(points, order, obj_codes, t) if dedupe else order[:0]
    if len(dup):
        for path, grp in points.iloc[dup].groupby("source_file", sort=False):
            ledger.drop(str(path), grp["source_line"].to_numpy(), "duplicate row", bad=False)
        keep[dup] = False
    rows = np.flatnonzero(keep)
    _note_reversals(points, rows, t, obj_codes, ledger)
    if len(rows) < len(points):
        order = order[keep[order]]
    return points.take(order)


def finalize(chunks: list[pd.DataFrame], ledger: Ledger, report: IngestReport, dedupe: bool) -> pd.DataFrame:
    if chunks:
        optional = [c for c in OPTIONAL_COLUMNS if any(c in ch.columns for ch in chunks)]
        cols = [*POINT_COLUMNS, *optional]
        frames = [validate_points(ch.reindex(columns=cols)) for ch in chunks if len(ch)]
        points = pd.concat(frames, ignore_index=True) if frames else empty_points()
    else:
        points = empty_points()
    points = order_and_dedupe(points, ledger, dedupe)
    points = validate_points(points)
    report.rows_kept = len(points)
    report.dropped = dict(ledger.dropped)
    report.notes = dict(ledger.notes)
    report.examples = list(ledger.examples)
    report.partial = list(ledger.partial)
    report.objects = int(points["object_id"].nunique())
    if len(points):
        report.time_start, report.time_end = points["time"].min(), points["time"].max()
    return points


def read_one(source: Source, fmt: Format, settings: IngestSettings, ledger: Ledger) -> Iterator[pd.DataFrame]:
    try:
        for chunk in fmt.read(source, settings, ledger):
            ledger.raise_pending()
            if len(chunk):
                out = finish_chunk(chunk, source, ledger)
                ledger.raise_pending()
                if len(out):
                    yield out
        ledger.raise_pending()
    except TruncatedInput as exc:
        if settings.strict:
            raise InputError(f"corrupt or truncated gzip stream ({exc.why})", path=exc.path, line=exc.line) from exc
        ledger.note("files cut short by a corrupt gzip stream (rows before the break kept)", 1, example=f"{exc.path}:{exc.line}: {exc.why}")
        ledger.partial.append(f"{exc.path}:{exc.line}")


def skip_unreadable(report: IngestReport, ledger: Ledger, exc: InputError) -> None:
    name = exc.path or "?"
    report.files[name] = f"skipped: {exc.message}"
    report.unreadable.append(name)
    ledger.note("files skipped: cannot be read", 1, example=f"{name}: {exc.message}")


