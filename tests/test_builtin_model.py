"""The built-in circling model: shipped pickle-free and small, and it finds the simulated orbits."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from flightpaths.cli import cli
from flightpaths.demo import episode_agreement
from flightpaths.train.predict import load_bundle

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO / "flightpaths" / "models" / "default"


def test_builtin_model_is_a_small_pickle_free_bundle() -> None:
    files = sorted(p.name for p in DEFAULT.iterdir())
    assert files == ["behaviour.json", "behaviour.safetensors", "model.json", "model.safetensors"]
    assert (DEFAULT / "behaviour.safetensors").stat().st_size < 2_000_000  # the behaviour classifier's trees
    meta = json.loads((DEFAULT / "model.json").read_text())
    assert meta["body"] == "pretrained"  # only the head ships; the body is the offline ImageNet one
    assert (DEFAULT / "model.safetensors").stat().st_size < 8_000_000
    bundle = load_bundle(DEFAULT)
    assert bundle.classes == ["circling", "straight"]
    assert bundle.render_config is not None and meta["window_settings"]["window_s"]


@pytest.mark.slow
def test_score_without_model_finds_the_simulated_orbits(tmp_path: Path) -> None:
    out = tmp_path / "tips"
    result = CliRunner().invoke(cli, ["-q", "score", str(REPO / "data/sim/score/sim.sbs.gz"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    episodes = pd.read_csv(out / "episodes.csv").sort_values("rank")
    truth = pd.read_csv(REPO / "data/sim/score/truth.csv")
    overall = episode_agreement(episodes, truth)
    top = episode_agreement(episodes.head(10), truth)
    assert overall["episode_recall"] >= 0.7
    assert top["episode_precision"] >= 0.7
    # what they were doing: the best-ranked ones orbit (or fly a racetrack, which the simulator counts as circling)
    assert episodes.head(10)["behaviour"].isin(["orbit", "racetrack"]).all()
    assert episodes["p_behaviour"].between(0, 1).all()
    assert (out / "tipsheet.html").read_text(encoding="utf-8").count('<li class="moment"') >= 10
