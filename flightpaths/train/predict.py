"""Use a trained model: ``load_bundle(MODEL_DIR).predict_images(images, figures)``.

Preprocessing (size, mean/std, alpha, padding) and the figure normalisation come from the
bundle, never from flags that could disagree with how the model was trained.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from rasterize import RenderConfig

from ..errors import BundleError, InputError
from ..tracks import TrackSettings, WindowSettings
from .backbones import build_backbone
from .bundle import BundleInfo, bundle_info, check_weights, read_bundle_files
from .data import prepare_array
from .mapfigures import MAP_FIGURES, map_figure_table
from .model import Classifier, FigureScaler

__all__ = ["Bundle", "fold_batchnorm", "load_bundle"]


def fold_batchnorm(model: torch.nn.Module) -> tuple[torch.nn.Module, int]:
    """An inference copy of *model* with each BatchNorm folded into the convolution before it.

    A ``Conv2d`` directly followed (among its parent's children) by a ``BatchNorm2d`` of the
    same width becomes one convolution with a bias; the norm's own activation and dropout (timm's
    ``BatchNormAct2d``) stay. Returns the copy and how many pairs were folded. The result must
    be checked against the original (:func:`_checked_fold` does), since registration order
    is not forward order in every architecture.
    """
    import copy

    model = copy.deepcopy(model).eval()
    folded = 0
    for parent in list(model.modules()):
        kids = list(parent.named_children())
        for (_, conv), (bn_name, bn) in zip(kids, kids[1:]):
            if not (isinstance(conv, torch.nn.Conv2d) and type(bn).__name__ in ("BatchNorm2d", "BatchNormAct2d")
                    and isinstance(bn, torch.nn.BatchNorm2d) and bn.track_running_stats
                    and conv.out_channels == bn.num_features):
                continue
            _fold_into(conv, bn)
            rest = [getattr(bn, k) for k in ("drop", "act") if isinstance(getattr(bn, k, None), torch.nn.Module)]
            setattr(parent, bn_name, torch.nn.Sequential(*rest) if rest else torch.nn.Identity())
            folded += 1
    return model, folded


@torch.no_grad()
def _fold_into(conv: torch.nn.Conv2d, bn: torch.nn.BatchNorm2d) -> None:
    """Scale *conv*'s weights and set its bias so that it also does *bn*'s normalisation."""
    assert bn.running_var is not None and bn.running_mean is not None
    weight = bn.weight if bn.affine else torch.ones_like(bn.running_var)
    shift = bn.bias if bn.affine else torch.zeros_like(bn.running_mean)
    scale = weight / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    conv.weight.mul_(scale.view(-1, 1, 1, 1))
    conv.bias = torch.nn.Parameter(shift + (bias - bn.running_mean) * scale)


@dataclass
class Bundle:
    """A loaded model: its classes, preprocessing, render config, track and window settings.

    ``info`` holds the checked, typed ``model.json`` (:class:`~.bundle.BundleInfo`); ``meta``
    the raw dict beside it (metrics, split, the segment aggregator).
    """

    path: Path
    meta: dict[str, Any]
    model: Classifier
    scaler: FigureScaler | None
    info: BundleInfo
    _fast: Any = field(default=None, repr=False)  # CPU inference copy, BatchNorms folded (built on first use)

    def _cpu_model(self) -> torch.nn.Module:
        """The model for CPU inference: BatchNorms folded when that gives the same outputs."""
        if self._fast is None:
            self._fast = _checked_fold(self.model, self.image_size, self.info.n_figures, self.head)
        return self._fast

    @property
    def classes(self) -> list[str]:
        """Class names, in the order of the probability columns."""
        return list(self.info.classes)

    @property
    def render_config(self) -> RenderConfig | None:
        """The render config of the training images (draw new windows the same way), or None."""
        return self.info.render_config

    @property
    def track_settings(self) -> TrackSettings:
        """How the training points were cut into tracks (defaults when not recorded)."""
        return self.info.track_settings

    @property
    def window_settings(self) -> WindowSettings:
        """How the training tracks were cut into windows (defaults when not recorded)."""
        return self.info.window_settings

    @property
    def windowing_known(self) -> bool:
        """False when the training images carried no window settings (defaults stand in)."""
        return self.info.windowing_known

    @property
    def fingerprint(self) -> str:
        """The first 16 hex digits of the weights' sha256: which model scored."""
        return str(self.meta["weights_sha256"])[:16]

    @property
    def positive_class(self) -> str | None:
        """The class a two-class model calls positive, when model.json names one."""
        return self.info.positive_class

    @property
    def figure_columns(self) -> list[str]:
        """Window figures the model needs beside the images (empty for a CNN-only model)."""
        return list(self.scaler.columns) if self.scaler is not None else []

    @property
    def image_size(self) -> int:
        """Side of the square images the model reads (inputs of other sizes are resized)."""
        return self.info.image_size

    @property
    def head(self) -> str:
        """``cnn``, ``hybrid`` or ``figures``."""
        return self.info.head

    def _input(self, images: np.ndarray | Sequence[np.ndarray], idx: np.ndarray) -> torch.Tensor:
        size = self.image_size
        transform = str(self.meta.get("image_transform", "none"))  # as in training (older bundles: none)
        batch = np.stack([prepare_array(np.asarray(images[i]), size, transform) for i in idx])
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255.0)
        mean = torch.tensor(self.info.mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(self.info.std, dtype=torch.float32).view(1, 3, 1, 1)
        return (x - mean) / std

    def predict_images(
        self,
        images: np.ndarray | Sequence[np.ndarray] | None,
        figures: pd.DataFrame | None = None,
        *,
        batch_size: int = 64,
        device: str | torch.device | None = None,
    ) -> np.ndarray:
        """Class probabilities ``(N, n_classes)`` for uint8 ``N x H x W x C`` images (+ figures for hybrid models).

        Images of another size or with an alpha channel are converted as in training. A
        figures-only model takes ``images=None``. A model trained on figures measured on maps
        (``--transform red-track-loops``) measures them on *images* itself: pass them at full size.
        """
        n = len(images) if images is not None else (len(figures) if figures is not None else 0)
        figs = self._figure_tensor(images, figures, n) if self.scaler is not None else None
        dev = torch.device(device) if device is not None else _auto_device()
        return self._probabilities(self._model_on(dev), images, figs, n, batch_size, dev)

    def _probabilities(self, model: torch.nn.Module, images: np.ndarray | Sequence[np.ndarray] | None,
                       figs: torch.Tensor | None, n: int, batch_size: int, dev: torch.device) -> np.ndarray:
        """*model*'s class probabilities for the *n* items, *batch_size* at a time on *dev* (half precision on CUDA)."""
        cuda = dev.type == "cuda"
        out = []
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                idx = np.arange(start, min(n, start + batch_size))
                f = figs[idx].to(dev) if figs is not None else None
                x = self._image_batch(images, idx, dev) if self.head != "figures" else None
                with torch.autocast("cuda", dtype=torch.float16) if cuda else contextlib.nullcontext():
                    out.append(torch.softmax(model(x, f).float(), 1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)), np.float32)

    def _figure_tensor(self, images: np.ndarray | Sequence[np.ndarray] | None, figures: pd.DataFrame | None,
                       n: int) -> torch.Tensor:
        """The *n* rows of window figures, scaled as in training (measured on the maps when the model did so)."""
        assert self.scaler is not None
        if figures is None and images is not None and set(self.figure_columns) <= set(MAP_FIGURES):
            figures = map_figure_table(images)  # measured on the maps, as in training
        if figures is None:
            raise InputError(f"this {self.head} model needs window figures: {', '.join(self.figure_columns)}")
        if len(figures) != n:
            raise InputError(f"got {n} images but {len(figures)} rows of figures")
        return torch.from_numpy(self.scaler.transform(figures.reset_index(drop=True)))

    def _model_on(self, dev: torch.device) -> torch.nn.Module:
        """The network for inference on *dev* (on a CPU, the copy with BatchNorm folded in)."""
        if dev.type == "cpu":
            from .engine import tune_allocator

            tune_allocator()  # keep freed activation buffers in the process: 10-20% faster here
        return self._cpu_model() if dev.type == "cpu" else self.model.to(dev).eval()

    def _image_batch(self, images: np.ndarray | Sequence[np.ndarray] | None, idx: np.ndarray,
                     dev: torch.device) -> torch.Tensor:
        """Images *idx* as the network's input on *dev*."""
        if images is None:
            raise InputError("this model needs images")
        x = self._input(images, idx).to(dev, non_blocking=True)
        if dev.type in ("cpu", "cuda"):
            x = x.contiguous(memory_format=torch.channels_last)
        return x


