"""SBS blocks parsed with pyarrow: the fast path (Arrow's CSV parser, used where numba is not
installed) and the robust path, which takes any block and names every bad line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._sbs_common import OTHER_TYPES, SBS_FIELDS, Parsed, clean_text, hex_codes
from .ledger import Ledger
from .settings import IngestSettings
from .sources import Source
from .values import HEX_VALUE, NS_FIRST_YEAR, NS_LAST_YEAR

__all__ = ["parse_block", "parse_block_fast"]

_NUMBER_RE: Final = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
_PLAIN_TIME_RE: Final = r"^\s*\d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{1,2}(:\d{1,2}(\.\d+)?)?\s*$"


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


_WANTED_FIELDS: Final = ("transmission_type", "hex_ident", "date_generated", "time_generated", "date_logged",
                         "time_logged", "callsign", "altitude", "ground_speed", "track", "lat", "lon",
                         "vertical_rate", "squawk", "is_on_ground")
_NO_POSITION: Final = "SBS messages without position (MSG,1/5/6/7/8) used for callsign/squawk or ignored"
_VELOCITY_MERGED: Final = "SBS velocity messages (MSG,4) merged into positions"
_VELOCITY_KEYS: Final = ("speed_kt", "track_deg", "vrate_fpm")


def _msg_lines(lines: pa.StringArray, split: pa.ListArray, numbers: np.ndarray, name: str, ledger: Ledger) -> np.ndarray:
    """The mask of 22-field MSG lines; other SBS lines are noted, the rest (not SBS, wrong field
    count) dropped; blank lines pass silently."""
    nfields = pc.list_value_length(split).to_numpy(zero_copy_only=False)
    kind = pc.utf8_trim_whitespace(pc.list_element(split, 0))
    is_msg = pc.equal(kind, "MSG").to_numpy(zero_copy_only=False)
    stripped_len = pc.binary_length(pc.utf8_trim_whitespace(lines)).to_numpy(zero_copy_only=False)
    blank = stripped_len == 0
    other = pc.is_in(kind, pa.array(OTHER_TYPES)).to_numpy(zero_copy_only=False)
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
    valid: np.ndarray = is_msg & (nfields == 22)
    return valid


@dataclass
class _Rows:
    """The MSG lines of a block as text fields, their line numbers, and which rows are still kept."""

    field: dict[str, pa.Array]
    numbers: np.ndarray
    name: str
    ledger: Ledger
    keep: np.ndarray

    def drop_bad_hex(self) -> pa.Array:
        """Drop rows whose address is not ICAO hex or is 000000; the trimmed lower-case addresses."""
        hexes = pc.utf8_lower(pc.utf8_trim_whitespace(self.field["hex_ident"]))
        hex_ok = pc.match_substring_regex(hexes, r"^~?[0-9a-f]{6}$").to_numpy(zero_copy_only=False)
        zero = pc.equal(hexes, "000000").to_numpy(zero_copy_only=False)
        if (~hex_ok).any():
            bad_hex = pc.filter(hexes, pa.array(~hex_ok)).to_pylist()
            self.ledger.drop(self.name, self.numbers[~hex_ok], "column 'hex_ident': not an ICAO hex address",
                             column="hex_ident",
                             detail=lambda i: f"column 'hex_ident': {bad_hex[i][:20]!r} is not an ICAO hex address")
        self.ledger.drop(self.name, self.numbers[zero], "address 000000 (no ICAO address)", bad=False)
        self.keep &= hex_ok & ~zero
        return hexes

    def times(self) -> np.ndarray:
        """Times in ns (generated, else logged); rows with junk or no time are dropped."""
        ns, missing, junk = _times(self.field["date_generated"], self.field["time_generated"])
        if missing.any():
            ns2, missing2, junk2 = _times(self.field["date_logged"], self.field["time_logged"])
            ns = np.where(missing, ns2, ns)
            junk = np.where(missing, junk2, junk)
            missing = missing & missing2
        jmask = junk & self.keep
        if jmask.any():
            dates = self.field["date_generated"].filter(pa.array(jmask)).to_pylist()
            tims = self.field["time_generated"].filter(pa.array(jmask)).to_pylist()
            self.ledger.drop(self.name, self.numbers[jmask], "column 'time_generated': not a date and time",
                             column="time_generated", detail=lambda i: f"column 'time_generated': "
                             f"{dates[i][:12]!r} {tims[i][:16]!r} is not a date and time")
        self.ledger.drop(self.name, self.numbers[missing & self.keep], "no timestamp (SBS fields 7-10 empty)", bad=False)
        self.keep &= ~junk & ~missing
        return ns

    def numeric(self, key: str, where: np.ndarray) -> np.ndarray:
        """Field *key* as floats at the rows *where* (NaN elsewhere); a row with junk there is dropped."""
        values = np.full(len(self.keep), np.nan)
        if where.any():
            sub = self.field[key].filter(pa.array(where))
            v, j = _num(sub)
            idx = np.flatnonzero(where)
            values[idx] = v
            if j.any():
                junk_txt = sub.filter(pa.array(j)).to_pylist()
                self.ledger.drop(self.name, self.numbers[idx[j]], f"column {key!r}: not a number", column=key,
                                 detail=lambda i: f"column {key!r}: {junk_txt[i].strip()[:30]!r} is not a number")
                self.keep[idx[j]] = False
        return values

    def text(self, key: str, where: np.ndarray) -> np.ndarray:
        """Cleaned text field *key* at the rows *where*, as an object array."""
        return np.asarray(clean_text(self.field[key].filter(pa.array(where))).to_numpy(zero_copy_only=False), dtype=object)


def _motion(rows: _Rows, is_pos: np.ndarray, is_vel: np.ndarray) -> dict[str, np.ndarray]:
    """Position (lat, lon, altitude) and velocity values, each read only where its message carries it
    and the row is still kept (so a row dropped for one junk field is not read further)."""
    moving = is_pos | is_vel
    return {
        "lat": rows.numeric("lat", is_pos & rows.keep),
        "lon": rows.numeric("lon", is_pos & rows.keep),
        "altitude_ft": rows.numeric("altitude", is_pos & rows.keep),
        "speed_kt": rows.numeric("ground_speed", moving & rows.keep),
        "track_deg": rows.numeric("track", moving & rows.keep),
        "vrate_fpm": rows.numeric("vertical_rate", moving & rows.keep),
    }


def _positions(rows: _Rows, codes: np.ndarray, ns: np.ndarray, values: dict[str, np.ndarray],
               pos: np.ndarray) -> dict[str, np.ndarray]:
    """The position rows *pos*: address, time, values, on-ground flag, line, callsign and squawk."""
    ground, ground_known, ground_odd = _ground_flags(rows.field["is_on_ground"])
    odd = np.flatnonzero(pos & ground_odd)
    if len(odd):
        rows.ledger.note(_ODD_GROUND, len(odd), example=f"{rows.name}:{rows.numbers[odd[0]]}: on-ground flag "
                         f"{str(rows.field['is_on_ground'][odd[0]]).strip()[:20]!r}")
    return {
        "object_id": codes[pos], "t": ns[pos], **{k: v[pos] for k, v in values.items()},
        "on_ground": np.where(ground_known[pos], ground[pos], np.nan).astype(float), "source_line": rows.numbers[pos],
        "callsign": rows.text("callsign", pos), "squawk": rows.text("squawk", pos),
    }


def _identities(rows: _Rows, codes: np.ndarray, ns: np.ndarray) -> dict[str, np.ndarray]:
    """Kept rows with a callsign or squawk: address, time, callsign and squawk."""
    keep = rows.keep
    cs = clean_text(rows.field["callsign"])
    sq = clean_text(rows.field["squawk"])
    has_ident = keep & (pc.binary_length(cs).to_numpy(zero_copy_only=False) > 0) | keep & (pc.binary_length(sq).to_numpy(zero_copy_only=False) > 0)
    return {"object_id": codes[has_ident], "t": ns[has_ident],
            "callsign": np.asarray(cs.filter(pa.array(has_ident)).to_numpy(zero_copy_only=False), dtype=object),
            "squawk": np.asarray(sq.filter(pa.array(has_ident)).to_numpy(zero_copy_only=False), dtype=object)}


def _positioned(rows: _Rows, values: dict[str, np.ndarray], is_pos: np.ndarray, is_vel: np.ndarray) -> np.ndarray:
    """The kept position rows with coordinates; notes position messages without them, and the rest."""
    keep = rows.keep
    nopos = is_pos & keep & (np.isnan(values["lat"]) | np.isnan(values["lon"]))
    rows.ledger.drop(rows.name, rows.numbers[nopos], "SBS position message without coordinates", bad=False)
    rows.ledger.note(_NO_POSITION, int((keep & ~is_pos & ~is_vel).sum()))
    rows.ledger.note(_VELOCITY_MERGED, int((keep & is_vel & ~is_pos).sum()))
    pos: np.ndarray = is_pos & keep & ~nopos
    return pos


def _velocities(vel: np.ndarray, codes: np.ndarray, ns: np.ndarray, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The velocity rows *vel* that carry any of speed, track and vertical rate."""
    vel = vel & ~(np.isnan(values["speed_kt"]) & np.isnan(values["track_deg"]) & np.isnan(values["vrate_fpm"]))
    return {"object_id": codes[vel], "t": ns[vel], **{k: values[k][vel] for k in _VELOCITY_KEYS}}


