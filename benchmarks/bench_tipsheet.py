"""Tip sheet cost: time and size of ``tipsheet.html`` with maps and thumbnails, against the
text-only page (no windows given: no thumbnails, no maps) in the same run.

Scores ``data/sim/score/sim.sbs.gz`` with the built-in model once (or reuses ``--run DIR``, a
``flightpaths score`` output folder), then writes the tip sheet from its windows ``--repeats``
times each way and prints the medians, the ratio, the file sizes, and what the page is made of
(Leaflet, map data, thumbnails).

Usage: python benchmarks/bench_tipsheet.py [--run DIR] [--repeats 3]
"""

from __future__ import annotations

import argparse
import glob
import re
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from flightpaths.score import write_tip_sheet

ROOT = Path(__file__).resolve().parents[1]


def _run(folder: Path | None) -> Path:
    if folder is not None:
        return folder
    from flightpaths.score import ScoreSettings, score_logs
    from flightpaths.train.predict import load_bundle

    out = Path(tempfile.mkdtemp(prefix="bench-tipsheet-"))
    score_logs([ROOT / "data/sim/score/sim.sbs.gz"], out, load_bundle(ROOT / "flightpaths/models/default"),
               ScoreSettings(progress=False))  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    run = _run(args.run)
    windows = pd.concat([pd.read_parquet(p) for p in glob.glob(str(run / "parts/*.parquet"))], ignore_index=True)
    episodes = pd.read_csv(run / "episodes.csv", parse_dates=["start", "end"])
    out = Path(tempfile.mkdtemp(prefix="bench-tipsheet-out-"))
    write_tip_sheet(episodes, out / "warm.html", windows=windows)  # loads the basemap and Leaflet once
    full: list[float] = []
    plain: list[float] = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        write_tip_sheet(episodes, out / "full.html", windows=windows, overwrite=True)
        full.append(time.perf_counter() - t)
        t = time.perf_counter()
        write_tip_sheet(episodes, out / "plain.html", overwrite=True)
        plain.append(time.perf_counter() - t)
    a, b = statistics.median(full), statistics.median(plain)
    text = (out / "full.html").read_text(encoding="utf-8")
    thumbs = sum(len(m) for m in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text))
    data = re.search(r'id="lead-data">(.*?)</script>', text, re.S)
    leads = text.count('<article class="lead"')
    print(f"{len(episodes)} episodes, {leads} leads, {len(windows)} windows")
    print(f"with maps and thumbnails: {a:.2f} s ({a / max(len(episodes), 1) * 1000:.0f} ms per episode); "
          f"text only: {b:.2f} s; ratio {a / b:.1f}x")  # fmt: skip
    print(f"size: {len(text) / 1e6:.2f} MB (text only {(out / 'plain.html').stat().st_size / 1e6:.2f} MB): "
          f"map data {len(data.group(1)) / 1e6 if data else 0:.2f} MB, thumbnails {thumbs / 1e6:.2f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
