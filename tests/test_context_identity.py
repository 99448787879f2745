"""Identity: the readers keep every identity field, and episodes get who/where/when columns
through add_context and the score pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from context_fixtures import write_faa

from flightpaths.context import CONTEXT_COLUMNS, ContextSettings, IdentityCollector, add_context, identity_by_object, join_identity
from flightpaths.context.registry import import_files
from flightpaths.ingest import read_logs

T0 = pd.Timestamp("2016-07-18 18:00:00", tz="UTC")


def test_aircraft_json_keeps_registration_type_desc_operator_year_and_address_type(tmp_path: Path) -> None:
    snap = {"now": 1468864800.0, "aircraft": [
        {"hex": "aa2183", "r": "N752AM", "t": "AS50", "desc": "AIRBUS HELICOPTERS AS-350 B3", "ownOp": "US DHS", "year": "2008",
         "type": "adsb_icao", "lat": 41.5, "lon": -81.69, "alt_baro": 1500, "seen_pos": 1},
        {"hex": "~1234ab", "type": "tisb_other", "year": 1999, "lat": 41.4, "lon": -81.6, "alt_baro": 900, "seen_pos": 2}]}
    (tmp_path / "aircraft.json").write_text(json.dumps(snap))
    points = read_logs(tmp_path / "aircraft.json").points
    who = identity_by_object(points).set_index("object_id")
    assert who.loc["aa2183"].tolist() == ["N752AM", "AS50", "AIRBUS HELICOPTERS AS-350 B3", "US DHS", "2008", "adsb_icao"]
    assert who.loc["~1234ab", "year"] == "1999" and who.loc["~1234ab", "address_type"] == "tisb_other"


def test_trace_keeps_identity_fields(tmp_path: Path) -> None:
    trace = {"icao": "aa2183", "r": "N752AM", "t": "AS50", "desc": "AIRBUS AS-350", "ownOp": "US DHS", "year": "2008",
             "timestamp": 1468864800, "trace": [[0, 41.5, -81.69, 1500, 90, 180, 0, 0, None], [5, 41.5, -81.68, 1500, 90, 180, 0, 0, None]]}
    (tmp_path / "trace_full_aa2183.json").write_text(json.dumps(trace))
    points = read_logs(tmp_path / "trace_full_aa2183.json").points
    assert identity_by_object(points).iloc[0].tolist()[:6] == ["aa2183", "N752AM", "AS50", "AIRBUS AS-350", "US DHS", "2008"]


def test_fr24_json_keeps_type_operator_and_year(tmp_path: Path) -> None:
    data = {"result": {"response": {"data": {"flight": {
        "identification": {"callsign": "SPAR19"},
        "aircraft": {"model": {"code": "B737", "text": "Boeing C-40C"},
                     "identification": {"modes": "AE503D", "registration": "09-0540", "age": {"date": "Dec 2010"}}},
        "owner": {"name": "United States - Air Force"}, "airline": {"name": "United States - US Air Force (USAF)"},
        "track": [{"latitude": 3.1, "longitude": 101.5, "altitude": {"feet": 900}, "speed": {"kts": 230},
                   "heading": 329, "timestamp": 1659425766}]}}}}}
    (tmp_path / "2ce4f83f.json").write_text(json.dumps(data))
    who = identity_by_object(read_logs(tmp_path / "2ce4f83f.json").points).iloc[0]
    assert who[["registration", "type_code", "type_desc", "operator", "year"]].tolist() == [
        "09-0540", "B737", "Boeing C-40C", "United States - US Air Force (USAF)", "2010"]


BUZZFEED_HEADER = '"adshex","reg","name","name2","type","squawk","latitude","longitude","altitude","heading","timestamp"\n'


def write_buzzfeed_like(path: Path, *, minutes: int = 60) -> Path:
    """A log in the BuzzFeed 2016 convention files' layout: AA2183 flies straight, orbits over
    downtown Cleveland (1.5 km radius, 3 min a turn) from 20 to 40 min, then flies on; A1B2C3
    (no identity columns filled) flies straight 30 km east. One row per 10 s."""
    rows = []
    lat0, lon0 = 41.4993, -81.6944
    for s in range(0, minutes * 60, 10):
        if 1200 <= s < 2400:
            a = 2 * np.pi * (s - 1200) / 180
            x, y = 1500 * np.sin(a), 1500 * (1 - np.cos(a))
        else:
            x, y = 60.0 * (s - 1200 if s >= 2400 else s - 1200), 0.0
        for hexid, reg, name, name2, typ, dx in (("AA2183", "N752AM", "US DEPARTMENT OF HOMELAND SECURITY",
                                                  "Department of Homeland Security", "AS50", 0.0), ("A1B2C3", "", "", "", "", 30_000.0)):
            if hexid == "A1B2C3":
                x, y = 60.0 * s - 30_000, 5_000.0
            lat = lat0 + y / 111_195
            lon = lon0 + (x + dx) / (111_195 * np.cos(np.radians(lat0)))
            ts = (T0 + pd.Timedelta(seconds=s)).strftime("%Y-%m-%d %H:%M:%S")
            rows.append(f'"{hexid}","{reg}","{name}","{name2}","{typ}","4401",{lat:.6f},{lon:.6f},1500,90,"{ts}"\n')
    path.write_text(BUZZFEED_HEADER + "".join(rows), encoding="utf-8")
    return path


def test_buzzfeed_layout_gives_registration_type_and_operator(tmp_path: Path) -> None:
    points = read_logs(write_buzzfeed_like(tmp_path / "rnc.csv", minutes=2)).points
    who = identity_by_object(points).set_index("object_id")
    assert who.loc["aa2183", ["registration", "type_code", "operator"]].tolist() == ["N752AM", "AS50", "Department of Homeland Security"]
    assert "a1b2c3" not in who.index  # nothing to say from the log


def test_collector_and_join_over_chunks() -> None:
    a = pd.DataFrame({"object_id": ["x", "y"], "registration": [None, "N2"]})
    b = pd.DataFrame({"object_id": ["x"], "registration": ["N1"], "operator": ["Police"]})
    collector = IdentityCollector()
    assert len(list(collector.watch([a, b]))) == 2
    windows = pd.DataFrame({"object_id": ["x", "y", "z"], "window_id": ["1", "2", "3"]})
    joined = join_identity(windows, collector.table())
    assert joined["registration"].tolist()[:2] == ["N1", "N2"] and pd.isna(joined["registration"].iloc[2])
    assert joined["operator"].tolist()[0] == "Police"


def _episodes() -> pd.DataFrame:
    return pd.DataFrame({
        "rank": [1, 2, 3, 4], "object_id": ["a06d34", "aa2183", "3c6444", "~1234ab"], "callsign": [None, None, "DLH4", None],
        "start": [T0] * 4, "end": [T0 + pd.Timedelta("2h")] * 4,
        "lat": [40.6413, 41.4993, 50.11, np.nan], "lon": [-73.7781, -81.6944, 8.68, np.nan]})


def test_add_context_fills_every_contract_column(tmp_path: Path) -> None:
    log = pd.DataFrame({"object_id": ["aa2183"], "type_code": ["AS50"], "operator": ["Department of Homeland Security"]})
    store = tmp_path / "store"
    import_files([write_faa(tmp_path / "faa")], store)
    watch = tmp_path / "watch.txt"
    watch.write_text("HOMELAND # DHS\n")
    episodes = _episodes().sample(frac=1.0, random_state=3)  # rows out of rank order: ranks still hold
    out = add_context(episodes, log, ContextSettings(registry=str(store), watchlist=str(watch)))
    assert set(CONTEXT_COLUMNS) <= set(out.columns)
    by = out.set_index("object_id")
    dhs = by.loc["aa2183"]
    assert out["object_id"].tolist() == ["aa2183", "a06d34", "3c6444", "~1234ab"]  # the watchlisted one first
    assert out["rank"].tolist() == [1, 2, 3, 4]
    assert (dhs["registration"], dhs["type_code"], dhs["operator"]) == ("N752AM", "AS50", "Department of Homeland Security")
    assert dhs["type_desc"] == "AIRBUS HELICOPTERS INC AS350B3" and dhs["year"] == "2008"  # gaps filled from the registry
    assert dhs["identity_source"] == "log+registry:faa+address" and bool(dhs["watchlist"]) and dhs["watchlist_note"] == "DHS"
    assert dhs["place"].endswith("Cleveland, Ohio, US") and dhs["tz"] == "America/New_York"
    assert dhs["local_start"] == "2016-07-18T14:00:00-04:00" and dhs["local_end"] == "2016-07-18T16:00:00-04:00"
    unknown = by.loc["a06d34"]  # only in the registry: owner and type from it
    assert (unknown["registration"], unknown["operator"], unknown["type_desc"]) == ("N123AB", "SMITH JOHN", "CESSNA 182T")
    assert unknown["identity_source"] == "registry:faa+address"
    assert unknown["airport_code"] == "KJFK" and bool(unknown["near_airport"])
    german = by.loc["3c6444"]
    assert german["country"] == "Germany" and pd.isna(german["registration"]) and german["identity_source"] == "address"
    assert german["tz"] == "Europe/Berlin" and german["place_country"] == "DE"
    tisb = by.loc["~1234ab"]
    assert tisb["id_kind"] == "non-icao" and tisb["place"] == "" and tisb["local_start"] == ""


def test_no_registry_exclude_near_airports_and_empty(tmp_path: Path) -> None:
    store = tmp_path / "store"
    import_files([write_faa(tmp_path / "faa")], store)
    out = add_context(_episodes(), pd.DataFrame(), ContextSettings(registry=str(store), use_registry=False,
                                                                   exclude_near_airports_km=2.0))
    assert "a06d34" not in set(out["object_id"])  # 0.0 km from JFK
    assert out["rank"].tolist() == [1, 2, 3]
    assert out.set_index("object_id").loc["aa2183", "identity_source"] == "address"  # no registry: N-number from the address
    empty = add_context(_episodes().iloc[:0], pd.DataFrame())
    assert set(CONTEXT_COLUMNS) <= set(empty.columns) and empty.empty


pytest.importorskip("flightpaths.render")
from test_score_pipeline import LitPixelModel  # noqa: E402

from flightpaths.cli import cli  # noqa: E402
from flightpaths.score import ScoreSettings, score_logs  # noqa: E402


def test_score_gives_each_lead_identity_place_and_local_time(tmp_path: Path) -> None:
    log = write_buzzfeed_like(tmp_path / "rnc.csv")
    settings = ScoreSettings(progress=False, workers=1, context=ContextSettings(registry=str(tmp_path / "none")))
    result = score_logs([log], tmp_path / "out", LitPixelModel(), settings)
    episodes = pd.read_csv(result.outputs["episodes.csv"], dtype=str)
    lead = episodes[episodes["object_id"] == "aa2183"].iloc[0]
    assert (lead["registration"], lead["type_code"], lead["operator"]) == ("N752AM", "AS50", "Department of Homeland Security")
    assert lead["place"].endswith("Cleveland, Ohio, US") and lead["local_start"].endswith("-04:00")
    windows = pd.read_parquet(result.outputs["windows.parquet"])
    assert {"registration", "operator", "tz", "local_start"} <= set(windows.columns)
    assert set(windows.loc[windows["object_id"] == "aa2183", "tz"]) == {"America/New_York"}
    html = result.outputs["tipsheet.html"].read_text(encoding="utf-8")
    assert "registry: none available" in html


def test_score_cli_watchlist_and_bad_watchlist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLIGHTPATHS_DATA", str(tmp_path / "store"))
    log = write_buzzfeed_like(tmp_path / "rnc.csv", minutes=10)
    bad = tmp_path / "bad.txt"
    bad.write_text("ok\n[unclosed\n")
    result = CliRunner().invoke(cli, ["score", str(log), "-o", str(tmp_path / "o"), "--watchlist", str(bad)])
    assert result.exit_code == 1 and "bad.txt, line 2" in result.output
    result = CliRunner().invoke(cli, ["score", str(log), "-o", str(tmp_path / "o"), "--registry", str(tmp_path), "--no-registry"])
    assert result.exit_code == 2


def test_collector_memory_follows_the_objects_not_the_chunks() -> None:
    ids = [f"{i:06x}" for i in range(800)]
    chunks = [pd.DataFrame({"object_id": ids, "registration": [f"N{k}-{i}" if (i + k) % 7 == 0 else None for i in range(800)]})
              for k in range(60)]
    collector = IdentityCollector()
    held = 0
    for _ in collector.watch(chunks):
        held = max(held, sum(len(p) for p in collector._parts))
    assert held <= 4 * len(ids)  # 60 chunks of 800 rows each would be 48,000
    want = pd.concat(chunks).groupby("object_id")["registration"].first()
    got = collector.table().set_index("object_id")["registration"]
    assert got.reindex(want.index).astype(object).where(got.reindex(want.index).notna(), None).tolist() == \
        want.astype(object).where(want.notna(), None).tolist()
