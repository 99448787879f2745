"""The machinery every reader shares: settings, the format registry, sources, the ledger of
dropped rows, value conversion, and :func:`read_logs` which ties them together.

A reader is a generator ``read(source, settings, ledger)`` registered with
:func:`register_format`. It yields chunks of points (a DataFrame with some of the columns of
:data:`flightpaths.schema.POINT_COLUMNS` plus ``source_line``) and tells the :class:`Ledger`
about every row it drops and why. :func:`read_logs` checks the chunks once more (ids, times,
coordinates), removes duplicates, orders each object's points by time and validates the table.
"""

from __future__ import annotations

import dataclasses
import glob
import io
import json
import logging
import os
import re
import stat
import weakref
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import IO, Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from ..errors import InputError, UnsupportedFormatError
from ..schema import OPTIONAL_COLUMNS, POINT_COLUMNS, empty_points, validate_points
from ._decode import Decoding, PieceStream, display_name, gunzip_pieces, mend_block, mend_pieces, sniff_decoding

log = logging.getLogger(__name__)

__all__ = [
    "Col",
    "FORMATS",
    "Format",
    "Head",
    "IngestReport",
    "IngestResult",
    "IngestSettings",
    "Ledger",
    "Source",
    "build_points",
    "csv_header",
    "detect_format",
    "expand_inputs",
    "expand_paths",
    "get_format",
    "iter_blocks",
    "iter_csv",
    "object_ids",
    "read_logs",
    "register_format",
]

HEAD_BYTES: Final = 65536
#: a "line" longer than this without a line end is cut there (bounds memory on files without any)
MAX_LINE_BYTES: Final = 1 << 20
#: text values longer than this (a callsign, a registration) are cut, and counted
MAX_TEXT_CHARS: Final = 64
#: inputs bigger than this (bytes on disk) get a progress bar when progress is on
PROGRESS_MIN_BYTES: Final = 4 * 1024 * 1024
#: suffixes skipped when walking a directory (documentation and pictures beside logs)
NOT_LOGS: Final = frozenset({".md", ".rst", ".html", ".htm", ".pdf", ".png", ".jpg", ".jpeg", ".gif", ".svg"})


# --------------------------------------------------------------------------------------------
# settings and report
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IngestSettings:
    """How logs are read.

    fmt: a name from :data:`FORMATS`, or ``"auto"`` to detect each file from its content.
    tz: the zone of times written without one (SBS receivers log their local clock).
    strict: stop at the first malformed row (file, line, field) instead of skipping it.
    columns: for generic CSV, point field -> source column (``{"id": "adshex", ...}``), with an
        optional unit after a colon (``"altitude": "alt:m"``); see :mod:`.generic`.
    merge_tolerance_s: SBS position and velocity messages of one aircraft further apart than
        this are not merged.
    chunk_rows: rows per chunk while streaming (bounds memory).
    max_examples: how many ``file:line: reason`` examples the report keeps.
    dedupe: drop rows that repeat an earlier row of the same object exactly.
    progress: show a tqdm bar on stderr for inputs over a few MB.
    """

    fmt: str = "auto"
    tz: str = "UTC"
    strict: bool = False
    columns: Mapping[str, str] | None = None
    merge_tolerance_s: float = 2.0
    chunk_rows: int = 500_000
    max_examples: int = 8
    dedupe: bool = True
    progress: bool = False

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InputError(f"unknown time zone {self.tz!r}; use an IANA name such as UTC or Europe/Paris") from exc
        if not self.merge_tolerance_s > 0:
            raise InputError(f"merge_tolerance_s must be positive, got {self.merge_tolerance_s!r}")
        if self.chunk_rows < 1:
            raise InputError(f"chunk_rows must be at least 1, got {self.chunk_rows!r}")
        if self.fmt != "auto":
            get_format(self.fmt)


