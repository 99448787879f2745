"""Bulk scoring: logs -> points -> tracks/windows -> images -> probabilities -> episodes.

:func:`score_windows` scores a windows table with a model bundle, drawing every window with
the render config stored in the bundle (never from flags). :func:`score_logs` runs the whole
chain over many files with bounded memory: points are read through
:func:`flightpaths.ingest.iter_points` about ``chunk_lines`` at a time, the last stretch of
each chunk is carried into the next so that no window is cut at a chunk boundary, and only scalar columns (plus a decimated track for
positive windows, for the
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
import hashlib
import io
import json
import logging
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from rasterize import RenderConfig

from ..context import (
    IdentityCollector,
    add_context,
    add_local_times,
    identity_by_object,
    join_identity,
    places_near,
    registry_note,
)
from ..errors import FlightpathsError, InputError
from ..fileio import atomic_write_bytes, atomic_write_text, check_output
from ..ingest import IngestReport, expand_paths, iter_points
from ..runtime import release_free_memory, resident_mb
from ..settings import settings_dict
from ..tracks import TrackSettings, WindowSettings, windows_from_chunks
from ._dask import dask_client
from .aggregate import SegmentAggregator, add_segment_probability
from .behaviour_model import (
    add_behaviour_episodes,
    default_behaviour_model,
    filter_behaviours,
    show_behaviour_episodes,
    window_lead_probability,
)
from .episodes import merge_episodes
from .leadmap import TRACK_POINTS_MAX, episode_lines
from .paths import PathKeeper, empty_paths
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
    "ScoringModel",
    "behaviour_scan",
    "bundle_fingerprint",
    "drawn_blocks",
    "episodes_from_windows",
    "input_windows",
    "path_keeper",
    "positive_class_of",
    "render_config_of",
    "score_input",
    "score_logs",
    "score_small_inputs",
    "slim_windows",
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
#: inputs up to this size (bytes on disk) are scored in groups of up to SMALL_GROUP_BYTES, sharing inference batches
SMALL_INPUT_BYTES = 4 << 20
SMALL_GROUP_BYTES = 4 << 20
_DRAW_BLOCK = 512


@dataclass(frozen=True)
class ScoreResult:
    """What :func:`score_logs` did: output paths and counts."""

    out_dir: Path
    outputs: dict[str, Path]
    n_inputs: int
    n_skipped: int
    n_windows: int
    n_episodes: int
    #: inputs that could not be opened or were read only in part: the CLI exits 1 after writing the rest
    problems: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for the terminal."""
        skipped = f" ({self.n_skipped} already scored, skipped)" if self.n_skipped else ""
        return (
            f"scored {self.n_inputs} input(s){skipped}: {self.n_windows} windows, "
            f"{self.n_episodes} episodes -> {self.out_dir}"
        )


# ---------------------------------------------------------------------------------- bundle


class ScoringModel(Protocol):
    """What scoring needs from a model (:class:`flightpaths.train.predict.Bundle` is one).

    Windows are drawn with ``render_config`` and cut with ``track_settings`` and
    ``window_settings``: those of the training windows, never flags.
    """

    path: Path | None
    meta: dict[str, Any]

    @property
    def classes(self) -> list[str]: ...
    @property
    def render_config(self) -> RenderConfig | None: ...
    @property
    def track_settings(self) -> TrackSettings: ...
    @property
    def window_settings(self) -> WindowSettings: ...
    @property
    def windowing_known(self) -> bool: ...
    @property
    def figure_columns(self) -> list[str]: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def positive_class(self) -> str | None: ...

    def predict_images(self, images: Any, figures: pd.DataFrame | None = None) -> np.ndarray: ...


def bundle_fingerprint(bundle: ScoringModel) -> str:
    """A short stable id of a model (the first 16 hex digits of its weights' sha256)."""
    return str(bundle.fingerprint)


# --------------------------------------------------------------------------------- scoring


_DRAW_COLUMNS = ("window_id", "px", "py", "pt", "pspeed", "palt", "pturn", "pcumturn", "ev_x", "ev_y", "ev_kind", "units", "window_s")


