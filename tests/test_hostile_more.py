"""More hostile input (issue #23, a second pass): absurd settings inside a model bundle, absurd
numbers in logs, files repeated across the inputs."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
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


def _mixed_line_ends(lines: list[bytes]) -> bytes:
    """*lines* with LF line ends first (so the head looks like an LF file), then CR, then CR LF, then LF."""
    n = len(lines)
    ends = [b"\n"] * (n // 4) + [b"\r"] * (n // 4) + [b"\r\n"] * (n // 4)
    ends += [b"\n"] * (n - len(ends))
    return b"".join(line + end for line, end in zip(lines, ends))


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("kind", ["sbs", "csv"])
def test_every_cr_lf_or_crlf_ends_a_line_wherever_it_is(tmp_path: Path, kind: str, gz: bool) -> None:
    import gzip

    if kind == "sbs":
        stamp = "2024/05/01,12:{:02d}:{:02d}.000"
        lines = [f"MSG,3,1,1,4CA2D6,1,{stamp},{stamp},,3000,,,51.{i:03d},-0.1,,,0,0,0,0".format(i // 60, i % 60, i // 60, i % 60)
                 .encode() for i in range(40)]
        header: list[bytes] = []
    else:
        header = [b"time,icao24,lat,lon"]
        lines = [f"{1714564800 + i},abc123,40.{i:03d},-73.9".encode() for i in range(40)]
    data = _mixed_line_ends(header + lines)
    log = tmp_path / f"mixed.{kind}{'.gz' if gz else ''}"
    log.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    plain = tmp_path / f"plain.{kind}"
    plain.write_bytes(b"\n".join(header + lines) + b"\n")
    settings = IngestSettings(columns={"id": "icao24", "time": "time", "lat": "lat", "lon": "lon"} if kind == "csv" else None)
    got, want = read_logs([log], settings=settings), read_logs([plain], settings=settings)
    assert got.report.dropped == want.report.dropped, got.report.summary()
    assert len(got.points) == len(want.points) > 10
    assert got.points["source_line"].tolist() == want.points["source_line"].tolist()


@pytest.mark.parametrize("encoding", ["utf-32", "utf-32-be-bom", "utf-16"])
def test_utf32_and_utf16_with_a_bom_are_decoded(tmp_path: Path, encoding: str) -> None:
    text = GOOD_SBS.read_text()
    data = (b"\x00\x00\xfe\xff" + text.encode("utf-32-be")) if encoding == "utf-32-be-bom" else text.encode(encoding)
    log = tmp_path / "wide.sbs"
    log.write_bytes(data)
    assert len(read_logs([log]).points) == len(read_logs([GOOD_SBS]).points) == 4


@pytest.mark.parametrize(("name", "text"), [
    ("inf.csv", "adshex,timestamp,latitude,longitude,altitude,speed,track\nabc123,1714564800,40.1,-73.2,1000,inf,90\n"
                "abc123,1714564810,40.1,-73.2,1e300,100,1e9\nabc123,1714564820,-inf,-73.2,1000,100,4\n"),
    ("inf.sbs", "MSG,3,1,1,ABC123,1,2024/05/01,12:00:01.000,2024/05/01,12:00:01.000,,3000,,,51.5,-0.1,,,0,0,0,0\n"
                "MSG,3,1,1,ABC123,1,2024/05/01,12:00:02.000,2024/05/01,12:00:02.000,,1e300,,,51.5,-0.1,,,0,0,0,0\n"
                "MSG,4,1,1,ABC123,1,2024/05/01,12:00:02.200,2024/05/01,12:00:02.200,,,99999999,1e9,,,-1e30,,0,0,0,0\n"),
    ("aircraft.json", '{"now": 1714564800, "aircraft": [{"hex":"abc123","lat":51.5,"lon":-0.1,"alt_baro":1e400,"gs":Infinity},'
                      '{"hex":"abc124","lat":1e999,"lon":-0.1},{"hex":"abc125","lat":51.5,"lon":-0.1,"gs":1e12}]}'),
])
def test_infinite_or_absurd_numbers_are_blanked_and_named(tmp_path: Path, name: str, text: str) -> None:
    log = tmp_path / name
    log.write_text(text)
    result = read_logs([log])
    points = result.points
    for column in ("altitude_ft", "speed_kt", "track_deg", "vrate_fpm"):
        values = points[column].to_numpy(float)
        assert not (np.abs(values) > 1e6).any(), (column, values)
    assert np.isfinite(points[["lat", "lon"]].to_numpy(float)).all()
    examples = "\n".join(result.report.examples)
    assert f"{name}:2: column " in examples or f"{name}:3: column " in examples or f"{name}:1: column " in examples, examples
    assert "altitude_ft" in examples and "speed_kt" in examples, examples
    assert len(points) == {"inf.csv": 2, "inf.sbs": 2, "aircraft.json": 2}[name], result.report.summary()


def _truncated_gzip(path: Path, text: str) -> Path:
    import gzip

    whole = gzip.compress(text.encode(), mtime=0)
    path.write_bytes(whole[: len(whole) * 2 // 3])
    return path


def _long_csv(n: int = 20000) -> str:
    return "adshex,timestamp,latitude,longitude\n" + "".join(f"abc123,{1714564800 + 2 * i},{40 + i * 1e-5:.5f},-73.9\n"
                                                           for i in range(n))


def _long_sbs(n: int = 20000) -> str:
    return "".join(f"MSG,3,1,1,ABC123,1,2024/05/01,{12 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000,2024/05/01,"
                   f"12:00:00.000,,3000,,,{51 + i * 1e-5:.5f},-0.1,,,0,0,0,0\n" for i in range(n))


@pytest.mark.parametrize("kind", ["csv", "sbs", "json"])
@pytest.mark.parametrize("command", ["ingest", "tracks"])
def test_a_truncated_gzip_is_a_data_error_after_writing_what_was_read(tmp_path: Path, kind: str, command: str) -> None:
    if kind == "json":
        rows = [{"timestamp": (1714564800 + i) * 1000, "icao24": "abc123", "latitude": 40 + i * 1e-4, "longitude": -73.2}
                for i in range(3000)]
        text = json.dumps(rows)
    else:
        text = _long_csv() if kind == "csv" else _long_sbs()
    cut = _truncated_gzip(tmp_path / f"cut.{kind}.gz", text)
    out = tmp_path / "out.parquet"
    args = [command, str(cut), str(GOOD_SBS), "-o", str(out)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output and f"{cut}:" in res.output and "read only in part" in res.output, res.output
    assert out.exists()  # what was read is written: the good file, and the rows before the break


def test_score_exits_1_when_an_input_was_read_only_in_part(tmp_path: Path) -> None:
    if not (DEFAULT_MODEL / "model.json").is_file():
        pytest.skip("no built-in model")
    cut = _truncated_gzip(tmp_path / "cut.csv.gz", _long_csv(6000))
    res = CliRunner().invoke(cli, ["-q", "score", str(cut), "-o", str(tmp_path / "out")])
    assert res.exit_code == 1, res.output
    assert f"{cut}:" in res.output and "read only in part" in res.output, res.output
    assert (tmp_path / "out" / "tipsheet.html").is_file()


@pytest.mark.parametrize(("snapshot", "field"), [
    ({"now": "abc", "aircraft": [{"hex": "abc123", "lat": 40.0, "lon": -73.0}]}, "now"),
    ({"now": True, "aircraft": []}, "now"),
    ({"now": 1714564800, "aircraft": {"hex": "abc123"}}, "aircraft"),
])
def test_aircraft_json_with_a_wrong_typed_top_level_field_names_it(tmp_path: Path, snapshot: dict, field: str) -> None:
    log = tmp_path / "aircraft.json"
    log.write_text(json.dumps(snapshot))
    res = CliRunner().invoke(cli, ["ingest", str(log), "-o", str(tmp_path / "o.parquet")])
    assert res.exit_code == 1 and f"field {field!r}" in res.output and "Traceback" not in res.output, res.output


def test_aircraft_json_with_a_wrong_typed_seen_pos_names_it(tmp_path: Path) -> None:
    log = tmp_path / "aircraft.json"
    log.write_text(json.dumps({"now": 1714564800, "aircraft": [
        {"hex": "abc123", "lat": 40.0, "lon": -73.0, "seen_pos": "x"}, {"hex": "abc124", "lat": 40.0, "lon": -73.0}]}))
    result = read_logs([log])
    assert result.points["object_id"].tolist() == ["abc124"]
    assert any("aircraft.json:1:" in e and "seen_pos" in e for e in result.report.examples), result.report.examples


def test_an_empty_input_path_is_refused_not_read_as_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(GOOD_SBS, tmp_path / "here.sbs")  # would be read if "" meant "."
    res = CliRunner().invoke(cli, ["ingest", "", "-o", str(tmp_path / "o.parquet")])
    assert res.exit_code == 1 and "empty" in res.output and not (tmp_path / "o.parquet").exists(), res.output


def test_a_folder_named_like_a_log_is_read_as_a_folder_and_refused_as_an_output(tmp_path: Path) -> None:
    folder = tmp_path / "day.sbs"
    folder.mkdir()
    shutil.copy(GOOD_SBS, folder / "a.sbs")
    res = CliRunner().invoke(cli, ["ingest", str(folder), "-o", str(tmp_path / "o.parquet")])
    assert res.exit_code == 0 and len(pd.read_parquet(tmp_path / "o.parquet")) == 4, res.output
    res = CliRunner().invoke(cli, ["ingest", str(GOOD_SBS), "-o", str(folder)])
    assert res.exit_code == 2 and "directory" in res.output, res.output


@pytest.mark.parametrize("change", [
    {"phase": 7}, {"done": {"5": 1}}, {"done": {"1": -3}}, {"best_epoch": 40}, {"stale": -1}, {"history": [1, 2]},
])
def test_a_checkpoint_with_impossible_bookkeeping_is_refused_on_load(tmp_path: Path, change: dict) -> None:
    """Well-typed but impossible counts passed the loader and failed mid-resume (KeyError, IndexError)."""
    import hashlib

    torch = pytest.importorskip("torch")
    from safetensors.torch import save

    from flightpaths.errors import BundleError
    from flightpaths.train.bundle import CHECKPOINT_DIR, load_checkpoint

    blob = save({"model.w": torch.zeros(2)})
    meta = {"format": "flightpaths-checkpoint", "settings": {}, "phase": 2, "history": [{"epoch": 1}, {"epoch": 1}],
            "best": 0.5, "best_epoch": 2, "done": {"1": 1, "2": 1}, "stale": 0, "param_groups": [],
            "sha256": hashlib.sha256(blob).hexdigest()}
    folder = tmp_path / CHECKPOINT_DIR
    folder.mkdir()
    (folder / "state.safetensors").write_bytes(blob)
    (folder / "state.json").write_text(json.dumps(meta))
    assert load_checkpoint(tmp_path).done == {1: 1, 2: 1}
    (folder / "state.json").write_text(json.dumps({**meta, **change}))
    with pytest.raises(BundleError, match="damaged checkpoint"):
        load_checkpoint(tmp_path)


def test_a_points_table_edited_by_hand_passes_the_same_checks(tmp_path: Path) -> None:
    points = read_logs([GOOD_SBS]).points.reset_index(drop=True)
    points.loc[0, "lat"] = np.inf
    points.loc[1, "altitude_ft"] = 1e300
    table = tmp_path / "edited.parquet"
    points.to_parquet(table)
    result = read_logs([table])
    assert len(result.points) == len(points) - 1 and np.isfinite(result.points["lat"]).all()
    assert not (result.points["altitude_ft"] > 1e6).any()
    examples = "\n".join(result.report.examples)
    assert "edited.parquet:1: impossible coordinates" in examples and "edited.parquet:2: column 'altitude_ft'" in examples, examples
