"""More hostile input (issue #23, a second pass): absurd settings inside a model bundle, absurd
numbers in logs, files repeated across the inputs."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from flightpaths.cli import cli
from flightpaths.errors import SettingsError
from flightpaths.ingest import IngestSettings, read_logs
from flightpaths.tracks import TrackSettings, WindowSettings

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "flightpaths" / "models" / "default"
GOOD_SBS = Path(__file__).parent / "data" / "ingest" / "good.sbs"


@pytest.mark.parametrize("make", [
    lambda: WindowSettings(window_s=1e308), lambda: WindowSettings(window_s=300.0, step_s=1e300),
    lambda: TrackSettings(gap_s=1e20), lambda: TrackSettings(min_duration_s=float("inf")),
    lambda: TrackSettings(min_duration_s=-5.0),
])
def test_absurd_durations_are_refused_by_the_settings(make) -> None:
    with pytest.raises(SettingsError, match="must be"):
        make()


def test_a_bundle_with_an_absurd_window_length_is_refused_without_a_traceback(tmp_path: Path) -> None:
    if not (DEFAULT_MODEL / "model.json").is_file():
        pytest.skip("no built-in model")
    bundle = tmp_path / "m"
    shutil.copytree(DEFAULT_MODEL, bundle)
    meta = json.loads((bundle / "model.json").read_text(encoding="utf-8"))
    meta["window_settings"]["window_s"] = [1e308]
    (bundle / "model.json").write_text(json.dumps(meta), encoding="utf-8")
    res = CliRunner().invoke(cli, ["-q", "score", str(GOOD_SBS), "-o", str(tmp_path / "out"), "--model", str(bundle)])
    assert res.exit_code == 1, res.output
    assert "window_s" in res.output and "Traceback" not in res.output


def test_absurd_epoch_numbers_drop_their_row_quietly(tmp_path: Path) -> None:
    snap = {"now": 1714564800.0, "aircraft": [
        {"hex": "abc123", "lat": 51.5, "lon": -0.1, "seen_pos": 1e300},
        {"hex": "abc124", "lat": 51.6, "lon": -0.2, "seen_pos": 0.5}]}
    path = tmp_path / "aircraft.json"
    path.write_text(json.dumps(snap), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy overflow warning on the user's terminal
        result = read_logs([path], settings=IngestSettings())
    assert result.points["object_id"].tolist() == ["abc124"] and result.report.rows_dropped == 1
    from flightpaths.ingest.values import epoch_to_time

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = epoch_to_time(np.array([1e300, -1e300, np.inf, 1714564800.0]))
    assert got.isna().tolist() == [True, True, True, False]


def test_a_quote_left_open_costs_its_own_line_only(tmp_path: Path) -> None:
    log = tmp_path / "open-quote.csv"
    rows = [f"1714564{800 + i},abc123,40.{i:02d},-73.9" for i in range(30)]
    rows[2] = '1714564802,abc123,"40.02,-73.9'  # the quote never closes
    rows[9] = '1714564809,abc123,"40.09",-73.9'  # a quote closed on its own line is fine
    log.write_text("time,icao24,lat,lon\n" + "\n".join(rows) + "\n")
    settings = IngestSettings(fmt="csv", columns={"id": "icao24", "time": "time", "lat": "lat", "lon": "lon"})
    result = read_logs([log], settings=settings)
    assert len(result.points) == 29
    lats = set(result.points["lat"].round(2))
    assert 40.02 not in lats and {40.01, 40.03, 40.09, 40.29} <= lats
    problems = "\n".join(result.report.examples)
    assert f"{log}:4" in problems and "quote" in problems, problems


def test_a_truncated_gzip_csv_keeps_the_rows_before_the_break(tmp_path: Path) -> None:
    import gzip

    text = "time,icao24,lat,lon\n" + "".join(f"{1714564800 + i},abc123,{40 + i * 1e-5:.5f},-73.9\n" for i in range(20000))
    whole = gzip.compress(text.encode(), mtime=0)
    log = tmp_path / "cut.csv.gz"
    log.write_bytes(whole[: len(whole) // 2])
    settings = IngestSettings(fmt="csv", columns={"id": "icao24", "time": "time", "lat": "lat", "lon": "lon"})
    result = read_logs([log], settings=settings)
    assert 1000 < len(result.points) < 20000  # the first chunk (under chunk_rows) is kept, not lost
    assert any("gzip" in e for e in result.report.examples), result.report.examples
