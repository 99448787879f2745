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

__all__ = ["WINDOW_OUTPUT_SUFFIXES", "WindowsWriter", "load_points", "read_windows", "save_windows", "write_windows"]


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
    frames = [_points_parquet(path) for path in parquet]
    if others:
        frames.append(read_logs(others).points)
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_points()
    return frames[0] if len(frames) == 1 else validate_points(pd.concat(frames, ignore_index=True))


def _points_parquet(path: Path) -> pd.DataFrame:
    """The validated points table of one ``.parquet`` file."""
    from ..schema import validate_points

    if not path.exists():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"not a readable parquet file: {exc}", path=path) from exc
    return validate_points(frame, source=str(path))


def save_windows(windows: pd.DataFrame, path: str | Path, *, settings: dict[str, Any] | None = None) -> Path:
    """Write *windows* by suffix: parquet (:func:`write_windows`) or GeoPackage/GeoJSON
    (:func:`to_geodataframe` + :func:`write_geo`, without the per-point arrays)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return write_windows(windows, path, settings=_plain(settings))
    if suffix in (".gpkg", ".geojson"):
        return write_geo(to_geodataframe(windows), path)
    raise InputError(f"cannot write windows as {suffix or 'a file without suffix'}; choose from "
                     f"{', '.join(WINDOW_OUTPUT_SUFFIXES)}", path=path)


def _plain(settings: dict[str, Any] | None) -> dict[str, Any]:
    """Settings dataclasses as dicts, for the file's metadata."""
    return {k: (dataclasses.asdict(v) if dataclasses.is_dataclass(v) and not isinstance(v, type) else v)
            for k, v in (settings or {}).items()}


def write_windows(windows: pd.DataFrame, path: str | Path, *, settings: dict[str, Any] | None = None) -> Path:
    """Write a windows table to parquet (per-point arrays as ``list<double>`` columns).

    Writes to a temporary file beside *path* and renames it, so a crash leaves no half file.
    Does not check for an existing file: callers use :func:`flightpaths.fileio.check_output`.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    table = _arrow_table(windows, path, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        pq.write_table(table, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _arrow_table(windows: pd.DataFrame, path: Path, settings: dict[str, Any] | None) -> Any:
    """A windows table as an Arrow table (per-point arrays as ``list<double>``), settings in its metadata."""
    import pyarrow as pa

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
    return table.replace_schema_metadata(meta)


class WindowsWriter:
    """Write a windows table part by part (``with WindowsWriter(path) as w: w.write(part)``):
    parquet row groups as they come, so memory holds one part; GeoPackage/GeoJSON gather the
    parts' outlines (no per-point arrays) and write them at the end. The file appears only
    when every part is written (a temporary file is renamed)."""

    def __init__(self, path: str | Path, *, settings: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.suffix = self.path.suffix.lower()
        if self.suffix not in WINDOW_OUTPUT_SUFFIXES:
            raise InputError(f"cannot write windows as {self.suffix or 'a file without suffix'}; choose from "
                             f"{', '.join(WINDOW_OUTPUT_SUFFIXES)}", path=self.path)
        self.settings = _plain(settings)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp")
        self.rows = 0
        self._writer: Any = None
        self._geo: list[Any] = []

    def __enter__(self) -> WindowsWriter:
        return self

    def write(self, windows: pd.DataFrame) -> None:
        """Add one part (a windows table)."""
        if not len(windows):
            return
        self.rows += len(windows)
        if self.suffix != ".parquet":
            self._geo.append(to_geodataframe(windows))
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = _arrow_table(windows, self.path, self.settings)
        if self._writer is None:
            schema = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in table.schema],
                               metadata=table.schema.metadata)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.tmp, schema)
        self._writer.write_table(table.cast(self._writer.schema))

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        try:
            if self._writer is not None:
                self._writer.close()
            if kind is None:
                self._finish()
        finally:
            self.tmp.unlink(missing_ok=True)

    def _finish(self) -> None:
        from .columns import empty_windows

        if self.suffix == ".parquet":
            if self._writer is None:
                write_windows(empty_windows(), self.path, settings=self.settings)
            else:
                self.tmp.replace(self.path)
            return
        frame = pd.concat(self._geo, ignore_index=True) if self._geo else to_geodataframe(empty_windows())
        write_geo(frame, self.path)


def read_windows(path: str | Path) -> pd.DataFrame:
    """Read a windows table written by :func:`write_windows` (arrays back as numpy arrays)."""
    path = Path(path)
    table = _read_table(path)
    missing = [c for c in ("window_id", "px", "py") if c not in table.column_names]
    if missing:
        raise SchemaError(f"not a windows table: missing column(s) {', '.join(missing)}", path=path)
    arrays = {name: _array_column(table, name) for name in ARRAY_COLUMNS}
    scalar = table.drop_columns([c for c in ARRAY_COLUMNS if c in table.column_names]).to_pandas()
    for name, dtype in SCALAR_COLUMNS.items():
        if name in scalar.columns and str(scalar[name].dtype) != dtype:
            scalar[name] = scalar[name].astype(dtype)
    for name, col in arrays.items():
        scalar[name] = col
    return scalar


def _read_table(path: Path) -> Any:
    """The Arrow table of a parquet file (a missing file raises FileNotFoundError as it is)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise InputError(f"not a readable parquet file: {exc}", path=path) from exc


def _array_column(table: Any, name: str) -> np.ndarray:
    """Per-point column *name* of an Arrow windows table as an object column of numpy arrays
    (empty ones where the table lacks it)."""
    if name not in table.column_names:
        return _object_column([_EMPTY_S if name == "ev_kind" else _EMPTY_F] * table.num_rows)
    col = table.column(name).combine_chunks()
    offsets = col.offsets.to_numpy()
    if name == "ev_kind":
        flat = np.asarray(col.values.to_pylist(), dtype=str) if len(col.values) else np.empty(0, "<U1")
    else:
        flat = col.values.to_numpy(zero_copy_only=False).astype(np.float64)
    return _object_column([flat[offsets[i]:offsets[i + 1]] for i in range(len(col))])