def render_config_of(bundle: ScoringModel) -> RenderConfig:
    """The bundle's render config; a clear error for a model that cannot draw new windows."""
    config = bundle.render_config
    if config is None:
        raise FlightpathsError(
            "this model bundle has no render config, so new windows cannot be drawn the way its "
            "training images were; retrain it on a dataset made with `flightpaths render`"
        )
    return config


def _draw_block(windows: pd.DataFrame, config_json: str) -> tuple[np.ndarray, list[str]]:
    """Draw one block of windows (runs in a drawing process)."""
    from rasterize import RenderConfig

    from ..render import images_from_windows

    return images_from_windows(windows, RenderConfig.from_json(config_json), workers=1)


def _drawing_pool(workers: int) -> ProcessPoolExecutor:
    # spawn: safe beside the threads that torch and pyarrow start in this process
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))


def drawn_blocks(
    windows: pd.DataFrame, config: RenderConfig, block: int = _DRAW_BLOCK, pool: Executor | None = None
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
    bundle: ScoringModel,
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
    config = render_config_of(bundle)
    fig_cols = list(bundle.figure_columns)
    missing = [c for c in fig_cols if c not in windows.columns]
    if missing:
        raise FlightpathsError(f"the model needs window figure(s) {', '.join(missing)}, which the windows lack")
    for lo, images, statuses in drawn_blocks(windows, config, draw_block, pool):
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


def _point_chunks(path: Path, settings: ScoreSettings, report: IngestReport,
                  on_bytes: Callable[[int], None] | None) -> Iterator[pd.DataFrame]:
    """The points of one input, chunk by chunk, through :func:`flightpaths.ingest.iter_points`."""
    for chunk in iter_points([path], settings.ingest, chunk_rows=settings.chunk_lines, report=report):
        if on_bytes is not None and chunk.nbytes:
            on_bytes(chunk.nbytes)
        yield chunk.points


def _thumb(arr: Any) -> np.ndarray | None:
    if not isinstance(arr, (np.ndarray, list, tuple)) or len(arr) == 0:
        return None
    a = np.asarray(arr, dtype=np.float32)
    if len(a) > THUMB_POINTS:
        a = a[np.linspace(0, len(a) - 1, THUMB_POINTS).astype(int)]
    return a


def bundle_aggregator(bundle: ScoringModel) -> SegmentAggregator | None:
    """The learned segment aggregator stored in a bundle's model.json (``segment_aggregator``), if any."""
    meta = getattr(bundle, "meta", None)
    value = meta.get("segment_aggregator") if isinstance(meta, dict) else None
    return SegmentAggregator.from_dict(value) if value is not None else None


def positive_class_of(bundle: ScoringModel) -> str:
    """The class whose probability makes an episode: the bundle's positive class, else its first."""
    return str(bundle.positive_class or list(bundle.classes)[0])


def behaviour_scan(scored: pd.DataFrame, classes: list[str], threshold: float) -> pd.DataFrame:
    """*scored* with the segment aggregator's geometry and the behaviour features on the windows
    that may join an episode and on every window of the longest length, and ``lead_p``: the
    built-in behaviour classifier's probability that a window alone is an orbit, hover or
    racetrack (:func:`~flightpaths.score.behaviour_model.window_lead_probability`), so that
    :func:`~flightpaths.score.behaviour_model.add_behaviour_episodes` can make episodes of
    windows the circling model does not flag."""
    from .aggregate import add_window_geometry

    if not len(scored):
        return scored
    rows = _candidates(scored, classes, threshold)
    if "window_s" in scored.columns:
        ws = scored["window_s"].to_numpy(float)
        rows = rows | (ws == np.nanmax(ws))
    out = add_window_geometry(scored, rows=rows)
    out["lead_p"] = window_lead_probability(out, default_behaviour_model())
    return out


def slim_windows(scored: pd.DataFrame, classes: list[str], threshold: float, *, geometry: bool = False) -> pd.DataFrame:
    """Scalar columns plus decimated points of the windows that may join an episode (and, with
    *geometry*, their ``turn_thin_deg``/``revisit_1km`` for the segment aggregator, unless
    :func:`behaviour_scan` gave them already)."""
    arrays = array_columns(scored)
    if geometry and len(scored) and "turn_thin_deg" not in scored.columns:
        from .aggregate import add_window_geometry

        pmax = scored[[f"p_{c}" for c in classes]].max(axis=1).to_numpy() >= threshold
        scored = add_window_geometry(scored, rows=pmax)
    out = scored.drop(columns=arrays)
    if {"px", "py"} <= set(scored.columns) and len(scored):
        pmax = _candidates(scored, classes, threshold)
        out["thumb_x"] = [(_thumb(x) if k else None) for x, k in zip(scored["px"], pmax)]
        out["thumb_y"] = [(_thumb(y) if k else None) for y, k in zip(scored["py"], pmax)]
        if "pt" in scored.columns:
            out["thumb_t"] = [(_thumb(t) if k else None) for t, k in zip(scored["pt"], pmax)]
    return out


def _candidates(scored: pd.DataFrame, classes: list[str], threshold: float) -> np.ndarray:
    """Which scored windows may join an episode (a class probability, or ``lead_p``, at the threshold)."""
    if scored.empty:
        return np.zeros(0, bool)
    cols = [f"p_{c}" for c in classes] + (["lead_p"] if "lead_p" in scored.columns else [])
    return np.asarray(scored[cols].max(axis=1).to_numpy() >= threshold, dtype=bool)


def path_keeper(bundle: ScoringModel, settings: ScoreSettings) -> PathKeeper:
    """A :class:`~flightpaths.score.paths.PathKeeper` for one input scored with *bundle*."""
    return PathKeeper(margin_s=settings.path_margin_s, points_max=TRACK_POINTS_MAX,
                      lengths=bundle.window_settings.lengths())


def _dedupe(windows: pd.DataFrame) -> pd.DataFrame:
    if windows.empty:
        return windows
    keys = [k for k in ("object_id", "start", "window_s") if k in windows.columns]
    order = windows.sort_values("n_points", ascending=False, kind="stable") if "n_points" in windows else windows
    order = order.drop_duplicates(keys, keep="first")
    return order.sort_values(["object_id", "start"], kind="stable").reset_index(drop=True)


def input_windows(
    path: str | Path, bundle: ScoringModel, settings: ScoreSettings, *, on_bytes: Callable[[int], None] | None = None,
    identity: IdentityCollector | None = None, problems: list[str] | None = None,
) -> Iterator[pd.DataFrame]:
    """The windows of one input, cut as the model's training windows were, a chunk at a time.

    Rows dropped while reading are summed up in one warning naming the file when it is done. A
    file that cannot be read is skipped with a warning (one bad file never sinks the others),
    unless ``settings.ingest.strict``; one that cannot be opened, or is read only in part, is
    named in *problems* when given. *identity*, when given, notes the log's identity fields.
    """
    dropped = IngestReport()
    chunks = _point_chunks(Path(path), settings, dropped, on_bytes)
    if identity is not None:
        chunks = identity.watch(chunks)
    try:
        yield from windows_from_chunks(chunks, bundle.track_settings, bundle.window_settings)
    except InputError as exc:
        if settings.ingest.strict:
            raise
        log.warning("warning: %s skipped: %s", path, exc)
    if problems is not None:  # as for ingest: a file that cannot be opened, or is read only in part, fails the run at the end
        problems.extend(f"{name}: could not be read" for name in dropped.unreadable)
        problems.extend(f"{where}: read only in part (the rows before the break were scored)" for where in dropped.partial)
    if dropped.dropped:  # the good rows were scored; say which were not, and why
        reasons = ", ".join(f"{reason}: {n:,}" for reason, n in sorted(dropped.dropped.items(), key=lambda kv: -kv[1]))
        log.warning("%s: %d row(s) dropped (%s); first: %s", path, dropped.rows_dropped, reasons,
                    "; ".join(dropped.examples[:3]))


def score_input(
    path: str | Path,
    bundle: ScoringModel,
    settings: ScoreSettings,
    *,
    on_bytes: Callable[[int], None] | None = None,
    on_windows: Callable[[int], None] | None = None,
    paths: PathKeeper | None = None,
    problems: list[str] | None = None,
) -> pd.DataFrame:
    """Score one input file: its windows' scalar columns, ``p_<class>`` and thumbnails.

    *on_bytes* hears of input bytes whose windows are scored, *on_windows* of windows scored;
    *paths*, when given, keeps the aircraft's points around the windows that may join an episode;
    *problems*, when given, hears of an input that could not be opened or was read only in part.
    """
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

    identity = IdentityCollector()  # the log's own identity fields, joined onto the windows
    workers = settings.workers or os.cpu_count() or 1
    with contextlib.ExitStack() as stack:
        pool = None
        for n, windows in enumerate(input_windows(path, bundle, settings, on_bytes=count, identity=identity,
                                                           problems=problems), 1):
            if pool is None and workers > 1 and len(windows) > 16 * _DRAW_BLOCK:
                pool = stack.enter_context(_drawing_pool(workers))
            scored = score_windows(windows, bundle, batch_size=settings.batch_size, draw_block=_DRAW_BLOCK, pool=pool,
                                    progress=on_windows)
            if geometry and settings.scan_behaviours:
                scored = behaviour_scan(scored, classes, settings.threshold)
            if paths is not None:
                paths.add(scored, _candidates(scored, classes, settings.threshold))
            parts.append(slim_windows(scored, classes, settings.threshold, geometry=geometry))
            report()
            del windows, scored
            _chunk_done(path, n, parts)
    report()
    if not parts:
        return pd.DataFrame()
    return join_identity(_dedupe(pd.concat(parts, ignore_index=True)), identity.table())


def _chunk_done(path: str | Path, n: int, parts: list[pd.DataFrame]) -> None:
    """Between chunks: memory freed by the chunk goes back to the OS (what the process holds is
    what it keeps, not its largest chunk so far); with ``-vv`` the resident memory is logged."""
    release_free_memory()
    if log.isEnabledFor(logging.DEBUG):
        kept = sum(len(p) for p in parts)
        log.debug("%s: chunk %d scored, %d windows kept, resident %.0f MB", path, n, kept, resident_mb() or float("nan"))


def score_small_inputs(
    inputs: Sequence[str | Path],
    bundle: ScoringModel,
    settings: ScoreSettings,
    *,
    on_bytes: Callable[[int], None] | None = None,
    on_windows: Callable[[int], None] | None = None,
    paths: Sequence[PathKeeper] | None = None,
    problems: list[str] | None = None,
) -> list[pd.DataFrame]:
    """Score several small inputs together: their windows are drawn and inferred in shared
    batches (a model runs much faster on full batches than on a few windows a file), then
    split back. Returns one frame per input, as :func:`score_input` would; *paths*, one keeper
    per input, keep the aircraft's points around possible episodes."""
    classes = episode_classes(list(bundle.classes), settings.positive_class)
    frames = []
    for i, path in enumerate(inputs):
        identity = IdentityCollector()
        cut = list(input_windows(path, bundle, settings, on_bytes=on_bytes, identity=identity, problems=problems))
        frames.extend(join_identity(w, identity.table()).assign(_input=i) for w in cut if len(w))
    if not frames:
        return [pd.DataFrame() for _ in inputs]
    windows = pd.concat(frames, ignore_index=True)
    scored = score_windows(windows, bundle, batch_size=settings.batch_size, draw_block=_DRAW_BLOCK, progress=on_windows)
    if bundle_aggregator(bundle) is not None and settings.scan_behaviours:
        scored = behaviour_scan(scored, classes, settings.threshold)
    if paths is not None:
        candidate = _candidates(scored, classes, settings.threshold)
        for i, keeper in enumerate(paths):
            mine = (scored["_input"] == i).to_numpy()
            keeper.add(scored[mine], candidate[mine])
    slim = slim_windows(scored, classes, settings.threshold, geometry=bundle_aggregator(bundle) is not None)
    groups = dict(iter(slim.groupby("_input", sort=False)))
    return [_dedupe(groups[i].drop(columns="_input").reset_index(drop=True)) if i in groups else pd.DataFrame()
            for i in range(len(inputs))]


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


def _score_task(path: str, model: Any, settings: ScoreSettings) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Dask task: load (once per worker process) and score one input; its windows, kept points and problems."""
    if isinstance(model, str):
        if model not in _BUNDLE_CACHE:
            from ..train.predict import load_bundle

            _BUNDLE_CACHE[model] = load_bundle(model)
        model = _BUNDLE_CACHE[model]
    # Dask runs one task per core already, and its worker processes may not start others
    keeper = path_keeper(model, settings)
    problems: list[str] = []
    frame = score_input(path, model, settings.replace(workers=1), paths=keeper, problems=problems)
    return frame, keeper.table(), problems


def score_logs(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    bundle: ScoringModel,
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
    if not paths:
        raise FlightpathsError("no input files given")
    inputs = expand_paths(list(paths))
    if not (overwrite or settings.resume):
        for name in OUTPUT_NAMES:
            check_output(out / name)
    if not bundle.windowing_known:
        log.warning("warning: the model records no track or window settings (trained on a plain image folder); "
                    "windows are cut with the defaults (%s), which may not match its training images",
                    ", ".join(f"{w:g} s" for w, _ in bundle.window_settings.lengths()))
    bundle_aggregator(bundle)  # a damaged segment aggregator fails here, before any input is read
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
    problems: list[str] = []  # inputs that could not be opened or were read only in part

    def record(path: Path, key: str, info: dict[str, Any], frame: pd.DataFrame, kept: pd.DataFrame) -> None:
        record_many([(key, info, frame)], [kept])

    def record_many(done: list[tuple[str, dict[str, Any], pd.DataFrame]], kept: list[pd.DataFrame]) -> None:
        """One part file for inputs scored together (rows tagged with their input's key), one
        for their kept points, one state write."""
        part, path_part = f"parts/{done[0][0]}.parquet", f"parts/{done[0][0]}.paths.parquet"
        tagged = [f.assign(input_key=k) for k, _, f in done if len(f)]
        _write_part(pd.concat(tagged, ignore_index=True) if tagged else pd.DataFrame({"input_key": pd.Series(dtype=str)}),
                    out / part)
        _write_part(pd.concat([p.assign(input_key=k) for (k, _, _), p in zip(done, kept)], ignore_index=True)
                    if kept else empty_paths().assign(input_key=pd.Series(dtype=str)), out / path_part)
        for key, info, frame in done:
            state["inputs"][key] = {**info, "part": part, "paths": path_part, "windows": int(len(frame))}
        atomic_write_text(out / STATE_NAME, json.dumps(state, indent=1, sort_keys=True) + "\n")

    if settings.dask and todo:
        model_ref: Any = str(bundle.path) if bundle.path is not None else bundle
        with dask_client(settings.dask, client) as c:
            futures = {c.submit(_score_task, str(p), model_ref, settings, pure=False): (p, k, info) for p, k, info in todo}
            from dask.distributed import as_completed

            for fut in _progress_iter(as_completed(futures), len(futures), settings, unit="file"):
                p, k, info = futures[fut]
                frame, kept_points, found = fut.result()
                problems.extend(found)
                record(p, k, info, frame, kept_points)
    elif todo:
        from tqdm import tqdm

        total = sum(p.stat().st_size for p, _, _ in todo)
        off = not settings.progress
        with tqdm(total=total, unit="B", unit_scale=True, desc="input", disable=off) as bar, \
                tqdm(unit=" windows", desc="scored", disable=off, position=1) as wbar:
            for group in _groups(todo):
                bar.set_postfix_str(group[0][0].name + (f" and {len(group) - 1} more" if len(group) > 1 else ""))
                keepers = [path_keeper(bundle, settings) for _ in group]
                if len(group) == 1:
                    p, k, info = group[0]
                    frame = score_input(p, bundle, settings, on_bytes=bar.update, on_windows=wbar.update, paths=keepers[0],
                                        problems=problems)
                    record(p, k, info, frame, keepers[0].table())
                    continue
                scored = score_small_inputs([p for p, _, _ in group], bundle, settings, on_bytes=bar.update,
                                            on_windows=wbar.update, paths=keepers, problems=problems)
                record_many([(k, info, f) for (_, k, info), f in zip(group, scored)], [kp.table() for kp in keepers])
    frames = _read_parts(out, state, [k for _, k, _ in keyed])
    windows = _dedupe(pd.concat(frames, ignore_index=True)) if frames else pd.DataFrame()
    kept = _read_parts(out, state, [k for _, k, _ in keyed], field="paths")
    paths = pd.concat(kept, ignore_index=True) if kept else empty_paths()
    result = _write_outputs(out, windows, bundle, classes, ep_classes, settings, inputs, skipped, fingerprint, paths)
    return replace(result, problems=tuple(problems))


def _groups(todo: list[tuple[Path, str, dict[str, Any]]]) -> Iterator[list[tuple[Path, str, dict[str, Any]]]]:
    """Inputs in scoring order: a large file alone; runs of small files together, up to
    ``SMALL_GROUP_BYTES`` a group (so their windows share inference batches)."""
    group: list[tuple[Path, str, dict[str, Any]]] = []
    size = 0
    for item in todo:
        n = int(item[2]["size"])
        if n > SMALL_INPUT_BYTES:
            if group:
                yield group
                group, size = [], 0
            yield [item]
            continue
        if group and size + n > SMALL_GROUP_BYTES:
            yield group
            group, size = [], 0
        group.append(item)
        size += n
    if group:
        yield group


def _read_parts(out: Path, state: dict[str, Any], keys: list[str], *, field: str = "part") -> list[pd.DataFrame]:
    """The scored rows (or, with ``field="paths"``, the kept points) of *keys*: each part file
    read once, rows of other inputs (in parts shared by inputs scored together) left out; inputs
    scored before points were kept have none."""
    wanted = set(keys)
    frames = []
    for part in dict.fromkeys(state["inputs"][k][field] for k in keys if field in state["inputs"][k]):
        frame = pd.read_parquet(out / part)
        if "input_key" in frame.columns:
            frame = frame[frame["input_key"].isin(wanted)].drop(columns="input_key")
        if len(frame):
            frames.append(frame)
    return frames


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


def episodes_from_windows(windows: pd.DataFrame, bundle: ScoringModel, settings: ScoreSettings,
                          ep_classes: list[str]) -> pd.DataFrame:
    """The episodes of scored, slimmed windows, ranked as the tip sheet lists them: merged
    positive windows, those of the behaviour classifier alone (when the windows have ``lead_p``),
    ``p_segment`` and the behaviour from the bundle's segment aggregator (when it has one)."""
    episodes = merge_episodes(windows, threshold=settings.threshold, classes=ep_classes, merge_gap_s=settings.merge_gap_s)
    if "lead_p" in windows.columns:
        episodes = add_behaviour_episodes(episodes, windows, positive_class=positive_class_of(bundle),
                                          threshold=settings.threshold)
    aggregator = bundle_aggregator(bundle)
    if aggregator is not None and len(episodes) and "turn_thin_deg" in windows.columns:
        episodes = show_behaviour_episodes(add_segment_probability(episodes, windows, aggregator,
                                                                   positive_class=positive_class_of(bundle)))
    return episodes


def _write_outputs(
    out: Path,
    windows: pd.DataFrame,
    bundle: ScoringModel,
    classes: list[str],
    ep_classes: list[str],
    settings: ScoreSettings,
    inputs: list[Path],
    skipped: int,
    fingerprint: str,
    paths: pd.DataFrame | None = None,
) -> ScoreResult:
    if windows.empty:
        windows = _empty_windows(classes)
    episodes = episodes_from_windows(windows, bundle, settings, ep_classes)
    episodes = add_context(filter_behaviours(episodes, settings.behaviours), identity_by_object(windows), settings.context)
    meta = {
        "model": fingerprint,
        "classes": ", ".join(classes),
        "threshold": settings.threshold,
        "inputs": len(inputs),
        "windows scored": len(windows),
        "generated": pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M UTC"),
        "registry": registry_note(settings.context),
    }
    lines = episode_lines(episodes, windows, paths)  # each episode's track, lon/lat, for the map formats
    outputs = {
        "windows.parquet": write_windows_parquet(
            add_local_times(windows.drop(columns=[c for c in ("thumb_x", "thumb_y", "thumb_t") if c in windows])), out / "windows.parquet",
            overwrite=True
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
            local_tz=settings.display_tz,
            meta=meta,
            overwrite=True,
            places_near=places_near,
            paths=paths,
            margin_s=settings.path_margin_s,
        ),
    }
    model = {"fingerprint": fingerprint, "classes": classes, "path": str(bundle.path or "")}
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
