"""The compiled SBS-1 scanner behind :mod:`flightpaths.ingest.sbs` (numba; imported lazily).

:func:`scan_block` walks the bytes of a block once and fills typed per-line arrays (message
kind, ICAO code, generated time in ns, the six numeric fields, on-ground flag, callsign and
squawk byte ranges), with the same values as the pyarrow fast path
(:func:`flightpaths.ingest.sbs._parse_block_fast`, used when numba is not installed): exact
decimal parsing (Clinger's fast path), the same checks. On any line it does not take (a
rarer number or time form, a damaged line) it answers ``ok=False`` and the caller hands the
whole block to the robust path, which explains every bad line. The compiled code is cached
on disk (numba's cache, ``__pycache__``); the first use on a machine compiles it (seconds).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

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

__all__ = ["COMPILED", "POW10", "count_newlines", "gather", "nearest_index", "scan_block", "sort_groups_by_time", "split_rows",
           "take_rows"]

POW10: Final = np.array([10.0 ** k for k in range(23)])


@njit(cache=True, nogil=True, inline="always")
def _scan_float(buf: np.ndarray, a: int, b: int, pow10: np.ndarray) -> tuple[float, bool]:
    """Decimal text ``buf[a:b]`` -> (value, ok); empty -> NaN. Exact (Clinger's fast path) or not ok."""
    if a == b:
        return np.nan, True
    i = a
    neg = False
    if buf[i] == 45:
        neg = True
        i += 1
    elif buf[i] == 43:
        i += 1
    mant = 0
    digits = 0
    scale = 0
    dot = False
    any_digit = False
    while i < b:
        c = buf[i]
        if 48 <= c <= 57:
            any_digit = True
            if digits < 18:
                mant = mant * 10 + (c - 48)
                if mant:
                    digits += 1
                if dot:
                    scale -= 1
            else:
                return np.nan, False
            i += 1
        elif c == 46 and not dot:
            dot = True
            i += 1
        else:
            break
    if not any_digit:
        return np.nan, False
    if i < b:
        if buf[i] != 101 and buf[i] != 69:
            return np.nan, False
        i += 1
        eneg = False
        if i < b and (buf[i] == 45 or buf[i] == 43):
            eneg = buf[i] == 45
            i += 1
        if i == b:
            return np.nan, False
        e = 0
        while i < b:
            c = buf[i]
            if not 48 <= c <= 57 or e > 1000:
                return np.nan, False
            e = e * 10 + (c - 48)
            i += 1
        scale += -e if eneg else e
    if mant >= 9007199254740992 or scale < -22 or scale > 22:
        return np.nan, False
    v = float(mant)
    if scale < 0:
        v = v / pow10[-scale]
    elif scale > 0:
        v = v * pow10[scale]
    return (-v if neg else v), True


@njit(cache=True, nogil=True)
def scan_block(buf: np.ndarray, pow10: np.ndarray) -> tuple:
    """Parse the newline-terminated SBS lines of *buf* (it must end with a newline).

    Returns ``(ok, n, ignored, rows, kind, code, t, num, ground, text)`` for the MSG,1/2/3/4/6 lines
    only (``rows``: their 0-based line index; MSG,5/7/8 lines are only counted in ``ignored``).
    ``num`` rows: altitude, speed, track, lat, lon, vertical rate (NaN when empty); ``ground``:
    NaN/0/1; ``text``: callsign start/end and squawk start/end byte offsets.

    >>> line = b"MSG,3,1,1,4CA2D6,1,2024/05/01,12:00:00.5,2024/05/01,12:00:00.5,,3000,,,51.5,-0.1,,,0,0,0,-1\\r\\n"
    >>> ok, n, ignored, rows, kind, code, t, num, ground, text = scan_block(np.frombuffer(line, np.uint8), POW10)
    >>> ok, n, hex(code[0]), str(np.datetime64(int(t[0]), "ns")), num[:, 0].tolist(), ground.tolist()
    (True, 1, '0x4ca2d6', '2024-05-01T12:00:00.500000000', [3000.0, nan, nan, 51.5, -0.1, nan], [1.0])
    >>> bool(scan_block(np.frombuffer(line.replace(b"51.5", b"5x"), np.uint8), POW10)[0])
    False
    """
    size = len(buf)
    # a line that is kept has 21 commas and a date and time: at least 26 bytes. The arrays are
    # sized for that many rows but not written beforehand, so only the rows used cost memory.
    cap = size // 26 + 2
    rows = np.empty(cap, np.int64)
    kind = np.empty(cap, np.int8)
    code = np.empty(cap, np.int64)
    t = np.empty(cap, np.int64)
    num = np.empty((6, cap))
    ground = np.empty(cap)
    text = np.empty((4, cap), np.int64)  # callsign start/end, squawk start/end
    starts = np.zeros(22, np.int64)
    ends = np.zeros(22, np.int64)
    pos = 0
    row = 0
    ignored = 0
    last_date = -1
    last_days = 0
    n = 0  # lines seen
    while pos < size:
        ls = pos
        line = n
        n += 1
        # MSG,5/7/8 lines are only counted: skip to their end without splitting them
        if (ls + 6 <= size and buf[ls] == 77 and buf[ls + 1] == 83 and buf[ls + 2] == 71 and buf[ls + 3] == 44
                and buf[ls + 5] == 44 and (buf[ls + 4] == 53 or buf[ls + 4] == 55 or buf[ls + 4] == 56)):
            i = ls + 6
            while buf[i] != 10:
                i += 1
            if i - ls < 7:
                return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
            pos = i + 1
            ignored += 1
            continue
        # one pass over the line: field bounds (the 22nd field ends before an optional CR)
        f = 0
        starts[0] = ls
        cr = 0
        i = ls
        while True:
            c = buf[i]
            if c > 44:  # most bytes: digits, letters, '.', '-', '/', ':'
                i += 1
                continue
            if c == 10:
                break
            if c == 44:
                if f < 21:
                    ends[f] = i
                    starts[f + 1] = i + 1
                f += 1
            elif c == 13:
                cr += 1
            i += 1
        le = i
        pos = le + 1
        if le - ls < 7:
                return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
        if not (buf[ls] == 77 and buf[ls + 1] == 83 and buf[ls + 2] == 71 and buf[ls + 3] == 44 and buf[ls + 5] == 44):
                return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
        k = buf[ls + 4] - 48
        if k < 1 or k > 8:
                return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
        if k == 5 or k == 7 or k == 8:
            ignored += 1
            continue
        kind[row] = k
        rows[row] = line
        end = le
        if cr and buf[end - 1] == 13:
            end -= 1
            cr -= 1
        if cr or f != 21:
                return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
        ends[21] = end
        # hex address: exactly six hex digits
        a = starts[4]
        if ends[4] - a != 6:
            return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
        h = 0
        for i in range(a, a + 6):
            c = buf[i]
            if 48 <= c <= 57:
                d = c - 48
            elif 97 <= c <= 102:
                d = c - 87
            elif 65 <= c <= 70:
                d = c - 55
            else:
                return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
            h = h * 16 + d
        code[row] = h
        # generated date YYYY/MM/DD (the day number is reused while the date text repeats)
        a = starts[6]
        same = ends[6] - a == 10 and last_date >= 0
        if same:
            for i in range(10):
                if buf[a + i] != buf[last_date + i]:
                    same = False
                    break
        if not same:
            if ends[6] - a != 10 or buf[a + 4] != 47 or buf[a + 7] != 47:
                return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
            for i in (0, 1, 2, 3, 5, 6, 8, 9):
                c = buf[a + i]
                if not 48 <= c <= 57:
                    return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
            y = (buf[a] - 48) * 1000 + (buf[a + 1] - 48) * 100 + (buf[a + 2] - 48) * 10 + (buf[a + 3] - 48)
            m = (buf[a + 5] - 48) * 10 + (buf[a + 6] - 48)
            d = (buf[a + 8] - 48) * 10 + (buf[a + 9] - 48)
            if m < 1 or m > 12 or d < 1:
                return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
            mdays = 31
            if m == 4 or m == 6 or m == 9 or m == 11:
                mdays = 30
            elif m == 2:
                mdays = 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
            if d > mdays:
                return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
            # days from civil (H. Hinnant)
            yy = y - 1 if m <= 2 else y
            era = yy // 400
            yoe = yy - era * 400
            mp = m - 3 if m > 2 else m + 9
            doy = (153 * mp + 2) // 5 + d - 1
            doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
            days = era * 146097 + doe - 719468
            last_date = a
            last_days = days
        days = last_days
        # generated time HH:MM:SS[.f{1,9}]
        a = starts[7]
        w = ends[7] - a
        if w < 8 or w == 9 or w > 18 or buf[a + 2] != 58 or buf[a + 5] != 58:
            return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
        for i in (0, 1, 3, 4, 6, 7):
            c = buf[a + i]
            if not 48 <= c <= 57:
                return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
        hh = (buf[a] - 48) * 10 + (buf[a + 1] - 48)
        mm = (buf[a + 3] - 48) * 10 + (buf[a + 4] - 48)
        ss = (buf[a + 6] - 48) * 10 + (buf[a + 7] - 48)
        if hh > 23 or mm > 59 or ss > 59:
            return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
        frac = 0
        if w > 8:
            if buf[a + 8] != 46:
                return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
            for i in range(a + 9, a + w):
                c = buf[i]
                if not 48 <= c <= 57:
                    return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
                frac = frac * 10 + (c - 48)
            for i in range(w - 9, 9):
                frac *= 10
        t[row] = ((days * 86400 + hh * 3600 + mm * 60 + ss) * 1_000_000_000) + frac
        for j in range(6):
            v, ok = _scan_float(buf, starts[11 + j], ends[11 + j], pow10)
            if not ok:
                return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
            num[j, row] = v
        # on-ground flag: empty, or an integer that fits int8
        ground[row] = np.nan
        a = starts[21]
        b = ends[21]
        if a < b:
            neg = buf[a] == 45
            if neg or buf[a] == 43:
                a += 1
            if a == b or b - a > 3:
                return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
            g = 0
            for i in range(a, b):
                c = buf[i]
                if not 48 <= c <= 57:
                    return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
                g = g * 10 + (c - 48)
            if g > (128 if neg else 127):
                return False, 0, 0, rows[:0], kind[:0], code[:0], t[:0], num[:, :0], ground[:0], text[:, :0]
            ground[row] = 1.0 if g != 0 else 0.0
        text[0, row] = starts[10]
        text[1, row] = ends[10]
        text[2, row] = starts[17]
        text[3, row] = ends[17]
        row += 1
    return (pos == size and n > 0, n, ignored, rows[:row], kind[:row], code[:row], t[:row], num[:, :row], ground[:row],
            text[:, :row])


@njit(cache=True, nogil=True)
def count_newlines(buf: np.ndarray) -> int:
    """How many newline bytes *buf* holds."""
    n = 0
    for i in range(len(buf)):
        n += buf[i] == 10
    return n


@njit(cache=True, nogil=True)
def gather(buf: np.ndarray, s: np.ndarray, e: np.ndarray) -> tuple:
    """The bytes ``buf[s[i]:e[i]]`` one after another, with Arrow-style int32 offsets."""
    offsets = np.zeros(len(s) + 1, np.int32)
    for i in range(len(s)):
        offsets[i + 1] = offsets[i] + (e[i] - s[i])
    data = np.empty(offsets[-1], np.uint8)
    for i in range(len(s)):
        data[offsets[i]:offsets[i + 1]] = buf[s[i]:e[i]]
    return data, offsets


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
def _group_rows(rcode: np.ndarray, rt: np.ndarray) -> tuple:
    """Rows sorted by code, then time, stably (an LSD radix sort on the code's two 13-bit
    halves, then :func:`sort_groups_by_time`); the group bounds and each group's code."""
    n = len(rcode)
    idx = np.arange(n)
    tmp = np.empty(n, np.int64)
    for shift in (0, 13):
        count = np.zeros(8193, np.int64)
        for i in range(n):
            count[((rcode[idx[i]] >> shift) & 8191) + 1] += 1
        for k in range(8192):
            count[k + 1] += count[k]
        for i in range(n):
            key = (rcode[idx[i]] >> shift) & 8191
            tmp[count[key]] = idx[i]
            count[key] += 1
        idx, tmp = tmp, idx
    for i in range(n):  # codes above 26 bits (never from a scanner): a final stable pass on the rest
        if rcode[i] >> 26:
            idx = idx[np.argsort(rcode[idx] >> 26, kind="mergesort")]
            break
    starts = [0]
    for i in range(1, n):
        if rcode[idx[i]] != rcode[idx[i - 1]]:
            starts.append(i)
    starts.append(n)
    bounds = np.array(starts, np.int64)
    ngroups = len(bounds) - 1
    codes = np.empty(ngroups, np.int64)
    for g in range(ngroups):
        codes[g] = rcode[idx[bounds[g]]]
    sort_groups_by_time(idx, bounds, rt)
    return idx, bounds, codes


@njit(cache=True, nogil=True)
def _code_table(codes: np.ndarray) -> np.ndarray:
    """An open-addressing hash table code -> position in *codes* (-1 = empty slot)."""
    size = 16
    while size < 2 * len(codes):
        size *= 2
    table = np.full(size, -1, np.int64)
    for g in range(len(codes)):
        h = (codes[g] * 0x9E3779B1) & (size - 1)
        while table[h] >= 0:
            h = (h + 1) & (size - 1)
        table[h] = g
    return table


@njit(cache=True, nogil=True)
def nearest_index(pcode: np.ndarray, pt: np.ndarray, rcode: np.ndarray, rt: np.ndarray, tol: int, direction: int) -> np.ndarray:
    """For each position, the index of the reference row of the same code nearest in time
    within *tol* (-1 if none): *direction* 0 nearest (an earlier one wins a tie), 1 backward
    (at or before; one at the same time wins), 2 forward (at or after). The same answers as
    ``sbs._nearest``'s sort-and-search: both sides are grouped by code and sorted by time
    (radix sort; stable), then each group of positions walks its group of references once."""
    m = len(pcode)
    best = np.full(m, -1, np.int64)
    if len(rcode) == 0 or m == 0:
        return best
    idx, bounds, codes = _group_rows(rcode, rt)
    table = _code_table(codes)
    pidx, pbounds, pcodes = _group_rows(pcode, pt)
    size = len(table)
    for pg in range(len(pbounds) - 1):
        c = pcodes[pg]
        h = (c * 0x9E3779B1) & (size - 1)
        g = -1
        while table[h] >= 0:
            if codes[table[h]] == c:
                g = table[h]
                break
            h = (h + 1) & (size - 1)
        if g < 0:
            continue
        s, e = bounds[g], bounds[g + 1]
        right = s  # first reference with time >= t; positions come in time order
        for q in range(pbounds[pg], pbounds[pg + 1]):
            i = pidx[q]
            t = pt[i]
            while right < e and rt[idx[right]] < t:
                right += 1
            pick = -1
            pick_dt = tol + 1
            if direction != 2 and right - 1 >= s:
                dt = t - rt[idx[right - 1]]  # > 0
                if dt <= tol:
                    pick, pick_dt = idx[right - 1], dt
            if right < e:
                dt = rt[idx[right]] - t  # >= 0
                if (direction != 1 or dt == 0) and dt <= tol and dt < pick_dt:
                    pick = idx[right]
            best[i] = pick
    return best


@njit(cache=True, nogil=True)
def split_rows(kind: np.ndarray, code: np.ndarray, num: np.ndarray, text: np.ndarray) -> tuple:
    """Sort scanned rows into positions (MSG,2/3 with an address and coordinates), velocities
    (MSG,2/4 with an address and a value) and identities (an address and a callsign or
    squawk): the indices of each, plus those of rows without an address and of positions
    without coordinates (to be reported), in one pass."""
    n = len(kind)
    pos = np.empty(n, np.int64)
    vel = np.empty(n, np.int64)
    ident = np.empty(n, np.int64)
    zero = np.empty(n, np.int64)
    nopos = np.empty(n, np.int64)
    npos = nvel = nident = nzero = nnopos = 0
    other = 0  # rows that are neither position nor velocity (callsign/squawk messages)
    vel_only = 0  # MSG,4 rows
    for i in range(n):
        k = kind[i]
        if code[i] == 0:
            zero[nzero] = i
            nzero += 1
            continue
        is_pos = k == 3 or k == 2
        is_vel = k == 4 or k == 2
        if is_pos:
            if num[3, i] != num[3, i] or num[4, i] != num[4, i]:
                nopos[nnopos] = i
                nnopos += 1
            else:
                pos[npos] = i
                npos += 1
        if is_vel and not (num[1, i] != num[1, i] and num[2, i] != num[2, i] and num[5, i] != num[5, i]):
            vel[nvel] = i
            nvel += 1
        if not is_pos and not is_vel:
            other += 1
        elif not is_pos:
            vel_only += 1
        if text[1, i] > text[0, i] or text[3, i] > text[2, i]:
            ident[nident] = i
            nident += 1
    return pos[:npos], vel[:nvel], ident[:nident], zero[:nzero], nopos[:nnopos], other, vel_only


@njit(cache=True, nogil=True)
def take_rows(idx: np.ndarray, code: np.ndarray, t: np.ndarray, num: np.ndarray, ground: np.ndarray, rows: np.ndarray) -> tuple:
    """The columns of rows *idx*: code, time, the six numbers (a 6 x len(idx) array), the
    on-ground flag and the row number, in one pass."""
    m = len(idx)
    c = np.empty(m, np.int64)
    tt = np.empty(m, np.int64)
    nn = np.empty((6, m))
    g = np.empty(m)
    r = np.empty(m, np.int64)
    for j in range(m):
        i = idx[j]
        c[j] = code[i]
        tt[j] = t[i]
        for k in range(6):
            nn[k, j] = num[k, i]
        g[j] = ground[i]
        r[j] = rows[i]
    return c, tt, nn, g, r
