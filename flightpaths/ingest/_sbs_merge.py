"""Merging SBS rows per aircraft: each position gets the nearest velocity in time, and the
callsign and squawk carried forward (compiled where numba is installed, else numpy)."""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._sbs_common import NAT, Parsed, as_words, code_to_hex, hex_column, scanner, short_texts
from .settings import IngestSettings
from .values import localize

__all__ = ["Merger", "concat_rows", "nearest", "nearest_numpy"]


def concat_rows(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Row dicts (column -> array) one after the other; the empty ones left out."""
    parts = [p for p in parts if p and len(p["t"])]
    if not parts:
        return {}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _take(d: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[mask] for k, v in d.items()}


def _split(d: dict[str, np.ndarray], first: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The rows of *d* where *first* holds, and (copied) the others. In a log in time order
    the first rows are a prefix: they are then views, not copies."""
    k = int(np.count_nonzero(first))
    if first[:k].all():
        return {key: v[:k] for key, v in d.items()}, {key: v[k:].copy() for key, v in d.items()}
    return _take(d, first), _take(d, ~first)


def nearest(pos_code: np.ndarray, pos_t: np.ndarray, ref_code: np.ndarray, ref_t: np.ndarray,
             tol_ns: int, direction: str = "nearest") -> np.ndarray:
    """Index into the ref rows of the same code nearest in time within *tol_ns* (-1 if none).

    Both time arrays are int64 in one unit (the merger uses milliseconds); *direction* is
    nearest (an earlier one wins a tie), backward (at or before; one at the same time wins) or
    forward. Compiled where numba is installed (:func:`._sbs_scan.nearest_index`), else numpy.

    >>> nearest(np.array([1, 1, 2]), np.array([10, 50, 10]), np.array([1, 1, 2]), np.array([12, 40, 30]), 5)
    array([ 0, -1, -1])
    """
    if not len(ref_t) or not len(pos_t):
        return np.full(len(pos_t), -1, dtype=np.int64)
    scan = scanner()
    if scan is not None and ref_code.min() >= 0:
        as64 = np.ascontiguousarray
        return np.asarray(scan.nearest_index(as64(pos_code, np.int64), as64(pos_t, np.int64), as64(ref_code, np.int64),
                                  as64(ref_t, np.int64), int(tol_ns), _DIRECTIONS[direction]))
    return nearest_numpy(pos_code, pos_t, ref_code, ref_t, tol_ns, direction)


_DIRECTIONS: Final = {"nearest": 0, "backward": 1, "forward": 2}


def nearest_numpy(pos_code: np.ndarray, pos_t: np.ndarray, ref_code: np.ndarray, ref_t: np.ndarray,
                   tol_ns: int, direction: str = "nearest") -> np.ndarray:
    """:func:`nearest` with numpy (where numba is not installed): a lexsort plus one searchsorted."""
    order = np.lexsort((ref_t, ref_code))
    rc, rt = ref_code[order], ref_t[order]
    right = _insertion_points(rc, rt, pos_code, pos_t)
    best = np.full(len(pos_t), -1, dtype=np.int64)
    best_dt = np.full(len(pos_t), np.iinfo(np.int64).max, dtype=np.int64)
    for cand in _candidate_rows(right, direction):
        ok = (cand >= 0) & (cand < len(rt))
        c = np.where(ok, cand, 0)
        ok &= rc[c] == pos_code
        dt = rt[c] - pos_t
        if direction == "backward":
            ok &= dt <= 0
        elif direction == "forward":
            ok &= dt >= 0
        ok &= np.abs(dt) <= tol_ns
        better = ok & (np.abs(dt) < best_dt)
        best[better] = order[c[better]]
        best_dt[better] = np.abs(dt[better])
    return best


def _insertion_points(rc: np.ndarray, rt: np.ndarray, pos_code: np.ndarray, pos_t: np.ndarray) -> np.ndarray:
    """Where each position (code, time) goes among the ref rows (*rc*, *rt*: sorted by code, then
    time): the first ref row of its code at or after its time."""
    tmin = min(int(rt.min()), int(pos_t.min()))
    span = max(int(rt.max()), int(pos_t.max())) - tmin + 1
    if span * (int(max(rc.max(), pos_code.max())) + 1) < 2**62:
        rkey = rc.astype(np.int64) * span + (rt - tmin)
        pkey = pos_code.astype(np.int64) * span + (pos_t - tmin)
        at: np.ndarray = np.searchsorted(rkey, pkey, side="left")
        return at
    # very long spans with many aircraft: fall back to a per-code search
    right = np.empty(len(pos_t), dtype=np.int64)
    starts = np.searchsorted(rc, pos_code, side="left")
    ends = np.searchsorted(rc, pos_code, side="right")
    for i in range(len(pos_t)):
        right[i] = starts[i] + np.searchsorted(rt[starts[i]:ends[i]], pos_t[i], side="left")
    return right


def _candidate_rows(right: np.ndarray, direction: str) -> list[np.ndarray]:
    """The ref rows that may be nearest in *direction*, given the insertion points *right*."""
    candidates = []
    if direction in ("nearest", "backward"):
        # for "backward" we want the last ref at or before t: the one before *right*, or right itself if equal
        candidates.append(right - 1)
    if direction in ("nearest", "forward"):
        candidates.append(right)
    if direction == "backward":
        candidates.append(right)  # an exact tie at t counts as backward
    return candidates


def _fill_nearest(arr: np.ndarray, idx: np.ndarray, pcode: np.ndarray, pms: np.ndarray,
                  ident: tuple[np.ndarray, np.ndarray, np.ndarray], direction: str) -> np.ndarray:
    """Fill ``arr[idx]`` from the ident rows (*ident*: code, ms, value) of the same aircraft nearest
    in *direction* (at any distance); the rows of *idx* left unfilled."""
    icode, ims, ivalue = ident
    if not len(icode):
        return idx
    j = nearest(pcode[idx], pms[idx], icode, ims, _ANY_TIME, direction)
    got = j >= 0
    arr[idx[got]] = ivalue[j[got]]
    result: np.ndarray = idx[~got]
    return result


_ANY_TIME: Final = np.iinfo(np.int64).max // 4  # a tolerance no two times in a log are apart


class Merger:
    """Joins velocities and identities to positions, carrying a tail between blocks.

    Callsigns and squawks travel as int32 ids into one table of distinct strings per log
    (id 0 = none), so filling them in is integer work and the output columns are built from
    a small dictionary."""

    def __init__(self, settings: IngestSettings) -> None:
        self.tol = int(settings.merge_tolerance_s * 1e9)
        self.pos: dict[str, np.ndarray] = {}
        self.vel: dict[str, np.ndarray] = {}
        self.last: dict[str, dict[int, int]] = {"callsign": {}, "squawk": {}}  # aircraft -> latest id
        self.strings: list[str] = [""]
        self.string_ids: dict[str, int] = {"": 0}
        self._dictionary: pa.Array | None = None
        self._objects = np.array([None], dtype=object)  # the strings as objects (id 0: None)
        # the strings as words and lengths (see as_words; None: one is too long), and for how many of them
        self._words: tuple[int, tuple[np.ndarray, np.ndarray] | None] = (0, None)
        self.tz = settings.tz

    def _ids(self, parsed: Parsed) -> None:
        """Turn the callsign/squawk columns of *parsed* into ids of this log's string table (once)."""
        if parsed.interned:
            return
        parsed.interned = True
        for key in ("callsign", "squawk"):
            local_values = parsed.texts.get(key)
            table = None if local_values is None else self._table(local_values)
            for part in (parsed.pos, parsed.ident):
                if not part or key not in part:
                    continue
                codes = part[key]
                if local_values is None:  # object arrays of str ("" = none) from the pyarrow paths
                    codes, uniq = pd.factorize(codes, use_na_sentinel=False)
                    table = self._table(["" if v is None or v is pd.NA or v != v else str(v) for v in uniq.tolist()])
                assert table is not None  # made above for either kind of column
                part[key] = table[codes] if len(codes) else np.zeros(0, np.int32)

    def intern(self, parsed: Parsed) -> None:
        """Make the callsigns and squawks of *parsed* ids of this merger's string table (once),
        so that its rows can be kept and joined to later ones before they are merged."""
        self._ids(parsed)

    def _table(self, values: list[str]) -> np.ndarray:
        """Ids in this log's string table of *values* (a part's distinct strings)."""
        return np.array([self._intern(v) for v in values] or [0], dtype=np.int32)

    def _intern(self, value: str) -> int:
        found = self.string_ids.get(value)
        if found is None:
            found = self.string_ids[value] = len(self.strings)
            self.strings.append(value)
        return found

    def feed(self, parsed: Parsed | list[Parsed], final: bool = False, complete_ns: int = NAT) -> pd.DataFrame | None:
        """Merge what is ready of the held rows and *parsed* (one block, or the parts the
        scanner split one block into: merged as one block, in one concatenation). Rows up to
        *complete_ns* are known to be all in (a live feed's), so positions up to that time less
        the tolerance are ready even when no later row came yet."""
        ready = self._ready(parsed, final, complete_ns)
        if ready is None:
            return None
        frame = self._merge(*ready)
        self._remember(ready[2])
        return frame

    def feed_columns(self, parsed: Parsed, final: bool = False, complete_ns: int = NAT) -> dict[str, np.ndarray] | None:
        """:meth:`feed` with the points as plain arrays instead of a table: times as int64 ns
        (UTC), ``on_ground`` as float 1/0/NaN, ids and texts as object arrays (None: empty)."""
        ready = self._ready(parsed, final, complete_ns)
        if ready is None:
            return None
        pos = ready[0]
        callsign, squawk, object_id = self._join(*ready)
        self._remember(ready[2])
        t = pos["t"]
        if self.tz != "UTC":
            t = localize(pd.Series(t.view("datetime64[ns]")), self.tz).to_numpy("datetime64[ns]").view(np.int64)
        if len(self._objects) != len(self.strings):
            self._objects = np.array([None, *self.strings[1:]], dtype=object)
        cols = {k: pos[k] for k in ("lat", "lon", "altitude_ft", "speed_kt", "track_deg", "vrate_fpm", "on_ground", "source_line")}
        return {"object_id": np.asarray(object_id, dtype=object), "time": t, **cols,
                "callsign": self._objects[callsign], "squawk": self._objects[squawk]}

    def _ready(self, parsed: Parsed | list[Parsed], final: bool,
               complete_ns: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]] | None:
        """The positions ready to merge (see :meth:`feed`), the velocities and identities to merge them with."""
        parts = [parsed] if isinstance(parsed, Parsed) else parsed
        for part in parts:
            self._ids(part)
        pos = concat_rows([self.pos, *(p.pos for p in parts)])
        vel = concat_rows([self.vel, *(p.vel for p in parts)])
        ident = parts[0].ident if len(parts) == 1 else concat_rows([p.ident for p in parts])
        if not pos:
            self.pos = {}
            self.vel = self._recent(vel)
            self._remember(ident)
            return None
        if final:
            ready = np.ones(len(pos["t"]), dtype=bool)
        else:
            horizon = max(int(pos["t"].max()), int(vel["t"].max()) if vel else NAT, complete_ns) - self.tol
            ready = pos["t"] <= horizon
        now, self.pos = _split(pos, ready)
        self.vel = self._recent(vel)
        return now, vel, ident  # the caller remembers the identities once the positions are merged

    def _recent(self, vel: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The velocities kept for the next block: those within twice the tolerance of the latest."""
        return _split(vel, vel["t"] < int(vel["t"].max()) - 2 * self.tol)[1] if vel else {}

    def _remember(self, ident: dict[str, np.ndarray]) -> None:
        if not ident or not len(ident["t"]):
            return
        scan = scanner()
        for key, store in self.last.items():
            has = ident[key] != 0
            codes, values = ident["object_id"][has], ident[key][has]
            if scan is not None and (not len(codes) or codes.min() >= 0):
                uniq, latest = scan.last_values(np.ascontiguousarray(codes, np.int64), values)
            else:
                uniq, first = np.unique(codes[::-1], return_index=True)  # last occurrence in file order
                latest = values[::-1][first]
            store.update(zip(uniq.tolist(), latest.tolist()))

    def _merge(self, pos: dict[str, np.ndarray], vel: dict[str, np.ndarray], ident: dict[str, np.ndarray]) -> pd.DataFrame:
        callsign, squawk, object_id = self._join(pos, vel, ident)
        stamps = pos["t"].view("datetime64[ns]")
        # UTC: the times as they are, labelled (a third of the cost of the general localize)
        times = pd.DatetimeIndex(stamps, tz="UTC", copy=False) if self.tz == "UTC" else localize(pd.Series(stamps), self.tz)
        on_ground = pd.arrays.BooleanArray(pos["on_ground"] == 1, np.isnan(pos["on_ground"]))
        return pd.DataFrame({
            "object_id": object_id,
            "time": times,
            "lat": pos["lat"], "lon": pos["lon"], "altitude_ft": pos["altitude_ft"],
            "speed_kt": pos["speed_kt"], "track_deg": pos["track_deg"], "vrate_fpm": pos["vrate_fpm"],
            "callsign": self._strings_of(callsign), "squawk": self._strings_of(squawk),
            "on_ground": on_ground, "source_line": pos["source_line"],
        }, copy=False)  # the arrays are this frame's alone (the merger keeps copies of what it carries)

    def _join(self, pos: dict[str, np.ndarray], vel: dict[str, np.ndarray],
              ident: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, Any]:
        """Fill in place the empty speed, track and vertical rate of *pos* from the nearest
        velocity row; return its callsign and squawk ids with the empty ones filled
        (:meth:`_fill`) and its object ids as a string column. Compiled in one pass where
        numba is installed (:func:`._sbs_scan.merge_rows`, the same answers), else numpy."""
        empty = np.zeros(0, np.int64)
        vcode = vel.get("object_id", empty)
        icode = ident["object_id"] if ident else empty
        pcode = pos["object_id"]
        scan = scanner()
        if scan is not None and all(not len(c) or c.min() >= 0 for c in (pcode, vcode, icode)):
            return self._join_compiled(scan, pos, vel, ident)
        pms = pos["t"] // 1_000_000  # merge keys in ms
        if len(vcode):
            j = nearest(pcode, pms, vcode, vel["t"] // 1_000_000, self.tol // 1_000_000)
            hit = j >= 0
            for key in ("speed_kt", "track_deg", "vrate_fpm"):
                fill = hit & np.isnan(pos[key])
                pos[key][fill] = vel[key][j[fill]]
        return (self._fill(pos["callsign"].copy(), pcode, pms, ident, "callsign"),
                self._fill(pos["squawk"].copy(), pcode, pms, ident, "squawk"),
                code_to_hex(pcode, as_strings=True))

    def _join_compiled(self, scan: Any, pos: dict[str, np.ndarray], vel: dict[str, np.ndarray],
                       ident: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, Any]:
        """:meth:`_join` in one compiled pass (:func:`._sbs_scan.merge_rows`)."""
        c64, empty, no_ids = np.ascontiguousarray, np.zeros(0, np.int64), np.zeros(0, np.int32)
        vnum = tuple(c64(vel[key]) if vel else np.zeros(0) for key in ("speed_kt", "track_deg", "vrate_fpm"))
        for key in ("speed_kt", "track_deg", "vrate_fpm"):  # filled in place: must be writable arrays
            pos[key] = c64(pos[key])
        callsign, squawk, number, uniques = scan.merge_rows(
            c64(pos["object_id"], np.int64), c64(pos["t"], np.int64), pos["speed_kt"], pos["track_deg"],
            pos["vrate_fpm"], c64(pos["callsign"], np.int32), c64(pos["squawk"], np.int32),
            c64(vel.get("object_id", empty), np.int64), c64(vel["t"], np.int64) if vel else empty, vnum,
            c64(ident["object_id"] if ident else empty, np.int64), c64(ident["t"], np.int64) if ident else empty,
            c64(ident["callsign"], np.int32) if ident else no_ids, c64(ident["squawk"], np.int32) if ident else no_ids,
            self._known("callsign") + self._known("squawk"), self.tol // 1_000_000)
        return callsign, squawk, hex_column(number, uniques)

    def _known(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """The *key* ids remembered from earlier blocks: aircraft codes (sorted) and ids."""
        store = self.last[key]
        keys = np.fromiter(store.keys(), np.int64, len(store))
        values = np.fromiter(store.values(), np.int64, len(store))
        order = np.argsort(keys)
        return keys[order], values[order]

    def _strings_of(self, ids: np.ndarray) -> Any:
        """A pandas string column of string ids (0 -> <NA>): with the compiled scanner and texts
        of at most 8 bytes (callsigns, squawks) straight in Arrow's layout, else a dictionary
        array of this log's strings, cast (one take in Arrow)."""
        scan = scanner()
        if scan is not None:
            if self._words[0] != len(self.strings):
                self._words = (len(self.strings), as_words(self.strings))
            if self._words[1] is not None:
                return short_texts(scan, ids, *self._words[1])
        if self._dictionary is None or len(self._dictionary) != len(self.strings):
            self._dictionary = pa.array([v or None for v in self.strings], pa.string())
        dictionary = pa.DictionaryArray.from_arrays(pa.array(ids.astype(np.int32, copy=False)), self._dictionary)
        return pd.array(pc.cast(dictionary, pa.string()), dtype="string")

    def _fill(self, arr: np.ndarray, pcode: np.ndarray, pms: np.ndarray, ident: dict[str, np.ndarray], key: str) -> np.ndarray:
        """Fill empty (id 0) *key* values of positions: the latest ident of the same aircraft at
        or before the position (this block), else the one remembered from earlier blocks, else
        the next one after (this block)."""
        need = arr == 0
        if not need.any():
            return arr
        icode = ivalue = ims = np.zeros(0, np.int64)
        if ident and len(ident["t"]):
            has = ident[key] != 0
            icode, ivalue, ims = ident["object_id"][has], ident[key][has], ident["t"][has] // 1_000_000
        idx = _fill_nearest(arr, np.flatnonzero(need), pcode, pms, (icode, ims, ivalue), "backward")
        if self.last[key] and len(idx):
            keys, values = self._known(key)
            at = np.minimum(np.searchsorted(keys, pcode[idx]), len(keys) - 1)
            got = keys[at] == pcode[idx]
            arr[idx[got]] = values[at[got]]
            idx = idx[~got]
        if len(idx):
            _fill_nearest(arr, idx, pcode, pms, (icode, ims, ivalue), "forward")
        return arr
