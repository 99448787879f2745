"""Peak memory of `ingest`, `tracks` and `score` on one dense aircraft, against the 2 GB bound.

Issue #23: peak memory must be bounded by settings, not by input size. This writes
single-aircraft SBS logs of N position lines (one aircraft circling, 1 s apart, with a
velocity line per position) and an "expanding gzip" (about 1.5 MB that inflates to millions of
bad SBS lines), runs each CLI command on them in its own process, and prints each process's
peak RSS (``os.wait4``'s rusage, as ``/usr/bin/time -v`` reports it) next to the baseline of
the same run (a process that only imports flightpaths) and the 2 GB bound.

    python benchmarks/bench_memory.py --lines 1000000,5000000
    python benchmarks/bench_memory.py --lines 200000 --commands ingest,tracks   # a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BOUND_MB = 2048.0
_START = dt.datetime(2024, 5, 1)
_PY = sys.executable


def write_dense_log(path: Path, lines: int) -> None:
    """One aircraft circling (2 km radius, 1 s steps): MSG,3 positions and MSG,4 velocities."""
    with open(path, "w", encoding="ascii") as fh:
        for i in range(lines // 2):
            a = 2 * math.pi * i / 240
            lat, lon = 51.5 + 0.018 * math.sin(a), -0.1 + 0.029 * math.cos(a)
            when = _START + dt.timedelta(seconds=i)  # real dates past a month (a 10M-line log spans 58 days)
            stamp = f"{when:%Y/%m/%d,%H:%M:%S}.000"
            fh.write(f"MSG,3,1,1,4CA2D6,1,{stamp},{stamp},,3000,,,{lat:.5f},{lon:.5f},,,0,0,0,0\n")
            fh.write(f"MSG,4,1,1,4CA2D6,1,{stamp},{stamp},,,120,{(i * 1.5) % 360:.0f},,,0,,0,0,0,0\n")


def write_expanding_gzip(path: Path, lines: int) -> None:
    bad = b"MSG,3,1,1,4CA2D6,1,2024/05/01,12:00:01.000,2024/05/01,12:00:01.000,,3000,,,zz,yy,,,0,0,0,0\n"
    good = b"MSG,3,1,1,4CA2D6,1,2024/05/01,12:00:00.000,2024/05/01,12:00:00.000,,3000,,,51.5,-0.1,,,0,0,0,0\n"
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write(good)
        for _ in range(lines // 100_000):
            fh.write(bad * 100_000)


def peak_mb(args: list[str]) -> tuple[float, float, int, str]:
    """(peak RSS in MB, seconds, exit status, stderr) of one child process."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err_file:  # a file, not a pipe: a chatty child never blocks
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err_file)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err_file.seek(0)
        err = err_file.read().decode(errors="replace")
    if proc.returncode not in (0, 1):
        print(err[-2000:], file=sys.stderr)
    return usage.ru_maxrss / 1024.0, time.perf_counter() - start, proc.returncode, err


def chunk_trend(err: str) -> str:
    """Resident MB after each chunk, from the ``-vv`` log of ``score`` (chunks scored) or
    ``ingest`` (sorted runs written, then chunks written): first, every few, last."""
    mbs = [m.group(1) for m in re.finditer(r"(?:chunk \d+ scored, \d+ windows kept|ingest: .*), resident (\d+) MB", err)]
    if len(mbs) > 12:
        step = len(mbs) // 10
        mbs = [*mbs[:-1:step], mbs[-1]]
    return " ".join(mbs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", default="1000000,5000000", help="comma-separated line counts (default: 1M and 5M)")
    ap.add_argument("--commands", default="ingest,tracks,score", help="which commands to measure")
    ap.add_argument("--bomb-lines", type=int, default=5_000_000, help="bad lines in the expanding gzip")
    args = ap.parse_args()
    commands = args.commands.split(",")
    fp = [_PY, "-c", "from flightpaths.cli import main; main()"]
    fp_debug = [*fp, "-vv"]  # score and ingest log resident memory after each chunk
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        d = Path(tmp)
        base, _, _, _ = peak_mb([_PY, "-c", "import flightpaths.ingest, flightpaths.cli"])
        print(f"baseline (import flightpaths): {base:.0f} MB; bound {BOUND_MB:.0f} MB")
        print(f"{'input':<28} {'command':<8} {'peak MB':>8} {'x baseline':>10} {'s':>7} {'rc':>3} {'within bound':>12}")
        inputs: list[tuple[str, Path]] = []
        for n in (int(x) for x in args.lines.split(",")):
            log = d / f"dense_{n}.sbs"
            write_dense_log(log, n)
            inputs.append((f"{n:,} lines, 1 aircraft", log))
        bomb = d / "expanding.sbs.gz"
        write_expanding_gzip(bomb, args.bomb_lines)
        inputs.append((f"gzip {bomb.stat().st_size / 1e6:.1f} MB -> {args.bomb_lines:,} bad lines", bomb))
        for label, log in inputs:
            pts = d / (log.name + ".parquet")
            runs = {
                "ingest": [*fp_debug, "ingest", str(log), "-o", str(pts), "--overwrite"],
                "tracks": [*fp, "tracks", str(pts), "-o", str(d / (log.name + ".windows.parquet")), "--overwrite"],
                "score": [*fp_debug, "score", str(log), "-o", str(d / (log.name + ".tips")), "--overwrite"],
            }
            for name in ("ingest", "tracks", "score"):
                if name not in commands and not (name == "ingest" and "tracks" in commands):
                    continue
                if name == "tracks" and not pts.exists():
                    continue
                mb, secs, rc, err = peak_mb(runs[name])
                ok = "yes" if mb <= BOUND_MB else "NO"
                print(f"{label:<28} {name:<8} {mb:>8.0f} {mb / base:>10.1f} {secs:>7.1f} {rc:>3} {ok:>12}", flush=True)
                if chunk_trend(err):
                    print(f"{'':<28} resident MB after chunks: {chunk_trend(err)}", flush=True)


if __name__ == "__main__":
    main()
