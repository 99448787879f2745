"""Reading points and writing/reading windows tables (parquet with per-point arrays)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from ..errors import InputError, SchemaError
from ..schema import empty_points
from .columns import ARRAY_COLUMNS, SCALAR_COLUMNS
from .geo import to_geodataframe, write_geo
from .windows import _EMPTY_F, _EMPTY_S, _object_column

__all__ = ["WINDOW_OUTPUT_SUFFIXES", "load_points", "read_windows", "save_windows", "write_windows"]


_META_KEY = b"flightpaths.windows"
#: File suffixes :func:`save_windows` writes.
WINDOW_OUTPUT_SUFFIXES: Final = (".parquet", ".gpkg", ".geojson")


def load_points(paths: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """A points table from ``.parquet`` files written by ``flightpaths ingest`` or any log the
    ingest stage reads (SBS, aircraft.json, traces, CSV, ...), concatenated."""
    from ..ingest import read_logs
    from ..schema import validate_points

    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise InputError("no input files given")
    if any(not str(p).strip() for p in items):
        raise InputError("an input path is empty (check the shell glob or variable that made it)")
    parquet = [Path(p) for p in items if str(p).lower().endswith(".parquet")]
    others = [p for p in items if not str(p).lower().endswith(".parquet")]
    frames = []
    for path in parquet:
        if not path.exists():
            raise FileNotFoundError(2, "No such file or directory", str(path))
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise InputError(f"not a readable parquet file: {exc}", path=path) from exc
        frames.append(validate_points(frame, source=str(path)))
    if others:
        frames.append(read_logs(others).points)
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_points()
    return frames[0] if len(frames) == 1 else validate_points(pd.concat(frames, ignore_index=True))


def save_windows(windows: pd.DataFrame, path: str | Path, *, settings: dict[str, Any] | None = None) -> Path:
    """Write *windows* by suffix: parquet (:func:`write_windows`) or GeoPackage/GeoJSON
    (:func:`to_geodataframe` + :func:`write_geo`, without the per-point arrays)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        clean = {k: (dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v) for k, v in (settings or {}).items()}
        return write_windows(windows, path, settings=clean)
    if suffix in (".gpkg", ".geojson"):
        return write_geo(to_geodataframe(windows), path)
    raise InputError(f"cannot write windows as {suffix or 'a file without suffix'}; choose from "
                     f"{', '.join(WINDOW_OUTPUT_SUFFIXES)}", path=path)


def write_windows(windows: pd.DataFrame, path: str | Path, *, settings: dict[str, Any] | None = None) -> Path:
    """Write a windows table to parquet (per-point arrays as ``list<double>`` columns).

    Writes to a temporary file beside *path* and renames it, so a crash leaves no half file.
    Does not check for an existing file: callers use :func:`flightpaths.fileio.check_output`.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    missing = [c for c in (*SCALAR_COLUMNS, *ARRAY_COLUMNS) if c not in windows.columns and c != "few_points"]
    if missing:
        raise SchemaError(f"not a windows table: missing column(s) {', '.join(missing)}", path=path)
    scalar = [c for c in windows.columns if c not in ARRAY_COLUMNS]
    table = pa.Table.from_pandas(windows[scalar], preserve_index=False)
    for name in ARRAY_COLUMNS:
        values = list(windows[name])
        lengths = np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        if name == "ev_kind":
            flat = pa.array([str(s) for v in values for s in v], type=pa.string())
        else:
            flat = pa.array(np.concatenate([np.asarray(v, dtype=np.float64) for v in values]) if values else _EMPTY_F, type=pa.float64())
        table = table.append_column(name, pa.ListArray.from_arrays(pa.array(offsets), flat))
    meta = dict(table.schema.metadata or {})
    meta[_META_KEY] = json.dumps({"format": 1, "settings": settings or {}}).encode()
    table = table.replace_schema_metadata(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        pq.write_table(table, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_windows(path: str | Path) -> pd.DataFrame:
    """Read a windows table written by :func:`write_windows` (arrays back as numpy arrays)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise InputError(f"not a readable parquet file: {exc}", path=path) from exc
    missing = [c for c in ("window_id", "px", "py") if c not in table.column_names]
    if missing:
        raise SchemaError(f"not a windows table: missing column(s) {', '.join(missing)}", path=path)
    arrays = {}
    for name in ARRAY_COLUMNS:
        if name not in table.column_names:
            arrays[name] = _object_column([_EMPTY_S if name == "ev_kind" else _EMPTY_F] * table.num_rows)
            continue
        col = table.column(name).combine_chunks()
        offsets = col.offsets.to_numpy()
        if name == "ev_kind":
            flat = np.asarray(col.values.to_pylist(), dtype=str) if len(col.values) else np.empty(0, "<U1")
        else:
            flat = col.values.to_numpy(zero_copy_only=False).astype(np.float64)
        arrays[name] = _object_column([flat[offsets[i]:offsets[i + 1]] for i in range(len(col))])
    scalar = table.drop_columns([c for c in ARRAY_COLUMNS if c in table.column_names]).to_pandas()
    for name, dtype in SCALAR_COLUMNS.items():
        if name in scalar.columns and str(scalar[name].dtype) != dtype:
            scalar[name] = scalar[name].astype(dtype)
    for name, col in arrays.items():
        scalar[name] = col
    return scalar
