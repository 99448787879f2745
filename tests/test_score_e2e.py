"""End to end: a simulated day -> a tiny trained bundle -> score a new simulated log -> episodes
that match the simulator's ground-truth circling intervals; then the interpretation report.

Slow (trains a small model on CPU) but kept small: 64-pixel images, a few hundred windows.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

for _mod in ("flightpaths.simulate", "flightpaths.render", "flightpaths.tracks", "flightpaths.ingest", "flightpaths.train.engine"):
    pytest.importorskip(_mod, reason=f"{_mod} is not there yet")

from click.testing import CliRunner  # noqa: E402

from flightpaths.cli import cli  # noqa: E402
from flightpaths.render import render_windows  # noqa: E402
from flightpaths.simulate import SimSettings, label_windows, simulate, write_simulation  # noqa: E402
from flightpaths.tracks import TrackSettings, WindowSettings, make_windows, split_tracks  # noqa: E402
from flightpaths.train.engine import TrainSettings, train  # noqa: E402
from rasterize import RenderConfig  # noqa: E402

pytestmark = pytest.mark.slow


def build_dataset(points: pd.DataFrame, truth: pd.DataFrame, root: Path, *, size: int = 64) -> tuple[Path, pd.DataFrame]:
    """Windows of *points* drawn and sorted into circling/ and not_circling/ by the simulator's truth."""
    tracked, _ = split_tracks(points, TrackSettings())
    windows = make_windows(tracked, WindowSettings())
    truth_w = label_windows(windows, truth)
    manifest = render_windows(windows, root / "render", RenderConfig(size=size))
    manifest = manifest[manifest["status"] == "ok"].reset_index(drop=True)
    circling = dict(zip(windows["window_id"], truth_w["circling"]))
    dataset = root / "dataset"
    rows = []
    for rec in manifest.itertuples():
        label = "circling" if circling[rec.window_id] else "not_circling"
        dest = dataset / label / f"{rec.window_id}.png"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / "render" / rec.image, dest)
        rows.append(f"{label}/{rec.window_id}.png")
    manifest = manifest.assign(image=rows)
    manifest.to_csv(dataset / "manifest.csv", index=False)
    shutil.copyfile(root / "render" / "render_config.json", dataset / "render_config.json")
    return dataset, windows


def overlaps(a_start: pd.Series, a_end: pd.Series, b_start: pd.Timestamp, b_end: pd.Timestamp) -> np.ndarray:
    return ((a_start < b_end) & (a_end > b_start)).to_numpy()


def episode_precision_recall(episodes: pd.DataFrame, truth: pd.DataFrame, *, min_truth_s: float = 300.0) -> tuple[float, float]:
    """Precision: share of *episodes* overlapping a circling interval of the same aircraft.
    Recall: share of circling intervals (at least *min_truth_s* long) overlapped by an episode."""
    truth = truth.assign(start=pd.to_datetime(truth["start"], utc=True), end=pd.to_datetime(truth["end"], utc=True))
    circ = truth[truth["circling"].astype(str).str.lower().isin(["true", "1"])]
    eps = episodes.assign(start=pd.to_datetime(episodes["start"], utc=True), end=pd.to_datetime(episodes["end"], utc=True))
    hit = [overlaps(circ.loc[circ.object_id == e.object_id, "start"], circ.loc[circ.object_id == e.object_id, "end"], e.start, e.end).any()
           for e in eps.itertuples()]
    long = circ[(circ["end"] - circ["start"]).dt.total_seconds() >= min_truth_s]
    found = [overlaps(eps.loc[eps.object_id == t.object_id, "start"], eps.loc[eps.object_id == t.object_id, "end"], t.start, t.end).any()
             for t in long.itertuples()]
    return (float(np.mean(hit)) if hit else 0.0), (float(np.mean(found)) if found else 1.0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("e2e")
    sim = simulate(SimSettings(seed=11, hours=3, aircraft=16))
    dataset, windows = build_dataset(sim.points, sim.truth, root)
    (root / "windows.parquet").parent.mkdir(exist_ok=True)
    windows.to_parquet(root / "windows.parquet")
    settings = TrainSettings(size=64, epochs=2, freeze_epochs=1, batch_size=32, seed=0)
    train(dataset, root / "model", settings)
    return root, dataset, root / "model"


def test_simulated_day_scores_to_episodes_matching_the_truth(trained: tuple[Path, Path, Path], tmp_path: Path) -> None:
    root, _dataset, model = trained
    new_day = write_simulation(simulate(SimSettings(seed=12, hours=3, aircraft=16, start="2024-06-02T08:00:00Z")), tmp_path / "day")
    cli_result = CliRunner().invoke(cli, ["-q", "score", str(new_day["log"]), "-o", str(tmp_path / "out"), "--model", str(model),
                                          "--display-tz", "America/New_York"])
    assert cli_result.exit_code == 0, cli_result.output
    assert "episodes" in cli_result.output and len(pd.read_parquet(tmp_path / "out" / "windows.parquet")) > 100
    episodes = pd.read_csv(tmp_path / "out" / "episodes.csv")
    truth = pd.read_csv(new_day["truth"])
    precision, recall = episode_precision_recall(episodes, truth)
    top_precision, _ = episode_precision_recall(episodes.head(10), truth)  # the tip sheet's first ten
    print(f"episodes: {len(episodes)}, precision {precision:.2f} (top 10: {top_precision:.2f}), recall {recall:.2f}")
    (tmp_path / "pr.json").write_text(json.dumps({"precision": precision, "top10_precision": top_precision, "recall": recall}))
    assert top_precision >= 0.7 and recall >= 0.6
    html = (tmp_path / "out" / "tipsheet.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == len(episodes)
    assert "EDT" in html  # the local zone beside UTC


def test_interpretation_report_on_the_training_dataset(trained: tuple[Path, Path, Path], tmp_path: Path) -> None:
    root, dataset, model = trained
    result = CliRunner().invoke(cli, ["report", str(model), str(dataset), "-o", str(tmp_path / "report"),
                                      "--windows", str(root / "windows.parquet")])
    assert result.exit_code == 0, result.output
    index = tmp_path / "report" / "index.html"
    table = pd.read_csv(tmp_path / "report" / "baselines.csv")
    assert len(table) == 4 and table["model"].iloc[0].startswith("CNN")
    assert table["model"].iloc[1].startswith("rule") and table["model"].iloc[2].startswith("multi-scale turn rule")
    assert table["model"].iloc[3] == "gradient-boosted trees" and "histograms" in table["features"].iloc[3]
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert metrics["n"] == int(table["n"].iloc[0]) > 10
    assert "top losses" in index.read_text(encoding="utf-8").lower()
