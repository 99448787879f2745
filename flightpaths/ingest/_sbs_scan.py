"""The compiled SBS-1 scanner behind :mod:`flightpaths.ingest.sbs` (numba; imported lazily).

:func:`scan_split` walks the bytes of a block once and writes the rows the reader needs
straight into typed arrays of positions, velocities and identities (ICAO code, generated
time in ns, the numeric fields, on-ground flag, callsign and squawk byte ranges, line
numbers), with the same values as the pyarrow fast path
(:func:`flightpaths.ingest._sbs_arrow.parse_block_fast`, used when numba is not installed): exact
decimal parsing (Clinger's fast path), the same checks. Fields are found eight bytes at a
time (SWAR), numbers of up to 8 bytes are read from one word (:func:`_number_field`), hex
digits go through a table, and the logged date and time, which most feeders
copy from the generated ones, are compared as words instead of being split, so the common
line costs few mispredicted branches. On any line it does not take (a rarer number or time
form, a damaged line) it answers ``ok=False`` and the caller hands the whole block to the
robust path, which explains every bad line. The merge helpers (:func:`merge_rows`,
:func:`nearest_index`, :func:`intern_ranges`, :func:`factorize_codes`) number aircraft
through small hash tables, and join rows in time order by sweeping, not sorting. The
compiled code is cached on disk (numba's cache, ``__pycache__``); the first use on a
machine compiles it (seconds).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from ..kernels import COMPILED, group_rows, njit
from .values import HEX_VALUE, NS_FIRST_YEAR, NS_LAST_YEAR

__all__ = ["COMPILED", "POW10", "count_newlines", "factorize_codes", "gather", "hex_words", "intern_ranges", "last_values", "lone_crs_in_place",
           "merge_rows", "nearest_index", "scan_into", "scan_space", "scan_space_rows", "scan_split", "take_words"]

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


@njit(cache=True, nogil=True, inline="always")
def _plain_float(buf: np.ndarray, a: int, b: int, pow10: np.ndarray) -> tuple[float, bool]:
    """:func:`_scan_float` for the usual ``[-]digits[.digits]`` without a branch per digit
    (the dot's place varies from line to line); anything else is left to :func:`_scan_float`."""
    if a == b:
        return np.nan, True
    i = a
    neg = buf[i] == 45
    if neg or buf[i] == 43:
        i += 1
    mant = 0
    dots = 0
    dot_at = b - 1
    bad = 0
    for q in range(i, b):
        c = buf[q]
        d = c - 48
        is_dot = c == 46
        dots += is_dot
        dot_at = q if is_dot else dot_at
        mant = mant if is_dot else mant * 10 + d
        bad |= (d < 0 or d > 9) and not is_dot
    digits = b - i - dots
    if bad or dots > 1 or digits == 0 or digits > 18 or mant >= 9007199254740992:
        return _scan_float(buf, a, b, pow10)
    scale = b - 1 - dot_at  # digits after the dot
    if scale > 22:
        return _scan_float(buf, a, b, pow10)
    v = float(mant)
    if scale > 0:
        v = v / pow10[scale]
    return (-v if neg else v), True


if COMPILED:
    from llvmlite import ir
    from numba import types
    from numba.cpython.unsafe.numbers import trailing_zeros
    from numba.extending import intrinsic

    @intrinsic
    def _load8(typingctx: Any, arr: Any, idx: Any) -> Any:
        """The 8 bytes ``arr[idx:idx + 8]`` as one little-endian uint64 (an unaligned load;
        the caller keeps ``idx + 8 <= len(arr)``)."""
        if not (isinstance(arr, types.Array) and arr.dtype == types.uint8 and arr.ndim == 1 and arr.layout == "C"):
            return None

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            data = context.make_array(signature.args[0])(context, builder, args[0]).data
            ptr = builder.bitcast(builder.gep(data, [args[1]]), ir.IntType(64).as_pointer())
            return builder.load(ptr, align=1)

        return types.uint64(arr, types.intp), codegen

    @intrinsic
    def _store8(typingctx: Any, arr: Any, idx: Any, value: Any) -> Any:
        """Write *value* (uint64) as the 8 little-endian bytes ``arr[idx:idx + 8]`` (an unaligned
        store; the caller keeps ``idx + 8 <= len(arr)``)."""
        if not (isinstance(arr, types.Array) and arr.dtype == types.uint8 and arr.ndim == 1 and arr.layout == "C"):
            return None

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            data = context.make_array(signature.args[0])(context, builder, args[0]).data
            ptr = builder.bitcast(builder.gep(data, [args[1]]), ir.IntType(64).as_pointer())
            builder.store(args[2], ptr, align=1)
            return context.get_dummy_value()

        return types.none(arr, types.intp, types.uint64), codegen
else:  # pragma: no cover - the plain-Python stand-ins

    def _load8(arr: np.ndarray, idx: int) -> int:
        return int.from_bytes(bytes(np.asarray(arr[idx:idx + 8], np.uint8)), "little")

    def _store8(arr: np.ndarray, idx: int, value: int) -> None:
        arr[idx:idx + 8] = np.frombuffer(int(value).to_bytes(8, "little"), np.uint8)

    def trailing_zeros(x: int) -> int:
        return (x & -x).bit_length() - 1

_LOW45: Final = np.uint64(0x2D2D2D2D2D2D2D2D)
_HIGH: Final = np.uint64(0x8080808080808080)
_ONES: Final = np.uint64(0x0101010101010101)
_NEWLINES: Final = np.uint64(0x0A0A0A0A0A0A0A0A)
_ASCII0: Final = np.uint64(0x3030303030303030)
_LT10: Final = np.uint64(0x7676767676767676)  # added to a byte 0..9 it stays below 128
_ALL: Final = np.uint64(0xFFFFFFFFFFFFFFFF)
_U8: Final = np.uint64(8)
_U16: Final = np.uint64(16)
_U32: Final = np.uint64(32)
_PAIRS: Final = np.uint64(0x00FF00FF00FF00FF)
_QUADS: Final = np.uint64(0x0000FFFF0000FFFF)
_M10: Final = np.uint64(10 * 256 + 1)
_M100: Final = np.uint64(100 * 65536 + 1)
_M10000: Final = np.uint64(10000 * 2**32 + 1)
_COLON_BYTES: Final = np.uint64(0x0000FF0000FF0000)
_COLONS_AT: Final = np.uint64(0x00000A00000A0000)  # ':' ^ '0' in bytes 2 and 5
_CLOCK_DIGITS: Final = np.uint64(0xFFFF00FFFF00FFFF)
_TEN: Final = np.uint64(10)
_BYTE: Final = np.uint64(0xFF)
_U24: Final = np.uint64(24)
_U48: Final = np.uint64(48)
_NS_SCALE: Final = np.array([10 ** (9 - k) for k in range(10)], np.int64)  # k fraction digits -> ns


@njit(cache=True, nogil=True, inline="always")
def _skip_field(buf: np.ndarray, i: int) -> int:
    """Index of the byte that ends the field starting at *i*: a comma, CR or LF.

    Eight bytes at a time: the first byte below 45 (',' is 44, CR 13, LF 10) in a word is
    found without a branch per byte (SWAR), so short fields of varying width cost no
    mispredicted loop exits; other bytes below 45 (a space, '+') are stepped over."""
    size = len(buf)
    while i + 8 <= size:
        x = _load8(buf, i)
        m = (x - _LOW45) & ~x & _HIGH  # the lowest flagged byte is the first one below 45
        if m == 0:
            i += 8
            continue
        i += int(trailing_zeros(m)) >> 3
        c = buf[i]
        if c == 44 or c == 10 or c == 13:
            return i
        i += 1
    while True:
        c = buf[i]
        if c > 44 or (c != 44 and c != 10 and c != 13):
            i += 1
        else:
            return i


_LOW7: Final = np.uint64(0x7F7F7F7F7F7F7F7F)
_COMMAS: Final = np.uint64(0x2C2C2C2C2C2C2C2C)
_CRS: Final = np.uint64(0x0D0D0D0D0D0D0D0D)
_ONE: Final = np.uint64(1)


@njit(cache=True, nogil=True, inline="always")
def _bytes_equal(x: np.uint64, pattern: np.uint64) -> np.uint64:
    """The high bit of each byte of *x* equal to the byte of *pattern* (exact, SWAR)."""
    y = x ^ pattern
    return ~(((y & _LOW7) + _LOW7) | y) & _HIGH


@njit(cache=True, nogil=True, inline="always")
def _skip_fields(buf: np.ndarray, i: int, k: int) -> int:
    """Index of the comma that ends the *k* fields starting at *i*, or -1 when one of them
    ends the line instead. When the *k* ends lie in the 8 bytes at *i* (short fields: ids,
    flags) they are found in that one word."""
    if i + 8 <= len(buf):
        x = _load8(buf, i)
        commas = _bytes_equal(x, _COMMAS)
        ends = commas | _bytes_equal(x, _NEWLINES) | _bytes_equal(x, _CRS)
        e = ends
        for _ in range(k - 1):
            e &= e - _ONE
        if e != 0:
            kth = e & (~e + _ONE)  # the k-th end
            upto = (kth << _ONE) - _ONE
            if ends & upto != commas & upto:
                return -1  # a line end among them
            return i + (np.int64(trailing_zeros(kth)) >> 3)
    for _ in range(k):
        i = _skip_field(buf, i)
        if buf[i] != 44:
            return -1
        i += 1
    return i - 1


@njit(cache=True, nogil=True, inline="always")
def _low_bytes(width: int) -> np.uint64:
    """A mask of the low *width* (1 to 8) bytes of a word."""
    return _ALL >> np.uint64(8 * (8 - width))


@njit(cache=True, nogil=True, inline="always")
def _not_digits(t: np.uint64, mask: np.uint64) -> np.uint64:
    """The high bit of each byte of *t* (a word XOR ``'0'`` in every byte) in *mask* that was
    not a digit, i.e. is not 0-9 now (SWAR; a byte >= 0x80 counts as not a digit)."""
    return ((t + _LT10) | t) & _HIGH & mask


@njit(cache=True, nogil=True, inline="always")
def _short_word(buf: np.ndarray, a: int, b: int) -> int:
    """The bytes ``buf[a:b]`` of a text of 1 to 8 bytes as one int64 (little-endian, zero
    above them): equal words, equal texts of that length. 0 for other lengths."""
    width = b - a
    if width < 1 or width > 8:
        return 0
    if a + 8 <= len(buf):
        return np.int64(_load8(buf, a) & _low_bytes(width))
    word = 0
    for q in range(width):
        word |= np.int64(buf[a + q]) << (8 * q)
    return word


@njit(cache=True, nogil=True, inline="always")
def _digits_int(t: np.uint64, width: int) -> int:
    """The integer whose *width* (1 to 8) digit values (0-9, most significant first) fill the
    low bytes of *t*: three multiplications (SWAR)."""
    v = t << np.uint64(8 * (8 - width))  # right-aligned: leading zero digits
    v = (v * _M10) >> _U8
    v = ((v & _PAIRS) * _M100) >> _U16
    return np.int64(((v & _QUADS) * _M10000) >> _U32)


@njit(cache=True, nogil=True, inline="always")
def _digits_value(t: np.uint64, width: int, scale: int, neg: bool, pow10: np.ndarray) -> float:
    """:func:`_digits_int` over 10 ** *scale* (one exact division), negated when *neg*."""
    f = float(_digits_int(t, width))
    if scale > 0:
        f = f / pow10[scale]
    return -f if neg else f


@njit(cache=True, nogil=True, inline="always")
def _number_field(buf: np.ndarray, a: int, pow10: np.ndarray) -> tuple[float, bool, int]:
    """The numeric field starting at *a*: ``(value, ok, end)`` as :func:`_skip_field` and
    :func:`_plain_float` give them (NaN for an empty field). A field of at most 8 bytes
    (sign, digits, one dot) is found and read from one word: its comma, its digits and its
    dot without a branch per byte (SWAR); anything else takes the general path."""
    if a + 9 <= len(buf):
        x = _load8(buf, a)
        m = (x - _LOW45) & ~x & _HIGH  # the first byte below 45 (',' is 44)
        w = 8
        if m != 0:
            w = np.int64(trailing_zeros(m)) >> 3
        if buf[a + w] == 44:
            if w == 0:
                return np.nan, True, a
            sign = 1 if buf[a] == 45 else 0
            width = w - sign
            if width >= 1:
                keep = _low_bytes(width)
                t = ((x >> np.uint64(8 * sign)) ^ _ASCII0) & keep
                odd = _not_digits(t, keep)
                if odd == 0:
                    return _digits_value(t, width, 0, sign == 1, pow10), True, a + w
                at = np.int64(trailing_zeros(odd)) >> 3
                if odd & (odd - np.uint64(1)) == 0 and buf[a + sign + at] == 46 and width > 1:
                    below = (np.uint64(1) << np.uint64(8 * at)) - np.uint64(1)
                    t = (t & below) | ((t >> _U8) & ~below)  # the dot taken out
                    return _digits_value(t, width - 1, width - 1 - at, sign == 1, pow10), True, a + w
    e = _skip_field(buf, a)
    if buf[e] != 44:
        return np.nan, True, e
    v, good = _plain_float(buf, a, e, pow10)
    return v, good, e


@njit(cache=True, nogil=True)
def scan_split(buf: np.ndarray, pow10: np.ndarray) -> tuple:
    """Parse the newline-terminated SBS lines of *buf* (it must end with a newline) straight
    into positions, velocities and identities, walking each line's bytes once.

    Returns ``(ok, n, ignored, other, vel_only, zero, nopos, pos, vel, ident)``: *n* lines
    seen, *ignored* MSG,5/7/8 lines (only counted), *other* MSG,1/6 lines, *vel_only* MSG,4
    lines; *zero* and *nopos* the 0-based line numbers of rows with address 000000 and of
    position messages without coordinates. ``pos = (code, t, line, ident_row, num)`` for
    MSG,2/3 rows with coordinates (``num`` rows: altitude, speed, track, lat, lon, vertical
    rate, on-ground as NaN/0/1; ``ident_row``: the row's index in *ident*, or -1);
    ``vel = (code, t, num)`` for MSG,2/4 rows with a speed, track or rate (``num`` rows:
    speed, track, vertical rate); ``ident = (code, t, text, word)`` for rows with a callsign or
    squawk (``text`` rows: callsign start/end, squawk start/end byte offsets; ``word`` rows:
    callsign and squawk of up to 8 bytes as :func:`_short_word`). Every row
    has a non-zero address. ``ok`` is False (and the rest empty) on any line it does not
    take: a rarer number or time form, a damaged line; the caller then hands the block to
    the robust path, which explains every bad line.

    >>> line = b"MSG,3,1,1,4CA2D6,1,2024/05/01,12:00:00.5,2024/05/01,12:00:00.5,,3000,,,51.5,-0.1,,,0,0,0,-1\\r\\n"
    >>> ok, n, ignored, other, vel_only, zero, nopos, pos, vel, ident = scan_split(np.frombuffer(line, np.uint8), POW10)
    >>> code, t, row, ident_row, num = pos
    >>> ok, n, hex(code[0]), str(np.datetime64(int(t[0]), "ns")), num[:, 0].tolist(), len(vel[0]), len(ident[0])
    (True, 1, '0x4ca2d6', '2024-05-01T12:00:00.500000000', [3000.0, nan, nan, 51.5, -0.1, nan, 1.0], 0, 0)
    >>> bool(scan_split(np.frombuffer(line.replace(b"51.5", b"5x"), np.uint8), POW10)[0])
    False
    """
    ints, floats = scan_space(len(buf))
    return scan_into(buf, pow10, ints, floats)


@njit(cache=True, nogil=True)
def scan_space_rows(size: int) -> int:
    """Rows of output space :func:`scan_into` needs for a block of *size* bytes: a line that is
    kept has 21 commas and a date and time, at least 26 bytes."""
    return size // 26 + 2


@njit(cache=True, nogil=True)
def scan_space(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Fresh output space for :func:`scan_into` for a block of *size* bytes: ``(ints, floats)``
    of ``(16, rows)`` int64 and ``(10, rows)`` float64 (see :func:`scan_space_rows`), not
    written beforehand, so only the rows used cost memory."""
    rows = scan_space_rows(size)
    return np.empty((16, rows), np.int64), np.empty((10, rows))


@njit(cache=True, nogil=True)
def scan_into(buf: np.ndarray, pow10: np.ndarray, ints: np.ndarray, floats: np.ndarray) -> tuple:
    """:func:`scan_split` writing its rows into given space (:func:`scan_space`; its rows
    at least :func:`scan_space_rows` of ``len(buf)``): the arrays returned are views of it,
    valid until it is written again. Reusing one space from block to block spares the page
    faults of fresh memory (on first touch, about a third of a scan's time)."""
    size = len(buf)
    if ints.shape[0] < 16 or floats.shape[0] < 10 or min(ints.shape[1], floats.shape[1]) < scan_space_rows(size):
        raise ValueError("scan_into: output space too small for the block")
    p_code, p_t, p_line, p_ident = ints[0], ints[1], ints[2], ints[3]
    v_code, v_t, i_code, i_t = ints[4], ints[5], ints[6], ints[7]
    i_text, i_word = ints[8:12], ints[12:14]
    zero, nopos = ints[14], ints[15]
    p_num, v_num = floats[:7], floats[7:10]
    vals = np.empty(6)
    npos = nvel = nident = nzero = nnopos = 0
    other = 0
    vel_only = 0
    ignored = 0
    last_date = -1
    last_days = 0
    pos = 0
    n = 0
    ok = True
    while pos < size:
        ls = pos
        line = n
        n += 1
        if ls + 6 >= size or not (buf[ls] == 77 and buf[ls + 1] == 83 and buf[ls + 2] == 71 and buf[ls + 3] == 44
                                  and buf[ls + 5] == 44):
            ok = False
            break
        k = buf[ls + 4] - 48
        if k < 1 or k > 8:
            ok = False
            break
        if k == 5 or k == 7 or k == 8:  # only counted: skip to the line's end without splitting it
            i = ls + 6
            while i + 8 <= size:  # eight bytes at a time (SWAR) to the newline
                x = _load8(buf, i) ^ _NEWLINES
                m = (x - _ONES) & ~x & _HIGH
                if m != 0:
                    i += int(trailing_zeros(m)) >> 3
                    break
                i += 8
            while buf[i] != 10:
                i += 1
            pos = i + 1
            ignored += 1
            continue
        # fields 2, 3 (session and aircraft ids): not read
        i = _skip_fields(buf, ls + 6, 2)
        if i < 0:
            ok = False
            break
        # field 4: hex address, exactly six hex digits
        a = i + 1
        h = 0
        bad = 0
        for q in range(6):  # a table look-up per digit: no branch on digit or letter
            d = HEX_VALUE[buf[a + q]]
            bad |= d
            h = h * 16 + d
        if bad < 0 or buf[a + 6] != 44:
            ok = False
            break
        # field 5 (flight id): not read
        i = _skip_fields(buf, a + 7, 1)
        if i < 0:
            ok = False
            break
        # field 6: generated date YYYY/MM/DD (the day number is reused while the date text repeats)
        a = i + 1
        if (last_date >= 0 and a + 11 <= size and _load8(buf, a) == _load8(buf, last_date)
                and buf[a + 8] == buf[last_date + 8] and buf[a + 9] == buf[last_date + 9] and buf[a + 10] == 44):
            e = a + 10  # the date of the line before (no separator inside)
        else:
            e = _skip_field(buf, a)
            if buf[e] != 44 or e - a != 10:
                ok = False
                break
            if buf[a + 4] != 47 or buf[a + 7] != 47:
                ok = False
                break
            for q in (0, 1, 2, 3, 5, 6, 8, 9):
                c = buf[a + q]
                if not 48 <= c <= 57:
                    ok = False
            if not ok:
                break
            y = (buf[a] - 48) * 1000 + (buf[a + 1] - 48) * 100 + (buf[a + 2] - 48) * 10 + (buf[a + 3] - 48)
            m = (buf[a + 5] - 48) * 10 + (buf[a + 6] - 48)
            d = (buf[a + 8] - 48) * 10 + (buf[a + 9] - 48)
            mdays = 31
            if m == 4 or m == 6 or m == 9 or m == 11:
                mdays = 30
            elif m == 2:
                mdays = 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
            if m < 1 or m > 12 or d < 1 or d > mdays or y < NS_FIRST_YEAR or y > NS_LAST_YEAR:
                ok = False
                break
            # days from civil (H. Hinnant)
            yy = y - 1 if m <= 2 else y
            era = yy // 400
            yoe = yy - era * 400
            mp = m - 3 if m > 2 else m + 9
            doy = (153 * mp + 2) // 5 + d - 1
            doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
            last_days = era * 146097 + doe - 719468
            last_date = a
        date_a = a
        # field 7: generated time HH:MM:SS[.f{1,9}]
        a = e + 1
        e = _skip_field(buf, a)
        w = e - a
        if buf[e] != 44 or w < 8 or w == 9 or w > 18 or buf[a + 2] != 58 or buf[a + 5] != 58:
            ok = False
            break
        # HH:MM:SS from one word: digits and colons checked together, pairs combined (SWAR)
        t = _load8(buf, a) ^ _ASCII0
        if (t & _COLON_BYTES) != _COLONS_AT or _not_digits(t, _CLOCK_DIGITS):
            ok = False
            break
        pairs = t * _TEN + (t >> _U8)  # byte 0: hours, byte 3: minutes, byte 6: seconds
        hh = np.int64(pairs & _BYTE)
        mm = np.int64((pairs >> _U24) & _BYTE)
        ss = np.int64((pairs >> _U48) & _BYTE)
        if hh > 23 or mm > 59 or ss > 59:
            ok = False
            break
        frac = 0
        if 10 <= w <= 17 and a + 17 <= size and buf[a + 8] == 46:
            nd = w - 9  # 1 to 8 fraction digits, read as one word
            keep = _low_bytes(nd)
            f = (_load8(buf, a + 9) ^ _ASCII0) & keep
            if _not_digits(f, keep):
                ok = False
                break
            frac = _digits_int(f, nd) * _NS_SCALE[nd]
        elif w > 8:
            if buf[a + 8] != 46:
                ok = False
                break
            for q in range(a + 9, e):
                c = buf[q]
                if not 48 <= c <= 57:
                    ok = False
                frac = frac * 10 + (c - 48)
            if not ok:
                break
            for q in range(w - 9, 9):
                frac *= 10
        tt = ((last_days * 86400 + hh * 3600 + mm * 60 + ss) * 1_000_000_000) + frac
        # fields 8, 9 (logged date and time): not read; most feeders repeat the generated ones
        i = e + 1
        j = i + 11 + w
        if (w <= 16 and j + 8 <= size and _load8(buf, i) == _load8(buf, date_a)
                and buf[i + 8] == buf[date_a + 8] and buf[i + 9] == buf[date_a + 9] and buf[i + 10] == 44
                and _load8(buf, i + 11) == _load8(buf, a) and _load8(buf, j - 8) == _load8(buf, e - 8)
                and buf[j] == 44):
            i = j
        else:
            i = _skip_fields(buf, i, 2)
            if i < 0:
                ok = False
                break
        # field 10: callsign (byte range)
        cs_s = i + 1
        cs_e = _skip_fields(buf, cs_s, 1)
        if cs_e < 0:
            ok = False
            break
        # fields 11-16: altitude, speed, track, lat, lon, vertical rate
        a = cs_e + 1
        for j in range(6):
            v, good, e = _number_field(buf, a, pow10)
            if buf[e] != 44:
                ok = False
                break
            if not good:
                ok = False
                break
            vals[j] = v
            a = e + 1
        if not ok:
            break
        # field 17: squawk (byte range)
        sq_s = a
        sq_e = _skip_fields(buf, sq_s, 1)
        if sq_e < 0:
            ok = False
            break
        # fields 18-20 (alert, emergency, SPI): not read
        i = _skip_fields(buf, sq_e + 1, 3)
        if i < 0:
            ok = False
            break
        # field 21: on-ground flag, empty or an integer of -1, 0 or 1 (others: the robust path
        # names them); then CR LF or LF
        a = i + 1
        c = buf[a]
        if (c == 48 or c == 49) and buf[a + 1] == 10:  # the usual 0 or 1, then LF
            pos = a + 2
            ground = 1.0 if c == 49 else 0.0
        else:
            b = _skip_field(buf, a)
            if buf[b] == 13:
                if buf[b + 1] != 10:
                    ok = False
                    break
                pos = b + 2
            elif buf[b] == 10:
                pos = b + 1
            else:
                ok = False
                break
            ground = np.nan
            if a < b:
                neg = buf[a] == 45
                if neg or buf[a] == 43:
                    a += 1
                if a == b or b - a > 3:
                    ok = False
                    break
                g = 0
                for q in range(a, b):
                    c = buf[q]
                    if not 48 <= c <= 57:
                        ok = False
                    g = g * 10 + (c - 48)
                if not ok or g > 1:
                    ok = False
                    break
                ground = 1.0 if g != 0 else 0.0
        # sort the row: positions, velocities, identities
        if h == 0:
            zero[nzero] = line
            nzero += 1
            continue
        is_pos = k == 3 or k == 2
        is_vel = k == 4 or k == 2
        has_text = cs_e > cs_s or sq_e > sq_s
        if has_text:
            i_code[nident] = h
            i_t[nident] = tt
            i_text[0, nident] = cs_s
            i_text[1, nident] = cs_e
            i_text[2, nident] = sq_s
            i_text[3, nident] = sq_e
            i_word[0, nident] = _short_word(buf, cs_s, cs_e)  # read while the line is in cache
            i_word[1, nident] = _short_word(buf, sq_s, sq_e)
        if is_pos:
            if vals[3] != vals[3] or vals[4] != vals[4]:
                nopos[nnopos] = line
                nnopos += 1
            else:
                p_code[npos] = h
                p_t[npos] = tt
                p_line[npos] = line
                p_ident[npos] = nident if has_text else -1
                for j in range(6):
                    p_num[j, npos] = vals[j]
                p_num[6, npos] = ground
                npos += 1
        if is_vel and not (vals[1] != vals[1] and vals[2] != vals[2] and vals[5] != vals[5]):
            v_code[nvel] = h
            v_t[nvel] = tt
            v_num[0, nvel] = vals[1]
            v_num[1, nvel] = vals[2]
            v_num[2, nvel] = vals[5]
            nvel += 1
        if not is_pos and not is_vel:
            other += 1
        elif not is_pos:
            vel_only += 1
        if has_text:
            nident += 1
    if not ok or n == 0:
        npos = nvel = nident = nzero = nnopos = 0
    return (ok and n > 0, n, ignored, other, vel_only, zero[:nzero], nopos[:nnopos],
            (p_code[:npos], p_t[:npos], p_line[:npos], p_ident[:npos], p_num[:, :npos]),
            (v_code[:nvel], v_t[:nvel], v_num[:, :nvel]),
            (i_code[:nident], i_t[:nident], i_text[:, :nident], i_word[:, :nident]))


@njit(cache=True, nogil=True)
def lone_crs_in_place(buf: np.ndarray) -> int:
    """Turn each CR of *buf* not followed by LF into LF (not one in the last byte); how many."""
    n = 0
    for i in range(len(buf) - 1):
        if buf[i] == 13 and buf[i + 1] != 10:
            buf[i] = 10
            n += 1
    return n


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
def take_words(ids: np.ndarray, words: np.ndarray, lengths: np.ndarray) -> tuple:
    """A string column of short texts by id, in Arrow's large-string layout: text ``k`` is the
    first ``lengths[k]`` (0-8) bytes of ``words[k]`` (little-endian; -1: null). Returns
    ``(offsets, data, validity, nulls)``: int64 offsets, the bytes (8 spare at the end), the
    validity bitmap (LSB first). Each text is written as one 8-byte store.

    >>> words = np.array([0, int.from_bytes(b"BAW1", "little")], np.uint64)
    >>> off, data, valid, nulls = take_words(np.array([1, 0, 1], np.int32), words, np.array([-1, 4]))
    >>> off.tolist(), bytes(data[:off[-1]]), bin(valid[0]), nulls
    ([0, 4, 4, 8], b'BAW1BAW1', '0b101', 1)
    """
    n = len(ids)
    offsets = np.empty(n + 1, np.int64)
    data = np.empty(8 * n + 8, np.uint8)
    valid = np.zeros((n + 7) // 8, np.uint8)
    o = 0
    nulls = 0
    offsets[0] = 0
    for r in range(n):
        k = ids[r]
        w = lengths[k]
        if w < 0:
            nulls += 1
        else:
            valid[r >> 3] |= np.uint8(1) << np.uint8(r & 7)
            _store8(data, o, words[k])
            o += w
        offsets[r + 1] = o
    return offsets, data, valid, nulls


@njit(cache=True, nogil=True)
def hex_words(codes: np.ndarray, marked: int) -> tuple[np.ndarray, np.ndarray]:
    """ICAO codes as their six lowercase hex digits for :func:`take_words`: ``(words, lengths)``;
    a code with the bit *marked* set (an id that is not an ICAO address) gets a leading ``~``.

    >>> words, lengths = hex_words(np.array([0x4CA2D6, (1 << 24) | 1]), 1 << 24)
    >>> [int(w).to_bytes(8, "little")[:n] for w, n in zip(words, lengths)]
    [b'4ca2d6', b'~000001']
    """
    words = np.empty(len(codes), np.uint64)
    lengths = np.empty(len(codes), np.int64)
    for r in range(len(codes)):
        c = codes[r]
        lead = 1 if c & marked else 0
        word = np.uint64(126) if lead else np.uint64(0)
        for q in range(6):
            d = np.uint64((c >> (4 * (5 - q))) & 15)
            word |= (d + np.uint64(48 if d < 10 else 87)) << np.uint64(8 * (q + lead))
        words[r] = word
        lengths[r] = 6 + lead
    return words, lengths


_FMIX1: Final = np.uint64(0xFF51AFD7ED558CCD)
_FMIX2: Final = np.uint64(0xC4CEB9FE1A85EC53)
_U33: Final = np.uint64(33)


@njit(cache=True, nogil=True, inline="always")
def _fmix(x: np.uint64) -> int:
    """MurmurHash3's 64-bit finalizer: every bit of *x* moves every bit of the result (the
    table takes the low bits; texts differ in their high bytes)."""
    x = (x ^ (x >> _U33)) * _FMIX1
    x = (x ^ (x >> _U33)) * _FMIX2
    return np.int64(x ^ (x >> _U33))


@njit(cache=True, nogil=True)
def intern_ranges(buf: np.ndarray, s: np.ndarray, e: np.ndarray, words: np.ndarray) -> tuple:
    """Distinct byte strings ``buf[s[i]:e[i]]``: an id per row (0 for an empty one, else
    1, 2, ... in order of first appearance) and the start/end of each distinct string's
    first occurrence. Callsigns and squawks repeat across thousands of rows, so the text
    work that follows (UTF-8 checks, cleaning) runs once per distinct value. *words*: each
    string of up to 8 bytes as :func:`_short_word` (the scanner's, taken while the line was
    in cache), compared instead of its bytes."""
    n = len(s)
    ids = np.zeros(n, np.int32)
    size = 64
    table = np.full(size, -1, np.int64)  # slot -> distinct number
    hashes = np.empty(16, np.int64)
    rep = np.empty(16, np.int64)  # row of the first occurrence of each distinct string
    k = 0
    for i in range(n):
        a, b = s[i], e[i]
        if b <= a:
            continue
        short = b - a <= 8
        if short:
            h = _fmix(np.uint64(words[i] ^ (b - a)))
        else:
            h = 1469598103934665603
            for q in range(a, b):
                h = (h ^ buf[q]) * 1099511628211
        slot = h & (size - 1)
        found = -1
        while table[slot] >= 0:
            d = table[slot]
            if hashes[d] == h:
                r = rep[d]
                if e[r] - s[r] == b - a:
                    same = words[r] == words[i]
                    if not short:
                        for q in range(b - a):
                            if buf[s[r] + q] != buf[a + q]:
                                same = False
                                break
                    if same:
                        found = d
                        break
            slot = (slot + 1) & (size - 1)
        if found < 0:
            found = k
            k += 1
            if found == len(rep):
                rep = np.concatenate((rep, np.empty(len(rep), np.int64)))
                hashes = np.concatenate((hashes, np.empty(len(hashes), np.int64)))
            rep[found] = i
            hashes[found] = h
            table[slot] = found
            if 2 * k > size:
                size *= 4
                table = np.full(size, -1, np.int64)
                for d in range(k):
                    slot = hashes[d] & (size - 1)
                    while table[slot] >= 0:
                        slot = (slot + 1) & (size - 1)
                    table[slot] = d
        ids[i] = found + 1
    first = rep[:k]
    return ids, s[first], e[first]


_MIX: Final = -7046029254386353131  # 0x9E3779B97F4A7C15 (Fibonacci hashing) as an int64


@njit(cache=True, nogil=True, inline="always")
def _probe(keys: np.ndarray, shift: int, c: int) -> int:
    """The slot of code *c* in the open-addressing table *keys* (-1 = empty; its size a power
    of two, 2 ** (64 - *shift*)): where *c* is, or the empty slot where it would go."""
    mask = len(keys) - 1
    h = ((c * _MIX) >> shift) & mask
    while keys[h] != c and keys[h] != -1:
        h = (h + 1) & mask
    return h


@njit(cache=True, nogil=True)
def _number_run(codes: np.ndarray, start: int, number: np.ndarray, keys: np.ndarray, nums: np.ndarray, shift: int,
                uniques: np.ndarray, k: int) -> tuple:
    """:func:`_first_appearance` from row *start* until the table or *uniques* must grow:
    returns the row reached and the codes numbered so far. (Apart, so that the loop never
    sees its arrays replaced, which would cost reference counting on every row.)"""
    limit = len(keys) // 2
    for i in range(start, len(codes)):
        c = codes[i]
        h = _probe(keys, shift, c)
        if keys[h] == -1:
            if k + 1 > limit or k == len(uniques):
                return i, k
            keys[h] = c
            nums[h] = k
            uniques[k] = c
            k += 1
        number[i] = nums[h]
    return len(codes), k


@njit(cache=True, nogil=True)
def _first_appearance(codes: np.ndarray) -> tuple:
    """``(number, uniques, table)``: each code's number in order of first appearance, and the
    small hash table ``(keys, numbers, shift)`` that :func:`_find_group` looks codes up in.
    Codes must be >= 0. (A small table, not one indexed by the code: an ICAO-sized direct
    table spreads a few hundred aircraft over as many memory pages, and the look-ups then
    cost more in address translation than the hashing does.)"""
    number = np.empty(len(codes), np.int64)
    uniques = np.empty(64, np.int64)
    shift = 64 - 8
    keys = np.full(256, -1, np.int64)
    nums = np.empty(256, np.int64)
    i = k = 0
    while True:
        i, k = _number_run(codes, i, number, keys, nums, shift, uniques, k)
        if i == len(codes):
            return number, uniques[:k], (keys, nums, shift)
        if k == len(uniques):
            uniques = np.concatenate((uniques, np.empty(len(uniques), np.int64)))
        if k + 1 > len(keys) // 2:  # keep the table at most half full
            shift -= 2
            keys = np.full(4 * len(keys), -1, np.int64)
            nums = np.empty(len(keys), np.int64)
            for g in range(k):
                q = _probe(keys, shift, uniques[g])
                keys[q] = uniques[g]
                nums[q] = g


@njit(cache=True, nogil=True, inline="always")
def _find_group(table: tuple, c: int) -> int:
    """The number :func:`_first_appearance` gave code *c*, or -1."""
    if c < 0:
        return -1
    keys, nums, shift = table
    h = _probe(keys, shift, c)
    return nums[h] if keys[h] == c else -1


@njit(cache=True, nogil=True)
def _find_groups(table: tuple, codes: np.ndarray) -> np.ndarray:
    out = np.empty(len(codes), np.int64)
    for i in range(len(codes)):
        out[i] = _find_group(table, codes[i])
    return out


@njit(cache=True, nogil=True)
def factorize_codes(codes: np.ndarray) -> tuple:
    """``(inverse, uniques)`` of *codes* in order of first appearance (as ``pd.factorize``);
    None when a code is negative."""
    for i in range(len(codes)):
        if codes[i] < 0:
            return None
    number, uniques, _ = _first_appearance(codes)
    return number.astype(np.int32), uniques


@njit(cache=True, nogil=True)
def last_values(codes: np.ndarray, values: np.ndarray) -> tuple:
    """``(uniques, last)``: the distinct codes (>= 0) and each one's last value in row order."""
    number, uniques, _ = _first_appearance(codes)
    last = np.empty(len(uniques), values.dtype)
    for i in range(len(codes)):
        last[number[i]] = values[i]
    return uniques, last


@njit(cache=True, nogil=True)
def _group_by_code(rcode: np.ndarray, rt: np.ndarray) -> tuple:
    """Rows grouped by code (groups in order of first appearance, rows in file order within
    a group: a counting sort on group numbers), then each group ordered by time, stably
    (:func:`flightpaths.kernels.sort_groups_by_time`). Returns the rows, the group bounds and the codes' table
    (:func:`_find_group`)."""
    group, codes, table = _first_appearance(rcode)
    idx, bounds = group_rows(np.arange(len(rcode)), group, rt, len(codes))
    return idx, bounds, table


@njit(cache=True, nogil=True)
def _ascending(t: np.ndarray) -> bool:
    for i in range(1, len(t)):
        if t[i] < t[i - 1]:
            return False
    return True


@njit(cache=True, nogil=True)
def nearest_index(pcode: np.ndarray, pt: np.ndarray, rcode: np.ndarray, rt: np.ndarray, tol: int,
                  direction: int) -> np.ndarray:
    """For each position, the index of the reference row of the same code nearest in time
    within *tol* (-1 if none): *direction* 0 nearest (an earlier one wins a tie), 1 backward
    (at or before; one at the same time wins), 2 forward (at or after). The same answers as
    ``_sbs_merge.nearest``'s sort-and-search. Where positions and references are both in time order
    (most logs) one sweep each way finds them (:func:`_sweep`); otherwise the references are
    grouped by code and ordered by time (stably), and each position finds the first reference
    at or after its time (and the one before) by stepping on from where the previous position
    of its code stopped, or by binary search when time went back. Codes must be >= 0."""
    m = len(pcode)
    best = np.full(m, -1, np.int64)
    if len(rcode) == 0 or m == 0:
        return best
    if _ascending(pt) and _ascending(rt):
        group, codes, table = _first_appearance(pcode)
        return _sweep(pt, group, np.arange(m), rt, _find_groups(table, rcode), np.arange(len(rt)), tol, direction,
                      len(codes))
    idx, bounds, table = _group_by_code(rcode, rt)
    st = np.empty(len(idx), np.int64)  # the references' times, grouped and sorted
    for q in range(len(idx)):
        st[q] = rt[idx[q]]
    cursor = bounds[:-1].copy()  # per group: where the previous position of that code landed
    for i in range(m):
        g = _find_group(table, pcode[i])
        if g < 0:
            continue
        s, e = bounds[g], bounds[g + 1]
        t = pt[i]
        lo = cursor[g]  # first reference with time >= t: positions mostly come in time order,
        if lo > s and st[lo - 1] >= t:  # so it is found by stepping on from the last one;
            hi = lo  # an earlier time than the code's previous position: binary search
            lo = s
            while lo < hi:
                mid = (lo + hi) >> 1
                if st[mid] < t:
                    lo = mid + 1
                else:
                    hi = mid
        else:
            while lo < e and st[lo] < t:
                lo += 1
        cursor[g] = lo
        pick = -1
        pick_dt = tol + 1
        if direction != 2 and lo - 1 >= s:
            dt = t - st[lo - 1]  # > 0
            if dt <= tol:
                pick, pick_dt = idx[lo - 1], dt
        if lo < e:
            dt = st[lo] - t  # >= 0
            if (direction != 1 or dt == 0) and dt <= tol and dt < pick_dt:
                pick = idx[lo]
        best[i] = pick
    return best


@njit(cache=True, nogil=True)
def _sweep(pt: np.ndarray, pg: np.ndarray, pidx: np.ndarray, rt: np.ndarray, rg: np.ndarray, rrows: np.ndarray,
           tol: int, direction: int, ngroups: int) -> np.ndarray:
    """:func:`nearest_index` for positions ``pidx`` and references ``rrows`` (both ascending,
    and their times too) whose codes are numbered (*pg*, *rg*: 0 .. *ngroups* - 1; -1 for a
    reference no position shares): no sorting; one sweep forward finds each position's
    latest reference of its code before its time, one backward the first at or after it
    (the rows the grouped search picks: among references at one time, the last before and
    the first after in file order). Returns a reference row (or -1) per position."""
    m = len(pidx)
    n = len(rrows)
    best = np.full(m, -1, np.int64)
    last = np.full(ngroups, -1, np.int64)
    if direction != 2:  # the latest reference strictly before each position's time
        r = 0
        for q in range(m):
            t = pt[pidx[q]]
            while r < n and rt[rrows[r]] < t:
                g = rg[rrows[r]]
                if g >= 0:
                    last[g] = rrows[r]
                r += 1
            k = last[pg[pidx[q]]]
            if k >= 0 and t - rt[k] <= tol:
                best[q] = k
        last[:] = -1
    r = n - 1
    for q in range(m - 1, -1, -1):  # the first reference at or after each position's time
        t = pt[pidx[q]]
        while r >= 0 and rt[rrows[r]] >= t:
            g = rg[rrows[r]]
            if g >= 0:
                last[g] = rrows[r]
            r -= 1
        k = last[pg[pidx[q]]]
        if k >= 0:
            dt = rt[k] - t
            if dt > tol or (direction == 1 and dt != 0):
                continue
            b = best[q]
            if b < 0 or dt < t - rt[b]:
                best[q] = k
    return best


@njit(cache=True, nogil=True)
def _nearest_of(pcode: np.ndarray, pt: np.ndarray, pg: np.ndarray, pidx: np.ndarray, rcode: np.ndarray,
                rt: np.ndarray, rg: np.ndarray, rrows: np.ndarray, tol: int, direction: int, ngroups: int,
                in_order: bool) -> np.ndarray:
    """:func:`nearest_index` of positions *pidx* among references *rrows* (rows of the
    arrays), through the codes' numbers when both are in time order (*in_order*: all the
    positions and references are)."""
    if in_order:
        return _sweep(pt, pg, pidx, rt, rg, rrows, tol, direction, ngroups)
    j = nearest_index(pcode[pidx], pt[pidx], rcode[rrows], rt[rrows], tol, direction)
    out = np.full(len(j), -1, np.int64)
    for q in range(len(j)):
        if j[q] >= 0:
            out[q] = rrows[j[q]]
    return out


@njit(cache=True, nogil=True)
def _fill_ids(ids: np.ndarray, pcode: np.ndarray, pms: np.ndarray, pg: np.ndarray, icode: np.ndarray,
              ims: np.ndarray, ig: np.ndarray, ivalue: np.ndarray, keys: np.ndarray, values: np.ndarray,
              ngroups: int, in_order: bool) -> np.ndarray:
    """*ids* (a copy) with its empty (0) entries filled: the latest non-empty identity value of
    the same code at or before the position's time (*icode*, *ims*, *ivalue*: this block's
    identity rows, *ig* their codes' numbers), else the value remembered from earlier blocks
    (*keys* sorted, *values*), else the next one after."""
    out = ids.copy()
    idx = np.flatnonzero(out == 0)
    if len(idx) == 0:
        return out
    rows = np.flatnonzero(ivalue != 0)
    big = np.iinfo(np.int64).max // 4
    if len(rows):
        j = _nearest_of(pcode, pms, pg, idx, icode, ims, ig, rows, big, 1, ngroups, in_order)
        idx = _take_found(out, idx, j, ivalue)
    if len(keys) and len(idx):
        idx = _take_known(out, idx, pcode, keys, values)
    if len(rows) and len(idx):
        j = _nearest_of(pcode, pms, pg, idx, icode, ims, ig, rows, big, 2, ngroups, in_order)
        _take_found(out, idx, j, ivalue)
    return out


@njit(cache=True, nogil=True)
def _take_found(out: np.ndarray, idx: np.ndarray, j: np.ndarray, ivalue: np.ndarray) -> np.ndarray:
    """Set ``out[idx[q]]`` to the identity value ``ivalue[j[q]]`` where one was found (``j[q] >= 0``);
    the entries of *idx* left empty (moved to its front: *idx* is overwritten)."""
    keep = 0
    for q in range(len(idx)):
        if j[q] >= 0:
            out[idx[q]] = ivalue[j[q]]
        else:
            idx[keep] = idx[q]
            keep += 1
    return idx[:keep]


@njit(cache=True, nogil=True)
def _take_known(out: np.ndarray, idx: np.ndarray, pcode: np.ndarray, keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Set ``out[idx[q]]`` to the value remembered for its code (*keys* sorted, *values*); the
    entries of *idx* left empty (moved to its front: *idx* is overwritten)."""
    keep = 0
    for q in range(len(idx)):
        c = pcode[idx[q]]
        at = min(np.searchsorted(keys, c), len(keys) - 1)
        if keys[at] == c:
            out[idx[q]] = values[at]
        else:
            idx[keep] = idx[q]
            keep += 1
    return idx[:keep]


@njit(cache=True, nogil=True)
def merge_rows(pcode: np.ndarray, pt: np.ndarray, speed: np.ndarray, track: np.ndarray, vrate: np.ndarray,
               callsign: np.ndarray, squawk: np.ndarray, vcode: np.ndarray, vt: np.ndarray, vnum: tuple,
               icode: np.ndarray, it: np.ndarray, icallsign: np.ndarray, isquawk: np.ndarray, known: tuple,
               tol_ms: int) -> tuple:
    """The merger's joins in one compiled pass (``_sbs_merge.Merger._merge``): each position's empty
    speed, track and vertical rate from the velocity row of the same code nearest in time
    within *tol_ms* (filled in place), and its callsign and squawk ids filled as
    :func:`_fill_ids` does. Times are int64 ns, compared in ms; *vnum* = (speed, track, rate)
    of the velocity rows; *known* = (callsign keys, values, squawk keys, values) remembered
    from earlier blocks; codes >= 0. Returns ``(callsign, squawk, number, uniques)``: the
    filled ids, and the positions' codes numbered in order of first appearance (as
    :func:`factorize_codes`)."""
    pg, uniques, table = _first_appearance(pcode)
    ngroups = len(uniques)
    pms = pt // 1_000_000
    in_order = _ascending(pms)
    if len(vcode):
        _join_velocities(pcode, pms, pg, table, vcode, vt, vnum, (speed, track, vrate), tol_ms, (ngroups, in_order))
    ims = it // 1_000_000
    ig = _find_groups(table, icode)
    in_order = in_order and _ascending(ims)
    return (_fill_ids(callsign, pcode, pms, pg, icode, ims, ig, icallsign, known[0], known[1], ngroups, in_order),
            _fill_ids(squawk, pcode, pms, pg, icode, ims, ig, isquawk, known[2], known[3], ngroups, in_order),
            pg.astype(np.int32), uniques)


@njit(cache=True, nogil=True)
def _join_velocities(pcode: np.ndarray, pms: np.ndarray, pg: np.ndarray, table: tuple[np.ndarray, np.ndarray, int], vcode: np.ndarray,
                     vt: np.ndarray, vnum: tuple[np.ndarray, np.ndarray, np.ndarray],
                     motion: tuple[np.ndarray, np.ndarray, np.ndarray], tol_ms: int, groups: tuple[int, bool]) -> None:
    """Fill, in place, each position's empty speed, track and vertical rate (*motion*) from the
    velocity row of the same code nearest in time within *tol_ms* (see :func:`merge_rows`); *vnum*
    = (speed, track, rate) of the velocity rows; *groups* = (number of codes, positions in time order)."""
    vms = vt // 1_000_000
    ngroups, in_order = groups
    j = _nearest_of(pcode, pms, pg, np.arange(len(pcode)), vcode, vms, _find_groups(table, vcode),
                    np.arange(len(vcode)), tol_ms, 0, ngroups, in_order and _ascending(vms))
    speed, track, vrate = motion
    vspeed, vtrack, vrate_ = vnum
    for i in range(len(j)):
        k = j[i]
        if k >= 0:
            if np.isnan(speed[i]):
                speed[i] = vspeed[k]
            if np.isnan(track[i]):
                track[i] = vtrack[k]
            if np.isnan(vrate[i]):
                vrate[i] = vrate_[k]
