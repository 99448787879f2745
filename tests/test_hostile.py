"""Hostile input (issue #23): one bad value, file or name never sinks the run, memory stays bounded.

Each class of the issue has a test here that fails on the code before the fix; the corpus in
tests/data/hostile (made by its make_corpus.py, expected outcomes in manifest.json) is read file
by file. The seeded fuzzing lives in tests/test_fuzz.py.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from flightpaths.cli import cli
from flightpaths.errors import InputError
from flightpaths.ingest import IngestSettings, parse_columns, read_logs
from flightpaths.ingest.sources import Source, iter_blocks, unique_names

HOSTILE = Path(__file__).parent / "data" / "hostile"
MANIFEST = json.loads((HOSTILE / "manifest.json").read_text())
GOOD_SBS = Path(__file__).parent / "data" / "ingest" / "good.sbs"


def _outcome(path: Path, columns: str | None = None) -> tuple[int, int, bool, str]:
    """(points kept, objects, skipped, report text) of reading *path*; never raises but InputError."""
    try:
        result = read_logs([path], settings=IngestSettings(columns=parse_columns(columns)))
    except InputError as exc:
        return 0, 0, True, str(exc)
    skipped = all(v.startswith("skipped") for v in result.report.files.values())
    return len(result.points), result.points["object_id"].nunique(), skipped, result.report.summary()


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_hostile_corpus_keeps_the_good_rows_and_names_the_rest(name: str) -> None:
    expected = MANIFEST[name]
    kept, objects, skipped, text = _outcome(HOSTILE / name, expected.get("columns"))
    assert kept == expected["kept"], text
    assert skipped == bool(expected.get("skipped")), text
    if "objects" in expected:
        assert objects == expected["objects"], text
    if expected.get("dropped_min"):
        assert "dropped 0 rows" not in text and ":" in text, text


def test_the_corpus_is_large_enough_and_up_to_date() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_corpus", HOSTILE / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    made = module.corpus()
    assert len(made) >= 60
    assert set(made) == set(MANIFEST)
    for name, (data, expected) in made.items():
        assert (HOSTILE / name).read_bytes() == data, f"{name}: run make_corpus.py again"
        assert MANIFEST[name] == expected


# ---- class 1: one bad value sinks a whole file ------------------------------------------
@pytest.mark.parametrize(("name", "text"), [
    ("gen.csv", ("adshex,timestamp,latitude,longitude\nabc123,1714564800,40.1,-73.2\nabc123,notatime,40.2,-73.3\n"
                "abc123,1714564860,40.3,-73.4\n")),
    ("os.csv", "time,icao24,lat,lon\n1714564800,abc123,40.1,-73.2\nxx,abc123,40.2,-73.3\n1714564860,abc123,40.3,-73.4\n"),
    ("t.json", ('[{"timestamp":1714564800000,"icao24":"abc123","latitude":40.1,"longitude":-73.2},'
               '{"timestamp":"bad","icao24":"abc123","latitude":40.2,"longitude":-73.3},'
               '{"timestamp":1714564860000,"icao24":"abc123","latitude":40.3,"longitude":-73.4}]')),
])
def test_one_bad_time_drops_its_own_row_named_by_line(tmp_path: Path, name: str, text: str) -> None:
    log = tmp_path / name
    log.write_text(text)
    result = read_logs(log)
    assert len(result.points) == 2
    assert result.report.rows_dropped == 1
    (example,) = [e for e in result.report.examples if "not a time" in e]
    assert example.startswith(f"{log}:" + ("2" if name.endswith(".json") else "3") + ":")


# ---- class 2: one bad file sinks the run -------------------------------------------------
def test_fifos_and_symlink_loops_are_skipped_named_and_exit_1(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "good.sbs").write_bytes(GOOD_SBS.read_bytes())
    (folder / "self").symlink_to(folder / "self")
    (folder / "up").symlink_to(folder)
    fifo = tmp_path / "pipe.sbs"
    os.mkfifo(fifo)
    out = tmp_path / "points.parquet"
    result = CliRunner().invoke(cli, ["ingest", str(folder), str(fifo), "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "pipe.sbs" in result.stderr and "self" in result.stderr and "loops back" in result.stderr
    assert len(pd.read_parquet(out)) == 4  # the readable file was read and written


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without read permission")
def test_an_unreadable_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "good.sbs").write_bytes(GOOD_SBS.read_bytes())
    secret = tmp_path / "secret.sbs"
    secret.write_bytes(GOOD_SBS.read_bytes())
    secret.chmod(0)
    result = read_logs(tmp_path)
    assert len(result.points) == 4 and result.report.unreadable == [str(secret)]


# ---- class 6: memory bounded by settings, not input ---------------------------------------
def test_an_expanding_gzip_is_decompressed_in_bounded_blocks(tmp_path: Path) -> None:
    log = tmp_path / "bomb.sbs.gz"
    line = b"MSG,3,1,1,4CA2D6,1,2024/05/01,12:00:01.000,2024/05/01,12:00:01.000,,3000,,,zz,yy,,,0,0,0,0\n"
    with gzip.open(log, "wb", compresslevel=9) as fh:
        for _ in range(8):
            fh.write(line * 50_000)  # 38 MB of text from about 100 KB
    assert log.stat().st_size < 1 << 20
    sizes = [len(block) for block, _ in iter_blocks(Source(log), block_bytes=1 << 20)]
    assert sum(sizes) == 8 * 50_000 * len(line)
    assert max(sizes) <= (1 << 20) + (1 << 17)


def test_a_file_without_line_ends_is_cut_into_bounded_lines(tmp_path: Path) -> None:
    log = tmp_path / "one_line.sbs"
    log.write_bytes(b"MSG," + b"9" * (3 << 20))
    sizes = [len(block) for block, _ in iter_blocks(Source(log), block_bytes=1 << 20)]
    assert max(sizes) <= (2 << 20)


# ---- class 7: quadratic and worse ------------------------------------------------------------
class _Counted(str):
    compared = 0

    def __eq__(self, other: object) -> bool:
        _Counted.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_header_names_are_made_unique_in_linear_work() -> None:
    names = [_Counted("x") for _ in range(2000)]
    _Counted.compared = 0
    out = unique_names(names)
    assert len(set(out)) == 2000 and out[:3] == ["x", "x_2", "x_3"]
    assert _Counted.compared < 20 * len(names)  # quadratic (or cubic) code compares millions of times


# ---- class 8: identities merged ---------------------------------------------------------------
def test_ids_that_differ_in_case_stay_apart_and_icao_addresses_do_not(tmp_path: Path) -> None:
    log = tmp_path / "ids.csv"
    log.write_text("id,time,lat,lon\nHeli-1,1714564800,40.1,-73.2\nheli-1,1714564800,41.1,-72.2\n"
                   "ABC123,1714564800,42.1,-71.2\nabc123,1714564860,42.2,-71.3\n")
    pts = read_logs(log, settings=IngestSettings(columns=parse_columns("id=id,time=time,lat=lat,lon=lon"))).points
    assert sorted(pts["object_id"].unique()) == ["Heli-1", "abc123", "heli-1"]


# ---- class 9: files and names -----------------------------------------------------------------
def test_ingest_refuses_to_write_over_its_input_before_reading(tmp_path: Path) -> None:
    log = tmp_path / "x.csv"
    log.write_text("adshex,timestamp,latitude,longitude\nabc123,1714564800,40.1,-73.2\n")
    before = log.read_bytes()
    result = CliRunner().invoke(cli, ["ingest", str(log), "-o", str(log), "--overwrite"])
    assert result.exit_code == 2 and "one of the inputs" in result.output
    assert log.read_bytes() == before


def test_summary_goes_to_stderr_and_file_names_are_printed_escaped(tmp_path: Path) -> None:
    log = tmp_path / "evil\x1b[31m.sbs"
    log.write_bytes(GOOD_SBS.read_bytes() + b"garbage\n")
    result = CliRunner().invoke(cli, ["ingest", str(log), "-o", str(tmp_path / "p.parquet")])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "point(s) kept" in result.stderr
    assert "\x1b" not in result.stderr and "evil\\x1b[31m.sbs" in result.stderr


@pytest.mark.parametrize("suffix", [".csv", ".sbs"])
def test_text_fields_are_bounded(tmp_path: Path, suffix: str) -> None:
    log = tmp_path / f"long{suffix}"
    if suffix == ".csv":
        log.write_text("adshex,timestamp,latitude,longitude,callsign\nabc123,1714564800,40.1,-73.2," + "N" * 100_000 + "\n")
    else:
        log.write_text(GOOD_SBS.read_text().replace("RYR1AB  ", "N" * 2_000_000))
    from flightpaths.ingest.settings import MAX_TEXT_CHARS

    result = read_logs(log)
    assert result.points["callsign"].str.len().max() == MAX_TEXT_CHARS
    assert any("cut" in k for k in result.report.notes)


def test_labeler_refuses_class_names_equal_but_for_case_and_windows_devices(tmp_path: Path) -> None:
    from flightpaths.label.dataset import check_class_name, check_class_names

    with pytest.raises(InputError, match="only in case"):
        check_class_names(["Circling", "circling"])
    with pytest.raises(InputError, match="only in case"):
        check_class_names(["CIRCLING"], existing=["circling"])
    for name in ("con", "NUL", "com1", "Lpt9"):
        with pytest.raises(InputError, match="Windows"):
            check_class_name(name)
    assert check_class_names(["circling", "straight", "circling"]) == ("circling", "straight")


# ---- class 10: good data refused, bad data written ------------------------------------------
def test_gpkg_has_no_one_point_linestrings_and_no_driver_chatter(tmp_path: Path) -> None:
    pytest.importorskip("geopandas")
    import geopandas as gpd

    log = tmp_path / "same.csv"
    log.write_text("adshex,timestamp,latitude,longitude\naaa111,1714564800,40.1,-73.2\naaa111,1714564860,40.1,-73.2\n"
                   "bbb222,1714564800,40.1,-73.2\nbbb222,1714564860,40.2,-73.2\n")
    out = tmp_path / "tracks.gpkg"
    result = CliRunner().invoke(cli, ["ingest", str(log), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Created" not in result.output
    lines = gpd.read_file(out)
    assert lines["object_id"].tolist() == ["bbb222"] and lines.is_valid.all()


def test_traffic_json_in_pandas_columns_layout_is_read(tmp_path: Path) -> None:
    log = tmp_path / "t.json"
    pd.DataFrame({"timestamp": [1714564800000, 1714564860000], "icao24": ["abc123"] * 2, "latitude": [40.1, 40.2],
                  "longitude": [-73.2, -73.3]}).to_json(log)
    for fmt in ("auto", "traffic"):
        result = read_logs(log, settings=IngestSettings(fmt=fmt))
        assert len(result.points) == 2 and result.report.files[str(log)] == "traffic"


def test_shared_traffic_samples_in_columns_layout(shared_data: Path) -> None:
    root = shared_data / "adsb" / "traffic-samples"
    for rel in ("noisy/noisy_ground.json.gz", "noisy/noisy_spoofing.json.gz", "noisy/noisy_takeoff.json.gz",
                "calibration/nice.json.gz"):
        result = read_logs(root / rel)
        assert len(result.points) > 100 and result.report.files[str(root / rel)] == "traffic"


def test_labeler_removes_stale_temporary_files_left_by_a_crash(tmp_path: Path) -> None:
    from test_label import make_render_folder

    from flightpaths.label.dataset import Dataset
    from flightpaths.label.images import load_images

    make_render_folder(tmp_path / "renders", ["circle", "line"])
    images = load_images(tmp_path / "renders")
    with Dataset.open(tmp_path / "ds", images, classes=["circling", "straight"]) as ds:
        ds.label([images.keys[0]], "circling")
    stale = tmp_path / "ds" / ".labels.csv.abc123.tmp"
    stale.write_text("half a file")
    with Dataset.open(tmp_path / "ds", images) as ds:
        pass
    assert not stale.exists()


def test_score_gpkg_writer_prints_no_driver_chatter(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("geopandas")
    import logging

    from flightpaths.score import merge_episodes, write_episodes_gpkg

    t = pd.Timestamp("2024-05-01 12:00", tz="UTC")
    w = pd.DataFrame({"window_id": ["a1", "b1"], "object_id": ["abc123", "def456"], "callsign": ["N1", None],
                      "start": [t, t], "end": [t + pd.Timedelta("300s")] * 2, "lat": [40.0, 41.0], "lon": [-74.0, -73.0],
                      "p_circling": [0.9, 0.8], "p_not_circling": [0.1, 0.2]})
    with caplog.at_level(logging.DEBUG):
        write_episodes_gpkg(merge_episodes(w), tmp_path / "episodes.gpkg")
    assert (tmp_path / "episodes.gpkg").is_file()
    assert "Created" not in caplog.text
