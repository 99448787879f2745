"""The classifier: a pretrained body, concat pooling, and a head that may also take window figures.

Three variants share one head design, so they can be compared fairly (issue 9):

- ``cnn``: pooled CNN features only;
- ``hybrid``: pooled CNN features beside the normalised window figures;
- ``figures``: the figures alone (no CNN at all).

>>> scaler = FigureScaler.fit(pd.DataFrame({"net_turn_rev": [-2.0, 0.0, 2.0]}), ["net_turn_rev"])
>>> scaler.transforms
('abs',)
>>> round(float(scaler.transform(pd.DataFrame({"net_turn_rev": [2.0]}))[0, 0]), 3)
0.707
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..errors import InputError
from .backbones import Backbone

__all__ = [
    "AUGMENTS",
    "Classifier",
    "FigureScaler",
    "HEAD_MODES",
    "Head",
    "concat_pool",
    "dihedral",
]

HEAD_MODES = ("cnn", "hybrid", "figures")

#: The dihedral ops (see :func:`dihedral`) each augment setting draws from.
AUGMENTS = {"none": (0,), "flips": (0, 1, 2, 3), "dihedral": tuple(range(8))}

#: How each known figure is transformed before standardising (heavy tails -> signed log).
_TRANSFORMS = {
    "net_turn_rev": "abs",
    "total_turn_deg": "slog",
    "radius_m": "slog",
    "extent_m": "slog",
    "path_length_m": "slog",
    "net_displacement_m": "slog",
    "sample_interval_s": "slog",
    "median_speed_kt": "slog",
    "median_altitude_ft": "slog",
    "duration_s": "slog",
    "n_points": "slog",
    "map_loops": "slog",  # figures measured on maps (mapfigures.py)
    "map_track_length": "slog",
    "map_solid_px": "slog",
}


def _apply(values: np.ndarray, how: str) -> np.ndarray:
    if how == "abs":
        return np.abs(values)
    if how == "slog":
        return np.sign(values) * np.log1p(np.abs(values))
    return values


@dataclass(frozen=True)
class FigureScaler:
    """Per-column transform (``abs``, ``slog`` = signed log1p, ``none``), then (x - mean) / std, clipped to +-5.

    Missing values become 0 (the training mean) after standardising.
    """

    columns: tuple[str, ...]
    transforms: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, table: pd.DataFrame, columns: Sequence[str]) -> FigureScaler:
        """Fit on the training rows of *table*."""
        transforms = tuple(_TRANSFORMS.get(c, "none") for c in columns)
        raw = cls._raw(table, tuple(columns), transforms)
        mean = np.nanmean(raw, axis=0) if len(raw) else np.zeros(len(columns))
        std = np.nanstd(raw, axis=0) if len(raw) else np.ones(len(columns))
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 1e-9), std, 1.0)
        return cls(tuple(columns), transforms, tuple(float(v) for v in mean), tuple(float(v) for v in std))

    @staticmethod
    def _raw(table: pd.DataFrame, columns: tuple[str, ...], transforms: tuple[str, ...]) -> np.ndarray:
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise InputError(f"the model needs window figure column(s) {', '.join(missing)}; found {', '.join(map(str, table.columns)) or 'none'}")
        raw = np.empty((len(table), len(columns)), np.float64)
        for j, (c, how) in enumerate(zip(columns, transforms)):
            raw[:, j] = _apply(pd.to_numeric(table[c], errors="coerce").to_numpy(np.float64), how)
        raw[~np.isfinite(raw)] = np.nan
        return raw

    def transform(self, table: pd.DataFrame) -> np.ndarray:
        """The normalised figures as an ``N x k`` float32 array."""
        raw = self._raw(table, self.columns, self.transforms)
        z = (raw - np.asarray(self.mean)) / np.asarray(self.std)
        return np.clip(np.nan_to_num(z, nan=0.0), -5.0, 5.0).astype(np.float32)

    def to_json(self) -> dict:
        """JSON-ready form for the bundle."""
        return {"columns": list(self.columns), "transforms": list(self.transforms), "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_json(cls, data: dict) -> FigureScaler:
        """Inverse of :meth:`to_json`."""
        return cls(tuple(data["columns"]), tuple(data["transforms"]), tuple(map(float, data["mean"])), tuple(map(float, data["std"])))


def concat_pool(fmap: torch.Tensor) -> torch.Tensor:
    """Average and max pooling side by side (fastai's AdaptiveConcatPool2d), flattened."""
    return torch.cat([fmap.mean(dim=(2, 3)), fmap.amax(dim=(2, 3))], dim=1).float()


def dihedral(x: torch.Tensor, op: int) -> torch.Tensor:
    """One of the 8 flips/90-degree rotations of a square ``N x C x H x W`` batch (op 0 = identity)."""
    if op & 4:
        x = x.transpose(2, 3)
    if op & 1:
        x = x.flip(3)
    if op & 2:
        x = x.flip(2)
    return x


class Head(nn.Module):
    """fastai's head: BN, dropout, linear, ReLU, BN, dropout, linear (over CNN features and/or figures)."""

    def __init__(self, n_in: int, n_classes: int, *, hidden: int = 512, dropout: float = 0.5) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.BatchNorm1d(n_in),
            nn.Dropout(dropout / 2),
            nn.Linear(n_in, hidden, bias=False),
            nn.ReLU(inplace=True),
            nn.BatchNorm1d(hidden),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_classes, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Classifier(nn.Module):
    """Body stages (may be absent for ``figures``), concat pooling, and the head."""

    def __init__(self, backbone: Backbone | None, n_classes: int, *, n_figures: int = 0,
                 hidden: int = 512, dropout: float = 0.5) -> None:
        super().__init__()
        self.body = backbone.body if backbone is not None else nn.Sequential()
        self.n_cnn = 2 * backbone.n_features if backbone is not None else 0
        self.n_figures = n_figures
        if self.n_cnn + n_figures == 0:
            raise ValueError("a classifier needs CNN features, figures, or both")
        self.head = Head(self.n_cnn + n_figures, n_classes, hidden=hidden, dropout=dropout)

    @property
    def stages(self) -> list[nn.Module]:
        """The body's stages, early to late (layer groups)."""
        return list(self.body)

    def features(self, x: torch.Tensor, *, start: int = 0) -> torch.Tensor:
        """Pooled body features, running the stages from *start* on (*x* is that stage's input)."""
        for stage in self.stages[start:]:
            x = stage(x)
        return concat_pool(x)

    def head_forward(self, pooled: torch.Tensor | None, figures: torch.Tensor | None) -> torch.Tensor:
        """Logits from pooled CNN features and/or normalised figures."""
        parts = [t for t in (pooled, figures if self.n_figures else None) if t is not None]
        return self.head(torch.cat(parts, dim=1) if len(parts) > 1 else parts[0])

    def forward(self, x: torch.Tensor | None, figures: torch.Tensor | None = None) -> torch.Tensor:
        pooled = self.features(x) if self.n_cnn and x is not None else None
        return self.head_forward(pooled, figures)
