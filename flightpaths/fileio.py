"""Safe file writing: atomic replacement, no silent overwrite, names from data checked.

Nothing a user made is overwritten without asking: :func:`check_output` refuses an existing
output unless ``overwrite=True`` (the CLI's ``--overwrite``). Writes go to a temporary file in
the same folder and are moved into place, so a crash never leaves half a file.
:func:`safe_name` turns a name that came from data (a callsign, a class name) into a file
name that cannot escape its folder; :func:`id_stem` and :func:`file_stem` make such names that
stay unique to the exact text (``a/b``, ``a_b`` and ``A_B`` never share one, even on a file
system blind to case). :func:`csv_safe_frame` neutralises spreadsheet formulas in
CSV cells (OWASP CSV injection): every CSV the project writes goes through it.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import FlightpathsError, InputError

__all__ = [
    "OutputExistsError",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_output",
    "csv_cell",
    "csv_plain",
    "csv_plain_frame",
    "csv_safe_frame",
    "csv_text",
    "file_stem",
    "id_stem",
    "inputs_among",
    "safe_name",
    "write_csv",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_PLAIN_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_~-]*(\.[A-Za-z0-9_~-]+)*")
_DIGEST_LEN = 10
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class OutputExistsError(FlightpathsError, FileExistsError):
    """An output that already exists and was not allowed to be replaced."""


def check_output(path: str | Path, *, overwrite: bool = False) -> Path:
    """Return *path* as a Path if it may be written; raise if it exists and *overwrite* is off."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise OutputExistsError(f"{p} already exists; pass --overwrite to replace it")
    return p


def inputs_among(inputs: Iterable[str | os.PathLike[str]], outputs: Iterable[str | Path]) -> str | None:
    """The first of *outputs* that is (the same file as) one of *inputs*, or a folder holding
    one, else None: an output must never be written over a file it is read from.

    Inputs are files, folders or globs as given on a command line.
    """
    import glob

    named: list[Path] = []
    for item in inputs:
        text = str(item)
        named.extend(Path(m) for m in glob.glob(text, recursive=True)) if glob.has_magic(text) else named.append(Path(text))
    real = {os.path.realpath(p) for p in named}
    for out in outputs:
        target = os.path.realpath(out)
        for src in real:
            if target == src or (os.path.isdir(src) and target.startswith(src.rstrip(os.sep) + os.sep) and os.path.exists(target)):
                return str(out)
    return None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write *data* to *path* atomically (temporary file in the same folder, then rename)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


@contextmanager
def atomic_path(path: str | Path, *, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary file beside *path* (ending in *suffix*) to write in pieces; moved over *path*
    when the block ends without an error, removed when it raises (so a crash never leaves half
    a file)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{p.name}.", suffix=suffix, dir=p.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write *text* (UTF-8) to *path* atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def safe_name(name: str, *, what: str = "name", max_len: int = 100) -> str:
    """A file-name-safe version of *name* from data: letters, digits, ``.``, ``_``, ``-`` only.

    >>> safe_name("N917PD 2019/03/25")
    'N917PD_2019_03_25'
    >>> safe_name("../../etc/passwd")
    'etc_passwd'
    """
    cleaned = re.sub(r"\.{2,}", ".", _UNSAFE.sub("_", str(name))).strip("._")[:max_len]
    if not cleaned:
        raise InputError(f"{what} {name!r} has no usable characters for a file name")
    return cleaned


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_LEN]


def _hashed(text: str, what: str) -> str:
    try:
        stem = safe_name(text, what=what, max_len=80)
    except InputError:
        stem = "id"
    return f"{stem}~{_digest(text)}"


