"""``ingest`` writes its table chunk by chunk (issue #23, item 6): the same table as one
in-memory pass, whatever the chunk size, written in pieces no larger than a chunk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from flightpaths.ingest import IngestSettings, read_logs
from flightpaths.ingest.ledger import Ledger
from flightpaths.ingest.output import write_logs
from flightpaths.ingest.runs import FAN_IN, SortedRuns

CORPUS = Path(__file__).resolve().parent / "data" / "ingest"


def _sbs(hexid: str, t: int, lat: float, alt: int = 3000, callsign: str = "") -> str:
    stamp = f"2024/05/01,{12 + t // 3600:02d}:{(t // 60) % 60:02d}:{t % 60:02d}.000"
    if callsign:
        return f"MSG,1,1,1,{hexid},1,{stamp},{stamp},{callsign},,,,,,,,0,0,0,0\n"
    return f"MSG,3,1,1,{hexid},1,{stamp},{stamp},,{alt},,,{lat:.5f},-0.10000,,,0,0,0,0\n"


@pytest.fixture()
def mixed_logs(tmp_path: Path) -> list[Path]:
    """Three aircraft interleaved, times going back now and then, rows repeated within and
    across files, and a repeat that differs in altitude only (kept)."""
    rng = np.random.default_rng(7)
    lines = []
    for i in range(400):
        hexid = ("4CA2D6", "3C6444", "A1B2C3")[i % 3]
        t = i // 3 * 2 + (int(rng.integers(-5, 1)) if i % 17 == 0 else 0)
        lines.append(_sbs(hexid, max(t, 0), 51.5 + i * 1e-4))
        if i % 23 == 0:
            lines.append(lines[-1])  # an exact repeat
        if i % 31 == 0:
            lines.append(_sbs(hexid, max(t, 0), 51.5 + i * 1e-4, alt=3100))  # same time, other altitude
        if i == 200:
            lines.append(_sbs(hexid, 0, 0, callsign="TEST1"))
    a, b = tmp_path / "a.sbs", tmp_path / "b.sbs"
    a.write_text("".join(lines[:300]))
    b.write_text("".join(lines[250:]))  # overlaps a's last 50 lines
    return [a, b]


@pytest.mark.parametrize("chunk_rows", [7, 50, 1_000_000])
def test_chunked_table_equals_one_pass(tmp_path: Path, mixed_logs: list[Path], chunk_rows: int) -> None:
    whole = read_logs(mixed_logs)
    out = tmp_path / "points.parquet"
    report = write_logs(mixed_logs, out, settings=IngestSettings(chunk_rows=chunk_rows))
    got = pd.read_parquet(out)
    pd.testing.assert_frame_equal(got, whole.points)
    assert report.rows_kept == whole.report.rows_kept == len(got)
    assert report.dropped == whole.report.dropped and report.dropped.get("duplicate row", 0) > 40
    back = "time going backwards within an object: rows re-sorted by time"
    assert {k: v for k, v in report.notes.items() if k != back} == {k: v for k, v in whole.report.notes.items() if k != back}
    assert report.notes[back] >= whole.report.notes[back] > 0  # counted as read, repeats dropped later included
    assert (report.objects, report.time_start, report.time_end) == (3, whole.report.time_start, whole.report.time_end)
    groups = pq.ParquetFile(out).metadata
    sizes = [groups.row_group(i).num_rows for i in range(groups.num_row_groups)]
    assert max(sizes) <= chunk_rows  # written a piece at a time, never the whole table at once
    assert len(sizes) >= len(got) // chunk_rows


def test_csv_written_in_pieces_reads_back_the_same(tmp_path: Path, mixed_logs: list[Path]) -> None:
    out_csv, out_pq = tmp_path / "points.csv", tmp_path / "points.parquet"
    write_logs(mixed_logs, out_csv, settings=IngestSettings(chunk_rows=11))
    write_logs(mixed_logs, out_pq)
    text = out_csv.read_text()
    assert text.count("object_id") == 1  # one header
    back = pd.read_csv(out_csv, dtype={"squawk": "string", "callsign": "string"})
    assert len(back) == len(pd.read_parquet(out_pq))
    assert back["object_id"].tolist() == pd.read_parquet(out_pq)["object_id"].astype(str).tolist()


def test_many_runs_merge_in_rounds(tmp_path: Path) -> None:
    """More runs than one merge reads at once: merged in rounds, same order, runs removed."""
    rng = np.random.default_rng(3)
    n = 3000
    frame = read_logs(CORPUS / "good.sbs").points.iloc[:1]
    chunks = []
    for lo in range(0, n, 100):
        rows = frame.loc[frame.index.repeat(100)].reset_index(drop=True)
        rows["object_id"] = pd.array(rng.choice(["b", "a", "c"], 100), dtype="string")
        rows["time"] = pd.to_datetime(rng.integers(0, 10_000, 100), unit="s", utc=True).astype("datetime64[ns, UTC]")
        rows["source_line"] = np.arange(lo, lo + 100)
        chunks.append(rows)
    folder = tmp_path / "runs"
    folder.mkdir()
    runs = SortedRuns(100, folder, Ledger(), dedupe=False)
    for c in chunks:
        runs.add(c)
    assert len(runs.runs) == n // 100 > FAN_IN
    got = pd.concat(list(runs.chunks()), ignore_index=True)
    whole = pd.concat(chunks, ignore_index=True)
    expected = whole.sort_values(["object_id", "time", "source_line"], kind="stable").reset_index(drop=True)
    assert got["source_line"].tolist() == expected["source_line"].tolist()
    assert len(list(folder.iterdir())) <= -(-len(runs.runs) // FAN_IN)  # runs merged away as they go


def test_nothing_kept_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "points.parquet"
    report = write_logs([CORPUS / "no_timestamps.sbs"], out)
    assert report.rows_kept == 0 and not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary file or folder left


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson"])
@pytest.mark.parametrize("chunk_rows", [5, 1_000_000])
def test_linestrings_written_leg_by_leg(tmp_path: Path, mixed_logs: list[Path], suffix: str, chunk_rows: int) -> None:
    """Legs closed chunk by chunk, the open one carried: the same LineStrings as from the whole table."""
    import geopandas as gpd

    from flightpaths.ingest.output import write_points

    gaps = tmp_path / "gaps.sbs"  # legs split by 40-min gaps; a lone point and a leg that never moves left out
    times = [*range(0, 60, 2), *range(2400, 2460, 2), 4800, *range(7200, 7220, 2)]
    gaps.write_text("".join(_sbs("ABCDEF", t, 51.0 + (t % 7000) * 1e-4 if t < 7000 else 51.0) for t in times))
    logs = [*mixed_logs, CORPUS / "good.sbs", CORPUS / "backwards.sbs", gaps]
    whole = tmp_path / f"whole{suffix}"
    write_points(read_logs(logs).points, whole)
    out = tmp_path / f"chunked{suffix}"
    write_logs(logs, out, settings=IngestSettings(chunk_rows=chunk_rows))
    a, b = gpd.read_file(whole), gpd.read_file(out)
    assert len(a) >= 4 and (a["n_points"] > 100).any()
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))
    assert a.geometry.geom_equals_exact(b.geometry, 0).all()
    if suffix == ".geojson":
        assert out.read_text() == whole.read_text()
