"""fast.ai's transfer-learning recipe as plain functions, made fast on a CPU.

:func:`train` runs the whole thing:

1. read the dataset and split it by group (:mod:`flightpaths.train.data`);
2. **phase 1**: body frozen, new head, one-cycle. The frozen body's features are computed
   once (for a few flips/rotations of every training image) and the head is trained on that
   cache, which is far cheaper than running the body every epoch;
3. **phase 2**: unfreeze (all stages, or only the last ``unfreeze`` stages, in which case the
   frozen stages' outputs are cached too), discriminative learning rates (lower for early
   stages), one-cycle;
4. every epoch: validation metrics with intervals, a checkpoint, and the bundle re-written
   whenever the monitored metric improves (early stopping on it).

Runs are seeded: every epoch reseeds from ``(seed, phase, epoch)``, so a resumed run ends
with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..errors import BundleError, FlightpathsError
from ..fileio import check_output
from ..runtime import tune_allocator
from ._feeds import _build_feeds, _evaluate, _Feeds, _set_trainable, _stage_feeds, _train_epoch
from .backbones import backbone_spec, build_backbone
from .bundle import (
    CHECKPOINT_DIR,
    Checkpoint,
    load_checkpoint,
    save_bundle,
    save_checkpoint,
    save_history,
    windowing_meta,
)
from .data import (
    DEFAULT_FIGURES,
    IMAGE_TRANSFORMS,
    LabelledImages,
    Split,
    fingerprint,
    image_figure_table,
    load_images,
    scan_dataset,
    split_dataset,
)
from .mapfigures import TRANSFORM_FIGURES
from .metrics import METRIC_NAMES, MIN_GROUPS, positive_index
from .model import AUGMENTS, HEAD_MODES, Classifier, FigureScaler

__all__ = [
    "AUGMENTS",
    "Prepared",
    "TrainResult",
    "TrainSettings",
    "TrainingInterrupted",
    "auto_batch_size",
    "bundle_meta",
    "pick_device",
    "prepare",
    "train",
    "tune_allocator",
]

log = logging.getLogger(__name__)


class TrainingInterrupted(FlightpathsError):
    """Training stopped by Ctrl-C; the checkpoint of the last finished epoch is on disk."""


@dataclass(frozen=True)
class TrainSettings:
    """Everything that decides a training run (defaults follow fastai's ``fine_tune``)."""

    arch: str = "efficientnet_lite0"
    weights: str | None = None  # None = the backbone's pretrained weights; a path; or "none"
    size: int = 128
    epochs: int = 4
    freeze_epochs: int = 1
    lr: float = 2e-3  # fastai base_lr; phase 2 uses lr/2 with lr_mult spread over stages
    lr_mult: float = 100.0
    pct_start: float = 0.3
    div: float = 5.0
    wd: float = 0.01
    batch_size: int | None = None  # None = auto: 64, or smaller so that an epoch has at least 8 steps
    valid_frac: float = 0.2
    seed: int = 0
    group_by: str = "auto"  # object from labels.csv, else flight sessions from file names
    session_gap_min: float = 30.0  # group_by="session": snapshots of one tail at most this far apart
    transform: str = "none"  # image transform before resizing: none, red-track (maps made for people)
    augment: str = "dihedral"
    weighted_loss: bool = True
    monitor: str = "loss"  # a proper score: AUPR or accuracy would keep a model that calls everything one class
    patience: int = 3
    head: str = "auto"  # auto = hybrid when the dataset has figures, else cnn
    figure_columns: tuple[str, ...] = DEFAULT_FIGURES
    hidden: int = 512
    dropout: float = 0.5
    unfreeze: int = 1  # k = only the last k body stages train (earlier ones cached: faster); 0 = all
    cache_features: bool = True
    device: str = "auto"
    workers: int | None = None  # threads decoding images (default: up to 8)
    cache_variants: int = 2  # flips/rotations of each image whose frozen-body features phase 1 caches
    cache_budget_mb: int = 2048

    def __post_init__(self) -> None:
        checks = [
            (self.size >= 16, f"size must be at least 16, not {self.size}"),
            (self.epochs >= 0 and self.freeze_epochs >= 0, "epochs and freeze_epochs must be >= 0"),
            (self.epochs + self.freeze_epochs > 0, "nothing to train: epochs and freeze_epochs are both 0"),
            (self.lr > 0 and self.lr_mult >= 1, "lr must be > 0 and lr_mult >= 1"),
            (self.batch_size is None or self.batch_size >= 2, f"batch_size must be at least 2, not {self.batch_size}"),
            (self.augment in AUGMENTS, f"augment must be one of {', '.join(AUGMENTS)}, not {self.augment!r}"),
            (self.monitor in METRIC_NAMES, f"monitor must be one of {', '.join(METRIC_NAMES)}, not {self.monitor!r}"),
            (self.head in (*HEAD_MODES, "auto"), f"head must be one of auto, {', '.join(HEAD_MODES)}, not {self.head!r}"),
            (self.unfreeze >= 0, "unfreeze must be >= 0"),
            (self.transform in IMAGE_TRANSFORMS, f"transform must be one of {', '.join(IMAGE_TRANSFORMS)}, not {self.transform!r}"),
            (self.session_gap_min > 0, f"session_gap_min must be > 0, not {self.session_gap_min}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


@dataclass
class TrainResult:
    """What a run produced: the bundle folder, the best epoch's metrics and the history."""

    model_dir: Path
    metrics: dict[str, float]
    history: pd.DataFrame
    split: Split
    head: str
    settings: TrainSettings = field(default_factory=lambda: TrainSettings())
    timings: dict[str, float] = field(default_factory=dict)
    last_valid_probs: np.ndarray | None = None  # the last epoch's validation probabilities (rows of split.valid)


# ----------------------------------------------------------------------------- machine set-up


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` = CUDA, else Apple MPS, else CPU; or an explicit ``cpu``/``cuda``/``cuda:N``/``mps``."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise FlightpathsError(f"--device {name}: CUDA is not available here (torch {torch.__version__}); use --device cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise FlightpathsError(f"--device {name}: Apple MPS is not available here; use --device cpu")
    return device


def _set_threads(device: torch.device) -> None:
    if device.type == "cpu":
        try:
            n = len(os.sched_getaffinity(0))
        except AttributeError:
            n = os.cpu_count() or 1
        torch.set_num_threads(max(1, n))


@dataclass
class _Runtime:
    device: torch.device
    amp: bool
    channels_last: bool
    pin: bool

    def autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.amp:
            return torch.autocast(device_type="cuda", dtype=torch.float16)
        return contextlib.nullcontext()


def _runtime(device: torch.device) -> _Runtime:
    cuda = device.type == "cuda"
    return _Runtime(device, amp=cuda, channels_last=device.type in ("cuda", "cpu"), pin=cuda)


# ----------------------------------------------------------------------------- preparation


@dataclass
class Prepared:
    """A dataset read, split and loaded, and a fresh model: everything a run (or lr-find) needs."""

    data: LabelledImages
    split: Split
    images: np.ndarray | None  # N x S x S x 3 uint8 (None for the figures-only head)
    figures: np.ndarray | None  # N x k float32, normalised
    scaler: FigureScaler | None
    model: Classifier
    head: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    class_weights: torch.Tensor
    settings: TrainSettings
    fingerprint: str

    @property
    def batch_size(self) -> int:
        """The run's batch size (:func:`prepare` fills in an automatic one)."""
        assert self.settings.batch_size is not None
        return self.settings.batch_size


def _figure_table(settings: TrainSettings, data: LabelledImages) -> tuple[pd.DataFrame | None, list[str]]:
    """Window figures from the manifest when present, else (head hybrid or figures, asked for) the figures the
    image transform measures on each map. Not by default: beside the CNN they did not help on the Quartz maps."""
    if data.figures is not None:
        usable = [c for c in settings.figure_columns if c in data.figures.columns and data.figures[c].notna().any()]
        if usable:
            return data.figures, usable
    if settings.head in ("hybrid", "figures"):
        table = image_figure_table(data.paths, settings.transform)
        if table is not None:
            return table, list(table.columns)
    return None, []


def _choose_head(settings: TrainSettings, data: LabelledImages) -> tuple[str, pd.DataFrame | None, list[str]]:
    table, usable = _figure_table(settings, data)
    head = settings.head
    if head == "auto":
        head = "hybrid" if usable else "cnn"
    if head in ("hybrid", "figures") and not usable:
        raise FlightpathsError(
            f"head {head!r} needs window figures ({', '.join(settings.figure_columns)}) in {data.root}/manifest.csv;"
            " none found. Use --no-figures, label images rendered by `flightpaths render` (their manifest carries them),"
            f" or, for maps with a red track, --transform {' or '.join(TRANSFORM_FIGURES)} (figures measured on the maps)"
        )
    return head, table, (usable if head != "cnn" else [])


_MIN_STEPS = 8


def auto_batch_size(n_train: int, *, largest: int = 64, smallest: int = 8) -> int:
    """The batch size when none is given: *largest*, halved until an epoch of *n_train* images
    has at least 8 steps, never below *smallest* (fastai's 64 leaves a 150-image dataset two
    steps an epoch, too few for a one-cycle schedule).

    >>> auto_batch_size(10_000), auto_batch_size(146), auto_batch_size(20)
    (64, 16, 8)
    """
    size = largest
    while size > smallest and n_train < _MIN_STEPS * size:
        size //= 2
    return max(size, smallest)


def prepare(dataset: str | Path, settings: TrainSettings, *, progress: bool = False, split: Split | None = None,
            quiet: bool = False, images: np.ndarray | None = None) -> Prepared:
    """Read and split *dataset* (or use *split*), load its images, fit the figure scaler and build the model."""
    data = scan_dataset(dataset, group_by=settings.group_by, session_gap_min=settings.session_gap_min)
    windowing_meta(data.windowing)  # a damaged windowing.json fails now, not after training
    for w in data.warnings if not quiet else ():
        log.warning("warning: %s", w)
    if split is None:
        split = split_dataset(data, valid_frac=settings.valid_frac, seed=settings.seed)
    if quiet or not len(split.valid):
        return _prepared(data, split, settings, progress, images)
    for k, c in enumerate(data.classes):
        n_valid = int((data.labels[split.valid] == k).sum())
        if n_valid < 30:
            log.warning("warning: the validation split holds only %d image(s) of class %r (under 30): read the "
                        "metrics with their intervals", n_valid, c)
    n_groups = len(set(np.asarray(data.groups, dtype=object)[split.valid].tolist()))
    if 0 < n_groups < MIN_GROUPS:
        log.warning("warning: the validation split holds %d group(s) (%s); metric intervals resample images, which "
                    "understates the uncertainty when the images of one group are alike", n_groups, data.group_source)
    return _prepared(data, split, settings, progress, images)


def _prepared(data: LabelledImages, split: Split, settings: TrainSettings, progress: bool,
              images: np.ndarray | None = None) -> Prepared:
    if settings.batch_size is None:
        size = auto_batch_size(len(split.train))
        settings = replace(settings, batch_size=size)
        if size < 64:
            log.info("batch size %d for %d training images (at least %d steps per epoch; --batch-size to choose)",
                     size, len(split.train), _MIN_STEPS)
    head, table, columns = _choose_head(settings, data)
    scaler = figures = None
    if columns:
        assert table is not None
        scaler = FigureScaler.fit(table.iloc[split.train], columns)
        figures = scaler.transform(table)
    torch.manual_seed(settings.seed)
    spec = backbone_spec(settings.arch)
    backbone = build_backbone(settings.arch, weights=settings.weights) if head != "figures" else None
    model = Classifier(backbone, len(data.classes), n_figures=len(columns), hidden=settings.hidden, dropout=settings.dropout)
    if images is None and head != "figures":
        images = load_images(data.paths, settings.size, progress=progress, workers=settings.workers,
                             transform=settings.transform)
    return Prepared(data, split, images, figures, scaler, model, head, spec.mean, spec.std,
                    _class_weights(data, split, settings), settings, fingerprint(data))


def _class_weights(data: LabelledImages, split: Split, settings: TrainSettings) -> torch.Tensor:
    """The loss weight of each class: inverse to its share of the training side (all 1 without ``weighted_loss``)."""
    counts = np.bincount(data.labels[split.train], minlength=len(data.classes)).astype(np.float64)
    weights = len(split.train) / (len(data.classes) * np.maximum(counts, 1.0))
    if not settings.weighted_loss:
        weights = np.ones_like(weights)
    return torch.tensor(weights, dtype=torch.float32)


def bundle_meta(prep: Prepared, metrics: dict[str, Any], epoch: int) -> dict[str, Any]:
    """What ``model.json`` records beside the weights: enough to rebuild, preprocess and judge the model."""
    from ..settings import settings_dict

    return {
        **_architecture_meta(prep),
        **_input_meta(prep),
        "metrics": metrics,
        "metrics_note": "validation metrics of the saved epoch (selected on the validation split)",
        "epoch": epoch,
        "split": prep.split.to_json(prep.data),
        "dataset": str(prep.data.root),
        "data_fingerprint": prep.fingerprint,
        "settings": settings_dict(prep.settings),
    }


def _architecture_meta(prep: Prepared) -> dict[str, Any]:
    """What rebuilds the network: backbone, head and classes."""
    s = prep.settings
    classes = list(prep.data.classes)
    return {
        "backbone": s.arch,
        "head": prep.head,
        "hidden": s.hidden,
        "dropout": s.dropout,
        "n_figures": prep.model.n_figures,
        "classes": classes,
        "positive_class": classes[positive_index(classes)] if len(classes) == 2 else None,
    }


def _input_meta(prep: Prepared) -> dict[str, Any]:
    """What prepares the network's inputs: image size, normalisation, transform, rendering, windows and figures."""
    s = prep.settings
    return {
        "image_size": s.size,
        "mean": list(prep.mean),
        "std": list(prep.std),
        "preprocess": "RGB; alpha composited on black; image_transform; padded to square; bilinear resize to image_size",
        "image_transform": s.transform,
        "render_config": prep.data.render_config,
        **windowing_meta(prep.data.windowing),
        "figure_columns": list(prep.scaler.columns) if prep.scaler else [],
        "figure_normalisation": prep.scaler.to_json() if prep.scaler else None,
    }


# ----------------------------------------------------------------------------- phases


def _param_groups(model: Classifier, start: int, lr_lo: float, lr_hi: float, head_only: bool) -> list[dict[str, Any]]:
    stages = [] if head_only else model.stages[start:]
    modules: list[nn.Module] = [*stages, model.head]
    lrs = np.geomspace(lr_lo, lr_hi, len(modules)) if len(modules) > 1 else np.array([lr_hi])
    return [{"params": [p for p in m.parameters() if p.requires_grad], "lr": float(lr)} for m, lr in zip(modules, lrs)]


def _make_optimizer(model: Classifier, prep: Prepared, phase: int, feeds: _Feeds, steps: int
                    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """AdamW and a one-cycle schedule: the head alone at ``lr`` (phase 1), or the unfrozen stages and the head at
    learning rates spread from ``base / lr_mult`` to ``base`` (phase 2)."""
    s = prep.settings
    _set_trainable(model, phase, feeds.start)
    if phase == 1:
        base, pct_start, div = s.lr, 0.99, 25.0
        groups = _param_groups(model, 0, s.lr, s.lr, head_only=True)
    else:
        base, pct_start, div = (s.lr / 2 if s.freeze_epochs else s.lr), s.pct_start, s.div
        groups = _param_groups(model, feeds.start, base / s.lr_mult, base, head_only=False)
    opt = torch.optim.AdamW(groups, lr=base, betas=(0.9, 0.99), eps=1e-5, weight_decay=s.wd)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups], total_steps=max(steps, 1),
                                                pct_start=pct_start, div_factor=div, final_div_factor=1e5,
                                                base_momentum=0.85, max_momentum=0.95)
    return opt, sched


# ----------------------------------------------------------------------------- the run


def _epoch_seed(seed: int, phase: int, epoch: int) -> int:
    return (seed * 1_000_003 + phase * 10_007 + epoch) % (2**63 - 1)


def _format_row(row: dict[str, Any]) -> str:
    parts = [f"{row['phase']:>5} {row['epoch']:>3}", f"train_loss {row['train_loss']:.4f}"]
    for name in METRIC_NAMES:
        value = row.get(name, float("nan"))
        ci = f" [{row[name + '_lo']:.3f}, {row[name + '_hi']:.3f}]" if f"{name}_lo" in row else ""
        parts.append(f"{'valid_' + name if name == 'loss' else name} {value:.4f}{ci}")
    parts.append(f"{row['seconds']:.1f}s")
    return "  ".join(parts)


@dataclass
class _State:
    history: list[dict[str, Any]]
    best: float
    best_epoch: int
    done: dict[int, int]  # phase -> epochs finished
    stale: int


def _better(value: float, best: float, monitor: str, loss: float, best_loss: float) -> bool:
    """An improvement of the monitored metric; on a tie (e.g. AUPR 1.0 twice), a lower validation loss."""
    if not math.isfinite(value):
        return False
    if value == best and monitor != "loss":
        return loss < best_loss
    return value < best if monitor == "loss" else value > best


@dataclass
class _Run:
    """One training run's shared parts: where it writes, what it trains, and its bookkeeping."""

    out: Path
    settings: TrainSettings  # as given (prep.settings has the automatic batch size filled in)
    prep: Prepared
    model: Classifier
    rt: _Runtime
    loss_fn: nn.Module
    state: _State
    ckpt: Checkpoint | None
    progress: bool
    on_epoch_end: Callable[[dict[str, Any]], None] | None
    timings: dict[str, float] = field(default_factory=dict)
    last_probs: np.ndarray | None = None


def train(
    dataset: str | Path,
    out_dir: str | Path,
    settings: TrainSettings = TrainSettings(),
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
    split: Split | None = None,
    images: np.ndarray | None = None,
    quiet: bool = False,
) -> TrainResult:
    """Fine-tune a pretrained CNN on *dataset* and write the model bundle to *out_dir*.

    *split* replaces the trainer's own split (cross-validation folds; an empty validation set
    trains on every image and keeps the last epoch); *images* are the already loaded images.
    """
    t0 = time.perf_counter()
    tune_allocator()
    out = Path(out_dir)
    settings, ckpt = _open_run(out, settings, resume=resume, overwrite=overwrite)
    run = _start_run(dataset, out, settings, ckpt, progress=progress, split=split, quiet=quiet, images=images,
                     on_epoch_end=on_epoch_end)
    run.timings["prepare_s"] = time.perf_counter() - t0
    try:
        _run_phases(run)
    except KeyboardInterrupt as exc:
        raise TrainingInterrupted(
            f"interrupted; the last finished epoch is saved in {out / CHECKPOINT_DIR} and the best model so far in"
            f" {out}. Continue with: flightpaths train {dataset} -o {out} --resume"
        ) from exc
    best = _finish(run, t0, quiet)
    return TrainResult(out, best, pd.DataFrame(run.state.history), run.prep.split, run.prep.head, settings,
                       run.timings, run.last_probs)


def _open_run(out: Path, settings: TrainSettings, *, resume: bool, overwrite: bool
              ) -> tuple[TrainSettings, Checkpoint | None]:
    """The run's settings and checkpoint: the checkpoint's when resuming, else a fresh start in *out*."""
    ckpt = load_checkpoint(out) if resume else None
    if resume and ckpt is None:
        raise FlightpathsError(f"{out / CHECKPOINT_DIR}: no checkpoint to resume from; run without --resume")
    if ckpt is not None:
        settings = replace(TrainSettings(**{**ckpt.settings, "figure_columns": tuple(ckpt.settings["figure_columns"])}),
                           device=settings.device, workers=settings.workers)
    elif out.exists() and any(out.iterdir()):
        check_output(out, overwrite=overwrite)
        for stale in ("state.json", "state.safetensors"):  # never resume from an old run by mistake
            (out / CHECKPOINT_DIR / stale).unlink(missing_ok=True)
    return settings, ckpt


def _start_run(dataset: str | Path, out: Path, settings: TrainSettings, ckpt: Checkpoint | None, *, progress: bool,
               split: Split | None, quiet: bool, images: np.ndarray | None,
               on_epoch_end: Callable[[dict[str, Any]], None] | None) -> _Run:
    """Pick the device, prepare the data and model (from the checkpoint's weights when resuming)."""
    device = pick_device(settings.device)
    _set_threads(device)
    rt = _runtime(device)
    prep = prepare(dataset, settings, progress=progress, split=split, quiet=quiet, images=images)
    model = prep.model.to(device)
    if rt.channels_last:
        model = model.to(memory_format=torch.channels_last)
    state = _initial_state(settings, ckpt, model)
    loss_fn = nn.CrossEntropyLoss(weight=prep.class_weights.to(device))
    log.info("%d images, %d classes %s; split: %s; %d train / %d valid; head %s; device %s",
             len(prep.data), len(prep.data.classes), list(prep.data.classes), prep.split.method,
             len(prep.split.train), len(prep.split.valid), prep.head, device)
    return _Run(out, settings, prep, model, rt, loss_fn, state, ckpt, progress, on_epoch_end)


def _initial_state(settings: TrainSettings, ckpt: Checkpoint | None, model: Classifier) -> _State:
    """A fresh run's bookkeeping, or the checkpoint's (its weights loaded into *model*)."""
    if ckpt is None:
        return _State([], math.inf if settings.monitor == "loss" else -math.inf, -1, {1: 0, 2: 0}, 0)
    try:
        model.load_state_dict(ckpt.model_state, strict=True)
    except RuntimeError as exc:  # another model's weights (missing keys, other shapes)
        raise BundleError(f"{CHECKPOINT_DIR}: the checkpoint's weights do not fit this model ({str(exc)[:200]}); "
                          "delete the checkpoint folder to start again") from exc
    log.info("resuming after phase %d epoch %d", max(p for p, n in ckpt.done.items() if n) if any(ckpt.done.values()) else 1,
             max(ckpt.done.values()))
    return _State(ckpt.history, ckpt.best, ckpt.best_epoch, ckpt.done, ckpt.stale)


def _run_phases(run: _Run) -> None:
    """Phase 1 (head; the whole run for the figures head), then phase 2 (body), each skipped when done."""
    settings = run.settings
    phases = [(1, settings.freeze_epochs + (settings.epochs if run.prep.head == "figures" else 0))]
    if run.prep.head != "figures":
        phases.append((2, settings.epochs))
    stage_cache = _shared_stage_cache(run)
    for phase, n_epochs in phases:
        state = run.state
        if n_epochs == 0 or state.done[phase] >= n_epochs or (state.stale >= settings.patience and phase == 2 and state.done[2]):
            continue
        _run_phase(run, phase, n_epochs, stage_cache)


def _shared_stage_cache(run: _Run) -> _Feeds | None:
    """The frozen stages' outputs, cached once for both phases when only the last stages unfreeze."""
    s, n_stages = run.settings, len(run.model.stages)
    if not (s.cache_features and run.prep.head != "figures" and 0 < s.unfreeze < n_stages and s.epochs):
        return None
    t = time.perf_counter()
    stage_cache = _stage_feeds(run.model, run.prep, run.rt, n_stages - s.unfreeze, run.progress)
    run.timings["stage_cache_s"] = time.perf_counter() - t
    return stage_cache


def _run_phase(run: _Run, phase: int, n_epochs: int, stage_cache: _Feeds | None) -> None:
    """The epochs of one phase still to run, stopping early in phase 2 when the monitor stops improving."""
    t = time.perf_counter()
    feeds = _build_feeds(run.model, run.prep, run.rt, phase, run.progress, stage_cache)
    run.timings[f"phase{phase}_cache_s"] = time.perf_counter() - t
    opt, sched = _phase_optimizer(run, phase, feeds, n_epochs)
    grad_scaler = torch.amp.GradScaler("cuda", enabled=run.rt.amp)
    t_phase = time.perf_counter()
    for epoch in range(run.state.done[phase], n_epochs):
        row = _run_epoch(run, phase, epoch, n_epochs, feeds, opt, sched, grad_scaler)
        _record_epoch(run, phase, row, opt)
        if phase == 2 and run.state.stale >= run.settings.patience:
            log.info("early stop: %s has not improved for %d epochs", run.settings.monitor, run.state.stale)
            break
    run.timings[f"phase{phase}_train_s"] = time.perf_counter() - t_phase


def _phase_optimizer(run: _Run, phase: int, feeds: _Feeds, n_epochs: int
                     ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """The phase's optimizer and one-cycle schedule, wound forward to the checkpoint when resuming this phase."""
    bs = run.prep.batch_size
    steps_per_epoch = max(1, len(run.prep.split.train) // bs) if len(run.prep.split.train) > bs else 1
    opt, sched = _make_optimizer(run.model, run.prep, phase, feeds, steps_per_epoch * n_epochs)
    if run.ckpt is not None and run.ckpt.phase == phase and run.state.done[phase]:
        _restore_optimizer(opt, sched, run.ckpt, steps_per_epoch * run.state.done[phase])
    elif phase == 2:
        run.state.stale = 0  # early stopping counts epochs of this phase
    return opt, sched


def _run_epoch(run: _Run, phase: int, epoch: int, n_epochs: int, feeds: _Feeds, opt: torch.optim.Optimizer,
               sched: torch.optim.lr_scheduler.LRScheduler, grad_scaler: torch.amp.GradScaler) -> dict[str, Any]:
    """Train one epoch (reseeded from the seed, phase and epoch) and validate: the history row."""
    te = time.perf_counter()
    torch.manual_seed(_epoch_seed(run.settings.seed, phase, epoch))
    gen = torch.Generator().manual_seed(_epoch_seed(run.settings.seed, phase, epoch))
    slot = epoch % len(feeds.train_cache) if feeds.train_cache is not None else 0
    label = "head" if phase == 1 else "body"
    train_loss = _train_epoch(run.model, run.prep, run.rt, feeds, opt, sched, grad_scaler, run.loss_fn, slot, gen,
                              run.progress, f"{label} epoch {epoch + 1}/{n_epochs}")
    metrics, run.last_probs = _evaluate(run.model, run.prep, run.rt, feeds)
    return {"phase": label, "epoch": epoch + 1, "train_loss": train_loss, **metrics,
            "lr": max(g["lr"] for g in opt.param_groups), "seconds": time.perf_counter() - te}


def _record_epoch(run: _Run, phase: int, row: dict[str, Any], opt: torch.optim.Optimizer) -> None:
    """Log the epoch; re-write the bundle when the monitored metric improved; checkpoint; call back."""
    state, settings = run.state, run.settings
    state.history.append(row)
    state.done[phase] = row["epoch"]
    log.info("%s", _format_row(row))
    value = row.get(settings.monitor, float("nan"))
    best_loss = state.history[state.best_epoch - 1]["loss"] if state.best_epoch > 0 else math.inf
    if _better(value, state.best, settings.monitor, row["loss"], best_loss):
        state.best, state.best_epoch, state.stale = value, len(state.history), 0
        save_bundle(run.out, run.model, bundle_meta(run.prep, row, len(state.history)))
    else:
        state.stale += 1
    save_checkpoint(run.out, run.model, opt, settings, phase, state.history, state.best, state.best_epoch,
                    state.done, state.stale)
    if run.on_epoch_end is not None:
        run.on_epoch_end(row)


def _finish(run: _Run, t0: float, quiet: bool) -> dict[str, Any]:
    """Leave a bundle even when nothing improved, write the history: the kept epoch's row."""
    state = run.state
    if state.best_epoch < 0:  # nothing improved (e.g. NaN metrics): still leave a usable bundle
        save_bundle(run.out, run.model, bundle_meta(run.prep, state.history[-1] if state.history else {}, len(state.history)))
    save_history(run.out, state.history)
    run.timings["total_s"] = time.perf_counter() - t0
    best = state.history[state.best_epoch - 1] if state.best_epoch > 0 else (state.history[-1] if state.history else {})
    if best.get("predicted_share", 0.0) >= 1.0 and not quiet:
        log.warning("warning: the kept epoch predicts one class for every validation image: it has learnt nothing"
                    " useful yet (more epochs, more data, or --transform for maps made for people)")
    return best


def _restore_optimizer(opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LRScheduler, ckpt: Checkpoint,
                       steps: int) -> None:
    """Replay the schedule to where the checkpoint stopped, then load the optimizer's moments."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(steps):
            sched.step()
    opt.load_state_dict(ckpt.optimizer_state)
