"""Render stage: windows table -> images, with a manifest and the render config.

The drawing itself is :mod:`rasterize` (pure numpy, knows nothing about aircraft). This
module maps the windows table (see :mod:`flightpaths.tracks`) onto it:

- ``px``, ``py`` (local metres, or screen pixels with y down when ``units == "px"``),
- ``pt`` (seconds since window start, for gaps and the ``time``/``progress`` colours),
- ``pspeed``, ``palt``, ``pturn``, ``pcumturn`` -> the ``speed``, ``altitude``, ``turn``,
  ``cumturn`` colour variables; ``window_s`` -> the length that ``progress`` divides by,
- ``ev_x``, ``ev_y``, ``ev_kind`` -> event discs (mouse clicks, coloured by button).

A window whose arrays are unusable (lengths that disagree, text in a number array) is not
drawn: its manifest row says ``skipped: <reason>`` and the other windows are drawn as usual.

Two entry points: :func:`images_from_windows` returns an ``(N, H, W, C)`` uint8 array for
training and scoring in memory; :func:`render_windows` writes ``images/{window_id}.png``,
``manifest.csv`` and ``render_config.json`` into a folder, plus ``windowing.json`` (the
track and window settings the windows were cut with, :func:`read_windowing`) when known, so
that they travel with the images to the dataset and the model like the render config.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rasterize import Channel, RenderConfig, TrackBatch, draw_batch, encode_png

from .errors import InputError
from .fileio import OutputExistsError, atomic_write_text, check_output, file_stem, write_csv
from .tracks import ARRAY_COLUMNS

__all__ = [
    "MANIFEST_COLUMNS",
    "RENDER_PRESETS",
    "VALUE_COLUMNS",
    "WINDOWING_FILE",
    "config_from_options",
    "images_from_windows",
    "load_render_config",
    "read_windowing",
    "render_windows",
    "windows_to_batch",
]

log = logging.getLogger(__name__)

#: The file beside the images that names the track and window settings the windows were cut with.
WINDOWING_FILE = "windowing.json"
_WINDOWS_META_KEY = b"flightpaths.windows"  # where `flightpaths tracks` (save_windows) puts its settings

#: Named render configs: ``mouse`` colours time progression, speed (px/s) and the window's
#: extent, and draws clicks as discs (what ``flightpaths demo --mouse`` trains on).
RENDER_PRESETS: dict[str, RenderConfig] = {
    "flight": RenderConfig(),
    "mouse": RenderConfig(
        channels=(Channel("progress", 0.0, 1.0), Channel("speed", 0.0, 3000.0), Channel("extent", 10.0, 2000.0, True)),
        event_radius=3.0, gap_s=2.0),
}

#: The manifest's first columns (then every scalar column of the windows table, then how it was drawn).
MANIFEST_COLUMNS = (
    "image",
    "window_id",
    "object_id",
    "callsign",
    "start",
    "end",
    "source_file",
    "line_first",
    "line_last",
    "status",
)
#: Windows-table array column -> rasterize colour variable.
VALUE_COLUMNS = {"pspeed": "speed", "palt": "altitude", "pturn": "turn", "pcumturn": "cumturn"}
_RENDER_COLUMNS = ("frame", "units_per_pixel")
_EMPTY = np.zeros(0)


class _BadRow(Exception):
    pass


def _as_array(value: object, column: str, *, text: bool = False) -> np.ndarray:
    """One cell of an array column as a 1-D array (None/NA -> empty)."""
    if value is None or (isinstance(value, float) and value != value):
        return np.zeros(0, dtype=object if text else np.float64)
    try:
        arr = np.asarray(value, dtype=object if text else np.float64)
    except (TypeError, ValueError):
        raise _BadRow(f"column {column!r} holds values that are not numbers") from None
    if arr.ndim != 1:
        raise _BadRow(f"column {column!r} is not a flat list (shape {arr.shape})")
    return arr


def _row_arrays(row: dict[str, object], names: Sequence[str]) -> dict[str, np.ndarray]:
    out = {"px": _as_array(row["px"], "px"), "py": _as_array(row["py"], "py")}
    n = len(out["px"])
    if len(out["py"]) != n:
        raise _BadRow(f"px has {n} values but py has {len(out['py'])}")
    for name in names:
        arr = _as_array(row.get(name), name)
        if len(arr) == 0 and n:
            arr = np.full(n, np.nan)  # a missing channel is drawn at its floor
        if len(arr) != n:
            raise _BadRow(f"{name} has {len(arr)} values for {n} points")
        out[name] = arr
    ex, ey = _as_array(row.get("ev_x"), "ev_x"), _as_array(row.get("ev_y"), "ev_y")
    ek = _as_array(row.get("ev_kind"), "ev_kind", text=True)
    if not (len(ex) == len(ey) == len(ek)):
        raise _BadRow(f"ev_x, ev_y and ev_kind have {len(ex)}, {len(ey)} and {len(ek)} values")
    out.update(ev_x=ex, ev_y=ey, ev_kind=ek)
    return out


def windows_to_batch(windows: pd.DataFrame) -> TrackBatch:
    """Pack a windows table into a :class:`rasterize.TrackBatch` (bad rows marked skipped).

    >>> w = pd.DataFrame({"window_id": ["a"], "px": [np.array([0.0, 100.0])], "py": [np.array([0.0, 50.0])]})
    >>> b = windows_to_batch(w)
    >>> b.n, b.x.tolist(), b.skip
    (1, [0.0, 100.0], [''])
    """
    missing = [c for c in ("px", "py") if c not in windows.columns]
    if missing:
        raise InputError(f"not a windows table: missing column(s) {', '.join(missing)}")
    names = ["pt", *VALUE_COLUMNS]
    cols = [c for c in ("px", "py", *names, "ev_x", "ev_y", "ev_kind") if c in windows.columns]
    records = windows[cols].to_dict("records")
    units = windows["units"].astype(object).to_numpy() if "units" in windows.columns else np.full(len(windows), "m", object)
    window_s = pd.to_numeric(windows["window_s"], errors="coerce").to_numpy(float) if "window_s" in windows.columns else np.full(len(windows), np.nan)
    rows, skip = _batch_rows(records, units, names)
    return _pack(rows, skip, units, window_s)


def _batch_rows(records: list[dict[str, object]], units: np.ndarray, names: list[str]) -> tuple[list[dict[str, np.ndarray]], list[str]]:
    """The arrays of every window and a skip reason per window (empty arrays where skipped);
    an unknown unit is reported and set to metres in *units*."""
    rows: list[dict[str, np.ndarray]] = []
    skip: list[str] = []
    for i, rec in enumerate(records):
        reason = ""
        if units[i] not in ("m", "px"):
            reason = f"skipped: units {units[i]!r} is neither 'm' nor 'px'"
            units[i] = "m"
        try:
            arrays = _row_arrays(rec, names)
        except _BadRow as exc:
            reason, arrays = f"skipped: {exc}", {}
        if reason:
            arrays = {k: _EMPTY for k in ("px", "py", *names, "ev_x", "ev_y")}
            arrays["ev_kind"] = np.zeros(0, object)
        rows.append(arrays)
        skip.append(reason)
    return rows, skip


def _cat(rows: list[dict[str, np.ndarray]], name: str) -> np.ndarray:
    """Array *name* of every row, end to end."""
    return np.concatenate([r[name] for r in rows]) if rows else np.zeros(0, object if name == "ev_kind" else float)


def _pack(rows: list[dict[str, np.ndarray]], skip: list[str], units: np.ndarray, window_s: np.ndarray) -> TrackBatch:
    """One :class:`TrackBatch` of the windows' arrays (*rows*)."""
    counts = np.array([len(r["px"]) for r in rows], np.int64)
    ev_counts = np.array([len(r["ev_x"]) for r in rows], np.int64)
    return TrackBatch(
        x=_cat(rows, "px"),
        y=_cat(rows, "py"),
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        t=_cat(rows, "pt"),
        values={var: _cat(rows, col) for col, var in VALUE_COLUMNS.items()},
        ev_x=_cat(rows, "ev_x"),
        ev_y=_cat(rows, "ev_y"),
        ev_kind=_cat(rows, "ev_kind").astype(object),
        ev_offsets=np.concatenate([[0], np.cumsum(ev_counts)]).astype(np.int64),
        units=units,
        y_down=units == "px",
        window_s=window_s,
        skip=skip,
    )


