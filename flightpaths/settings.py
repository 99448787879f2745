"""Helpers for settings: frozen dataclasses with their defaults in one place.

Each stage defines its settings as a frozen dataclass. The CLI passes ``None`` for every
option the user did not give, and :func:`resolve` keeps the dataclass's default for those.
:func:`write_settings` writes the resolved settings as JSON next to an output, so every
result says how it was made.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, TypeVar

from .fileio import atomic_write_text

__all__ = ["resolve", "settings_dict", "write_settings"]

T = TypeVar("T")


def resolve(cls: type[T], /, **values: Any) -> T:
    """Build *cls* from *values*, ignoring those that are ``None`` (meaning "the default").

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class S:
    ...     size: int = 96
    ...     frame: str = "fit"
    >>> resolve(S, size=None, frame="scale")
    S(size=96, frame='scale')
    """
    return cls(**{k: v for k, v in values.items() if v is not None})


def settings_dict(settings: Any) -> dict[str, Any]:
    """A JSON-ready dict of a settings dataclass (tuples become lists, paths strings)."""

    def clean(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        return value

    return {k: clean(v) for k, v in dataclasses.asdict(settings).items()}


def write_settings(path: str | Path, **sections: Any) -> Path:
    """Write one or more settings dataclasses (or plain dicts) as JSON to *path*."""
    data = {
        name: settings_dict(value) if dataclasses.is_dataclass(value) else value
        for name, value in sections.items()
    }
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
