"""The small tree of errors that flightpaths raises.

Every error a user can cause derives from :class:`FlightpathsError`. Errors about input
data also subclass :class:`ValueError` and carry where the problem is (``path``, ``line``,
``column``) so that the message can say ``flights.csv, line 1284, column 'lat': 'abc' is
not a number``. The CLI is the one place these become exit codes (1 for data and runtime
errors; usage errors are click's and exit 2).
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "BundleError",
    "FlightpathsError",
    "InputError",
    "SchemaError",
    "SettingsError",
    "UnsupportedFormatError",
    "WeightsUnavailableError",
]


class FlightpathsError(Exception):
    """Base class of every error flightpaths raises on purpose."""


def _where(path: str | PathLike[str] | None, line: int | None, column: str | None) -> str:
    parts: list[str] = []
    if path is not None:
        parts.append(str(path))
    if line is not None:
        parts.append(f"line {line}")
    if column is not None:
        parts.append(f"column {column!r}")
    return ", ".join(parts)


class InputError(FlightpathsError, ValueError):
    """Input data that cannot be used, with the place it was found.

    >>> str(InputError("'abc' is not a number", path="flights.csv", line=1284, column="lat"))
    "flights.csv, line 1284, column 'lat': 'abc' is not a number"
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | PathLike[str] | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.column = column
        where = _where(path, line, column)
        super().__init__(f"{where}: {message}" if where else message)


class UnsupportedFormatError(InputError):
    """A file whose format is not one flightpaths can read; the message lists those it can."""


class SchemaError(InputError):
    """A table that lacks required columns or has columns of the wrong type."""


class SettingsError(FlightpathsError, ValueError):
    """A setting out of its range or inconsistent with another; the message names the setting."""


class BundleError(FlightpathsError, ValueError):
    """A model bundle that is missing, incompatible, tampered with or not pickle-free."""


class WeightsUnavailableError(FlightpathsError, RuntimeError):
    """Pretrained weights that cannot be had; the message says what to install or pass."""
