"""Bulk scoring: logs -> points -> tracks/windows -> images -> probabilities -> episodes.

:func:`score_windows` scores a windows table with a model bundle, drawing every window with
the render config stored in the bundle (never from flags). :func:`score_logs` runs the whole
chain over many files with bounded memory: text logs are read ``chunk_lines`` lines at a
time, the last stretch of each chunk is carried into the next so that no window is cut at a
chunk boundary, and only scalar columns (plus a decimated track for positive windows, for the
tip sheet's thumbnails) are kept between chunks. Each finished input is saved under
``OUT/parts/`` and recorded in ``OUT/score-state.json`` (keyed by path, size, modification
time and model fingerprint), so ``resume=True`` skips inputs already scored.

Beyond one machine, ``settings.dask`` (``"local"`` or a scheduler address) sends one task per
input file to a Dask cluster and gathers the same parts; the outputs are identical to a local
run. Workers load the model from the bundle's folder, which must be readable at the same
path on every worker (a shared disk), or receive the bundle object itself.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import logging
import os
import re
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import FlightpathsError, InputError
from ..fileio import atomic_write_bytes, atomic_write_text, check_output
from ..schema import validate_points
from ..settings import settings_dict
from .aggregate import SegmentAggregator, add_segment_probability
from .episodes import merge_episodes
from .leadmap import episode_lines
from .settings import ScoreSettings, episode_classes
from .tipsheet import write_tip_sheet
from .writers import (
    array_columns,
    write_episodes_csv,
    write_episodes_geojson,
    write_episodes_gpkg,
    write_episodes_kml,
    write_windows_parquet,
)

__all__ = [
    "OUTPUT_NAMES",
    "ScoreResult",
    "bundle_fingerprint",
    "iter_point_chunks",
    "score_input",
    "score_logs",
    "score_windows",
    "windows_from_chunks",
]

log = logging.getLogger(__name__)

#: The files score_logs writes into its output folder.
OUTPUT_NAMES = (
    "windows.parquet", "episodes.csv", "episodes.geojson", "episodes.kml", "episodes.gpkg", "tipsheet.html", "score-settings.json"
)
STATE_NAME = "score-state.json"
THUMB_POINTS = 64
_DRAW_BLOCK = 512
_SBS_PREFIXES = ("MSG,", "SEL,", "ID,", "AIR,", "STA,", "CLK,")
_WHOLE_FILE_SUFFIXES = {".json", ".bin", ".beast", ".parquet", ".geojson", ".gpkg", ".zip"}


@dataclass(frozen=True)
class ScoreResult:
    """What :func:`score_logs` did: output paths and counts."""

    out_dir: Path
    outputs: dict[str, Path]
    n_inputs: int
    n_skipped: int
    n_windows: int
    n_episodes: int

    def summary(self) -> str:
        """One line for the terminal."""
        skipped = f" ({self.n_skipped} already scored, skipped)" if self.n_skipped else ""
        return (
            f"scored {self.n_inputs} input(s){skipped}: {self.n_windows} windows, "
            f"{self.n_episodes} episodes -> {self.out_dir}"
        )


# ---------------------------------------------------------------------------------- bundle


def _bundle_attr(bundle: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        value = getattr(bundle, name, None)
        if value is not None:
            return value
        meta = getattr(bundle, "meta", None) or getattr(bundle, "metadata", None)
        if isinstance(meta, dict) and meta.get(name) is not None:
            return meta[name]
    return default


def bundle_fingerprint(bundle: Any) -> str:
    """A short stable id of a model: the weights' sha256 when the bundle records it."""
    sha = _bundle_attr(bundle, "sha256", "weights_sha256", "fingerprint")
    if sha:
        return str(sha)[:16]
    render = _bundle_attr(bundle, "render_config")
    render_d = render.to_dict() if hasattr(render, "to_dict") else render
    blob = json.dumps({"classes": list(bundle.classes), "render": render_d}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _figure_columns(bundle: Any) -> list[str]:
    return list(_bundle_attr(bundle, "figure_columns", default=()) or ())


# --------------------------------------------------------------------------------- scoring


_DRAW_COLUMNS = ("window_id", "px", "py", "pt", "pspeed", "palt", "pturn", "pcumturn", "ev_x", "ev_y", "ev_kind", "units", "window_s")


def _render_config(bundle: Any) -> Any:
    from rasterize import RenderConfig

    config = _bundle_attr(bundle, "render_config")
    if config is None:
        raise FlightpathsError(
            "this model bundle has no render config, so new windows cannot be drawn the way its "
            "training images were; retrain it on a dataset made with `flightpaths render`"
        )
    if isinstance(config, RenderConfig):
        return config
    try:
        return RenderConfig.from_dict(dict(config))
    except (TypeError, ValueError) as exc:
        raise FlightpathsError(f"the model bundle's render config cannot be read: {exc}") from exc


def _draw_block(windows: pd.DataFrame, config_json: str) -> tuple[np.ndarray, list[str]]:
    """Draw one block of windows (runs in a drawing process)."""
    from rasterize import RenderConfig

    from ..render import images_from_windows

    return images_from_windows(windows, RenderConfig.from_json(config_json), workers=1)


def _drawing_pool(workers: int) -> ProcessPoolExecutor:
    # spawn: safe beside the threads that torch and pyarrow start in this process
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))


