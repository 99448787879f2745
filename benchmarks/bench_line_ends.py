"""Reading speed by line ends: the SBS and CSV readers on LF, CR LF and mixed CR/LF/CR LF logs,
this checkout against another one (e.g. the code before a change), in the same run.

Each measurement reads one generated log in a fresh subprocess (``iter_points``: detection,
decoding, parsing, validation) and reports lines per CPU second of that subprocess (user +
system time of all its threads, start-up excluded), which a machine shared with other work
disturbs less than wall time. The two checkouts alternate, ``--repeats`` times each; medians
and their ratio are printed.

Usage: python benchmarks/bench_line_ends.py --baseline /path/to/other/checkout [--lines 1000000] [--repeats 3]
(the baseline is a folder holding the ``flightpaths`` package, e.g. ``git archive main flightpaths | tar -x -C DIR``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import make_log  # noqa: E402 - the SBS generator the ingest benchmark uses

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, resource, sys, time
from flightpaths.ingest import IngestSettings, iter_points
path, tiny = sys.argv[1], sys.argv[2]
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
def parse(p):
    return sum(len(c.points) for c in iter_points([p], IngestSettings()))
parse(tiny)  # imports and the compiled scanner loaded before the clock starts
c0, t0 = cpu(), time.perf_counter()
rows = parse(path)
print(json.dumps({"cpu": cpu() - c0, "wall": time.perf_counter() - t0, "rows": rows}))
"""


def _line_ends(src: Path, dst: Path, kind: str) -> None:
    """*src* (LF lines) rewritten with *kind* line ends: ``crlf``, or ``mixed`` (LF, CR, CR LF in turn by line)."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        for i, line in enumerate(fin):
            body = line.rstrip(b"\n")
            fout.write(body + (b"\r\n" if kind == "crlf" else (b"\n", b"\r", b"\r\n")[i % 3]))


def _csv(path: Path, lines: int) -> None:
    """A plain CSV of positions (time, icao24, lat, lon, altitude) with *lines* rows."""
    with open(path, "w", newline="") as fh:
        fh.write("time,icao24,lat,lon,altitude\n")
        block = 100_000
        for lo in range(0, lines, block):
            fh.write("".join(f"{1714564800 + i},{0x400000 + i % 300:06x},{40 + (i % 1000) * 1e-4:.5f},"
                             f"{-73 - (i % 777) * 1e-4:.5f},{1000 + i % 50}\n" for i in range(lo, min(lo + block, lines))))


def _run(code_root: Path, path: Path, tiny: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    res = subprocess.run([sys.executable, "-c", CHILD, str(path), str(tiny)], check=True, capture_output=True, text=True,
                         env=env)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="folder holding the other checkout's flightpaths package")
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines per log (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per checkout and log, alternating (default 3)")
    parser.add_argument("--only", default="", help="comma-separated logs to time (default all: sbs-lf,sbs-crlf,sbs-mixed,csv-lf,csv-mixed)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_line_ends_"))
    sbs, csv = folder / "sbs-lf.sbs", folder / "csv-lf.csv"
    make_log(sbs, args.lines)
    _csv(csv, args.lines)
    logs = {"sbs-lf": sbs, "sbs-crlf": folder / "sbs-crlf.sbs", "sbs-mixed": folder / "sbs-mixed.sbs", "csv-lf": csv,
            "csv-mixed": folder / "csv-mixed.csv"}
    _line_ends(sbs, logs["sbs-crlf"], "crlf")
    _line_ends(sbs, logs["sbs-mixed"], "mixed")
    _line_ends(csv, logs["csv-mixed"], "mixed")
    tiny = folder / "tiny.sbs"
    make_log(tiny, 200)
    wanted = [w for w in args.only.split(",") if w] or list(logs)
    print(f"{args.lines:,} lines per log; lines per CPU second, median of {args.repeats} alternating runs")
    for name in wanted:
        ours, base = [], []
        for _ in range(args.repeats):
            base.append(_run(args.baseline, logs[name], tiny))
            ours.append(_run(ROOT, logs[name], tiny))
        o, b = statistics.median(r["cpu"] for r in ours), statistics.median(r["cpu"] for r in base)
        print(f"{name:10s} this checkout {args.lines / o:>11,.0f}/s ({ours[0]['rows']:,} points)  baseline "
              f"{args.lines / b:>11,.0f}/s ({base[0]['rows']:,} points)  ratio {b / o:.2f}")


if __name__ == "__main__":
    main()
