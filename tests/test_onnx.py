"""ONNX export: the built-in model as an ONNX file gives the same probabilities in ONNX Runtime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from flightpaths.cli import cli

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO / "flightpaths" / "models" / "default"


@pytest.mark.slow
def test_export_builtin_model_and_run_it_in_onnx_runtime(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import pandas as pd
    import torch

    from flightpaths.ingest import read_logs
    from flightpaths.render import images_from_windows
    from flightpaths.score.pipeline import render_config_of
    from flightpaths.tracks import TrackSettings, make_windows, split_tracks
    from flightpaths.train.predict import load_bundle

    out = tmp_path / "model.onnx"
    result = CliRunner().invoke(cli, ["export", str(DEFAULT), "-o", str(out)])
    assert result.exit_code == 0, result.output
    again = CliRunner().invoke(cli, ["export", str(DEFAULT), "-o", str(out)])
    assert again.exit_code == 1 and "--overwrite" in again.output  # never replaced without asking

    meta = json.loads({p.key: p.value for p in onnx.load(str(out)).metadata_props}["flightpaths"])
    assert meta["classes"] == ["circling", "straight"] and meta["image_size"] == 96

    bundle = load_bundle(DEFAULT)
    points = read_logs([REPO / "data/sim/score/sim.sbs.gz"]).points
    windows = make_windows(split_tracks(points, TrackSettings())[0]).head(40)
    images, _ = images_from_windows(windows, render_config_of(bundle))
    figures = windows[bundle.figure_columns].reset_index(drop=True)
    want = bundle.predict_images(images, figures)
    # prepare the inputs as the file's metadata says
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(255.0).numpy()
    x = (x - np.asarray(meta["mean"], np.float32).reshape(1, 3, 1, 1)) / np.asarray(meta["std"], np.float32).reshape(1, 3, 1, 1)
    f = bundle.scaler.transform(pd.DataFrame(figures)).astype(np.float32)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": x.astype(np.float32), "figures": f})[0]
    assert got.shape == (len(windows), 2)
    assert np.allclose(got, want, atol=1e-4)


def test_export_refuses_a_folder_that_is_not_a_bundle(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    result = CliRunner().invoke(cli, ["export", str(tmp_path), "-o", str(tmp_path / "m.onnx")])
    assert result.exit_code == 1 and "model.json" in result.output
    assert not (tmp_path / "m.onnx").exists()
