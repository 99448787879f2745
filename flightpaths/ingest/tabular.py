"""Tabular sources: column specs (:class:`Col`), points built from raw columns, and chunked
CSV reading shared by the table readers."""

from __future__ import annotations

import dataclasses
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
    rows are padded and long ones cut, for formats with ragged trailing columns). A quote left
    open on one line costs that line only: the lines it swallowed are read again.
    """
    import csv

    from tqdm import tqdm

    with source.open() as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
        for _ in range(skip_lines):
            text.readline()
        lines = _Lines(text, source.name, skip_lines + 1)
        reader = csv.reader(lines)
        if names is None:
            names = _csv_header(reader, source, skip_lines + 1)
            if names is None:
                return
        width = len(names)
        chunk = _CsvChunk()
        show = settings.progress and source.size >= PROGRESS_MIN_BYTES
        bar = tqdm(unit=" rows", desc=source.path.name, disable=not show, leave=False)
        try:
            while (row := _next_row(reader, lines, source, ledger)) is not None:
                line, fields = row
                if fields is None or not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue
                chunk.add(line, fields, width, exact_width)
                if len(chunk.rows) >= settings.chunk_rows:
                    yield chunk.flush(names, width, source, ledger)
                    bar.update(settings.chunk_rows)
        except TruncatedInput:
            if chunk.rows or chunk.bad_lines:  # the rows before the break are kept
                yield chunk.flush(names, width, source, ledger)
            raise
        finally:
            bar.close()
        if chunk.rows or chunk.bad_lines:
            yield chunk.flush(names, width, source, ledger)


class _Lines:
    """The physical lines of a text stream for ``csv.reader``, numbered, with those of the row
    being read kept so that a row swallowed by an open quote can be read again. A stream that
    fails (truncated gzip, I/O error) raises :class:`TruncatedInput` at the line it reached."""

    def __init__(self, text: io.TextIOBase, name: str, first: int) -> None:
        self.text, self.name, self.next_no = text, name, first
        self.taken: list[tuple[int, str]] = []
        self.again: list[tuple[int, str]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.again:
            item = self.again.pop(0)
        else:
            try:
                line = self.text.readline()
            except (OSError, EOFError, zlib.error) as exc:
                raise TruncatedInput(self.name, self.next_no, str(exc)) from exc
            if not line:
                raise StopIteration
            item, self.next_no = (self.next_no, line), self.next_no + 1
        self.taken.append(item)
        return item[1]

    def start_row(self) -> None:
        self.taken = []

    def read_again(self) -> int:
        """Put back every line of the current row but its first; the first line's number."""
        first = self.taken[0][0]
        self.again = self.taken[1:] + self.again
        self.taken = []
        return first


def _csv_header(reader: Any, source: Source, line: int) -> list[str] | None:
    """The header's unique column names, or ``None`` for an empty file."""
    import csv

    try:
        header = next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        raise InputError(f"cannot read the CSV header ({exc})", path=source.name, line=line) from exc
    return unique_names([h.strip().lstrip("\ufeff") for h in header])


def _next_row(reader: Any, lines: _Lines, source: Source, ledger: Ledger) -> tuple[int, list[str] | None] | None:
    """The next ``(line, fields)``; ``fields`` is ``None`` for a row dropped here; ``None`` at the end.

    A row that spans several lines (or that the reader refuses after several lines) is a
    quote left open: its first line is dropped and named, the lines after it read again.
    """
    import csv

    lines.start_row()
    try:
        fields = next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        line = lines.read_again() if len(lines.taken) > 1 else (lines.taken[0][0] if lines.taken else lines.next_no)
        ledger.drop(source.name, [line], "unreadable CSV row", detail=_always(f"unreadable CSV row ({exc})"))
        return line, None
    if len(lines.taken) > 1:  # a point log has no field with a line break in it
        line = lines.read_again()
        ledger.drop(source.name, [line], "unclosed quote", column="fields",
                    detail=_always("a quote opened on this line is not closed on it"))
        return line, None
    return lines.taken[0][0], fields


def _trimmed(fields: list[str], width: int) -> list[str]:
    """*fields* less the empty trailing ones beyond *width*."""
    while len(fields) > width and not fields[-1].strip():
        fields = fields[:-1]
    return fields


@dataclass
class _CsvChunk:
    """Rows of one chunk, with the lines dropped for their number of fields."""

    rows: list[list[str]] = dataclasses.field(default_factory=list)
    nums: list[int] = dataclasses.field(default_factory=list)
    bad_lines: list[int] = dataclasses.field(default_factory=list)
    bad_counts: list[int] = dataclasses.field(default_factory=list)

    def add(self, line: int, fields: list[str], width: int, exact_width: bool) -> None:
        fields = _trimmed(fields, width)
        if len(fields) != width:
            if exact_width:
                self.bad_lines.append(line)
                self.bad_counts.append(len(fields))
                return
            fields = (fields + [""] * width)[:width]
        self.rows.append(fields)
        self.nums.append(line)

    def flush(self, names: list[str], width: int, source: Source, ledger: Ledger) -> tuple[pd.DataFrame, np.ndarray]:
        out = _flush(self.rows, self.nums, names, self.bad_lines, self.bad_counts, width, source, ledger)
        self.rows, self.nums, self.bad_lines, self.bad_counts = [], [], [], []
        return out


def _flush(rows: list[list[str]], nums: list[int], names: list[str], bad_lines: list[int], bad_counts: list[int],
           width: int, source: Source, ledger: Ledger) -> tuple[pd.DataFrame, np.ndarray]:
    if bad_lines:
        ledger.drop(source.name, bad_lines, "wrong number of fields", column="fields",
                    detail=lambda i: f"{bad_counts[i]} fields, expected {width} (truncated or damaged line?)")
    frame = pd.DataFrame(rows, columns=names, dtype=object) if rows else pd.DataFrame(columns=names, dtype=object)
    return frame, np.asarray(nums, dtype=np.int64)
