"""Arc regularity on raw samples: a path drawn by a formula stays on a conic to within pixel
rounding, a hand does not; units, resolution and timing do not enter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flightpaths.evaluate.mouse import ENVELOPE_FEATURES, MouseEvalSettings, _arc_regularity, _envelope, _window_envelope
from flightpaths.tracks.arcs import ARC_COLUMNS, conic_residual, path_arcs, width_units
from flightpaths.tracks.motion import MotionSettings

T0 = pd.Timestamp("1970-01-01", tz="UTC")
W, H = 1536.0, 864.0


def _ellipse(n: int = 120, *, wobble: float = 0.0, seed: int = 0, a: float = 150.0, b: float = 110.0) -> tuple[np.ndarray, np.ndarray]:
    """One turn of an ellipse in whole pixels; *wobble* adds a hand's slow waver (pixels)."""
    rng = np.random.default_rng(seed)
    ang = np.linspace(0, 2 * np.pi, n)
    waver = wobble * np.convolve(rng.normal(0, 1, n + 8), np.ones(9) / 3, "valid")
    return np.round(700 + (a + waver) * np.cos(ang)), np.round(400 + (b + waver) * np.sin(ang))


def _file(x: np.ndarray, y: np.ndarray, t: np.ndarray | None = None, *, oid: str = "f", state: list[str] | None = None,
          fractions: bool = False) -> pd.DataFrame:
    t = np.arange(len(x)) * 0.016 if t is None else t
    return pd.DataFrame({"object_id": oid, "time": T0 + pd.to_timedelta(t, unit="s"),
                         "x": x / W if fractions else x, "y": y / H if fractions else y,
                         "screen_w": W, "screen_h": H, "source_file": f"{oid}.txt", "state": state or ["Move"] * len(x)})


def test_conic_residual_of_exact_and_rounded_curves() -> None:
    ang = np.linspace(0.3, 2.0, 30)
    assert conic_residual(5 + 3 * np.cos(ang), 2 * np.sin(ang)) < 1e-9  # an ellipse
    assert conic_residual(np.arange(10.0), 2 * np.arange(10.0)) < 1e-9  # a line is a conic
    x, y = _ellipse()
    assert 0.1 < conic_residual(x, y) < 0.5  # whole pixels: about the rounding's 0.29
    assert np.isnan(conic_residual(x[:5], y[:5]))


def test_a_formula_is_more_regular_than_a_hand() -> None:
    bot = path_arcs(_file(*_ellipse()))
    hand = path_arcs(_file(*_ellipse(wobble=2.0)))
    assert list(bot.columns) == list(ARC_COLUMNS) and len(bot) == len(hand) >= 3
    assert bot["arc_residual"].max() < 0.5 * hand["arc_residual"].median()


def test_units_resolution_and_timing_do_not_enter() -> None:
    x, y = _ellipse(wobble=2.0)
    base = path_arcs(_file(x, y))["arc_residual"].to_numpy()
    fractions = path_arcs(_file(x, y, fractions=True))["arc_residual"].to_numpy()
    rng = np.random.default_rng(1)
    jittered = path_arcs(_file(x, y, np.cumsum(rng.uniform(0.005, 0.15, len(x)))))["arc_residual"].to_numpy()
    np.testing.assert_allclose(fractions, base, rtol=1e-6)
    np.testing.assert_allclose(jittered, base, rtol=1e-9)  # time only cuts strokes (silences over stroke_gap_s)
    p = _file(x, y)
    fx, fy = width_units(p)
    assert np.ptp(fx) / np.ptp(fy) == pytest.approx(np.ptp(x) / np.ptp(y))  # one scale on both axes: circles stay round


