"""``flightpaths demo``: the whole pipeline on the shipped sample data."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["command"]


@click.command("demo")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for every stage's output (default: demo-out). Re-running replaces only the demo's own outputs.")
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="The sample data folder with sim/ and mouse/ (default: the repository's data/).")
@click.option("--mouse", is_flag=True, help="Run on mouse telemetry (human vs bot) instead of flights.")
@click.option("--size", type=click.IntRange(16, 512), default=None, help="Image size in pixels (default: 96).")
@click.option("--epochs", type=click.IntRange(0, 100), default=None, help="Unfrozen training epochs (default: 1).")
@click.option("--freeze-epochs", type=click.IntRange(0, 100), default=None,
              help="Head-only epochs on cached features (default: 3).")
@click.option("--device", default=None, help="auto, cpu, cuda or mps (default: auto).")
def command(out_dir: Path | None, data_dir: Path | None, mouse: bool, size: int | None, epochs: int | None,
            freeze_epochs: int | None, device: str | None) -> None:  # fmt: skip
    """Run ingest -> tracks -> render -> label -> train -> report -> score -> tip sheet on data/.

    Prints each stage's summary, the measured accuracy and where the report and tip sheet are.
    """
    from ..demo import DemoSettings, run_demo
    from ..settings import resolve

    settings = resolve(DemoSettings, out_dir=out_dir, data_dir=data_dir, mouse=mouse or None, size=size,
                       epochs=epochs, freeze_epochs=freeze_epochs, device=device)  # fmt: skip
    result = run_demo(settings, echo=lambda line: click.echo(line, err=True))
    click.echo("")
    for name, path in result.paths.items():
        click.echo(f"{name:>12}: {path}")
    for name in ("valid_accuracy", "valid_aupr", "episode_precision", "episode_recall", "top20_precision"):
        if name in result.figures:
            click.echo(f"{name:>18}: {result.figures[name]:.3f}")
    click.echo(f"demo time: {result.seconds:.0f} s")