def _drawn_blocks(
    windows: pd.DataFrame, config: Any, block: int, pool: Executor | None
) -> Iterator[tuple[int, np.ndarray, list[str]]]:
    """Yield ``(first row, images, statuses)`` block by block, in order. With a *pool*, a few
    blocks are drawn ahead in other processes while the caller runs inference."""
    cols = [c for c in _DRAW_COLUMNS if c in windows.columns]
    text = config.to_json()
    starts = list(range(0, len(windows), block))
    if pool is None or len(starts) < 2:
        for lo in starts:
            yield (lo, *_draw_block(windows.iloc[lo : lo + block][cols], text))
        return
    ahead = 4
    pending: deque[tuple[int, Future[tuple[np.ndarray, list[str]]]]] = deque()
    for lo in starts:
        pending.append((lo, pool.submit(_draw_block, windows.iloc[lo : lo + block][cols], text)))
        if len(pending) >= ahead:
            first, fut = pending.popleft()
            yield (first, *fut.result())
    while pending:
        first, fut = pending.popleft()
        yield (first, *fut.result())


def score_windows(
    windows: pd.DataFrame,
    bundle: Any,
    *,
    batch_size: int = 64,
    draw_block: int = 512,
    pool: Executor | None = None,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Return *windows* with one ``p_<class>`` column per class of *bundle* and ``render_status``.

    Windows are drawn with the bundle's render config (never from flags), in blocks of
    *draw_block*, and scored *batch_size* images at a time. With *pool* (a process pool, see
    :func:`score_logs`), blocks are drawn in other processes while this one runs inference.
    Windows the renderer skips (no usable points) get NaN probabilities, so they never join an
    episode. Bundles trained with window figures beside the images get those columns too.
    """
    classes = [str(c) for c in bundle.classes]
    out = windows.copy()
    probs = np.full((len(windows), len(classes)), np.nan, dtype=np.float64)
    status = np.full(len(windows), "ok", dtype=object)
    config = _render_config(bundle)
    fig_cols = _figure_columns(bundle)
    missing = [c for c in fig_cols if c not in windows.columns]
    if missing:
        raise FlightpathsError(f"the model needs window figure(s) {', '.join(missing)}, which the windows lack")
    for lo, images, statuses in _drawn_blocks(windows, config, draw_block, pool):
        ok = np.flatnonzero(np.asarray(statuses, dtype=object) == "ok")
        status[lo : lo + len(statuses)] = statuses
        for b in range(0, len(ok), batch_size):
            idx = ok[b : b + batch_size]
            figs = windows[fig_cols].iloc[lo + idx].reset_index(drop=True) if fig_cols else None
            probs[lo + idx] = np.asarray(bundle.predict_images(images[idx], figs), dtype=np.float64)
        if progress is not None:
            progress(len(statuses))
    for i, cls in enumerate(classes):
        out[f"p_{cls}"] = probs[:, i]
    out["render_status"] = pd.array(status.astype(str), dtype="string")
    return out


# --------------------------------------------------------------------------- reading inputs


def _open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")  # type: ignore[arg-type]


def _is_line_log(path: Path) -> bool:
    suffixes = {s.lower() for s in path.suffixes}
    if suffixes & _WHOLE_FILE_SUFFIXES:
        return False
    try:
        with _open_text(path) as fh:
            head = fh.read(4096)
    except (OSError, EOFError):
        return False
    stripped = head.lstrip()
    return bool(stripped) and stripped[0] not in "[{" and "\x00" not in head


def _ingest_file(path: Path, settings: ScoreSettings, report: Any = None) -> pd.DataFrame:
    """The points of *path*; its dropped rows are added to *report* (an ``IngestReport``), if given."""
    from ..ingest import IngestSettings, read_logs

    result = read_logs([path], settings=IngestSettings(tz=settings.input_tz))
    if report is not None:
        _merge_dropped(report, result.report)
    return result.points


_EXAMPLE = re.compile(r"^(?P<path>.*):(?P<line>\d+): (?P<msg>.*)$", re.S)


def _merge_dropped(into: Any, part: Any, *, chunk: Path | None = None, original: Path | None = None,
                   line_shift: int = 0) -> None:
    """Add *part*'s dropped rows to *into*; examples from a chunk file name the original file and line."""
    for reason, n in part.dropped.items():
        into.dropped[reason] = into.dropped.get(reason, 0) + n
    for example in part.examples:
        m = _EXAMPLE.match(example)
        if chunk is not None and m and m["path"] == str(chunk):
            example = f"{original}:{int(m['line']) + line_shift}: {m['msg']}"
        if len(into.examples) < _MAX_EXAMPLES:
            into.examples.append(example)


_MAX_EXAMPLES = 10


def _ingest_lines(
    lines: list[str], header: str | None, name: str, original: Path, offset: int, settings: ScoreSettings, tmp: Path,
    report: Any = None,
) -> pd.DataFrame:
    from ..ingest import IngestReport

    chunk = tmp / name
    shift = offset - (1 if header is not None else 0)  # chunk line -> line of the original file
    with open(chunk, "w", encoding="utf-8", newline="") as fh:
        if header is not None:
            fh.write(header)
        fh.writelines(lines)
    part = IngestReport()
    try:
        points = _ingest_file(chunk, settings, part)
    except InputError as exc:
        raise InputError(f"{exc} (in the chunk starting at line {offset + 1})", path=original) from exc
    finally:
        chunk.unlink(missing_ok=True)
    if report is not None:
        _merge_dropped(report, part, chunk=chunk, original=original, line_shift=shift)
    if len(points):
        points["source_file"] = pd.array([str(original)] * len(points), dtype="string")
        points["source_line"] = points["source_line"].astype("int64") + shift
    return points


def iter_point_chunks(
    path: str | Path, settings: ScoreSettings, *, on_bytes: Callable[[int], None] | None = None,
    report: Any = None,
) -> Iterator[pd.DataFrame]:
    """Yield the points of one input, a chunk at a time (bounded memory).

    Text logs (SBS, CSV, mouse sessions) are read ``settings.chunk_lines`` lines at a time; a
    header line, when the format has one, is repeated in every chunk; ``source_line`` always
    counts lines of the original file. Points tables (``.parquet``) are read by record batch.
    Other formats (JSON, binary) are read whole. Rows dropped on the way (malformed lines,
    impossible values) are counted in *report* (an ``IngestReport``), with the first few as
    ``file:line: reason`` of the original file.
    """
    path = Path(path)
    size = path.stat().st_size
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        done = 0
        for batch in pf.iter_batches(batch_size=settings.chunk_lines):
            frame = validate_points(batch.to_pandas(), source=str(path))
            done += batch.nbytes
            if on_bytes:
                on_bytes(min(batch.nbytes, size))
            yield frame
        return
    if not _is_line_log(path):
        points = _ingest_file(path, settings, report)
        if on_bytes:
            on_bytes(size)
        yield points
        return
    with _open_text(path) as fh, tempfile.TemporaryDirectory(prefix="flightpaths-score-") as tmpdir:
        tmp = Path(tmpdir)
        name = path.name[:-3] if path.suffix == ".gz" else path.name
        header: str | None = None
        start = 0
        first = True
        while True:
            lines = []
            nbytes = 0
            for line in fh:
                lines.append(line)
                nbytes += len(line)
                if len(lines) >= settings.chunk_lines:
                    break
            if not lines:
                break
            if first and not lines[0].lstrip().startswith(_SBS_PREFIXES) and not lines[0][:1].isdigit():
                header = lines[0]
            points = _ingest_lines(lines, None if first else header, name, path, start, settings, tmp, report)
            start += len(lines)
            first = False
            if on_bytes:
                on_bytes(nbytes)
            yield points
            if len(lines) < settings.chunk_lines:
                break


def _track_settings(bundle: Any) -> tuple[Any, Any]:
    from ..tracks import TrackSettings, WindowSettings

    def build(cls: type, value: Any) -> Any:
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            names = set(getattr(cls, "__dataclass_fields__", {}))
            return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in value.items() if k in names})
        return cls()

    return (
        build(TrackSettings, _bundle_attr(bundle, "track_settings")),
        build(WindowSettings, _bundle_attr(bundle, "window_settings")),
    )


