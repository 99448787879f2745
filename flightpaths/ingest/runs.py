"""Ordering a points table larger than memory: each object's points by time, in bounded memory.

:class:`SortedRuns` takes validated chunks in reading order and sorts each by object, time and
reading order. While everything read fits in ``chunk_rows`` rows it stays in memory; past that,
each ``chunk_rows`` rows go to a sorted *run* (a parquet file in a temporary folder), and
:meth:`SortedRuns.chunks` merges the runs (at most :data:`FAN_IN` at a time, each read a row group
at a time), so memory is set by ``chunk_rows``, not by the log. The rows come out exactly as
:func:`~.chunks.order_and_dedupe` leaves one whole table: by object, then time, then reading
order, a row equal to an earlier one in every column but its file and line dropped (such rows
share object and time, so they meet in the sorted stream). Time reversals are counted as rows
are read, so that count also takes in rows dropped later as repeats.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from ..runtime import release_free_memory
from ..schema import OPTIONAL_COLUMNS, POINT_COLUMNS, validate_points
from .ledger import Ledger

__all__ = ["FAN_IN", "SortedRuns"]

#: how many runs one merge reads at once (more runs are merged in rounds)
FAN_IN: Final = 16
_SEQ = "_seq"  # reading order of a row, the last sort key (dropped on the way out)
_BACKWARDS = "time going backwards within an object: rows re-sorted by time"


def _time_ns(frame: pd.DataFrame) -> np.ndarray:
    ns: np.ndarray = frame["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return ns


def _release() -> None:
    """Hand freed memory back (glibc's and pyarrow's allocators keep it for reuse otherwise)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    release_free_memory()


def _sort(frame: pd.DataFrame) -> pd.DataFrame:
    """*frame* by object, time and reading order."""
    codes = pd.factorize(frame["object_id"], sort=True)[0]
    order = np.lexsort((frame[_SEQ].to_numpy(np.int64), _time_ns(frame), codes))
    return frame.take(order).reset_index(drop=True)


class _Run:
    """One sorted run being merged: its remaining rows, refilled a batch at a time."""

    def __init__(self, path: Path, batch_rows: int, objects: pd.Index) -> None:
        import pyarrow.parquet as pq

        self.batches = pq.ParquetFile(path, pre_buffer=False).iter_batches(batch_size=batch_rows)  # no read-ahead cache
        self.objects = objects
        self.frame = pd.DataFrame()
        self.key: tuple[np.ndarray, np.ndarray, np.ndarray] = (np.empty(0, np.int64),) * 3

    def fill(self) -> bool:
        """Read the next batch when nothing is left; False when the run is spent."""
        while not len(self.frame):
            batch = next(self.batches, None)
            if batch is None:
                return False
            self.frame = batch.to_pandas()
            code = self.objects.get_indexer(self.frame["object_id"].astype(str)).astype(np.int64)
            self.key = (code, _time_ns(self.frame), self.frame[_SEQ].to_numpy(np.int64))
        return True

    def last(self) -> tuple[int, int, int]:
        return int(self.key[0][-1]), int(self.key[1][-1]), int(self.key[2][-1])

    def take_upto(self, bound: tuple[int, int, int]) -> pd.DataFrame:
        """Remove and return the rows whose key is at most *bound* (a prefix: the run is sorted)."""
        code, t, seq = self.key
        lo, hi = np.searchsorted(code, bound[0], "left"), np.searchsorted(code, bound[0], "right")
        lo_t = lo + np.searchsorted(t[lo:hi], bound[1], "left")
        hi_t = lo + np.searchsorted(t[lo:hi], bound[1], "right")
        n = int(lo_t + np.searchsorted(seq[lo_t:hi_t], bound[2], "right"))
        head, self.frame = self.frame.iloc[:n], self.frame.iloc[n:]
        self.key = (code[n:], t[n:], seq[n:])
        return head


