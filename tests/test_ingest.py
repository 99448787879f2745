"""Ingest core: the registry, detection, SBS parsing and merging, and the bad-input corpus."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import flightpaths.ingest as ingest
from flightpaths.errors import InputError, UnsupportedFormatError
from flightpaths.ingest import FORMATS, IngestSettings, _sbs_blocks, _sbs_common, _sbs_merge, read_logs, read_sbs, register_format
from flightpaths.ingest.formats import detect_format
from flightpaths.ingest.paths import expand_paths
from flightpaths.ingest.sources import Head, Source
from flightpaths.schema import POINT_COLUMNS

CORPUS = Path(__file__).resolve().parent / "data" / "ingest"


def test_public_api_is_explicit_and_sorted() -> None:
    assert ingest.__all__ == sorted(ingest.__all__)
    for name in ("FORMATS", "IngestReport", "IngestResult", "IngestSettings", "read_logs", "read_sbs"):
        assert name in ingest.__all__


def test_registry_refuses_duplicates_and_lists_names_for_unknown() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_format("sbs", description="again", sniff=lambda head: False)(lambda s, st, l: iter(()))
    with pytest.raises(UnsupportedFormatError, match="choose from auto, aircraft-json.*sbs.*traffic"):
        IngestSettings(fmt="bogus")
    assert {"sbs", "aircraft-json", "trace", "opensky", "fr24", "fr24-granular", "fr24-json", "traffic",
            "csv", "balabit", "delbot"} <= set(FORMATS)


def test_settings_reject_bad_values() -> None:
    with pytest.raises(InputError, match="unknown time zone 'Mars/Olympus'"):
        IngestSettings(tz="Mars/Olympus")
    with pytest.raises(InputError, match="merge_tolerance_s"):
        IngestSettings(merge_tolerance_s=0)


def test_good_sbs_merges_velocity_callsign_and_squawk() -> None:
    points = read_sbs(CORPUS / "good.sbs").points
    assert list(points.columns[: len(POINT_COLUMNS)]) == list(POINT_COLUMNS)
    got = points[["object_id", "lat", "lon", "altitude_ft", "speed_kt", "track_deg", "vrate_fpm", "callsign", "squawk", "source_line"]]
    expected = [
        # 3c6444: velocity at 02.3 is nearest to both positions (02.0, 04.0); squawk 7000 from MSG,6 at 02.1
        ["3c6444", 48.1, 11.5, 12000.0, 250.0, 180.0, 0.0, None, "7000", 4],
        ["3c6444", 48.099, 11.5, 12000.0, 250.0, 180.0, 0.0, None, "7000", 9],
        # 4ca2d6: velocity at 01.4 (the one at 09.0 is 6 s away, beyond the 2 s tolerance)
        ["4ca2d6", 51.5, -0.1, 3000.0, 140.0, 90.0, -64.0, "RYR1AB", None, 2],
        ["4ca2d6", 51.501, -0.098, 3025.0, 140.0, 90.0, -64.0, "RYR1AB", None, 7],
    ]
    rows = [[None if v is pd.NA else v for v in row] for row in got.astype(object).values.tolist()]
    assert rows == expected
    assert str(points["time"].dtype) == "datetime64[ns, UTC]"
    assert points["time"].iloc[2] == pd.Timestamp("2024-05-01 12:00:01", tz="UTC")


def test_merge_tolerance_is_a_setting() -> None:
    points = read_sbs(CORPUS / "good.sbs", settings=IngestSettings(merge_tolerance_s=0.1)).points
    assert points["speed_kt"].isna().all()


@pytest.mark.parametrize("name", ["good_crlf.sbs", "good.sbs.gz"])
def test_crlf_and_gzip_read_the_same(name: str) -> None:
    a = read_sbs(CORPUS / "good.sbs").points.drop(columns="source_file")
    b = read_logs(CORPUS / name).points.drop(columns="source_file")
    pd.testing.assert_frame_equal(a, b)


def test_tz_converts_receiver_local_time_to_utc() -> None:
    points = read_sbs(CORPUS / "good.sbs", settings=IngestSettings(tz="Asia/Tokyo")).points
    assert points["time"].min() == pd.Timestamp("2024-05-01 03:00:01", tz="UTC")


def _sbs_lines(points: pd.DataFrame) -> str:
    """A tiny SBS writer (as the simulator writes): MSG,3 position + MSG,4 velocity per point."""
    out = []
    for p in points.itertuples():
        d, t = p.time.strftime("%Y/%m/%d"), p.time.strftime("%H:%M:%S.%f")[:-3]
        head = f"MSG,{{}},1,1,{p.object_id.upper()},1,{d},{t},{d},{t}"
        out.append(head.format(3) + f",{p.callsign},{p.altitude_ft:.0f},,,{p.lat:.6f},{p.lon:.6f},,,0,0,0,0\n")
        out.append(head.format(4) + f",,,{p.speed_kt:.0f},{p.track_deg:.0f},,,{p.vrate_fpm:.0f},,0,0,0,0\n")
    return "".join(out)


def test_sbs_round_trip_gives_the_points_back(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 400
    truth = pd.DataFrame({
        "object_id": np.where(np.arange(n) % 2, "a1b2c3", "0d0e0f"),
        "time": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.arange(n) * 1.5, unit="s"),
        "lat": np.round(rng.uniform(-60, 60, n), 6), "lon": np.round(rng.uniform(-179, 179, n), 6),
        "altitude_ft": rng.integers(0, 40000, n).astype(float), "speed_kt": rng.integers(50, 500, n).astype(float),
        "track_deg": rng.integers(0, 360, n).astype(float), "vrate_fpm": rng.integers(-2000, 2000, n).astype(float),
        "callsign": np.where(np.arange(n) % 2, "ABC123", "XYZ9"),
    })
    log = tmp_path / "sim.sbs"
    log.write_text(_sbs_lines(truth))
    back = read_sbs(log).points
    cols = ["object_id", "time", "lat", "lon", "altitude_ft", "speed_kt", "track_deg", "vrate_fpm", "callsign"]
    expected = truth.sort_values(["object_id", "time"]).reset_index(drop=True)[cols]
    got = back[cols].reset_index(drop=True)
    assert got["object_id"].tolist() == expected["object_id"].tolist()
    assert (got["time"].to_numpy() == expected["time"].to_numpy()).all()
    for col in cols[2:8]:
        np.testing.assert_array_equal(got[col].to_numpy(float), expected[col].to_numpy(float), err_msg=col)
    assert got["callsign"].tolist() == expected["callsign"].tolist()


def test_sbs_streaming_across_blocks_matches_one_block(tmp_path: Path) -> None:
    """Positions near a block boundary still meet their velocity in the next block."""
    from flightpaths.ingest import sbs, sources
    from flightpaths.ingest.ledger import Ledger

    text = (CORPUS / "good.sbs").read_text() * 1
    log = tmp_path / "x.sbs"
    log.write_text(text)
    whole = pd.concat(list(sbs.iter_sbs(Source(log), IngestSettings(), Ledger())))
    original = sources.iter_blocks

    def tiny_blocks(source, *, block_bytes=1 << 24, **kwargs):  # type: ignore[no-untyped-def]
        return original(source, block_bytes=150, **kwargs)

    sbs.iter_blocks = tiny_blocks  # type: ignore[assignment]
    try:
        pieces = pd.concat(list(sbs.iter_sbs(Source(log), IngestSettings(), Ledger())))
    finally:
        sbs.iter_blocks = original  # type: ignore[assignment]
    key = ["object_id", "source_line"]
    pd.testing.assert_frame_equal(whole.sort_values(key).reset_index(drop=True), pieces.sort_values(key).reset_index(drop=True))


# ---------------------------------------------------------------------------------------------
# the bad-input corpus
# ---------------------------------------------------------------------------------------------
def test_truncated_and_wrong_width_lines_are_dropped_and_counted() -> None:
    result = read_logs(CORPUS / "truncated.sbs")
    assert len(result.points) == 2
    assert result.report.dropped == {"wrong number of fields": 3}
    assert "truncated.sbs:3: 15 fields, expected 22" in result.report.summary()
    assert "truncated.sbs:5: 24 fields, expected 22" in result.report.summary()


def test_junk_values_are_dropped_with_file_line_and_field() -> None:
    result = read_logs(CORPUS / "junk.sbs")
    assert result.points["source_line"].tolist() == [1, 6]
    text = result.report.summary()
    assert "junk.sbs:2: column 'lat': 'abc' is not a number" in text
    assert "junk.sbs:3: column 'altitude': '12x' is not a number" in text
    assert "junk.sbs:4: column 'hex_ident': 'zztop!' is not an ICAO hex address" in text
    assert "junk.sbs:5: column 'time_generated'" in text


def test_strict_stops_at_the_first_bad_row() -> None:
    with pytest.raises(InputError) as info:
        read_logs(CORPUS / "junk.sbs", settings=IngestSettings(strict=True))
    assert str(info.value) == "junk.sbs, line 2, column 'lat': 'abc' is not a number" or info.value.line == 2
    assert (Path(info.value.path).name, info.value.line, info.value.column) == ("junk.sbs", 2, "lat")


def test_empty_file_is_a_clear_error_alone_and_a_counted_skip_among_others() -> None:
    with pytest.raises(InputError, match="empty.sbs: empty file"):
        read_logs(CORPUS / "empty.sbs")
    result = read_logs([CORPUS / "empty.sbs", CORPUS / "good.sbs"])
    assert len(result.points) == 4
    assert result.report.files[str(CORPUS / "empty.sbs")] == "skipped: empty file"
    assert "files skipped: empty file (1)" in result.report.summary()


def test_corrupt_gzip_and_binary_junk_never_give_a_traceback() -> None:
    with pytest.raises(InputError, match="corrupt gzip"):
        read_logs(CORPUS / "corrupt.sbs.gz")
    with pytest.raises(UnsupportedFormatError, match="binary data.*supported: aircraft-json"):
        read_logs(CORPUS / "binary_junk.log")
    result = read_logs([CORPUS / "corrupt.sbs.gz", CORPUS / "binary_junk.log", CORPUS / "good.sbs"])
    assert len(result.points) == 4
    assert sum(v.startswith("skipped") for v in result.report.files.values()) == 2


def test_gzip_cut_short_keeps_rows_before_the_break() -> None:
    import zlib

    result = read_logs(CORPUS / "cut_short.sbs.gz")
    readable = zlib.decompressobj(31).decompress((CORPUS / "cut_short.sbs.gz").read_bytes())
    whole_lines = readable.count(b"\n")  # every complete position line before the break
    assert 1000 < whole_lines < 3000
    assert len(result.points) == whole_lines  # the last seconds, still waiting to be merged, too
    assert result.points["source_line"].is_monotonic_increasing
    assert f"cut_short.sbs.gz:{whole_lines + 1}: " in "\n".join(result.report.examples)  # the cut line named
    assert any("cut short" in k for k in result.report.notes)
    with pytest.raises(InputError, match=r"cut_short.sbs.gz, line \d+.*(truncated|fields)"):
        read_logs(CORPUS / "cut_short.sbs.gz", settings=IngestSettings(strict=True))


def test_gzip_cut_within_its_first_64_kib_keeps_rows_before_the_break(tmp_path: Path) -> None:
    """A short gzip log cut off (less content than the format sniff reads) is still read: the
    lines that decompress before the break are kept and the break is named; one that
    decompresses to nothing at all is skipped as corrupt."""
    import zlib

    lines = [f"MSG,3,1,1,4CA2D6,1,2024/05/01,12:{k // 60:02d}:{k % 60:02d}.000,2024/05/01,"
             f"12:{k // 60:02d}:{k % 60:02d}.000,,3000,,,51.{k:04d},-0.1,,,0,0,0,0\n" for k in range(300)]
    packed = gzip.compress("".join(lines).encode())
    cut = tmp_path / "cut.sbs.gz"
    cut.write_bytes(packed[: len(packed) * 2 // 3])
    readable = zlib.decompressobj(31).decompress(cut.read_bytes())
    whole = readable.count(b"\n")
    assert 10 < whole < 300 and len(readable) < 65536
    result = read_logs(cut)
    assert result.report.files[str(cut)] == "sbs"
    assert len(result.points) == whole
    assert any("cut short" in k for k in result.report.notes)
    nothing = tmp_path / "nothing.sbs.gz"
    nothing.write_bytes(packed[:12])
    with pytest.raises(InputError, match="corrupt gzip"):
        read_logs(nothing)


def test_duplicates_impossible_coordinates_and_backwards_time() -> None:
    dup = read_logs(CORPUS / "duplicates.sbs")
    assert len(dup.points) == 2 and dup.report.dropped == {"duplicate row": 2}
    bad = read_logs(CORPUS / "impossible.sbs")
    assert bad.points["source_line"].tolist() == [3]
    assert bad.report.dropped == {"impossible coordinates": 2, "position 0,0 (no fix)": 1}
    assert "impossible.sbs:1: impossible coordinates lat=95.0, lon=-0.1" in bad.report.summary()
    back = read_logs(CORPUS / "backwards.sbs")
    assert back.points["lat"].tolist() == [51.51, 51.52, 51.53]
    assert back.points["time"].is_monotonic_increasing
    assert "time going backwards" in back.report.summary()
    with pytest.raises(InputError, match="impossible.sbs, line 1.*impossible coordinates"):
        read_logs(CORPUS / "impossible.sbs", settings=IngestSettings(strict=True))


def test_hostile_callsign_is_kept_as_plain_text() -> None:
    points = read_logs(CORPUS / "hostile_callsign.sbs").points
    assert points["callsign"].tolist() == ["<script>alert(1)</script>../../etc"]


def test_sbs_without_timestamps_is_explained_not_guessed() -> None:
    result = read_logs(CORPUS / "no_timestamps.sbs")
    assert len(result.points) == 0
    assert result.report.dropped == {"no timestamp (SBS fields 7-10 empty)": 2}


def test_non_msg_lines_are_ignored_not_errors() -> None:
    result = read_logs(CORPUS / "other_lines.sbs", settings=IngestSettings(strict=True))
    assert len(result.points) == 1
    assert "SBS lines other than MSG" in result.report.summary()


def test_wrong_column_counts_in_generic_csv() -> None:
    settings = IngestSettings(columns={"id": "hex", "time": "when", "lat": "latitude", "lon": "longitude", "altitude": "alt"})
    result = read_logs(CORPUS / "wrong_columns.csv", settings=settings)
    assert result.points["source_line"].tolist() == [2, 5]
    assert result.report.dropped == {"wrong number of fields": 2}
    assert "wrong_columns.csv:3: 4 fields, expected 5" in result.report.summary()


def test_detection_is_by_content_not_suffix(tmp_path: Path) -> None:
    odd = tmp_path / "capture.json"  # an SBS log with a misleading suffix, gzipped without .gz
    odd.write_bytes(gzip.compress((CORPUS / "good.sbs").read_bytes()))
    assert detect_format(Source(odd)).name == "sbs"
    assert len(read_logs(odd).points) == 4


def test_unknown_text_format_lists_the_supported_ones(tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("dear diary,\ntoday I saw a plane\n")
    with pytest.raises(UnsupportedFormatError, match=r"unrecognised log format.*supported: .*sbs \(SBS-1"):
        read_logs(f)


def test_globs_and_directories_expand_in_natural_order(tmp_path: Path) -> None:
    for i in (1, 2, 10):
        (tmp_path / f"history_{i}.json").write_text("{}")
    (tmp_path / ".hidden").write_text("x")
    names = [p.name for p in expand_paths([tmp_path])]
    assert names == ["history_1.json", "history_2.json", "history_10.json"]
    assert [p.name for p in expand_paths([str(tmp_path / "history_1*.json")])] == ["history_1.json", "history_10.json"]
    with pytest.raises(InputError, match="no file matches"):
        expand_paths([str(tmp_path / "nothing*.sbs")])
    with pytest.raises(InputError, match="no such file"):
        expand_paths([tmp_path / "missing.sbs"])


def test_head_binary_detection() -> None:
    assert Head(Path("x"), b"\x00\x01\x02" * 100, False).is_binary
    assert not Head(Path("x"), b"MSG,3,1,1\n", False).is_binary
    assert not Head(Path("x"), "caf\u00e9 na\u00efve\n".encode(), False).is_binary


def test_callsign_changes_carry_forward_in_time(tmp_path: Path) -> None:
    def msg(t: int, tm: str, rest: str) -> str:
        return f"MSG,{t},1,1,ABCDEF,1,2024/05/01,{tm},2024/05/01,{tm},{rest}\n"

    log = tmp_path / "change.sbs"
    log.write_text(
        msg(3, "10:00:00.000", ",1000,,,10.0,20.0,,,0,0,0,0")  # before any callsign: the first one seen
        + msg(1, "10:00:01.000", "AAA1,,,,,,,,0,0,0,0")
        + msg(3, "10:00:02.000", ",1000,,,10.1,20.0,,,0,0,0,0")
        + msg(1, "10:00:03.000", "BBB2,,,,,,,,0,0,0,0")
        + msg(3, "10:00:04.000", ",1000,,,10.2,20.0,,,0,0,0,0")
    )
    assert read_sbs(log).points["callsign"].tolist() == ["AAA1", "AAA1", "BBB2"]


def test_control_characters_are_removed_from_text(tmp_path: Path) -> None:
    log = tmp_path / "ctl.sbs"
    log.write_bytes(b"MSG,1,1,1,ABCDEF,1,2024/05/01,10:00:00.000,2024/05/01,10:00:00.000,EVIL\x1b[31m\x07,,,,,,,,0,0,0,0\n"
                    b"MSG,3,1,1,ABCDEF,1,2024/05/01,10:00:01.000,2024/05/01,10:00:01.000,,1000,,,10.0,20.0,,,0,0,0,0\n")
    assert read_sbs(log).points["callsign"].tolist() == ["EVIL[31m"]


def test_a_file_that_breaks_its_reader_is_skipped_with_a_message(tmp_path: Path) -> None:
    bad = tmp_path / "trace_full_x.json"
    bad.write_text('{"icao": "abc123", "timestamp": 1, "trace": 5}')  # trace is not a list
    good = CORPUS / "good.sbs"
    result = read_logs([bad, good])
    assert len(result.points) == 4
    assert result.report.files[str(bad)].startswith("skipped:")
    with pytest.raises(InputError, match="trace_full_x.json"):
        read_logs([bad, good], settings=IngestSettings(strict=True))


def test_zero_address_positions_are_dropped_and_counted(tmp_path: Path) -> None:
    log = tmp_path / "zero.sbs"
    log.write_text("MSG,3,1,1,000000,1,2024/05/01,10:00:01.000,2024/05/01,10:00:01.000,,1000,,,10.0,20.0,,,0,0,0,0\n"
                   "MSG,3,1,1,ABCDEF,1,2024/05/01,10:00:01.000,2024/05/01,10:00:01.000,,1000,,,10.0,20.0,,,0,0,0,0\n")
    result = read_sbs(log)
    assert result.points["object_id"].tolist() == ["abcdef"]
    assert result.report.dropped == {"address 000000 (no ICAO address)": 1}


# ---------------------------------------------------------------------------------------------
# the compiled reader (numba, a dependency) and the pyarrow reader that runs without it
# ---------------------------------------------------------------------------------------------
def test_compiled_and_pyarrow_readers_give_the_same_points_and_report(monkeypatch: pytest.MonkeyPatch) -> None:

    assert _sbs_common.scanner() is not None, "numba is a dependency: the compiled scanner must load"
    repo = Path(__file__).resolve().parent.parent
    files = [repo / "data" / "sim" / "score" / "sim.sbs.gz", *sorted(CORPUS.glob("*.sbs"))]
    fast = read_logs(files)
    monkeypatch.setattr(_sbs_common, "_SCAN", None)
    slow = read_logs(files)
    assert len(fast.points) > 10_000 and fast.points["callsign"].notna().any()
    pd.testing.assert_frame_equal(fast.points, slow.points)
    assert fast.report.summary() == slow.report.summary()


def test_numbers_read_from_one_word_equal_the_general_parse() -> None:
    """The scanner reads numeric fields of up to 8 bytes from one word (SWAR); for every field
    (random digits, dots, signs, junk bytes; fields ended by a comma or not, shorter and
    longer than a word) it finds the same end, the same value to the bit and the same
    verdict as finding the comma and parsing byte by byte."""
    from numba import njit

    from flightpaths.ingest import _sbs_scan as scan

    @njit
    def both(buf: np.ndarray, starts: np.ndarray) -> np.ndarray:
        out = np.empty((6, len(starts)))
        for k in range(len(starts)):
            value, good, end = scan._number_field(buf, starts[k], scan.POW10)
            end2 = scan._skip_field(buf, starts[k])
            value2, good2 = np.nan, True
            if buf[end2] == 44:
                value2, good2 = scan._plain_float(buf, starts[k], end2, scan.POW10)
            out[0, k], out[1, k], out[2, k] = value, good, end
            out[3, k], out[4, k], out[5, k] = value2, good2, end2
        return out

    rng = np.random.default_rng(0)
    junk = np.frombuffer(b"0123456789.-+e ,x\x80\xff/:\r\n\t", np.uint8)
    digits = np.frombuffer(b"0123456789", np.uint8)
    pieces, starts, at = [], [], 0
    for _ in range(30_000):
        kind, width = int(rng.integers(0, 4)), int(rng.integers(0, 12))
        field = rng.choice(junk if kind == 0 else digits, width)
        if kind >= 2 and width:
            field[rng.integers(0, width)] = ord(".")
        if kind == 3 and width and rng.random() < 0.5:
            field[0] = ord("-")
        piece = bytes(field) + bytes([rng.choice(np.frombuffer(b",,,,\r\n+ ", np.uint8))]) + bytes(
            rng.choice(junk, int(rng.integers(0, 12))))
        starts.append(at)
        pieces.append(piece)
        at += len(piece)
    buf = np.frombuffer(b"".join(pieces) + b"\n", np.uint8).copy()
    value, good, end, value2, good2, end2 = both(buf, np.array(starts))
    assert (end == end2).all()
    comma = buf[end2.astype(np.int64)] == 44
    same = (value.view(np.int64) == value2.view(np.int64)) | (np.isnan(value) & np.isnan(value2))
    assert (same & (good == good2))[comma].all()
    assert comma.sum() > 15_000 and good2[comma].sum() > 10_000  # most of them are numbers ending in a comma


def test_short_fields_skipped_in_one_word_as_one_by_one() -> None:
    """The scanner skips up to three short fields (ids, flags) in one 8-byte word; on random
    bytes (commas, CR, LF, blanks, signs, high bytes) it lands where skipping the fields one
    at a time does, and answers -1 where a line ends among them."""
    from numba import njit

    from flightpaths.ingest import _sbs_scan as scan

    @njit
    def both(buf: np.ndarray, starts: np.ndarray, ks: np.ndarray) -> np.ndarray:
        out = np.empty((2, len(starts)), np.int64)
        for q in range(len(starts)):
            out[0, q] = scan._skip_fields(buf, starts[q], ks[q])
            i = starts[q]
            out[1, q] = -1
            for _ in range(ks[q]):
                i = scan._skip_field(buf, i)
                if buf[i] != 44:
                    break
                i += 1
            else:
                out[1, q] = i - 1
        return out

    rng = np.random.default_rng(1)
    buf = rng.choice(np.frombuffer(b"01,,,,\r\n +-.\x80\xffab\t,", np.uint8), 200_000).astype(np.uint8)
    buf[-1] = 10
    starts = rng.integers(0, len(buf) - 1, 50_000)
    word, one_by_one = both(buf, starts, rng.integers(1, 4, len(starts)))
    assert (word == one_by_one).all()
    assert 10_000 < (one_by_one >= 0).sum() < 40_000  # both outcomes are exercised


def test_callsigns_and_squawks_interned_as_a_dictionary_would() -> None:
    """Texts of up to 8 bytes are compared as one word taken by the scanner, longer ones byte
    by byte; ids come in order of first appearance as a dictionary gives them (texts that
    differ only in their last bytes, prefixes of each other, 8 and 9 bytes long, high bytes,
    a text at the very end of the buffer)."""
    from flightpaths.ingest import _sbs_scan as scan

    rng = np.random.default_rng(2)
    pool = [b"BAW123", b"BAW124", b"BAW12", b"BAW1234 ", b"BAW1234 X", b"7000", b"\xc3\xa9T", b"A" * 12,
            b"A" * 11 + b"B", b"FLT0001", b"FLT0101"] + [f"F{i:05d}".encode() for i in range(300)]
    texts = [pool[i] for i in rng.integers(0, len(pool), 5000)] + [b"", b"FLT0001"]
    buf = np.frombuffer(b",".join(texts), np.uint8).copy()
    ends = np.cumsum([len(t) + 1 for t in texts]) - 1
    starts = ends - np.array([len(t) for t in texts])
    words = np.array([scan._short_word(buf, a, b) for a, b in zip(starts, ends)], np.int64)
    ids, first_s, first_e = scan.intern_ranges(buf, starts, ends, words)
    expected: dict[bytes, int] = {}
    for text in texts:
        if text:
            expected.setdefault(text, len(expected) + 1)
    assert ids.tolist() == [expected[t] if t else 0 for t in texts]
    assert [bytes(buf[a:b]) for a, b in zip(first_s, first_e)] == list(expected)


def test_string_columns_written_word_by_word_equal_an_arrow_take() -> None:
    """Callsign, squawk and address columns are written straight in Arrow's layout, one 8-byte
    store per text: the same pandas column as a dictionary take (nulls, empty texts, 1-8
    bytes, multi-byte UTF-8, 7-byte non-ICAO ids with their ~), and a log's texts longer than
    8 bytes leave the columns to the take."""
    from flightpaths.ingest import sbs

    scan = _sbs_common.scanner()
    if scan is None:
        pytest.skip("numba not installed: the columns come from the Arrow take")
    rng = np.random.default_rng(4)
    texts = ["", "A", "BAW123", "7000", "EZY12345", "éT", "KLM 9"] + [f"F{i:04d}" for i in range(200)]
    ids = rng.integers(0, len(texts), 20000).astype(np.int32)
    words = _sbs_common.as_words(texts)
    assert words is not None and _sbs_common.as_words(texts + ["123456789"]) is None
    got = _sbs_common.short_texts(scan, ids, *words)
    expected = pd.array(pa.array([t or None for t in texts], pa.string()).take(pa.array(ids)), dtype="string")
    pd.testing.assert_extension_array_equal(got, expected)
    codes = np.array([0x4CA2D6, 0x000001, 0xFFFFFF, sbs.NON_ICAO_BIT | 0xABC123])
    inv = rng.integers(0, len(codes), 1000)
    assert _sbs_common.hex_column(inv, codes).tolist() == [["4ca2d6", "000001", "ffffff", "~abc123"][k] for k in inv]
    assert _sbs_common.hex_column(np.zeros(0, np.int64), codes).tolist() == []


@pytest.mark.parametrize("bad", [None, "12:00:0/.500", "24:00:00.5", "12:00:00.5x0", "12:00:00,500", "12:00:00.500x"])
def test_times_read_from_one_word_as_pyarrow_reads_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str | None) -> None:
    """The scanner reads HH:MM:SS, and a fraction of 1 to 8 digits, from one word each; every
    fraction width 0-9 gives the time pyarrow's parse gives, to the ns, and a damaged time
    (a slash for a digit, hour 24, a letter in the fraction or after it, a comma for the dot) is named
    and dropped as there."""

    fractions = ["", ".5", ".25", ".125", ".1250", ".98765", ".987654", ".9876543", ".98765432", ".987654321"]
    lines = [f"MSG,3,1,1,4CA2D6,1,2024/05/01,12:00:{k:02d}{f},2024/05/01,12:00:{k:02d}{f},,3000,,,51.{k},-0.1,,,0,0,0,0\n"
             for k, f in enumerate(fractions)]
    if bad is not None:
        lines.insert(4, f"MSG,3,1,1,4CA2D6,1,2024/05/01,{bad},2024/05/01,{bad},,3000,,,52.0,-0.1,,,0,0,0,0\n")
    log = tmp_path / "times.sbs"
    log.write_text("".join(lines))
    fast = read_logs(log)
    assert len(fast.points) == len(fractions)
    assert sum(fast.report.dropped.values()) == (bad is not None)
    assert fast.points["time"].iloc[-1] == pd.Timestamp("2024-05-01 12:00:09.987654321", tz="UTC")
    monkeypatch.setattr(_sbs_common, "_SCAN", None)
    slow = read_logs(log)
    pd.testing.assert_frame_equal(fast.points, slow.points)
    assert fast.report.summary() == slow.report.summary()


def test_on_ground_flags_read_alike_on_every_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The on-ground flag is -1 or 1 (on the ground), 0 (not) or empty (unknown), also written
    +1, 01, -0 or with blanks around; anything else (5, 127, "yes") is read as unknown and named
    in the summary, the row kept. The scanner (with its shortcut for the usual one digit before
    LF), the pyarrow fast path and the robust path agree."""

    flags = ["0\n", "1\n", "5\n", "-1\n", "\n", "0\r\n", "1\r\n", "127\n", "+1\n", "01\n", "-0\n", " 1 \n", "yes\n"]
    lines = [f"MSG,3,1,1,4CA2D6,1,2024/05/01,12:00:{k:02d}.000,2024/05/01,12:00:{k:02d}.000,,3000,,,51.{k},-0.1,,,0,0,0,{f}"
             for k, f in enumerate(flags)]
    expected = ["False", "True", "<NA>", "True", "<NA>", "False", "True", "<NA>", "True", "True", "False", "True", "<NA>"]
    log, usual = tmp_path / "ground.sbs", tmp_path / "usual.sbs"
    log.write_text("".join(lines))
    usual.write_text("".join(line for line, f in zip(lines, flags) if f.strip() in ("0", "1", "-1", "")))
    fast = read_logs(log)
    assert [str(v) for v in fast.points["on_ground"]] == expected
    assert "on-ground flags other than -1, 0 or 1 read as unknown (3)" in fast.report.summary()
    assert "ground.sbs:3: on-ground flag '5'" in fast.report.summary()
    fast_usual = read_logs(usual)  # taken by the scanner itself
    assert [str(v) for v in fast_usual.points["on_ground"]] == [e for e, f in zip(expected, flags)
                                                                if f.strip() in ("0", "1", "-1", "")]
    monkeypatch.setattr(_sbs_common, "_SCAN", None)  # the pyarrow fast path, and the robust path for the odd block
    for path, result in ((log, fast), (usual, fast_usual)):
        slow = read_logs(path)
        pd.testing.assert_frame_equal(result.points, slow.points)
        assert result.report.summary() == slow.report.summary()


