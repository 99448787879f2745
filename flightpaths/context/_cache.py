"""Packaged tables converted once to parquet in the user's cache folder (loads in milliseconds)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pandas as pd

from ..fileio import atomic_write_bytes

__all__ = ["cache_dir", "cached_table"]


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/flightpaths`` or ``~/.cache/flightpaths``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "flightpaths"


def cached_table(name: str, package: str, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """The table *build* makes from *package*'s data, cached per package version; built afresh
    (and not cached) when the cache folder cannot be written or read."""
    try:
        version = metadata.version(package)
    except metadata.PackageNotFoundError:
        version = "unknown"
    path = cache_dir() / f"{name}-{package}-{version}.parquet"
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError):
        pass
    table = build()
    try:
        buf = io.BytesIO()
        table.to_parquet(buf, index=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buf.getvalue())
    except OSError:
        pass
    return table
