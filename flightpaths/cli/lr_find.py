"""``flightpaths lr-find``: the learning-rate range test, with a suggested value and a plot."""

from __future__ import annotations

from pathlib import Path

import click

from ..settings import resolve
from .options import overwrite_option, progress_enabled

__all__ = ["command"]


@click.command("lr-find")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the loss-versus-learning-rate plot here (PNG; default: no plot).")
@click.option("--phase", type=click.Choice(["head", "body"]), default="head", show_default=True,
              help="Test the new head on cached features, or the whole unfrozen network.")
@click.option("--arch", default=None, help="Backbone (default efficientnet_lite0).")
@click.option("--weights", default=None, help="Pretrained weights file, or 'none' (default: the backbone's own).")
@click.option("--size", type=click.IntRange(16), default=None, help="Image side in pixels (default 128).")
@click.option("--batch-size", type=click.IntRange(2), default=None,
              help="Batch size (default: 64, smaller for small datasets so an epoch has at least 8 steps).")
@click.option("--group-by", type=click.Choice(["object", "track", "file"]), default=None, help="Split grouping (default object).")
@click.option("--figures/--no-figures", default=None, help="Hybrid head with window figures (default: when present).")
@click.option("--start-lr", type=click.FloatRange(min=0, min_open=True), default=1e-7, show_default=True, help="First learning rate.")
@click.option("--end-lr", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True, help="Last learning rate.")
@click.option("--iters", type=click.IntRange(5), default=100, show_default=True, help="Number of batches.")
@click.option("--device", default=None, help="auto (default), cpu, cuda, cuda:N or mps.")
@overwrite_option
def command(dataset: Path, plot_path: Path | None, phase: str, arch: str | None, weights: str | None, size: int | None,
            batch_size: int | None, group_by: str | None, figures: bool | None, start_lr: float, end_lr: float, iters: int,
            device: str | None, overwrite: bool) -> None:
    """Run the learning-rate range test on DATASET and print the suggested learning rate."""
    from ..fileio import check_output
    from ..train.engine import TrainSettings
    from ..train.lr_find import lr_find, plot_lr_find

    if plot_path is not None:
        check_output(plot_path, overwrite=overwrite)
    if start_lr >= end_lr:
        raise click.BadParameter(f"{start_lr} is not below --end-lr {end_lr}", param_hint="--start-lr")
    head = {True: "hybrid", False: "cnn", None: None}[figures]
    settings = resolve(TrainSettings, arch=arch, weights=weights, size=size, batch_size=batch_size, group_by=group_by,
                       head=head, device=device)
    result = lr_find(dataset, settings, start_lr=start_lr, end_lr=end_lr, num_it=iters, phase=phase,
                     progress=progress_enabled())
    if plot_path is not None:
        plot_lr_find(result, plot_path)
    click.echo(f"suggested learning rate: {result.suggestion:.2e} (minimum/10); steepest descent at {result.steepest:.2e}")