def id_stem(text: object, *, what: str = "id") -> str:
    """A file-name stem unique to the exact *text* (an object id), even where case is ignored:
    *text* itself when it is a plain lowercase name (every ICAO address: ``a1b2c3``), else its
    safe form, ``~`` and 10 hex digits of the SHA-256 of *text*. Plain stems have no ``~``, so a
    hashed stem never equals a plain one.

    >>> id_stem("a1b2c3"), id_stem("a/b"), id_stem("a_b"), id_stem("A_B")
    ('a1b2c3', 'a_b~c14cddc033', 'a_b', 'A_B~6c1908f93f')
    """
    value = str(text)
    if value == value.lower() and len(value) <= 100 and _PLAIN_FILE.fullmatch(value) and "~" not in value:
        return value
    return _hashed(value, what)


def file_stem(text: object, *, what: str = "name", hashed: bool = False) -> str:
    """A file-name stem for *text* (a window id): *text* itself when it is already a safe name
    (letters, digits, ``.``, ``_``, ``-``, ``~``), else its safe form, ``~`` and 10 hex digits
    of the SHA-256 of *text*, so two texts never share a stem. *hashed* always adds the hash
    (for a text that differs from another only in case).

    >>> file_stem("a1b2c3_0_20240501T120000_300s"), file_stem("a/b_0")
    ('a1b2c3_0_20240501T120000_300s', 'a_b_0~90236557d9')
    """
    value = str(text)
    if not hashed and len(value) <= 160 and _PLAIN_FILE.fullmatch(value):
        return value
    return _hashed(value, what)


def csv_cell(value: object) -> object:
    """A CSV cell a spreadsheet will not run: text starting with ``=``, ``+``, ``-``, ``@``, tab
    or carriage return gets a leading ``'`` (OWASP CSV injection guidance), unless it is a plain
    number such as ``-73.5``. Anything that is not text is returned as it is.

    >>> print(csv_cell('=HYPERLINK("http://x","y")'))
    '=HYPERLINK("http://x","y")
    >>> csv_cell("-73.85"), csv_cell("@SUM(A1)"), csv_cell("N917PD"), csv_cell(-1.5)
    ('-73.85', "'@SUM(A1)", 'N917PD', -1.5)
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def csv_plain(value: object) -> object:
    """The value :func:`csv_cell` was given back: the leading ``'`` it added removed, so a file
    flightpaths wrote reads back as it was (a value that really began ``'=`` loses its quote).

    >>> csv_plain(csv_cell("=SUM(A1)")), csv_plain("'-73.5"), csv_plain("'tis")
    ('=SUM(A1)', "'-73.5", "'tis")
    """
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(_FORMULA_START) \
            and not _PLAIN_NUMBER.match(value[1:]):
        return value[1:]
    return value


def _texty(dtype: object) -> bool:
    return dtype == np.dtype(object) or isinstance(dtype, pd.StringDtype)


def _map_text(frame: pd.DataFrame, cell: Callable[[object], object], *, index: bool) -> pd.DataFrame:
    """A copy of *frame* with *cell* applied to its text cells and column names (and a text index)."""
    out = frame.copy()
    for name in out.columns:
        if _texty(out[name].dtype):
            out[name] = out[name].map(cell, na_action="ignore")
    out.columns = [cell(c) if isinstance(c, str) else c for c in out.columns]
    if index and _texty(out.index.dtype):
        out.index = out.index.map(cell)
    return out


def csv_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of *frame* whose text cells, column names and text index went through
    :func:`csv_cell`; numeric columns are left alone."""
    return _map_text(frame, csv_cell, index=True)  # the index is written too when to_csv keeps it


def csv_plain_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """*frame* (read from a CSV flightpaths wrote) with :func:`csv_plain` applied to its text
    cells and column names: the inverse of :func:`csv_safe_frame`."""
    return _map_text(frame, csv_plain, index=False)


def csv_text(frame: pd.DataFrame, **to_csv: object) -> str:
    """*frame* as CSV text (``DataFrame.to_csv`` options), spreadsheet formulas neutralised."""
    text: str = csv_safe_frame(frame).to_csv(**to_csv)
    return text


def write_csv(path: str | Path, frame: pd.DataFrame, **to_csv: object) -> Path:
    """Write *frame* atomically to *path* as CSV through :func:`csv_text` (the one CSV writer)."""
    return atomic_write_text(path, csv_text(frame, **to_csv))