def test_scanner_shortcuts_give_the_values_of_the_general_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled scanner's fast paths (logged date/time equal to the generated ones,
    eight-byte field search, plain decimals) and their fall-backs (logged time differing,
    exponents, long fields, blanks in skipped fields, a new day) give what pyarrow gives."""

    def line(kind: int, hex_: str, date: str, time: str, rest: str, *, logged: str | None = None, ids: str = "1,1") -> str:
        return f"MSG,{kind},{ids},{hex_},1,{date},{time},{logged or date + ',' + time},{rest}\r\n"

    d = "2024/05/01"
    rows = [
        line(3, "4CA2D6", d, "23:59:58.000", ",3000,,,51.5,-0.1,,,0,0,0,0"),
        line(4, "4CA2D6", d, "23:59:58.400", ",,140,90,,,-64,,0,0,0,0", logged=f"{d},23:59:58.417"),
        line(3, "4ca2d6", d, "23:59:59", ",+1.5e3,,,51.123456789,-000.10,,,0,0,0,0"),  # exponent, long field
        line(1, "4CA2D6", d, "23:59:59.5", "BAW123  ,,,,,,,,0,0,0,", logged="2024/05/02,00:00:00.001"),
        line(6, "ABCDEF", d, "23:59:59.123456789", ",,,,,,,7700,0,0,0,0", ids="1 ,1"),  # a blank in a skipped field
        line(3, "ABCDEF", "2024/05/02", "00:00:01.000", ",2500,,,48.8,2.35,,,0,0,0,-1"),  # a new day
        line(4, "ABCDEF", "2024/05/02", "00:00:01.250", ",,5.,.5,,,-0,,0,0,0,0"),
    ]
    log = tmp_path / "shortcuts.sbs"
    log.write_text("".join(rows), newline="")
    text = np.frombuffer(log.read_bytes(), np.uint8)
    assert _sbs_common.scanner().scan_split(text, _sbs_common.scanner().POW10)[0], "the compiled scanner takes every line"
    fast = read_logs(log)
    monkeypatch.setattr(_sbs_common, "_SCAN", None)
    slow = read_logs(log)
    pd.testing.assert_frame_equal(fast.points, slow.points)
    assert fast.report.summary() == slow.report.summary()
    first = fast.points.set_index("source_line")
    assert first.index.tolist() == [1, 3, 6]
    assert first.loc[3, ["altitude_ft", "lat", "lon"]].tolist() == [1500.0, 51.123456789, -0.1]
    assert first.loc[3, "callsign"] == "BAW123" and first.loc[6, "squawk"] == "7700"
    assert first.loc[6, "time"] == pd.Timestamp("2024-05-02 00:00:01", tz="UTC")
    assert first.loc[6, ["speed_kt", "track_deg"]].tolist() == [5.0, 0.5]


@pytest.mark.parametrize("compiled", [True, False])
def test_damaged_values_that_once_sank_the_whole_file_drop_one_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiled: bool
) -> None:
    """Found by fuzzing: a time with a zone-like tail, a year a time in ns cannot hold and a CR
    before a number each made the whole file unreadable (or, for the year, wrapped silently
    to 1755). Now the bad row is dropped with its line named and the rest kept, on both paths."""

    if not compiled:
        monkeypatch.setattr(_sbs_common, "_SCAN", None)
    good = (CORPUS / "good.sbs").read_text()
    row = "MSG,3,1,1,d4e5f6,1,{d},{t},{d},{t},AAL12,2000,,,40.80000,{lon},,,,,,0\n"
    cases = {
        "zone": (row.format(d="2024/05/01", t="12:06:25.0-0", lon="-75.1"), "not a date and time"),
        "year 2": (row.format(d="0002/05/01", t="12:06:25.000", lon="-75.1"), "not a date and time"),
        "year 2300": (row.format(d="2300/05/01", t="12:06:25.000", lon="-75.1"), "not a date and time"),
    }
    n_good = len(read_logs(CORPUS / "good.sbs").points)
    for name, (line, reason) in cases.items():
        log = tmp_path / f"{name}.sbs"
        log.write_text(good + line)
        result = read_logs(log)
        assert len(result.points) == n_good, name
        assert result.points["time"].min() >= pd.Timestamp("2024-01-01", tz="UTC"), name
        assert f"{log.name}:{good.count(chr(10)) + 1}: " in "\n".join(result.report.examples), name
        assert any(reason in k for k in result.report.dropped), (name, result.report.dropped)
    log = tmp_path / "cr.sbs"  # a CR inside the line ends it (universal newlines): both halves are named, the rest kept
    log.write_text(good + row.format(d="2024/05/01", t="12:06:25.000", lon="\r-75.1"), newline="")
    result = read_logs(log)
    assert len(result.points) == n_good and result.report.rows_dropped == 2
    assert f"{log.name}:{good.count(chr(10)) + 1}: " in "\n".join(result.report.examples)


def test_csv_times_out_of_the_ns_range_drop_one_row(tmp_path: Path) -> None:
    log = tmp_path / "y.csv"
    log.write_text("hex,when,latitude,longitude\nabc123,2024-05-01 12:00:00,51.5,-0.1\n"
                   "abc123,0002-05-01 12:00:00,51.5,-0.1\nabc123,2024-05-01T12:00:10Z,51.6,-0.1\n"
                   "abc123,0002-05-01T12:00:10Z,51.6,-0.1\n")
    result = read_logs(log, settings=IngestSettings(columns={"id": "hex", "time": "when", "lat": "latitude",
                                                             "lon": "longitude"}))
    assert result.points["lat"].tolist() == [51.5, 51.6]
    assert sum(result.report.dropped.values()) == 2 and "y.csv:3: " in "\n".join(result.report.examples)


def test_a_block_split_for_two_scanner_threads_merges_as_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled scanner reads the two halves of a large block on two threads; the block
    is still merged whole: a callsign first heard in the second half reaches the positions
    of the first half, as on the pyarrow path."""

    def pos(second: int) -> str:
        return (f"MSG,3,1,1,4CA2D6,1,2024/05/01,12:{second // 60:02d}:{second % 60:02d}.000,2024/05/01,"
                f"12:{second // 60:02d}:{second % 60:02d}.000,,3000,,,51.{second:04d},-0.1,,,0,0,0,0\n")

    lines = [pos(s) for s in range(40)]
    lines.insert(30, "MSG,1,1,1,4CA2D6,1,2024/05/01,12:00:29.500,2024/05/01,12:00:29.500,BAW123,,,,,,,,0,0,0,0\n")
    log = tmp_path / "halves.sbs"
    log.write_text("".join(lines))
    monkeypatch.setattr(_sbs_blocks, "PARALLEL_MIN_BYTES", 1000)  # this small log is split in two halves too
    fast = read_logs(log)
    assert fast.points["callsign"].eq("BAW123").all() and len(fast.points) == 40
    monkeypatch.setattr(_sbs_common, "_SCAN", None)
    pd.testing.assert_frame_equal(fast.points, read_logs(log).points)


