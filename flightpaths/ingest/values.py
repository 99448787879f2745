"""Value conversion shared by the readers: numbers, texts, times, booleans and ids from
raw columns, each with the mask of junk values it found."""

from __future__ import annotations

import re
from typing import Any, Final, TypeGuard

import numpy as np
import pandas as pd

from .ledger import Ledger
from .settings import MAX_TEXT_CHARS

__all__ = ["HEX_VALUE", "NS_FIRST_YEAR", "NS_LAST_YEAR", "blank", "drop_junk", "epoch_to_time", "hex_ids", "is_json_number",
           "localize", "object_ids", "to_bool", "to_float", "to_text", "to_time", "too_long"]

#: value of each byte as a hex digit (ICAO addresses), -1 for bytes that are not one
HEX_VALUE: Final = np.full(256, -1, np.int64)
HEX_VALUE[48:58] = np.arange(10)
HEX_VALUE[97:103] = np.arange(10, 16)
HEX_VALUE[65:71] = np.arange(10, 16)
#: the whole years a time in ns since 1970 (int64) can hold; outside them it wraps around silently
NS_FIRST_YEAR: Final = 1678
NS_LAST_YEAR: Final = 2261


_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def is_json_number(value: Any) -> TypeGuard[float]:
    """A finite JSON number (not a boolean, not a string, not Infinity or NaN).

    >>> [is_json_number(v) for v in (1, 2.5, True, "3", float("inf"), None)]
    [True, True, False, False, False, False]
    """
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value))


def blank(raw: pd.Series) -> np.ndarray:
    """True where *raw* holds no value (None, NaN, empty or blank string)."""
    isna: np.ndarray = raw.isna().to_numpy()
    if raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype):
        stripped = raw.astype("string").str.strip()
        empty: np.ndarray = (stripped == "").fillna(True).to_numpy(dtype=bool)
        either: np.ndarray = isna | empty
        return either
    return isna