def _checked_fold(model: Classifier, size: int, n_figures: int, head: str) -> torch.nn.Module:
    """:func:`fold_batchnorm` of *model* if it gives the same probabilities on a random batch, else *model*."""
    model = model.cpu().eval()
    fast, folded = fold_batchnorm(model)
    if not folded:
        return model
    gen = torch.Generator().manual_seed(0)
    x = None if head == "figures" else torch.randn(4, 3, size, size, generator=gen)
    f = torch.randn(4, n_figures, generator=gen) if n_figures else None
    with torch.inference_mode():
        same = torch.allclose(torch.softmax(model(x, f), 1), torch.softmax(fast(x, f), 1), atol=1e-4)
    return fast if same else model


def _auto_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def load_bundle(path: str | Path) -> Bundle:
    """Load a model folder (``model.safetensors`` + ``model.json``), verifying hash, version and every
    value of ``model.json`` (:class:`BundleError` naming the field); never unpickles."""
    meta, state = read_bundle_files(path)
    folder = Path(path)
    folder = folder if folder.is_dir() else folder.parent
    where = str(folder / "model.json")
    info = bundle_info(meta, where)
    check_weights(state, str(folder / "model.safetensors"))
    try:
        pretrained_body = info.body == "pretrained"  # a head-only bundle (see bundle.head_only)
        weights = None if pretrained_body else "none"
        backbone = build_backbone(info.backbone, weights=weights) if info.head != "figures" else None
        model = Classifier(backbone, len(info.classes), n_figures=info.n_figures, hidden=info.hidden, dropout=info.dropout)
        if pretrained_body:
            missing, unexpected = model.load_state_dict(state, strict=False)
            stray = [k for k in missing if not k.startswith("body.")] + list(unexpected)
            if stray:
                raise RuntimeError(f"head weights do not fit: {', '.join(stray[:5])}")
        else:
            model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, KeyError) as exc:
        raise BundleError(f"{path}: the weights do not fit the model described in model.json ({exc})") from exc
    scaler = _scaler(meta.get("figure_normalisation"), info, where)
    return Bundle(folder, meta, model.eval(), scaler, info)


def _scaler(norm: Any, info: BundleInfo, where: str) -> FigureScaler | None:
    """The figure normalisation of model.json, checked: one finite mean and positive std per figure."""
    if not norm:
        if info.n_figures:
            raise BundleError(f"{where}: 'figure_normalisation' is missing for a model with {info.n_figures} figures")
        return None
    try:
        scaler = FigureScaler.from_json(norm)
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{where}: 'figure_normalisation' is malformed ({type(exc).__name__}: {exc})") from exc
    sizes = {len(scaler.columns), len(scaler.transforms), len(scaler.mean), len(scaler.std)}
    if sizes != {info.n_figures}:
        raise BundleError(f"{where}: 'figure_normalisation' must describe {info.n_figures} figure(s), "
                          f"one column, transform, mean and std each")
    if not all(np.isfinite(scaler.mean)) or not all(np.isfinite(s) and s > 0 for s in scaler.std):
        raise BundleError(f"{where}: 'figure_normalisation' has a non-finite mean or a std that is not positive "
                          f"(mean {list(scaler.mean)}, std {list(scaler.std)}); it would score every window NaN")
    return scaler