@dataclass
class IngestReport:
    """What happened while reading: rows kept, dropped by reason, examples, formats per file."""

    files: dict[str, str] = field(default_factory=dict)
    rows_kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    objects: int = 0
    #: inputs that could not be opened at all (permissions, symlink loops, FIFOs): the CLI exits 1
    unreadable: list[str] = field(default_factory=list)
    time_start: pd.Timestamp | None = None
    time_end: pd.Timestamp | None = None

    @property
    def rows_dropped(self) -> int:
        """Total rows dropped, all reasons together."""
        return sum(self.dropped.values())

    def summary(self) -> str:
        """A few human-readable lines: objects, rows kept and dropped by reason, span, formats."""
        lines = [f"read {len(self.files)} file(s): {self.rows_kept:,} point(s) kept from {self.objects:,} object(s)"]
        if self.time_start is not None and self.time_end is not None:
            lines.append(f"time span: {self.time_start:%Y-%m-%d %H:%M:%S} .. {self.time_end:%Y-%m-%d %H:%M:%S} UTC")
        formats = Counter(self.files.values())
        lines.append("formats: " + ", ".join(f"{name} ({n})" for name, n in sorted(formats.items())))
        if self.dropped:
            lines.append(f"dropped {self.rows_dropped:,} row(s):")
            lines.extend(f"  {n:>10,}  {reason}" for reason, n in sorted(self.dropped.items(), key=lambda kv: -kv[1]))
        else:
            lines.append("dropped 0 rows")
        lines.extend(f"note: {reason} ({n:,})" for reason, n in sorted(self.notes.items()))
        if self.examples:
            lines.append("first problems:")
            lines.extend(f"  {e}" for e in self.examples)
        return "\n".join(lines)


@dataclass(frozen=True)
class IngestResult:
    """The points table and the report of how it was read."""

    points: pd.DataFrame
    report: IngestReport


# --------------------------------------------------------------------------------------------
# the ledger of dropped rows
# --------------------------------------------------------------------------------------------
class Ledger:
    """Counts dropped rows by reason and keeps the first few as ``file:line: reason``.

    ``bad=True`` marks malformed rows: with ``strict`` they raise :class:`InputError` (the
    earliest line of the chunk, via :meth:`raise_pending`). Other drops (non-position messages,
    duplicates, no-fix placeholders) are expected filtering and never raise.
    """

    def __init__(self, *, strict: bool = False, max_examples: int = 8) -> None:
        self.strict = strict
        self.max_examples = max_examples
        self.dropped: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()
        self.examples: list[str] = []
        self._pending: list[tuple[str, int, str | None, str]] = []
        self._per_reason: Counter[str] = Counter()

    def drop(
        self,
        path: str,
        lines: Iterable[int] | np.ndarray,
        reason: str,
        *,
        column: str | None = None,
        detail: Callable[[int], str] | None = None,
        bad: bool = True,
    ) -> None:
        """Record that the rows at *lines* of *path* were dropped for *reason*.

        *detail(i)* gives the full message for the i-th of *lines* (for examples and strict).
        """
        lines = np.asarray(list(lines) if not isinstance(lines, np.ndarray) else lines, dtype=np.int64)
        if lines.size == 0:
            return
        self.dropped[reason] += int(lines.size)
        order = np.argsort(lines, kind="stable")
        if bad and self.strict:
            i = int(order[0])
            msg = detail(i) if detail else reason
            if column is not None:
                msg = re.sub(r"^column '[^']*': ", "", msg)
            self._pending.append((path, int(lines[i]), column, msg))
            return
        room = min(self.max_examples - len(self.examples), 2 - self._per_reason[reason])
        self._per_reason[reason] += max(room, 0)
        for i in order[: max(room, 0)]:
            msg = detail(int(i)) if detail else reason
            self.examples.append(f"{path}:{int(lines[i])}: {msg}")

    def note(self, reason: str, count: int = 1, *, example: str | None = None) -> None:
        """Count something worth telling that did not drop rows (e.g. re-sorted times)."""
        if count:
            self.notes[reason] += count
            if example and len(self.examples) < self.max_examples:
                self.examples.append(example)

    def raise_pending(self) -> None:
        """In strict mode, raise the earliest malformed row recorded so far."""
        if self._pending:
            path, line, column, msg = min(self._pending, key=lambda p: p[1])
            self._pending.clear()
            raise InputError(msg, path=path, line=line, column=column)


