"""``flightpaths ingest``: read logs into one points table (or tracks as LineStrings)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import InputError
from ..fileio import check_output, inputs_among
from ..ingest.output import OUTPUT_SUFFIXES, write_logs
from ..settings import write_settings
from .options import DURATION, ingest_settings, log_options, overwrite_option, progress_enabled, say_if_read_as_utc

__all__ = ["command"]


def _check_outputs(logs: tuple[str, ...], output: Path, overwrite: bool) -> Path:
    """Refuse an output that is one of the inputs, or one that exists (unless
    *overwrite*); returns the settings file written beside it."""
    meta = output.with_name(output.name + ".settings.json")
    clash = inputs_among(logs, [output, meta])
    if clash:
        raise click.BadParameter(f"{clash} is one of the inputs; write the output elsewhere", param_hint="'-o/--output'")
    check_output(output, overwrite=overwrite)
    check_output(meta, overwrite=overwrite)
    return meta


@click.command("ingest")
@click.argument("logs", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help=f"Output file by suffix: points table ({', '.join(OUTPUT_SUFFIXES[:2])}) or tracks as LineStrings (.gpkg, .geojson).")
@log_options
@click.option("--strict", is_flag=True, default=None, help="Stop at the first malformed row, naming file, line and field (default: skip and count).")
@click.option("--merge-tolerance", type=DURATION, default=None, help="SBS: merge position and velocity messages this close in time (default: 2s).")
@overwrite_option
def command(logs: tuple[str, ...], output: Path, fmt: str | None, tz: str | None, strict: bool | None,
            columns: str | None, merge_tolerance: float | None, overwrite: bool) -> None:
    """Read LOG files, directories or globs (.gz too; formats detected from content) into one table.

    Prints a summary: objects, rows kept and dropped by reason (first examples as file:line: reason),
    time span and formats. Writes OUTPUT and OUTPUT.settings.json beside it.
    """
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise click.BadParameter(f"{output.name!r} must end in one of {', '.join(OUTPUT_SUFFIXES)}", param_hint="'-o/--output'")
    settings = ingest_settings(fmt=fmt, tz=tz, strict=strict, columns=columns, merge_tolerance_s=merge_tolerance,
                               progress=progress_enabled())
    meta = _check_outputs(logs, output, overwrite)
    report = write_logs(logs, output, settings=settings, overwrite=overwrite)  # bounded memory: chunk by chunk
    click.echo(report.summary(), err=True)
    say_if_read_as_utc(tz, report.files.values())
    if not report.rows_kept:
        raise InputError("no points kept from the input; see the summary above for why")
    write_settings(meta, ingest=settings, inputs=list(logs))
    click.echo(f"wrote {output}", err=True)
    if report.incomplete():
        raise InputError(report.incomplete())
