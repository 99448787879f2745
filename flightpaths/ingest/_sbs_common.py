"""What the SBS readers share: the field names, a parsed block (:class:`Parsed`), aircraft codes
as hex ids, short texts as string columns, and the compiled scanner when numba is there."""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["NAT", "NON_ICAO_BIT", "OTHER_TYPES", "SBS_FIELDS", "Parsed", "as_words", "clean_text", "code_to_hex", "hex_codes",
           "hex_column", "scanner", "short_texts"]

#: the 22 field names of an SBS-1 line, in order
SBS_FIELDS: Final = (
    "message_type", "transmission_type", "session_id", "aircraft_id", "hex_ident", "flight_id",
    "date_generated", "time_generated", "date_logged", "time_logged", "callsign", "altitude",
    "ground_speed", "track", "lat", "lon", "vertical_rate", "squawk", "alert", "emergency", "spi",
    "is_on_ground",
)
OTHER_TYPES: Final = ("SEL", "ID", "AIR", "STA", "CLK")


def clean_text(a: pa.Array) -> pa.Array:
    """Text from data: control characters removed, surrounding blanks stripped."""
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(a, r"[\x00-\x1f\x7f]", ""))


class Parsed:
    """The useful rows of one block, as numpy arrays (positions, velocities, identities)."""

    def __init__(self) -> None:
        self.pos: dict[str, np.ndarray] = {}
        self.vel: dict[str, np.ndarray] = {}
        self.ident: dict[str, np.ndarray] = {}
        # callsign and squawk are either object arrays of str ("" = none) or, when a key is
        # here, int32 ids into these values (id 0 = "")
        self.texts: dict[str, list[str]] = {}
        self.lines = 0  # lines of the log this part covers (set by the compiled scanner's path)
        self.interned = False  # callsign and squawk already ids of a merger's string table


NAT: Final = np.iinfo(np.int64).min


NON_ICAO_BIT: Final = 1 << 24


def hex_codes(hexes: np.ndarray, keep: np.ndarray) -> np.ndarray:
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
    scan = scanner()
    found = scan.factorize_codes(np.ascontiguousarray(codes, np.int64)) if scan is not None else None
    inv, uniq = found if found is not None else pd.factorize(codes)
    if as_strings:
        return hex_column(inv, uniq)
    return np.array(hex_names(uniq), dtype=object)[inv]


def hex_names(uniq: np.ndarray) -> list[str]:
    return [("~" if c & NON_ICAO_BIT else "") + f"{c & 0xFFFFFF:06x}" for c in uniq.tolist()]


def hex_column(inv: np.ndarray, uniq: np.ndarray) -> Any:
    """A pandas string column of the codes ``uniq[inv]`` as hex."""
    scan = scanner()
    if scan is not None:
        return short_texts(scan, inv, *scan.hex_words(np.ascontiguousarray(uniq, np.int64), NON_ICAO_BIT))
    dictionary = pa.DictionaryArray.from_arrays(pa.array(inv.astype(np.int32, copy=False)),
                                                pa.array(hex_names(uniq), pa.string()))
    return pd.array(pc.cast(dictionary, pa.string()), dtype="string")


def as_words(texts: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """*texts* as little-endian 8-byte words and lengths ("": null, -1) for :func:`short_texts`;
    None when one is longer than 8 bytes."""
    encoded = [text.encode() for text in texts]
    if any(len(b) > 8 for b in encoded):
        return None
    words = np.frombuffer(b"".join(b.ljust(8, b"\0") for b in encoded), np.uint64).copy()
    return words, np.array([len(b) or -1 for b in encoded], np.int64)


def short_texts(scan: Any, ids: np.ndarray, words: np.ndarray, lengths: np.ndarray) -> Any:
    """A pandas string column of the texts of at most 8 bytes ``words[ids]`` (:func:`._sbs_scan.take_words`;
    length -1: null), built in Arrow's layout directly: ~5x faster than a dictionary cast."""
    offsets, data, valid, nulls = scan.take_words(np.ascontiguousarray(ids), words, lengths)
    arr = pa.LargeStringArray.from_buffers(len(ids), pa.py_buffer(offsets), pa.py_buffer(data),
                                           pa.py_buffer(valid) if nulls else None, nulls)
    return pd.arrays.ArrowStringArray(arr)


def scanner() -> Any:
    """The compiled scanner module, or None where numba is not installed (then pyarrow parses)."""
    global _SCAN
    if _SCAN is False:
        from . import _sbs_scan

        _SCAN = _sbs_scan if _sbs_scan.COMPILED else None
    return _SCAN


_SCAN: Any = False