def parse_block(block: bytes, first_line: int, source: Source, settings: IngestSettings, ledger: Ledger) -> Parsed:
    """Parse any SBS block, naming every bad line in *ledger*: positions, velocities and identities."""
    lines = _lines(block)
    numbers = np.arange(first_line, first_line + len(lines), dtype=np.int64)
    split = pc.split_pattern(lines, ",")
    valid = _msg_lines(lines, split, numbers, source.name, ledger)
    msgs = split.filter(pa.array(valid))
    out = Parsed()
    if not len(msgs):
        return out
    field = {k: pc.list_element(msgs, i) for i, k in enumerate(SBS_FIELDS) if k in _WANTED_FIELDS}
    rows = _Rows(field, numbers[valid], source.name, ledger, np.ones(len(msgs), dtype=bool))
    hexes = rows.drop_bad_hex()
    ns = rows.times()
    is_pos = pc.is_in(field["transmission_type"], pa.array(["2", "3"])).to_numpy(zero_copy_only=False)
    is_vel = pc.is_in(field["transmission_type"], pa.array(["2", "4"])).to_numpy(zero_copy_only=False)
    values = _motion(rows, is_pos, is_vel)
    pos = _positioned(rows, values, is_pos, is_vel)
    codes = hex_codes(np.asarray(hexes.to_numpy(zero_copy_only=False), dtype=object), rows.keep)
    out.pos = _positions(rows, codes, ns, values, pos)
    out.vel = _velocities(is_vel & rows.keep, codes, ns, values)
    out.ident = _identities(rows, codes, ns)
    return out


