"""``flightpaths report``: interpretation report of a model on a labelled dataset."""

from __future__ import annotations

from pathlib import Path

import click

from .options import overwrite_option

__all__ = ["command"]


@click.command("report")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("dataset_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--windows", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Windows parquet with per-point arrays, for the histogram baseline (default: scalar figures only).")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True, help="Images per inference batch.")
@overwrite_option
def command(model_dir: Path, dataset_dir: Path, out_dir: Path, windows: Path | None, batch_size: int, overwrite: bool) -> None:
    """Confusion matrix, per-class metrics, PR curve, top losses and baselines of MODEL_DIR on DATASET_DIR."""
    from ..report import interpretation_report

    index = interpretation_report(model_dir, dataset_dir, out_dir, windows=windows, overwrite=overwrite, batch_size=batch_size)
    click.echo(f"report: {index}")
