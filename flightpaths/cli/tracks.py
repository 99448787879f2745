"""``flightpaths tracks``: cut points into tracks and overlapping windows with their figures."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from ..errors import InputError, SettingsError
from ..fileio import check_output
from ..ingest import IngestReport, iter_points
from ..settings import write_settings
from ..tracks import (
    TRACK_PRESETS,
    WINDOW_OUTPUT_SUFFIXES,
    WINDOW_PRESETS,
    CleanReport,
    WindowsWriter,
    windows_from_chunks,
)
from .options import DURATION, ingest_settings, preset_option, say_if_read_as_utc, tz_option

__all__ = ["command"]


def _durations(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[float, ...] | None:
    """Several durations, from repeated options and/or comma-separated lists."""
    parts = [p for v in values for p in str(v).split(",") if p.strip()]
    return tuple(DURATION.convert(p, param, ctx) for p in parts) or None


def _given(**values: Any) -> dict[str, Any]:
    """The options the user gave (None = keep the preset's value)."""
    return {k: v for k, v in values.items() if v is not None}


@click.command("tracks")
@click.argument("points", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Windows file by suffix: .parquet (full table with per-point arrays), .gpkg or .geojson (LineStrings).")
@click.option("--gap", type=DURATION, default=None, help="A silence longer than this starts a new track (default: 10min).")
@click.option("--window", multiple=True, callback=_durations,
              help="Window length; repeat or comma-separate for several, e.g. --window 5min,10min,20min (default: 5min).")
@click.option("--step", multiple=True, callback=_durations,
              help="Step between window starts: one for all lengths or one per length (default: half of each length).")
@click.option("--min-points", type=click.IntRange(1), default=None, help="Drop windows with fewer points (default: 3).")
@click.option("--projection", type=click.Choice(["local", "pyproj"]), default=None,
              help="Local AEQD projection: vectorized 'local' or exact 'pyproj' per window (slow) (default: local).")
@click.option("--airborne-only/--keep-ground", "airborne_only", default=None,
              help="Leave out points reported on the ground before cutting windows (default: --airborne-only).")
@preset_option
@tz_option
@click.option("--overwrite", is_flag=True, default=False, help="Replace outputs that already exist (default: refuse).")
def command(points: tuple[str, ...], output: Path, gap: float | None, window: tuple[float, ...] | None,
            step: tuple[float, ...] | None, min_points: int | None, projection: str | None,
            airborne_only: bool | None, preset: str, tz: str | None, overwrite: bool) -> None:
    """Read POINTS (a points .parquet from `flightpaths ingest`, or any log ingest reads), clean them,
    split them into tracks and cut overlapping windows. Prints what was removed and why;
    writes OUTPUT and OUTPUT.settings.json beside it."""
    if output.suffix.lower() not in WINDOW_OUTPUT_SUFFIXES:
        raise click.BadParameter(f"{output.name!r} must end in one of {', '.join(WINDOW_OUTPUT_SUFFIXES)}", param_hint="'-o/--output'")
    if step and window and len(step) not in (1, len(window)):
        raise click.BadParameter(f"{len(step)} steps for {len(window)} window lengths; give one step or one per length",
                                 param_hint="'--step'")
    try:
        track_settings = replace(TRACK_PRESETS[preset], **_given(gap_s=gap))
        window_settings = replace(WINDOW_PRESETS[preset], **_given(window_s=window, step_s=step, min_points=min_points,
                                                                  projection=projection, airborne_only=airborne_only))
    except SettingsError as exc:
        raise click.BadParameter(str(exc), param_hint="'--window/--step'") from exc
    meta = output.with_name(output.name + ".settings.json")
    check_output(output, overwrite=overwrite)
    check_output(meta, overwrite=overwrite)
    if not points or any(not str(p).strip() for p in points):
        raise InputError("an input path is empty (check the shell glob or variable that made it)")
    read = IngestReport()
    report = CleanReport()
    chunks = (c.points for c in iter_points(points, ingest_settings(tz=tz), report=read))
    with WindowsWriter(output, settings={"tracks": track_settings, "windows": window_settings}) as writer:
        for windows in windows_from_chunks(chunks, track_settings, window_settings, report=report, ground_first=True):
            writer.write(windows)  # a chunk of points at a time: memory does not grow with the log
    say_if_read_as_utc(tz, read.files.values())
    click.echo(report.summary(), err=True)
    write_settings(meta, tracks=track_settings, windows=window_settings, inputs=list(points), report=report.as_dict())
    click.echo(f"wrote {writer.rows} window(s) to {output}")
    if read.incomplete():
        raise InputError(read.incomplete())