class SortedRuns:
    """Collect points chunks (in reading order) and give them back sorted, in bounded memory.

    *folder*: where runs are written (an empty temporary folder the caller removes).
    Time reversals within an object (in reading order) and, with *dedupe*, the repeats dropped
    go to *ledger*.
    """

    def __init__(self, chunk_rows: int, folder: Path, ledger: Ledger, *, dedupe: bool = True) -> None:
        self.chunk_rows, self.folder, self.ledger = chunk_rows, folder, ledger
        self.dedupe = _Repeats() if dedupe else None
        self.pending: list[pd.DataFrame] = []
        self.held = 0
        self.seq = 0
        self.runs: list[Path] = []
        self.files = 0
        self.optional: set[str] = set()
        self.latest: dict[str, int] = {}  # object -> its latest time (ns) in earlier chunks

    @property
    def group_rows(self) -> int:
        """Rows per row group of a run (a merge holds one group of each of :data:`FAN_IN` runs)."""
        return max(1024, self.chunk_rows // FAN_IN)

    def add(self, points: pd.DataFrame) -> None:
        """Take one validated chunk (the next in reading order)."""
        if not len(points):
            return
        self._note_backwards(points)
        self.optional.update(c for c in OPTIONAL_COLUMNS if c in points.columns)
        points = points.assign(**{_SEQ: np.arange(self.seq, self.seq + len(points), dtype=np.int64)})
        self.seq += len(points)
        self.pending.append(points)
        self.held += len(points)
        if self.held >= self.chunk_rows:
            self._spill()

    def _spill(self) -> None:
        """Write the rows held as one sorted run (each copy let go as the next is made)."""
        frame = pd.concat(self.pending, ignore_index=True)
        self.pending, self.held = [], 0
        frame = self._columns(frame)
        frame = _sort(frame)
        self.runs.append(self._write(frame))
        del frame
        _release()  # what is held stays what is used

    def _note_backwards(self, points: pd.DataFrame) -> None:
        """Count rows whose time is before an earlier row of their object, in reading order."""
        obj = points["object_id"].astype(str)
        t = _time_ns(points)
        running = pd.Series(t).groupby(obj.to_numpy(), sort=False).cummax().to_numpy()
        before = obj.map(self.latest).to_numpy(dtype=float, na_value=np.nan)
        back = (t < running) | (t < before)  # NaN (an object new here) compares False
        if back.any():
            first = points.iloc[int(np.argmax(back))]
            self.ledger.note(_BACKWARDS, int(back.sum()),
                             example=f"{first['source_file']}:{first['source_line']}: time goes backwards for {first['object_id']}")
        latest = pd.Series(t).groupby(obj.to_numpy(), sort=False).max()
        for o, value in latest.items():
            self.latest[str(o)] = max(self.latest.get(str(o), int(value)), int(value))

    def _columns(self, frame: pd.DataFrame) -> pd.DataFrame:
        """*frame* with the points table's columns (and every optional one seen) in their order."""
        cols = [*POINT_COLUMNS, *(c for c in OPTIONAL_COLUMNS if c in self.optional)]
        out = validate_points(frame.reindex(columns=cols))
        out[_SEQ] = frame[_SEQ].to_numpy(np.int64)
        return out

    def _name(self, kind: str) -> Path:
        self.files += 1
        return self.folder / f"{kind}-{self.files:06d}.parquet"

    def _write(self, frame: pd.DataFrame) -> Path:
        path = self._name("run")
        frame.to_parquet(path, index=False, row_group_size=self.group_rows)
        return path

    def chunks(self) -> Iterator[pd.DataFrame]:
        """Every row taken, sorted (by object, time, reading order), in validated tables of at
        most ``chunk_rows`` rows with the same columns."""
        if not self.runs:
            if self.held:
                whole = _sort(pd.concat(self.pending, ignore_index=True))
                self.pending = []
                for lo in range(0, len(whole), self.chunk_rows):
                    yield self._out(whole.iloc[lo:lo + self.chunk_rows])
            return
        if self.pending:
            self._spill()
        objects = pd.Index(sorted(self.latest))
        runs = self.runs
        while len(runs) > FAN_IN:  # merge in rounds: each round writes FAN_IN times fewer runs
            runs = [self._write_merged(runs[i:i + FAN_IN], objects) for i in range(0, len(runs), FAN_IN)]
        for frame in self._merge(runs, objects):
            yield self._out(frame)

    def _write_merged(self, runs: list[Path], objects: pd.Index) -> Path:
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self._name("merged")
        writer: pq.ParquetWriter | None = None
        try:
            for frame in self._merge(runs, objects):
                table = pa.Table.from_pandas(frame, preserve_index=False)
                writer = writer or pq.ParquetWriter(path, table.schema)
                writer.write_table(table.cast(writer.schema), row_group_size=self.group_rows)
        finally:
            if writer is not None:
                writer.close()
        for run in runs:
            run.unlink()
        _release()
        return path

    def _merge(self, paths: list[Path], objects: pd.Index) -> Iterator[pd.DataFrame]:
        """The rows of the sorted runs at *paths*, merged, in tables of about ``group_rows`` rows
        or more (at most ``chunk_rows``)."""
        batch = max(1024, self.chunk_rows // (2 * max(1, len(paths))))
        runs = [_Run(p, batch, objects) for p in paths]
        out: list[pd.DataFrame] = []
        held = flushed = 0
        while runs := [r for r in runs if r.fill()]:
            bound = min(r.last() for r in runs)  # every row up to it is in memory now
            taken = [r.take_upto(bound) for r in runs]
            part = pd.concat([t for t in taken if len(t)], ignore_index=True)
            out.append(part if len(taken) == 1 else _sort(part))
            held += len(part)
            if held >= self.group_rows:
                yield from _pieces(out, self.chunk_rows)
                out, held = [], 0
                flushed += 1
                if flushed % FAN_IN == 0:
                    _release()
        if out:
            yield from _pieces(out, self.chunk_rows)

    def _out(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame = self._columns(frame)
        if self.dedupe is not None:
            frame = self.dedupe.drop(frame, self.ledger)
        return frame.drop(columns=[_SEQ])


class _Repeats:
    """Drop rows equal to an earlier one in every column but file and line, from a stream sorted
    by object, time and reading order: such rows tie on object and time, so only ties are hashed,
    and the last object-and-time group of each table is remembered for the next."""

    def __init__(self) -> None:
        self.key: tuple[str, int] | None = None
        self.hashes = np.empty(0, np.uint64)

    def drop(self, frame: pd.DataFrame, ledger: Ledger) -> pd.DataFrame:
        if not len(frame):
            return frame
        obj = frame["object_id"].astype(str).to_numpy(dtype=object)
        t = _time_ns(frame)
        same = (obj[1:] == obj[:-1]) & (t[1:] == t[:-1])
        tie = np.zeros(len(frame), dtype=bool)
        tie[1:] |= same
        tie[:-1] |= same
        carried = 0  # rows at the start that continue the last group of the previous table
        if self.key is not None:
            match = (obj == self.key[0]) & (t == self.key[1])  # a prefix: the stream is sorted
            carried = len(frame) if match.all() else int(np.argmin(match))
            tie[:carried] = True
        rows = np.flatnonzero(tie)
        prior = self.hashes if carried else self.hashes[:0]
        dup_mask = pd.Series(np.concatenate([prior, self._hash(frame.iloc[rows])])).duplicated().to_numpy()[len(prior):]
        keep = np.ones(len(frame), dtype=bool)
        keep[rows[dup_mask]] = False
        last_rows = np.flatnonzero((obj == obj[-1]) & (t == t[-1]) & keep)
        last_hashes = self._hash(frame.iloc[last_rows])
        self.hashes = np.concatenate([prior, last_hashes]) if carried == len(frame) else last_hashes
        self.key = (str(obj[-1]), int(t[-1]))
        if not keep.all():
            for path, grp in frame.loc[~keep].groupby("source_file", sort=False):
                ledger.drop(str(path), grp["source_line"].to_numpy(), "duplicate row", bad=False)
            frame = frame.loc[keep].reset_index(drop=True)
        return frame

    @staticmethod
    def _hash(frame: pd.DataFrame) -> np.ndarray:
        key = [c for c in frame.columns if c not in ("source_line", "source_file", _SEQ)]
        hashed: np.ndarray = pd.util.hash_pandas_object(frame[key], index=False).to_numpy(np.uint64)
        return hashed


def _pieces(frames: list[pd.DataFrame], rows: int) -> Iterator[pd.DataFrame]:
    whole = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    for lo in range(0, len(whole), rows):
        yield whole.iloc[lo:lo + rows]
