"""Turning a file's bytes into UTF-8 lines, whatever it was written as: the one rule every reader
shares for byte-order marks, UTF-16, runs of NUL bytes, CR-only line ends, gzip members with
bytes after them, and files that are not regular files.

:func:`sniff_decoding` judges a file from its first bytes (what its text is written in, and
what needs mending); :func:`mend` applies that judgement to a piece of content, and
:class:`PieceStream` turns a sequence of mended pieces into a binary stream. A run of NUL bytes
at the start of a line (a receiver that crashed and left a zero-filled block) is dropped; one
in the middle of a line ends that line (the damaged line is named by the reader, the next one
is kept). Universal newlines: every CR, LF or CR LF ends a line, wherever in the file it
appears (a lone CR becomes LF). A UTF-8 byte-order mark is dropped; UTF-32 (with a mark) and
UTF-16 (with a mark, or without one when every other byte is NUL) are transcoded to UTF-8.
"""

from __future__ import annotations

import codecs
import io
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Final

import numpy as np

__all__ = ["Decoding", "PieceStream", "display_name", "gunzip_pieces", "has_byte", "lone_crs_to_lf", "mend_block", "mend_pieces",
           "sniff_decoding"]

_UTF8_BOM: Final = b"\xef\xbb\xbf"
_NUL_AT_START: Final = re.compile(rb"(?:(?<=\n)|^)\x00+")
_NUL_RUN: Final = re.compile(rb"\x00+")
_LONE_CR: Final = re.compile(rb"\r(?!\n)")
_GZIP_MAGIC: Final = b"\x1f\x8b"
_UTF32_BOMS: Final = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class Decoding:
    """What a file's bytes need before a reader sees them.

    encoding: ``utf-8``, or ``utf-16``/``utf-32`` (with a byte-order mark), ``utf-16-le``/``utf-16-be``.
    bom: a UTF-8 byte-order mark to drop at the start.
    lone_cr: the head has CR-only line ends (read on the mended path; lone CRs anywhere else
    are line ends too, see :func:`lone_crs_to_lf`).
    """

    encoding: str = "utf-8"
    bom: bool = False
    lone_cr: bool = False

    @property
    def plain(self) -> bool:
        """True when the bytes can be read as they are (NUL runs are mended block by block)."""
        return self.encoding == "utf-8" and not self.bom and not self.lone_cr

    def describe(self) -> str:
        """A short note for the report (empty for plain UTF-8)."""
        parts = []
        if self.encoding != "utf-8":
            parts.append(f"{self.encoding.upper()} text transcoded")
        if self.bom:
            parts.append("UTF-8 byte-order mark dropped")
        if self.lone_cr:
            parts.append("CR-only line ends read as line ends")
        return "; ".join(parts)


def _utf16_without_bom(sample: bytes) -> str:
    """``utf-16-le`` or ``utf-16-be`` when the zero bytes of *sample* fall on odd or even places
    (ASCII text in UTF-16 without a byte-order mark), else ""."""
    if len(sample) < 16 or b"\x00" not in sample:
        return ""
    even, odd = sample[0::2], sample[1::2]
    z_even, z_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if z_odd > 0.4 and z_even < 0.05:
        return "utf-16-le"
    if z_even > 0.4 and z_odd < 0.05:
        return "utf-16-be"
    return ""


def sniff_decoding(head: bytes) -> Decoding:
    """Judge the decoding from a file's first (decompressed) bytes.

    >>> sniff_decoding(b"\\xff\\xfeM\\x00S\\x00G\\x00").encoding
    'utf-16'
    >>> sniff_decoding(b"a,b\\rc,d\\r").lone_cr
    True
    >>> sniff_decoding(b"a,b\\r\\nc,d\\r\\n").plain
    True
    """
    if head[:4] in _UTF32_BOMS:
        return Decoding("utf-32", lone_cr=_has_lone_cr(head.decode("utf-32", errors="replace").encode("utf-8")))
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return Decoding("utf-16", lone_cr=_has_lone_cr(head.decode("utf-16", errors="replace").encode("utf-8")))
    enc = _utf16_without_bom(head[:4096])
    if enc:
        return Decoding(enc, lone_cr=_has_lone_cr(head.decode(enc, errors="replace").encode("utf-8")))
    bom = head.startswith(_UTF8_BOM)
    return Decoding("utf-8", bom=bom, lone_cr=_has_lone_cr(head[3:] if bom else head))


def _has_lone_cr(data: bytes) -> bool:
    """CR-only line ends: lone CRs outnumber LFs (a stray CR inside a line of an LF file is data)."""
    lone = len(_LONE_CR.findall(data[:-1]))
    return lone > 0 and lone > data.count(b"\n")


def mend_block(data: bytes, *, line_start: bool = True) -> bytes:
    """*data* with NUL runs mended: dropped at the start of a line, a line end in the middle of one.

    >>> mend_block(b"\\x00\\x00MSG,1\\nMSG,3\\x00\\x00MSG,4\\n")
    b'MSG,1\\nMSG,3\\nMSG,4\\n'
    """
    if b"\x00" not in data:
        return data
    if line_start:
        data = _NUL_AT_START.sub(b"", data)
    else:
        data = re.sub(rb"(?<=\n)\x00+", b"", data)
    return _NUL_RUN.sub(b"\n", data)


def _find_memchr() -> Any:
    """The C library's ``memchr`` (a byte search without copying a numpy array), or None."""
    import ctypes
    import ctypes.util

    try:
        memchr = ctypes.CDLL(ctypes.util.find_library("c") or None).memchr
    except (OSError, AttributeError, TypeError):  # no C library found where it was looked for
        return None
    memchr.restype = ctypes.c_void_p
    memchr.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    return memchr


_MEMCHR: Final = _find_memchr()


