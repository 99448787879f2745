"""Compiled helpers shared by the stages (numba), and the stand-in used where numba is missing.

:data:`COMPILED` says whether numba is installed; :func:`njit` is numba's decorator, or a
stand-in that runs the function as plain Python (slow, same results). :func:`group_rows` is the
counting sort by group then time behind both the SBS merge (:mod:`flightpaths.ingest`) and the
window loops (:mod:`flightpaths.tracks`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

try:
    from numba import njit

    COMPILED = True
except ImportError:  # pragma: no cover - without numba the functions stay plain Python (slow)
    COMPILED = False

    def njit(**_options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:  # type: ignore[no-redef]
        """Stand-in for ``numba.njit``: plain Python, with byte arrays widened to int64 first.

        numba promotes ``uint8`` arithmetic to 64-bit integers; numpy scalars would overflow.
        """

        def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
            def widened(*args: Any) -> Any:
                return func(*(a.astype(np.int64) if isinstance(a, np.ndarray) and a.dtype == np.uint8 else a
                              for a in args))

            widened.__doc__, widened.__name__, widened.__wrapped__ = func.__doc__, func.__name__, func  # type: ignore[attr-defined]
            return widened

        return wrap

__all__ = ["COMPILED", "group_rows", "njit", "sort_groups_by_time"]


@njit(cache=True, nogil=True)
def sort_groups_by_time(idx: np.ndarray, bounds: np.ndarray, t: np.ndarray) -> None:
    """Order the rows ``idx[bounds[g]:bounds[g+1]]`` of each group by ``t[row]``, stably, in
    place; most logs are in time order already, so only the groups that are not get sorted."""
    for g in range(len(bounds) - 1):
        s, e = bounds[g], bounds[g + 1]
        for k in range(s + 1, e):
            if t[idx[k]] < t[idx[k - 1]]:
                rows = idx[s:e].copy()
                keys = np.empty(e - s, np.int64)
                for q in range(e - s):
                    keys[q] = t[rows[q]]
                idx[s:e] = rows[np.argsort(keys, kind="mergesort")]
                break


@njit(cache=True, nogil=True)
def group_rows(pre: np.ndarray, group: np.ndarray, t: np.ndarray, ngroups: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows *pre* sorted by their group number (``group[row]``, 0 .. *ngroups* - 1; a counting
    sort, so rows that tie keep their order in *pre*), then by ``t[row]`` within each group,
    stably (:func:`sort_groups_by_time`). Returns the rows and the groups' bounds in them."""
    bounds = np.zeros(ngroups + 1, np.int64)
    for i in pre:
        bounds[group[i] + 1] += 1
    for g in range(ngroups):
        bounds[g + 1] += bounds[g]
    fill = bounds[:-1].copy()
    order = np.empty(len(pre), np.int64)
    for i in pre:
        g = group[i]
        order[fill[g]] = i
        fill[g] += 1
    sort_groups_by_time(order, bounds, t)
    return order, bounds
