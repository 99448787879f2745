"""What watch's live page costs the watch loop: one :func:`flightpaths.watch.server.snapshot`
(on the engine's thread, after each step with alert events or every 2 s) and one
:func:`~flightpaths.watch.server.to_json` of it (per connected page and update, on the
server's event loop).

    .venv/bin/python benchmarks/bench_livepage.py [--aircraft 100] [--points 2000] [--alerts 15] [--repeats 10]

A synthetic engine state: *aircraft* aircraft around New York, each with *points* points a
second apart, the first *alerts* of them with an open alert (with its map context, place
labels, times and links), 200 closed episodes (20 shown). Baseline, measured in the same run:
the strict JSON of the same snapshot made the way the page made it before (a JSON round trip
and a pass over every value for NaN), and ``json.dumps`` of it alone (the floor).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class _Alert:
    alert_id: str
    episode: dict[str, Any]


@dataclass
class _Aircraft:
    object_id: str
    pts: pd.DataFrame
    alerts: dict[str, _Alert] = field(default_factory=dict)

    @property
    def pieces(self) -> list[pd.DataFrame]:
        return [self.pts]

    def points(self) -> pd.DataFrame:
        return self.pts


@dataclass
class _Engine:
    aircraft: dict[str, _Aircraft]
    closed: list[dict[str, Any]]
    now_ns: int


def _episode(obj: str, lat: float, lon: float, p: float) -> dict[str, Any]:
    return {"episode_id": f"{obj}_e", "object_id": obj, "callsign": "N1234", "registration": "N1234", "class": "circling",
            "start": "2024-06-01 09:20:00+00:00", "end": "2024-06-01 09:50:00+00:00", "lat": lat, "lon": lon,
            "radius_m": 1200.0, "p_segment": p, "tz": "America/New_York", "place": "2.1 km NE of Somewhere, New York, US"}  # fmt: skip


def engine_state(aircraft: int, points: int, alerts: int) -> _Engine:
    rng = np.random.default_rng(0)
    t = pd.date_range("2024-06-01 09:00:00", periods=points, freq="1s", tz="UTC")
    fleet = {}
    for i in range(aircraft):
        lat0, lon0 = 40.5 + rng.uniform(0, 0.5), -74.2 + rng.uniform(0, 0.6)
        a = np.linspace(0, 12 * np.pi, points)
        pts = pd.DataFrame({"time": t, "lat": lat0 + 0.01 * np.sin(a), "lon": lon0 + 0.013 * np.cos(a),
                            "callsign": pd.array(["N1234"] * points, dtype="string"), "altitude_ft": 1500.0, "speed_kt": 90.0})  # fmt: skip
        obj = f"{i:06x}"
        fleet[obj] = _Aircraft(obj, pts, {f"{obj}_e": _Alert(f"{obj}_e", _episode(obj, lat0, lon0, 0.5 + i / 100))} if i < alerts else {})
    closed = [_episode(f"c{i:05x}", 40.6, -73.9, 0.4) for i in range(200)]
    return _Engine(fleet, closed, int(t[-1].value))


def _old_finite(value: Any) -> Any:
    """The page's NaN pass before (a copy: the baseline)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _old_finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_old_finite(v) for v in value]
    return value


def _old_to_json(data: Any) -> str:
    return json.dumps(_old_finite(json.loads(json.dumps(data, default=str))), allow_nan=False)


def _time(fn: Callable[[], Any], repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--aircraft", type=int, default=100)
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--alerts", type=int, default=15)
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    from flightpaths.watch.server import snapshot, to_json

    engine = engine_state(args.aircraft, args.points, args.alerts)
    snap = snapshot(engine)  # warm: map context, places, time zones
    text = to_json(snap)
    assert json.loads(text) == json.loads(_old_to_json(snap))
    t_snap = _time(lambda: snapshot(engine), args.repeats)
    t_json = _time(lambda: to_json(snap), args.repeats)
    t_old = _time(lambda: _old_to_json(snap), args.repeats)
    t_floor = _time(lambda: json.dumps(snap, default=str), args.repeats)
    print(f"{args.aircraft} aircraft x {args.points:,} points, {args.alerts} open alerts, 20 closed shown; "
          f"page data {len(text) / 1e6:.2f} MB (median of {args.repeats})")  # fmt: skip
    print(f"snapshot:                  {t_snap * 1000:7.1f} ms")
    print(f"to_json:                   {t_json * 1000:7.1f} ms  ({t_json / t_floor:.2f}x json.dumps alone)")
    print(f"to_json as before (round trip + NaN pass): {t_old * 1000:7.1f} ms  ({t_old / t_json:.1f}x to_json now)")
    print(f"json.dumps alone (floor):  {t_floor * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
