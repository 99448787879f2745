"""The model bundle as a typed object: every absurd model.json value refused with a BundleError,
and the track and window settings carried from `tracks` through render, label and train to score."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from flightpaths.errors import BundleError
from flightpaths.tracks import TrackSettings, WindowSettings
from flightpaths.train.bundle import save_bundle
from flightpaths.train.model import Classifier, FigureScaler
from flightpaths.train.predict import load_bundle
from rasterize import RenderConfig

COLS = ("net_turn_rev", "straightness")


def _figures_bundle(out: Path, **changes: Any) -> Path:
    """A small figures-only bundle (no backbone), with *changes* written over its model.json."""
    scaler = FigureScaler.fit(pd.DataFrame({c: np.linspace(0.0, 1.0, 10) for c in COLS}), COLS)
    torch.manual_seed(0)
    model = Classifier(None, 2, n_figures=len(COLS), hidden=8)
    meta = {"backbone": "efficientnet_lite0", "head": "figures", "classes": ["circling", "straight"], "image_size": 32,
            "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "render_config": RenderConfig(size=32).to_dict(),
            "n_figures": len(COLS), "figure_columns": list(COLS), "figure_normalisation": scaler.to_json(),
            "hidden": 8, "dropout": 0.5, "positive_class": "circling",
            "track_settings": {"gap_s": 120.0}, "window_settings": {"window_s": [20.0], "step_s": [10.0]}}
    save_bundle(out, model, meta)
    if changes:
        full = json.loads((out / "model.json").read_text())
        full.update(changes)
        (out / "model.json").write_text(json.dumps(full))
    return out


def test_a_loaded_bundle_holds_frozen_settings_objects(tmp_path: Path) -> None:
    bundle = load_bundle(_figures_bundle(tmp_path / "m"))
    assert bundle.render_config == RenderConfig(size=32)
    assert bundle.track_settings == TrackSettings(gap_s=120.0)
    assert bundle.window_settings == WindowSettings(window_s=20.0, step_s=10.0)
    assert bundle.windowing_known and bundle.positive_class == "circling"


def test_builtin_model_keeps_its_windows_and_default_tracks() -> None:
    default = Path(__file__).resolve().parents[1] / "flightpaths" / "models" / "default"
    if not (default / "model.json").is_file():
        pytest.skip("no built-in model")
    bundle = load_bundle(default)
    assert bundle.window_settings.lengths() == [(300.0, 150.0), (600.0, 300.0), (1200.0, 600.0)]
    assert bundle.track_settings == TrackSettings() and bundle.render_config.size == 96


ABSURD = [
    ({"image_size": 60000}, "image_size"),
    ({"image_size": -5}, "image_size"),
    ({"image_size": "big"}, "image_size"),
    ({"image_size": True}, "image_size"),
    ({"mean": ["0.5", "0.5", "0.5"]}, "mean"),
    ({"std": [0.5, 0.0, 0.5]}, "std"),
    ({"std": [0.5, 0.5]}, "std"),
    ({"classes": ["a", "a"]}, "classes"),
    ({"classes": "circling"}, "classes"),
    ({"head": "transformer"}, "head"),
    ({"dropout": 7}, "dropout"),
    ({"n_figures": -1}, "n_figures"),
    ({"positive_class": "whatever"}, "positive_class"),
    ({"render_config": {"version": 1, "size": 60000}}, "render_config"),
    ({"render_config": [1, 2]}, "render_config"),
    ({"window_settings": {"window_s": -5}}, "window_settings"),
    ({"window_settings": {"window_s": "5min"}}, "window_settings"),
    ({"window_settings": {"no_such": 1}}, "window_settings"),
    ({"track_settings": {"gap_s": "x"}}, "track_settings"),
    ({"weights_sha256": 12}, "weights_sha256"),
]


@pytest.mark.parametrize(("change", "field"), ABSURD, ids=[f"{f}={c[f]!r}" for c, f in ABSURD])
def test_absurd_model_json_values_give_a_bundle_error_naming_the_field(tmp_path: Path, change: dict, field: str) -> None:
    path = _figures_bundle(tmp_path / "m", **change)
    with pytest.raises(BundleError, match=field):
        load_bundle(path)


def test_deeply_nested_model_json_is_a_bundle_error(tmp_path: Path) -> None:
    path = _figures_bundle(tmp_path / "m")
    (path / "model.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BundleError, match="nested too deeply|not valid JSON"):
        load_bundle(path)


def test_zero_std_figures_and_nan_weights_are_refused(tmp_path: Path) -> None:
    norm = {"columns": list(COLS), "transforms": ["none", "none"], "mean": [0.0, 0.0], "std": [1.0, 0.0]}
    with pytest.raises(BundleError, match="std that is not positive"):
        load_bundle(_figures_bundle(tmp_path / "zero", figure_normalisation=norm))
    with pytest.raises(BundleError, match="figure_normalisation"):
        load_bundle(_figures_bundle(tmp_path / "strings", figure_normalisation={**norm, "mean": ["a", "b"]}))
    from safetensors.torch import save

    nan = _figures_bundle(tmp_path / "nan")
    model = Classifier(None, 2, n_figures=len(COLS), hidden=8)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    first = next(k for k, v in state.items() if v.is_floating_point())
    state[first][...] = float("nan")
    blob = save(state)
    (nan / "model.safetensors").write_bytes(blob)
    import hashlib

    meta = json.loads((nan / "model.json").read_text())
    (nan / "model.json").write_text(json.dumps({**meta, "weights_sha256": hashlib.sha256(blob).hexdigest()}))
    with pytest.raises(BundleError, match="NaN"):
        load_bundle(nan)


def test_cli_score_with_an_absurd_bundle_exits_1_without_traceback(tmp_path: Path) -> None:
    from flightpaths.cli import cli

    path = _figures_bundle(tmp_path / "m", image_size=60000)
    log = tmp_path / "x.sbs"
    log.write_text("MSG,3,1,1,a1b2c3,1,2024/05/01,12:00:00.000,2024/05/01,12:00:00.000,,2000,,,40.6,-74.0,,,,,,0\n")
    result = CliRunner().invoke(cli, ["-q", "score", str(log), "-o", str(tmp_path / "out"), "--model", str(path)])
    assert result.exit_code == 1 and "image_size" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_a_trained_model_scores_the_windows_it_was_trained_on(tmp_path: Path) -> None:
    """tracks (10-minute windows every 4 minutes, 5-minute gap) -> render -> label -> train -> score:
    score must cut exactly the windows that the training settings cut, not the default 5-minute ones."""
    from flightpaths.cli import cli
    from flightpaths.ingest import read_logs
    from flightpaths.simulate import SimSettings, simulate, write_simulation
    from flightpaths.tracks import make_windows, split_tracks

    run = CliRunner()
    files = write_simulation(simulate(SimSettings(seed=5, hours=1.5, aircraft=6)), tmp_path / "sim")
    steps = [
        ["tracks", str(files["log"]), "-o", str(tmp_path / "windows.parquet"), "--window", "10min", "--step", "4min", "--gap", "5min"],
        ["render", str(tmp_path / "windows.parquet"), "-o", str(tmp_path / "render"), "--size", "32"],
        ["label", str(tmp_path / "render"), "-o", str(tmp_path / "dataset"), "--rule"],
        ["train", str(tmp_path / "dataset"), "-o", str(tmp_path / "model"), "--figures-only", "--epochs", "0",
         "--freeze-epochs", "1", "--size", "32", "--no-report"],
    ]
    for args in steps:
        result = run.invoke(cli, ["-q", *args])
        assert result.exit_code == 0, (args[0], result.output)
    meta = json.loads((tmp_path / "model" / "model.json").read_text())
    assert meta["window_settings"]["window_s"] == 600.0 and meta["window_settings"]["step_s"] == 240.0
    assert meta["track_settings"]["gap_s"] == 300.0
    result = run.invoke(cli, ["-q", "score", str(files["log"]), "-o", str(tmp_path / "out"), "--model", str(tmp_path / "model")])
    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(tmp_path / "out" / "windows.parquet")
    tracked, _ = split_tracks(read_logs([files["log"]]).points, TrackSettings(gap_s=300.0))
    want = make_windows(tracked, WindowSettings(window_s=600.0, step_s=240.0))
    assert set(scored["window_s"]) == {600.0}
    assert sorted(scored["window_id"].astype(str)) == sorted(want["window_id"].astype(str))


def test_a_plain_image_folder_model_says_it_has_no_window_settings(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from flightpaths.train.bundle import windowing_meta

    meta = windowing_meta(None)
    assert meta["window_settings"] is None and "plain image folder" in meta["windowing_note"]
    path = _figures_bundle(tmp_path / "m", **meta)
    bundle = load_bundle(path)
    assert not bundle.windowing_known and bundle.window_settings == WindowSettings()
    shutil.rmtree(path)


def test_a_segment_aggregator_with_nan_or_zero_scale_is_refused() -> None:
    from flightpaths.score.aggregate import AGGREGATOR_FORMAT, SegmentAggregator

    good = {"format": AGGREGATOR_FORMAT, "kind": "logistic", "features": ["p_max", "p_mean"], "mean": [0.0, 1.0],
            "scale": [1.0, 2.0], "coef": [0.5, -0.5], "intercept": 0.1}
    assert SegmentAggregator.from_dict(good).features == ("p_max", "p_mean")
    for bad in ({"coef": [float("nan"), 1.0]}, {"scale": [1.0, 0.0]}, {"mean": [0.0]}, {"intercept": "x"}):
        with pytest.raises(BundleError, match="segment_aggregator"):
            SegmentAggregator.from_dict({**good, **bad})
