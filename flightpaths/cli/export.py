"""``flightpaths export``: a model bundle as ONNX, for other runtimes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from .options import overwrite_option

__all__ = ["command"]


@click.command("export")
@click.argument("model", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The ONNX file to write (e.g. model.onnx).")
@click.option("--opset", type=click.IntRange(13, 23), default=17, show_default=True, help="ONNX opset version.")
@overwrite_option
def command(model: Path, output: Path, opset: int, overwrite: bool) -> None:
    """Export the bundle in MODEL as ONNX (inputs: normalised image and figures; output: class
    probabilities; preprocessing in the file's metadata). Checked against PyTorch when
    onnxruntime is installed. Needs: pip install 'flightpaths[onnx]'."""
    from ..train.onnx import export_onnx

    path = export_onnx(model, output, opset=opset, overwrite=overwrite)
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)", err=True)
    if importlib.util.find_spec("onnxruntime") is not None:
        click.echo("checked: ONNX Runtime gives the same probabilities as PyTorch (within 1e-4)", err=True)
    else:
        click.echo("not checked: onnxruntime is not installed (pip install 'flightpaths[onnx]' to check)", err=True)
