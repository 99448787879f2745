"""SBS-1 parsing throughput and memory: flightpaths' vectorized reader against a plain csv.reader loop.

Generates a realistic SBS log (MSG,3 positions, MSG,4 velocities, MSG,1/5/8 other messages,
interleaved over many aircraft), then measures in the same run and on the same file:

- baseline: a plain ``csv.reader`` loop that only splits lines and converts the position
  fields of MSG,3 rows to float (no merging, no validation);
- flightpaths: ``iter_sbs`` (the streaming reader behind ``read_sbs``): parse, validate,
  merge positions with velocities, yield point chunks; and, for information, ``read_sbs``
  end to end (one validated, deduplicated, time-ordered table in memory).

Each is run in a fresh subprocess per repeat (baseline and readers interleaved, so all see
the same load); the throughput excludes start-up (imports, and for flightpaths loading the
compiled scanner, done by reading a 200-line log first), which is printed beside it, with
the end-to-end times. ``iter_sbs`` is also timed as it runs without numba (pyarrow's CSV
parser per block). The medians of the repeats are printed with the ratio, then peak memory
(ru_maxrss of the subprocess) for two file sizes to show the streaming reader's memory stays
flat as the log grows.

Usage: python benchmarks/bench_ingest.py [--lines 3000000] [--repeats 3] [--keep DIR]
Targets: >= 1,000,000 lines/s and >= 10x the csv.reader loop; flat memory.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CHILD = r"""
import json, resource, sys, time
mode, path, tiny = sys.argv[1], sys.argv[2], sys.argv[3]
t_start = time.perf_counter()
# start-up (imports; for flightpaths also loading the compiled scanner by reading a one-line
# log) is timed apart from the parse itself and reported next to it
if mode == "csv":
    import csv
    def parse(p):
        rows = 0
        with open(p, newline="") as fh:
            for row in csv.reader(fh):
                rows += 1
                if row[1] == "3" and row[14]:
                    lat, lon, alt = float(row[14]), float(row[15]), float(row[11] or "nan")
        return rows
elif mode == "table":
    from flightpaths.ingest import read_sbs
    def parse(p):
        return len(read_sbs(p).points)
else:
    from flightpaths.ingest import IngestSettings
    from flightpaths.ingest.ledger import Ledger
    from flightpaths.ingest.sources import Source
    from flightpaths.ingest.sbs import iter_sbs
    from pathlib import Path
    if mode == "pyarrow":
        from flightpaths.ingest import _sbs_common
        _sbs_common._SCAN = None  # the reader as it runs without numba: pyarrow's CSV parser on each block
    def parse(p):
        return sum(len(chunk) for chunk in iter_sbs(Source(Path(p)), IngestSettings(), Ledger()))
