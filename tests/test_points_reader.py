"""The one points reader (ingest.iter_points) and what rides on it: score reads any format ingest
reads (--format, --columns), and --tz is the log's clock in every command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from flightpaths.cli import cli
from flightpaths.ingest import IngestReport, IngestSettings, iter_points, read_logs

UTC_NOTE = "SBS times were read as UTC"


def write_sbs(path: Path, *, minutes: int = 40, dt: float = 5.0, bad_line: int | None = None) -> Path:
    """Two aircraft: a1b2c3 orbits (1.5 km, 3 min a turn), a1b2c4 flies straight; one MSG,3 line a point."""
    t0 = pd.Timestamp("2024-05-01 12:00:00")
    lines = []
    for i in range(int(minutes * 60 / dt)):
        s = i * dt
        ts = (t0 + pd.Timedelta(seconds=s)).strftime("%Y/%m/%d,%H:%M:%S.000")
        a = 2 * np.pi * s / 180
        lat, lon = 40.6 + 1500 * np.sin(a) / 111_195, -74.0 + 1500 * np.cos(a) / 84_000
        lines.append(f"MSG,3,1,1,A1B2C3,1,{ts},{ts},NYPD1,2000,,,{lat:.5f},{lon:.5f},,,,,,0\n")
        lines.append(f"MSG,3,1,1,A1B2C4,1,{ts},{ts},AAL1,9000,,,{40.7 + s * 1e-4:.5f},-73.9,,,,,,0\n")
    if bad_line is not None:
        lines[bad_line - 1] = "MSG,3,1,1,A1B2C3,1,2024/05/01,xx:yy,,,,,,,,,,,,\n"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_iter_points_chunks_add_up_to_read_logs_and_name_original_lines(tmp_path: Path) -> None:
    log = write_sbs(tmp_path / "a.sbs", bad_line=700)
    whole = read_logs([log]).points
    report = IngestReport()
    chunks = list(iter_points([log], IngestSettings(), chunk_rows=200, report=report))
    assert len(chunks) > 3 and [c.last for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert chunks[-1].nbytes == log.stat().st_size and sum(c.nbytes for c in chunks) == log.stat().st_size
    joined = pd.concat([c.points for c in chunks]).sort_values(["object_id", "time"]).reset_index(drop=True)
    assert joined[["object_id", "time", "lat", "lon", "source_line"]].equals(
        whole[["object_id", "time", "lat", "lon", "source_line"]].reset_index(drop=True))
    assert report.rows_dropped == 1 and any(":700:" in e for e in report.examples)  # the file's own line
    assert report.rows_kept == len(whole) and report.files == {str(log): "sbs"}


def test_iter_points_reads_a_points_table_and_skips_a_bad_file(tmp_path: Path) -> None:
    log = write_sbs(tmp_path / "a.sbs")
    table = tmp_path / "points.parquet"
    read_logs([log]).points.to_parquet(table)
    (tmp_path / "junk.sbs").write_bytes(b"\x00\x01\x02 not a log")
    report = IngestReport()
    chunks = list(iter_points([table, tmp_path / "junk.sbs"], chunk_rows=300, report=report))
    assert report.files[str(table)] == "points" and report.files[str(tmp_path / "junk.sbs")].startswith("skipped")
    assert sum(len(c.points) for c in chunks) == len(read_logs([log]).points)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from test_bundle import _figures_bundle

    return _figures_bundle(tmp_path_factory.mktemp("m") / "m", window_settings={"window_s": 300.0}, track_settings=None)


def test_score_reads_a_mapped_csv_like_the_log_it_came_from(tmp_path: Path, model: Path) -> None:
    log = write_sbs(tmp_path / "a.sbs")
    pts = read_logs([log]).points
    csv = tmp_path / "rnc.csv"
    pd.DataFrame({"adshex": pts["object_id"], "timestamp": pts["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "latitude": pts["lat"], "longitude": pts["lon"], "altitude": pts["altitude_ft"]}).to_csv(csv, index=False)
    run = CliRunner()
    a = run.invoke(cli, ["-q", "score", str(log), "-o", str(tmp_path / "sbs"), "--model", str(model)])
    b = run.invoke(cli, ["-q", "score", str(csv), "-o", str(tmp_path / "csv"), "--model", str(model), "--format", "csv",
                         "--columns", "id=adshex,time=timestamp,lat=latitude,lon=longitude,altitude=altitude"])
    assert a.exit_code == 0 and b.exit_code == 0, (a.output, b.output)
    wa = pd.read_parquet(tmp_path / "sbs" / "windows.parquet")
    wb = pd.read_parquet(tmp_path / "csv" / "windows.parquet")
    assert len(wa) > 10 and wa["window_id"].tolist() == wb["window_id"].tolist()
    assert np.allclose(wa["p_circling"], wb["p_circling"])
    bad = run.invoke(cli, ["-q", "score", str(csv), "-o", str(tmp_path / "bad"), "--model", str(model), "--columns", "id"])
    assert bad.exit_code == 2 and "--columns" in bad.output


def test_tz_is_the_log_clock_in_score_tracks_and_ingest(tmp_path: Path, model: Path) -> None:
    log = write_sbs(tmp_path / "a.sbs")
    run = CliRunner()
    utc = run.invoke(cli, ["-q", "score", str(log), "-o", str(tmp_path / "utc"), "--model", str(model)])
    ny = run.invoke(cli, ["-q", "score", str(log), "-o", str(tmp_path / "ny"), "--model", str(model), "--tz", "America/New_York",
                          "--display-tz", "Europe/Paris"])
    assert utc.exit_code == 0 and ny.exit_code == 0, (utc.output, ny.output)
    assert utc.output.count(UTC_NOTE) == 1 and UTC_NOTE not in ny.output
    start_utc = pd.read_parquet(tmp_path / "utc" / "windows.parquet")["start"].min()
    start_ny = pd.read_parquet(tmp_path / "ny" / "windows.parquet")["start"].min()
    assert start_ny - start_utc == pd.Timedelta(hours=4)  # 12:00 EDT is 16:00 UTC
    for args in (["tracks", str(log), "-o", str(tmp_path / "w.parquet")], ["ingest", str(log), "-o", str(tmp_path / "p.parquet")]):
        plain = run.invoke(cli, ["-q", *args])
        zoned = run.invoke(cli, ["-q", *args, "--tz", "America/New_York", "--overwrite"])
        assert plain.exit_code == 0 and zoned.exit_code == 0, (plain.output, zoned.output)
        assert plain.output.count(UTC_NOTE) == 1 and UTC_NOTE not in zoned.output
    windows = pd.read_parquet(tmp_path / "w.parquet")
    assert windows["start"].min() == start_ny
    assert run.invoke(cli, ["score", str(log), "-o", str(tmp_path / "x"), "--model", str(model), "--input-tz", "UTC"]).exit_code == 2


def test_one_unreadable_file_does_not_sink_the_others(tmp_path: Path, model: Path) -> None:
    log = write_sbs(tmp_path / "a.sbs")
    junk = tmp_path / "b.sbs"
    junk.write_bytes(b"\x00\x01\x02\x03 binary junk")
    result = CliRunner().invoke(cli, ["score", str(log), str(junk), "-o", str(tmp_path / "out"), "--model", str(model)])
    assert result.exit_code == 0, result.output
    assert "b.sbs skipped" in result.output and len(pd.read_parquet(tmp_path / "out" / "windows.parquet")) > 10


def _overlapping_logs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """a.sbs (the first 40 min), b.sbs (minutes 20-60, its first half repeating a.sbs) and all.sbs (60 min once)."""
    every = write_sbs(tmp_path / "all.sbs", minutes=60).read_text(encoding="utf-8").splitlines(keepends=True)
    per_min = len(every) // 60
    (tmp_path / "a.sbs").write_text("".join(every[: 40 * per_min]), encoding="utf-8")
    (tmp_path / "b.sbs").write_text("".join(every[20 * per_min:]), encoding="utf-8")
    return tmp_path / "a.sbs", tmp_path / "b.sbs", tmp_path / "all.sbs"


def test_iter_points_drops_rows_repeated_across_files_and_chunks(tmp_path: Path) -> None:
    a, b, whole = _overlapping_logs(tmp_path)
    report = IngestReport()
    got = pd.concat([c.points for c in iter_points([a, b], chunk_rows=250, report=report)])
    want = read_logs([whole]).points
    assert len(got) == len(want) and not got.duplicated(["object_id", "time"]).any()
    repeated = 20 * 60 // 5 * 2  # minutes 20-40 of both aircraft
    assert report.dropped == {"duplicate row": repeated}
    assert any(e.startswith(f"{b}:1: ") for e in report.examples)  # the later copy is named, by its own line
    copy = tmp_path / "copy.sbs"
    copy.write_bytes(a.read_bytes())  # the same receiver log given twice
    twice = pd.concat([c.points for c in iter_points([a, copy], chunk_rows=250)])
    assert len(twice) == len(read_logs([a]).points)
    kept = pd.concat([c.points for c in iter_points([a, copy], IngestSettings(dedupe=False), chunk_rows=250)])
    assert len(kept) == 2 * len(twice)


def test_repeat_filter_memory_is_bounded_by_its_setting() -> None:
    from flightpaths.ingest.ledger import Ledger
    from flightpaths.ingest.repeats import RepeatFilter

    pts = read_logs([write_sbs(Path(__import__("tempfile").mkdtemp()) / "a.sbs")]).points
    seen, ledger = RepeatFilter(max_rows=500), Ledger()
    for lo in range(0, len(pts), 100):
        seen.drop_repeats(pts.iloc[lo:lo + 100], ledger)
        assert len(seen) <= 500
    assert len(seen) > 0 and any("forgotten" in k for k in ledger.notes)
    again = seen.drop_repeats(pts.iloc[-100:], ledger)  # the newest rows are still remembered
    assert again.empty


def test_tracks_of_overlapping_files_equal_tracks_of_their_union(tmp_path: Path) -> None:
    from flightpaths.tracks import CleanReport, TrackSettings, WindowSettings, read_windows, windows_from_chunks

    a, b, whole = _overlapping_logs(tmp_path)
    copy = tmp_path / "copy.sbs"
    copy.write_bytes(a.read_bytes())
    res = CliRunner().invoke(cli, ["tracks", str(whole), "-o", str(tmp_path / "all.parquet")])
    assert res.exit_code == 0, res.output
    want = read_windows(tmp_path / "all.parquet").set_index("window_id").sort_index()
    res = CliRunner().invoke(cli, ["tracks", str(a), str(b), str(copy), "-o", str(tmp_path / "abc.parquet")])
    assert res.exit_code == 0, res.output
    got = read_windows(tmp_path / "abc.parquet").set_index("window_id").sort_index()
    assert got.index.equals(want.index) and (got["n_points"] == want["n_points"]).all()
    report = CleanReport()  # the same a stretch of 250 points at a time, as a long log is read
    chunks = (c.points for c in iter_points([a, b, copy], chunk_rows=250))
    parts = pd.concat(list(windows_from_chunks(chunks, TrackSettings(), WindowSettings(), report=report, ground_first=True)))
    got = parts.set_index("window_id").sort_index()
    assert got.index.equals(want.index) and (got["n_points"] == want["n_points"]).all()
    assert report.points_in == len(read_logs([whole]).points) and not report.removed
