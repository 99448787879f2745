"""Options shared by several commands, defined once.

Every option's help states its default. Options whose default lives in a settings dataclass
default to ``None`` here, meaning "the dataclass's value" (see :func:`flightpaths.settings.resolve`).
"""

from __future__ import annotations

import re
from typing import Any

import click

__all__ = ["DURATION", "Duration", "overwrite_option", "progress_enabled"]

_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hr": 3600.0, "ms": 0.001}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")


class Duration(click.ParamType):
    """A duration such as ``150s``, ``5min``, ``2.5m``, ``1h`` or a plain number of seconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        match = _DURATION.match(str(value).lower())
        if not match or match.group(2) not in _UNITS:
            self.fail(f"{value!r} is not a duration; expected e.g. 150s, 5min, 1h", param, ctx)
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
        if seconds <= 0:
            self.fail(f"{value!r} must be longer than zero", param, ctx)
        return seconds


DURATION = Duration()

overwrite_option = click.option(
    "--overwrite", is_flag=True, default=False, help="Replace outputs that already exist (default: refuse)."
)


def progress_enabled() -> bool:
    """False when the user asked for ``--quiet``."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if isinstance(ctx.obj, dict) and ctx.obj.get("quiet"):
            return False
        ctx = ctx.parent
    return True
