"""SBS blocks through the compiled scanner: each block's halves on two threads, output space
kept from block to block, callsigns and squawks as ids into one table of cleaned texts."""

from __future__ import annotations

import mmap
import threading
from collections.abc import Callable
from typing import Any, Final

import numpy as np
import pyarrow as pa

from ._sbs_arrow import parse_block_fast
from ._sbs_common import Parsed, clean_text, scanner
from .ledger import Ledger
from .sources import Source, count_lines

__all__ = ["PARALLEL_MIN_BYTES", "SCAN_AHEAD", "SPACE", "parse_block_scan", "start_scan"]


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
    for k, v in enumerate(clean_text(arr).to_pylist(), start=1):
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
        rows = int(scanner().scan_space_rows(size))
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


def _scan_part(scan: Any, buf: np.ndarray, space: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:
    """:func:`_sbs_scan.scan_split` of *buf* (into *space* when given: :func:`._sbs_scan.scan_into`),
    and its callsigns and squawks as ids into lists of distinct values (None when one is not
    UTF-8). Runs on a scanner thread: the compiled parts release the GIL."""
    scanned = scan.scan_split(buf, scan.POW10) if space is None else scan.scan_into(buf, scan.POW10, *space)
    if not scanned[0]:
        return scanned, None
    text, words = scanned[9][2], scanned[9][3]
    callsigns, squawks = _texts(buf, scan, text[0], text[1], words[0]), _texts(buf, scan, text[2], text[3], words[1])
    return scanned, (callsigns, squawks) if callsigns is not None and squawks is not None else None


def start_scan(scan: Any, buf: np.ndarray,
                taken: list[tuple[np.ndarray, np.ndarray]] | None = None) -> Callable[[], list[tuple[Any, ...]] | None]:
    """Start :func:`_scan_part` on the two halves of a large block on the scanner's two
    threads and return a function that waits for both and gives ``(scan, texts, lines
    before)`` for each, first half first (None when either found a line it
    does not take, or text that is not UTF-8). The caller works on the previous block
    meanwhile. With *taken*, the parts are scanned into output space from :data:`SPACE`, added
    to *taken* for the caller to give back once the block is merged."""
    cut = _half_cut(buf)
    if not cut or cut == len(buf):
        whole, texts = _scan_part(scan, buf, _room(taken, buf))
        done = [(whole, texts, 0)] if whole[0] and texts is not None else None
        return lambda: done
    pool = _scan_pool()
    first = pool.submit(_scan_part, scan, buf[:cut], _room(taken, buf[:cut]))
    second = pool.submit(_scan_part, scan, buf[cut:], _room(taken, buf[cut:]))

    def join() -> list[tuple[Any, ...]] | None:
        (a, a_texts), (b, b_texts) = first.result(), second.result()
        if not (a[0] and b[0]) or a_texts is None or b_texts is None:
            return None
        return [(a, a_texts, 0), (b, b_texts, a[1])]

    return join


def _room(taken: list[tuple[np.ndarray, np.ndarray]] | None, part: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Output space for scanning *part*, taken from :data:`SPACE` and noted in *taken* (None without *taken*)."""
    if taken is None:
        return None
    taken.append(SPACE.take(len(part)))
    return taken[-1]


def _half_cut(buf: np.ndarray) -> int:
    """Where to cut a large block in two: after the first line end past its middle (0: do not cut)."""
    cut = 0
    if len(buf) >= PARALLEL_MIN_BYTES:
        found = np.flatnonzero(buf[len(buf) // 2:len(buf) // 2 + (1 << 16)] == 10)
        if len(found):
            cut = len(buf) // 2 + int(found[0]) + 1
    return cut


def _scan_pool() -> Any:
    """The scanner's two threads (started on first use)."""
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sbs-scan")
    return _POOL


PARALLEL_MIN_BYTES: Final = 1 << 22
#: blocks scanned ahead of the one being merged: with two, the scanner threads stay busy while
#: the merge of a block takes longer than their scan of the next
SCAN_AHEAD: Final = 2
#: the scanner's output space, kept for the next blocks and logs: two halves for each block in flight
SPACE: Final = _ScanSpace(keep=2 * (SCAN_AHEAD + 1))


def parse_block_scan(
    block: bytes | np.ndarray, first_line: int, source: Source, ledger: Ledger,
    scanning: Callable[[], list[tuple[Any, ...]] | None] | None = None,
) -> list[Parsed] | None:
    """The common case with the compiled scanner: same lines accepted, same results as
    :func:`parse_block_fast`, one :class:`Parsed` per part scanned; None -> the robust
    path. *scanning*: the block's scan, when started before (:func:`start_scan`)."""
    scan = scanner()
    if scan is None:
        parsed = parse_block_fast(block, first_line, source, ledger)
        if parsed is None:
            return None
        parsed.lines = count_lines(np.frombuffer(block, dtype=np.uint8))
        return [parsed]
    parts = (scanning or start_scan(scan, np.frombuffer(block, dtype=np.uint8)))()
    if parts is None:
        return None
    return [_from_scan(scanned, callsigns, squawks, first_line + lines_before, source, ledger)
            for scanned, (callsigns, squawks), lines_before in parts]


def _note_scan(scanned: tuple[Any, ...], first_line: int, source: Source, ledger: Ledger) -> None:
    """Tell the ledger what a scan left out: rows without an address or coordinates, and the
    messages that carry no position."""
    _ok, _n, ignored, other, vel_only, zero, nopos = scanned[:7]
    if len(zero):
        ledger.drop(source.name, first_line + zero, "address 000000 (no ICAO address)", bad=False)
    if len(nopos):
        ledger.drop(source.name, first_line + nopos, "SBS position message without coordinates", bad=False)
    ledger.note("SBS messages without position (MSG,1/5/6/7/8) used for callsign/squawk or ignored", other + ignored)
    ledger.note("SBS velocity messages (MSG,4) merged into positions", vel_only)


def _from_scan(scanned: tuple[Any, ...], callsigns: tuple[np.ndarray, list[str]], squawks: tuple[np.ndarray, list[str]],
               first_line: int, source: Source, ledger: Ledger) -> Parsed:
    """One :func:`_sbs_scan.scan_split` result (and its text ids) as a :class:`Parsed`; its
    drops and notes go to the ledger."""
    _note_scan(scanned, first_line, source, ledger)
    pos, vel, ident = scanned[7:10]
    out = Parsed()
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