def test_scanner_space_reused_from_block_to_block_leaves_earlier_chunks_intact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled scanner writes each block into output space kept from earlier blocks and
    logs; chunks already handed out (and held by the caller) keep their values while later
    blocks are scanned into the same space, and a second log read in the same process gives
    what the pyarrow path gives."""
    from flightpaths.ingest import sbs, sources
    from flightpaths.ingest.ledger import Ledger

    rng = np.random.default_rng(3)
    lines = []
    for k in range(600):
        stamp = f"2024/05/01,12:{k // 60:02d}:{k % 60:02d}.{k % 7}00"
        hexid = ["4CA2D6", "3C6444", "A1B2C3", "400F01"][k % 4]
        lines.append(f"MSG,3,1,1,{hexid},1,{stamp},{stamp},,{1000 + k},,,{50 + rng.random():.5f},"
                     f"{rng.random():.5f},,,0,0,0,0\n")
        if k % 3 == 0:
            lines.append(f"MSG,4,1,1,{hexid},1,{stamp},{stamp},,,{200 + k % 50},{k % 360},,,{-64 * (k % 5)},,0,0,0,0\n")
        if k % 50 == 7:
            lines.append(f"MSG,1,1,1,{hexid},1,{stamp},{stamp},FL{k:04d},,,,,,,,0,0,0,0\n")
    log = tmp_path / "blocks.sbs"
    log.write_text("".join(lines))
    original = sources.iter_blocks
    monkeypatch.setattr(sbs, "iter_blocks", lambda source, **kw: original(source, **{**kw, "block_bytes": 2000}))
    monkeypatch.setattr(_sbs_blocks, "PARALLEL_MIN_BYTES", 1000)  # each block in two halves, on two threads
    held = list(sbs.iter_sbs(Source(log), IngestSettings(), Ledger()))  # every chunk held to the end
    assert len(held) > 20, "the log was read in many blocks"
    again = pd.concat(list(sbs.iter_sbs(Source(log), IngestSettings(), Ledger())))  # the space kept from the first
    monkeypatch.setattr(_sbs_common, "_SCAN", None)
    expected = pd.concat(list(sbs.iter_sbs(Source(log), IngestSettings(), Ledger())))
    pd.testing.assert_frame_equal(pd.concat(held), expected)
    pd.testing.assert_frame_equal(again, expected)
    assert expected["callsign"].notna().any() and expected["speed_kt"].notna().any()


@pytest.mark.parametrize("order", ["in time order", "time going back"])
def test_compiled_merge_joins_as_the_numpy_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, order: str) -> None:
    """Velocities, callsigns and squawks reach the same positions through the compiled
    one-pass merge (a sweep when time runs forward, a grouped search when it goes back) as
    through the numpy merge: ties in time, a velocity just outside the tolerance, a callsign
    heard only after the positions, a squawk heard before them, three aircraft interleaved."""

    def line(kind: int, hexid: str, ms: int, tail: str) -> str:
        stamp = f"2024/05/01,12:{ms // 60000:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"
        return f"MSG,{kind},1,1,{hexid},1,{stamp},{stamp},{tail}\n"

    rng = np.random.default_rng(5)
    rows = [(0, line(6, "4CA2D6", 0, ",,,,,,,7000,0,0,0,0"))]
    for k in range(300):
        ms = 250 * k
        hexid = ["4CA2D6", "3C6444", "A1B2C3"][k % 3]
        rows.append((ms, line(3, hexid, ms, f",3000,,,51.{k:04d},-0.1,,,0,0,0,0")))
        if rng.random() < 0.6 and k not in (23, 263):  # a velocity at the same time, a little later, or too late
            at = ms + int(rng.choice([0, 120, 900, 2600]))
            rows.append((at, line(4, hexid, at, f",,{200 + k},{k % 360},,,-64,,0,0,0,0")))
    # equally near before and after (the earlier wins), in both halves of the log
    rows += [(ms + d, line(4, "A1B2C3", ms + d, f",,{speed},90,,,0,,0,0,0,0")) for ms in (5750, 65750)
             for d, speed in ((-130, 111), (130, 999))]
    rows.append((80_000, line(1, "3C6444", 80_000, "BAW123,,,,,,,,0,0,0,0")))
    lines = [text for _, text in sorted(rows, key=lambda r: r[0])]
    if order == "time going back":
        lines[100:160] = lines[100:160][::-1]
    log = tmp_path / "merge.sbs"
    log.write_text("".join(lines))
    fast = read_logs(log).points
    assert fast["speed_kt"].notna().sum() > 100
    assert fast.loc[fast["object_id"] == "3c6444", "callsign"].eq("BAW123").all()
    assert fast.loc[fast["object_id"] == "4ca2d6", "squawk"].eq("7000").all()
    tied = fast[fast["object_id"].eq("a1b2c3") & fast["lat"].isin([51.0023, 51.0263])]
    assert tied["speed_kt"].tolist() == [111.0, 111.0]
    monkeypatch.setattr(_sbs_common, "_SCAN", None)
    pd.testing.assert_frame_equal(fast, read_logs(log).points)


def test_nearest_in_time_compiled_matches_the_sort_and_search() -> None:
    from flightpaths.ingest import sbs

    rng = np.random.default_rng(0)
    for _ in range(200):  # small random cases: ties, out-of-order times, codes either side of 13-bit digits
        n, m = int(rng.integers(1, 50)), int(rng.integers(1, 50))
        scale = rng.choice([1, 8191, 8192, 1 << 24, 0x1000001])
        ref_code, pos_code = rng.integers(0, 5, n) * scale, rng.integers(0, 6, m) * scale
        ref_t, pos_t = rng.integers(0, 40, n), rng.integers(0, 40, m)
        # as they come, and both in time order (most logs; the compiled search then sweeps)
        for pt, rt in ((pos_t, ref_t), (np.sort(pos_t), np.sort(ref_t))):
            for direction in ("nearest", "backward", "forward"):
                tol = int(rng.integers(0, 15)) if direction == "nearest" else 10**12
                fast = _sbs_merge.nearest(pos_code, pt, ref_code, rt, tol, direction)
                slow = _sbs_merge.nearest_numpy(pos_code, pt, ref_code, rt, tol, direction)
                assert fast.tolist() == slow.tolist(), (direction, tol)
    # codes of any size (beyond 24 bits), on one side only; a negative position code matches nothing
    pos_code, ref_code = np.array([1, 1 << 40, 7, 3]), np.array([1 << 40, 1, 7, 9])
    pos_t, ref_t = np.array([5, 5, 5, 5]), np.array([4, 6, 5, 5])
    expected = _sbs_merge.nearest_numpy(pos_code, pos_t, ref_code, ref_t, 2, "nearest").tolist()
    assert _sbs_merge.nearest(pos_code, pos_t, ref_code, ref_t, 2, "nearest").tolist() == expected == [1, 0, 2, -1]
    assert _sbs_merge.nearest(pos_code, pos_t, ref_code[1:], ref_t[1:], 2, "nearest").tolist() == [0, -1, 1, -1]
    assert _sbs_merge.nearest(np.array([-1, 7]), pos_t[:2], ref_code, ref_t, 2, "nearest").tolist() == [-1, 2]
    assert sbs.code_to_hex(np.array([9, 7, 9, 1])).tolist() == ["000009", "000007", "000009", "000001"]


def test_block_memory_read_into_again_only_once_let_go(tmp_path: Path) -> None:
    """A plain file's blocks are read into memory used again once a block and every view of
    it are gone: blocks the caller holds keep their bytes while the rest of the file is read,
    and a caller that lets each block go is served from a few buffers, not one per block."""
    from flightpaths.ingest.sources import iter_blocks

    text = "".join(f"line {i}," + "x" * (i % 13) + "\n" for i in range(20_000))
    path = tmp_path / "log.txt"
    path.write_text(text)
    firsts, held = [], []
    for block, _ in iter_blocks(Source(path), block_bytes=4096):
        firsts.append(bytes(block[:2]))
        held.append(block[2:][:-1])  # a view of a view; the block itself is let go
    assert len(held) > 50
    assert b"".join(first + bytes(view) + b"\n" for first, view in zip(firsts, held)) == text.encode()
    memories = set()
    for block, _ in iter_blocks(Source(path), block_bytes=4096):
        memories.add(id(block.base.base.obj))  # block -> the piece read -> its memory
        del block
    assert len(memories) <= 3


@pytest.mark.parametrize("block_bytes", [97, 1000, 1 << 24])
@pytest.mark.parametrize("gzipped", [False, True])
def test_blocks_cut_at_line_ends_whatever_their_size(tmp_path: Path, block_bytes: int, gzipped: bool) -> None:
    """Every line comes back once, whole, with its line number: blocks smaller than a line,
    a last line without a newline, a line longer than the block, gzip or not."""
    from flightpaths.ingest.sources import iter_blocks

    lines = [f"line {i}," + "x" * (i % 7) for i in range(300)]
    lines[150] = "long," + "y" * 70_000  # longer than the 64 KiB looked at first for a line end
    text = "\n".join(lines)  # no newline after the last line
    path = tmp_path / ("log.txt.gz" if gzipped else "log.txt")
    path.write_bytes(gzip.compress(text.encode()) if gzipped else text.encode())
    got = []
    for block, first_line in iter_blocks(Source(path), block_bytes=block_bytes):
        assert block[-1] == 10  # whole lines only
        pieces = bytes(block).decode().split("\n")[:-1]
        got += [(first_line + k, p) for k, p in enumerate(pieces)]
    assert got == [(k + 1, line) for k, line in enumerate(lines)]
