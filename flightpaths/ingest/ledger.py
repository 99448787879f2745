"""What reading kept and dropped: the :class:`Ledger` of dropped rows, the :class:`IngestReport`
and the :class:`IngestResult` (points table plus report)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["IngestReport", "IngestResult", "Ledger"]


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
    #: inputs read only in part (a gzip stream that breaks off), as ``file:line``: the CLI exits 1
    partial: list[str] = field(default_factory=list)
    time_start: pd.Timestamp | None = None
    time_end: pd.Timestamp | None = None

    def incomplete(self) -> str:
        """Why the read is a data error (exit 1, after writing what was read), else "": inputs that
        could not be read, or were read only in part."""
        parts = []
        if self.unreadable:
            parts.append(f"{len(self.unreadable)} input(s) could not be read and were skipped: " + ", ".join(self.unreadable[:5]))
        if self.partial:
            parts.append(f"{len(self.partial)} input(s) were read only in part (the rows before the break were kept): "
                         + ", ".join(self.partial[:5]))
        return "; ".join(parts)

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
        #: files read only in part, as ``file:line`` (where their stream broke off)
        self.partial: list[str] = []
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
            first = int(order[0])
            self._hold(path, int(lines[first]), column, detail(first) if detail else reason)
            return
        self._add_examples(path, lines, order, reason, detail)

    def _add_examples(self, path: str, lines: np.ndarray, order: np.ndarray, reason: str,
                      detail: Callable[[int], str] | None) -> None:
        """Keep the first rows (in line order) as examples: two a reason, :attr:`max_examples` in all."""
        room = min(self.max_examples - len(self.examples), 2 - self._per_reason[reason])
        self._per_reason[reason] += max(room, 0)
        for i in order[: max(room, 0)]:
            msg = detail(int(i)) if detail else reason
            self.examples.append(f"{path}:{int(lines[i])}: {msg}")

    def _hold(self, path: str, line: int, column: str | None, msg: str) -> None:
        """Keep a bad row for :meth:`raise_pending` (strict), its message without a column prefix."""
        if column is not None:
            msg = re.sub(r"^column '[^']*': ", "", msg)
        self._pending.append((path, line, column, msg))

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


