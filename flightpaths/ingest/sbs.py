"""SBS-1 / BaseStation CSV (dump1090 and readsb port 30003): 22 comma-separated fields.

``MSG,<type>,<session>,<aircraft>,<hex>,<flight>,<date gen>,<time gen>,<date log>,<time log>,
<callsign>,<altitude ft>,<ground speed kt>,<track deg>,<lat>,<lon>,<vertical rate ft/min>,
<squawk>,<alert>,<emergency>,<spi>,<on ground>``

Positions arrive in ``MSG,3`` (airborne) and ``MSG,2`` (surface) rows and velocities in
``MSG,4`` rows: each position gets the velocity of the same aircraft nearest in time within
``merge_tolerance_s`` (values already on the position row win). Callsign (``MSG,1``) and
squawk (``MSG,5``/``6``) carry forward per aircraft. Times are the generated date/time
(fields 7-8, falling back to the logged ones, 9-10) on the receiver's clock, read in
``settings.tz``. CRLF line ends, ``000000`` addresses (dropped and counted) and the ``1,1``
session/aircraft ids of some feeders are handled. Files without any timestamps cannot give
tracks: their rows are dropped and counted as "no timestamp".

Logs are read in 16 MiB blocks (the next one read, or decompressed, on another thread while
this one is parsed), so memory stays flat as the log grows. Each block is parsed
by a compiled one-pass scanner (:mod:`._sbs_scan`, numba; the two halves of a block on two
threads, two blocks ahead of the one being merged) or, without numba, by pyarrow's CSV
parser; any block with a line either of them would not take goes to a robust, vectorized
pyarrow path that names every bad line. Merging is integer work, compiled in one pass per
block (:func:`._sbs_scan.merge_rows`): aircraft are numbered through a small hash table, and
the nearest velocity, and the callsign and squawk to carry, are found by one sweep each way
through rows in time order (grouping by aircraft and a walk when time goes back; numpy's
lexsort and search where numba is missing). Callsigns and squawks travel as ids into one
table of distinct strings per log (each distinct byte string is checked and cleaned once).
"""

from __future__ import annotations

import mmap
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator
from os import PathLike
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .formats import register_format
from .ledger import IngestResult, Ledger
from .points import read_logs
from .settings import IngestSettings, replace_settings
from .sources import Head, Source, TruncatedInput, count_lines, iter_blocks
from .values import HEX_VALUE, NS_FIRST_YEAR, NS_LAST_YEAR, localize

__all__ = ["NON_ICAO_BIT", "SBS_FIELDS", "code_to_hex", "iter_sbs", "read_sbs"]

#: the 22 field names of an SBS-1 line, in order
SBS_FIELDS: Final = (
    "message_type", "transmission_type", "session_id", "aircraft_id", "hex_ident", "flight_id",
    "date_generated", "time_generated", "date_logged", "time_logged", "callsign", "altitude",
    "ground_speed", "track", "lat", "lon", "vertical_rate", "squawk", "alert", "emergency", "spi",
    "is_on_ground",
)
_OTHER_TYPES: Final = ("SEL", "ID", "AIR", "STA", "CLK")
_NUMBER_RE: Final = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
_PLAIN_TIME_RE: Final = r"^\s*\d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{1,2}(:\d{1,2}(\.\d+)?)?\s*$"


def _sniff(head: Head) -> bool:
    """SBS when most of the first lines are SBS messages (a damaged line among them is allowed)."""
    lines = head.lines(10)
    lines = lines[:-1] or lines  # the last one may be cut short
    sbs = sum(ln.split(",", 1)[0] in ("MSG", *_OTHER_TYPES) and ln.count(",") >= 4 for ln in lines)
    return bool(lines) and sbs * 2 >= len(lines) and sbs > 0


def _lines(block: bytes) -> pa.StringArray:
    """One string per line of *block* (which ends with a newline), line ends included."""
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        block = block.decode("utf-8", errors="replace").encode("utf-8")
    buf = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    offsets = np.empty(len(ends) + 1, dtype=np.int32)
    offsets[0] = 0
    offsets[1:] = ends + 1
    return pa.StringArray.from_buffers(len(ends), pa.py_buffer(offsets.tobytes()), pa.py_buffer(block))


def _clean(a: pa.Array) -> pa.Array:
    """Text from data: control characters removed, surrounding blanks stripped."""
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(a, r"[\x00-\x1f\x7f]", ""))


def _null_empty(a: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(pc.binary_length(a), 0), pa.scalar(None, pa.string()), a)