# --------------------------------------------------------------------------------------------
# sources: files, gzip, sniffing heads
# --------------------------------------------------------------------------------------------
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
        """The whole content (for JSON and other formats that cannot be streamed by line)."""
        try:
            with self.open() as fh:
                return fh.read()
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"corrupt gzip file ({exc})", path=self.name) from exc

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
            cut = _last_newline(data)
            if cut < 0:
                if len(data) < max(block_bytes, MAX_LINE_BYTES):
                    rest = data
                    continue
                # no line end in a whole block: cut it here (the reader names the overlong line)
                data, cut = np.append(data, np.uint8(10)), len(data)
            block, rest = data[: cut + 1], data[cut + 1 :].copy()
            if fast and not block.all():  # NUL bytes: mend them (dropped at a line start, else a line end)
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
        piece = np.frombuffer(memoryview(memory), np.uint8)
        if piece[:0].base is piece:  # views of it refer to it, not to *memory* (numpy stops at a non-array base)
            weakref.finalize(piece, free.append, memory)
        got = raw.readinto(memoryview(piece)[_HEAD:])  # type: ignore[attr-defined]
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

#: value of each byte as a hex digit (ICAO addresses), -1 for bytes that are not one
HEX_VALUE: Final = np.full(256, -1, np.int64)
HEX_VALUE[48:58] = np.arange(10)
HEX_VALUE[97:103] = np.arange(10, 16)
HEX_VALUE[65:71] = np.arange(10, 16)
#: the whole years a time in ns since 1970 (int64) can hold; outside them it wraps around silently
NS_FIRST_YEAR: Final = 1678
NS_LAST_YEAR: Final = 2261


class TruncatedInput(Exception):
    """A compressed stream that broke off part-way (rows before it are kept)."""

    def __init__(self, path: str, line: int, why: str) -> None:
        super().__init__(f"{path}: corrupt or truncated gzip stream near line {line} ({why})")
        self.path, self.line, self.why = path, line, why


# --------------------------------------------------------------------------------------------
# the registry
# --------------------------------------------------------------------------------------------
Reader = Callable[[Source, IngestSettings, Ledger], Iterator[pd.DataFrame]]


@dataclass(frozen=True)
class Format:
    """A registered log format: its name, one-line description, content sniffer and reader."""

    name: str
    description: str
    sniff: Callable[[Head], bool]
    read: Reader
    priority: int = 50


#: name -> :class:`Format`; filled by the reader modules with :func:`register_format`.
FORMATS: dict[str, Format] = {}


def register_format(
    name: str, *, description: str, sniff: Callable[[Head], bool], priority: int = 50
) -> Callable[[Reader], Reader]:
    """Decorator registering a reader under *name*; a name can be registered only once.

    Lower *priority* values are tried first during detection.
    """
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", name) or name == "auto":
        raise ValueError(f"format name {name!r} must be lowercase letters, digits, '-' or '_' and not 'auto'")

    def decorate(read: Reader) -> Reader:
        if name in FORMATS:
            raise ValueError(f"format {name!r} is already registered")
        FORMATS[name] = Format(name, description, sniff, read, priority)
        return read

    return decorate


def supported_formats_text() -> str:
    """``name (description)`` for every format, for error messages."""
    return "; ".join(f"{f.name} ({f.description})" for f in sorted(FORMATS.values(), key=lambda f: f.name))


def get_format(name: str) -> Format:
    """The registered format *name*; an unknown name raises listing the valid ones."""
    try:
        return FORMATS[name]
    except KeyError:
        raise UnsupportedFormatError(
            f"unknown format {name!r}; choose from auto, {', '.join(sorted(FORMATS))}"
        ) from None


def detect_format(source: Source, head: Head | None = None, settings: IngestSettings | None = None) -> Format:
    """The format of *source* judged from its content (not its suffix).

    Raises :class:`InputError` for empty and binary files and :class:`UnsupportedFormatError`
    (listing the supported formats) when nothing matches.
    """
    head = head if head is not None else source.head()
    if not head.data.strip():
        raise InputError("empty file", path=source.name)
    if head.data[:4] in (b"\x1a1\x00\x00",) or head.data[:2] in (b"\x1a2", b"\x1a3", b"\x1a4"):
        raise UnsupportedFormatError(
            "this looks like Beast binary (raw Mode S frames); decode it with dump1090/readsb "
            f"(SBS on port 30003, or aircraft.json) first. Supported: {supported_formats_text()}",
            path=source.name,
        )
    if head.is_binary:
        raise UnsupportedFormatError(
            f"binary data that is not a log this tool reads; supported: {supported_formats_text()}", path=source.name
        )
    candidates = sorted(FORMATS.values(), key=lambda f: (f.priority, f.name))
    if settings is not None and settings.columns and "csv" in FORMATS and looks_like_csv_with(head, settings.columns):
        return FORMATS["csv"]
    for fmt in candidates:
        try:
            if fmt.sniff(head):
                return fmt
        except Exception:  # noqa: BLE001 - a sniffer that chokes simply does not match
            continue
    first = head.lines(1)
    shown = repr(first[0][:80]) if first else "nothing readable"
    raise UnsupportedFormatError(
        f"unrecognised log format (starts with {shown}); supported: {supported_formats_text()}; "
        "for another CSV give --columns",
        path=source.name,
    )


