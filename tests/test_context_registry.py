"""The local registry: import the FAA, OpenSky and tar1090 files, look up, fetch, the CLI."""

from __future__ import annotations

import http.server
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from context_fixtures import write_faa, write_opensky, write_tar1090

from flightpaths.cli import cli
from flightpaths.context.registry import default_store, fetch, import_files, lookup, read_registry_file, registry_path
from flightpaths.errors import FlightpathsError, InputError


def test_faa_zip_gives_owner_type_year_and_names_the_bad_row(tmp_path: Path) -> None:
    kind, rows = read_registry_file(write_faa(tmp_path / "faa"))
    assert kind == "faa"
    dhs = rows.set_index("object_id").loc["aa2183"]
    assert dhs["registration"] == "N752AM"
    assert dhs["operator"] == "US DEPARTMENT OF HOMELAND SECURITY"
    assert dhs["type_desc"] == "AIRBUS HELICOPTERS INC AS350B3"
    assert dhs["year"] == "2008"
    assert set(rows["object_id"]) == {"aa2183", "a06d34"}
    report = import_files([write_faa(tmp_path / "faa2")], tmp_path / "store")
    assert report.skipped == 1
    assert "MASTER.txt, line 4, column 'MODE S CODE HEX'" in report.examples[0] and "'XYZ'" in report.examples[0]


def test_faa_master_txt_finds_acftref_beside_it(tmp_path: Path) -> None:
    kind, rows = read_registry_file(write_faa(tmp_path / "faa", as_zip=False))
    assert kind == "faa" and rows.set_index("object_id").loc["a06d34", "type_desc"] == "CESSNA 182T"


@pytest.mark.parametrize("single_quotes", [False, True])
def test_opensky_csv_in_both_quotings(tmp_path: Path, single_quotes: bool) -> None:
    kind, rows = read_registry_file(write_opensky(tmp_path / "aircraftDatabase.csv", single_quotes=single_quotes))
    assert kind == "opensky"
    heli = rows.set_index("object_id").loc["3ddc63"]
    assert (heli["registration"], heli["type_code"], heli["operator"], heli["year"]) == ("D-HBPA", "EC35", "Bundespolizei", "2009")
    assert heli["type_desc"] == "Eurocopter EC135 P2+"
    assert rows.set_index("object_id").loc["aa2183", "operator"] == "US Dept of Homeland Security"  # owner when no operator


def test_opensky_row_with_extra_fields_is_skipped_and_named(tmp_path: Path) -> None:
    path = write_opensky(tmp_path / "aircraftDatabase.csv")
    path.write_text(path.read_text() + '"abcdef","N1"' + ',"x"' * 30 + "\n", encoding="utf-8")
    report = import_files([path], tmp_path / "store")
    assert report.rows == {"opensky": 2} and report.skipped == 1
    assert report.examples[0].startswith(f"{path}, line 4: expected 27 fields")


def test_tar1090_db(tmp_path: Path) -> None:
    kind, rows = read_registry_file(write_tar1090(tmp_path / "aircraft.csv.gz"))
    assert kind == "tar1090"
    row = rows.set_index("object_id").loc["c0ffee"]
    assert row[["registration", "type_code", "type_desc", "year"]].tolist() == ["C-GABC", "B06", "BELL 206", "1990"]
    assert pd.isna(row["operator"])


def test_unknown_file_is_refused_with_its_name(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n")
    with pytest.raises(InputError, match="notes.txt, line 1: not a registry file"):
        read_registry_file(junk)


def test_lookup_takes_each_field_from_the_most_trusted_source(tmp_path: Path) -> None:
    store = tmp_path / "store"
    import_files([write_opensky(tmp_path / "os.csv"), write_tar1090(tmp_path / "db.csv.gz")], store)
    import_files([write_faa(tmp_path / "faa")], store)
    found = lookup(["aa2183", "3ddc63", "c0ffee", "a00001", "~aa2183"], store).set_index("object_id")
    assert set(found.index) == {"aa2183", "3ddc63", "c0ffee"}
    assert found.loc["aa2183", "operator"] == "US DEPARTMENT OF HOMELAND SECURITY"  # FAA before OpenSky
    assert found.loc["aa2183", "type_code"] == "AS50"  # the FAA has no ICAO type code: OpenSky's
    assert found.loc["aa2183", "source"] == "registry:faa+opensky"
    assert found.loc["3ddc63", "source"] == "registry:opensky+tar1090"


def test_importing_a_source_again_replaces_its_rows(tmp_path: Path) -> None:
    store = tmp_path / "store"
    import_files([write_faa(tmp_path / "faa"), write_tar1090(tmp_path / "db.csv.gz")], store)
    import_files([write_tar1090(tmp_path / "db.csv.gz")], store)
    table = pd.read_parquet(registry_path(store))
    assert table["source"].value_counts().to_dict() == {"faa": 2, "tar1090": 2}


def test_default_store_follows_env_and_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FLIGHTPATHS_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_store() == tmp_path / "xdg" / "flightpaths"
    monkeypatch.setenv("FLIGHTPATHS_DATA", str(tmp_path / "mine"))
    assert registry_path() == tmp_path / "mine" / "registry.parquet"


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[str]:
    """A web server on 127.0.0.1 serving tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(www), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("client", ["httpx", "urllib"])
def test_fetch_downloads_and_imports(server: str, tmp_path: Path, client: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if client == "urllib":
        monkeypatch.setitem(sys.modules, "httpx", None)  # as if httpx were not installed
    else:
        pytest.importorskip("httpx")
    write_faa(tmp_path / "www")
    report = fetch("faa", tmp_path / "store", url=f"{server}/ReleasableAircraft.zip", timeout=10)
    assert report.rows == {"faa": 2}
    assert (tmp_path / "store" / "downloads" / "ReleasableAircraft.zip").is_file()
    assert lookup(["aa2183"], tmp_path / "store")["registration"].tolist() == ["N752AM"]


@pytest.mark.parametrize("client", ["httpx", "urllib"])
def test_fetch_offline_says_so_and_leaves_nothing(server: str, tmp_path: Path, client: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if client == "urllib":
        monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(FlightpathsError, match="are you offline.*registry import"):
        fetch("opensky", tmp_path / "store", url=f"{server}/missing.csv", timeout=5)
    assert not list((tmp_path / "store" / "downloads").iterdir())
    with pytest.raises(FlightpathsError, match="are you offline"):
        fetch("faa", tmp_path / "store", url="http://127.0.0.1:9/ReleasableAircraft.zip", timeout=5)


def test_cli_import_info_path_and_errors(tmp_path: Path) -> None:
    store = tmp_path / "store"
    runner = CliRunner()
    result = runner.invoke(cli, ["registry", "import", str(write_faa(tmp_path / "faa")), "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "2 from faa" in result.output and str(store / "registry.parquet") in result.output
    assert "1 row(s) skipped" in result.output
    result = runner.invoke(cli, ["registry", "info", "--store", str(store)])
    assert result.exit_code == 0 and "faa: 2 aircraft" in result.output
    result = runner.invoke(cli, ["registry", "path", "--store", str(store)])
    assert result.output.strip() == str(store / "registry.parquet")
    junk = tmp_path / "junk.csv"
    junk.write_text("a,b\n1,2\n")
    result = runner.invoke(cli, ["registry", "import", str(junk), "--store", str(store)])
    assert result.exit_code == 1 and "junk.csv, line 1: not a registry file" in result.output
    result = runner.invoke(cli, ["registry", "fetch", "nowhere"])
    assert result.exit_code == 2