def _num(a: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``(float values with NaN, junk mask)`` for a string array."""
    a = _null_empty(a)
    try:
        values = pc.cast(a, pa.float64())
        junk = np.zeros(len(a), dtype=bool)
    except pa.ArrowInvalid:
        a = pc.utf8_trim_whitespace(a)  # blanks around a number are allowed; Arrow's cast does not take them
        ok = pc.match_substring_regex(a, _NUMBER_RE)
        junk = pc.fill_null(pc.invert(ok), False).to_numpy(zero_copy_only=False)
        values = pc.cast(pc.if_else(ok, a, pa.scalar(None, pa.string())), pa.float64())
    out = values.to_numpy(zero_copy_only=False)
    out = np.where(np.isfinite(out), out, np.nan)
    return out, junk


def _times(date: pa.Array, time: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ns since epoch as int64, missing, junk)`` from SBS date and time strings. A year that
    a time in ns cannot hold (see :data:`.values.NS_FIRST_YEAR`) is junk: it would wrap around."""
    text = pc.binary_join_element_wise(pc.replace_substring(date, "/", "-"), time, " ")
    missing = pc.or_(pc.equal(pc.binary_length(date), 0), pc.equal(pc.binary_length(time), 0))
    text = pc.if_else(missing, pa.scalar(None, pa.string()), text)
    year = pc.struct_field(pc.extract_regex(text, r"^\s*(?P<y>\d{1,9})-"), [0])
    year = pc.cast(year, pa.int64()).to_numpy(zero_copy_only=False)
    bad_year = (year < NS_FIRST_YEAR) | (year > NS_LAST_YEAR)  # NaN (no match) compares False
    text = pc.if_else(pa.array(bad_year), pa.scalar(None, pa.string()), text)
    missing_np = missing.to_numpy(zero_copy_only=False)
    try:
        ts = pc.cast(text, pa.timestamp("ns"))
        junk = bad_year.copy()
    except pa.ArrowInvalid:
        # receiver clocks carry no zone: a time with an offset or zone letter ("12:06:25.0-0") is
        # junk, and left in it would make pandas refuse the whole column (mixed time zones)
        plain = pc.fill_null(pc.match_substring_regex(text, _PLAIN_TIME_RE), False)
        series = pd.Series(pc.if_else(plain, text, pa.scalar(None, pa.string())).to_pylist(), dtype=object)
        parsed = pd.to_datetime(series, errors="coerce", format="ISO8601")
        junk = parsed.isna().to_numpy() & ~missing_np
        ns = parsed.to_numpy(dtype="datetime64[ns]").astype(np.int64)
        return ns, missing_np, junk
    ns = ts.to_numpy(zero_copy_only=False).astype("datetime64[ns]").astype(np.int64)
    return ns, missing_np, junk


class _Parsed:
    """The useful rows of one block, as numpy arrays (positions, velocities, identities)."""

    def __init__(self) -> None:
        self.pos: dict[str, np.ndarray] = {}
        self.vel: dict[str, np.ndarray] = {}
        self.ident: dict[str, np.ndarray] = {}
        # callsign and squawk are either object arrays of str ("" = none) or, when a key is
        # here, int32 ids into these values (id 0 = "")
        self.texts: dict[str, list[str]] = {}
        self.lines = 0  # lines of the log this part covers (set by the compiled scanner's path)


_NAT: Final = np.iinfo(np.int64).min


_ODD_GROUND: Final = "SBS on-ground flags other than -1, 0 or 1 read as unknown"


def _ground_flags(text: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The on-ground field as ``(on ground, known, odd)``: an integer (sign, 1-3 digits; blanks
    around it) of -1 or 1 is on the ground, 0 is not; empty is unknown; anything else (5, 127,
    "yes") is odd and read as unknown (the scanner and the pyarrow fast path leave a block with
    such a flag to this path, which names it)."""
    trimmed = pc.utf8_trim_whitespace(text)
    number = pc.match_substring_regex(trimmed, r"^[+-]?[0-9]{1,3}$")
    value = pc.cast(pc.if_else(number, pc.replace_substring_regex(trimmed, r"^\+", ""), pa.scalar(None, pa.string())),
                    pa.int16()).to_numpy(zero_copy_only=False)
    value = np.asarray(value, dtype=float)
    known = (value == -1) | (value == 0) | (value == 1)
    empty = pc.fill_null(pc.equal(trimmed, ""), True).to_numpy(zero_copy_only=False)
    return value != 0, known, ~known & ~empty


def _parse_block(block: bytes, first_line: int, source: Source, settings: IngestSettings, ledger: Ledger) -> _Parsed:
    lines = _lines(block)
    n = len(lines)
    numbers = np.arange(first_line, first_line + n, dtype=np.int64)
    split = pc.split_pattern(lines, ",")
    nfields = pc.list_value_length(split).to_numpy(zero_copy_only=False)
    kind = pc.utf8_trim_whitespace(pc.list_element(split, 0))
    is_msg = pc.equal(kind, "MSG").to_numpy(zero_copy_only=False)
    stripped_len = pc.binary_length(pc.utf8_trim_whitespace(lines)).to_numpy(zero_copy_only=False)
    blank = stripped_len == 0
    other = pc.is_in(kind, pa.array(_OTHER_TYPES)).to_numpy(zero_copy_only=False)
    name = source.name
    if other.any():
        ledger.note("SBS lines other than MSG (SEL/ID/AIR/STA/CLK) ignored", int(other.sum()))
    notsbs = ~is_msg & ~other & ~blank
    if notsbs.any():
        texts = pc.utf8_trim_whitespace(lines.filter(pa.array(notsbs))).to_pylist()
        ledger.drop(name, numbers[notsbs], "not an SBS line", detail=lambda i: f"not an SBS line: {texts[i][:60]!r}")
    wrong = is_msg & (nfields != 22)
    if wrong.any():
        counts = nfields[wrong]
        ledger.drop(name, numbers[wrong], "wrong number of fields", column="fields",
                    detail=lambda i: f"{counts[i]} fields, expected 22 (truncated or damaged line?)")
    valid = is_msg & (nfields == 22)
    rows = split.filter(pa.array(valid))
    numbers = numbers[valid]
    field = {k: pc.list_element(rows, i) for i, k in enumerate(SBS_FIELDS) if k in (
        "transmission_type", "hex_ident", "date_generated", "time_generated", "date_logged", "time_logged",
        "callsign", "altitude", "ground_speed", "track", "lat", "lon", "vertical_rate", "squawk", "is_on_ground")}
    out = _Parsed()
    if not len(rows):
        return out
    keep = np.ones(len(rows), dtype=bool)
    hexes = pc.utf8_lower(pc.utf8_trim_whitespace(field["hex_ident"]))
    hex_ok = pc.match_substring_regex(hexes, r"^~?[0-9a-f]{6}$").to_numpy(zero_copy_only=False)
    zero = pc.equal(hexes, "000000").to_numpy(zero_copy_only=False)
    if (~hex_ok).any():
        bad_hex = pc.filter(hexes, pa.array(~hex_ok)).to_pylist()
        ledger.drop(name, numbers[~hex_ok], "column 'hex_ident': not an ICAO hex address", column="hex_ident",
                    detail=lambda i: f"column 'hex_ident': {bad_hex[i][:20]!r} is not an ICAO hex address")
    ledger.drop(name, numbers[zero], "address 000000 (no ICAO address)", bad=False)
    keep &= hex_ok & ~zero

    ns, missing, junk = _times(field["date_generated"], field["time_generated"])
    if missing.any():
        ns2, missing2, junk2 = _times(field["date_logged"], field["time_logged"])
        ns = np.where(missing, ns2, ns)
        junk = np.where(missing, junk2, junk)
        missing = missing & missing2
    jmask = junk & keep
    if jmask.any():
        dates = field["date_generated"].filter(pa.array(jmask)).to_pylist()
        tims = field["time_generated"].filter(pa.array(jmask)).to_pylist()
        ledger.drop(name, numbers[jmask], "column 'time_generated': not a date and time", column="time_generated",
                    detail=lambda i: f"column 'time_generated': {dates[i][:12]!r} {tims[i][:16]!r} is not a date and time")
    ledger.drop(name, numbers[missing & keep], "no timestamp (SBS fields 7-10 empty)", bad=False)
    keep &= ~junk & ~missing

    ttype = field["transmission_type"]
    is_pos = pc.is_in(ttype, pa.array(["2", "3"])).to_numpy(zero_copy_only=False)
    is_vel = pc.is_in(ttype, pa.array(["2", "4"])).to_numpy(zero_copy_only=False)

    def numeric(key: str, where: np.ndarray) -> np.ndarray:
        values = np.full(len(rows), np.nan)
        if where.any():
            sub = field[key].filter(pa.array(where))
            v, j = _num(sub)
            idx = np.flatnonzero(where)
            values[idx] = v
            if j.any():
                junk_txt = sub.filter(pa.array(j)).to_pylist()
                ledger.drop(name, numbers[idx[j]], f"column {key!r}: not a number", column=key,
                            detail=lambda i: f"column {key!r}: {junk_txt[i].strip()[:30]!r} is not a number")
                keep[idx[j]] = False
        return values

    lat = numeric("lat", is_pos & keep)
    lon = numeric("lon", is_pos & keep)
    alt = numeric("altitude", is_pos & keep)
    speed = numeric("ground_speed", (is_pos | is_vel) & keep)
    track = numeric("track", (is_pos | is_vel) & keep)
    vrate = numeric("vertical_rate", (is_pos | is_vel) & keep)
    nopos = is_pos & keep & (np.isnan(lat) | np.isnan(lon))
    ledger.drop(name, numbers[nopos], "SBS position message without coordinates", bad=False)
    other_msgs = keep & ~is_pos & ~is_vel
    ledger.note("SBS messages without position (MSG,1/5/6/7/8) used for callsign/squawk or ignored", int(other_msgs.sum()))
    ledger.note("SBS velocity messages (MSG,4) merged into positions", int((keep & is_vel & ~is_pos).sum()))

    ground, ground_known, ground_odd = _ground_flags(field["is_on_ground"])
    hex_np = _hex_codes(np.asarray(hexes.to_numpy(zero_copy_only=False), dtype=object), keep)

    pos = is_pos & keep & ~nopos
    odd = np.flatnonzero(pos & ground_odd)
    if len(odd):
        ledger.note(_ODD_GROUND, len(odd), example=f"{name}:{numbers[odd[0]]}: on-ground flag "
                    f"{str(field['is_on_ground'][odd[0]]).strip()[:20]!r}")
    out.pos = {
        "object_id": hex_np[pos], "t": ns[pos], "lat": lat[pos], "lon": lon[pos], "altitude_ft": alt[pos],
        "speed_kt": speed[pos], "track_deg": track[pos], "vrate_fpm": vrate[pos],
        "on_ground": np.where(ground_known[pos], ground[pos], np.nan).astype(float), "source_line": numbers[pos],
        "callsign": np.asarray(_clean(field["callsign"].filter(pa.array(pos))).to_numpy(zero_copy_only=False), dtype=object),
        "squawk": np.asarray(_clean(field["squawk"].filter(pa.array(pos))).to_numpy(zero_copy_only=False), dtype=object),
    }
    vel = is_vel & keep & ~(np.isnan(speed) & np.isnan(track) & np.isnan(vrate))
    out.vel = {"object_id": hex_np[vel], "t": ns[vel], "speed_kt": speed[vel], "track_deg": track[vel], "vrate_fpm": vrate[vel]}
    cs = _clean(field["callsign"])
    sq = _clean(field["squawk"])
    has_ident = keep & (pc.binary_length(cs).to_numpy(zero_copy_only=False) > 0) | keep & (pc.binary_length(sq).to_numpy(zero_copy_only=False) > 0)
    out.ident = {"object_id": hex_np[has_ident], "t": ns[has_ident],
                 "callsign": np.asarray(cs.filter(pa.array(has_ident)).to_numpy(zero_copy_only=False), dtype=object),
                 "squawk": np.asarray(sq.filter(pa.array(has_ident)).to_numpy(zero_copy_only=False), dtype=object)}
    return out

NON_ICAO_BIT: Final = 1 << 24


def _hex_codes(hexes: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """ICAO hex strings -> int codes (``~`` ids get bit 24); -1 where not kept."""
    codes = np.full(len(hexes), -1, dtype=np.int64)
    if keep.any():
        uniq, inv = np.unique(hexes[keep].astype(str), return_inverse=True)
        values = np.array([int(h.lstrip("~"), 16) | (NON_ICAO_BIT if h.startswith("~") else 0) for h in uniq], dtype=np.int64)
        codes[keep] = values[inv]
    return codes


def code_to_hex(codes: np.ndarray, *, as_strings: bool = False) -> Any:
    """Int codes back to lowercase hex strings (``~`` for non-ICAO ids); a pandas string
    array when *as_strings*.

    >>> code_to_hex(np.array([0x4CA2D6, NON_ICAO_BIT | 0x1]))
    array(['4ca2d6', '~000001'], dtype=object)
    """
    scan = _scanner()
    found = scan.factorize_codes(np.ascontiguousarray(codes, np.int64)) if scan is not None else None
    inv, uniq = found if found is not None else pd.factorize(codes)
    if as_strings:
        return _hex_column(inv, uniq)
    return np.array(_hex_names(uniq), dtype=object)[inv]


def _hex_names(uniq: np.ndarray) -> list[str]:
    return [("~" if c & NON_ICAO_BIT else "") + f"{c & 0xFFFFFF:06x}" for c in uniq.tolist()]


def _hex_column(inv: np.ndarray, uniq: np.ndarray) -> Any:
    """A pandas string column of the codes ``uniq[inv]`` as hex."""
    scan = _scanner()
    if scan is not None:
        return _short_texts(scan, inv, *scan.hex_words(np.ascontiguousarray(uniq, np.int64), NON_ICAO_BIT))
    dictionary = pa.DictionaryArray.from_arrays(pa.array(inv.astype(np.int32, copy=False)),
                                                pa.array(_hex_names(uniq), pa.string()))
    return pd.array(pc.cast(dictionary, pa.string()), dtype="string")


def _as_words(texts: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """*texts* as little-endian 8-byte words and lengths ("": null, -1) for :func:`_short_texts`;
    None when one is longer than 8 bytes."""
    encoded = [text.encode() for text in texts]
    if any(len(b) > 8 for b in encoded):
        return None
    words = np.frombuffer(b"".join(b.ljust(8, b"\0") for b in encoded), np.uint64).copy()
    return words, np.array([len(b) or -1 for b in encoded], np.int64)


def _short_texts(scan: Any, ids: np.ndarray, words: np.ndarray, lengths: np.ndarray) -> Any:
    """A pandas string column of the texts of at most 8 bytes ``words[ids]`` (:func:`._sbs_scan.take_words`;
    length -1: null), built in Arrow's layout directly: ~5x faster than a dictionary cast."""
    offsets, data, valid, nulls = scan.take_words(np.ascontiguousarray(ids), words, lengths)
    arr = pa.LargeStringArray.from_buffers(len(ids), pa.py_buffer(offsets), pa.py_buffer(data),
                                           pa.py_buffer(valid) if nulls else None, nulls)
    return pd.arrays.ArrowStringArray(arr)


_FAST_NAMES: Final = [f"f{i}" for i in range(22)]
# the first and last day (in s since 1970) of the years a time in ns can hold
_FIRST_DAY_S: Final = int(np.datetime64(f"{NS_FIRST_YEAR}-01-01", "s").astype(np.int64))
_LAST_DAY_S: Final = int(np.datetime64(f"{NS_LAST_YEAR}-12-31", "s").astype(np.int64))
_FAST_TYPES: Final = {
    "f1": pa.int8(), "f4": pa.string(), "f6": pa.timestamp("s"), "f7": pa.time64("ns"),
    "f10": pa.string(), "f11": pa.float64(), "f12": pa.float64(), "f13": pa.float64(), "f14": pa.float64(),
    "f15": pa.float64(), "f16": pa.float64(), "f17": pa.string(), "f21": pa.int8(),
}


def _np(col: pa.ChunkedArray | pa.Array, dtype: type = float) -> np.ndarray:
    arr = col.to_numpy() if isinstance(col, pa.ChunkedArray) else col.to_numpy(zero_copy_only=False)
    return np.asarray(arr, dtype=dtype)


def _floats(col: pa.ChunkedArray) -> np.ndarray:
    out = np.array(col.to_numpy(), dtype=float)  # nulls -> NaN
    out[~np.isfinite(out)] = np.nan
    return out


def _parse_block_fast(block: bytes | np.ndarray, first_line: int, source: Source, ledger: Ledger) -> _Parsed | None:
    """The common case, fully typed by Arrow's multithreaded CSV parser; None -> use the robust path.

    Applies only when every line is a 22-field MSG line with numbers, dates and 6-digit hex
    where they belong; any oddity sends the block to :func:`_parse_block`. MSG,5/7/8 lines
    (altitude-only and all-call messages) are cut out with numpy before Arrow parses the rest.
    """
    import pyarrow.csv as pcsv

    buf = np.frombuffer(block, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    if not len(nl):
        return None
    ls = np.empty(len(nl), dtype=np.int64)
    ls[0] = 0
    ls[1:] = nl[:-1] + 1
    if ((nl - ls) < 7).any():  # blank or stub lines: the robust path explains them
        return None
    if not ((buf[ls] == 77) & (buf[ls + 1] == 83) & (buf[ls + 2] == 71) & (buf[ls + 3] == 44) & (buf[ls + 5] == 44)).all():
        return None  # not all "MSG,<digit>,"
    kind = buf[ls + 4].astype(np.int64) - 48
    if ((kind < 1) | (kind > 8)).any():
        return None
    # MSG,5/7/8 carry neither position, velocity, callsign nor squawk: skip them before parsing
    wanted = (kind <= 4) | (kind == 6)
    ignored = int((~wanted).sum())
    if ignored:
        rows = np.flatnonzero(wanted)
        if not len(rows):
            ledger.note("SBS messages without position (MSG,1/5/6/7/8) used for callsign/squawk or ignored", ignored)
            return _Parsed()
        lengths = nl - ls + 1
        block = buf[np.repeat(wanted, lengths)].tobytes()
    else:
        rows = np.arange(len(nl))
    try:
        table = pcsv.read_csv(
            pa.BufferReader(block),
            read_options=pcsv.ReadOptions(column_names=_FAST_NAMES, block_size=1 << 22),
            parse_options=pcsv.ParseOptions(quote_char=False, ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(column_types=_FAST_TYPES, include_columns=list(_FAST_TYPES),
                                                timestamp_parsers=["%Y/%m/%d"], strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    n = table.num_rows
    if n != len(rows):
        return None
    if table["f6"].null_count or table["f7"].null_count or table["f1"].null_count:
        return None
    if table["f21"].null_count < n and not pc.all(pc.is_in(table["f21"].drop_null(), pa.array([-1, 0, 1], pa.int8()))).as_py():
        return None  # an odd on-ground flag: the robust path names it
    hexcol = table["f4"].combine_chunks()
    if pc.min(pc.binary_length(hexcol)).as_py() != 6 or pc.max(pc.binary_length(hexcol)).as_py() != 6:
        return None
    raw = np.frombuffer(hexcol.buffers()[2], dtype=np.uint8)
    start = hexcol.offset * 6
    digits = HEX_VALUE[raw[start:start + 6 * n].reshape(n, 6)]
    if (digits < 0).any():
        return None
    codes = digits @ (16 ** np.arange(5, -1, -1, dtype=np.int64))
    lines = first_line + rows
    day_s = pc.cast(table["f6"], pa.int64()).to_numpy()
    if day_s.min() < _FIRST_DAY_S or day_s.max() > _LAST_DAY_S:  # years a time in ns cannot hold
        return None
    day = day_s * 1_000_000_000
    tod = pc.cast(table["f7"], pa.int64()).to_numpy()
    t = day + tod
    ttype = _np(table["f1"], np.int8)
    is_pos = (ttype == 3) | (ttype == 2)
    is_vel = (ttype == 4) | (ttype == 2)
    name = source.name
    zero = codes == 0
    ledger.drop(name, lines[zero], "address 000000 (no ICAO address)", bad=False)
    lat, lon = _floats(table["f14"]), _floats(table["f15"])
    nopos = is_pos & ~zero & (np.isnan(lat) | np.isnan(lon))
    ledger.drop(name, lines[nopos], "SBS position message without coordinates", bad=False)
    ledger.note("SBS messages without position (MSG,1/5/6/7/8) used for callsign/squawk or ignored",
                int((~is_pos & ~is_vel & ~zero).sum()) + ignored)
    ledger.note("SBS velocity messages (MSG,4) merged into positions", int((is_vel & ~is_pos & ~zero).sum()))
    speed, track, vrate = _floats(table["f12"]), _floats(table["f13"]), _floats(table["f16"])
    ground = table["f21"].to_numpy()
    ground = np.asarray(ground, dtype=float)
    on_ground = np.where(np.isnan(ground), np.nan, (ground != 0).astype(float))
    pos = is_pos & ~zero & ~nopos
    cs_len = pc.binary_length(table["f10"]).to_numpy() > 0
    sq_len = pc.binary_length(table["f17"]).to_numpy() > 0
    cs_all = table["f10"].combine_chunks()
    sq_all = table["f17"].combine_chunks()

    def text(arr: pa.Array, mask: np.ndarray, present: np.ndarray) -> np.ndarray:
        out = np.full(int(mask.sum()), "", dtype=object)
        sub = mask & present
        if sub.any():
            vals = np.asarray(_clean(arr.filter(pa.array(sub))).to_numpy(zero_copy_only=False), dtype=object)
            out[np.flatnonzero(sub[mask])] = vals
        return out

    out = _Parsed()
    out.pos = {
        "object_id": codes[pos], "t": t[pos], "lat": lat[pos], "lon": lon[pos], "altitude_ft": _floats(table["f11"])[pos],
        "speed_kt": speed[pos], "track_deg": track[pos], "vrate_fpm": vrate[pos], "on_ground": on_ground[pos],
        "source_line": lines[pos], "callsign": text(cs_all, pos, cs_len), "squawk": text(sq_all, pos, sq_len),
    }
    vel = is_vel & ~zero & ~(np.isnan(speed) & np.isnan(track) & np.isnan(vrate))
    out.vel = {"object_id": codes[vel], "t": t[vel], "speed_kt": speed[vel], "track_deg": track[vel], "vrate_fpm": vrate[vel]}
    ident = ~zero & (cs_len | sq_len)
    out.ident = {"object_id": codes[ident], "t": t[ident], "callsign": text(cs_all, ident, cs_len), "squawk": text(sq_all, ident, sq_len)}
    return out



def _scanner() -> Any:
    """The compiled scanner module, or None where numba is not installed (then pyarrow parses)."""
    global _SCAN
    if _SCAN is False:
        from . import _sbs_scan

        _SCAN = _sbs_scan if _sbs_scan.COMPILED else None
    return _SCAN


_SCAN: Any = False


def _texts(buf: np.ndarray, scan: Any, s: np.ndarray, e: np.ndarray,
           words: np.ndarray) -> tuple[np.ndarray, list[str]] | None:
    """Cleaned strings ``buf[s:e]`` as int32 ids into a list of distinct values (id 0 = "",
    also for empty fields and for values that clean to nothing); None if not UTF-8. Only the
    distinct byte strings are checked and cleaned (*words*: see :func:`._sbs_scan.intern_ranges`)."""
    raw_ids, rs, re_ = scan.intern_ranges(buf, s, e, words)
    values = [""]
    if not len(rs):
        return raw_ids, values
    data, offsets = scan.gather(buf, rs, re_)
    arr = pa.StringArray.from_buffers(len(rs), pa.py_buffer(offsets), pa.py_buffer(data))
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid:
        return None
    index = {"": 0}
    remap = np.zeros(len(rs) + 1, dtype=np.int32)
    for k, v in enumerate(_clean(arr).to_pylist(), start=1):
        found = index.get(v)
        if found is None:
            found = index[v] = len(values)
            values.append(v)
        remap[k] = found
    return remap[raw_ids], values


_POOL: Any = None


class _ScanSpace:
    """Output space for the scanner (:func:`._sbs_scan.scan_into`), kept from block to block
    and from log to log: fresh memory costs a page fault per 4 KiB on first touch, about a
    third of a scan's time. A block's space is given back once its rows are merged (the
    scanner's arrays are views of it); at most *keep* spaces are kept (what the blocks in
    flight use), in memory only as far as rows were written."""

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._free: list[tuple[np.ndarray, np.ndarray]] = []
        self._lock = threading.Lock()

    def take(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Space for a block of *size* bytes: one given back, else new."""
        rows = int(_scanner().scan_space_rows(size))
        with self._lock:
            for k, space in enumerate(self._free):
                if space[0].shape[1] >= rows:
                    return self._free.pop(k)
        rows += rows // 16  # room for the next blocks, a little larger or smaller than this one
        return _untouched((16, rows), np.int64), _untouched((10, rows), np.float64)

    def give(self, spaces: list[tuple[np.ndarray, np.ndarray]]) -> None:
        with self._lock:
            self._free.extend(spaces)
            self._free.sort(key=lambda space: -space[0].shape[1])
            del self._free[self._keep:]  # the largest are kept


def _untouched(shape: tuple[int, int], dtype: type) -> np.ndarray:
    """An array not written beforehand, in 4 KiB pages (an anonymous map): numpy asks for 2 MiB
    pages for large arrays, which would put 2 MiB in memory for each row begun."""
    count = shape[0] * shape[1]
    return np.frombuffer(mmap.mmap(-1, max(count, 1) * np.dtype(dtype).itemsize), dtype, count).reshape(shape)


def _scan_part(scan: Any, buf: np.ndarray, space: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[tuple, tuple | None]:
    """:func:`_sbs_scan.scan_split` of *buf* (into *space* when given: :func:`._sbs_scan.scan_into`),
    and its callsigns and squawks as ids into lists of distinct values (None when one is not
    UTF-8). Runs on a scanner thread: the compiled parts release the GIL."""
    scanned = scan.scan_split(buf, scan.POW10) if space is None else scan.scan_into(buf, scan.POW10, *space)
    if not scanned[0]:
        return scanned, None
    text, words = scanned[9][2], scanned[9][3]
    callsigns, squawks = _texts(buf, scan, text[0], text[1], words[0]), _texts(buf, scan, text[2], text[3], words[1])
    return scanned, (callsigns, squawks) if callsigns is not None and squawks is not None else None


def _start_scan(scan: Any, buf: np.ndarray,
                taken: list[tuple[np.ndarray, np.ndarray]] | None = None) -> Callable[[], list[tuple] | None]:
    """Start :func:`_scan_part` on the two halves of a large block on the scanner's two
    threads and return a function that waits for both and gives ``(scan, texts, lines
    before)`` for each, first half first (None when either found a line it
    does not take, or text that is not UTF-8). The caller works on the previous block
    meanwhile. With *taken*, the parts are scanned into output space from :data:`_SPACE`, added
    to *taken* for the caller to give back once the block is merged."""

    def room(part: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        if taken is None:
            return None
        taken.append(_SPACE.take(len(part)))
        return taken[-1]

    global _POOL
    cut = 0
    if len(buf) >= _PARALLEL_MIN_BYTES:
        found = np.flatnonzero(buf[len(buf) // 2:len(buf) // 2 + (1 << 16)] == 10)
        if len(found):
            cut = len(buf) // 2 + int(found[0]) + 1
    if not cut or cut == len(buf):
        whole, texts = _scan_part(scan, buf, room(buf))
        done = [(whole, texts, 0)] if whole[0] and texts is not None else None
        return lambda: done
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sbs-scan")
    first = _POOL.submit(_scan_part, scan, buf[:cut], room(buf[:cut]))
    second = _POOL.submit(_scan_part, scan, buf[cut:], room(buf[cut:]))

    def join() -> list[tuple] | None:
        (a, a_texts), (b, b_texts) = first.result(), second.result()
        if not (a[0] and b[0]) or a_texts is None or b_texts is None:
            return None
        return [(a, a_texts, 0), (b, b_texts, a[1])]

    return join


_PARALLEL_MIN_BYTES: Final = 1 << 22
#: blocks scanned ahead of the one being merged: with two, the scanner threads stay busy while
#: the merge of a block takes longer than their scan of the next
_SCAN_AHEAD: Final = 2
#: the scanner's output space, kept for the next blocks and logs: two halves for each block in flight
_SPACE: Final = _ScanSpace(keep=2 * (_SCAN_AHEAD + 1))


def _parse_block_scan(
    block: bytes | np.ndarray, first_line: int, source: Source, ledger: Ledger,
    scanning: Callable[[], list[tuple] | None] | None = None,
) -> list[_Parsed] | None:
    """The common case with the compiled scanner: same lines accepted, same results as
    :func:`_parse_block_fast`, one :class:`_Parsed` per part scanned; None -> the robust
    path. *scanning*: the block's scan, when started before (:func:`_start_scan`)."""
    scan = _scanner()
    if scan is None:
        parsed = _parse_block_fast(block, first_line, source, ledger)
        if parsed is None:
            return None
        parsed.lines = count_lines(np.frombuffer(block, dtype=np.uint8))
        return [parsed]
    parts = (scanning or _start_scan(scan, np.frombuffer(block, dtype=np.uint8)))()
    if parts is None:
        return None
    return [_from_scan(scanned, callsigns, squawks, first_line + lines_before, source, ledger)
            for scanned, (callsigns, squawks), lines_before in parts]


def _from_scan(scanned: tuple, callsigns: tuple[np.ndarray, list[str]], squawks: tuple[np.ndarray, list[str]],
               first_line: int, source: Source, ledger: Ledger) -> _Parsed:
    """One :func:`_sbs_scan.scan_split` result (and its text ids) as a :class:`_Parsed`; its
    drops and notes go to the ledger."""
    _ok, _n, ignored, other, vel_only, zero, nopos, pos, vel, ident = scanned
    name = source.name
    if len(zero):
        ledger.drop(name, first_line + zero, "address 000000 (no ICAO address)", bad=False)
    if len(nopos):
        ledger.drop(name, first_line + nopos, "SBS position message without coordinates", bad=False)
    ledger.note("SBS messages without position (MSG,1/5/6/7/8) used for callsign/squawk or ignored", other + ignored)
    ledger.note("SBS velocity messages (MSG,4) merged into positions", vel_only)
    out = _Parsed()
    out.lines = scanned[1]
    out.texts = {"callsign": callsigns[1], "squawk": squawks[1]}
    out.ident = {"object_id": ident[0], "t": ident[1], "callsign": callsigns[0], "squawk": squawks[0]}
    code, t, row, ident_row, num = pos
    has = ident_row >= 0
    callsign = np.zeros(len(code), np.int32)
    squawk = np.zeros(len(code), np.int32)
    if has.any():
        callsign[has] = callsigns[0][ident_row[has]]
        squawk[has] = squawks[0][ident_row[has]]
    out.pos = {
        "object_id": code, "t": t, "lat": num[3], "lon": num[4], "altitude_ft": num[0], "speed_kt": num[1],
        "track_deg": num[2], "vrate_fpm": num[5], "on_ground": num[6], "source_line": first_line + row,
        "callsign": callsign, "squawk": squawk,
    }
    v_code, v_t, v_num = vel
    out.vel = {"object_id": v_code, "t": v_t, "speed_kt": v_num[0], "track_deg": v_num[1], "vrate_fpm": v_num[2]}
    return out


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
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


def _nearest(pos_code: np.ndarray, pos_t: np.ndarray, ref_code: np.ndarray, ref_t: np.ndarray,
             tol_ns: int, direction: str = "nearest") -> np.ndarray:
    """Index into the ref rows of the same code nearest in time within *tol_ns* (-1 if none).

    Both time arrays are int64 in one unit (the merger uses milliseconds); *direction* is
    nearest (an earlier one wins a tie), backward (at or before; one at the same time wins) or
    forward. Compiled where numba is installed (:func:`._sbs_scan.nearest_index`), else numpy.

    >>> _nearest(np.array([1, 1, 2]), np.array([10, 50, 10]), np.array([1, 1, 2]), np.array([12, 40, 30]), 5)
    array([ 0, -1, -1])
    """
    if not len(ref_t) or not len(pos_t):
        return np.full(len(pos_t), -1, dtype=np.int64)
    scan = _scanner()
    if scan is not None and ref_code.min() >= 0:
        as64 = np.ascontiguousarray
        return scan.nearest_index(as64(pos_code, np.int64), as64(pos_t, np.int64), as64(ref_code, np.int64),
                                  as64(ref_t, np.int64), int(tol_ns), _DIRECTIONS[direction])
    return _nearest_numpy(pos_code, pos_t, ref_code, ref_t, tol_ns, direction)


_DIRECTIONS: Final = {"nearest": 0, "backward": 1, "forward": 2}


def _nearest_numpy(pos_code: np.ndarray, pos_t: np.ndarray, ref_code: np.ndarray, ref_t: np.ndarray,
                   tol_ns: int, direction: str = "nearest") -> np.ndarray:
    """:func:`_nearest` with numpy (where numba is not installed): a lexsort plus one searchsorted."""
    order = np.lexsort((ref_t, ref_code))
    rc, rt = ref_code[order], ref_t[order]
    tmin = min(int(rt.min()), int(pos_t.min()))
    span = max(int(rt.max()), int(pos_t.max())) - tmin + 1
    if span * (int(max(rc.max(), pos_code.max())) + 1) < 2**62:
        rkey = rc.astype(np.int64) * span + (rt - tmin)
        pkey = pos_code.astype(np.int64) * span + (pos_t - tmin)
        right = np.searchsorted(rkey, pkey, side="left")
    else:  # very long spans with many aircraft: fall back to a per-code search
        right = np.empty(len(pos_t), dtype=np.int64)
        starts = np.searchsorted(rc, pos_code, side="left")
        ends = np.searchsorted(rc, pos_code, side="right")
        for i in range(len(pos_t)):
            right[i] = starts[i] + np.searchsorted(rt[starts[i]:ends[i]], pos_t[i], side="left")
    best = np.full(len(pos_t), -1, dtype=np.int64)
    best_dt = np.full(len(pos_t), np.iinfo(np.int64).max, dtype=np.int64)
    candidates = []
    if direction in ("nearest", "backward"):
        # for "backward" we want the last ref at or before t: the one before *right*, or right itself if equal
        candidates.append(right - 1)
    if direction in ("nearest", "forward"):
        candidates.append(right)
    if direction == "backward":
        candidates.append(right)  # an exact tie at t counts as backward
    for cand in candidates:
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


class _Merger:
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
        # the strings as words and lengths (see _as_words; None: one is too long), and for how many of them
        self._words: tuple[int, tuple[np.ndarray, np.ndarray] | None] = (0, None)
        self.tz = settings.tz

    def _ids(self, parsed: _Parsed) -> None:
        """Turn the callsign/squawk columns of *parsed* into ids of this log's string table."""
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
                part[key] = table[codes] if len(codes) else np.zeros(0, np.int32)

    def _table(self, values: list[str]) -> np.ndarray:
        """Ids in this log's string table of *values* (a part's distinct strings)."""
        return np.array([self._intern(v) for v in values] or [0], dtype=np.int32)

    def _intern(self, value: str) -> int:
        found = self.string_ids.get(value)
        if found is None:
            found = self.string_ids[value] = len(self.strings)
            self.strings.append(value)
        return found

    def feed(self, parsed: _Parsed | list[_Parsed], final: bool = False) -> pd.DataFrame | None:
        """Merge what is ready of the held rows and *parsed* (one block, or the parts the
        scanner split one block into: merged as one block, in one concatenation)."""
        parts = [parsed] if isinstance(parsed, _Parsed) else parsed
        for part in parts:
            self._ids(part)
        pos = _concat([self.pos, *(p.pos for p in parts)])
        vel = _concat([self.vel, *(p.vel for p in parts)])
        ident = parts[0].ident if len(parts) == 1 else _concat([p.ident for p in parts])
        if not pos:
            self.pos = {}
            self.vel = self._recent(vel)
            self._remember(ident)
            return None
        if final:
            ready = np.ones(len(pos["t"]), dtype=bool)
        else:
            horizon = max(int(pos["t"].max()), int(vel["t"].max()) if vel else _NAT) - self.tol
            ready = pos["t"] <= horizon
        now, self.pos = _split(pos, ready)
        frame = self._merge(now, vel, ident)
        self.vel = self._recent(vel)
        self._remember(ident)
        return frame

    def _recent(self, vel: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The velocities kept for the next block: those within twice the tolerance of the latest."""
        return _split(vel, vel["t"] < int(vel["t"].max()) - 2 * self.tol)[1] if vel else {}

    def _remember(self, ident: dict[str, np.ndarray]) -> None:
        if not ident or not len(ident["t"]):
            return
        scan = _scanner()
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
        scan = _scanner()
        if scan is not None and all(not len(c) or c.min() >= 0 for c in (pcode, vcode, icode)):
            c64 = np.ascontiguousarray
            no_ids = np.zeros(0, np.int32)
            vnum = tuple(c64(vel[key]) if vel else np.zeros(0) for key in ("speed_kt", "track_deg", "vrate_fpm"))
            for key in ("speed_kt", "track_deg", "vrate_fpm"):  # filled in place: must be writable arrays
                pos[key] = c64(pos[key])
            callsign, squawk, number, uniques = scan.merge_rows(
                c64(pcode, np.int64), c64(pos["t"], np.int64), pos["speed_kt"], pos["track_deg"],
                pos["vrate_fpm"], c64(pos["callsign"], np.int32), c64(pos["squawk"], np.int32),
                c64(vcode, np.int64), c64(vel["t"], np.int64) if vel else empty, vnum,
                c64(icode, np.int64), c64(ident["t"], np.int64) if ident else empty,
                c64(ident["callsign"], np.int32) if ident else no_ids, c64(ident["squawk"], np.int32) if ident else no_ids,
                self._known("callsign") + self._known("squawk"), self.tol // 1_000_000)
            return callsign, squawk, _hex_column(number, uniques)
        pms = pos["t"] // 1_000_000  # merge keys in ms
        if len(vcode):
            j = _nearest(pcode, pms, vcode, vel["t"] // 1_000_000, self.tol // 1_000_000)
            hit = j >= 0
            for key in ("speed_kt", "track_deg", "vrate_fpm"):
                fill = hit & np.isnan(pos[key])
                pos[key][fill] = vel[key][j[fill]]
        return (self._fill(pos["callsign"].copy(), pcode, pms, ident, "callsign"),
                self._fill(pos["squawk"].copy(), pcode, pms, ident, "squawk"),
                code_to_hex(pcode, as_strings=True))

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
        scan = _scanner()
        if scan is not None:
            if self._words[0] != len(self.strings):
                self._words = (len(self.strings), _as_words(self.strings))
            if self._words[1] is not None:
                return _short_texts(scan, ids, *self._words[1])
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
        big = np.iinfo(np.int64).max // 4
        idx = np.flatnonzero(need)
        if len(icode):
            j = _nearest(pcode[idx], pms[idx], icode, ims, big, "backward")
            got = j >= 0
            arr[idx[got]] = ivalue[j[got]]
            idx = idx[~got]
        if self.last[key] and len(idx):
            keys, values = self._known(key)
            at = np.minimum(np.searchsorted(keys, pcode[idx]), len(keys) - 1)
            got = keys[at] == pcode[idx]
            arr[idx[got]] = values[at[got]]
            idx = idx[~got]
        if len(icode) and len(idx):
            j = _nearest(pcode[idx], pms[idx], icode, ims, big, "forward")
            got = j >= 0
            arr[idx[got]] = ivalue[j[got]]
        return arr


@register_format("sbs", description="SBS-1/BaseStation CSV, dump1090/readsb port 30003", sniff=_sniff, priority=10)
def iter_sbs(source: Source, settings: IngestSettings, ledger: Ledger) -> Iterator[pd.DataFrame]:
    """Yield merged position chunks from one SBS-1 log (see the module docstring). With the
    compiled scanner, the next blocks are scanned on two threads while one is merged.

    Lines are counted by the parse of each block (the scanner counts them as it goes). A gzip
    stream that breaks off still gives every row before the break, those waiting to be merged
    included, then :class:`TruncatedInput` names the line."""
    merger = _Merger(settings)
    scan = _scanner()
    line = 1  # first line of the next block to finish
    ahead: deque[tuple[np.ndarray, Callable[[], list[tuple] | None] | None, list[tuple[np.ndarray, np.ndarray]]]] = deque()
    depth = _SCAN_AHEAD if scan is not None else 1
    try:
        for block, _ in iter_blocks(source, progress=settings.progress, count=False):
            taken: list[tuple[np.ndarray, np.ndarray]] = []
            scanning = _start_scan(scan, np.frombuffer(block, dtype=np.uint8), taken) if scan is not None else None
            ahead.append((block, scanning, taken))
            if len(ahead) > depth:
                line += yield from _finish_block(*ahead.popleft(), line, source, settings, ledger, merger)
    except TruncatedInput as exc:
        while ahead:
            line += yield from _finish_block(*ahead.popleft(), line, source, settings, ledger, merger)
        yield from _flush(merger, source, ledger)
        raise TruncatedInput(exc.path, line, exc.why) from exc
    while ahead:
        line += yield from _finish_block(*ahead.popleft(), line, source, settings, ledger, merger)
    yield from _flush(merger, source, ledger)


def _flush(merger: _Merger, source: Source, ledger: Ledger) -> Iterator[pd.DataFrame]:
    """The positions the merger still holds (the last seconds of the log)."""
    frame = merger.feed(_Parsed(), final=True)
    if frame is not None and len(frame):
        yield _local_time_check(frame, source, ledger, merger.tz)


def _finish_block(
    block: np.ndarray, scanning: Callable[[], list[tuple] | None] | None, taken: list[tuple[np.ndarray, np.ndarray]],
    first_line: int,
    source: Source, settings: IngestSettings, ledger: Ledger, merger: _Merger,
) -> Generator[pd.DataFrame, None, int]:
    """Parse and merge one block; yields its chunks and returns its number of lines. The
    scanner's output space the block *taken* goes back to :data:`_SPACE` once its rows are merged."""
    parts = _parse_block_scan(block, first_line, source, ledger, scanning)
    if parts is None:
        parts = [_parse_block(bytes(block), first_line, source, settings, ledger)]
        lines = count_lines(block)
    else:
        lines = sum(p.lines for p in parts)
    frame = merger.feed(parts)  # the halves of a block merge as one block (copies: the scan's views are let go)
    del parts
    _SPACE.give(taken)
    if frame is not None and len(frame):
        yield _local_time_check(frame, source, ledger, merger.tz)
    ledger.raise_pending()
    return lines


def _local_time_check(frame: pd.DataFrame, source: Source, ledger: Ledger, tz: str) -> pd.DataFrame:
    """Rows whose local time does not exist or is ambiguous (DST changes) are dropped (none in UTC)."""
    if tz == "UTC":
        return frame
    bad = frame["time"].isna().to_numpy()
    if bad.any():
        ledger.drop(source.name, frame["source_line"].to_numpy()[bad],
                    "local time ambiguous or non-existent (DST change)", bad=False)
        frame = frame.loc[~bad]
    return frame


def read_sbs(path: str | PathLike[str], *, settings: IngestSettings = IngestSettings()) -> IngestResult:
    """Read one or more SBS-1 logs (path, directory or glob) into a validated points table.

    >>> import tempfile, pathlib
    >>> log = pathlib.Path(tempfile.mkdtemp()) / "tiny.sbs"
    >>> _ = log.write_text(
    ...     "MSG,3,1,1,4CA2D6,1,2024/05/01,12:00:00.000,2024/05/01,12:00:00.000,,3000,,,51.5,-0.1,,,0,0,0,0\\n"
    ...     "MSG,4,1,1,4CA2D6,1,2024/05/01,12:00:00.500,2024/05/01,12:00:00.500,,,140,90,,,-64,,0,0,0,0\\n")
    >>> p = read_sbs(log).points
    >>> p[["object_id", "lat", "lon", "altitude_ft", "speed_kt", "track_deg"]].values.tolist()
    [['4ca2d6', 51.5, -0.1, 3000.0, 140.0, 90.0]]
    """
    return read_logs(path, settings=replace_settings(settings, fmt="sbs"))