def _make_windows(points: pd.DataFrame, track_settings: Any, window_settings: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    from ..tracks import make_windows, split_tracks

    tracked, _report = split_tracks(points, track_settings)
    return tracked, make_windows(tracked, window_settings)


def _chunk_end_time(chunk: pd.DataFrame) -> pd.Timestamp:
    """The time the log had reached at the end of *chunk*: the latest time among its last
    lines (by line number), so that a log made of several concatenated logs is read right."""
    tail = chunk.nlargest(max(1, len(chunk) // 100), "source_line") if "source_line" in chunk else chunk
    return tail["time"].max()


def windows_from_chunks(
    chunks: Iterator[pd.DataFrame], track_settings: Any, window_settings: Any
) -> Iterator[pd.DataFrame]:
    """Cut a stream of point chunks into windows, none of them cut at a chunk boundary.

    A track is still open at the end of a chunk when its last point is less than the track gap
    (``TrackSettings.gap_s``) before the time the log had reached (a later point could still
    extend it). With W the longest window and ``L`` an open track's last time, its windows
    starting before ``L - 2W`` are complete and emitted; its points from the start of its first
    window not emitted are carried into the next chunk (so the window grid stays where it was).
    Closed tracks are emitted whole and nothing of them is carried, which keeps the carry
    small. Concatenated logs (a later day before an earlier one) work too; windows found twice
    are removed later by :func:`_dedupe`. With regularly sampled logs the windows are exactly
    those of reading the whole file at once; with irregular sampling the grid after a chunk
    boundary may shift by less than one sampling interval (the carried track starts at its
    first point inside the first open window).
    """
    carry: pd.DataFrame | None = None
    gap = pd.Timedelta(seconds=float(getattr(track_settings, "gap_s", 600.0)))
    pending = next(chunks, None)
    while pending is not None:
        nxt = next(chunks, None)
        t_end = _chunk_end_time(pending) if len(pending) else None
        points = pending if carry is None or carry.empty else pd.concat([carry, pending], ignore_index=True)
        pending = nxt
        if points.empty:
            continue
        tracked, windows = _make_windows(points, track_settings, window_settings)
        keep = np.ones(len(windows), dtype=bool)
        if nxt is not None and len(tracked):
            span = float(windows["window_s"].max()) if len(windows) and "window_s" in windows else 0.0
            w = pd.Timedelta(seconds=max(span, 300.0))
            last = tracked.groupby("track_id")["time"].max()
            open_ = last[last >= (t_end if t_end is not None else last.max()) - gap]
            boundary = open_ - 2 * w
            late = pd.Series(False, index=windows.index)
            if len(windows):
                limit = windows["track_id"].map(boundary)
                late = limit.notna() & (windows["start"] >= limit)
                keep = ~late.to_numpy()
            first = windows.loc[late].groupby("track_id")["start"].min() if late.any() else pd.Series(dtype=object)
            since = tracked["track_id"].map(first)
            since = since.where(since.notna(), tracked["track_id"].map(boundary))
            carried = (since.notna() & (tracked["time"] >= since)).to_numpy()
            carry = tracked.loc[carried, [c for c in tracked.columns if c != "track_id"]].reset_index(drop=True)
        else:
            carry = None
        if keep.any():
            yield windows.loc[keep].reset_index(drop=True)


def _thumb(arr: Any) -> np.ndarray | None:
    if not isinstance(arr, (np.ndarray, list, tuple)) or len(arr) == 0:
        return None
    a = np.asarray(arr, dtype=np.float32)
    if len(a) > THUMB_POINTS:
        a = a[np.linspace(0, len(a) - 1, THUMB_POINTS).astype(int)]
    return a


def bundle_aggregator(bundle: Any) -> SegmentAggregator | None:
    """The learned segment aggregator stored in a bundle's model.json (``segment_aggregator``), if any."""
    meta = getattr(bundle, "meta", None)
    value = meta.get("segment_aggregator") if isinstance(meta, dict) else None
    return SegmentAggregator.from_dict(value) if value is not None else None


def _positive_class(bundle: Any) -> str:
    meta = getattr(bundle, "meta", None)
    value = meta.get("positive_class") if isinstance(meta, dict) else None
    return str(value) if value else str(list(bundle.classes)[0])


def _slim(scored: pd.DataFrame, classes: list[str], threshold: float, *, geometry: bool = False) -> pd.DataFrame:
    """Scalar columns plus decimated points of the windows that may join an episode (and, with
    *geometry*, their ``turn_thin_deg``/``revisit_1km`` for the segment aggregator)."""
    arrays = array_columns(scored)
    if geometry and len(scored):
        from .aggregate import add_window_geometry

        pmax = scored[[f"p_{c}" for c in classes]].max(axis=1).to_numpy() >= threshold
        scored = add_window_geometry(scored, rows=pmax)
    out = scored.drop(columns=arrays)
    if {"px", "py"} <= set(scored.columns) and len(scored):
        pmax = scored[[f"p_{c}" for c in classes]].max(axis=1).to_numpy() >= threshold
        out["thumb_x"] = [(_thumb(x) if k else None) for x, k in zip(scored["px"], pmax)]
        out["thumb_y"] = [(_thumb(y) if k else None) for y, k in zip(scored["py"], pmax)]
        if "pt" in scored.columns:
            out["thumb_t"] = [(_thumb(t) if k else None) for t, k in zip(scored["pt"], pmax)]
    return out


def _dedupe(windows: pd.DataFrame) -> pd.DataFrame:
    if windows.empty:
        return windows
    keys = [k for k in ("object_id", "start", "window_s") if k in windows.columns]
    order = windows.sort_values("n_points", ascending=False, kind="stable") if "n_points" in windows else windows
    order = order.drop_duplicates(keys, keep="first")
    return order.sort_values(["object_id", "start"], kind="stable").reset_index(drop=True)


def score_input(
    path: str | Path,
    bundle: Any,
    settings: ScoreSettings,
    *,
    on_bytes: Callable[[int], None] | None = None,
    on_windows: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Score one input file: its windows' scalar columns, ``p_<class>`` and thumbnails.

    *on_bytes* hears of input bytes whose windows are scored, *on_windows* of windows scored.
    """
    track_settings, window_settings = _track_settings(bundle)
    classes = episode_classes(list(bundle.classes), settings.positive_class)
    geometry = bundle_aggregator(bundle) is not None
    parts = []
    read = [0, 0]  # bytes read, bytes reported: the bar moves when a chunk's windows are scored

    def count(n: int) -> None:
        read[0] += n

    def report() -> None:
        if on_bytes is not None and read[0] > read[1]:
            on_bytes(read[0] - read[1])
            read[1] = read[0]

    from ..ingest import IngestReport

    dropped = IngestReport()
    chunks = iter_point_chunks(path, settings, on_bytes=count, report=dropped)
    workers = settings.workers or os.cpu_count() or 1
    with contextlib.ExitStack() as stack:
        pool = None
        for windows in windows_from_chunks(chunks, track_settings, window_settings):
            if pool is None and workers > 1 and len(windows) > 16 * _DRAW_BLOCK:
                pool = stack.enter_context(_drawing_pool(workers))
            scored = score_windows(windows, bundle, batch_size=settings.batch_size, draw_block=_DRAW_BLOCK, pool=pool,
                                    progress=on_windows)
            parts.append(_slim(scored, classes, settings.threshold, geometry=geometry))
            report()
    report()
    if dropped.dropped:  # the good rows were scored; say which were not, and why
        reasons = ", ".join(f"{reason}: {n:,}" for reason, n in sorted(dropped.dropped.items(), key=lambda kv: -kv[1]))
        log.warning("%s: %d row(s) dropped (%s); first: %s", path, dropped.rows_dropped, reasons,
                    "; ".join(dropped.examples[:3]))
    if not parts:
        return pd.DataFrame()
    return _dedupe(pd.concat(parts, ignore_index=True))


# ------------------------------------------------------------------------------ the driver


def _state_key(path: Path, fingerprint: str) -> tuple[str, dict[str, Any]]:
    st = path.stat()
    info = {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "model": fingerprint}
    key = hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:20]
    return key, info


def _load_state(out_dir: Path) -> dict[str, Any]:
    path = out_dir / STATE_NAME
    if not path.exists():
        return {"version": 1, "inputs": {}}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FlightpathsError(f"{path}: cannot read the resume state ({exc}); delete it to start afresh") from exc
    if not isinstance(state, dict) or not isinstance(state.get("inputs"), dict):
        raise FlightpathsError(f"{path}: not a flightpaths score state file; delete it to start afresh")
    return state


def _write_part(frame: pd.DataFrame, path: Path) -> None:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())


_BUNDLE_CACHE: dict[str, Any] = {}


def _score_task(path: str, model: Any, settings: ScoreSettings) -> pd.DataFrame:
    """Dask task: load (once per worker process) and score one input."""
    if isinstance(model, str):
        if model not in _BUNDLE_CACHE:
            from ..train.predict import load_bundle

            _BUNDLE_CACHE[model] = load_bundle(model)
        model = _BUNDLE_CACHE[model]
    # Dask runs one task per core already, and its worker processes may not start others
    return score_input(path, model, settings.replace(workers=1))


@contextlib.contextmanager
def _dask_client(address: str, client: Any | None) -> Iterator[Any]:
    if client is not None:
        yield client
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise FlightpathsError("--dask needs dask.distributed: pip install 'dask[distributed]'") from exc
    if address == "local":
        with LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                          silence_logs=logging.ERROR) as cluster, Client(cluster) as c:
            yield c
    else:
        with Client(address) as c:
            yield c


def score_logs(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    bundle: Any,
    settings: ScoreSettings | None = None,
    *,
    overwrite: bool = False,
    client: Any | None = None,
) -> ScoreResult:
    """Score many logs (or points tables) into ``out_dir``.

    Writes ``windows.parquet``, ``episodes.csv``, ``episodes.geojson``, ``episodes.kml``,
    ``episodes.gpkg``, ``tipsheet.html`` and ``score-settings.json``, plus ``parts/`` and
    ``score-state.json`` for ``resume``. Existing outputs are refused unless *overwrite* or ``settings.resume``.
    *client* is an existing ``dask.distributed.Client`` (otherwise ``settings.dask`` decides).
    """
    settings = settings or ScoreSettings()
    out = Path(out_dir)
    from ..ingest import expand_paths

    if not paths:
        raise FlightpathsError("no input files given")
    inputs = expand_paths(list(paths))
    if not (overwrite or settings.resume):
        for name in OUTPUT_NAMES:
            check_output(out / name)
    classes = [str(c) for c in bundle.classes]
    ep_classes = episode_classes(classes, settings.positive_class)
    fingerprint = bundle_fingerprint(bundle)
    state = _load_state(out) if settings.resume else {"version": 1, "inputs": {}}
    keyed = [(p, *_state_key(p, fingerprint)) for p in inputs]
    todo = [(p, k, info) for p, k, info in keyed if not (k in state["inputs"] and (out / state["inputs"][k]["part"]).exists())]
    skipped = len(inputs) - len(todo)
    if skipped:
        log.info("resume: %d of %d input(s) already scored with this model, skipped", skipped, len(inputs))
    (out / "parts").mkdir(parents=True, exist_ok=True)

    def record(path: Path, key: str, info: dict[str, Any], frame: pd.DataFrame) -> None:
        part = f"parts/{key}.parquet"
        _write_part(frame, out / part)
        state["inputs"][key] = {**info, "part": part, "windows": int(len(frame))}
        atomic_write_text(out / STATE_NAME, json.dumps(state, indent=1, sort_keys=True) + "\n")

    if settings.dask and todo:
        model_ref: Any = _bundle_attr(bundle, "path", "model_dir")
        model_ref = str(model_ref) if model_ref is not None else bundle
        with _dask_client(settings.dask, client) as c:
            futures = {c.submit(_score_task, str(p), model_ref, settings, pure=False): (p, k, info) for p, k, info in todo}
            from dask.distributed import as_completed

            for fut in _progress_iter(as_completed(futures), len(futures), settings, unit="file"):
                p, k, info = futures[fut]
                record(p, k, info, fut.result())
    elif todo:
        from tqdm import tqdm

        total = sum(p.stat().st_size for p, _, _ in todo)
        off = not settings.progress
        with tqdm(total=total, unit="B", unit_scale=True, desc="input", disable=off) as bar, \
                tqdm(unit=" windows", desc="scored", disable=off, position=1) as wbar:
            for p, k, info in todo:
                bar.set_postfix_str(p.name)
                record(p, k, info, score_input(p, bundle, settings, on_bytes=bar.update, on_windows=wbar.update))
    frames = [pd.read_parquet(out / state["inputs"][k]["part"]) for _, k, _ in keyed]
    frames = [f for f in frames if len(f)]
    windows = _dedupe(pd.concat(frames, ignore_index=True)) if frames else pd.DataFrame()
    return _write_outputs(out, windows, bundle, classes, ep_classes, settings, inputs, skipped, fingerprint)


def _progress_iter(it: Any, total: int, settings: ScoreSettings, *, unit: str) -> Iterator[Any]:
    from tqdm import tqdm

    yield from tqdm(it, total=total, unit=unit, desc="scoring", disable=not settings.progress)


def _empty_windows(classes: list[str]) -> pd.DataFrame:
    cols: dict[str, pd.Series] = {
        "window_id": pd.Series(dtype="string"),
        "object_id": pd.Series(dtype="string"),
        "callsign": pd.Series(dtype="string"),
        "start": pd.Series(dtype="datetime64[ns, UTC]"),
        "end": pd.Series(dtype="datetime64[ns, UTC]"),
    }
    cols.update({f"p_{c}": pd.Series(dtype=float) for c in classes})
    return pd.DataFrame(cols)


def _write_outputs(
    out: Path,
    windows: pd.DataFrame,
    bundle: Any,
    classes: list[str],
    ep_classes: list[str],
    settings: ScoreSettings,
    inputs: list[Path],
    skipped: int,
    fingerprint: str,
) -> ScoreResult:
    if windows.empty:
        windows = _empty_windows(classes)
    episodes = merge_episodes(windows, threshold=settings.threshold, classes=ep_classes, merge_gap_s=settings.merge_gap_s)
    aggregator = bundle_aggregator(bundle)
    if aggregator is not None and len(episodes) and "turn_thin_deg" in windows.columns:
        episodes = add_segment_probability(episodes, windows, aggregator, positive_class=_positive_class(bundle))
    meta = {
        "model": fingerprint,
        "classes": ", ".join(classes),
        "threshold": settings.threshold,
        "inputs": len(inputs),
        "windows scored": len(windows),
        "generated": pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M UTC"),
    }
    lines = episode_lines(episodes, windows)  # each episode's track, lon/lat, for the map formats
    outputs = {
        "windows.parquet": write_windows_parquet(
            windows.drop(columns=[c for c in ("thumb_x", "thumb_y", "thumb_t") if c in windows]), out / "windows.parquet", overwrite=True
        ),
        "episodes.csv": write_episodes_csv(episodes, out / "episodes.csv", overwrite=True),
        "episodes.geojson": write_episodes_geojson(episodes, out / "episodes.geojson", overwrite=True, tracks=lines),
        "episodes.kml": write_episodes_kml(episodes, out / "episodes.kml", overwrite=True, tracks=lines),
        "episodes.gpkg": write_episodes_gpkg(episodes, out / "episodes.gpkg", overwrite=True, tracks=lines),
        "tipsheet.html": write_tip_sheet(
            episodes,
            out / "tipsheet.html",
            windows=windows,
            classes=ep_classes,
            threshold=settings.threshold,
            local_tz=settings.local_tz,
            meta=meta,
            overwrite=True,
        ),
    }
    model = {"fingerprint": fingerprint, "classes": classes, "path": str(_bundle_attr(bundle, "path", "model_dir", default=""))}
    outputs["score-settings.json"] = atomic_write_text(
        out / "score-settings.json",
        json.dumps(
            {"score": settings_dict(settings), "model": model, "inputs": [str(p) for p in inputs]},
            indent=2,
            sort_keys=True,
            default=str,
        )
        + "\n",
    )
    return ScoreResult(out, outputs, len(inputs), skipped, int(len(windows)), int(len(episodes)))
