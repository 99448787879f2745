"""What the trainer told the console, kept for the report: warnings collected while training.

The HTML report must carry the same warnings as the console (one validation group, under 30
images a class, duplicates, a one-class model), so :func:`collect_warnings` gathers every
warning logged by ``flightpaths`` while it is open, and :func:`write_warnings` writes them to
``MODEL_DIR/warnings.json`` beside the bundle.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

from ..fileio import atomic_write_text

__all__ = ["WARNINGS_FILE", "collect_warnings", "read_warnings", "write_warnings"]

WARNINGS_FILE = "warnings.json"


class _Collector(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        text = text[len("warning: "):] if text.startswith("warning: ") else text
        if text not in self.into:
            self.into.append(text)


@contextlib.contextmanager
def collect_warnings(logger: str = "flightpaths") -> Iterator[list[str]]:
    """Collect the distinct warning messages logged under *logger* while the block runs."""
    said: list[str] = []
    handler = _Collector(said)
    log = logging.getLogger(logger)
    log.addHandler(handler)
    try:
        yield said
    finally:
        log.removeHandler(handler)


def write_warnings(model_dir: str | Path, warnings: list[str]) -> Path:
    """Write *warnings* to ``MODEL_DIR/warnings.json``."""
    return atomic_write_text(Path(model_dir) / WARNINGS_FILE, json.dumps({"warnings": list(warnings)}, indent=2) + "\n")


def read_warnings(model_dir: str | Path) -> list[str]:
    """The warnings recorded beside a bundle (none when the file is absent or unreadable)."""
    path = Path(model_dir) / WARNINGS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(w) for w in data.get("warnings", [])] if isinstance(data, dict) else []
