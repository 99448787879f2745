"""Input paths: files, directories and globs expanded in natural order, with the reasons
those that cannot be logs are skipped."""

from __future__ import annotations

import glob
import logging
import os
import re
import stat
from collections.abc import Iterable
from os import PathLike
from pathlib import Path
from typing import Any, Final

from ..errors import InputError
from ._decode import display_name

log = logging.getLogger(__name__)

__all__ = ["expand_inputs", "expand_paths"]

#: suffixes skipped when walking a directory (documentation and pictures beside logs)
NOT_LOGS: Final = frozenset({".md", ".rst", ".html", ".htm", ".pdf", ".png", ".jpg", ".jpeg", ".gif", ".svg"})


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


def _readable(folder: Path, names: list[str], problems: dict[Path, str]) -> list[Path]:
    """The files *names* in *folder* that may be logs and can be read; hidden files and
    :data:`NOT_LOGS` are passed over, the unreadable ones named in *problems*."""
    out = []
    for name in names:
        f = folder / name
        if name.startswith(".") or f.suffix.lower() in NOT_LOGS:
            continue
        why = _problem(f)
        if why is None:
            out.append(f)
        else:
            problems[f] = why
    return out


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
        found.extend(_readable(Path(dirpath), filenames, problems))
        for d in dirnames:  # links to folders that cannot be entered (loops of links) are named
            full = os.path.join(dirpath, d)
            if os.path.islink(full) and not os.path.exists(full):
                problems[Path(full)] = _problem(full) or "a broken link"
    return sorted(found, key=_natural_key)


def _once_each(files: list[Path]) -> list[Path]:
    """*files* without repeats of a file already listed (the same file by another path or link)."""
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def _files_of(text: str, problems: dict[Path, str]) -> list[Path]:
    """The log files one path, folder or pattern of the command line names (the unreadable ones
    go to *problems*). An empty one (an unset shell variable) is an error, not the current folder."""
    if not text.strip():
        raise InputError("an input path is empty (check the shell glob or variable that made it)")
    p = Path(text)
    if p.is_dir():
        return _walk(p, problems)
    if os.path.lexists(text):
        why = _problem(text)
        if why is None:
            return [p]
        problems[p] = why
        return []
    if glob.has_magic(text):
        matched = sorted((Path(m) for m in glob.glob(text, recursive=True)), key=_natural_key)
        if not matched:
            raise InputError("no file matches this pattern", path=display_name(text))
        more, found = expand_inputs(matched)
        problems.update(found)
        return more
    raise InputError("no such file or directory", path=display_name(text))


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
        out.extend(_files_of(str(item), problems))
    return _once_each(out), problems


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


