"""Live alerts (``flightpaths watch``): throughput, alert latency and memory over a long run.

    .venv/bin/python benchmarks/bench_watch.py [--aircraft 40] [--hours 2] [--tick 1] [--msg-per-s 6]
        [--mem-aircraft 500] [--mem-hours 24] [--skip-memory]

Throughput and latency. A simulated SBS log (``--aircraft`` aircraft, ``--hours`` hours) is fed
to the live parser and engine ``--tick`` seconds of feed time at a time, on one core
(``torch.set_num_threads(1)``), scored with the built-in model: messages per second over the
whole run (parse, cut, draw, CNN, episodes), next to ``flightpaths score`` of the same log in
the same run (its messages per second: the baseline). The simulator sends few lines per
aircraft (a fix every 1-60 s, a velocity with each); ``--msg-per-s R`` makes a feed as dense
as a readsb receiver's: positions every second between fixes at most 70 s apart (linear in
between), each with its velocity, and R - 2 more lines per aircraft-second in turn from a
second velocity, altitude replies (``MSG,5``), all-call replies (``MSG,8``), air-to-air
(``MSG,7``) and squawk replies (``MSG,6``): readsb sends an airborne position and a velocity
about twice a second each, and Mode S replies as the aircraft is interrogated, so 5-8 lines
per aircraft-second; a receiver hearing 300 aircraft at about 6 sends the 2,000 msg/s of a
busy one. Latency: for every window, the wall
time from the start of the step whose points completed it to the end of that step, when its
alert (if any) is out; the feed's own delay (the hold of a few seconds that lets a position
meet its velocity message, and one tick) comes on top and is printed beside it.
Targets (issue 22): at least 50,000 msg/s (a busy receiver sends about 2,000); latency under 2 s.

Memory. ``--mem-aircraft`` aircraft for ``--mem-hours`` simulated hours, made one hour at a
time by the simulator (each hour a new seed and start time, so aircraft come and go), fed
through the same parser and engine with a cheap scorer instead of the CNN (the CNN's cost does
not change what is kept), printing resident memory after every simulated hour: it must stay
flat (aircraft not heard for a while are let go; their windows once their episodes close).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


#: what a readsb feed sends per aircraft-second besides a position and its velocity, in turn
#: (a second velocity, altitude replies, all-call replies, air-to-air, squawk replies)
FILLER = ("4", "5", "8", "7", "5", "4", "6", "8")
#: fixes further apart than this are a dropout or a coverage gap: no positions are made up
#: inside it (the simulator's sparse aircraft, a fix about every 60 s as some archives keep
#: them, are filled in: a receiver in range hears every aircraft about twice a second)
DENSE_GAP_S = 70


def dense_points(points: pd.DataFrame) -> pd.DataFrame:
    """*points* with a position every second between fixes of an aircraft at most
    :data:`DENSE_GAP_S` apart (linear in position, altitude and speed; the rest as the earlier fix)."""
    pts = points.sort_values(["object_id", "time"], kind="stable").reset_index(drop=True)
    t = pts["time"].astype("datetime64[ns, UTC]").astype("int64").to_numpy()
    same = pts["object_id"].to_numpy(object)[1:] == pts["object_id"].to_numpy(object)[:-1]
    gap = np.r_[np.where(same, (t[1:] - t[:-1]) // 1_000_000_000, 0), 0]
    gap[(gap > DENSE_GAP_S) | (gap < 2)] = 1  # one row: the fix itself
    src = np.repeat(np.arange(len(pts)), gap)
    k = np.arange(len(src)) - np.repeat(np.cumsum(gap) - gap, gap)  # seconds after its fix
    out = pts.iloc[src].reset_index(drop=True)
    nxt = np.minimum(src + 1, len(pts) - 1)
    frac = np.where(k > 0, k / np.maximum(1, (t[nxt] - t[src]) / 1e9), 0.0)
    for col in ("lat", "lon", "altitude_ft", "speed_kt"):
        v = pts[col].to_numpy(float)
        out[col] = v[src] + frac * (v[nxt] - v[src])
    out["time"] = pd.to_datetime(t[src] + k * 1_000_000_000, utc=True)
    return out.sort_values("time", kind="stable").reset_index(drop=True)


def _filler(kind: str, stamp: str, alt: str, velocity: str) -> str:
    """One readsb-style non-position line (22 fields); a velocity repeats *velocity* (when any)."""
    if kind == "4" and velocity.startswith("MSG,4,"):
        return velocity
    kind = "8" if kind == "4" else kind
    fields = [""] * 12
    if kind in ("5", "7"):
        fields[1] = alt
    if kind == "6":
        fields[7] = "1200"
    fields[-1] = "0"
    return f"MSG,{kind},1,1,{stamp}," + ",".join(fields)


def sim_lines(aircraft: int, hours: float, seed: int, start: str, msg_per_s: float = 0.0) -> list[bytes]:
    """SBS lines of a simulated day; with *msg_per_s*, at that many lines per aircraft-second
    (see :func:`dense_points`, :data:`FILLER`), as a readsb feed sends them."""
    from flightpaths.simulate import SimSettings, sbs_lines, simulate

    sim = simulate(SimSettings(seed=seed, aircraft=aircraft, hours=hours, start=start))
    if msg_per_s <= 0:
        lines, _ = sbs_lines(sim.points)
        return [(ln if ln.endswith("\n") else ln + "\n").encode() for ln in lines]
    points = dense_points(sim.points)
    lines, line_of = sbs_lines(points)
    extra = max(0.0, msg_per_s - 2.0)  # a position and its velocity already
    counts = np.diff(np.floor(np.arange(len(points) + 1) * extra)).astype(int)
    after = np.r_[line_of[1:] - 1, len(lines)]  # each point's lines end where the next point's start
    out: list[bytes] = []
    lo = 0
    for i, hi in enumerate(after.tolist()):
        out += [(ln + "\n").encode() for ln in lines[lo:hi]]
        if counts[i]:
            f = lines[line_of[i] - 1].split(",", 12)
            stamp = ",".join(f[4:10])
            vel = lines[line_of[i]] if line_of[i] < len(lines) else ""
            out += [(_filler(FILLER[(i + j) % len(FILLER)], stamp, f[11], vel) + "\n").encode() for j in range(counts[i])]
        lo = hi
    return out


def tick_of(line: bytes, tick_s: float) -> int:
    f = line.split(b",")
    if len(f) < 8 or len(f[7]) < 8:
        return -1
    hh, mm, ss = f[7].split(b":")
    day = int(f[6][-2:]) if len(f[6]) >= 2 else 0
    return int((day * 86400 + int(hh) * 3600 + int(mm) * 60 + float(ss)) // tick_s)


def ticks(lines: list[bytes], tick_s: float) -> list[list[bytes]]:
    out: list[list[bytes]] = [[]]
    last = None
    for line in lines:
        k = tick_of(line, tick_s)
        if last is not None and k != last and k >= 0:
            out.append([])
        out[-1].append(line)
        last = k if k >= 0 else last
    return out


def run_live(bundle, batches: list[list[bytes]], *, score_fn=None, on_hour=None) -> dict[str, object]:  # noqa: ANN001
    """Feed *batches* through the live parser and engine; wall and CPU time, the CPU time of each part."""
    from flightpaths.score import score_windows
    from flightpaths.watch import LiveEngine, LiveSbsParser, WatchSettings

    parts = {"parse": 0.0, "buffer": 0.0, "step": 0.0, "draw+CNN": 0.0, "episodes": 0.0, "score": 0.0}

    def scored(windows: pd.DataFrame) -> pd.DataFrame:
        c = time.process_time()
        out = score_fn(windows) if score_fn is not None else score_windows(windows, bundle, batch_size=64)
        parts["draw+CNN"] += time.process_time() - c
        return out

    engine = LiveEngine(bundle, WatchSettings(), score_fn=scored)
    for name, part in (("_episodes", "episodes"), ("_score", "score")):
        timed(engine, name, part, parts)
    parser = LiveSbsParser(name="bench")
    latencies: list[float] = []
    steps: list[float] = []
    t0, c0 = time.perf_counter(), time.process_time()
    for batch in batches:
        s0, c1 = time.perf_counter(), time.process_time()
        parser.feed(batch)
        cols = parser.parse_columns()
        c2 = time.process_time()
        engine.add_columns(cols)
        c3 = time.process_time()
        before = engine.n_windows
        engine.step()
        c4 = time.process_time()
        parts["parse"] += c2 - c1
        parts["buffer"] += c3 - c2
        parts["step"] += c4 - c3
        if engine.n_windows > before:
            latencies += [time.perf_counter() - s0] * (engine.n_windows - before)
        steps.append(time.perf_counter() - s0)
        if on_hour is not None:
            on_hour(engine)
    c1 = time.process_time()
    engine.add_columns(parser.parse_columns(final=True))
    engine.step()
    engine.finish()
    parts["step"] += time.process_time() - c1
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    parser.close()
    # step: cutting windows and the rest; score: the window geometry the segment score needs
    parts["step"] -= parts["draw+CNN"] + parts["episodes"] + (parts["score"] - parts["draw+CNN"])
    parts["score"] -= parts["draw+CNN"]
    parts = {"parse": parts["parse"], "buffer": parts["buffer"], "windows": parts["step"], "geometry": parts["score"],
             "draw+CNN": parts["draw+CNN"], "episodes": parts["episodes"]}
    return {"wall": wall, "cpu": cpu, "lines": parser.lines, "windows": engine.n_windows, "latency": np.array(latencies),
            "steps": np.array(steps), "parts": parts}


def timed(engine: object, name: str, part: str, parts: dict[str, float]) -> None:
    """Add the CPU time of *engine*'s method *name* to ``parts[part]`` (outermost calls only)."""
    method = getattr(engine, name)
    depth = [0]

    def wrapper(*args: object, **kwargs: object) -> object:
        depth[0] += 1
        c = time.process_time()
        try:
            return method(*args, **kwargs)
        finally:
            depth[0] -= 1
            if not depth[0]:
                parts[part] += time.process_time() - c

    setattr(engine, name, wrapper)


