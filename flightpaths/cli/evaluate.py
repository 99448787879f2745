"""``flightpaths evaluate``: judge circling detectors on real flights, per flight segment."""

from __future__ import annotations

from pathlib import Path

import click

from ..evaluate import (
    DEFAULT_DATA_ROOT,
    EvaluateSettings,
    SegmentSettings,
    apply_labels,
    build_set,
    build_shared_set,
    evaluate,
    holdout_table,
    write_evaluation,
)
from ..fileio import check_output
from ..settings import resolve, write_settings
from .evaluate_mouse import run_mouse
from .options import overwrite_option

__all__ = ["command"]


@click.command("evaluate")
@click.argument("model", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--positives", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Files or folders of orbiting flights (repeatable; every segment counts as circling).")
@click.option("--negatives", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Files or folders of ordinary flights (repeatable).")
@click.option("--set", "set_name", type=click.Choice(["shared"]), default=None,
              help="Use the built-in real evaluation set read from --data-root (default: none).")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_DATA_ROOT,
              show_default=True, help="Where the shared real data live (for --set shared).")
@click.option("--labels", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Reviewed labels, CSV segment_id,label (1, 0 or exclude) (default: category labels).")
@click.option("--review/--no-review", default=True, show_default=True,
              help="With --set shared, leave out the segments reviewed by eye as mislabelled by category.")
@click.option("--holdout/--all", "holdout", default=None,
              help="Judge only held-out aircraft, or all (default: --holdout with a MODEL on --set shared).")
@click.option("--bootstrap", "n_boot", type=click.IntRange(min=1), default=None,
              help="Bootstrap replicates over aircraft (default: 1000).")
@click.option("--seed", type=int, default=None, help="Seed of the bootstrap and of the hold-out choice (default: 0).")
@click.option("--aggregate", type=click.Choice(["auto", "learned", "max", "topk"]), default=None,
              help="Window probabilities -> segment score: the model's learned segment aggregator, the best "
                   "window, or the mean of the 3 best (default: auto = learned when the model has one, else max).")
@click.option("--mouse", "mouse", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Mouse telemetry instead of flights: a folder of sources named with bot or human (or holding such "
                   "folders); leave-one-source-out, per file (repeatable).")
@click.option("--mouse-human", "mouse_human", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="With --mouse: a folder of people's sessions whatever its name, one source (repeatable).")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder for metrics.md/.csv, segments.csv, contact_sheet.png.")
@overwrite_option
def command(model: Path | None, positives: tuple[Path, ...], negatives: tuple[Path, ...], set_name: str | None,
            data_root: Path, labels: Path | None, review: bool, holdout: bool | None, n_boot: int | None, seed: int | None,
            aggregate: str | None, mouse: tuple[Path, ...], mouse_human: tuple[Path, ...], out_dir: Path,
            overwrite: bool) -> None:
    """Score real flights per segment with MODEL (optional), the 5-minute and multi-scale
    turn rules and, when installed, traffic's holding detector; report AP, P@20/100, recall
    at 0, 1 and 5 false alarms per 1,000 negatives and at 1%/5%, with bootstrap intervals
    over aircraft, and a contact sheet; with a MODEL whose folder has a behaviour classifier,
    its per-class precision and recall, confusion matrix and macro-F1. With --mouse: people or bots, each source held out in
    turn, motion features beside the setup-shortcut baseline."""
    if mouse or mouse_human:
        if model is not None or set_name or positives or negatives:
            raise click.UsageError("--mouse runs on its own: no MODEL, --set, --positives or --negatives")
        return run_mouse(mouse, mouse_human, out_dir, n_boot=n_boot, seed=seed, overwrite=overwrite)
    if set_name is None and not (positives and negatives):
        raise click.UsageError("give --set shared, or both --positives and --negatives")
    check_output(out_dir / "metrics.csv", overwrite=overwrite)
    segment_settings = SegmentSettings()
    data = (build_shared_set(data_root, settings=segment_settings, review=review) if set_name == "shared"
            else build_set(positives, negatives, settings=segment_settings))
    if labels is not None:
        data = apply_labels(data, labels)
    default_holdout = model is not None and set_name == "shared"
    settings = resolve(EvaluateSettings, holdout_only=default_holdout if holdout is None else holdout,
                       n_boot=n_boot, seed=seed, aggregate=aggregate)
    notes = [f"built-in real set from {data_root}; segments reviewed by eye left out"] if set_name == "shared" and review else []
    result = evaluate(data, model, settings=settings, notes=notes)
    holdout_rows = holdout_table(data.segments, fraction=settings.holdout_fraction, seed=settings.seed)
    written = write_evaluation(out_dir, data, result, contact_n=settings.contact_n, holdout=holdout_rows)
    write_settings(out_dir / "settings.json", evaluate=settings, segments=segment_settings,
                   run={"model": str(model) if model else None, "set": set_name, "labels": str(labels) if labels else None, "review": review})
    headline = result.metrics[(result.metrics["subset"].isin(["all", "dense", "sparse"]))
                              & (result.metrics["metric"] == "AP")]
    for row in headline.itertuples():
        click.echo(f"{row.subset:>6}  {row.scorer:<16} AP {row.value:.3f} [{row.lo:.3f}, {row.hi:.3f}]")
    if result.behaviour is not None:
        m = result.behaviour.table.loc["macro"]
        click.echo(f"behaviours: macro-F1 {m['f1']:.3f} [{m['f1_lo']:.3f}, {m['f1_hi']:.3f}] over "
                   f"{len(result.behaviour.segments)} segments (per class: behaviour.csv, metrics.md)")
    for path in written:
        click.echo(str(path))
