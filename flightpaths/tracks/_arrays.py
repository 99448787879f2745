"""Small vectorized helpers shared by cleaning, projection and windows, and the lookup of the
compiled loops (:mod:`._kernel`)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import numpy as np
import pandas as pd

from ..errors import SchemaError

__all__: list[str] = []  # internal to the tracks package


_NS: Final = 1_000_000_000
_KERNEL: Any = False  # the compiled loops once looked up; None where numba is missing


def _kernel() -> Any:
    """The compiled loops (:mod:`._kernel`), or None where numba is not installed (then
    the vectorized numpy code here runs: the same results to rounding, slower)."""
    global _KERNEL
    if _KERNEL is False:
        from . import _kernel as compiled

        _KERNEL = compiled if compiled.COMPILED else None
    return _KERNEL


def _time_ns(series: pd.Series) -> np.ndarray:
    """UTC nanoseconds since the epoch as int64 (NaT becomes the int64 minimum)."""
    idx = pd.DatetimeIndex(series)
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    return idx.as_unit("ns").asi8.copy()


def _float(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    col = frame[name]
    try:
        return col.to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"cannot read as numbers: {exc}", column=name) from exc


def _map(fn: Any, items: Sequence[Any], workers: int) -> list[Any]:
    """``[fn(x) for x in items]``, on *workers* threads when more than one (numpy releases the
    GIL in elementwise work, gathers and filters)."""
    if workers <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


_BLOCK: Final = 1 << 17  # points per block of elementwise work: temporaries stay in cache


def _parts(n: int, block: int = _BLOCK) -> list[tuple[int, int]]:
    """[start, stop) ranges cutting ``range(n)`` into blocks of about *block* (one when small):
    elementwise work on big tables runs block by block, so its temporaries are reused from
    cache instead of being fresh pages of the table's size."""
    k = max(1, n // block)
    cuts = [n * i // k for i in range(k + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


def _wrap180(deg: np.ndarray) -> np.ndarray:
    """``(deg + 180) % 360 - 180``, bit for bit, without the slow float modulo when every value
    lies in [-360, 360] (differences of two headings): there ``x % 360`` of ``x = deg + 180``
    is ``x + 360`` below 0 (numpy's fmod-and-adjust rounds the same way), ``x - 360`` from 360
    on (exact) and ``x`` otherwise.

    >>> d = np.array([-360.0, -350.0, -180.0, -1e-17, 0.0, 179.5, 180.0, 350.0, 360.0])
    >>> bool(np.array_equal(_wrap180(d), (d + 180.0) % 360.0 - 180.0))
    True
    >>> _wrap180(np.array([-350.0, 350.0, 540.0])).tolist()
    [10.0, -10.0, -180.0]
    """
    x = deg + 180.0
    if not (len(x) and np.abs(deg).max() <= 360.0):  # NaN or large values: the general rule
        return x % 360.0 - 180.0
    return np.where(x < 0.0, x + 360.0, np.where(x >= 360.0, x - 360.0, x)) - 180.0


def _next_true(mask: np.ndarray) -> np.ndarray:
    """For each i, the smallest j >= i with mask[j] (len(mask) when none)."""
    n = len(mask)
    idx = np.where(mask, np.arange(n), n)
    return np.minimum.accumulate(idx[::-1])[::-1] if n else idx


def _prev_true(mask: np.ndarray) -> np.ndarray:
    """For each i, the largest j <= i with mask[j] (-1 when none)."""
    idx = np.where(mask, np.arange(len(mask)), -1)
    return np.maximum.accumulate(idx) if len(mask) else idx


def _segment_median(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Median of ``values[offsets[i]:offsets[i+1]]`` for every i, ignoring NaN (NaN if none).

    One float sort of ``segment + scaled value`` instead of a per-segment loop.

    >>> _segment_median(np.array([3.0, 1.0, 2.0, np.nan, 5.0, 4.0]), np.array([0, 3, 4, 6]))
    array([2. , nan, 4.5])
    """
    nseg = len(offsets) - 1
    out = np.full(nseg, np.nan)
    if nseg == 0 or len(values) == 0:
        return out
    counts = np.diff(offsets)
    finite = np.isfinite(values)
    good = values[finite]
    if not len(good):
        return out
    vmin = float(good.min())
    span = float(good.max()) - vmin or 1.0
    del good
    keys = _segment_keys(values, finite, counts, vmin, span)
    ok, medians = _sorted_medians(keys, finite, offsets, vmin, span)
    out[ok] = medians
    return out


def _segment_keys(values: np.ndarray, finite: np.ndarray, counts: np.ndarray, vmin: float, span: float) -> np.ndarray:
    """Sorted ``segment + value scaled into [0, 0.5]``, NaN as ``segment + 0.75`` (after its values)."""
    frac = values - vmin
    frac /= span
    frac *= 0.5
    frac[~finite] = 0.75
    keys = np.repeat(np.arange(len(counts), dtype=np.float64), counts)
    keys += frac
    del frac
    keys.sort()
    return keys


def _sorted_medians(keys: np.ndarray, finite: np.ndarray, offsets: np.ndarray, vmin: float,
                    span: float) -> tuple[np.ndarray, np.ndarray]:
    """The segments with a value and their medians, read from the sorted *keys* (:func:`_segment_keys`)."""
    nseg = len(offsets) - 1
    counts = np.diff(offsets)
    nvalid = np.add.reduceat(finite, offsets[:-1]) if len(finite) else np.zeros(nseg, int)
    nvalid = np.where(counts > 0, nvalid, 0)
    ok = nvalid > 0
    base = offsets[:-1][ok]
    lo_i = base + (nvalid[ok] - 1) // 2
    hi_i = base + nvalid[ok] // 2
    seg_ok = np.arange(nseg)[ok]
    lo_v = (keys[lo_i] - seg_ok) / 0.5 * span + vmin
    hi_v = (keys[hi_i] - seg_ok) / 0.5 * span + vmin
    return ok, (lo_v + hi_v) / 2
