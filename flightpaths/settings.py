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

from .errors import SettingsError
from .fileio import atomic_write_text

__all__ = ["resolve", "settings_dict", "settings_from_dict", "write_settings"]

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


def _known_fields(cls: type, data: Any, what: str) -> dict[str, dataclasses.Field[Any]]:
    """The fields of *cls* by name, once *data* is a JSON object naming only them (else :class:`SettingsError`)."""
    if not isinstance(data, dict):
        raise SettingsError(f"{what}: expected a JSON object of settings, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise SettingsError(f"{what}: unknown field(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(fields))}")
    return fields


def settings_from_dict(cls: type[T], data: Any, *, what: str = "settings") -> T:
    """Build the frozen settings dataclass *cls* from JSON data (the inverse of :func:`settings_dict`).

    Lists become tuples; an unknown field, a value of the wrong type or one the dataclass
    refuses raises :class:`SettingsError` naming *what* and the field.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class S:
    ...     size: int = 96
    >>> settings_from_dict(S, {"size": 64})
    S(size=64)
    >>> settings_from_dict(S, {"size": "big"}, what="model.json 'render'")
    Traceback (most recent call last):
    ...
    flightpaths.errors.SettingsError: model.json 'render': field 'size' must be int, got 'big'
    """
    fields = _known_fields(cls, data, what)
    defaults = cls()
    values: dict[str, Any] = {}
    for name, value in data.items():
        values[name] = _typed(value, getattr(defaults, name), fields[name].type, f"{what}: field {name!r}")
    try:
        return cls(**values)
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"{what}: {exc}") from exc


def _typed(value: Any, default: Any, annotation: Any, where: str) -> Any:
    """*value* checked against the field's default (and annotation): numbers stay numbers, lists become tuples."""
    text = str(annotation)
    if value is None:
        if default is None or "None" in text:
            return None
        raise SettingsError(f"{where} must not be null")
    if isinstance(value, list):
        if not (isinstance(default, tuple) or "tuple" in text):
            raise SettingsError(f"{where} must be {type(default).__name__}, got a list")
        return tuple(_scalar(v, float, where) for v in value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise SettingsError(f"{where} must be true or false, got {value!r}")
        return value
    if isinstance(default, (int, float)) or "float" in text or "int" in text:
        if "str" in text and isinstance(value, str):
            return value
        return _scalar(value, int if isinstance(default, int) and "float" not in text else float, where)
    if isinstance(default, str) and not isinstance(value, str):
        raise SettingsError(f"{where} must be a string, got {value!r}")
    return value


def _scalar(value: Any, kind: type, where: str) -> Any:
    import math

    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok = ok and float(value).is_integer()
    if not ok or not math.isfinite(float(value)):
        raise SettingsError(f"{where} must be {kind.__name__}, got {value!r}")
    return kind(value)


def write_settings(path: str | Path, **sections: Any) -> Path:
    """Write one or more settings dataclasses (or plain dicts) as JSON to *path*."""
    data = {
        name: settings_dict(value) if dataclasses.is_dataclass(value) else value
        for name, value in sections.items()
    }
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
