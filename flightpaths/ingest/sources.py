"""Sources: files, gzip and other encodings, sniffing heads, and reading them in blocks of bytes."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import weakref
import zlib
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import numpy as np

from ..errors import InputError
from ._decode import (
    Decoding,
    PieceStream,
    display_name,
    gunzip_pieces,
    has_byte,
    lone_crs_to_lf,
    mend_block,
    mend_pieces,
    sniff_decoding,
)

__all__ = ["HEAD_BYTES", "MAX_LINE_BYTES", "PROGRESS_MIN_BYTES", "Head", "Source", "TruncatedInput", "count_lines", "csv_header",
           "iter_blocks", "looks_like_csv_with", "unique_names"]

HEAD_BYTES: Final = 65536
#: a "line" longer than this without a line end is cut there (bounds memory on files without any)
MAX_LINE_BYTES: Final = 1 << 20
#: inputs bigger than this (bytes on disk) get a progress bar when progress is on
PROGRESS_MIN_BYTES: Final = 4 * 1024 * 1024


@dataclass(frozen=True)
class Head:
    """The first bytes of a (decompressed) file, for content-based format detection."""

    path: Path
    data: bytes
    gzipped: bool

    @property
    def is_parquet(self) -> bool:
        return self.data[:4] == b"PAR1"

    @property
    def is_binary(self) -> bool:
        if self.is_parquet or not self.data:
            return False
        sample = self.data[:4096]
        if b"\x00" in sample:
            return True
        text = sample.decode("utf-8", errors="replace")
        odd = sum(1 for ch in text if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\r\n\t\f"))
        return odd > max(16, len(text) // 50)

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace").lstrip("\ufeff")

    def lines(self, n: int = 5) -> list[str]:
        """The first *n* non-empty lines (the last one may be cut short)."""
        return [ln.strip() for ln in self.text.splitlines() if ln.strip()][:n]

    @property
    def first_char(self) -> str:
        stripped = self.text.lstrip()
        return stripped[:1]

    def parquet_columns(self) -> list[str]:
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(self.path).names)
        except Exception:  # noqa: BLE001 - a broken parquet file is simply not this format
            return []


#: a JSON escape of half a surrogate pair without its other half (text that cannot be UTF-8)
_LONE_SURROGATE: Final = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")


class Source:
    """One input file: its name for messages (printable), its size, and (gzip-transparent,
    mended: see :mod:`._decode`) opening. A file that cannot be opened, or is not a regular
    file (a FIFO, a device, a symlink loop), raises :class:`InputError` naming it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = display_name(str(path))
        try:
            st = os.stat(path)
            if not stat.S_ISREG(st.st_mode):
                raise InputError("not a regular file (a FIFO, socket or device)", path=self.name)
            self.size = st.st_size
            with open(path, "rb") as fh:
                self.gzipped = fh.read(2) == b"\x1f\x8b"
        except OSError as exc:
            raise InputError(f"cannot be read ({exc.strerror or exc})", path=self.name) from exc
        self.trailing_bytes = 0
        self._decoding: Decoding | None = None

    @property
    def decoding(self) -> Decoding:
        """How the content is mended (judged once from its first bytes)."""
        if self._decoding is None:
            self._decoding = sniff_decoding(self._raw_head())
        return self._decoding

    def _trailing(self, n: int) -> None:
        self.trailing_bytes = n

    def _raw_pieces(self, raw: IO[bytes], block_bytes: int = 1 << 20) -> Iterator[bytes]:
        if self.gzipped:
            yield from gunzip_pieces(raw, block_bytes, self._trailing)
            return
        while True:
            piece = raw.read(block_bytes)
            if not piece:
                return
            yield piece

    def pieces(self, raw: IO[bytes], block_bytes: int = 1 << 20) -> Iterator[bytes]:
        """The mended content of *raw* (this file opened in binary) in pieces."""
        return mend_pieces(self._raw_pieces(raw, block_bytes), self.decoding)

    def open(self) -> IO[bytes]:
        """A binary stream of the content: decompressed when the file is gzip, mended UTF-8."""
        raw = open(self.path, "rb")  # noqa: SIM115 - closed by the caller through the wrapper
        return io.BufferedReader(PieceStream(self.pieces(raw), closing=raw.close), buffer_size=1 << 20)

    def _raw_head(self) -> bytes:
        if not self.gzipped:
            with open(self.path, "rb") as fh:
                return fh.read(HEAD_BYTES)
        data = b""
        try:
            with open(self.path, "rb") as raw:
                for piece in gunzip_pieces(raw, HEAD_BYTES):
                    data += piece
                    if len(data) >= HEAD_BYTES:
                        break
        except (OSError, EOFError, zlib.error) as exc:
            if not data:
                raise InputError(f"corrupt gzip file ({exc})", path=self.name) from exc
        return data[:HEAD_BYTES]

    def head(self) -> Head:
        """The first 64 KiB of content, mended. A gzip stream that breaks off within them gives what
        decompressed before the break (the reader then keeps those lines and names the break);
        one that gives nothing raises :class:`InputError`."""
        raw = self._raw_head()
        self._decoding = self._decoding or sniff_decoding(raw)
        data = b"".join(mend_pieces(iter([raw]), self._decoding))
        return Head(self.path, data[:HEAD_BYTES], self.gzipped)

    def read_all(self) -> bytes:
        """The whole content (for JSON and other formats that cannot be streamed by line). A gzip
        stream that breaks off raises :class:`TruncatedInput` naming the line where it broke (a
        whole-file format keeps nothing of it; the run counts the file as read in part)."""
        got: list[bytes] = []
        try:
            with open(self.path, "rb") as raw:
                got.extend(self.pieces(raw))
        except (EOFError, zlib.error) as exc:
            line = sum(piece.count(b"\n") for piece in got) + 1
            raise TruncatedInput(self.name, line, f"{exc}; nothing of a whole-file format is kept") from exc
        except OSError as exc:
            raise InputError(f"cannot be read ({exc.strerror or exc})", path=self.name) from exc
        return b"".join(got)

    def read_json(self) -> Any:
        """The whole content parsed as JSON; invalid or too deeply nested JSON is an
        :class:`InputError` naming the file."""
        try:
            return json.loads(_LONE_SURROGATE.sub(rb"\\ufffd", self.read_all()))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"not valid JSON ({exc})", path=self.name) from exc
        except RecursionError as exc:
            raise InputError("JSON nested too deeply to be a log", path=self.name) from exc