def to_float(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(values, junk)``: floats (NaN where blank or junk) and a mask of non-blank junk.

    Infinite values ("inf", "1e999") stay infinite: the checks every chunk goes through blank
    them and name their file, line and column (see :data:`.settings.PLAUSIBLE`).
    """
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = np.array(raw.to_numpy(dtype=float, na_value=np.nan), dtype=float)
        return values, np.zeros(len(raw), dtype=bool)
    values = np.array(pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan), dtype=float)
    junk = np.isnan(values) & ~blank(raw)
    if junk.any():  # "nan"/"inf" words parse as floats; anything else is junk
        text = raw[junk].astype("string").str.strip().str.lower()
        nanword = text.isin(["nan", "null", "none", "na", "n/a"]).to_numpy(dtype=bool)
        idx = np.flatnonzero(junk)
        junk[idx[nanword]] = False
    return values, junk


def to_text(raw: pd.Series) -> pd.Series:
    """Stripped strings; blank becomes <NA>; control characters and lone surrogates (from broken
    JSON escapes) removed; at most :data:`MAX_TEXT_CHARS` characters (see :func:`too_long`)."""
    s = raw.astype("string").str.replace(r"[\x00-\x1f\x7f\ud800-\udfff]", "", regex=True).str.strip()
    s = s.str.slice(0, MAX_TEXT_CHARS)
    return s.mask(s == "")


def too_long(raw: pd.Series) -> np.ndarray:
    """True where a text value is longer than :data:`MAX_TEXT_CHARS` (it is cut to that length)."""
    if pd.api.types.is_numeric_dtype(raw.dtype) or pd.api.types.is_bool_dtype(raw.dtype):
        return np.zeros(len(raw), bool)
    lengths = raw.astype("string").str.len()
    long: np.ndarray = (lengths > MAX_TEXT_CHARS).fillna(False).to_numpy(bool)
    return long


def localize(times: pd.Series, tz: str) -> pd.Series:
    """Naive local times in *tz* -> UTC (ambiguous or non-existent local times become NaT)."""
    if times.dt.tz is not None:
        return times.dt.tz_convert("UTC")
    if tz == "UTC":
        return times.dt.tz_localize("UTC")
    return times.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")


def epoch_to_time(values: np.ndarray, unit: str = "auto") -> pd.Series:
    """Epoch numbers (seconds, or milliseconds when *unit* is ``ms``; auto: each value over 1e11 is ms) -> UTC;
    NaT for a negative number or one past the year 2262."""
    scale: np.ndarray | float
    if unit == "auto":  # per value: epoch seconds are < 1e11 until the year 5138
        scale = np.where(np.abs(values) > 1e11, 1e3, 1e6)
    else:
        scale = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}[unit]
    with np.errstate(over="ignore", invalid="ignore"):  # an absurd number becomes NaT below, silently
        ns = np.round(values * scale) * 1000.0  # microsecond rounding hides float noise
    ok = np.isfinite(ns) & (ns >= 0) & (ns < 9.2e18)  # before 1970 no log was written: a negative epoch is junk
    out = np.full(values.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    out[ok] = ns[ok].astype(np.int64).astype("datetime64[ns]")
    return pd.Series(out).dt.tz_localize("UTC")


def _within_ns(parsed: pd.Series) -> pd.Series:
    """*parsed* with NaT for times a datetime64[ns] cannot hold (pandas parses "0002-05-01" at a
    coarser unit; converting it to ns would fail for the whole column)."""
    lo, hi = pd.Timestamp("1677-09-22"), pd.Timestamp("2262-04-11")
    if getattr(parsed.dt, "tz", None) is not None:
        lo, hi = lo.tz_localize("UTC"), hi.tz_localize("UTC")
    return parsed.where((parsed >= lo) & (parsed <= hi))


def _times_of_text(text: pd.Series, empty: np.ndarray, tz: str, epoch_unit: str) -> pd.Series:
    """Times (UTC) of stripped texts: epoch numbers, date-times with a zone, and naive ones read in *tz*."""
    numeric = text.str.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?").fillna(False).to_numpy(dtype=bool)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    if numeric.any():
        values = pd.to_numeric(text[numeric], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        out[numeric] = epoch_to_time(values, epoch_unit).to_numpy()
    # "07:41:03Z.515" (FR24 granular) -> "07:41:03.515Z"
    text = text.str.replace(r"Z\.(\d+)$", r".\1Z", regex=True)
    aware = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).fillna(False).to_numpy(dtype=bool) & ~numeric
    if aware.any():
        parsed = _within_ns(pd.to_datetime(text[aware], errors="coerce", utc=True, format="mixed"))
        out[aware] = parsed.astype("datetime64[ns, UTC]")
    naive = ~aware & ~empty & ~numeric
    if naive.any():
        parsed = _within_ns(pd.to_datetime(text[naive], errors="coerce", format="mixed")).astype("datetime64[ns]")
        out[naive] = localize(parsed, tz).astype("datetime64[ns, UTC]")
    return out


def to_time(raw: pd.Series, *, tz: str = "UTC", unit: str = "auto") -> tuple[pd.Series, np.ndarray]:
    """``(times UTC, junk)`` from epoch numbers or date-time strings (naive ones are in *tz*).

    Each value is judged on its own: epoch numbers and date-time text may be mixed in one
    column, and a value that is neither is junk for its row only.

    >>> times, junk = to_time(pd.Series(["1714564800", "not a time", "2024-05-01T12:01:00Z"]))
    >>> [str(t) for t in times], junk.tolist()
    (['2024-05-01 12:00:00+00:00', 'NaT', '2024-05-01 12:01:00+00:00'], [False, True, False])
    """
    raw = raw.reset_index(drop=True)
    epoch_unit = unit if unit in ("s", "ms", "us", "ns") else "auto"
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values, junk = to_float(raw)
        times = epoch_to_time(values, epoch_unit)
        return times, junk | (times.isna().to_numpy() & ~np.isnan(values))  # a number that is no time is named
    empty = blank(raw)
    out = _times_of_text(raw.astype("string").str.strip(), empty, tz, epoch_unit)
    junk = out.isna().to_numpy() & ~empty
    return out, junk


def drop_junk(
    frame: pd.DataFrame,
    junk: np.ndarray,
    raw: pd.Series,
    column: str,
    what: str,
    *,
    path: str,
    lines: np.ndarray,
    ledger: Ledger,
) -> np.ndarray:
    """Record rows whose *column* held junk (``'abc' is not a number``); return the keep mask."""
    if junk.any():
        idx = np.flatnonzero(junk)
        values = raw.iloc[idx].astype("string").tolist()
        ledger.drop(
            path,
            lines[idx],
            f"column {column!r}: not {what}",
            column=column,
            detail=lambda i: f"column {column!r}: {str(values[i])[:60]!r} is not {what}",
        )
    return ~junk


def object_ids(raw: pd.Series) -> pd.Series:
    """Object ids from any id column: ICAO hex addresses lowercased (they are case-blind), any
    other id kept exactly as written (``N917PD`` and ``n917pd`` are two objects).

    >>> object_ids(pd.Series(["ABC123", "Heli-1", "heli-1", "~A1B2C3"])).tolist()
    ['abc123', 'Heli-1', 'heli-1', '~a1b2c3']
    """
    s = to_text(raw).reset_index(drop=True)
    hexlike = s.str.fullmatch(r"~?[0-9A-Fa-f]{6}").fillna(False).to_numpy(bool)
    return s.where(~hexlike, s.str.lower())


def hex_ids(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``(ids, junk)``: ICAO hex lowercased (``0x`` dropped, ``~`` kept); junk = not hex."""
    s = to_text(raw).str.lower().str.replace(r"^0x", "", regex=True)
    ok = s.str.fullmatch(r"~?[0-9a-f]{1,6}").fillna(False).to_numpy(dtype=bool)
    junk = ~ok & s.notna().to_numpy()
    s = s.where(ok)
    padded = s.str.replace(r"^(~?)([0-9a-f]+)$", lambda m: m.group(1) + m.group(2).zfill(6), regex=True)
    return padded, junk


_TRUE = {"true", "t", "1", "-1", "yes", "y", "g", "ground"}
_FALSE = {"false", "f", "0", "no", "n", "a", "air", "airborne"}


def to_bool(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``(nullable booleans, junk)`` from true/false, 1/0/-1, yes/no, G/A (ground/air)."""
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("boolean").reset_index(drop=True), np.zeros(len(raw), bool)
    text = to_text(raw).str.lower().reset_index(drop=True)
    out = pd.Series(pd.NA, index=text.index, dtype="boolean")
    out[text.isin(_TRUE).fillna(False).to_numpy(bool)] = True
    out[text.isin(_FALSE).fillna(False).to_numpy(bool)] = False
    junk = out.isna().to_numpy() & text.notna().to_numpy()
    return out, junk