def test_clicks_and_silences_are_left_out() -> None:
    x, y = _ellipse()
    state = ["Move"] * len(x)
    state[50] = "Released"
    x2, y2 = x.copy(), y.copy()
    x2[50] += 15.0  # a click logged off the path (DELBOT's last row is its button)
    assert path_arcs(_file(x2, y2, state=state))["arc_residual"].max() < 0.002
    t = np.arange(len(x)) * 0.016
    t[40:] += 5.0  # two silences: three strokes, each too short for a quarter-width arc
    t[80:] += 5.0
    assert set(path_arcs(_file(x, y, t))["arc_length"]) == {0.125}
    assert path_arcs(_file(x, y, t), MotionSettings(arc_lengths=(0.25,))).empty
    assert path_arcs(_file(x, y), MotionSettings(arc_lengths=(0.05,), max_arcs=3)).shape[0] == 3


def test_arc_regularity_is_measured_against_the_most_regular_people() -> None:
    def frame(source: str, label: int, files: dict[str, list[float]], length: float = 0.25) -> pd.DataFrame:
        return pd.DataFrame([{"source": source, "label": label, "file": f"{source}/{k}", "arc_residual": r,
                              "arc_length": length} for k, v in files.items() for r in v])
    smooth_people = frame("pad", 0, {str(i): [0.004 * (1 + 0.1 * i)] * 3 for i in range(10)})
    rough_people = frame("free", 0, {str(i): [0.02 * (1 + 0.1 * i)] * 3 for i in range(10)})
    short_arcs = frame("pad", 0, {str(i): [0.008 * (1 + 0.1 * i)] for i in range(10)}, 0.125)  # rounding weighs more
    test = pd.concat([frame("x", 1, {"bot": [0.001, 0.0012], "person": [0.005]}),
                      frame("x", 1, {"person": [0.0011], "small_bot": [0.002]}, 0.125)])
    people, held = _arc_regularity(pd.concat([smooth_people, rough_people, short_arcs]), test)
    assert held["x/bot"] > 2.0 > 0.5 > held["x/person"]  # smoother than the smoothest people; the person is not
    assert held["x/small_bot"] > 2.0  # no long arc: judged on short arcs against people's short arcs
    assert people.max() < 2.0


def test_envelope_catches_a_bot_whose_windows_pass_for_a_person() -> None:
    rng = np.random.default_rng(0)

    def source(name: str, label: int, residual: float, files: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
        ids = [f"{name}/{i}" for i in range(files)]
        windows = pd.DataFrame(rng.normal(1.0, 0.2, (files * 5, len(ENVELOPE_FEATURES))), columns=list(ENVELOPE_FEATURES))
        windows = windows.assign(source=name, label=label, file=np.repeat(ids, 5))
        arcs = pd.DataFrame({"source": name, "label": label, "file": np.repeat(ids, 3), "arc_length": 0.25,
                             "arc_residual": residual * np.exp(rng.normal(0, 0.15, files * 3))})
        return windows, arcs

    (w1, a1), (w2, a2), (wb, ab) = source("pc", 0, 0.005), source("pad", 0, 0.004), source("formula", 1, 0.0015)
    train_w, train_a = pd.concat([w1, w2], ignore_index=True), pd.concat([a1, a2], ignore_index=True)
    settings = MouseEvalSettings(envelope_windows=100)
    with_arcs = _envelope(train_w, wb, train_a, ab, settings)
    windows_only = _window_envelope(train_w, wb, settings)
    assert (with_arcs >= 0.5).mean() > 0.9 and (windows_only >= 0.5).mean() < 0.3
    (w3, a3) = source("people", 0, 0.0045)
    assert (_envelope(train_w, w3, train_a, a3, settings) >= 0.5).mean() < 0.3  # people who do not stray are not called bots


def test_a_source_with_too_few_files_is_no_reference() -> None:
    def frame(source: str, label: int, residuals: list[float]) -> pd.DataFrame:
        return pd.DataFrame({"source": source, "label": label, "file": [f"{source}/{i}" for i in range(len(residuals))],
                             "arc_residual": residuals, "arc_length": 0.25})
    people = pd.concat([frame("many", 0, [0.004 * (1 + 0.1 * i) for i in range(10)]), frame("one", 0, [0.0009])])
    _, held = _arc_regularity(people, frame("x", 1, [0.001]))
    assert 2.0 < held["x/0"] < 100.0  # judged against "many" only: one file's zero spread would make it +-10^6
