"""Mouse telemetry through the CLI: presets, no jump rule on screen tracks, Balabit duplicates,
and a model trained on mouse windows scoring a new session file with its own windows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from flightpaths.cli import cli
from flightpaths.ingest import read_logs
from flightpaths.render import RENDER_PRESETS
from flightpaths.schema import validate_points
from flightpaths.simulate_mouse import MouseSimSettings, write_sample
from flightpaths.tracks import TRACK_PRESETS, WINDOW_PRESETS, TrackSettings, WindowSettings, windows_with_report

T0 = pd.Timestamp("1970-01-01", tz="UTC")


def _cursor(x: np.ndarray, dt: float = 0.01) -> pd.DataFrame:
    n = len(x)
    return validate_points(pd.DataFrame({
        "object_id": "s1", "time": T0 + pd.to_timedelta(np.arange(n) * dt, unit="s"), "lat": np.nan, "lon": np.nan,
        "x": x, "y": np.full(n, 300.0), "altitude_ft": np.nan, "speed_kt": np.nan, "track_deg": np.nan,
        "vrate_fpm": np.nan, "callsign": pd.NA, "squawk": pd.NA, "on_ground": pd.NA, "new_leg": False,
        "source_file": "s1.csv", "source_line": np.arange(2, n + 2),
    }))


def test_mouse_preset_keeps_cursor_jumps() -> None:
    # a bot teleports the cursor 3000 px in 10 ms, twice: the aircraft rule splits the track there
    x = np.concatenate([np.linspace(100, 200, 20), np.linspace(3200, 3300, 20), np.linspace(100, 200, 20)])
    points = _cursor(x)
    _, flight = windows_with_report(points, WindowSettings(window_s=20.0), tracks=TrackSettings())
    assert flight.splits.get("impossible jump", 0) + flight.removed.get("impossible jump", 0) > 0
    w, mouse = windows_with_report(points, WINDOW_PRESETS["mouse"], tracks=TRACK_PRESETS["mouse"])
    assert mouse.splits == {} and mouse.removed == {}
    assert mouse.tracks == 1 and len(w) == 1 and len(w.iloc[0]["px"]) == 60


def test_presets_are_the_defaults_for_flights() -> None:
    assert TRACK_PRESETS["flight"] == TrackSettings() and WINDOW_PRESETS["flight"] == WindowSettings()
    assert WINDOW_PRESETS["mouse"].window_s == 20.0 and not TRACK_PRESETS["mouse"].jump_rule
    assert RENDER_PRESETS["mouse"].event_radius > 0 and [c.var for c in RENDER_PRESETS["mouse"].channels] == [
        "progress", "speed", "extent"]


def test_balabit_duplicates_need_the_same_client_timestamp(tmp_path: Path) -> None:
    session = tmp_path / "user1" / "session_9"
    session.parent.mkdir()
    session.write_text("record timestamp,client timestamp,button,state,x,y\n"
                       "0.5,0.40,NoButton,Move,100,200\n"
                       "0.5,0.40,NoButton,Move,100,200\n"  # exact repeat: dropped
                       "0.5,0.45,NoButton,Move,100,200\n"  # same record time, another client time: kept
                       "0.6,0.55,NoButton,Move,101,200\n")
    r = read_logs(session)
    assert r.report.dropped == {"duplicate row": 1}
    assert r.points["client_time"].tolist() == [0.40, 0.45, 0.55]
    assert r.points["source_line"].tolist() == [2, 4, 5]


def _ok(result: Result) -> None:
    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_mouse_model_trained_through_the_cli_scores_a_session(tmp_path: Path) -> None:
    write_sample(tmp_path / "data", settings=MouseSimSettings(seed=3, sessions=3, duration_s=30.0))
    run = CliRunner().invoke
    _ok(run(cli, ["tracks", str(tmp_path / "data"), "-o", str(tmp_path / "w.parquet"), "--preset", "mouse"]))
    meta = json.loads((tmp_path / "w.parquet.settings.json").read_text())
    assert meta["tracks"]["jump_rule"] is False and meta["windows"]["window_s"] == 20.0
    _ok(run(cli, ["render", str(tmp_path / "w.parquet"), "-o", str(tmp_path / "img"), "--preset", "mouse", "--size", "32"]))
    config = json.loads((tmp_path / "img" / "render_config.json").read_text())
    assert config["event_radius"] == 3.0 and config["size"] == 32
    manifest = pd.read_csv(tmp_path / "img" / "manifest.csv")
    folder = {p.stem.lower(): p.parent.name for p in (tmp_path / "data").rglob("session_*.csv")}
    labels = pd.DataFrame({"window_id": manifest["window_id"], "label": manifest["object_id"].map(folder)})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    _ok(run(cli, ["label", str(tmp_path / "img"), "-o", str(tmp_path / "ds"), "--classes", "bot,human",
                  "--import", str(tmp_path / "labels.csv"), "--no-serve"]))
    _ok(run(cli, ["train", str(tmp_path / "ds"), "-o", str(tmp_path / "model"), "--size", "32", "--epochs", "0",
                  "--freeze-epochs", "1", "--batch-size", "8", "--device", "cpu", "--no-report"]))
    model = json.loads((tmp_path / "model" / "model.json").read_text())
    assert model["track_settings"]["jump_rule"] is False and model["window_settings"]["window_s"] == 20.0
    new = sorted((tmp_path / "data" / "bot").glob("session_*.csv"))[0]
    result = run(cli, ["score", str(new), "--model", str(tmp_path / "model"), "-o", str(tmp_path / "score")])
    _ok(result)
    windows = pd.read_parquet(tmp_path / "score" / "windows.parquet")
    assert len(windows) > 0 and (tmp_path / "score" / "episodes.csv").is_file()
    # the session's 30 s of activity is cut into the model's 20 s windows, not 5-minute flight windows
    span = pd.to_datetime(windows["end"], utc=True) - pd.to_datetime(windows["start"], utc=True)
    assert span.dt.total_seconds().max() <= 20.0 + 1e-6
    assert len(windows) >= 2
