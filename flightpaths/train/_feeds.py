"""What a training phase reads and the passes over it: images or cached features, one epoch, validation.

Phase 1 trains the head on pooled features cached once per flip/rotation slot; phase 2 on the
outputs of the frozen stages (cached too) or on the images themselves. :class:`_Feeds` says
which; :func:`_build_feeds` makes it, :func:`_train_epoch` and :func:`_evaluate` read it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from .metrics import classification_metrics
from .model import AUGMENTS, Classifier, dihedral

if TYPE_CHECKING:
    from .engine import Prepared, _Runtime

__all__ = [
    "_Feeds",
    "_build_feeds",
    "_evaluate",
    "_logits",
    "_set_train_mode",
    "_set_trainable",
    "_stage_feeds",
    "_train_epoch",
]


# ----------------------------------------------------------------------------- tensors


def _to_input(batch: np.ndarray, prep: Prepared, rt: _Runtime, ops: np.ndarray | None = None) -> torch.Tensor:
    """uint8 ``N x H x W x 3`` -> normalised float ``N x 3 x H x W`` on the device (augmented by *ops*)."""
    x = torch.from_numpy(batch)
    if rt.pin:
        x = x.pin_memory()
    x = x.to(rt.device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(prep.mean, device=rt.device).view(1, 3, 1, 1)
    std = torch.tensor(prep.std, device=rt.device).view(1, 3, 1, 1)
    x = (x - mean) / std
    if ops is not None and np.any(ops):
        out = torch.empty_like(x)
        for op in np.unique(ops):
            sel = torch.from_numpy(np.flatnonzero(ops == op)).to(rt.device)
            out[sel] = dihedral(x[sel], int(op))
        x = out
    return x.contiguous(memory_format=torch.channels_last) if rt.channels_last else x.contiguous()


def _batches(n: int, batch_size: int, gen: torch.Generator | None, *, drop_last: bool = False) -> Iterator[np.ndarray]:
    order = torch.randperm(n, generator=gen).numpy() if gen is not None else np.arange(n)
    stop = n - n % batch_size if drop_last and n > batch_size else n
    for i in range(0, stop, batch_size):
        yield np.sort(order[i : i + batch_size]) if gen is None else order[i : i + batch_size]


def _variant_ops(n: int, n_variants: int, augment: str, seed: int) -> np.ndarray:
    """``n_variants x n`` dihedral ops: each image gets distinct random flips/rotations per slot."""
    allowed = np.asarray(AUGMENTS[augment])
    rng = np.random.default_rng(seed)
    ops = np.stack([rng.permutation(allowed) for _ in range(n)], axis=1) if n else np.zeros((len(allowed), 0), int)
    return np.resize(ops, (n_variants, n)) if n_variants > len(allowed) else ops[:n_variants]


@torch.no_grad()
def _stage_outputs(model: Classifier, prep: Prepared, rt: _Runtime, idx: np.ndarray, ops: np.ndarray,
                   stop: int | None, bs: int, desc: str, progress: bool) -> torch.Tensor:
    """Outputs of stages ``[:stop]`` (pooled features when *stop* is None) for images *idx* with *ops*, on CPU."""
    from tqdm.auto import tqdm

    assert prep.images is not None
    model.eval()
    chunks = []
    for b in tqdm(list(_batches(len(idx), bs, None)), desc=desc, unit="batch", leave=False, disable=not progress):
        x = _to_input(prep.images[idx[b]], prep, rt, ops[b])
        with rt.autocast():
            if stop is None:
                y = model.features(x)
            else:
                for stage in model.stages[:stop]:
                    x = stage(x)
                y = x.half()  # stage outputs: half the memory
        chunks.append(y.float().cpu() if stop is None else y.cpu())
    return torch.cat(chunks) if chunks else torch.empty(0)


# ----------------------------------------------------------------------------- one epoch


@dataclass
class _Feeds:
    """Where each phase reads its inputs: cached tensors per variant slot, or images."""

    train_cache: torch.Tensor | None  # V x N_train x ... (pooled features or stage outputs)
    valid_cache: torch.Tensor | None  # N_valid x ...
    start: int  # first stage to run (0 = from images); len(stages) = head only
    ops: np.ndarray | None  # V x N_train dihedral ops of the cached slots


def _figs(prep: Prepared, idx: np.ndarray, rt: _Runtime) -> torch.Tensor | None:
    if prep.figures is None:
        return None
    return torch.from_numpy(prep.figures[idx]).to(rt.device, non_blocking=True)


def _logits(model: Classifier, prep: Prepared, rt: _Runtime, feeds: _Feeds, rows: np.ndarray, b: np.ndarray,
            cache: torch.Tensor | None, ops: np.ndarray | None) -> torch.Tensor:
    """Logits for batch *b* (positions into *rows*, the dataset indices of this side)."""
    figs = _figs(prep, rows[b], rt)
    if prep.head == "figures":
        return model.head_forward(None, figs)
    n_stages = len(model.stages)
    if cache is not None and feeds.start >= n_stages:  # pooled features cached
        return model.head_forward(cache[b].to(rt.device, non_blocking=True).float(), figs)
    if cache is not None:
        x = cache[b].to(rt.device, non_blocking=True).float()
        if rt.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return model.head_forward(model.features(x, start=feeds.start), figs)
    assert prep.images is not None
    x = _to_input(prep.images[rows[b]], prep, rt, ops)
    if feeds.start:
        with torch.no_grad():
            for stage in model.stages[: feeds.start]:
                x = stage(x)
    return model.head_forward(model.features(x, start=min(feeds.start, n_stages)), figs)


def _set_trainable(model: Classifier, phase: int, start: int) -> None:
    """Gradients for the head (phase 1), or for the stages from *start* on and the head (phase 2); none elsewhere."""
    for p in model.parameters():
        p.requires_grad_(False)
    trainable: list[nn.Module] = [model.head] if phase == 1 else [*model.stages[start:], model.head]
    for m in trainable:
        for p in m.parameters():
            p.requires_grad_(True)


def _set_train_mode(model: Classifier, start: int) -> None:
    """Train mode for the trainable stages and head; frozen stages keep their BN statistics."""
    model.train()
    for stage in model.stages[:start]:
        stage.eval()


def _train_epoch(model: Classifier, prep: Prepared, rt: _Runtime, feeds: _Feeds, opt: torch.optim.Optimizer,
                 sched: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler, loss_fn: nn.Module,
                 slot: int, gen: torch.Generator, progress: bool, desc: str) -> float:
    from tqdm.auto import tqdm

    rows = prep.split.train
    cache = feeds.train_cache[slot] if feeds.train_cache is not None else None
    labels = torch.from_numpy(prep.data.labels[rows])
    _set_train_mode(model, feeds.start)
    total, count = 0.0, 0
    allowed = np.asarray(AUGMENTS[prep.settings.augment])
    batches = list(_batches(len(rows), prep.batch_size, gen, drop_last=True))
    bar = tqdm(batches, desc=desc, unit="batch", leave=False, disable=not progress)
    for b in bar:
        ops = None
        if cache is None and prep.head != "figures":
            ops = allowed[torch.randint(len(allowed), (len(b),), generator=gen).numpy()]
        y = labels[b].to(rt.device, non_blocking=True)
        with rt.autocast():
            loss = loss_fn(_logits(model, prep, rt, feeds, rows, b, cache, ops), y)
        _step(loss, opt, sched, scaler)
        total += float(loss.detach()) * len(b)
        count += len(b)
        bar.set_postfix(loss=f"{total / count:.4f}")
    return total / max(count, 1)


def _step(loss: torch.Tensor, opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LRScheduler,
          scaler: torch.amp.GradScaler) -> None:
    """One optimizer step on *loss* (gradients scaled for mixed precision), then one step of the schedule."""
    opt.zero_grad(set_to_none=True)
    torch.autograd.backward(scaler.scale(loss))
    scaler.step(opt)
    scaler.update()
    sched.step()


@torch.no_grad()
def _predict_valid(model: Classifier, prep: Prepared, rt: _Runtime, feeds: _Feeds) -> np.ndarray:
    rows = prep.split.valid
    model.eval()
    out = []
    for b in _batches(len(rows), max(prep.batch_size, 128), None):
        with rt.autocast():
            out.append(torch.softmax(_logits(model, prep, rt, feeds, rows, b, feeds.valid_cache, None).float(), 1).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, len(prep.data.classes)))


def _evaluate(model: Classifier, prep: Prepared, rt: _Runtime, feeds: _Feeds) -> tuple[dict[str, float], np.ndarray]:
    probs = _predict_valid(model, prep, rt, feeds)
    rows = prep.split.valid
    groups = [prep.data.groups[i] for i in rows]
    metrics = classification_metrics(prep.data.labels[rows], probs, prep.data.classes, groups=groups, seed=prep.settings.seed)
    if len(rows):  # share of the most-predicted class: 1.0 = a one-class model, whatever its AUPR
        metrics["predicted_share"] = float(np.bincount(probs.argmax(1), minlength=probs.shape[1]).max() / len(rows))
        metrics["balanced_accuracy"] = float(np.mean([(probs.argmax(1)[prep.data.labels[rows] == k] == k).mean()
                                                      for k in range(probs.shape[1]) if (prep.data.labels[rows] == k).any()]))
    return metrics, probs



# ----------------------------------------------------------------------------- feeds


def _n_variants(prep: Prepared, epochs: int, per_item_bytes: int) -> int:
    s = prep.settings
    n = len(prep.split.train)
    want = min(len(AUGMENTS[s.augment]), max(epochs, 1))
    fit = max(1, (s.cache_budget_mb * 1024 * 1024) // max(per_item_bytes * max(n, 1), 1))
    return int(min(want, fit))


def _stage_bytes(model: Classifier, prep: Prepared, start: int) -> int:
    with torch.no_grad():
        x = torch.zeros(1, 3, prep.settings.size, prep.settings.size)
        model.eval()
        for stage in model.stages[:start]:
            x = stage(x)
    return int(x.numel() * 2)


def _build_feeds(model: Classifier, prep: Prepared, rt: _Runtime, phase: int, progress: bool,
                 stage_cache: _Feeds | None) -> _Feeds:
    """Inputs for a phase: cached pooled features (phase 1), cached frozen-stage outputs (phase 2), or images."""
    s = prep.settings
    n_stages = len(model.stages)
    if prep.head == "figures":
        return _Feeds(None, None, n_stages, None)
    if phase == 1:
        if not s.cache_features:  # run the frozen body on every batch (for comparison)
            return _Feeds(None, None, n_stages, None)
        v = _n_variants(prep, min(s.freeze_epochs, s.cache_variants), 4 * model.n_cnn)
        ops = _variant_ops(len(prep.split.train), v, s.augment, s.seed)
        if stage_cache is not None and stage_cache.train_cache is not None and stage_cache.ops is not None:
            return _pool_from_stage_cache(model, prep, rt, stage_cache, v, progress)
        train, valid = _cached_outputs(model, prep, rt, ops, None, "features", progress)
        return _Feeds(train, valid, n_stages, ops)
    start = n_stages - s.unfreeze if 0 < s.unfreeze < n_stages else 0
    if start == 0 or not s.cache_features:
        return _Feeds(None, None, start, None)
    return stage_cache if stage_cache is not None else _stage_feeds(model, prep, rt, start, progress)


def _stage_feeds(model: Classifier, prep: Prepared, rt: _Runtime, start: int, progress: bool) -> _Feeds:
    s = prep.settings
    v = _n_variants(prep, max(s.epochs, s.freeze_epochs), _stage_bytes(model, prep, start))
    ops = _variant_ops(len(prep.split.train), v, s.augment, s.seed)
    train, valid = _cached_outputs(model, prep, rt, ops, start, "stage cache", progress)
    return _Feeds(train, valid, start, ops)


def _cached_outputs(model: Classifier, prep: Prepared, rt: _Runtime, ops: np.ndarray, stop: int | None, desc: str,
                    progress: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_stage_outputs` of the training images for each slot of *ops* (stacked), and of the validation images."""
    bs = prep.batch_size * 2
    train = torch.stack([
        _stage_outputs(model, prep, rt, prep.split.train, ops[k], stop, bs, f"{desc} {k + 1}/{len(ops)}", progress)
        for k in range(len(ops))
    ])
    valid = _stage_outputs(model, prep, rt, prep.split.valid, np.zeros(len(prep.split.valid), int), stop, bs,
                           f"{desc} valid", progress)
    return train, valid


@torch.no_grad()
def _pool_from_stage_cache(model: Classifier, prep: Prepared, rt: _Runtime, sc: _Feeds, v: int, progress: bool) -> _Feeds:
    assert sc.train_cache is not None and sc.valid_cache is not None
    model.eval()

    def pool(t: torch.Tensor) -> torch.Tensor:
        out = []
        for b in _batches(len(t), prep.batch_size * 2, None):
            x = t[b].to(rt.device).float()
            with rt.autocast():
                out.append(model.features(x.contiguous(memory_format=torch.channels_last) if rt.channels_last else x,
                                          start=sc.start).float().cpu())
        return torch.cat(out) if out else torch.empty(0)

    v = min(v, len(sc.train_cache))
    return _Feeds(torch.stack([pool(sc.train_cache[k]) for k in range(v)]), pool(sc.valid_cache), len(model.stages),
                  sc.ops[:v] if sc.ops is not None else None)


