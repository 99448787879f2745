"""The mouse-telemetry generator: format, determinism, class differences, no shortcuts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flightpaths.fileio import OutputExistsError
from flightpaths.simulate_mouse import HEADER, MouseSimSettings, main, simulate_session, write_sample

REPO = Path(__file__).resolve().parents[1]
SHORT = MouseSimSettings(duration_s=30)


def _moves(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["state"].isin(["Move", "Drag"])]


def test_sessions_are_deterministic_and_in_balabit_format() -> None:
    a = simulate_session("human", seed=4, settings=SHORT)
    assert a.equals(simulate_session("human", seed=4, settings=SHORT))
    assert not a.equals(simulate_session("human", seed=5, settings=SHORT))
    assert ",".join(a.columns) == HEADER
    for kind in ("human", "bot"):
        s = simulate_session(kind, seed=1, settings=SHORT)
        assert set(s["state"]) <= {"Move", "Pressed", "Released", "Drag"}
        assert set(s["button"]) <= {"NoButton", "Left"}
        assert s["x"].between(0, 1919).all() and s["y"].between(0, 1079).all()
        assert s["client timestamp"].is_monotonic_increasing
        assert (s["record timestamp"] >= s["client timestamp"] - 1e-9).all()
        assert (s["state"] == "Pressed").sum() == (s["state"] == "Released").sum() > 3
    with pytest.raises(ValueError, match="choose from human, bot"):
        simulate_session("cat", seed=0)


def test_bots_are_regular_and_people_are_not() -> None:
    human = simulate_session("human", seed=2, settings=SHORT)
    bot = simulate_session("bot", seed=2, settings=SHORT)

    def holds(frame: pd.DataFrame) -> np.ndarray:
        """Press-to-release times of point clicks (a release right after its press)."""
        f = frame.reset_index(drop=True)
        press = f.index[(f["state"] == "Pressed") & (f["state"].shift(-1) == "Released")]
        return f.loc[press + 1, "client timestamp"].to_numpy() - f.loc[press, "client timestamp"].to_numpy()

    bot_holds, human_holds = holds(bot), holds(human)
    assert len(bot_holds) >= 3 and len(human_holds) >= 3
    assert (bot_holds < 1 / 64 + 1e-9).all()  # instant: the same instant up to the timer grid
    assert (human_holds > 0.05).all() and (human_holds < 0.2).all()
    # people's speed profiles are peaked (min-jerk), bots' flat: peak/median speed differs
    def speed(frame: pd.DataFrame) -> pd.Series:
        m = _moves(frame)
        v = np.hypot(m["x"].diff(), m["y"].diff()) / m["client timestamp"].diff()
        return v.replace([np.inf, -np.inf], np.nan).dropna()
    assert speed(human).quantile(0.95) / speed(human).median() > speed(bot).quantile(0.95) / speed(bot).median()


def test_classes_share_screen_rate_and_task_mix() -> None:
    rows = []
    for kind in ("human", "bot"):
        for seed in range(4):
            s = simulate_session(kind, seed=seed, settings=SHORT)
            dt = _moves(s)["client timestamp"].diff().dropna()
            rows.append({"kind": kind, "median_dt": dt.median(), "clicks": (s["state"] == "Pressed").sum(),
                         "end": s["client timestamp"].iloc[-1], "xmax": s["x"].max(), "drag": (s["state"] == "Drag").mean()})
    t = pd.DataFrame(rows).groupby("kind").mean()
    ratio = t.loc["human"] / t.loc["bot"]
    assert 0.7 < ratio["median_dt"] < 1.4  # the same report rate
    assert 0.6 < ratio["clicks"] < 1.6  # the same task mix and pace
    assert 0.8 < ratio["end"] < 1.25  # the same session length
    assert 0.5 < ratio["drag"] < 2.0  # circles drawn as often


def test_shipped_sample_is_what_the_readme_command_makes(tmp_path: Path) -> None:
    shipped = REPO / "data" / "mouse"
    if not (shipped / "human").is_dir():
        pytest.skip("data/mouse has not been generated in this checkout")
    assert main(["--out", str(tmp_path), "--seed", "0"]) == 0
    for kind in ("human", "bot"):
        made = sorted(p.name for p in (tmp_path / kind).glob("session_*.csv"))
        have = sorted(p.name for p in (shipped / kind).glob("session_*.csv"))
        assert made == have and len(made) == MouseSimSettings().sessions
        assert all((tmp_path / kind / n).read_bytes() == (shipped / kind / n).read_bytes() for n in made)
    size = sum(p.stat().st_size for p in shipped.rglob("*") if p.is_file())
    assert size < 2_000_000


def test_write_sample_refuses_to_overwrite(tmp_path: Path) -> None:
    small = MouseSimSettings(sessions=1, duration_s=5, seed=3)
    first = write_sample(tmp_path, settings=small)
    assert len(first) == 2 and first[0].read_text().startswith(HEADER + "\n")
    with pytest.raises(OutputExistsError):
        write_sample(tmp_path, settings=small)
    again = write_sample(tmp_path, settings=MouseSimSettings(sessions=1, duration_s=5, seed=4), overwrite=True)
    assert sorted(tmp_path.rglob("session_*.csv")) == sorted(again)  # no stale session left


def test_ingest_reads_the_sample_as_screen_tracks(tmp_path: Path) -> None:
    ingest = pytest.importorskip("flightpaths.ingest")
    write_sample(tmp_path, settings=MouseSimSettings(sessions=1, duration_s=10, seed=5))
    result = ingest.read_logs([tmp_path], settings=ingest.IngestSettings())
    points = result.points
    assert points["object_id"].nunique() == 2 and points["lat"].isna().all()
    assert (points["state"] == "Pressed").sum() > 0