_FAST_NAMES: Final = [f"f{i}" for i in range(22)]
# the first and last day (in s since 1970) of the years a time in ns can hold
_FIRST_DAY_S: Final = int(np.datetime64(f"{NS_FIRST_YEAR}-01-01", "s").astype(np.int64))
_LAST_DAY_S: Final = int(np.datetime64(f"{NS_LAST_YEAR}-12-31", "s").astype(np.int64))
_FAST_TYPES: Final = {
    "f1": pa.int8(), "f4": pa.string(), "f6": pa.timestamp("s"), "f7": pa.time64("ns"),
    "f10": pa.string(), "f11": pa.float64(), "f12": pa.float64(), "f13": pa.float64(), "f14": pa.float64(),
    "f15": pa.float64(), "f16": pa.float64(), "f17": pa.string(), "f21": pa.int8(),
}

_FAST_FLOATS: Final = {"lat": "f14", "lon": "f15", "altitude_ft": "f11", "speed_kt": "f12", "track_deg": "f13", "vrate_fpm": "f16"}


def _np(col: pa.ChunkedArray | pa.Array, dtype: type = float) -> np.ndarray:
    arr = col.to_numpy() if isinstance(col, pa.ChunkedArray) else col.to_numpy(zero_copy_only=False)
    return np.asarray(arr, dtype=dtype)