# --------------------------------------------------------------------------------------------
# paths
# --------------------------------------------------------------------------------------------
def _natural_key(path: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def _problem(path: str | Path) -> str | None:
    """Why *path* cannot be read as a log file (None when it can)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISDIR(st.st_mode):
        return None
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a FIFO, socket or device)"
    if not os.access(path, os.R_OK):
        return "cannot be read (Permission denied)"
    return None


def _walk(root: Path, problems: dict[Path, str]) -> list[Path]:
    """Log files under *root* (hidden entries and :data:`NOT_LOGS` skipped); symlinked folders
    are followed once each (a loop is named in *problems*, as is anything unreadable)."""
    found: list[Path] = []
    seen: set[str] = set()

    def onerror(err: OSError) -> None:
        problems[Path(err.filename or root)] = f"cannot be read ({err.strerror or err})"

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            problems[Path(dirpath)] = "a folder link that loops back"
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            f = Path(dirpath) / name
            if name.startswith(".") or f.suffix.lower() in NOT_LOGS:
                continue
            why = _problem(f)
            if why is None:
                found.append(f)
            else:
                problems[f] = why
        for d in dirnames:  # links to folders that cannot be entered (loops of links) are named
            full = os.path.join(dirpath, d)
            if os.path.islink(full) and not os.path.exists(full):
                problems[Path(full)] = _problem(full) or "a broken link"
    return sorted(found, key=_natural_key)


def expand_inputs(paths: Iterable[str | PathLike[str]] | str | PathLike[str]) -> tuple[list[Path], dict[Path, str]]:
    """``(files, problems)``: the readable log files named by *paths* (globs expanded, folders
    walked, each once, in natural order) and the paths that cannot be read, with why
    (permissions, symlink loops, FIFOs and devices, broken links). A path or pattern that
    matches nothing at all raises :class:`InputError`."""
    if isinstance(paths, (str, PathLike)):
        paths = [paths]
    out: list[Path] = []
    problems: dict[Path, str] = {}
    for item in paths:
        text = str(item)
        p = Path(text)
        if p.is_dir():
            out.extend(_walk(p, problems))
        elif os.path.lexists(text):
            why = _problem(text)
            if why is None:
                out.append(p)
            else:
                problems[p] = why
        elif glob.has_magic(text):
            matched = sorted((Path(m) for m in glob.glob(text, recursive=True)), key=_natural_key)
            if not matched:
                raise InputError("no file matches this pattern", path=display_name(text))
            more, why = expand_inputs(matched)
            out.extend(more)
            problems.update(why)
        else:
            raise InputError("no such file or directory", path=display_name(text))
    seen: set[Path] = set()
    unique = []
    for f in out:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, problems


def expand_paths(paths: Iterable[str | PathLike[str]] | str | PathLike[str]) -> list[Path]:
    """Files named by *paths*: globs expanded, directories walked (hidden files and
    documentation or pictures, :data:`NOT_LOGS`, skipped), in natural order (``history_2`` before
    ``history_10``), each once. Paths that cannot be read (permissions, symlink loops, FIFOs)
    are left out with a warning on the log (:func:`expand_inputs` returns them).

    A path or pattern that matches nothing raises :class:`InputError`.
    """
    files, problems = expand_inputs(paths)
    for path, why in problems.items():
        log.warning("%s: %s; skipped", display_name(str(path)), why)
    return files


# --------------------------------------------------------------------------------------------
# value conversion shared by the readers
# --------------------------------------------------------------------------------------------
_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def blank(raw: pd.Series) -> np.ndarray:
    """True where *raw* holds no value (None, NaN, empty or blank string)."""
    isna = raw.isna().to_numpy()
    if raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype):
        stripped = raw.astype("string").str.strip()
        return isna | (stripped == "").fillna(True).to_numpy(dtype=bool)
    return isna


def to_float(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(values, junk)``: floats (NaN where blank or junk) and a mask of non-blank junk."""
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = np.array(raw.to_numpy(dtype=float, na_value=np.nan), dtype=float)
        values[~np.isfinite(values)] = np.nan
        return values, np.zeros(len(raw), dtype=bool)
    values = np.array(pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan), dtype=float)
    junk = np.isnan(values) & ~blank(raw)
    if junk.any():  # "nan"/"inf" words parse as floats; anything else is junk
        text = raw[junk].astype("string").str.strip().str.lower()
        nanword = text.isin(["nan", "null", "none", "na", "n/a"]).to_numpy(dtype=bool)
        idx = np.flatnonzero(junk)
        junk[idx[nanword]] = False
    values[~np.isfinite(values)] = np.nan
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
    return (lengths > MAX_TEXT_CHARS).fillna(False).to_numpy(bool)


