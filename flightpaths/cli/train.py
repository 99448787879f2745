"""``flightpaths train``: fine-tune a pretrained CNN on a class-folder dataset (CPU or GPU, offline)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from ..settings import resolve, write_settings
from .options import overwrite_option, progress_enabled

__all__ = ["command"]


@click.command("train")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", "model_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Model folder to write (model.safetensors, model.json, history, checkpoint).")
@click.option("--arch", default=None, help="Backbone: efficientnet_lite0 (default, offline), resnet18/34/50, or timm:<name>.")
@click.option("--weights", default=None, help="Pretrained weights file for the backbone, or 'none' for random init (default: the backbone's own).")
@click.option("--epochs", type=click.IntRange(0), default=None, help="Epochs with the body unfrozen (default 4).")
@click.option("--freeze-epochs", type=click.IntRange(0), default=None, help="Epochs training the new head only (default 1).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Base learning rate (default 2e-3).")
@click.option("--size", type=click.IntRange(16), default=None, help="Image side in pixels (default 128).")
@click.option("--batch-size", type=click.IntRange(2), default=None,
              help="Batch size (default: 64, smaller for small datasets so an epoch has at least 8 steps).")
@click.option("--group-by", type=click.Choice(["auto", "object", "track", "file", "session"]), default=None,
              help="Keep all images of one object/track/source file/flight session on one side of the split (default auto:"
                   " object from labels.csv, else flight sessions from file names such as N917PD2019-03-25_01_10_14.png).")
@click.option("--session-gap", type=click.FloatRange(0, min_open=True), default=None,
              help="Flight sessions: snapshots of one tail number at most this many minutes apart (default 30).")
@click.option("--cv", "cv", type=click.IntRange(0), default=None,
              help="Cross-validate with K grouped folds, then train the final model on all images; 0 = one split"
                   " (default: 5 for folders under 400 images, else 0).")
@click.option("--transform", type=click.Choice(["none", "red-track", "red-track-loops"]), default=None,
              help="Image transform before resizing, kept in the model: red-track keeps a red track and whitens the basemap;"
                   " red-track-loops also fills the areas the track closes around (default none). Both measure figures on"
                   " each map (loops closed, track length and extent, solid red) for the hybrid or figures-only head.")
@click.option("--valid-frac", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None, help="Validation share (default 0.2).")
@click.option("--figures/--no-figures", default=None,
              help="Hybrid head with window figures from manifest.csv, or with the figures --transform red-track[-loops]"
                   " measures on each map (default: with window figures when present; map figures only when asked).")
@click.option("--figures-only", is_flag=True,
              help="Train on the figures alone, no CNN (window figures; or, with --transform red-track[-loops], the"
                   " figures measured on the maps: the best grouped cross-validated figure on a folder of maps).")
@click.option("--unfreeze", type=click.IntRange(0), default=None,
              help="Train only the last N body stages in phase 2 (earlier ones are cached); 0 = all (default 1).")
@click.option("--augment", type=click.Choice(["dihedral", "flips", "none"]), default=None, help="Flips and 90-degree rotations (default dihedral).")
@click.option("--no-cache", is_flag=True, help="Run the frozen body every epoch instead of caching its features (slower).")
@click.option("--seed", type=int, default=None, help="Random seed (default 0).")
@click.option("--device", default=None, help="auto (default), cpu, cuda, cuda:N or mps.")
@click.option("--resume", is_flag=True, help="Continue from MODEL_DIR/checkpoint with its settings.")
@overwrite_option
@click.option("--report/--no-report", default=True, show_default=True,
              help="Write the interpretation report (confusion, PR curve, top losses, baselines) to MODEL_DIR/report.")
def command(dataset: Path, model_dir: Path, arch: str | None, weights: str | None, epochs: int | None,
            freeze_epochs: int | None, lr: float | None, size: int | None, batch_size: int | None, group_by: str | None,
            valid_frac: float | None, session_gap: float | None, cv: int | None, transform: str | None,
            figures: bool | None, figures_only: bool, unfreeze: int | None, augment: str | None,
            no_cache: bool, seed: int | None, device: str | None, resume: bool, overwrite: bool,
            report: bool) -> None:
    """Fine-tune a pretrained CNN on DATASET (class folders) and write a model bundle to MODEL_DIR."""
    from ..train.console import collect_warnings, write_warnings
    from ..train.cv import cross_validate, cv_summary, default_folds
    from ..train.data import describe_duplicate_sets, scan_dataset
    from ..train.engine import TrainSettings, train

    if device is not None and not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", device):
        raise click.BadParameter(f"{device!r} is not a device; use auto, cpu, cuda, cuda:N or mps", param_hint="--device")
    if cv == 1:
        raise click.BadParameter("1 fold is no cross-validation: use 0 (one split) or 2 or more", param_hint="--cv")
    head = "figures" if figures_only else {True: "hybrid", False: "cnn", None: None}[figures]
    try:
        settings = resolve(TrainSettings, arch=arch, weights=weights, epochs=epochs, freeze_epochs=freeze_epochs, lr=lr,
                           size=size, batch_size=batch_size, group_by=group_by, session_gap_min=session_gap,
                           transform=transform, valid_frac=valid_frac, head=head,
                           unfreeze=unfreeze, augment=augment, cache_features=False if no_cache else None, seed=seed,
                           device=device)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    k, why = default_folds(dataset, settings, cv, resume=resume)
    click.echo(why, err=True)
    with collect_warnings() as said:
        for line in describe_duplicate_sets(scan_dataset(dataset, group_by=settings.group_by)):
            click.echo(f"duplicates: {line}", err=True)
        if k:
            cv_result = cross_validate(dataset, model_dir, settings, k=k, overwrite=overwrite, progress=progress_enabled())
            result = cv_result.final
            assert result is not None
        else:
            result = train(dataset, model_dir, settings, resume=resume, overwrite=overwrite, progress=progress_enabled())
    write_warnings(model_dir, said)
    write_settings(model_dir / "train_settings.json", train=result.settings)
    if report:
        from ..report import interpretation_report

        click.echo(f"interpretation report: {interpretation_report(model_dir, dataset, model_dir / 'report', overwrite=True)}",
                   err=True)
    if k:
        click.echo(json.dumps(cv_summary(model_dir, result.head, cv_result), indent=2))
        return
    keep = ("loss", "accuracy", "balanced", "precision", "recall", "f1", "aupr", "predicted")
    summary = {k: round(v, 4) for k, v in result.metrics.items() if k.split("_")[0] in keep and isinstance(v, float)}
    click.echo(json.dumps({"model": str(model_dir), "head": result.head, "split": result.split.method,
                           "n_train": len(result.split.train), "n_valid": len(result.split.valid), "metrics": summary}, indent=2))