def _floats(col: pa.ChunkedArray) -> np.ndarray:
    out = np.array(col.to_numpy(), dtype=float)  # nulls -> NaN
    out[~np.isfinite(out)] = np.nan
    return out


def _line_starts(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(line ends, line starts, message kind)`` when every line is ``MSG,<1-8>,...``; else None."""
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
    return nl, ls, kind


def _read_fast(block: bytes | np.ndarray, n: int) -> pa.Table | None:
    """*block* typed by Arrow's CSV parser, or None when it does not parse cleanly into *n* rows
    with type, date and time everywhere and on-ground flags of -1, 0 or 1 only."""
    import pyarrow.csv as pcsv

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
    if table.num_rows != n:
        return None
    if table["f6"].null_count or table["f7"].null_count or table["f1"].null_count:
        return None
    if table["f21"].null_count < n and not pc.all(pc.is_in(table["f21"].drop_null(), pa.array([-1, 0, 1], pa.int8()))).as_py():
        return None  # an odd on-ground flag: the robust path names it
    return table


def _fast_codes(table: pa.Table) -> np.ndarray | None:
    """The addresses as int codes when every one is 6 hex digits; else None."""
    n = table.num_rows
    hexcol = table["f4"].combine_chunks()
    if pc.min(pc.binary_length(hexcol)).as_py() != 6 or pc.max(pc.binary_length(hexcol)).as_py() != 6:
        return None
    raw = np.frombuffer(hexcol.buffers()[2], dtype=np.uint8)
    start = hexcol.offset * 6
    digits = HEX_VALUE[raw[start:start + 6 * n].reshape(n, 6)]
    if (digits < 0).any():
        return None
    return digits @ (16 ** np.arange(5, -1, -1, dtype=np.int64))


def _fast_times(table: pa.Table) -> np.ndarray | None:
    """Times in ns from the date and time columns; None for a year a time in ns cannot hold."""
    day_s = pc.cast(table["f6"], pa.int64()).to_numpy()
    if day_s.min() < _FIRST_DAY_S or day_s.max() > _LAST_DAY_S:
        return None
    day = day_s * 1_000_000_000
    tod = pc.cast(table["f7"], pa.int64()).to_numpy()
    t: np.ndarray = day + tod
    return t


def _fast_text(arr: pa.Array, mask: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Cleaned texts of *arr* at the rows *mask* ("" where not *present*), as an object array."""
    out = np.full(int(mask.sum()), "", dtype=object)
    sub = mask & present
    if sub.any():
        vals = np.asarray(clean_text(arr.filter(pa.array(sub))).to_numpy(zero_copy_only=False), dtype=object)
        out[np.flatnonzero(sub[mask])] = vals
    return out


def _fast_parsed(table: pa.Table, codes: np.ndarray, t: np.ndarray, lines: np.ndarray, name: str, ledger: Ledger,
                 ignored: int) -> Parsed:
    """Positions, velocities and identities of a typed block (*ignored*: MSG,5/7/8 lines cut out before)."""
    values = {key: _floats(table[column]) for key, column in _FAST_FLOATS.items()}
    ttype = _np(table["f1"], np.int8)
    is_pos = (ttype == 3) | (ttype == 2)
    is_vel = (ttype == 4) | (ttype == 2)
    zero = codes == 0
    ledger.drop(name, lines[zero], "address 000000 (no ICAO address)", bad=False)
    nopos = is_pos & ~zero & (np.isnan(values["lat"]) | np.isnan(values["lon"]))
    ledger.drop(name, lines[nopos], "SBS position message without coordinates", bad=False)
    ledger.note(_NO_POSITION, int((~is_pos & ~is_vel & ~zero).sum()) + ignored)
    ledger.note(_VELOCITY_MERGED, int((is_vel & ~is_pos & ~zero).sum()))
    out = Parsed()
    pos = is_pos & ~zero & ~nopos
    out.pos = {"object_id": codes[pos], "t": t[pos], **{k: v[pos] for k, v in values.items()}, **_fast_extra(table, lines, pos)}
    out.vel = _velocities(is_vel & ~zero, codes, t, values)
    out.ident = _fast_identities(table, codes, t, ~zero)
    return out


def _fast_extra(table: pa.Table, lines: np.ndarray, pos: np.ndarray) -> dict[str, np.ndarray]:
    """On-ground flag, line, callsign and squawk of the position rows *pos* of a typed block."""
    ground = np.asarray(table["f21"].to_numpy(), dtype=float)
    on_ground = np.where(np.isnan(ground), np.nan, (ground != 0).astype(float))
    cs_len, sq_len = pc.binary_length(table["f10"]).to_numpy() > 0, pc.binary_length(table["f17"]).to_numpy() > 0
    return {"on_ground": on_ground[pos], "source_line": lines[pos],
            "callsign": _fast_text(table["f10"].combine_chunks(), pos, cs_len),
            "squawk": _fast_text(table["f17"].combine_chunks(), pos, sq_len)}


def _fast_identities(table: pa.Table, codes: np.ndarray, t: np.ndarray, named: np.ndarray) -> dict[str, np.ndarray]:
    """The rows of a typed block with an address (*named*) and a callsign or squawk."""
    cs_len, sq_len = pc.binary_length(table["f10"]).to_numpy() > 0, pc.binary_length(table["f17"]).to_numpy() > 0
    ident = named & (cs_len | sq_len)
    return {"object_id": codes[ident], "t": t[ident], "callsign": _fast_text(table["f10"].combine_chunks(), ident, cs_len),
            "squawk": _fast_text(table["f17"].combine_chunks(), ident, sq_len)}


def _skip_unwanted(block: bytes | np.ndarray, buf: np.ndarray, nl: np.ndarray, ls: np.ndarray,
                   kind: np.ndarray) -> tuple[bytes | np.ndarray, np.ndarray, int]:
    """MSG,5/7/8 carry neither position, velocity, callsign nor squawk: ``(the block without them,
    the rows left, how many were cut)``, so that Arrow does not parse them."""
    wanted = (kind <= 4) | (kind == 6)
    ignored = int((~wanted).sum())
    if not ignored:
        return block, np.arange(len(nl)), 0
    return buf[np.repeat(wanted, nl - ls + 1)].tobytes(), np.flatnonzero(wanted), ignored


def parse_block_fast(block: bytes | np.ndarray, first_line: int, source: Source, ledger: Ledger) -> Parsed | None:
    """The common case, fully typed by Arrow's multithreaded CSV parser; None -> use the robust path.

    Applies only when every line is a 22-field MSG line with numbers, dates and 6-digit hex
    where they belong; any oddity sends the block to :func:`parse_block`. MSG,5/7/8 lines
    (altitude-only and all-call messages) are cut out with numpy before Arrow parses the rest.
    """
    buf = np.frombuffer(block, dtype=np.uint8)
    starts = _line_starts(buf)
    if starts is None:
        return None
    block, rows, ignored = _skip_unwanted(block, buf, *starts)
    if not len(rows):
        ledger.note(_NO_POSITION, ignored)
        return Parsed()
    table = _read_fast(block, len(rows))
    if table is None:
        return None
    codes, t = _fast_codes(table), _fast_times(table)
    if codes is None or t is None:
        return None
    return _fast_parsed(table, codes, t, first_line + rows, source.name, ledger, ignored)