def iter_blocks(
    source: Source, *, block_bytes: int = 1 << 24, progress: bool = False, count: bool = True
) -> Iterator[tuple[np.ndarray, int]]:
    """Yield ``(block, first_line)`` pieces of *source* cut at line ends; lines are 1-based.

    Each block is a new uint8 array of whole lines (the last one ends with a newline). Plain
    files are read straight into it (no copies of the bytes); gzip files are decompressed
    piece by piece. A gzip stream that breaks off raises :class:`TruncatedInput` after the
    lines before the break have been yielded. Without *count* the lines are not counted
    (``first_line`` is 0, also in the :class:`TruncatedInput`): for a reader that counts them
    while parsing.
    """
    from tqdm import tqdm

    show = progress and source.size >= PROGRESS_MIN_BYTES
    with open(source.path, "rb") as raw, tqdm(
        total=source.size, unit="B", unit_scale=True, desc=source.path.name, disable=not show, leave=False
    ) as bar, ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as pool:
        fast = not source.gzipped and source.decoding.plain
        pieces = _read_arrays(raw, block_bytes) if fast else _piece_arrays(source.pieces(raw, block_bytes), raw)
        line = 1 if count else 0
        rest = np.empty(0, np.uint8)
        last = 0
        ahead = pool.submit(next, pieces, None)  # the next piece is read while the caller works
        while True:
            try:
                got = ahead.result()
            except (OSError, EOFError, zlib.error) as exc:
                if len(rest):
                    yield np.append(rest, np.uint8(10)), line
                    line += 1 if count else 0
                raise TruncatedInput(source.name, line, str(exc)) from exc
            if got is None:
                break
            piece, head, where = got
            ahead = pool.submit(next, pieces, None)
            bar.update(where - last)
            last = where
            if len(rest) <= head:  # a plain-file piece leaves room before its bytes for the last line
                data = piece[head - len(rest):]
                if len(rest):
                    data[: len(rest)] = rest
            else:
                data = np.concatenate([rest, piece[head:]])
            if fast:  # universal newlines (the mended path does this in mend_pieces)
                lone_crs_to_lf(data)
            cut = _last_newline(data)
            if cut < 0:
                if len(data) < max(block_bytes, MAX_LINE_BYTES):
                    rest = data
                    continue
                # no line end in a whole block: cut it here (the reader names the overlong line)
                data, cut = np.append(data, np.uint8(10)), len(data)
            block, rest = data[: cut + 1], data[cut + 1 :].copy()
            if fast and has_byte(block, 0):  # NUL bytes: mend them (dropped at a line start, else a line end)
                block = np.frombuffer(mend_block(block.tobytes()), np.uint8)
            yield block, line
            line += count_lines(block) if count else 0
        if len(rest):
            yield np.append(rest, np.uint8(10)), line


