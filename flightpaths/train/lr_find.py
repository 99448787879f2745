"""The learning-rate range test (Smith 2015; fastai's ``lr_find``): loss against a growing learning rate.

The learning rate grows exponentially from ``start_lr`` to ``end_lr`` over ``num_it`` batches;
the run stops early once the smoothed loss exceeds four times its minimum. The suggestion is
the learning rate at the minimum divided by ten (where the loss is still falling fast), with the
steepest descent point reported too.

>>> lrs = np.geomspace(1e-5, 1, 51)
>>> losses = 1 + (np.log10(lrs) + 2) ** 2  # minimum at 1e-2
>>> round(suggest_lr(lrs, losses)[0], 6)
0.001
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ._feeds import _build_feeds, _Feeds, _logits, _set_train_mode, _set_trainable
from .engine import Prepared, TrainSettings, _Runtime, _runtime, _set_threads, pick_device, prepare, tune_allocator
from .model import AUGMENTS, Classifier

__all__ = ["LRFindResult", "lr_find", "plot_lr_find", "suggest_lr"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LRFindResult:
    """Learning rates tried, smoothed losses, and the suggested values."""

    lrs: np.ndarray
    losses: np.ndarray
    suggestion: float
    steepest: float
    phase: str


def suggest_lr(lrs: np.ndarray, losses: np.ndarray) -> tuple[float, float]:
    """``(minimum / 10, steepest descent)`` learning rates of a range test."""
    lrs, losses = np.asarray(lrs, float), np.asarray(losses, float)
    ok = np.isfinite(losses)
    lrs, losses = lrs[ok], losses[ok]
    if len(lrs) < 3:
        raise ValueError("too few finite losses to suggest a learning rate")
    minimum = float(lrs[int(np.argmin(losses))]) / 10
    slope = np.gradient(losses, np.log10(lrs))
    steepest = float(lrs[int(np.argmin(slope[: max(int(np.argmin(losses)), 1) + 1]))])
    return minimum, steepest


def lr_find(
    dataset: str | Path,
    settings: TrainSettings = TrainSettings(),
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_it: int = 100,
    phase: str = "head",
    progress: bool = False,
) -> LRFindResult:
    """Range test for the head (phase 1, on cached features) or the whole network (phase 2)."""
    _check_range(phase, start_lr, end_lr)
    tune_allocator()
    device = pick_device(settings.device)
    _set_threads(device)
    rt = _runtime(device)
    prep = prepare(dataset, replace(settings, freeze_epochs=max(settings.freeze_epochs, 1)), progress=progress)
    model = copy.deepcopy(prep.model).to(device)
    n = 1 if phase == "head" else 2
    feeds = _build_feeds(model, prep, rt, n, progress, None)
    _set_trainable(model, n, feeds.start)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=start_lr, weight_decay=settings.wd)
    tried, smoothed = _range_test(model, prep, rt, feeds, opt, np.geomspace(start_lr, end_lr, num_it), progress)
    minimum, steepest = suggest_lr(np.asarray(tried), np.asarray(smoothed))
    return LRFindResult(np.asarray(tried), np.asarray(smoothed), minimum, steepest, phase)


def _check_range(phase: str, start_lr: float, end_lr: float) -> None:
    """Refuse an unknown phase or an empty learning-rate range."""
    if phase not in ("head", "body"):
        raise ValueError(f"phase must be head or body, not {phase!r}")
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, got {start_lr} and {end_lr}")


def _range_test(model: Classifier, prep: Prepared, rt: _Runtime, feeds: _Feeds, opt: torch.optim.Optimizer,
                lrs: np.ndarray, progress: bool) -> tuple[list[float], list[float]]:
    """One step at each learning rate of *lrs*: the rates tried and the smoothed losses, until the loss diverges."""
    from tqdm.auto import tqdm

    loss_fn = nn.CrossEntropyLoss(weight=prep.class_weights.to(rt.device))
    gen = torch.Generator().manual_seed(prep.settings.seed)
    torch.manual_seed(prep.settings.seed)
    tried: list[float] = []
    smoothed: list[float] = []
    avg, best = 0.0, np.inf
    _set_train_mode(model, feeds.start)
    for i, lr in enumerate(tqdm(lrs, desc="lr-find", unit="batch", leave=False, disable=not progress)):
        avg = 0.98 * avg + 0.02 * _lr_step(model, prep, rt, feeds, opt, loss_fn, float(lr), i, gen)
        smooth = avg / (1 - 0.98 ** (i + 1))
        tried.append(lr)
        smoothed.append(smooth)
        best = min(best, smooth)
        if not np.isfinite(smooth) or (i > 10 and smooth > 4 * best):
            break
    return tried, smoothed


def _lr_step(model: Classifier, prep: Prepared, rt: _Runtime, feeds: _Feeds, opt: torch.optim.Optimizer,
             loss_fn: nn.Module, lr: float, i: int, gen: torch.Generator) -> float:
    """One optimizer step at learning rate *lr* on the *i*-th random training batch: the batch's loss."""
    for g in opt.param_groups:
        g["lr"] = lr
    loss = _batch_loss(model, prep, rt, feeds, loss_fn, i, gen)
    opt.zero_grad(set_to_none=True)
    torch.autograd.backward(loss)
    opt.step()
    return float(loss.detach())


def _batch_loss(model: Classifier, prep: Prepared, rt: _Runtime, feeds: _Feeds, loss_fn: nn.Module, i: int,
                gen: torch.Generator) -> torch.Tensor:
    """The loss on the *i*-th random training batch (cached features of slot *i*, or augmented images)."""
    rows = prep.split.train
    bs = min(prep.settings.batch_size or 64, max(2, len(rows)))
    allowed = np.asarray(AUGMENTS[prep.settings.augment])
    b = torch.randperm(len(rows), generator=gen)[:bs].numpy()
    cache = feeds.train_cache[i % len(feeds.train_cache)] if feeds.train_cache is not None else None
    ops = allowed[torch.randint(len(allowed), (len(b),), generator=gen).numpy()] if cache is None else None
    labels = torch.from_numpy(prep.data.labels[rows[b]]).to(rt.device)
    with rt.autocast():
        loss: torch.Tensor = loss_fn(_logits(model, prep, rt, feeds, rows, b, cache, ops), labels)
    return loss


def plot_lr_find(result: LRFindResult, path: str | Path) -> Path:
    """Save the loss-versus-learning-rate plot with the suggestions marked."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(result.lrs, result.losses)
    ax.axvline(result.suggestion, color="tab:red", ls="--", label=f"suggested {result.suggestion:.2e} (minimum/10)")
    ax.axvline(result.steepest, color="tab:green", ls=":", label=f"steepest {result.steepest:.2e}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("smoothed training loss")
    ax.set_title(f"learning-rate range test ({result.phase})")
    ax.legend()
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