def has_byte(data: np.ndarray, value: int) -> bool:
    """True when the contiguous uint8 array *data* holds the byte *value* (no copy with ``memchr``).

    >>> has_byte(np.frombuffer(b"a,b\\r\\n", np.uint8), 13), has_byte(np.frombuffer(b"a,b\\n", np.uint8), 0)
    (True, False)
    """
    if not len(data):
        return False
    if _MEMCHR is not None and data.flags.c_contiguous:
        return _MEMCHR(data.ctypes.data, value, data.nbytes) is not None
    return bytes([value]) in data.tobytes()


def lone_crs_to_lf(data: np.ndarray) -> None:
    """Turn every CR of the writable uint8 array *data* that is not followed by LF into LF, in
    place (universal newlines), except a CR in its last byte (its LF may come next).

    >>> a = np.frombuffer(b"a\\rb\\r\\nc\\r", np.uint8).copy(); lone_crs_to_lf(a); a.tobytes()
    b'a\\nb\\r\\nc\\r'
    """
    if len(data) < 2 or not has_byte(data[:-1], 13):
        return
    from ._sbs_scan import COMPILED, lone_crs_in_place

    if COMPILED:
        lone_crs_in_place(data)
        return
    at = np.flatnonzero(data[:-1] == 13)
    data[at[data[at + 1] != 10]] = 10


def mend_pieces(pieces: Iterator[bytes], decoding: Decoding) -> Iterator[bytes]:
    """The content of *pieces* (raw bytes of the file) as mended UTF-8 (see the module docstring)."""
    decoder = codecs.getincrementaldecoder(decoding.encoding)(errors="replace") if decoding.encoding != "utf-8" else None
    first = True
    line_start = True
    held = b""
    for raw in pieces:
        piece = raw if decoder is None else decoder.decode(raw).encode("utf-8", errors="replace")
        if first and decoding.bom and piece.startswith(_UTF8_BOM):
            piece = piece[3:]
        first = False
        piece, held = _lone_cr_to_lf(held + piece)
        if not piece:
            continue
        piece = mend_block(piece, line_start=line_start)
        if piece:
            line_start = piece.endswith(b"\n")
            yield piece
    tail = held
    if decoder is not None:
        tail += decoder.decode(b"", final=True).encode("utf-8", errors="replace")
    if tail:
        yield mend_block(_LONE_CR.sub(b"\n", tail), line_start=line_start)


def _lone_cr_to_lf(piece: bytes) -> tuple[bytes, bytes]:
    """*piece* with lone carriage returns as line feeds, less a CR at its end (held for the next
    piece, which may start with its LF): ``(piece, held)``."""
    if b"\r" not in piece:
        return piece, b""
    held = b""
    if piece.endswith(b"\r"):
        piece, held = piece[:-1], b"\r"
    return _LONE_CR.sub(b"\n", piece), held


def gunzip_pieces(raw: IO[bytes], block_bytes: int, on_trailing: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """Decompress a (multi-member) gzip stream in pieces of at most about *block_bytes*, keeping
    everything before a break. Output is bounded however well the input compresses (a small
    file that expands a thousandfold never sits in memory whole).

    Bytes after a complete member that do not start another member (zero padding, or garbage
    appended by a copy tool) end the stream there; *on_trailing* is told how many were left.
    A stream that breaks off inside a member raises ``EOFError``/``zlib.error`` after every
    piece before the break was given.
    """
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    fed = False
    pending: list[bytes] = []
    size = 0
    carry = b""
    while True:
        chunk = raw.read(1 << 16)
        if not chunk:
            break
        chunk, carry = carry + chunk, b""
        while chunk:
            if not fed:
                if len(chunk) < 2 and chunk == _GZIP_MAGIC[:1]:
                    carry, chunk = chunk, b""
                    break
                if chunk[:2] != _GZIP_MAGIC:
                    if pending:
                        yield b"".join(pending)
                    if on_trailing is not None and chunk.strip(b"\x00"):
                        on_trailing(len(chunk) + _rest(raw))
                    return
            fed = True
            out = d.decompress(chunk, max(block_bytes - size, 1 << 16))
            chunk = d.unconsumed_tail
            if out:
                pending.append(out)
                size += len(out)
            if size >= block_bytes:
                yield b"".join(pending)
                pending, size = [], 0
            if d.eof:
                chunk, fed = d.unused_data, False
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    tail = d.flush()
    if tail:
        pending.append(tail)
    if pending:
        yield b"".join(pending)
    if fed and not d.eof:
        raise EOFError("compressed file ended before the end-of-stream marker was reached")


def _rest(raw: IO[bytes]) -> int:
    n = 0
    while True:
        got = raw.read(1 << 20)
        if not got:
            return n
        n += len(got)


class PieceStream(io.RawIOBase):
    """A read-only binary stream over an iterator of byte pieces (wrap in ``io.BufferedReader``)."""

    def __init__(self, pieces: Iterator[bytes], closing: Callable[[], None] | None = None) -> None:
        super().__init__()
        self._pieces = pieces
        self._buf = b""
        self._pos = 0
        self._closing = closing

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        while self._pos >= len(self._buf):
            try:
                self._buf, self._pos = next(self._pieces), 0
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf) - self._pos)
        b[:n] = self._buf[self._pos:self._pos + n]
        self._pos += n
        return n

    def close(self) -> None:
        if not self.closed and self._closing is not None:
            self._closing()
        super().close()


def display_name(text: str) -> str:
    """*text* (a file name) safe to print: control characters, terminal escapes and undecodable
    bytes written as ``\\xNN`` escapes.

    >>> display_name("log\\x1b[31m.sbs")
    'log\\\\x1b[31m.sbs'
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()) & 0xFF:02x}", text)
