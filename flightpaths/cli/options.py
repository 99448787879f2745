"""Options shared by several commands, defined once.

Every option's help states its default. Options whose default lives in a settings dataclass
default to ``None`` here, meaning "the dataclass's value" (see :func:`flightpaths.settings.resolve`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = [
    "DURATION",
    "Duration",
    "columns_option",
    "format_option",
    "ingest_settings",
    "log_options",
    "overwrite_option",
    "preset_option",
    "progress_enabled",
    "say_if_read_as_utc",
    "tz_option",
]

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


preset_option = click.option(
    "--preset", type=click.Choice(["flight", "mouse"]), default="flight", show_default=True,
    help="Settings for a kind of data: flight (aircraft) or mouse (screen telemetry); other options override it.")


_COLUMNS_HELP = (
    "For a CSV of another layout: FIELD=COLUMN pairs, comma-separated, optional :UNIT after the column, e.g. "
    "'id=adshex,time=timestamp,lat=latitude,lon=longitude,altitude=altitude,track=heading,callsign=name'. "
    "Fields: id time lat lon x y altitude speed track vrate callsign squawk on_ground registration type category "
    "button state. Units: altitude ft|m, speed kt|mps|kmh|mph, vrate fpm|mps, time auto|s|ms|iso "
    "(default: the first). Default: none (recognised column names are used)."
)


def _format_names() -> list[str]:
    from ..ingest import FORMATS

    return ["auto", *sorted(FORMATS)]


format_option = click.option("--format", "fmt", type=click.Choice(_format_names()), default=None,
                             help="Log format (default: auto, detected from each file's content).")
tz_option = click.option("--tz", default=None,
                         help="Time zone of the log's clock, for times written without one, e.g. an SBS receiver "
                              "logging local time: America/New_York (default: UTC).")
columns_option = click.option("--columns", default=None, help=_COLUMNS_HELP)

_F = TypeVar("_F", bound=Callable[..., Any])


def log_options(command: _F) -> _F:
    """``--format``, ``--tz`` and ``--columns``: how the commands that read logs (``ingest``,
    ``score``) read them; passed on as ``fmt``, ``tz`` and ``columns`` (see :func:`ingest_settings`)."""
    for option in (columns_option, tz_option, format_option):  # innermost first: --format shows first
        command = option(command)
    return command


def ingest_settings(**values: Any) -> Any:
    """IngestSettings from CLI values (None = the default); a bad --tz or --columns exits 2 naming it."""
    from ..errors import InputError
    from ..ingest import IngestSettings, parse_columns
    from ..settings import resolve

    try:
        values["columns"] = parse_columns(values.get("columns"))
        return resolve(IngestSettings, **values)
    except InputError as exc:
        hint = "'--columns'" if exc.column == "columns" else "'--tz'"
        raise click.BadParameter(exc.message, param_hint=hint) from exc


def say_if_read_as_utc(tz: str | None, formats: Any) -> None:
    """Print one line on stderr when SBS logs were read without --tz: their times were taken as UTC."""
    if tz is None and "sbs" in set(formats):
        click.echo("note: SBS times were read as UTC (no --tz given); if the receiver logs local time, "
                   "give its zone, e.g. --tz America/New_York", err=True)


def progress_enabled() -> bool:
    """False when the user asked for ``--quiet``."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if isinstance(ctx.obj, dict) and ctx.obj.get("quiet"):
            return False
        ctx = ctx.parent
    return True
