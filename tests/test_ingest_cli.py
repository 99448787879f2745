"""``flightpaths ingest`` through click's CliRunner: exit codes, messages, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from flightpaths.cli import cli

CORPUS = Path(__file__).resolve().parent / "data" / "ingest"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["-q", "ingest", *args])
    return result.exit_code, result.output


def test_writes_points_prints_summary_and_settings(tmp_path: Path) -> None:
    out = tmp_path / "points.parquet"
    code, text = run(str(CORPUS / "good.sbs"), str(CORPUS / "junk.sbs"), "-o", str(out))
    assert code == 0, text
    assert "point(s) kept from 2 object(s)" in text
    assert "junk.sbs:2: column 'lat': 'abc' is not a number" in text
    assert "formats: sbs (2)" in text
    points = pd.read_parquet(out)
    assert len(points) == 6 and str(points["time"].dtype) == "datetime64[ns, UTC]"
    meta = json.loads((tmp_path / "points.parquet.settings.json").read_text())
    assert meta["ingest"]["fmt"] == "auto" and meta["ingest"]["tz"] == "UTC"


def test_refuses_to_overwrite_without_the_flag(tmp_path: Path) -> None:
    out = tmp_path / "points.parquet"
    out.write_text("mine")
    code, text = run(str(CORPUS / "good.sbs"), "-o", str(out))
    assert code == 1 and "already exists; pass --overwrite" in text
    assert out.read_text() == "mine"
    code, text = run(str(CORPUS / "good.sbs"), "-o", str(out), "--overwrite")
    assert code == 0 and len(pd.read_parquet(out)) == 4


def test_strict_exits_1_naming_file_line_and_field(tmp_path: Path) -> None:
    code, text = run(str(CORPUS / "junk.sbs"), "-o", str(tmp_path / "p.parquet"), "--strict")
    assert code == 1
    assert "junk.sbs, line 2, column 'lat': 'abc' is not a number" in text
    assert not (tmp_path / "p.parquet").exists()


@pytest.mark.parametrize("name,message", [
    ("empty.sbs", "empty file"),
    ("corrupt.sbs.gz", "corrupt gzip"),
    ("binary_junk.log", "supported: aircraft-json"),
])
def test_bad_files_exit_1_with_a_clear_line(tmp_path: Path, name: str, message: str) -> None:
    code, text = run(str(CORPUS / name), "-o", str(tmp_path / "p.parquet"))
    assert code == 1
    assert name in text and message in text
    assert "Traceback" not in text


def test_unknown_format_option_lists_the_supported_ones(tmp_path: Path) -> None:
    code, text = run(str(CORPUS / "good.sbs"), "-o", str(tmp_path / "p.parquet"), "--format", "kml")
    assert code == 2
    for name in ("auto", "sbs", "aircraft-json", "trace", "opensky", "fr24", "traffic", "csv", "balabit", "delbot"):
        assert name in text


def test_unknown_file_format_exits_1_listing_formats(tmp_path: Path) -> None:
    f = tmp_path / "diary.txt"
    f.write_text("dear diary\n")
    code, text = run(str(f), "-o", str(tmp_path / "p.parquet"))
    assert code == 1 and "unrecognised log format" in text and "sbs (SBS-1" in text


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run(str(CORPUS / "good.sbs"))[0] == 2  # no -o
    code, text = run(str(CORPUS / "good.sbs"), "-o", str(tmp_path / "p.xlsx"))
    assert code == 2 and "must end in one of" in text
    code, text = run(str(CORPUS / "good.sbs"), "-o", str(tmp_path / "p.parquet"), "--columns", "altitud=alt")
    assert code == 2 and "unknown field 'altitud'" in text
    code, text = run(str(CORPUS / "good.sbs"), "-o", str(tmp_path / "p.parquet"), "--tz", "Mars/Base")
    assert code == 2 and "Mars/Base" in text
    code, text = run(str(tmp_path / "missing*.sbs"), "-o", str(tmp_path / "p.parquet"))
    assert code == 1 and "no file matches" in text


def test_columns_mapping_for_a_generic_csv(tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    code, text = run(str(CORPUS / "wrong_columns.csv"), "-o", str(out),
                     "--columns", "id=hex,time=when,lat=latitude,lon=longitude,altitude=alt")
    assert code == 0, text
    assert "wrong_columns.csv:3: 4 fields, expected 5" in text
    assert pd.read_csv(out)["altitude_ft"].tolist() == [1000, 1300]


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_tracks_as_linestrings(tmp_path: Path, suffix: str) -> None:
    import geopandas as gpd

    out = tmp_path / f"tracks{suffix}"
    code, text = run(str(CORPUS / "good.sbs"), "-o", str(out))
    assert code == 0, text
    lines = gpd.read_file(out)
    assert sorted(lines["object_id"]) == ["3c6444", "4ca2d6"]
    assert set(lines.geometry.geom_type) == {"LineString"}
    assert lines.set_index("object_id").loc["4ca2d6", "n_points"] == 2


def test_mouse_tracks_cannot_become_geographic_lines(tmp_path: Path) -> None:
    f = tmp_path / "session_1"
    f.write_text("record timestamp,client timestamp,button,state,x,y\n0,0,NoButton,Move,1,2\n1,1,NoButton,Move,3,4\n")
    code, text = run(str(f), "-o", str(tmp_path / "t.geojson"))
    assert code == 1 and "no geographic coordinates" in text


def test_help_documents_the_mapping_syntax() -> None:
    result = CliRunner().invoke(cli, ["ingest", "--help"])
    assert result.exit_code == 0
    assert "id=adshex,time=timestamp" in result.output and "--strict" in result.output