_HEAD: Final = 1 << 16  # room before each plain-file piece for the previous piece's unfinished line


def _read_arrays(raw: IO[bytes], block_bytes: int) -> Iterator[tuple[np.ndarray, int, int]]:
    """A plain file in pieces of about *block_bytes*: ``(array, head, position)``, the bytes in
    ``array[head:]`` read straight into it after :data:`_HEAD` free bytes (where the caller puts
    the unfinished last line of the piece before, so no bytes are copied twice); *position*
    is the file offset after the piece.

    A piece's memory is read into again once the piece and every view of it are gone (fresh
    memory costs a page fault and the zeroing of each page on first touch, about as much as
    the read itself): each piece is an array over memory it does not own, so its views keep
    it alive, and a finalizer gives the memory back when it goes."""
    free: list[np.ndarray] = []
    while True:
        try:
            memory = free.pop()
        except IndexError:
            memory = np.empty(_HEAD + block_bytes, np.uint8)
        piece = np.frombuffer(memory.data, np.uint8)
        if piece[:0].base is piece:  # views of it refer to it, not to *memory* (numpy stops at a non-array base)
            weakref.finalize(piece, free.append, memory)
        got = raw.readinto(piece.data[_HEAD:])  # type: ignore[attr-defined]
        if not got:
            return
        yield piece[: _HEAD + got], _HEAD, raw.tell()
        del piece


def _piece_arrays(pieces: Iterator[bytes], raw: IO[bytes]) -> Iterator[tuple[np.ndarray, int, int]]:
    for piece in pieces:
        yield np.frombuffer(piece, np.uint8), 0, raw.tell()


def _last_newline(data: np.ndarray) -> int:
    """Index of the last newline in *data* (-1 when none)."""
    tail = 1 << 16
    while True:
        found = data[-tail:].tobytes().rfind(b"\n")
        if found >= 0:
            return len(data) - min(tail, len(data)) + found
        if tail >= len(data):
            return -1
        tail *= 16


def count_lines(block: np.ndarray) -> int:
    """Newlines in *block* (compiled where numba is installed)."""
    global _COUNT
    if _COUNT is None:
        from ._sbs_scan import COMPILED, count_newlines

        _COUNT = count_newlines if COMPILED else (lambda b: int(np.count_nonzero(b == 10)))
    return int(_COUNT(block))


_COUNT: Any = None


class TruncatedInput(Exception):
    """A compressed stream that broke off part-way (rows before it are kept)."""

    def __init__(self, path: str, line: int, why: str) -> None:
        super().__init__(f"{path}: corrupt or truncated gzip stream near line {line} ({why})")
        self.path, self.line, self.why = path, line, why


def csv_header(head: Head, skip_lines: int = 0) -> list[str]:
    """The stripped, lowercased column names on the first line (after *skip_lines*) of *head*."""
    import csv

    lines = head.text.splitlines()[skip_lines:skip_lines + 1]
    if not lines:
        return []
    return [h.strip().strip('"').lower() for h in next(csv.reader(lines))]


def unique_names(header: list[str]) -> list[str]:
    """Column names made unique (``name``, ``name_2``) with blanks named ``_unnamed_<i>``.

    >>> unique_names(["adshex", "name", "name", ""])
    ['adshex', 'name', 'name_2', '_unnamed_3']
    """
    out: list[str] = []
    taken: set[str] = set()
    next_k: dict[str, int] = {}
    for i, h in enumerate(header):
        name = h if h else f"_unnamed_{i}"
        base, k = name, next_k.get(name, 2)
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        next_k[base] = k
        out.append(name)
        taken.add(name)
    return out


def looks_like_csv_with(head: Head, columns: Mapping[str, str]) -> bool:
    """True when the header of *head* names every source column of a ``--columns`` mapping."""
    header = set(csv_header(head))
    wanted = {str(v).split(":")[0].strip().lower() for v in columns.values()}
    return bool(wanted) and wanted <= header
