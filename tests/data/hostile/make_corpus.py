"""Write the hostile corpus: small malformed logs, each with its expected outcome in manifest.json.

Run from the repository root: ``python tests/data/hostile/make_corpus.py``. Every file is a
known-good log of a few points (counted by hand below) with one damage applied; the manifest
says how many points must be kept ("kept"), how many objects ("objects", where it matters), or
that the file must be skipped with a named reason ("skipped"). Large inputs (a 100k-column CSV,
an expanding gzip) are made at test time instead (tests/test_hostile.py).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

SBS = (
    "MSG,1,1,1,4CA2D6,1,2024/05/01,12:00:00.000,2024/05/01,12:00:00.000,RYR1AB  ,,,,,,,,0,0,0,0\n"
    "MSG,3,1,1,4CA2D6,1,2024/05/01,12:00:01.000,2024/05/01,12:00:01.000,,3000,,,51.50000,-0.10000,,,0,0,0,0\n"
    "MSG,3,1,1,4CA2D6,1,2024/05/01,12:00:05.000,2024/05/01,12:00:05.000,,3100,,,51.50100,-0.09800,,,0,0,0,0\n"
    "MSG,3,1,1,3C6444,1,2024/05/01,12:00:02.000,2024/05/01,12:00:02.000,,5000,,,48.10000,11.50000,,,0,0,0,0\n"
    "MSG,3,1,1,3C6444,1,2024/05/01,12:00:06.000,2024/05/01,12:00:06.000,,5100,,,48.09900,11.50000,,,0,0,0,0\n"
)  # 4 points, 2 objects
CSV = ("adshex,timestamp,latitude,longitude,callsign\n"
       "abc123,1714564800,40.10,-73.20,N917PD\n"
       "abc123,1714564860,40.11,-73.21,N917PD\n"
       "abc123,1714564920,40.12,-73.22,N917PD\n")  # 3 points
OPENSKY = ("time,icao24,lat,lon,velocity,heading,vertrate,callsign,onground,baroaltitude\n"
           "1714564800,abc123,40.10,-73.20,100,90,0,N917PD,False,1000\n"
           "1714564860,abc123,40.11,-73.21,100,90,0,N917PD,False,1000\n"
           "1714564920,abc123,40.12,-73.22,100,90,0,N917PD,False,1000\n")
FR24 = ('Timestamp,UTC,Callsign,Position,Altitude,Speed,Direction\n'
        '1714564800,2024-05-01T12:00:00Z,N917PD,"40.10,-73.20",1000,100,90\n'
        '1714564860,2024-05-01T12:01:00Z,N917PD,"40.11,-73.21",1000,100,90\n'
        '1714564920,2024-05-01T12:02:00Z,N917PD,"40.12,-73.22",1000,100,90\n')
_REC = [{"timestamp": 1714564800000 + 60000 * i, "icao24": "abc123", "latitude": 40.1 + 0.01 * i,
         "longitude": -73.2 - 0.01 * i, "altitude": 1000, "callsign": "N917PD"} for i in range(3)]
TRAFFIC = json.dumps(_REC) + "\n"
TRAFFIC_COLUMNS = json.dumps({k: {str(i): r[k] for i, r in enumerate(_REC)} for k in _REC[0]}) + "\n"
AIRCRAFT = json.dumps({"now": 1714564800.0, "aircraft": [
    {"hex": "abc123", "lat": 40.1, "lon": -73.2, "alt_baro": 1000, "seen_pos": 1.0, "flight": "N917PD  "},
    {"hex": "def456", "lat": 41.1, "lon": -72.2, "alt_baro": 2000, "seen_pos": 0.5},
    {"hex": "aaa111"}]}) + "\n"  # 2 points
TRACE = json.dumps({"icao": "abc123", "timestamp": 1714564800, "trace": [
    [0, 40.1, -73.2, 1000, 100, 90, 0, 0, {"flight": "N917PD"}], [60, 40.11, -73.21, 1000, 100, 90, 0, 0, None],
    [120, 40.12, -73.22, 1000, 100, 90, 0, 0, None]]}) + "\n"  # 3 points

BASES = {  # name: (text, points, table format with a time column?)
    "sbs": (SBS, 4, False), "csv": (CSV, 3, True), "opensky": (OPENSKY, 3, True), "fr24": (FR24, 3, True),
    "traffic": (TRAFFIC, 3, False), "traffic_columns": (TRAFFIC_COLUMNS, 3, False),
    "aircraft": (AIRCRAFT, 2, False), "trace": (TRACE, 3, False),
}
SUFFIX = {"sbs": ".sbs", "csv": ".csv", "opensky": ".csv", "fr24": ".csv", "traffic": ".json",
          "traffic_columns": ".json", "aircraft": ".json", "trace": ".json"}


def _bad_time(name: str, text: str) -> str:
    """One more row whose time is not a time (the other rows must all be kept)."""
    lines = text.splitlines(keepends=True)
    row = lines[2]
    bad = {"csv": row.replace("1714564860", "not-a-time"), "opensky": row.replace("1714564860", "xx"),
           "fr24": row.replace("1714564860", "noon")}[name]
    return "".join(lines[:2] + [bad] + lines[2:])


def corpus() -> dict[str, tuple[bytes, dict]]:
    """file name -> (bytes, expected outcome)."""
    out: dict[str, tuple[bytes, dict]] = {}
    for name, (text, n, table) in BASES.items():
        raw = text.encode("utf-8")
        sfx = SUFFIX[name]
        out[f"{name}_bom{sfx}"] = (b"\xef\xbb\xbf" + raw, {"kept": n})
        out[f"{name}_utf16{sfx}"] = (text.encode("utf-16"), {"kept": n})
        out[f"{name}_utf16be_nobom{sfx}"] = (text.encode("utf-16-be"), {"kept": n})
        out[f"{name}_cr_only{sfx}"] = (raw.replace(b"\n", b"\r"), {"kept": n})
        out[f"{name}_nul_block{sfx}"] = (b"\x00" * 4096 + raw, {"kept": n})
        out[f"{name}_gzip_trailing{sfx}.gz"] = (gzip.compress(raw, mtime=0) + b"copied-by-a-tool" * 8, {"kept": n})
        out[f"{name}_gzip_zero_padding{sfx}.gz"] = (gzip.compress(raw, mtime=0) + b"\x00" * 512, {"kept": n})
        if table:
            out[f"{name}_bad_time{sfx}"] = (_bad_time(name, text).encode("utf-8"), {"kept": n, "dropped_min": 1})
            out[f"{name}_long_callsign{sfx}"] = (raw.replace(b"N917PD", b"N" * 5000, 1), {"kept": n})
    sbs = SBS.encode()
    lines = sbs.splitlines(keepends=True)
    out["sbs_nul_mid_line.sbs"] = (b"".join(lines[:2]) + lines[2][:40] + b"\x00" * 300 + b"".join(lines[3:]),
                                   {"kept": 3, "dropped_min": 1})
    out["sbs_crlf_bom_utf16le.sbs"] = (b"\xff\xfe" + SBS.replace("\n", "\r\n").encode("utf-16-le"), {"kept": 4})
    out["sbs_no_newline_at_all.sbs"] = (b"MSG," + b"9" * 200_000, {"kept": 0, "skipped": True})
    out["empty.sbs"] = (b"", {"kept": 0, "skipped": True})
    out["only_nuls.sbs"] = (b"\x00" * 8192, {"kept": 0, "skipped": True})
    out["binary.bin"] = (bytes(range(256)) * 64, {"kept": 0, "skipped": True})
    out["not_gzip_after_magic.sbs.gz"] = (b"\x1f\x8b" + b"\xff" * 100, {"kept": 0, "skipped": True})
    deep = "[" * 5000 + "]" * 5000
    out["aircraft_deep_nesting.json"] = (('{"now": 1714564800, "aircraft": [' + deep + "]}").encode(), {"kept": 0, "skipped": True})
    out["traffic_deep_nesting.json"] = (('[{"icao24": "abc123", "latitude": 1, "timestamp": 1, "x": ' + deep + "}]").encode(),
                                        {"kept": 0, "skipped": True})
    trace = json.loads(TRACE)
    trace["trace"][1][8] = {"flight": "XX"}
    surrogate = json.dumps(trace).replace('"XX"', '"\\ud800AB"')
    out["trace_lone_surrogate.json"] = (surrogate.encode(), {"kept": 3})
    out["csv_duplicate_headers.csv"] = (
        ("adshex,timestamp,latitude,longitude," + ",".join(["x"] * 3000) + "\n"
         + "\n".join(f"abc123,{1714564800 + 60 * i},40.1{i},-73.2{i}," + "," * 2999 for i in range(3)) + "\n").encode(),
        {"kept": 3})
    out["csv_ids_differ_in_case.csv"] = (
        b"id,time,lat,lon\nHeli-1,1714564800,40.1,-73.2\nheli-1,1714564800,41.1,-72.2\nHELI-1,1714564800,42.1,-71.2\n",
        {"kept": 3, "objects": 3, "columns": "id=id,time=time,lat=lat,lon=lon"})
    out["csv_ids_made_safe_collide.csv"] = (
        b"id,time,lat,lon\na/b,1714564800,40.1,-73.2\na_b,1714564800,41.1,-72.2\nA_B,1714564800,42.1,-71.2\n",
        {"kept": 3, "objects": 3, "columns": "id=id,time=time,lat=lat,lon=lon"})
    out["csv_mixed_time_forms.csv"] = (
        (b"adshex,timestamp,latitude,longitude\nabc123,1714564800,40.1,-73.2\nabc123,2024-05-01T12:01:00Z,40.2,-73.3\n"
        b"abc123,1714564920000,40.3,-73.4\nabc123,yesterday,40.4,-73.5\n"), {"kept": 3, "dropped_min": 1})
    out["traffic_columns_bad_time.json"] = (
        TRAFFIC_COLUMNS.replace('"1": 1714564860000', '"1": "soon"').encode(), {"kept": 2, "dropped_min": 1})
    out["traffic_split_layout.json"] = (json.dumps({"columns": list(_REC[0]), "index": [0, 1, 2],
                                                    "data": [list(r.values()) for r in _REC]}).encode(), {"kept": 3})
    out["aircraft_control_chars.json"] = (AIRCRAFT.replace("N917PD  ", "N9\\u001b[31m17PD").encode(), {"kept": 2})
    out.update(_third_pass())
    return out


def _third_pass() -> dict[str, tuple[bytes, dict]]:
    """A third hostile pass: absurd and wrong-typed times in each reader, mixed line ends and
    encodings, duplicate columns in each table format, infinite numbers, near-empty files."""
    one_bad = {"dropped_min": 1}
    sbs_lines = SBS.splitlines(keepends=True)
    stamp5 = "2024/05/01,12:00:05.000,2024/05/01,12:00:05.000"
    row = {"opensky": "1714564860,abc123,40.11,", "fr24": "1714564860,2024-05-01T12:01:00Z"}
    items: dict[str, tuple[str | bytes, dict]] = {
        "opensky_nan_time.csv": (OPENSKY.replace(row["opensky"], "NaN,abc123,40.11,"), {"kept": 2, **one_bad}),
        "opensky_huge_time.csv": (OPENSKY.replace(row["opensky"], "9" * 23 + ",abc123,40.11,"), {"kept": 2, **one_bad}),
        "fr24_negative_time.csv": (FR24.replace(row["fr24"], "-1714564860,-2024-05-01T12:01:00Z"), {"kept": 2, **one_bad}),
        "sbs_year_99999.sbs": (SBS.replace(stamp5, stamp5.replace("2024", "99999")), {"kept": 3, **one_bad}),
        "sbs_negative_time.sbs": (SBS.replace(stamp5, stamp5.replace("12:00", "-12:00")), {"kept": 3, **one_bad}),
        "traffic_time_object.json": (TRAFFIC.replace("1714564860000", '{"t": 1}', 1), {"kept": 2, **one_bad}),
        "traffic_time_nan_string.json": (TRAFFIC.replace("1714564860000", '"NaN"', 1), {"kept": 2, **one_bad}),
        "trace_entry_not_a_list.json": (TRACE.replace("[60, 40.11, -73.21, 1000, 100, 90, 0, 0, null]", '"oops"'),
                                        {"kept": 2, **one_bad}),
        "trace_entry_time_string.json": (TRACE.replace("[60, 40.11", '["x", 40.11'), {"kept": 2, **one_bad}),
        "trace_icao_not_a_string.json": (TRACE.replace('"icao": "abc123"', '"icao": ["abc123"]'), {"kept": 0, "skipped": True}),
        "trace_huge_timestamp.json": (TRACE.replace('"timestamp": 1714564800', '"timestamp": 1e300'), {"kept": 0, "skipped": True}),
        "aircraft_now_infinite.json": (AIRCRAFT.replace('"now": 1714564800.0', '"now": 1e999'), {"kept": 0, "skipped": True}),
        "aircraft_now_string.json": (AIRCRAFT.replace('"now": 1714564800.0', '"now": "abc"'), {"kept": 0, "skipped": True}),
        "aircraft_entries_not_objects.json": (json.dumps({"now": 1714564800.0, "aircraft": [
            1, "x", None, [], {"hex": "abc123", "lat": 40.1, "lon": -73.2}]}), {"kept": 1, **one_bad}),
        "aircraft_absurd_numbers.json": (AIRCRAFT.replace('"alt_baro": 1000', '"alt_baro": 1e400, "gs": -1e12, "track": NaN'),
                                         {"kept": 2}),
        "opensky_infinite_speed.csv": (OPENSKY.replace("40.11,-73.21,100,", "40.11,-73.21,inf,").replace(",N917PD,False,1000\n1714564920",
                                       ",N917PD,False,1e300\n1714564920"), {"kept": 3}),
        "sbs_absurd_altitude.sbs": (SBS.replace(",,3100,,,", ",,1e300,,,"), {"kept": 4}),
        "sbs_latin1_callsign.sbs": (SBS.encode().replace(b"RYR1AB  ", b"R\xe9R1AB  "), {"kept": 4}),
        "sbs_utf32.sbs": (SBS.encode("utf-32"), {"kept": 4}),
        "sbs_utf32be.sbs": (b"\x00\x00\xfe\xff" + SBS.encode("utf-32-be"), {"kept": 4}),
        "sbs_mixed_line_ends.sbs": (sbs_lines[0] + sbs_lines[1].replace("\n", "\r") + sbs_lines[2].replace("\n", "\r\n")
                                    + sbs_lines[3].replace("\n", "\r") + sbs_lines[4], {"kept": 4}),
        "csv_mixed_line_ends.csv": (CSV.replace("\n", "\r", 2).replace("N917PD\n", "N917PD\r\n", 1), {"kept": 3}),
        "csv_utf16be_bom_cr_only.csv": (b"\xfe\xff" + CSV.replace("\n", "\r").encode("utf-16-be"), {"kept": 3}),
        "csv_bom_inside_gzip.csv.gz": (gzip.compress(b"\xef\xbb\xbf" + CSV.encode(), mtime=0), {"kept": 3}),
        "opensky_duplicate_lat.csv": (OPENSKY.replace("lat,lon", "lat,lat,lon").replace(",40.1", ",40.1,40.1")
                                      .replace(",40.1,40.11", ",40.11,40.11").replace(",40.1,40.12", ",40.12,40.12"), {"kept": 3}),
        "fr24_duplicate_columns.csv": (FR24.replace("Altitude,Speed", "Altitude,Altitude"), {"kept": 3}),
        "traffic_duplicate_keys.json": (TRAFFIC.replace('"latitude": 40.1,', '"latitude": 40.1, "latitude": "x",', 1),
                                        {"kept": 2, **one_bad}),
        "sbs_10k_fields.sbs": (sbs_lines[0] + sbs_lines[1].rstrip("\n") + "," * 10000 + "\n" + "".join(sbs_lines[2:]),
                               {"kept": 3, **one_bad}),
        "sbs_double_gzip.sbs.gz": (gzip.compress(gzip.compress(SBS.encode(), mtime=0), mtime=0), {"kept": 0, "skipped": True}),
        "only_bom.sbs": (b"\xef\xbb\xbf", {"kept": 0, "skipped": True}),
        "only_line_ends.sbs": ("\n\r\n\r" * 100, {"kept": 0, "skipped": True}),
        "csv_header_only.csv": ("adshex,timestamp,latitude,longitude\n", {"kept": 0}),
    }
    return {name: (data if isinstance(data, bytes) else data.encode("utf-8"), expected) for name, (data, expected) in items.items()}


def main() -> None:
    manifest = {}
    for name, (data, expected) in sorted(corpus().items()):
        (HERE / name).write_bytes(data)
        manifest[name] = expected
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(manifest)} files and manifest.json to {HERE}")


if __name__ == "__main__":
    main()
