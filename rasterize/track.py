"""Input containers: one :class:`Track`, or many packed flat as a :class:`TrackBatch`.

A batch holds all points of all tracks in flat arrays plus ``offsets`` (the first point of
each track, like ``shapely.linestrings(coords, indices=...)``), so the renderer works on
thousands of tracks in a few numpy calls. Pieces within a track are separated by
``new_piece`` flags (or by a NaN coordinate); pieces and tracks are never joined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

__all__ = ["Track", "TrackBatch", "UNITS"]

#: Coordinate units a track may be in: metres (geo, y north) or screen pixels (y down).
UNITS = ("m", "px")

_EMPTY = np.zeros(0)


def _f64(a: object, name: str) -> np.ndarray:
    arr = np.asarray(a if a is not None else _EMPTY, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


@dataclass(frozen=True)
class Track:
    """One track (or window) to draw.

    ``x``, ``y``: coordinates in ``units`` (NaN or inf: a break, that point is not drawn).
    ``t``: seconds since window start (for gaps, ``time`` and ``progress`` colours).
    ``values``: per-point arrays by variable name (``speed``, ``altitude``, ``turn``,
    ``cumturn``) for the colour channels. ``breaks``: indices of points that start a new
    piece. ``events_*``: discs (mouse clicks) with a kind naming their colour.
    ``window_s``: window length for ``progress`` (default: the track's time span).

    >>> Track([0, 1, 2], [0, 0, 1]).n_points
    3
    """

    x: Sequence[float] | np.ndarray
    y: Sequence[float] | np.ndarray
    t: Sequence[float] | np.ndarray | None = None
    values: Mapping[str, Sequence[float] | np.ndarray] = field(default_factory=dict)
    breaks: Sequence[int] | np.ndarray | None = None
    events_x: Sequence[float] | np.ndarray | None = None
    events_y: Sequence[float] | np.ndarray | None = None
    events_kind: Sequence[str] | np.ndarray | None = None
    units: str = "m"
    y_down: bool = False
    window_s: float | None = None

    @property
    def n_points(self) -> int:
        """Number of points (finite or not)."""
        return len(np.asarray(self.x))


@dataclass
class TrackBatch:
    """Many tracks packed into flat arrays (build with :meth:`from_tracks` or directly).

    ``offsets`` has ``n + 1`` entries: track ``i`` owns points ``offsets[i]:offsets[i+1]``
    (and events ``ev_offsets[i]:ev_offsets[i+1]``). ``skip`` holds a reason per track that
    must not be drawn ("" to draw it).
    """

    x: np.ndarray
    y: np.ndarray
    offsets: np.ndarray
    t: np.ndarray | None = None
    values: dict[str, np.ndarray] = field(default_factory=dict)
    # The fields below are optional when a batch is built and always set after __post_init__
    # (defaults for the batch's size), so they are typed as what the drawing code reads.
    new_piece: np.ndarray = None  # type: ignore[assignment]
    ev_x: np.ndarray = field(default_factory=lambda: _EMPTY)
    ev_y: np.ndarray = field(default_factory=lambda: _EMPTY)
    ev_kind: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    ev_offsets: np.ndarray = None  # type: ignore[assignment]
    units: np.ndarray = None  # type: ignore[assignment]
    y_down: np.ndarray = None  # type: ignore[assignment]
    window_s: np.ndarray = None  # type: ignore[assignment]
    skip: list[str] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.x = _f64(self.x, "x")
        self.y = _f64(self.y, "y")
        self.offsets = np.asarray(self.offsets, dtype=np.int64)
        n, p = len(self.offsets) - 1, len(self.x)
        if n < 0 or self.offsets[0] != 0 or self.offsets[-1] != p or np.any(np.diff(self.offsets) < 0):
            raise ValueError("offsets must start at 0, never decrease and end at the number of points")
        if len(self.y) != p:
            raise ValueError(f"x has {p} values but y has {len(self.y)}")
        self.t = None if self.t is None else _f64(self.t, "t")
        for name, arr in [("t", self.t), *self.values.items()]:
            if arr is not None and len(arr) != p:
                raise ValueError(f"{name} has {len(arr)} values for {p} points")
        self.values = {k: _f64(v, k) for k, v in self.values.items()}
        self.new_piece = np.zeros(p, bool) if self.new_piece is None else np.asarray(self.new_piece, bool)
        self._check_events(n)
        self.units = np.full(n, "m", dtype=object) if self.units is None else np.asarray(self.units, dtype=object)
        bad = sorted({str(u) for u in self.units} - set(UNITS))
        if bad:
            raise ValueError(f"units {', '.join(map(repr, bad))} unknown; choose from {', '.join(UNITS)}")
        self.y_down = np.zeros(n, bool) if self.y_down is None else np.asarray(self.y_down, bool)
        self.window_s = np.full(n, np.nan) if self.window_s is None else _f64(self.window_s, "window_s")
        self.skip = [""] * n if self.skip is None else list(self.skip)

    def _check_events(self, n: int) -> None:
        """Events as flat arrays (none by default) whose lengths agree with each other and *n* tracks."""
        self.ev_x, self.ev_y = _f64(self.ev_x, "ev_x"), _f64(self.ev_y, "ev_y")
        self.ev_kind = np.asarray(self.ev_kind, dtype=object)
        if self.ev_offsets is None:
            self.ev_offsets = np.zeros(n + 1, np.int64)
        self.ev_offsets = np.asarray(self.ev_offsets, dtype=np.int64)
        if not (len(self.ev_x) == len(self.ev_y) == len(self.ev_kind) == self.ev_offsets[-1]) or len(self.ev_offsets) != n + 1:
            raise ValueError("ev_x, ev_y, ev_kind and ev_offsets disagree in length")

    @property
    def n(self) -> int:
        """Number of tracks."""
        return len(self.offsets) - 1

    def slice(self, start: int, stop: int) -> TrackBatch:
        """Tracks ``start:stop`` as a new batch (views, no copies of the point arrays).

        >>> b = TrackBatch.from_tracks([Track([0, 1], [0, 1]), Track([5], [5])]).slice(1, 2)
        >>> b.x.tolist(), b.offsets.tolist()
        ([5.0], [0, 1])
        """
        p0, p1 = int(self.offsets[start]), int(self.offsets[stop])
        e0, e1 = int(self.ev_offsets[start]), int(self.ev_offsets[stop])
        return TrackBatch(
            x=self.x[p0:p1],
            y=self.y[p0:p1],
            offsets=self.offsets[start : stop + 1] - p0,
            t=None if self.t is None else self.t[p0:p1],
            values={k: v[p0:p1] for k, v in self.values.items()},
            new_piece=self.new_piece[p0:p1],
            ev_x=self.ev_x[e0:e1],
            ev_y=self.ev_y[e0:e1],
            ev_kind=self.ev_kind[e0:e1],
            ev_offsets=self.ev_offsets[start : stop + 1] - e0,
            units=self.units[start:stop],
            y_down=self.y_down[start:stop],
            window_s=self.window_s[start:stop],
            skip=self.skip[start:stop],
        )

    @classmethod
    def from_tracks(cls, tracks: Sequence[Track]) -> TrackBatch:
        """Pack *tracks* (values missing from a track become NaN: drawn at the channel floor).

        >>> b = TrackBatch.from_tracks([Track([0, 1], [0, 1]), Track([5], [5])])
        >>> b.offsets.tolist(), b.n
        ([0, 2, 3], 2)
        """
        keys = sorted({k for tr in tracks for k in tr.values})
        packed = [_pack_track(i, tr, keys) for i, tr in enumerate(tracks)]
        return cls(
            x=_cat([p.x for p in packed]),
            y=_cat([p.y for p in packed]),
            offsets=np.concatenate([[0], np.cumsum([len(p.x) for p in packed], dtype=np.int64)]),
            t=_cat([p.t for p in packed]),
            values={k: _cat([p.values[k] for p in packed]) for k in keys},
            new_piece=_cat([p.new_piece for p in packed]).astype(bool),
            ev_x=_cat([p.ev_x for p in packed]),
            ev_y=_cat([p.ev_y for p in packed]),
            ev_kind=np.concatenate([p.ev_kind for p in packed]) if packed else np.zeros(0, dtype=object),
            ev_offsets=np.concatenate([[0], np.cumsum([len(p.ev_x) for p in packed], dtype=np.int64)]),
            units=np.array([tr.units for tr in tracks], dtype=object),
            y_down=np.array([tr.y_down for tr in tracks], dtype=bool),
            window_s=np.array([np.nan if tr.window_s is None else tr.window_s for tr in tracks], dtype=np.float64),
            skip=[p.skip for p in packed],
        )


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    """*parts* end to end (an empty array when there are none)."""
    return np.concatenate(parts) if parts else _EMPTY


class _Packed(NamedTuple):
    """One track's arrays as :meth:`TrackBatch.from_tracks` packs them (empty where it is skipped)."""

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray
    values: dict[str, np.ndarray]
    new_piece: np.ndarray
    ev_x: np.ndarray
    ev_y: np.ndarray
    ev_kind: np.ndarray
    skip: str


def _pack_track(i: int, tr: Track, keys: list[str]) -> _Packed:
    """Track *i* as flat arrays, with the values *keys* (NaN where it has none) and why it is skipped ("" if not)."""
    x, y, t, arrays, reason = _track_points(i, tr, keys)
    p = len(x)
    new_piece = np.zeros(p, bool)
    if tr.breaks is not None and p:
        b = np.asarray(tr.breaks, dtype=np.int64)
        new_piece[b[(b >= 0) & (b < p)]] = True
    ex, ey, ek, ev_reason = _track_events(i, tr)
    return _Packed(x, y, t, arrays, new_piece, ex, ey, ek, reason or ev_reason)


def _track_points(i: int, tr: Track, keys: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray], str]:
    """Track *i*'s coordinates, times and values *keys*, or empty ones and why when their lengths differ."""
    x, y = _f64(tr.x, f"track {i} x"), _f64(tr.y, f"track {i} y")
    p = len(x)
    reason = "" if len(y) == p else f"skipped: x has {p} values but y has {len(y)}"
    t = np.full(p, np.nan) if tr.t is None else _f64(tr.t, f"track {i} t")
    arrays = {k: _f64(tr.values[k], f"track {i} {k}") if k in tr.values else np.full(p, np.nan) for k in keys}
    for name, arr in [("t", t), *arrays.items()]:
        if len(arr) != p and not reason:
            reason = f"skipped: {name} has {len(arr)} values for {p} points"
    if reason:
        return _EMPTY, _EMPTY, _EMPTY, {k: _EMPTY for k in keys}, reason
    return x, y, t, arrays, reason


def _track_events(i: int, tr: Track) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Track *i*'s events, or none and why when their lengths differ."""
    ex, ey = _f64(tr.events_x, f"track {i} events_x"), _f64(tr.events_y, f"track {i} events_y")
    ek = np.asarray(tr.events_kind if tr.events_kind is not None else [""] * len(ex), dtype=object)
    if not (len(ex) == len(ey) == len(ek)):
        return _EMPTY, _EMPTY, np.zeros(0, dtype=object), "skipped: events_x, events_y and events_kind differ in length"
    return ex, ey, ek, ""
