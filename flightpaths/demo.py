"""The whole pipeline on the shipped sample data, in one call (``flightpaths demo``).

Flights: ingest a simulated multi-aircraft SBS log -> tracks and windows -> images -> rule
labels -> train -> interpretation report -> score a second, unseen log -> tip sheet, and
compare the episodes found with the simulator's ground truth. Mouse (``mouse=True``): the same
pipeline on generated mouse telemetry, labelled human or bot by folder.

Every stage's output lands in its own folder under ``out_dir``. Re-running is safe: the demo
replaces only what an earlier demo run wrote there (it leaves a marker file), and refuses a
folder it did not make.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rasterize import RenderConfig

from .errors import FlightpathsError, InputError
from .fileio import atomic_write_text, write_csv
from .ingest import IngestSettings, read_logs
from .label import session
from .render import RENDER_PRESETS, render_windows
from .report import interpretation_report
from .score import ScoreSettings, score_logs
from .settings import settings_dict, write_settings
from .tracks import TRACK_PRESETS, WINDOW_PRESETS, windows_with_report, write_windows
from .train.engine import TrainSettings, train
from .train.predict import load_bundle

__all__ = ["DemoResult", "DemoSettings", "episode_agreement", "find_data_dir", "run_demo"]

MARKER = ".flightpaths-demo"
STAGE_DIRS = ("points", "windows", "render", "dataset", "dataset-import", "model", "report", "score")


@dataclass(frozen=True)
class DemoSettings:
    """What the demo runs on and how long it trains (sized for a 2-core CPU).

    ``data_dir``: the repository's ``data/`` folder (found automatically when None).
    ``size``: image size in pixels. ``freeze_epochs``/``epochs``: the two training phases.
    """

    out_dir: Path = Path("demo-out")
    data_dir: Path | None = None
    mouse: bool = False
    size: int = 96
    freeze_epochs: int = 3
    epochs: int = 1
    workers: int = 0
    threshold: float = 0.5
    device: str = "auto"


@dataclass
class DemoResult:
    """Where the demo's results are and the figures it measured."""

    out_dir: Path
    paths: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def find_data_dir(explicit: Path | None = None) -> Path:
    """The shipped ``data/`` folder: *explicit*, else beside the package (a checkout), else ./data."""
    candidates = [explicit] if explicit is not None else [Path(__file__).resolve().parents[1] / "data", Path.cwd() / "data"]
    for path in candidates:
        if path is not None and (path / "sim").is_dir():
            return path
    tried = ", ".join(str(p) for p in candidates if p is not None)
    raise InputError(f"the sample data folder (with sim/ and mouse/) was not found; tried {tried}; pass --data DIR")


def _prepare_out(out: Path) -> None:
    """Create *out*, or clear what an earlier demo wrote there; refuse a folder the demo did not make."""
    if out.exists():
        if not out.is_dir():
            raise InputError("exists and is not a folder", path=out)
        if any(out.iterdir()) and not (out / MARKER).is_file():
            raise FlightpathsError(f"{out} exists and was not made by the demo; choose another folder with --out")
        for name in STAGE_DIRS:
            shutil.rmtree(out / name, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / MARKER, "made by `flightpaths demo`; the demo replaces its own outputs here\n")


