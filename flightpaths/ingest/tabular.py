"""Tabular sources: column specs (:class:`Col`), points built from raw columns, and chunked
CSV reading shared by the table readers."""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .ledger import Ledger
from .settings import MAX_TEXT_CHARS, IngestSettings
from .sources import PROGRESS_MIN_BYTES, Source, TruncatedInput, unique_names
from .values import drop_junk, hex_ids, object_ids, to_bool, to_float, to_text, to_time, too_long

__all__ = ["Col", "build_points", "iter_csv"]


@dataclass(frozen=True)
class Col:
    """Where a point column comes from: a source column, its kind, and a unit scale.

    kind: ``float`` (times *scale*), ``time`` (epoch in *unit*, or date-time text), ``text``,
    ``hex`` (ICAO address), ``id`` (any id, lowercased), ``bool``.
    """

    source: str
    kind: str = "float"
    scale: float = 1.0
    unit: str = "auto"


def build_points(
    raw: pd.DataFrame,
    spec: Mapping[str, Col],
    *,
    lines: np.ndarray,
    source: Source,
    ledger: Ledger,
    settings: IngestSettings,
) -> pd.DataFrame:
    """Convert the source columns named in *spec* into point columns; rows with junk are dropped.

    Columns of *spec* absent from *raw* are skipped (the checks in :func:`read_logs` catch a
    missing id, time or position).
    """
    raw = raw.reset_index(drop=True)
    lines = np.asarray(lines, dtype=np.int64)
    out, keep = _convert_columns(raw, spec, lines, source, ledger, settings)
    frame = pd.DataFrame(out, index=raw.index)
    frame["source_line"] = lines
    return frame.loc[keep]


def _convert_columns(raw: pd.DataFrame, spec: Mapping[str, Col], lines: np.ndarray, source: Source, ledger: Ledger,
                     settings: IngestSettings) -> tuple[dict[str, Any], np.ndarray]:
    """The point columns of *spec* found in *raw*, and which rows have no junk in any of them."""
    keep = np.ones(len(raw), dtype=bool)
    out: dict[str, Any] = {}
    for name, col in spec.items():
        if col.source not in raw.columns:
            continue
        r = raw[col.source]
        out[name], junk, what = _convert(col, r, settings)
        if col.kind in ("id", "text"):
            _note_long_texts(col.source, r, keep, lines, source.name, ledger)
        keep &= drop_junk(out, junk & keep, r, col.source, what, path=source.name, lines=lines, ledger=ledger)
    return out, keep


def _convert(col: Col, r: pd.Series, settings: IngestSettings) -> tuple[Any, np.ndarray, str]:
    """Source column *r* as *col* says: ``(values, junk mask, what a good value is)``."""
    if col.kind == "float":
        values, junk = to_float(r)
        return values * col.scale, junk, "a number"
    if col.kind == "time":
        times, junk = to_time(r, tz=settings.tz, unit=col.unit)
        return times, junk, "a time"
    if col.kind == "hex":
        ids, junk = hex_ids(r)
        return ids, junk, "an ICAO hex address"
    if col.kind == "bool":
        flags, junk = to_bool(r)
        return flags, junk, "true/false"
    if col.kind == "id":
        return object_ids(r), np.zeros(len(r), bool), "an id"
    return to_text(r).reset_index(drop=True), np.zeros(len(r), bool), "text"


def _note_long_texts(column: str, r: pd.Series, keep: np.ndarray, lines: np.ndarray, source_name: str, ledger: Ledger) -> None:
    """Note the kept texts of *column* cut to :data:`MAX_TEXT_CHARS` (the first as an example)."""
    long = too_long(r) & keep
    if long.any():
        ledger.note(f"column {column!r}: text longer than {MAX_TEXT_CHARS} characters cut", int(long.sum()),
                    example=f"{source_name}:{int(lines[np.argmax(long)])}: column {column!r}: text of "
                            f"{len(str(r.iloc[int(np.argmax(long))])):,} characters cut to {MAX_TEXT_CHARS}")


def _always(message: str) -> Callable[[int], str]:
    """A ledger detail that is *message* for every row."""
    return lambda _i: message


def iter_csv(
    source: Source,
    settings: IngestSettings,
    ledger: Ledger,
    *,
    skip_lines: int = 0,
    exact_width: bool = True,
    names: list[str] | None = None,
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Yield ``(rows as strings under the header's names, line numbers)`` chunks of a CSV.

    The header is the first line after *skip_lines*. Rows with another number of fields are
    dropped and counted (trailing empty fields are ignored; with ``exact_width=False`` short
    rows are padded and long ones cut, for formats with ragged trailing columns).
    """
    import csv

    from tqdm import tqdm

    with source.open() as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
        for _ in range(skip_lines):
            text.readline()
        reader = csv.reader(text)
        if names is None:
            try:
                header = next(reader)
            except StopIteration:
                return
            except (OSError, EOFError, zlib.error) as exc:
                raise TruncatedInput(source.name, skip_lines + 1, str(exc)) from exc
            except csv.Error as exc:
                raise InputError(f"cannot read the CSV header ({exc})", path=source.name, line=skip_lines + 1) from exc
            names = unique_names([h.strip().lstrip("\ufeff") for h in header])
        width = len(names)
        rows: list[list[str]] = []
        nums: list[int] = []
        bad_lines: list[int] = []
        bad_counts: list[int] = []
        show = settings.progress and source.size >= PROGRESS_MIN_BYTES
        bar = tqdm(unit=" rows", desc=source.path.name, disable=not show, leave=False)
        offset = skip_lines
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                ledger.drop(source.name, [reader.line_num + offset], "unreadable CSV row", detail=_always(f"unreadable CSV row ({exc})"))
                continue
            except (OSError, EOFError, zlib.error) as exc:
                raise TruncatedInput(source.name, reader.line_num + offset, str(exc)) from exc
            line = reader.line_num + offset
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != width:
                while len(row) > width and not row[-1].strip():
                    row.pop()
                if len(row) != width:
                    if exact_width:
                        bad_lines.append(line)
                        bad_counts.append(len(row))
                        continue
                    row = (row + [""] * width)[:width]
            rows.append(row)
            nums.append(line)
            if len(rows) >= settings.chunk_rows:
                yield _flush(rows, nums, names, bad_lines, bad_counts, width, source, ledger)
                bar.update(len(nums))
                rows, nums, bad_lines, bad_counts = [], [], [], []
        bar.close()
        if rows or bad_lines:
            yield _flush(rows, nums, names, bad_lines, bad_counts, width, source, ledger)


def _flush(rows: list[list[str]], nums: list[int], names: list[str], bad_lines: list[int], bad_counts: list[int],
           width: int, source: Source, ledger: Ledger) -> tuple[pd.DataFrame, np.ndarray]:
    if bad_lines:
        ledger.drop(source.name, bad_lines, "wrong number of fields", column="fields",
                    detail=lambda i: f"{bad_counts[i]} fields, expected {width} (truncated or damaged line?)")
    frame = pd.DataFrame(rows, columns=names, dtype=object) if rows else pd.DataFrame(columns=names, dtype=object)
    return frame, np.asarray(nums, dtype=np.int64)