def _chunks(n: int, workers: int, per_task: int = 512) -> list[tuple[int, int]]:
    size = max(1, min(per_task, -(-n // max(1, workers))))
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def _draw_part(batch: TrackBatch, config_json: str) -> tuple[np.ndarray, list[tuple[str, str, float]]]:
    images, infos = draw_batch(batch, RenderConfig.from_json(config_json))
    return images, [(i.status, i.frame, i.units_per_pixel) for i in infos]


def _write_part(batch: TrackBatch, config_json: str, paths: list[str | None]) -> list[tuple[str, str, float]]:
    images, infos = _draw_part(batch, config_json)
    for img, path, info in zip(images, paths, infos):
        if path is not None and info[0] == "ok":
            tmp = f"{path}.tmp{os.getpid()}"
            with open(tmp, "wb") as fh:
                fh.write(encode_png(img))
            os.replace(tmp, path)
    return infos


def _pool(workers: int) -> ProcessPoolExecutor:
    # spawn: safe beside the threads pyarrow and torch start in the parent process
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))


def _run(
    batch: TrackBatch,
    config: RenderConfig,
    workers: int,
    paths: list[str | None] | None,
    progress: Callable[[int], None] | None,
) -> tuple[np.ndarray | None, list[tuple[str, str, float]]]:
    """Draw (and write, when *paths*) every track, in *workers* processes."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    text = config.to_json()
    parts = _chunks(batch.n, workers)
    images = None if paths is not None else np.empty((batch.n, config.size, config.size, config.n_channels), np.uint8)
    infos: list[tuple[str, str, float]] = []
    for s, e, result in _results(batch, text, parts, workers, paths):
        if paths is None:
            imgs, part = result
            images[s:e] = imgs  # type: ignore[index]
        else:
            part = result
        infos.extend(part)
        if progress is not None:
            progress(e - s)
    return images, infos


def _results(batch: TrackBatch, text: str, parts: list[tuple[int, int]], workers: int,
             paths: list[str | None] | None) -> Iterator[tuple[int, int, Any]]:
    """``(start, end, result)`` of each part in order, drawn here or in *workers* processes."""
    if workers == 1 or len(parts) == 1:
        for s, e in parts:
            sub = batch.slice(s, e)
            yield s, e, _draw_part(sub, text) if paths is None else _write_part(sub, text, paths[s:e])
        return
    with _pool(workers) as pool:
        futures = [
            pool.submit(_draw_part, batch.slice(s, e), text) if paths is None else pool.submit(_write_part, batch.slice(s, e), text, paths[s:e])
            for s, e in parts
        ]
        for (s, e), fut in zip(parts, futures):
            yield s, e, fut.result()


def images_from_windows(
    windows: pd.DataFrame, config: RenderConfig | None = None, *, workers: int = 1
) -> tuple[np.ndarray, list[str]]:
    """Draw every window in memory: ``(N, H, W, C)`` uint8 images and a status per window.

    Skipped windows (status ``"skipped: ..."``) are background-only images, so rows stay
    aligned with *windows*.

    >>> w = pd.DataFrame({"window_id": ["a", "b"], "px": [np.array([0.0, 900.0]), np.array([])],
    ...                   "py": [np.array([0.0, 300.0]), np.array([])]})
    >>> imgs, status = images_from_windows(w)
    >>> imgs.shape, status
    ((2, 128, 128, 3), ['ok', 'skipped: empty window (no points)'])
    """
    cfg = config or RenderConfig()
    images, infos = _run(windows_to_batch(windows), cfg, workers, None, None)
    if images is None:  # pragma: no cover - _run always returns images when given no paths
        raise RuntimeError("internal error: no images drawn")
    return images, [i[0] for i in infos]


def _image_names(windows: pd.DataFrame) -> tuple[list[str | None], list[str]]:
    """File names per window (None where unusable) and a skip reason for those.

    A name is the window id when that is a safe file name, else a safe stem plus a hash of the
    exact id (:func:`~flightpaths.fileio.file_stem`); names never differ only in case, so two
    windows never share a file anywhere. The manifest maps each name back to its window id.
    """
    ids = windows["window_id"].astype(object).tolist() if "window_id" in windows.columns else [None] * len(windows)
    names: list[str | None] = []
    reasons: list[str] = []
    seen: set[str] = set()  # case-folded: macOS and Windows see A.png and a.png as one file
    exact: set[str] = set()
    for wid in ids:
        name, reason = _image_name(wid, seen, exact)
        names.append(name)
        reasons.append(reason)
    return names, reasons


def _image_name(wid: object, seen: set[str], exact: set[str]) -> tuple[str | None, str]:
    """The file name of window *wid* (added to *seen* and *exact*), or None and why not."""
    name, reason = None, ""
    if wid is None or (isinstance(wid, float) and wid != wid) or wid is pd.NA:
        reason = "skipped: no window_id"
    elif str(wid) in exact:
        reason = f"skipped: duplicate window_id {wid!r}"
    else:
        name = file_stem(wid, what="window_id") + ".png"
        if name.casefold() in seen:  # differs from an earlier id only in case: name it by its hash
            name = file_stem(wid, what="window_id", hashed=True) + ".png"
        if name.casefold() in seen:
            name, reason = None, f"skipped: window_id {wid!r} gives the file name of an earlier one"
    if name is not None:
        seen.add(name.casefold())
        exact.add(str(wid))
    return name, reason


def _check_outputs(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InputError("is a file; the output must be a folder", path=out)
    check_output(out / "manifest.csv", overwrite=overwrite)
    check_output(out / "render_config.json", overwrite=overwrite)
    check_output(out / WINDOWING_FILE, overwrite=overwrite)
    images = out / "images"
    if images.is_dir() and any(images.glob("*.png")) and not overwrite:
        raise OutputExistsError(f"{images} already holds images; pass --overwrite to replace them")


def render_windows(
    windows: pd.DataFrame,
    out_dir: str | Path,
    config: RenderConfig | None = None,
    *,
    workers: int = 1,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
    windowing: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Draw every window to ``out_dir/images/{window_id}.png``; write the manifest and config.

    *windowing* (``{"tracks": {...}, "windows": {...}}``, see :func:`read_windowing`) is
    written as ``windowing.json`` beside them, so a model trained on these images cuts new
    windows the same way.

    Returns the manifest (also written as ``out_dir/manifest.csv``): ``image`` (path relative
    to *out_dir*, empty when skipped), the provenance columns of :data:`MANIFEST_COLUMNS`,
    every other scalar column of *windows* (the figures), and ``frame``/``units_per_pixel``.
    Refuses to replace an earlier render unless *overwrite*.
    """
    cfg = config or RenderConfig()
    out = Path(out_dir)
    _check_outputs(out, overwrite)
    (out / "images").mkdir(parents=True, exist_ok=True)
    batch = windows_to_batch(windows)
    names, reasons = _image_names(windows)
    for i, reason in enumerate(reasons):
        if reason and not batch.skip[i]:
            batch.skip[i] = reason
    paths = [None if n is None else str(out / "images" / n) for n in names]
    _, infos = _run(batch, cfg, workers, paths, progress)
    manifest = _manifest(windows, names, infos)
    atomic_write_text(out / "render_config.json", cfg.to_json())
    if windowing:
        atomic_write_text(out / WINDOWING_FILE, json.dumps(windowing, indent=2, sort_keys=True) + "\n")
    else:  # an older render's record must not outlive it (checked above: only with overwrite)
        (out / WINDOWING_FILE).unlink(missing_ok=True)
    write_csv(out / "manifest.csv", manifest, index=False)
    stale = {p.name for p in (out / "images").glob("*.png")} - {n for n in names if n is not None}
    if stale:
        log.warning("%s holds %d older images not in this manifest (left as they were)", out / "images", len(stale))
    n_ok = int((manifest["status"] == "ok").sum())
    log.info("rendered %d of %d windows to %s (%d skipped)", n_ok, len(manifest), out / "images", len(manifest) - n_ok)
    return manifest


def _manifest(windows: pd.DataFrame, names: list[str | None], infos: list[tuple[str, str, float]]) -> pd.DataFrame:
    status = [i[0] for i in infos]
    scalars = [c for c in windows.columns if c not in ARRAY_COLUMNS and c not in MANIFEST_COLUMNS and c not in _RENDER_COLUMNS]
    data: dict[str, object] = {
        "image": [f"images/{n}" if n is not None and s == "ok" else "" for n, s in zip(names, status)],
    }
    for col in MANIFEST_COLUMNS[1:-1]:
        data[col] = windows[col].to_numpy() if col in windows.columns else pd.array([pd.NA] * len(windows))
    data["status"] = status
    for col in scalars:
        data[col] = windows[col].to_numpy()
    data["frame"] = [i[1] for i in infos]
    data["units_per_pixel"] = [i[2] if s == "ok" else np.nan for i, s in zip(infos, status)]
    return pd.DataFrame(data, index=pd.RangeIndex(len(windows)))


def read_windowing(path: str | Path) -> dict[str, Any] | None:
    """The track and window settings a windows parquet was cut with (``{"tracks": ..., "windows": ...}``),
    or None when it does not record them (a table written by other code)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
        data = json.loads(meta[_WINDOWS_META_KEY]) if _WINDOWS_META_KEY in meta else None
    except (OSError, ValueError) as exc:
        raise InputError(f"not a readable parquet file: {exc}", path=path) from exc
    settings = data.get("settings") if isinstance(data, dict) else None
    if not isinstance(settings, dict) or not isinstance(settings.get("windows"), dict):
        return None
    return {"tracks": settings.get("tracks") or {}, "windows": settings["windows"]}


def load_render_config(path: str | Path) -> RenderConfig:
    """Read a ``render_config.json`` (InputError naming the file on any problem)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file ({exc.reason})", path=p) from None
    try:
        return RenderConfig.from_json(text)
    except (ValueError, TypeError) as exc:
        raise InputError(str(exc), path=p) from None


def config_from_options(
    base: RenderConfig | None = None,
    *,
    size: int | None = None,
    color_by: Sequence[str] | None = None,
    frame: str | None = None,
) -> RenderConfig:
    """*base* (default: the recommended config) with the options that are not None applied.

    >>> cfg = config_from_options(size=64, color_by=["speed", "time"], frame="scale")
    >>> cfg.size, [c.var for c in cfg.channels], cfg.frame
    (64, ['speed', 'time'], 'scale')
    """
    cfg = base or RenderConfig()
    if color_by is not None:
        cfg = cfg.with_color_by(list(color_by))
    changes = {k: v for k, v in {"size": size, "frame": frame}.items() if v is not None}
    return cfg.replace(**changes) if changes else cfg