def _span_hours(lines: list[bytes]) -> float:
    ks = [k for k in (tick_of(ln, 1.0) for ln in lines) if k >= 0]
    return (max(ks) - min(ks)) / 3600 if ks else 0.0


def cheap_scores(windows: pd.DataFrame) -> pd.DataFrame:
    """A stand-in for the CNN in the memory run: a turn rule, no drawing."""
    p = np.clip(np.abs(windows["net_turn_rev"].to_numpy(float)) / 2.0, 0, 1)
    return windows.assign(p_circling=p, p_straight=1 - p, render_status="ok")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--aircraft", type=int, default=40)
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--tick", type=float, default=1.0)
    ap.add_argument("--msg-per-s", type=float, default=0.0,
                    help="SBS lines per aircraft-second in view, as a readsb feed sends them (positions every second, "
                         "velocities, altitude, all-call, air-to-air and squawk replies); 0: the simulator's own, sparse")
    ap.add_argument("--mem-aircraft", type=int, default=500)
    ap.add_argument("--mem-hours", type=int, default=24)
    ap.add_argument("--log", type=Path, default=None,
                    help="feed this SBS log (e.g. a real receiver's, from ../shared/data) instead of simulated traffic")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    args = ap.parse_args()

    import torch

    from flightpaths.score import ScoreSettings, score_logs
    from flightpaths.train.predict import load_bundle

    torch.set_num_threads(1)
    bundle = load_bundle(REPO / "flightpaths" / "models" / "default")
    if not args.skip_throughput:
        if args.log is not None:
            raw = args.log.read_bytes()
            lines = [ln + b"\n" for ln in raw.replace(b"\r\n", b"\n").split(b"\n") if ln.strip()]
            args.hours = max(1e-9, _span_hours(lines))
        else:
            lines = sim_lines(args.aircraft, args.hours, 11, "2024-06-01T08:00:00Z", args.msg_per_s)
        batches = ticks(lines, args.tick)
        # warm up first (lazy imports, the compiled scanner's cache, the model): a long-running watch pays them once
        run_live(bundle, ticks(sim_lines(3, 0.3, 5, "2024-05-01T08:00:00Z"), args.tick))
        live = run_live(bundle, batches)
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "sim.sbs"
            log.write_bytes(b"".join(lines))
            t0, c0 = time.perf_counter(), time.process_time()
            score_logs([log], Path(tmp) / "out", bundle, ScoreSettings(workers=1, progress=False))
            batch_wall, batch_cpu = time.perf_counter() - t0, time.process_time() - c0
        lat = live["latency"]
        rate = live["lines"] / live["wall"]
        steps = live["steps"]
        print(f"steps: {len(steps):,} (one per {args.tick:g} s of feed); wall per step median {np.median(steps) * 1e3:.0f} ms, "
              f"p95 {np.percentile(steps, 95) * 1e3:.0f} ms: a feed of this density keeps up while that stays under "
              f"{args.tick:g} s")
        density = f", {args.msg_per_s:g} msg per aircraft-second in view" if args.msg_per_s > 0 else ", the simulator's density"
        what = args.log or f"{args.aircraft} simulated aircraft{density}"
        print(f"log: {what}, {args.hours:g} h, {live['lines']:,} SBS lines, {live['windows']:,} windows; "
              f"fed {args.tick:g} s of feed at a time, one core")
        print(f"watch: {rate:,.0f} msg/s ({live['wall']:.1f} s) [target >= 50,000]; "
              f"flightpaths score of the same log: {live['lines'] / batch_wall:,.0f} msg/s ({batch_wall:.1f} s); "
              f"ratio {batch_wall / live['wall']:.2f}x")
        print(f"      per CPU second of this process (the box is shared: wall time counts the others): watch "
              f"{live['lines'] / live['cpu']:,.0f} msg/s ({live['cpu']:.1f} s CPU), score {live['lines'] / batch_cpu:,.0f} msg/s "
              f"({batch_cpu:.1f} s CPU); ratio {batch_cpu / live['cpu']:.2f}x")
        per = ", ".join(f"{k} {v / live['lines'] * 1e6:,.0f}" for k, v in live["parts"].items())
        print(f"      CPU per message, microseconds: {per} (windows: cutting them; geometry: what the segment "
              f"score needs of each; draw+CNN: drawing and scoring them; episodes: merging, segment and behaviour "
              f"scores, alerts)")
        print(f"      per window scored: {live['cpu'] / max(1, live['windows']) * 1e3:.1f} ms CPU "
              f"({live['lines'] / max(1, live['windows']):.0f} messages a window in this log)")
        feed_hours = args.hours * 3600 / live["wall"]
        print(f"      that is {feed_hours:,.0f}x real time for this traffic ({live['lines'] / (args.hours * 3600):,.0f} msg/s in the log)")
        if len(lat):
            print(f"latency window complete -> alert out: median {np.median(lat):.2f} s, p95 {np.percentile(lat, 95):.2f} s, "
                  f"max {lat.max():.2f} s [target < 2 s]; plus the feed's hold (5 s of feed time) and one tick ({args.tick:g} s)")
    if not args.skip_memory:
        print(f"memory: {args.mem_aircraft} aircraft x {args.mem_hours} simulated hours (cheap scorer)")
        rows = []
        from flightpaths.watch import LiveEngine, LiveSbsParser, WatchSettings

        engine = LiveEngine(bundle, WatchSettings(), score_fn=cheap_scores)
        parser = LiveSbsParser(name="bench")
        t0, c0 = time.perf_counter(), time.process_time()
        for hour in range(args.mem_hours):
            start = (pd.Timestamp("2024-06-01T00:00:00Z") + pd.Timedelta(hours=hour)).isoformat()
            lines = sim_lines(args.mem_aircraft, 1.0, 100 + hour, start)
            for batch in ticks(lines, 10.0):
                parser.feed(batch)
                engine.add_columns(parser.parse_columns())
                engine.step()
            del lines
            rows.append((hour + 1, rss_mib(), len(engine.aircraft), engine.n_windows))
            held = sum(len(a.arrays().get("time", ())) for a in engine.aircraft.values())
            kept = sum(0 if a.windows is None else len(a.windows) for a in engine.aircraft.values())
            print(f"  after hour {hour + 1:2d}: RSS {rows[-1][1]:7.1f} MiB, aircraft held {rows[-1][2]:4d}, "
                  f"points held {held:,}, windows held {kept:,}, windows so far {rows[-1][3]:,}, "
                  f"closed episodes {len(engine.closed):,} ({time.perf_counter() - t0:.0f} s wall, "
                  f"{time.process_time() - c0:.0f} s CPU)", flush=True)
            if len(rows) >= 4:  # the trend so far (a run cut short still tells it)
                rss_so_far = np.array([r[1] for r in rows[1:]])
                print(f"    slope of RSS over hours 2-{len(rows)}: {np.polyfit(np.arange(len(rss_so_far)), rss_so_far, 1)[0]:+.1f} MiB/h",
                      flush=True)
        parser.close()
        if len(rows) >= 4:
            second = np.mean([r[1] for r in rows[1:len(rows) // 2]])
            last = np.mean([r[1] for r in rows[len(rows) // 2:]])
            print(f"RSS second quarter-half mean {second:.0f} MiB, last half mean {last:.0f} MiB: ratio {last / second:.2f} (flat ~1.0)")
            rss = np.array([r[1] for r in rows])
            steps = np.diff(rss[1:])  # the first hour fills the buffers
            print(f"RSS change per simulated hour after hour 2: median {np.median(steps):+.1f} MiB, "
                  f"slope of a line fitted through hours 2-{len(rows)} {np.polyfit(np.arange(len(rss) - 1), rss[1:], 1)[0]:+.1f} MiB/h")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
