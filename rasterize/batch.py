"""A batch of images in one ``.npy`` file (N x H x W x C uint8) for fast training.

Plain ``numpy.save`` with ``allow_pickle=False``: no pickle, readable anywhere, memory-mappable.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["load_batch", "save_batch"]


def save_batch(path: str | os.PathLike[str], images: np.ndarray) -> Path:
    """Write *images* (N, H, W, C uint8) to *path* (``.npy``), atomically.

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> p = save_batch(os.path.join(d, "b.npy"), np.zeros((2, 4, 4, 3), np.uint8))
    >>> load_batch(p).shape
    (2, 4, 4, 3)
    """
    arr = np.asarray(images)
    if arr.ndim != 4 or arr.dtype != np.uint8:
        raise ValueError(f"a batch must be an N x H x W x C uint8 array, got shape {arr.shape} dtype {arr.dtype}")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)
    os.replace(tmp, p)
    return p


def load_batch(path: str | os.PathLike[str], *, mmap: bool = False) -> np.ndarray:
    """Read a batch written by :func:`save_batch` (memory-mapped when *mmap*)."""
    arr: np.ndarray = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    if arr.ndim != 4 or arr.dtype != np.uint8:
        raise ValueError(f"{path}: not an image batch (shape {arr.shape}, dtype {arr.dtype})")
    return arr
