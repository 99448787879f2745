"""Mouse motion normalised against shortcuts (units, sampling, file length), its features, and
the leave-one-source-out evaluation on simulated sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from flightpaths.cli import cli
from flightpaths.errors import InputError
from flightpaths.evaluate.mouse import MouseEvalSettings, evaluate_mouse, find_sources
from flightpaths.ingest import read_logs
from flightpaths.simulate_mouse import MouseSimSettings, write_sample
from flightpaths.tracks.motion import MOTION_FEATURES, MotionReport, MotionSettings, motion_windows, screen_fractions

T0 = pd.Timestamp("1970-01-01", tz="UTC")
SCREEN = (1536.0, 864.0)


def _file(t: np.ndarray, fx: np.ndarray, fy: np.ndarray, *, oid: str = "f1", pixels: bool = False,
          stated: bool = True, state: list[str] | None = None) -> pd.DataFrame:
    x, y = (fx * SCREEN[0], fy * SCREEN[1]) if pixels else (fx, fy)
    frame = pd.DataFrame({"object_id": oid, "time": T0 + pd.to_timedelta(t, unit="s"), "x": x, "y": y,
                          "source_file": f"{oid}.txt", "state": state or ["Move"] * len(t)})
    if pixels and stated:
        frame["screen_w"], frame["screen_h"] = SCREEN
    return frame


def _circle(dt: float, duration: float = 2.0, phase: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.arange(0.0, duration + 1e-9, dt) + phase
    ang = 2 * np.pi * t / duration
    return t, 0.5 + 0.1 * np.cos(ang), 0.5 + 0.15 * np.sin(ang)


def test_units_do_not_change_the_features() -> None:
    t, fx, fy = _circle(0.016)
    a = motion_windows(_file(t, fx, fy))
    b = motion_windows(_file(t, fx, fy, pixels=True))
    report = MotionReport()
    c = motion_windows(_file(t, fx, fy, pixels=True, stated=False), report=report)
    assert len(a) == len(b) > 5
    np.testing.assert_allclose(a[list(MOTION_FEATURES)], b[list(MOTION_FEATURES)], rtol=1e-6, atol=1e-9)
    assert report.pixel_files_screen_from_data == 1 and len(c) == len(a)  # no stated screen: scaled by its own extent


def test_sampling_interval_is_resampled_away() -> None:
    fast = motion_windows(_file(*_circle(0.016)))
    slow = motion_windows(_file(*_circle(0.05)))
    assert len(fast) == len(slow)
    for name in ("speed_mean", "straightness", "turn_mean", "curv_per_fraction"):
        assert slow[name].median() == pytest.approx(fast[name].median(), rel=0.05), name


def test_windows_have_one_duration_whatever_the_file_length() -> None:
    s = MotionSettings()
    report = MotionReport()
    short = _file(*_circle(0.016, duration=0.15), oid="short")
    mid = _file(*_circle(0.016, duration=0.5), oid="mid")
    long = _file(*_circle(0.016, duration=20.0), oid="long")
    w = motion_windows(pd.concat([short, mid, long], ignore_index=True), s, report)
    assert "short" not in set(w["object_id"]) and report.files_without_window == 1 and report.short_strokes == 1
    usable = {"long": 20.0, "mid": 0.5}  # seconds, less the smoothing's edges, in windows of window_s every hop_s
    expect = {k: int((v - (s.smooth_steps - 1) * s.step_s - s.window_s) / s.hop_s + 1e-9) + 1 for k, v in usable.items()}
    assert w.groupby("object_id").size().to_dict() == expect and expect["mid"] == 3


def test_features_tell_a_straight_constant_line_from_a_wobbly_hand() -> None:
    t = np.arange(0.0, 1.0, 0.01)
    line = motion_windows(_file(t, 0.1 + 0.3 * t, 0.2 + 0.1 * t))
    rng = np.random.default_rng(0)
    ease = t - np.sin(2 * np.pi * t) / (2 * np.pi)  # bell-shaped speed
    hand = motion_windows(_file(t, 0.1 + 0.3 * ease + rng.normal(0, 0.0008, len(t)), 0.2 + 0.1 * ease + 0.02 * np.sin(5 * t)))
    assert line["straightness"].min() > 0.999 and line["speed_cv"].max() < 1e-6 and line["turn_mean"].max() < 1e-6
    assert hand["speed_cv"].median() > 0.05 and hand["jerk_mean"].median() > 10 * line["jerk_mean"].median() + 1e-9


def test_click_timing() -> None:
    t = np.arange(0.0, 1.0, 0.01)
    state = ["Move"] * len(t)
    state[10], state[20] = "Pressed", "Released"
    w = motion_windows(_file(t, 0.1 + 0.3 * t, 0.2 + 0.0 * t, state=state))
    first = w.iloc[0]
    assert first["presses"] == 1 and first["releases"] == 1 and first["hold_s"] == pytest.approx(0.10)
    assert np.isnan(w.iloc[-1]["hold_s"]) and w.iloc[-1]["presses"] == 0


def _sources(root: Path) -> list[Path]:
    """Two simulated setups (logging every 20 ms and 50 ms), each with people and bots: four sources."""
    (root / "all").mkdir()
    for i, interval in enumerate((0.02, 0.05)):
        sample = root / f"gen{i}"
        write_sample(sample, settings=MouseSimSettings(seed=i, sessions=4, duration_s=20.0, interval_s=interval))
        for kind in ("human", "bot"):
            (sample / kind).rename(root / "all" / f"{kind}_{i}")
    return [root / "all"]


def test_find_sources_labels_from_folder_names(tmp_path: Path) -> None:
    (tmp_path / "delbot").mkdir()  # "bot" inside a word is not a label
    (tmp_path / "circles_bot_x").mkdir()
    (tmp_path / "circles_bot_x" / "a.txt").write_text("resolution:1,1\n")
    (tmp_path / "people").mkdir()
    (tmp_path / "people" / "s").write_text("x\n")
    found = find_sources([tmp_path], [tmp_path / "people"])
    assert [(s.name, s.label, len(s.files)) for s in found] == [("circles_bot_x", 1, 1), ("people", 0, 1)]
    with pytest.raises(InputError, match="no folder named"):
        find_sources([tmp_path / "people"])


@pytest.mark.slow
def test_leave_one_source_out_on_simulated_sources(tmp_path: Path) -> None:
    folders = _sources(tmp_path)
    result = evaluate_mouse(folders, settings=MouseEvalSettings(n_boot=50), echo=lambda _line: None)
    folds = result.folds
    assert set(folds["held_out"]) >= {"bot_0", "human_1", "bot_0+human_1"}
    assert set(folds["scorer"]) == {"human-envelope", "window-envelope", "motion-gbm", "setup-gbm"}
    pair = folds[(folds["held_out"] == "bot_1+human_0") & (folds["scorer"] == "motion-gbm")].iloc[0]
    assert pair["files"] == 8 and pair["bots"] == 4 and np.isfinite(pair["aupr"])
    assert pair["accuracy"] >= 0.75 and pair["accuracy_lo"] <= pair["accuracy"] <= pair["accuracy_hi"]
    single = folds[(folds["held_out"] == "bot_0") & (folds["scorer"] == "motion-gbm")].iloc[0]
    assert np.isnan(single["aupr"])  # one class only: not defined
    out = tmp_path / "eval"
    args = ["evaluate", "--mouse", str(folders[0]), "-o", str(out), "--bootstrap", "20"]
    result_cli = CliRunner().invoke(cli, args)
    assert result_cli.exit_code == 0, result_cli.output
    assert "| bot_0+human_1 |" in (out / "mouse.md").read_text()
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 1 and "exists" in again.output  # never overwritten without --overwrite


@pytest.mark.realdata
def test_real_delbot_units_and_stated_screen(shared_data: Path) -> None:
    folder = shared_data / "mouse/delbot/circles_human_pc2"
    fractions, pixels = folder / "circleHide_1669132262488.txt", sorted(folder.glob("*.txt"))[0]
    points = read_logs([fractions, pixels]).points
    assert set(points["screen_w"]) == {1536.0} and set(points["screen_h"]) == {864.0}
    report = MotionReport()
    w = motion_windows(points, report=report)
    assert report.fraction_files == 1 and report.pixel_files_stated_screen == 1
    assert w["object_id"].nunique() == 2
    for _, one in points.groupby("object_id"):  # both circles a fraction of the screen wide, not one 1536 times the other
        fx, fy, _how = screen_fractions(one)
        assert 0.05 < np.ptp(fx) < 0.8 and 0.05 < np.ptp(fy) < 0.8
