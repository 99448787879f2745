"""Every reader on tiny synthetic files (values checkable by eye) and on real excerpts from
../shared/data (skipped when that folder is absent)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flightpaths.ingest import IngestSettings, parse_columns, read_logs
from flightpaths.ingest.formats import detect_format
from flightpaths.ingest.sources import Source
from flightpaths.errors import InputError
from flightpaths.schema import FT_PER_M, KT_PER_MPS

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples"


def _fmt(path: Path) -> str:
    return detect_format(Source(path)).name


# ---------------------------------------------------------------------------------------------
# synthetic
# ---------------------------------------------------------------------------------------------
def test_aircraft_json_old_and_new_fields_ground_tilde_and_last_position(tmp_path: Path) -> None:
    folder = tmp_path / "history"
    folder.mkdir()
    old = {"now": 1000.0, "aircraft": [
        {"hex": "a1b2c3", "altitude": 5000, "speed": 200, "vert_rate": -64, "track": 90, "flight": "OLD1 ",
         "lat": 40.0, "lon": -75.0, "seen_pos": 2.0},
        {"hex": "d4e5f6", "altitude": 7000},  # no position: counted, not an error
    ]}
    new = {"now": 1030.0, "aircraft": [
        {"hex": "a1b2c3", "alt_baro": 5100, "gs": 201, "baro_rate": 0, "track": 91, "flight": "OLD1",
         "lat": 40.1, "lon": -75.1, "seen_pos": 0.5, "category": "A3", "r": "N1", "t": "B738"},
        {"hex": "~0abc12", "alt_baro": "ground", "gs": 3, "lat": 40.5, "lon": -75.5, "seen_pos": 1.0},
        {"hex": "aabbcc", "lastPosition": {"lat": 41.0, "lon": -76.0, "seen_pos": 100.0}},
    ]}
    (folder / "history_0.json").write_text(json.dumps(old))
    (folder / "history_1.json").write_text(json.dumps(new))
    result = read_logs(folder)
    p = result.points.set_index(["object_id", "time"])
    assert result.report.files == {str(folder / "history_0.json"): "aircraft-json", str(folder / "history_1.json"): "aircraft-json"}
    row = p.loc[("a1b2c3", pd.Timestamp(998, unit="s", tz="UTC"))]
    assert (row["altitude_ft"], row["speed_kt"], row["vrate_fpm"], row["callsign"]) == (5000, 200, -64, "OLD1")
    row = p.loc[("a1b2c3", pd.Timestamp(1029.5, unit="s", tz="UTC"))]
    assert (row["altitude_ft"], row["speed_kt"], row["category"], row["registration"], row["aircraft_type"]) == (5100, 201, "A3", "N1", "B738")
    ground = p.loc["~0abc12"].iloc[0]
    assert bool(ground["on_ground"]) and np.isnan(ground["altitude_ft"])
    last = p.loc["aabbcc"].iloc[0]
    assert (last["lat"], last["lon"], last.name) == (41.0, -76.0, pd.Timestamp(930, unit="s", tz="UTC"))
    assert result.report.dropped == {"no position in this row": 1}


def test_trace_base_plus_offsets_ground_and_new_leg(tmp_path: Path) -> None:
    trace = {"icao": "ABC123", "r": "N123AB", "t": "C172", "timestamp": 1700000000.0, "trace": [
        [0.0, 45.0, 7.0, 3000, 100.0, 90.0, 0, 0, {"flight": "TEST1 ", "squawk": "7000"}, "adsb_icao"],
        [10.5, 45.01, 7.01, 3100, 101.0, 91.0, 0, 64, None, "adsb_icao"],
        [3600.0, 45.5, 7.5, "ground", 10.0, 180.0, 2, None, None, "adsb_icao"],
    ]}
    f = tmp_path / "trace_full_abc123.json"
    f.write_text(json.dumps(trace))
    p = read_logs(f).points
    assert _fmt(f) == "trace"
    assert p["object_id"].unique().tolist() == ["abc123"]
    assert (p["time"] - pd.Timestamp(1700000000, unit="s", tz="UTC")).dt.total_seconds().tolist() == [0.0, 10.5, 3600.0]
    assert p["new_leg"].tolist() == [False, False, True]
    assert p["on_ground"].tolist() == [False, False, True]
    assert p["altitude_ft"].isna().tolist() == [False, False, True]
    assert p["callsign"].tolist() == ["TEST1"] * 3
    assert p["registration"].unique().tolist() == ["N123AB"]


def test_opensky_csv_and_parquet_convert_units(tmp_path: Path) -> None:
    frame = pd.DataFrame({"time": [1526875200, 1526875210], "icao24": ["aa600a", "aa600a"], "lat": [40.0, 40.1],
                          "lon": [-86.0, -86.1], "velocity": [100.0, 101.0], "heading": [320.0, 321.0],
                          "vertrate": [-1.0, 0.0], "callsign": ["UAL1  ", "UAL1  "], "onground": [False, False],
                          "squawk": ["1200", None], "baroaltitude": [1000.0, 1010.0], "geoaltitude": [1100.0, 1110.0],
                          "lastposupdate": [1526875199.5, 1526875209.5]})
    csv, parquet = tmp_path / "states.csv", tmp_path / "states.parquet"
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet)
    for f in (csv, parquet):
        p = read_logs(f).points
        assert _fmt(f) == "opensky"
        assert p["altitude_ft"].tolist() == pytest.approx([1000 * FT_PER_M, 1010 * FT_PER_M])
        assert p["speed_kt"].tolist() == pytest.approx([100 * KT_PER_MPS, 101 * KT_PER_MPS])
        assert p["vrate_fpm"].iloc[0] == pytest.approx(-196.85, abs=0.01)
        assert p["time"].iloc[0] == pd.Timestamp(1526875199.5, unit="s", tz="UTC")  # lastposupdate
        assert p["callsign"].tolist() == ["UAL1", "UAL1"]


def test_fr24_csv_splits_position_and_uses_callsign_as_id(tmp_path: Path) -> None:
    f = tmp_path / "flight.csv"
    f.write_text('Timestamp,UTC,Callsign,Position,Altitude,Speed,Direction\n'
                 '1513230223,2017-12-14T05:43:43Z,KLM98C,"43.659523,1.332577",2905,158,321\n'
                 '1513230229,2017-12-14T05:43:49Z,KLM98C,"43.661671,1.330206",3012,170,321\n'
                 '1513230238,2017-12-14T05:43:58Z,KLM98C,"north pole",3203,180,321\n')
    r = read_logs(f)
    assert _fmt(f) == "fr24"
    assert r.points[["object_id", "lat", "lon", "altitude_ft"]].values.tolist() == [
        ["klm98c", 43.659523, 1.332577, 2905.0], ["klm98c", 43.661671, 1.330206, 3012.0]]
    assert "flight.csv:4: column '_lat': 'north pole' is not a number" in r.report.summary()


def test_fr24_granular_hex_times_and_no_fix(tmp_path: Path) -> None:
    f = tmp_path / "granular.csv"
    f.write_text("network_time,receiver_time,hex,callsign,latitude,longitude,no_position,altitude,squawk,speed,track,vspeed,on_ground,flags,position_class,,,\n"
                 "2024-01-02 07:41:03Z.515,2024-01-02 07:41:02Z.997,0x8467d8,JAL516,41.57648,141.66208,P,26650,416,401,192,1728,A,4,ADS-B,P:8,S:ADS-B\n"
                 "2024-01-02 07:41:04Z.000,2024-01-02 07:41:03Z.997,0x8467d8,JAL516,0,0,,26650,416,401,192,1728,A,4,ADS-B\n")
    r = read_logs(f)
    assert _fmt(f) == "fr24-granular"
    p = r.points
    assert p["object_id"].tolist() == ["8467d8"]
    assert p["time"].iloc[0] == pd.Timestamp("2024-01-02 07:41:03.515", tz="UTC")
    assert p["on_ground"].tolist() == [False]
    assert r.report.dropped == {"position 0,0 (no fix)": 1}


def test_fr24_json_track(tmp_path: Path) -> None:
    data = {"result": {"response": {"data": {"flight": {
        "identification": {"callsign": "SPAR19"},
        "aircraft": {"model": {"code": "B737"}, "identification": {"modes": "AE503D", "registration": "09-0540"}},
        "track": [{"latitude": 3.1, "longitude": 101.5, "altitude": {"feet": 0}, "speed": {"kts": 23},
                   "verticalSpeed": {"fpm": 0}, "heading": 329, "squawk": "2127", "timestamp": 1659425766}],
    }}}}}
    f = tmp_path / "2ce4f83f.json"
    f.write_text(json.dumps(data))
    p = read_logs(f).points
    assert _fmt(f) == "fr24-json"
    assert p[["object_id", "callsign", "lat", "speed_kt", "squawk", "registration"]].values.tolist() == [
        ["ae503d", "SPAR19", 3.1, 23.0, "2127", "09-0540"]]


def test_traffic_json_gz_and_csv(tmp_path: Path) -> None:
    records = [{"timestamp": 1515748470000, "icao24": "39b415", "latitude": 41.89, "longitude": 8.77,
                "groundspeed": 158, "track": -47, "vertical_rate": 1920, "callsign": "CALIBRA", "altitude": 1000}]
    f = tmp_path / "flight.json.gz"
    f.write_bytes(gzip.compress(json.dumps(records).encode()))
    p = read_logs(f).points
    assert _fmt(f) == "traffic"
    assert p["time"].iloc[0] == pd.Timestamp("2018-01-12 09:14:30", tz="UTC")
    assert p[["object_id", "altitude_ft", "speed_kt", "callsign"]].values.tolist() == [["39b415", 1000.0, 158.0, "CALIBRA"]]
    c = tmp_path / "flight.csv"
    c.write_text("timestamp,icao24,latitude,longitude,altitude\n2018-01-12 09:14:30+00:00,39b415,41.89,8.77,1000\n")
    assert read_logs(c).points["time"].iloc[0] == pd.Timestamp("2018-01-12 09:14:30", tz="UTC")
    q = tmp_path / "flight.parquet"
    pd.DataFrame(records).assign(timestamp=pd.Timestamp("2018-01-12 09:14:30", tz="UTC")).to_parquet(q)
    assert _fmt(q) == "traffic"
    assert read_logs(q).points[["object_id", "time", "speed_kt"]].values.tolist() == [
        ["39b415", pd.Timestamp("2018-01-12 09:14:30", tz="UTC"), 158.0]]


def test_generic_csv_with_mapping_units_and_epoch_guess() -> None:
    f = REPO / "tests" / "data" / "ingest" / "positions.csv"
    cols = parse_columns("id=ID,time=Stamp,lat=Y,lon=X,altitude=Height_m:m,speed=Vel:mps,track=Heading,callsign=Who")
    p = read_logs(f, settings=IngestSettings(columns=cols)).points
    assert p["object_id"].tolist() == ["a1b2c3", "a1b2c3", "d4e5f6"]
    assert p["altitude_ft"].iloc[0] == pytest.approx(1000 * FT_PER_M)
    assert p["speed_kt"].iloc[0] == pytest.approx(100 * KT_PER_MPS)
    # epoch seconds and milliseconds are told apart per value by magnitude
    assert p["time"].tolist() == [pd.Timestamp(1714564800 + s, unit="s", tz="UTC") for s in (0, 60, 0)]


def test_column_mapping_errors_name_the_problem() -> None:
    with pytest.raises(InputError, match="unknown field 'altitud'"):
        parse_columns("altitud=alt")
    with pytest.raises(InputError, match="unknown unit 'furlongs' for 'altitude'; choose from ft, m"):
        parse_columns("altitude=alt:furlongs")
    with pytest.raises(InputError, match="'idadshex' is not FIELD=COLUMN"):
        parse_columns("idadshex")
    f = REPO / "tests" / "data" / "ingest" / "positions.csv"
    with pytest.raises(InputError, match="mapped column.*time=nope"):
        read_logs(f, settings=IngestSettings(fmt="csv", columns={"id": "ID", "time": "nope", "lat": "Y", "lon": "X"}))


def test_balabit_and_delbot_screen_tracks(tmp_path: Path) -> None:
    session = tmp_path / "user7" / "session_0001"
    session.parent.mkdir()
    session.write_text("record timestamp,client timestamp,button,state,x,y\n"
                       "0.0,0.0,NoButton,Move,100,200\n0.5,0.4,NoButton,Move,65535,200\n"
                       "1.0,0.9,Left,Pressed,110,210\n1.25,1.2,Left,Released,110,210\n")
    r = read_logs(session)
    p = r.points
    assert _fmt(session) == "balabit"
    assert p[["object_id", "x", "y", "button", "state"]].values.tolist() == [
        ["session_0001", 100.0, 200.0, "NoButton", "Move"], ["session_0001", 110.0, 210.0, "Left", "Pressed"],
        ["session_0001", 110.0, 210.0, "Left", "Released"]]
    assert p["lat"].isna().all()
    assert (p["time"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds().tolist() == [0.0, 1.0, 1.25]
    assert r.report.dropped == {"mouse glitch (x or y = 65535)": 1}
    delbot = tmp_path / "circles_bot_x" / "circleHide_1663858537279.txt"
    delbot.parent.mkdir()
    delbot.write_text("resolution:1536,864\n85431.1,Pressed,679,281\n85614,Move,673,281\n85630,Released,670,282\n")
    d = read_logs(delbot).points
    assert _fmt(delbot) == "delbot"
    assert d["object_id"].unique().tolist() == ["circlehide_1663858537279"]  # the folder (the label) is not in the id
    assert d["state"].tolist() == ["Pressed", "Move", "Released"]
    assert d["source_line"].tolist() == [2, 3, 4]
    assert d["time"].iloc[0] == pd.Timestamp(85.4311, unit="s", tz="UTC")


def test_mixed_formats_in_one_call(tmp_path: Path) -> None:
    sbs = REPO / "tests" / "data" / "ingest" / "good.sbs"
    traffic = tmp_path / "t.json"
    traffic.write_text(json.dumps([{"timestamp": 1515748470000, "icao24": "39b415", "latitude": 41.89, "longitude": 8.77}]))
    r = read_logs([sbs, traffic])
    assert sorted(r.report.files.values()) == ["sbs", "traffic"]
    assert r.report.objects == 3
    assert "formats: sbs (1), traffic (1)" in r.report.summary()


# ---------------------------------------------------------------------------------------------
# real data (../shared/data), small excerpts
# ---------------------------------------------------------------------------------------------
def _excerpt(src: Path, dst: Path, lines: int) -> Path:
    with open(src, "rb") as fh:
        dst.write_bytes(b"".join(fh.readline() for _ in range(lines)))
    return dst


@pytest.mark.realdata
def test_real_sbs_japan_crlf_and_zero_hex(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "adsb/logs/sbs1/ADSB-vertical-slicer/adsb202201082242.csv"
    r = read_logs(_excerpt(src, tmp_path / "japan.csv", 16000), settings=IngestSettings(tz="Asia/Tokyo"))
    assert r.report.files[str(tmp_path / "japan.csv")] == "sbs"
    p = r.points
    assert "000000" not in set(p["object_id"])  # the file's 000000 lines are MSG,7: ignored with the other MSG,5/7/8
    assert p["lat"].between(30, 40).all() and p["lon"].between(130, 145).all()
    assert p["speed_kt"].notna().mean() > 0.9
    assert p["time"].min() == pd.Timestamp("2022-01-08 13:42:15.605", tz="UTC")  # 22:42 JST


@pytest.mark.realdata
def test_real_sbs_perth_ids_and_no_timestamps(shared_data: Path) -> None:
    r = read_logs(shared_data / "adsb/logs/sbs1/latlonAlt2AzEl/adsbold.txt")
    assert len(r.points) > 100 and r.points["lat"].lt(-30).all()
    assert r.points["callsign"].notna().any()
    n = read_logs(shared_data / "adsb/logs/sbs1/adsb-dlozeve/adsb.csv")
    assert len(n.points) == 0 and "no timestamp (SBS fields 7-10 empty)" in n.report.dropped


@pytest.mark.realdata
def test_real_aircraft_json_series_and_modern_snapshot(shared_data: Path) -> None:
    r = read_logs(shared_data / "adsb/logs/aircraft_json/ATC-Station/history")
    assert set(r.report.files.values()) == {"aircraft-json"}
    assert r.report.objects > 5 and r.report.dropped.get("duplicate row", 0) > 0
    modern = read_logs(shared_data / "adsb/logs/aircraft_json/OverIrvine/aircraft.json").points
    assert modern["object_id"].str.startswith("~").any()
    assert modern["on_ground"].fillna(False).any()


@pytest.mark.realdata
def test_real_trace_and_fr24(shared_data: Path) -> None:
    t = read_logs(shared_data / "adsb/traffic-samples/readsb/trace_full_ac671b.json").points
    assert len(t) == 2500 and t["new_leg"].sum() >= 1 and t["time"].is_monotonic_increasing
    j = read_logs(shared_data / "adsb/traffic-samples/fr24/2ce4f83f.json").points
    assert j["object_id"].unique().tolist() == ["ae503d"]
    c = read_logs(shared_data / "adsb/logs/fr24/20171214_KL1300_(fd43298).csv").points
    assert c["object_id"].unique().tolist() == ["klm98c"] and len(c) > 100


@pytest.mark.realdata
def test_real_fr24_granular_and_opensky(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "adsb/logs/fr24/JL516_Flightradar24_ADS-B_data_granular.csv"
    r = read_logs(_excerpt(src, tmp_path / "granular.csv", 3000))
    assert r.points["object_id"].unique().tolist() == ["8467d8"]
    assert r.report.dropped.get("position 0,0 (no fix)", 0) > 0
    o = read_logs(shared_data / "adsb/logs/opensky/AirDefend-X/opensky.csv")
    assert o.report.files and set(o.report.files.values()) == {"opensky"} and len(o.points) > 50


@pytest.mark.realdata
def test_real_buzzfeed_with_columns_and_auto(shared_data: Path, tmp_path: Path) -> None:
    src = _excerpt(shared_data / "adsb/buzzfeed-2016-conventions/rnc.csv", tmp_path / "rnc.csv", 500)
    cols = parse_columns("id=adshex,time=timestamp,lat=latitude,lon=longitude,altitude=altitude,track=heading,"
                         "callsign=name,registration=reg,type=type,squawk=squawk")
    p = read_logs(src, settings=IngestSettings(columns=cols)).points
    assert p["object_id"].str.fullmatch(r"[0-9a-f]{6}").all()
    assert p["registration"].notna().all()
    auto = read_logs(src).points
    assert len(auto) == len(p)


@pytest.mark.realdata
def test_real_mouse(shared_data: Path, tmp_path: Path) -> None:
    users = sorted((shared_data / "mouse/balabit/training_files").glob("user*/session_*"))
    src = _excerpt(users[0], tmp_path / users[0].name, 3000)
    p = read_logs(src).points
    assert p["x"].notna().all() and p["lat"].isna().all() and set(p["state"]) <= {"Move", "Pressed", "Released", "Drag", "Up", "Down"}
    delbot = sorted((shared_data / "mouse/delbot").glob("circles_human_*/*.txt"))[0]
    assert read_logs(delbot).report.files[str(delbot)] == "delbot"


@pytest.mark.realdata
def test_real_traffic_samples(shared_data: Path) -> None:
    r = read_logs(shared_data / "adsb/traffic-samples/calibration/kota_kinabalu.json.gz")
    assert r.report.files and set(r.report.files.values()) == {"traffic"}
    assert r.report.objects == 1 and len(r.points) > 100


def test_shipped_samples_read_cleanly() -> None:
    files = sorted(SAMPLES.glob("**/*.json.gz"))
    if not files:
        pytest.skip("no shipped samples in data/samples")
    r = read_logs(SAMPLES)
    assert {v for k, v in r.report.files.items() if k.endswith(".json.gz")} == {"traffic"}
    assert r.report.objects >= len(files)