def localize(times: pd.Series, tz: str) -> pd.Series:
    """Naive local times in *tz* -> UTC (ambiguous or non-existent local times become NaT)."""
    if times.dt.tz is not None:
        return times.dt.tz_convert("UTC")
    if tz == "UTC":
        return times.dt.tz_localize("UTC")
    return times.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")


def epoch_to_time(values: np.ndarray, unit: str = "auto") -> pd.Series:
    """Epoch numbers (seconds, or milliseconds when *unit* is ``ms``; auto: each value over 1e11 is ms) -> UTC."""
    if unit == "auto":  # per value: epoch seconds are < 1e11 until the year 5138
        scale = np.where(np.abs(values) > 1e11, 1e3, 1e6)
    else:
        scale = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}[unit]
    ns = np.round(values * scale) * 1000.0  # microsecond rounding hides float noise
    ok = np.isfinite(ns) & (np.abs(ns) < 9.2e18)
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
        return epoch_to_time(values, epoch_unit), junk
    empty = blank(raw)
    text = raw.astype("string").str.strip()
    numeric = text.str.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?").fillna(False).to_numpy(dtype=bool)
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
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


# --------------------------------------------------------------------------------------------
# checks common to every reader, and read_logs
# --------------------------------------------------------------------------------------------
def _bound_text(chunk: pd.DataFrame, lines: np.ndarray, source: Source, ledger: Ledger) -> None:
    """Cut every text value longer than :data:`MAX_TEXT_CHARS` (a 10 MB callsign), counted."""
    for name in chunk.columns:
        if name in ("source_file", "time") or pd.api.types.is_numeric_dtype(chunk[name].dtype) \
                or pd.api.types.is_bool_dtype(chunk[name].dtype):
            continue
        col = chunk[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            if not len(col.cat.categories) or col.cat.categories.astype(str).str.len().max() <= MAX_TEXT_CHARS:
                continue
            col = col.astype("string")
        if not (col.dtype == object or pd.api.types.is_string_dtype(col.dtype)):
            continue
        lengths = col.astype("string").str.len()
        long = (lengths > MAX_TEXT_CHARS).fillna(False).to_numpy(bool)
        if long.any():
            first = int(np.argmax(long))
            ledger.note(f"column {name!r}: text longer than {MAX_TEXT_CHARS} characters cut", int(long.sum()),
                        example=f"{source.name}:{int(lines[first])}: column {name!r}: text of {int(lengths.iloc[first]):,} "
                                f"characters cut to {MAX_TEXT_CHARS}")
            chunk[name] = col.astype("string").str.slice(0, MAX_TEXT_CHARS).astype(chunk[name].dtype if chunk[name].dtype != object else object) \
                if not isinstance(chunk[name].dtype, pd.CategoricalDtype) else col.str.slice(0, MAX_TEXT_CHARS)


def _finish_chunk(chunk: pd.DataFrame, source: Source, ledger: Ledger) -> pd.DataFrame:
    """Fill missing columns, then drop rows without id/time/position or with impossible ones."""
    n = len(chunk)
    chunk = chunk.reset_index(drop=True)
    for name, dtype in POINT_COLUMNS.items():
        if name not in chunk.columns:
            if name == "new_leg":
                chunk[name] = False
            elif name == "source_file":
                chunk[name] = source.name
            elif dtype == "float64":
                chunk[name] = np.nan
            else:
                chunk[name] = pd.Series(pd.NA, index=chunk.index, dtype=dtype)
    lines = chunk["source_line"].to_numpy(dtype=np.int64)
    keep = np.ones(n, dtype=bool)
    _bound_text(chunk, lines, source, ledger)

    def reject(mask: np.ndarray, reason: str, *, bad: bool, column: str | None = None,
               detail: Callable[[int], str] | None = None) -> None:
        mask = mask & keep
        if mask.any():
            ledger.drop(source.name, lines[mask], reason, bad=bad, column=column,
                        detail=(lambda i, d=detail, ix=np.flatnonzero(mask): d(int(ix[i]))) if detail else None)
            keep[mask] = False

    reject(chunk["object_id"].isna().to_numpy(), "no object id", bad=True, column="object_id")
    reject(chunk["time"].isna().to_numpy(), "no usable time", bad=True, column="time")
    lat, lon = chunk["lat"].to_numpy(float), chunk["lon"].to_numpy(float)
    x, y = chunk["x"].to_numpy(float), chunk["y"].to_numpy(float)
    geo = np.isnan(x) & np.isnan(y)  # rows without screen coordinates are geographic
    reject(geo & (np.isnan(lat) | np.isnan(lon)), "no position in this row", bad=False)
    reject(~geo & (np.isnan(x) | np.isnan(y)), "no position in this row", bad=False)
    impossible = geo & ((np.abs(lat) > 90) | (np.abs(lon) > 180))
    reject(impossible, "impossible coordinates", bad=True, column="lat",
           detail=lambda i: f"impossible coordinates lat={float(lat[i])}, lon={float(lon[i])}")
    reject(geo & (lat == 0) & (lon == 0), "position 0,0 (no fix)", bad=False)
    return chunk.loc[keep]


def _order_and_dedupe(points: pd.DataFrame, ledger: Ledger, dedupe: bool) -> pd.DataFrame:
    """Drop exact repeats per object, then sort each object's points by time (noting reversals).

    A repeat has its original's object and time, so only rows that tie on both are hashed
    (usually a handful); the first of each set of equal rows, in input order, is kept.
    """
    if points.empty:
        return points
    t = points["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    obj_codes = pd.factorize(points["object_id"], sort=True)[0]
    file_codes = pd.factorize(points["source_file"], sort=False)[0]
    order = np.lexsort((points["source_line"].to_numpy(), file_codes, t, obj_codes))
    keep = np.ones(len(points), dtype=bool)
    if dedupe:
        so, st = obj_codes[order], t[order]
        same = (so[1:] == so[:-1]) & (st[1:] == st[:-1])
        tie = np.zeros(len(order), dtype=bool)
        tie[1:] |= same
        tie[:-1] |= same
        candidates = np.sort(order[tie])  # in input order
        if len(candidates):
            key = [c for c in points.columns if c not in ("source_line", "source_file")]
            hashed = pd.util.hash_pandas_object(points.iloc[candidates][key], index=False)
            dup = candidates[hashed.duplicated().to_numpy()]
            if len(dup):
                for path, grp in points.iloc[dup].groupby("source_file", sort=False):
                    ledger.drop(str(path), grp["source_line"].to_numpy(), "duplicate row", bad=False)
                keep[dup] = False
    rows = np.flatnonzero(keep)
    # a row is out of order when an earlier row of its object (input order) is later in time
    running = pd.Series(t[rows]).groupby(obj_codes[rows], sort=False).cummax().to_numpy()
    back = t[rows] < running
    if back.any():
        first = points.iloc[int(rows[np.argmax(back)])]
        ledger.note(
            "time going backwards within an object: rows re-sorted by time",
            int(back.sum()),
            example=f"{first['source_file']}:{first['source_line']}: time goes backwards for {first['object_id']}",
        )
    if len(rows) < len(points):
        order = order[keep[order]]
    return points.take(order)


def _finalize(chunks: list[pd.DataFrame], ledger: Ledger, report: IngestReport, dedupe: bool) -> pd.DataFrame:
    if chunks:
        optional = [c for c in OPTIONAL_COLUMNS if any(c in ch.columns for ch in chunks)]
        cols = [*POINT_COLUMNS, *optional]
        frames = [validate_points(ch.reindex(columns=cols)) for ch in chunks if len(ch)]
        points = pd.concat(frames, ignore_index=True) if frames else empty_points()
    else:
        points = empty_points()
    points = _order_and_dedupe(points, ledger, dedupe)
    points = validate_points(points)
    report.rows_kept = len(points)
    report.dropped = dict(ledger.dropped)
    report.notes = dict(ledger.notes)
    report.examples = list(ledger.examples)
    report.objects = int(points["object_id"].nunique())
    if len(points):
        report.time_start, report.time_end = points["time"].min(), points["time"].max()
    return points


def _read_one(source: Source, fmt: Format, settings: IngestSettings, ledger: Ledger) -> Iterator[pd.DataFrame]:
    try:
        for chunk in fmt.read(source, settings, ledger):
            ledger.raise_pending()
            if len(chunk):
                out = _finish_chunk(chunk, source, ledger)
                ledger.raise_pending()
                if len(out):
                    yield out
        ledger.raise_pending()
    except TruncatedInput as exc:
        if settings.strict:
            raise InputError(f"corrupt or truncated gzip stream ({exc.why})", path=exc.path, line=exc.line) from exc
        ledger.note("files cut short by a corrupt gzip stream (rows before the break kept)", 1, example=f"{exc.path}:{exc.line}: {exc.why}")


def read_logs(
    paths: Iterable[str | PathLike[str]] | str | PathLike[str], *, settings: IngestSettings = IngestSettings()
) -> IngestResult:
    """Read every log in *paths* (files, directories, globs; ``.gz`` transparent) into one
    validated points table, with a report of what was kept, dropped and why.

    Files that cannot be read at all (empty, binary, corrupt gzip, unknown format) are skipped
    and listed in the report; with ``settings.strict`` the first such file or malformed row
    raises :class:`InputError`. If nothing at all could be read the first file's error is raised.
    """
    from .points import iter_points  # the one points reader

    ledger = Ledger(strict=settings.strict, max_examples=settings.max_examples)
    report = IngestReport()
    chunks = [c.points for c in iter_points(paths, settings, report=report, ledger=ledger, order=False)]
    points = _finalize(chunks, ledger, report, settings.dedupe)
    return IngestResult(points, report)


def _skip_unreadable(report: IngestReport, ledger: Ledger, exc: InputError) -> None:
    name = exc.path or "?"
    report.files[name] = f"skipped: {exc.message}"
    report.unreadable.append(name)
    ledger.note("files skipped: cannot be read", 1, example=f"{name}: {exc.message}")


def replace_settings(settings: IngestSettings, **changes: Any) -> IngestSettings:
    """A copy of *settings* with *changes* (a small wrapper over dataclasses.replace)."""
    return dataclasses.replace(settings, **changes)



# --------------------------------------------------------------------------------------------
# tabular sources: column specs and chunked CSV reading shared by the table readers
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Col:
    """Where a point column comes from: a source column, its kind, and a unit scale.

    kind: ``float`` (times *scale*), ``time`` (epoch in *unit*, or date-time text), ``text``,
    ``hex`` (ICAO address), ``id`` (any id, lowercased), ``bool``.
    """

    source: str
    kind: str = "float"
    scale: float = 1.0
    unit: str = "auto"


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


def build_points(
    raw: pd.DataFrame,
    spec: Mapping[str, Col],
    *,
    lines: np.ndarray,
    source: Source,
    ledger: Ledger,
    settings: IngestSettings,
) -> pd.DataFrame:
    """Convert the source columns named in *spec* into point columns; rows with junk are dropped.

    Columns of *spec* absent from *raw* are skipped (the checks in :func:`read_logs` catch a
    missing id, time or position).
    """
    raw = raw.reset_index(drop=True)
    lines = np.asarray(lines, dtype=np.int64)
    keep = np.ones(len(raw), dtype=bool)
    out: dict[str, Any] = {}
    for name, col in spec.items():
        if col.source not in raw.columns:
            continue
        r = raw[col.source]
        if col.kind == "float":
            values, junk = to_float(r)
            out[name] = values * col.scale
            what = "a number"
        elif col.kind == "time":
            out[name], junk = to_time(r, tz=settings.tz, unit=col.unit)
            what = "a time"
        elif col.kind == "hex":
            out[name], junk = hex_ids(r)
            what = "an ICAO hex address"
        elif col.kind == "bool":
            out[name], junk = to_bool(r)
            what = "true/false"
        elif col.kind == "id":
            out[name], junk = object_ids(r), np.zeros(len(r), bool)
            what = "an id"
        else:
            out[name], junk = to_text(r).reset_index(drop=True), np.zeros(len(r), bool)
            what = "text"
        if col.kind in ("id", "text"):
            long = too_long(r) & keep
            if long.any():
                ledger.note(f"column {col.source!r}: text longer than {MAX_TEXT_CHARS} characters cut", int(long.sum()),
                            example=f"{source.name}:{int(lines[np.argmax(long)])}: column {col.source!r}: text of "
                                    f"{len(str(r.iloc[int(np.argmax(long))])):,} characters cut to {MAX_TEXT_CHARS}")
        keep &= drop_junk(out, junk & keep, r, col.source, what, path=source.name, lines=lines, ledger=ledger)
    frame = pd.DataFrame(out, index=raw.index)
    frame["source_line"] = lines
    return frame.loc[keep]


def iter_csv(
    source: Source,
    settings: IngestSettings,
    ledger: Ledger,
    *,
    skip_lines: int = 0,
    exact_width: bool = True,
    names: list[str] | None = None,
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Yield ``(rows as strings under the header's names, line numbers)`` chunks of a CSV.

    The header is the first line after *skip_lines*. Rows with another number of fields are
    dropped and counted (trailing empty fields are ignored; with ``exact_width=False`` short
    rows are padded and long ones cut, for formats with ragged trailing columns).
    """
    import csv

    from tqdm import tqdm

    with source.open() as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
        for _ in range(skip_lines):
            text.readline()
        reader = csv.reader(text)
        if names is None:
            try:
                header = next(reader)
            except StopIteration:
                return
            except (OSError, EOFError, zlib.error) as exc:
                raise TruncatedInput(source.name, skip_lines + 1, str(exc)) from exc
            except csv.Error as exc:
                raise InputError(f"cannot read the CSV header ({exc})", path=source.name, line=skip_lines + 1) from exc
            names = unique_names([h.strip().lstrip("\ufeff") for h in header])
        width = len(names)
        rows: list[list[str]] = []
        nums: list[int] = []
        bad_lines: list[int] = []
        bad_counts: list[int] = []
        show = settings.progress and source.size >= PROGRESS_MIN_BYTES
        bar = tqdm(unit=" rows", desc=source.path.name, disable=not show, leave=False)
        offset = skip_lines
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                ledger.drop(source.name, [reader.line_num + offset], "unreadable CSV row", detail=lambda i, e=exc: f"unreadable CSV row ({e})")
                continue
            except (OSError, EOFError, zlib.error) as exc:
                raise TruncatedInput(source.name, reader.line_num + offset, str(exc)) from exc
            line = reader.line_num + offset
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != width:
                while len(row) > width and not row[-1].strip():
                    row.pop()
                if len(row) != width:
                    if exact_width:
                        bad_lines.append(line)
                        bad_counts.append(len(row))
                        continue
                    row = (row + [""] * width)[:width]
            rows.append(row)
            nums.append(line)
            if len(rows) >= settings.chunk_rows:
                yield _flush(rows, nums, names, bad_lines, bad_counts, width, source, ledger)
                bar.update(len(nums))
                rows, nums, bad_lines, bad_counts = [], [], [], []
        bar.close()
        if rows or bad_lines:
            yield _flush(rows, nums, names, bad_lines, bad_counts, width, source, ledger)


def _flush(rows: list[list[str]], nums: list[int], names: list[str], bad_lines: list[int], bad_counts: list[int],
           width: int, source: Source, ledger: Ledger) -> tuple[pd.DataFrame, np.ndarray]:
    if bad_lines:
        ledger.drop(source.name, bad_lines, "wrong number of fields", column="fields",
                    detail=lambda i: f"{bad_counts[i]} fields, expected {width} (truncated or damaged line?)")
    frame = pd.DataFrame(rows, columns=names, dtype=object) if rows else pd.DataFrame(columns=names, dtype=object)
    return frame, np.asarray(nums, dtype=np.int64)


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