def _spans(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(object ids lowercased, start ns, end ns)`` of a table of intervals."""
    ids = frame["object_id"].astype(str).str.lower().to_numpy()
    start = pd.to_datetime(frame["start"], utc=True).dt.as_unit("ns").astype("int64").to_numpy()
    end = pd.to_datetime(frame["end"], utc=True).dt.as_unit("ns").astype("int64").to_numpy()
    return ids, start, end


def episode_agreement(episodes: pd.DataFrame, truth: pd.DataFrame, *, min_truth_s: float = 300.0) -> dict[str, float]:
    """Precision and recall of episodes against the simulator's circling intervals.

    An episode is right when it overlaps a circling interval of the same aircraft; a circling
    interval (at least *min_truth_s* long) is found when an episode overlaps it.

    >>> t = pd.DataFrame({"object_id": ["a", "a"], "start": ["2024-01-01T00:00Z", "2024-01-01T01:00Z"],
    ...                   "end": ["2024-01-01T00:20Z", "2024-01-01T01:20Z"], "circling": [True, True]})
    >>> e = pd.DataFrame({"object_id": ["a", "b"], "start": ["2024-01-01T00:05Z", "2024-01-01T00:05Z"],
    ...                   "end": ["2024-01-01T00:15Z", "2024-01-01T00:15Z"]})
    >>> episode_agreement(e, t)["episode_precision"], episode_agreement(e, t)["episode_recall"]
    (0.5, 0.5)
    """
    circ = truth[truth["circling"].astype(str).str.lower().isin(["true", "1"])]
    c_id, c_start, c_end = _spans(circ)
    long_enough = (c_end - c_start) >= min_truth_s * 1e9
    c_id, c_start, c_end = c_id[long_enough], c_start[long_enough], c_end[long_enough]
    e_id, e_start, e_end = _spans(episodes)
    overlap = (e_id[:, None] == c_id[None, :]) & (e_start[:, None] < c_end[None, :]) & (e_end[:, None] > c_start[None, :])
    return {
        "episodes": float(len(e_id)),
        "circling_intervals": float(len(c_id)),
        "episode_precision": float(overlap.any(axis=1).mean()) if len(e_id) else float("nan"),
        "episode_recall": float(overlap.any(axis=0).mean()) if len(c_id) else float("nan"),
    }


def _stage(echo: Callable[[str], None], name: str) -> Callable[[], None]:
    t0 = time.perf_counter()
    echo(f"\n== {name}")

    def done() -> None:
        echo(f"   ({time.perf_counter() - t0:.1f} s)")

    return done


def _windows(points: pd.DataFrame, out: Path, echo: Callable[[str], None], preset: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Stage 2: the windows, and their settings as `flightpaths tracks` records them (they travel to the model)."""
    done = _stage(echo, "2. tracks and windows")
    tracks, cut = TRACK_PRESETS[preset], WINDOW_PRESETS[preset]
    windows, report = windows_with_report(points, cut, tracks=tracks)
    windowing = {"tracks": settings_dict(tracks), "windows": settings_dict(cut)}
    write_windows(windows, out / "windows" / "windows.parquet", settings=windowing)
    echo(report.summary())
    echo(f"{len(windows)} windows of {windows['object_id'].nunique()} objects")
    done()
    return windows, windowing


def run_demo(settings: DemoSettings = DemoSettings(), echo: Callable[[str], None] = print) -> DemoResult:
    """Run the demo (flights, or mouse telemetry with ``settings.mouse``) and return its results."""
    t_start = time.perf_counter()
    data = find_data_dir(settings.data_dir)
    out = Path(settings.out_dir)
    _prepare_out(out)
    result = DemoResult(out_dir=out)
    write_settings(out / "demo-settings.json", demo=settings)
    points = _ingest_stage(settings, data, out, echo)
    windows, windowing = _windows(points, out, echo, _preset(settings))
    _render_stage(settings, windows, windowing, out, echo)
    _label_stage(settings, points, windows, out, echo)
    _train_stage(settings, out, result, echo)
    _report_stage(out, result, echo)
    if not settings.mouse:
        _score_stage(settings, data, out, result, echo)
    result.seconds = time.perf_counter() - t_start
    return result


def _ingest_stage(settings: DemoSettings, data: Path, out: Path, echo: Callable[[str], None]) -> pd.DataFrame:
    """Stage 1: read the sample logs (or mouse sessions) and keep their points; the points."""
    done = _stage(echo, "1. ingest")
    if settings.mouse:
        ingest = read_logs([data / "mouse"], settings=IngestSettings())
    else:
        ingest = read_logs([data / "sim" / "train" / "sim.sbs.gz"], settings=IngestSettings())
    echo(ingest.report.summary())
    (out / "points").mkdir(parents=True, exist_ok=True)
    ingest.points.to_parquet(out / "points" / "points.parquet")
    done()
    return ingest.points


def _render_stage(settings: DemoSettings, windows: pd.DataFrame, windowing: dict[str, Any], out: Path,
                  echo: Callable[[str], None]) -> None:
    """Stage 3: draw every window."""
    done = _stage(echo, "3. render")
    workers = settings.workers or os.cpu_count() or 1
    config = _render_config(settings)
    manifest = render_windows(windows, out / "render", config, workers=workers, overwrite=True, windowing=windowing)
    echo(f"{int((manifest['status'] == 'ok').sum())} images drawn at {settings.size} px in {out / 'render'}")
    done()


def _label_stage(settings: DemoSettings, points: pd.DataFrame, windows: pd.DataFrame, out: Path,
                 echo: Callable[[str], None]) -> None:
    """Stage 4: label the images, by the circling rule (flights) or by each session's folder (mouse)."""
    done = _stage(echo, "4. label")
    images, ds = session.open_dataset(out / "render", out / "dataset", classes=_classes(settings))
    with ds:
        if settings.mouse:
            bulk = session.bulk_label(ds, images, import_from=_mouse_labels(points, windows, out))
        else:
            bulk = session.bulk_label(ds, images, rule=True)
        for message in bulk.messages:
            echo(message)
        echo(f"dataset: {ds.counts()}")
    done()


def _train_stage(settings: DemoSettings, out: Path, result: DemoResult, echo: Callable[[str], None]) -> None:
    """Stage 5: train the model; its validation figures and folder go into *result*."""
    done = _stage(echo, "5. train")
    trained = train(
        out / "dataset",
        out / "model",
        TrainSettings(size=settings.size, freeze_epochs=settings.freeze_epochs * (2 if settings.mouse else 1),
                      epochs=settings.epochs, group_by="object", device=settings.device,
                      batch_size=16 if settings.mouse else 64),  # few mouse windows: smaller batches
        overwrite=True,
        progress=False,
    )
    result.figures.update({f"valid_{k}": float(v) for k, v in trained.metrics.items() if isinstance(v, (int, float))})
    result.paths["model"] = trained.model_dir
    done()


def _report_stage(out: Path, result: DemoResult, echo: Callable[[str], None]) -> None:
    """Stage 6: the interpretation report of the model on its dataset."""
    done = _stage(echo, "6. interpretation report")
    result.paths["report"] = interpretation_report(out / "model", out / "dataset", out / "report", overwrite=True)
    echo(f"report: {result.paths['report']}")
    done()


def _score_stage(settings: DemoSettings, data: Path, out: Path, result: DemoResult, echo: Callable[[str], None]) -> None:
    """Stage 7: score the second simulated log; its episodes against the simulator's truth go into *result*."""
    done = _stage(echo, "7. score a second log")
    bundle = load_bundle(out / "model")
    scored = score_logs([data / "sim" / "score" / "sim.sbs.gz"], out / "score", bundle,
                        ScoreSettings(threshold=settings.threshold, progress=False), overwrite=True)
    agreement = _score_agreement(out / "score" / "episodes.csv", data / "sim" / "score" / "truth.csv")
    result.figures.update(agreement)
    result.paths["tip_sheet"] = out / "score" / "tipsheet.html"
    echo(f"{int(agreement['episodes'])} episodes; against the simulator's truth: precision "
         f"{agreement['episode_precision']:.2f}, recall {agreement['episode_recall']:.2f} "
         f"of {int(agreement['circling_intervals'])} circling intervals of 5 min or more; "
         f"precision of the 20 highest-ranked episodes {agreement['top20_precision']:.2f}")
    del scored
    done()


def _score_agreement(episodes_csv: Path, truth_csv: Path) -> dict[str, float]:
    """:func:`episode_agreement` of all episodes, and the precision of the 20 highest-ranked."""
    episodes = pd.read_csv(episodes_csv)
    truth = pd.read_csv(truth_csv)
    agreement = episode_agreement(episodes, truth)
    ranked = episodes.sort_values("rank") if "rank" in episodes.columns else episodes
    agreement["top20_precision"] = episode_agreement(ranked.head(20), truth)["episode_precision"]
    return agreement


def _classes(settings: DemoSettings) -> tuple[str, ...]:
    return ("bot", "human") if settings.mouse else ("circling", "straight")


def _render_config(settings: DemoSettings) -> RenderConfig:
    return replace(RENDER_PRESETS[_preset(settings)], size=settings.size)


def _preset(settings: DemoSettings) -> str:
    return "mouse" if settings.mouse else "flight"


def _mouse_labels(points: pd.DataFrame, windows: pd.DataFrame, out: Path) -> Path:
    """A labels CSV (window_id, label) from each session's folder name (human/ or bot/)."""
    folder = points.groupby("object_id")["source_file"].first().map(lambda p: Path(str(p)).parent.name)
    labels = pd.DataFrame({"window_id": windows["window_id"], "label": windows["object_id"].map(folder)})
    path = out / "dataset-import" / "labels.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_csv(path, labels.dropna(), index=False)