parse(tiny)
t0 = time.perf_counter()
rows = parse(path)
elapsed = time.perf_counter() - t0
print(json.dumps({"seconds": elapsed, "startup": t0 - t_start, "rows": rows,
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

def make_log(path: Path, lines: int, *, aircraft: int = 400, seed: int = 1) -> None:
    """Write *lines* SBS-1 lines: ~40% MSG,3, ~35% MSG,4, the rest MSG,1/5/8."""
    rng = np.random.default_rng(seed)
    hexes = [f"{h:06X}" for h in rng.integers(0x100000, 0xFFFFFF, aircraft)]
    lat0 = rng.uniform(40, 55, aircraft)
    lon0 = rng.uniform(-5, 15, aircraft)
    t0 = np.datetime64("2024-05-01T00:00:00", "ms")
    with open(path, "w", newline="") as fh:
        done = 0
        block = 200_000
        while done < lines:
            n = min(block, lines - done)
            ac = rng.integers(0, aircraft, n)
            kind = rng.choice([3, 4, 1, 5, 8], size=n, p=[0.4, 0.35, 0.05, 0.15, 0.05])
            ms = (np.arange(done, done + n) * 4).astype("timedelta64[ms]")  # 250 messages per second
            stamps = np.datetime_as_string(t0 + ms, unit="ms")
            step = (done + np.arange(n)) / lines
            lat = lat0[ac] + 0.5 * step + rng.normal(0, 1e-4, n)
            lon = lon0[ac] + 0.5 * step + rng.normal(0, 1e-4, n)
            out = []
            for i in range(n):
                d, t = stamps[i][:10].replace("-", "/"), stamps[i][11:]
                h = hexes[ac[i]]
                k = kind[i]
                head = f"MSG,{k},1,1,{h},1,{d},{t},{d},{t}"
                if k == 3:
                    out.append(f"{head},,{30000 + ac[i]},,,{lat[i]:.5f},{lon[i]:.5f},,,0,0,0,0\n")
                elif k == 4:
                    out.append(f"{head},,,{400 + ac[i] % 50},{ac[i] % 360},,,{-64 * (ac[i] % 3)},,0,0,0,0\n")
                elif k == 1:
                    out.append(f"{head},FLT{ac[i]:04d},,,,,,,,0,0,0,0\n")
                elif k == 5:
                    out.append(f"{head},,{30000 + ac[i]},,,,,,,0,0,0,0\n")
                else:
                    out.append(f"{head},,,,,,,,,,,,0\n")
            fh.write("".join(out))
            done += n


def run(mode: str, path: Path) -> dict[str, float]:
    tiny = path.parent / "sbs_tiny.csv"
    if not tiny.exists():
        make_log(tiny, 200)
    res = subprocess.run([sys.executable, "-c", CHILD, mode, str(path), str(tiny)], check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=3_000_000, help="lines in the large log (default 3,000,000)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per measurement (median quoted; default 3)")
    parser.add_argument("--keep", type=Path, default=None, help="folder to keep the generated logs in")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    folder.mkdir(parents=True, exist_ok=True)
    big, small = folder / f"sbs_{args.lines}.csv", folder / f"sbs_{args.lines // 4}.csv"
    for path, n in ((big, args.lines), (small, args.lines // 4)):
        if not path.exists():
            print(f"generating {n:,} SBS lines -> {path}", file=sys.stderr)
            make_log(path, n)
    base, ours, arrow = [], [], []
    for _ in range(args.repeats):  # interleaved, so all see the same load
        base.append(run("csv", big))
        ours.append(run("flightpaths", big))
        arrow.append(run("pyarrow", big))
    t_base = statistics.median(r["seconds"] for r in base)
    t_ours = statistics.median(r["seconds"] for r in ours)
    s_base = statistics.median(r["startup"] for r in base)
    s_ours = statistics.median(r["startup"] for r in ours)
    print(f"SBS log: {args.lines:,} lines, {big.stat().st_size / 1e6:.0f} MB; median of {args.repeats} runs each")
    print(f"csv.reader loop      : {args.lines / t_base:>12,.0f} lines/s  ({t_base:.2f} s; start-up {s_base:.2f} s)")
    print(f"flightpaths iter_sbs : {args.lines / t_ours:>12,.0f} lines/s  ({t_ours:.2f} s, {ours[0]['rows']:,} points; "
          f"start-up {s_ours:.2f} s: imports, loading the compiled scanner)")
    print(f"ratio                : {t_base / t_ours:>12.1f} x   (target >= 10x and >= 1,000,000 lines/s)")
    t_arrow = statistics.median(r["seconds"] for r in arrow)
    print(f"iter_sbs without numba (pyarrow CSV parser per block): {args.lines / t_arrow:,.0f} lines/s "
          f"({t_arrow:.2f} s, ratio {t_base / t_arrow:.1f} x)")
    e_base, e_ours = t_base + s_base, t_ours + s_ours
    print(f"end to end incl. start-up: csv.reader {e_base:.2f} s, iter_sbs {e_ours:.2f} s, ratio {e_base / e_ours:.1f} x")
    table = [run("table", big) for _ in range(args.repeats)]
    t_table = statistics.median(r["seconds"] for r in table)
    print(f"read_sbs (validated, deduplicated, sorted table): {args.lines / t_table:,.0f} lines/s ({t_table:.2f} s), "
          f"peak {statistics.median(r['maxrss_kb'] for r in table) / 1024:.0f} MiB")
    small_rss = statistics.median(run("flightpaths", small)["maxrss_kb"] for _ in range(args.repeats))
    big_rss = statistics.median(r["maxrss_kb"] for r in ours)
    print(f"peak memory (ru_maxrss): {args.lines // 4:,} lines {small_rss / 1024:.0f} MiB; "
          f"{args.lines:,} lines {big_rss / 1024:.0f} MiB (ratio {big_rss / small_rss:.2f} for 4x the lines)")


if __name__ == "__main__":
    main()
