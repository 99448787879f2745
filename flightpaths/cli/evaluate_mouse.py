"""``flightpaths evaluate --mouse``: people or bots, leave-one-source-out, per file."""

from __future__ import annotations

from pathlib import Path

import click

from ..evaluate.mouse import MouseEvalSettings, evaluate_mouse, mouse_markdown
from ..fileio import atomic_write_text, check_output, write_csv
from ..settings import resolve, write_settings

__all__ = ["run_mouse"]


def run_mouse(labelled: tuple[Path, ...], people: tuple[Path, ...], out_dir: Path, *, n_boot: int | None,
              seed: int | None, overwrite: bool) -> None:
    """Run the mouse evaluation and write OUT/mouse-folds.csv, mouse-files.csv, mouse.md, settings.json."""
    outputs = [out_dir / name for name in ("mouse-folds.csv", "mouse-files.csv", "mouse.md", "settings.json")]
    for path in outputs:
        check_output(path, overwrite=overwrite)
    settings = resolve(MouseEvalSettings, n_boot=n_boot, seed=seed)
    result = evaluate_mouse(labelled, people, settings, echo=lambda line: click.echo(line, err=True))
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(outputs[0], result.folds, index=False)
    write_csv(outputs[1], result.files, index=False)
    atomic_write_text(outputs[2], mouse_markdown(result))
    write_settings(outputs[3], mouse=settings, run={"mouse": [str(p) for p in labelled], "mouse_human": [str(p) for p in people]})
    click.echo(mouse_markdown(result))
    for path in outputs:
        click.echo(str(path))
