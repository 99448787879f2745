"""Repeats across chunks and files: a row equal to one already read (the same receiver log
given twice, overlapping exports) is dropped while streaming, in bounded memory.

:class:`RepeatFilter` keeps a 64-bit hash of every kept row (of its object, time, position
and altitude, :data:`KEY_COLUMNS`), 8 bytes a row, in a few sorted
arrays merged as they grow (each lookup is a binary search). Past ``max_rows`` the oldest
hashes are forgotten, so memory stays bounded by the setting, and the report notes that
repeats were then looked for among recent rows only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .ledger import Ledger

__all__ = ["RepeatFilter"]

#: what makes two rows the same point: object, time, position, altitude (cleaning keeps one point
#: per object and time anyway; hashing callsign, squawk and flags too would double the cost)
KEY_COLUMNS = ("object_id", "time", "lat", "lon", "x", "y", "altitude_ft")


def row_hashes(points: pd.DataFrame) -> np.ndarray:
    """One uint64 per row of *points* from :data:`KEY_COLUMNS` (values, not dtypes or index)."""
    hashed: np.ndarray = pd.util.hash_pandas_object(points[list(KEY_COLUMNS)], index=False).to_numpy(np.uint64)
    return hashed


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """*values* sorted, each once (a sort: numpy's hash-based ``unique`` is far slower on hashes)."""
    out = np.sort(values)
    keep = np.ones(len(out), dtype=bool)
    keep[1:] = out[1:] != out[:-1]
    return out[keep]


class RepeatFilter:
    """Drop rows that repeat a row of an earlier chunk (or an earlier row of the same chunk)."""

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self.levels: list[np.ndarray] = []  # sorted, unique hashes; older and larger first

    def __len__(self) -> int:
        return sum(len(a) for a in self.levels)

    def seen(self, hashes: np.ndarray) -> np.ndarray:
        """Which of *hashes* were kept before."""
        hit = np.zeros(len(hashes), dtype=bool)
        for level in self.levels:
            pos = np.searchsorted(level, hashes)
            hit |= level[np.minimum(pos, len(level) - 1)] == hashes
        return hit

    def add(self, hashes: np.ndarray) -> bool:
        """Remember *hashes* (kept rows); past ``max_rows``, forget the oldest level(s) (about
        the older half). Returns whether anything was forgotten."""
        if not len(hashes):
            return False
        self.levels.append(_sorted_unique(hashes))
        while len(self.levels) > 1 and len(self.levels[-2]) <= 2 * len(self.levels[-1]):
            last = self.levels.pop()
            self.levels[-1] = _sorted_unique(np.concatenate([self.levels[-1], last]))
        forgot = False
        while len(self) > self.max_rows:
            forgot = True
            if len(self.levels) > 1:
                self.levels.pop(0)
            else:  # one chunk over the bound by itself: keep a part (which part is arbitrary)
                self.levels[0] = self.levels[0][: self.max_rows]
        return forgot

    def drop_repeats(self, points: pd.DataFrame, ledger: Ledger) -> pd.DataFrame:
        """*points* without the rows read before (each named in *ledger* as a duplicate row)."""
        if not len(points):
            return points
        hashes = row_hashes(points)
        repeat = self.seen(hashes) | pd.Series(hashes).duplicated().to_numpy()
        if self.add(hashes[~repeat]):
            ledger.note(f"times the memory of rows read ({self.max_rows:,} rows) was full: older rows forgotten, their repeats kept", 1)
        if not repeat.any():
            return points
        for path, grp in points.loc[repeat].groupby("source_file", sort=False):
            ledger.drop(str(path), grp["source_line"].to_numpy(), "duplicate row", bad=False)
        return points.loc[~repeat]
