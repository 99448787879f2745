"""score_logs end to end on small SBS logs: chunking, resume, Dask equals local, the CLI.

The model here is a small deterministic stand-in (probability from how much of the drawn
image is lit: an orbit lights more pixels than a straight line), so that these tests check
the plumbing and not a training run; tests/test_score_e2e.py uses a real trained bundle.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from flightpaths.score._dask import dask_client

pytest.importorskip("flightpaths.render", reason="the render stage is not there yet")
pytest.importorskip("flightpaths.tracks")
pytest.importorskip("flightpaths.ingest")

from flightpaths.cli import cli  # noqa: E402
from flightpaths.fileio import OutputExistsError  # noqa: E402
from flightpaths.score import ScoreSettings, pipeline, score_logs  # noqa: E402


class LitPixelModel:
    """Stand-in bundle: p(circling) grows with the share of lit pixels."""

    classes = ("circling", "not_circling")
    figure_columns: tuple[str, ...] = ()
    path = None
    fingerprint = "0123456789abcdef"
    positive_class = None
    windowing_known = True

    def __init__(self) -> None:
        from flightpaths.tracks import TrackSettings, WindowSettings
        from rasterize import RenderConfig

        self.render_config = RenderConfig(size=48)
        self.track_settings, self.window_settings = TrackSettings(), WindowSettings()
        self.meta = {"weights_sha256": "0123456789abcdef" * 4}

    def predict_images(self, images: np.ndarray, figures: object = None) -> np.ndarray:
        lit = (np.asarray(images).max(axis=-1) > 0).reshape(len(images), -1).mean(axis=1)
        p = 1.0 / (1.0 + np.exp(-(lit - 0.12) * 60.0))
        return np.c_[p, 1.0 - p]


def write_sbs(path: Path, *, hours: float = 1.0, dt: float = 5.0, aircraft: int = 2, seed: int = 0,
              callsign: str = "NYPD1", day: str = "2024-05-01") -> Path:
    """Aircraft 0 flies straight, orbits (1.5 km radius, 3 min a turn) from 20 to 40 min, then
    flies on; the others fly straight all along. One MSG,3 line per position, time-ordered."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(f"{day} 12:00:00")
    rows = []
    for k in range(aircraft):
        hexid = f"{0xa1b2c3 + k:06x}"
        lat0, lon0 = 40.6 + 0.05 * k, -74.0 + 0.01 * k
        for i in range(int(hours * 3600 / dt)):
            s = i * dt
            if k == 0 and 1200 <= s < 2400:
                a = 2 * np.pi * (s - 1200) / 180
                x, y = 1500 * np.sin(a), 1500 * (1 - np.cos(a))
            else:
                x, y = 60.0 * (s - 1200 if s >= 2400 else s - 1200), 0.0
            x, y = x + rng.normal(0, 5), y + rng.normal(0, 5)
            lat = lat0 + y / 111_195
            lon = lon0 + x / (111_195 * np.cos(np.radians(lat0)))
            ts = (t0 + pd.Timedelta(seconds=s)).strftime("%Y/%m/%d,%H:%M:%S.000")
            cs = callsign if k == 0 else f"AAL{k}"
            rows.append((s, k, f"MSG,3,1,1,{hexid},1,{ts},{ts},{cs},2000,,,{lat:.5f},{lon:.5f},,,,,,0\n"))
    rows.sort()
    path.write_text("".join(r[2] for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def logs(tmp_path: Path) -> list[Path]:
    return [write_sbs(tmp_path / "day1.sbs", seed=1), write_sbs(tmp_path / "day2.sbs", seed=2, aircraft=1, day="2024-05-02")]


def _episodes(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "episodes.csv")


def test_score_logs_finds_the_orbit_and_writes_every_output(logs: list[Path], tmp_path: Path) -> None:
    result = score_logs(logs, tmp_path / "out", LitPixelModel(), ScoreSettings(progress=False))
    assert {p.name for p in result.outputs.values()} == set(pipeline.OUTPUT_NAMES)
    windows = pd.read_parquet(tmp_path / "out" / "windows.parquet")
    assert {"window_id", "object_id", "start", "end", "p_circling", "p_not_circling", "source_file", "line_first"} <= set(windows.columns)
    assert not {"thumb_x", "px"} & set(windows.columns)
    eps = _episodes(tmp_path / "out")
    assert set(eps["object_id"]) == {"a1b2c3"}  # only the orbiting aircraft, in both files
    for ep in eps.itertuples():
        start, end = pd.Timestamp(ep.start), pd.Timestamp(ep.end)
        noon = start.normalize() + pd.Timedelta(hours=12)  # the orbit is flown from 12:20 to 12:40
        assert start >= noon + pd.Timedelta(minutes=15) and end <= noon + pd.Timedelta(minutes=45)
    html = (tmp_path / "out" / "tipsheet.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == len(eps) >= 2
    settings = json.loads((tmp_path / "out" / "score-settings.json").read_text())
    assert settings["score"]["threshold"] == 0.5 and settings["model"]["classes"] == ["circling", "not_circling"]
    with pytest.raises(OutputExistsError, match="--overwrite"):
        score_logs(logs, tmp_path / "out", LitPixelModel(), ScoreSettings(progress=False))


def test_chunked_reading_gives_the_same_windows(tmp_path: Path) -> None:
    log = write_sbs(tmp_path / "a.sbs", aircraft=3)  # 2160 lines: three chunks of 1000
    whole = score_logs([log], tmp_path / "whole", LitPixelModel(), ScoreSettings(progress=False))
    parts = score_logs([log], tmp_path / "parts", LitPixelModel(), ScoreSettings(progress=False, chunk_lines=1000))
    a = pd.read_parquet(whole.outputs["windows.parquet"]).set_index(["object_id", "start"]).sort_index()
    b = pd.read_parquet(parts.outputs["windows.parquet"]).set_index(["object_id", "start"]).sort_index()
    assert a.index.equals(b.index)
    assert (a["n_points"] == b["n_points"]).all() and (a["line_first"] == b["line_first"]).all()
    np.testing.assert_allclose(a["p_circling"], b["p_circling"], atol=1e-9)
    pd.testing.assert_frame_equal(_episodes(tmp_path / "whole"), _episodes(tmp_path / "parts"))


def test_each_chunk_hands_freed_memory_back_and_logs_resident_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from flightpaths import runtime

    log = write_sbs(tmp_path / "a.sbs", aircraft=3)  # 2160 lines: three chunks of 1000
    released = []
    monkeypatch.setattr(pipeline, "release_free_memory", lambda: released.append(1) or True)
    with caplog.at_level(logging.DEBUG, logger="flightpaths.score.pipeline"):
        score_logs([log], tmp_path / "out", LitPixelModel(), ScoreSettings(progress=False, chunk_lines=1000))
    assert len(released) >= 3
    trend = [r.getMessage() for r in caplog.records if "scored, " in r.getMessage()]
    assert len(trend) == len(released) and "chunk 1 scored" in trend[0] and "resident" in trend[-1]
    assert runtime.resident_mb() > 10 and runtime.release_free_memory() in (True, False)


@pytest.mark.parametrize("log, rows", [("score", 1000), ("score", 2500), ("train", 3000)])
def test_windows_cut_a_stretch_at_a_time_are_those_of_one_pass(log: str, rows: int) -> None:
    """The simulator's logs (many aircraft, 1-60 s sampling, ground points, gaps) cut in small
    stretches give exactly the windows of one pass: ids, grids, points and figures."""
    from flightpaths.ingest import IngestSettings, iter_points
    from flightpaths.tracks import TrackSettings, WindowSettings

    path = Path(__file__).resolve().parents[1] / "data" / "sim" / log / "sim.sbs.gz"
    ts, ws = TrackSettings(), WindowSettings(window_s=(300, 600, 1200))

    def windows(n: int) -> pd.DataFrame:
        chunks = (c.points for c in iter_points([path], IngestSettings(), chunk_rows=n))
        parts = list(pipeline.windows_from_chunks(chunks, ts, ws))
        return pd.concat(parts, ignore_index=True).sort_values("window_id").set_index("window_id")

    whole, parts = windows(10**8), windows(rows)
    assert whole.index.is_unique and parts.index.is_unique
    assert whole.index.equals(parts.index)
    for col in ("track_id", "start", "end", "n_points", "line_first", "line_last"):
        assert (whole[col] == parts[col]).all(), col
    for col in ("net_turn_rev", "lat", "lon", "median_speed_kt"):
        np.testing.assert_allclose(whole[col], parts[col], atol=1e-7, err_msg=col)


def test_bad_lines_are_reported_with_their_line_in_the_original_file(tmp_path: Path, caplog) -> None:
    """Scoring keeps the good rows of a damaged log and names each bad line of the file itself,
    also in a later chunk (where the reader saw a temporary chunk file)."""
    import logging

    log = write_sbs(tmp_path / "a.sbs", aircraft=3)
    lines = log.read_text().splitlines(keepends=True)
    lines.insert(1500, "MSG,3,1,1,ABC123,1,2024/05/01,10:00:00.000,2024/05/01,10:00:00.000,,1500,,,999.0,4.0,,,,,,0\n")
    lines.insert(10, "this is not an SBS line\n")
    damaged = tmp_path / "damaged.sbs"
    damaged.write_text("".join(lines))
    clean = score_logs([log], tmp_path / "clean", LitPixelModel(), ScoreSettings(progress=False, chunk_lines=1000))
    with caplog.at_level(logging.WARNING, logger="flightpaths.score.pipeline"):
        hurt = score_logs([damaged], tmp_path / "hurt", LitPixelModel(), ScoreSettings(progress=False, chunk_lines=1000))
    assert hurt.n_windows == clean.n_windows and hurt.n_episodes == clean.n_episodes  # good rows all kept
    assert "2 row(s) dropped" in caplog.text
    assert f"{damaged}:11: not an SBS line" in caplog.text
    assert f"{damaged}:1502: impossible coordinates lat=999.0" in caplog.text
    assert "flightpaths-score-" not in caplog.text  # never the temporary chunk file


def test_concatenated_logs_out_of_time_order_lose_no_window(tmp_path: Path) -> None:
    later = write_sbs(tmp_path / "later.sbs", day="2024-05-02")
    earlier = write_sbs(tmp_path / "earlier.sbs", day="2024-05-01", aircraft=3)
    both = tmp_path / "both.sbs"
    both.write_text(later.read_text() + earlier.read_text())  # a later day first, then an earlier one
    apart = score_logs([later, earlier], tmp_path / "apart", LitPixelModel(), ScoreSettings(progress=False))
    joined = score_logs([both], tmp_path / "joined", LitPixelModel(), ScoreSettings(progress=False, chunk_lines=1000))
    a = pd.read_parquet(apart.outputs["windows.parquet"]).set_index(["object_id", "start"]).sort_index()
    b = pd.read_parquet(joined.outputs["windows.parquet"]).set_index(["object_id", "start"]).sort_index()
    assert a.index.equals(b.index) and (a["n_points"] == b["n_points"]).all()
    assert len(_episodes(tmp_path / "apart")) == len(_episodes(tmp_path / "joined")) == 2


def test_a_local_dask_cluster_keeps_its_routine_log_lines_to_itself(capfd: pytest.CaptureFixture[str],
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    import logging

    pytest.importorskip("dask.distributed")
    before = os.environ.get("DASK_LOGGING__DISTRIBUTED")
    with caplog.at_level(logging.INFO), dask_client("local", None) as client:
        assert client.submit(sum, [1, 2]).result() == 3
    err = capfd.readouterr().err + caplog.text
    for noise in ("Nanny", "Register worker", "Scheduler at", "Receive client connection"):
        assert noise not in err
    assert os.environ.get("DASK_LOGGING__DISTRIBUTED") == before  # put back as it was


def test_resume_skips_inputs_already_scored(logs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    first = score_logs(logs, out, LitPixelModel(), ScoreSettings(progress=False))
    before = _episodes(out)
    state = json.loads((out / "score-state.json").read_text())
    assert len(state["inputs"]) == 2

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("resume scored an input again")

    monkeypatch.setattr(pipeline, "score_input", refuse)
    again = score_logs(logs, out, LitPixelModel(), ScoreSettings(progress=False, resume=True))
    assert (again.n_skipped, again.n_windows) == (2, first.n_windows)
    pd.testing.assert_frame_equal(before, _episodes(out))
    # a changed file is scored again, the other is still skipped
    monkeypatch.undo()
    os.utime(logs[1], ns=(logs[1].stat().st_atime_ns, logs[1].stat().st_mtime_ns + 10**9))
    third = score_logs(logs, out, LitPixelModel(), ScoreSettings(progress=False, resume=True))
    assert third.n_skipped == 1
    pd.testing.assert_frame_equal(before, _episodes(out))


@pytest.mark.slow
def test_dask_path_gives_the_same_episodes_as_the_local_path(logs: list[Path], tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    score_logs(logs, tmp_path / "local", LitPixelModel(), ScoreSettings(progress=False))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        result = score_logs(logs, tmp_path / "dask", LitPixelModel(), ScoreSettings(progress=False, dask="in-test"), client=client)
    assert result.n_inputs == 2
    pd.testing.assert_frame_equal(_episodes(tmp_path / "local"), _episodes(tmp_path / "dask"))
    a = pd.read_parquet(tmp_path / "local" / "windows.parquet")
    b = pd.read_parquet(tmp_path / "dask" / "windows.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_hostile_callsign_from_a_log_is_text_everywhere(tmp_path: Path) -> None:
    log = write_sbs(tmp_path / "x.sbs", aircraft=1, callsign="<script>alert(1)</script>")
    score_logs([log], tmp_path / "out", LitPixelModel(), ScoreSettings(progress=False))
    html = (tmp_path / "out" / "tipsheet.html").read_text(encoding="utf-8")
    kml = (tmp_path / "out" / "episodes.kml").read_text(encoding="utf-8")
    if "alert(1)" not in html:
        pytest.skip("the SBS reader dropped or cleaned the hostile callsign")
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in kml


def test_cli_needs_a_model_until_one_ships(logs: list[Path], tmp_path: Path) -> None:
    from flightpaths.cli import score as score_cli

    if (score_cli.DEFAULT_MODEL / "model.json").is_file():
        pytest.skip("a built-in model ships now")
    result = CliRunner().invoke(cli, ["score", str(logs[0]), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--model" in result.output


def test_cli_rejects_a_bad_time_zone(logs: list[Path], tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    result = CliRunner().invoke(cli, ["score", str(logs[0]), "-o", str(tmp_path / "o"), "--model", str(model), "--tz", "Mars/Base"])
    assert result.exit_code == 2 and "Mars/Base" in result.output


def test_small_files_are_scored_together_with_the_same_results_and_resume(tmp_path: Path) -> None:
    """Small inputs share inference batches (one part file for the group); the results equal
    scoring each alone, and a resume after one of them changed uses only its new rows."""
    logs = [write_sbs(tmp_path / f"f{i}.sbs", hours=0.5, aircraft=1 + i % 2, seed=i, day=f"2024-05-0{i + 1}") for i in range(4)]
    model = LitPixelModel()
    settings = ScoreSettings(progress=False)
    out = tmp_path / "group"
    together = score_logs(logs, out, model, settings)
    state = json.loads((out / "score-state.json").read_text())
    assert len({v["part"] for v in state["inputs"].values()}) == 1  # one group, one part
    alone = pd.concat([pipeline.score_input(p, model, settings) for p in logs], ignore_index=True)
    got = pd.read_parquet(out / "windows.parquet").sort_values("window_id").reset_index(drop=True)
    alone = alone.sort_values("window_id").reset_index(drop=True)
    assert together.n_windows == len(alone) and got["window_id"].tolist() == alone["window_id"].tolist()
    assert np.allclose(got["p_circling"], alone["p_circling"])
    write_sbs(logs[1], hours=0.25, aircraft=1, seed=9, day="2024-05-02")  # changed: fewer windows now
    os.utime(logs[1], (1, 1))
    again = score_logs(logs, out, model, settings.replace(resume=True))
    fresh = score_logs(logs, tmp_path / "fresh", model, settings)
    assert again.n_skipped == 3 and again.n_windows == fresh.n_windows < together.n_windows


def test_builtin_model_constant_is_where_the_cli_looks() -> None:
    from flightpaths.cli import score as score_cli
    from flightpaths.score import BUILTIN_MODEL

    assert BUILTIN_MODEL == score_cli.DEFAULT_MODEL
    assert (BUILTIN_MODEL / "model.json").is_file()
