"""``flightpaths render``: draw every window as an image, with a manifest and the render config."""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from rasterize import FRAMES, VARIABLES

from ..render import (
    RENDER_PRESETS,
    config_from_options,
    load_render_config,
    read_windowing,
    render_windows,
)
from ..tracks import read_windows
from .options import overwrite_option, preset_option, progress_enabled

__all__ = ["command"]


def _color_by(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in names if v not in VARIABLES]
    if not names or bad:
        raise click.BadParameter(f"{value!r}: choose one or more of {', '.join(sorted(VARIABLES))}, comma-separated", ctx, param)
    return names


@click.command(name="render")
@click.argument("windows", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (images/, manifest.csv, render_config.json).")
@click.option("--size", type=click.IntRange(4, 4096), default=None, help="Image size in pixels (default: 128, or the --config file's).")
@click.option("--color-by", callback=_color_by, default=None, help="Channels, e.g. speed,time,altitude (default: progress,speed,extent).")
@click.option("--frame", type=click.Choice(FRAMES), default=None,
              help="fit: the window's box, at least 1 km (64 px for screen tracks); scale: 50 m (8 px) per pixel (default: fit).")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True, help="Processes drawing in parallel.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A render_config.json to start from (default: the --preset's config).")
@preset_option
@overwrite_option
def command(windows: Path, out_dir: Path, size: int | None, color_by: list[str] | None, frame: str | None, workers: int,
            config_path: Path | None, preset: str, overwrite: bool) -> None:
    """Draw every window of WINDOWS (a windows parquet from `flightpaths tracks`) as a PNG.

    Writes OUT/images/{window_id}.png, OUT/manifest.csv (one row per window: image, ids,
    provenance, status, figures) and OUT/render_config.json (the config to train and score with).
    """
    base = load_render_config(config_path) if config_path is not None else RENDER_PRESETS[preset]
    try:
        config = config_from_options(base, size=size, color_by=color_by, frame=frame)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    table = read_windows(windows)
    with tqdm(total=len(table), unit="window", disable=not progress_enabled()) as bar:
        manifest = render_windows(table, out_dir, config, workers=workers, overwrite=overwrite, progress=bar.update,
                                  windowing=read_windowing(windows))
    ok = int((manifest["status"] == "ok").sum())
    click.echo(f"{ok} of {len(manifest)} windows drawn to {out_dir / 'images'}; manifest {out_dir / 'manifest.csv'}")
