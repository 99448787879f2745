"""A seeded simulator of helicopters and light aircraft with known ground truth.

Each aircraft flies a sequence of behaviour intervals (:data:`BEHAVIOURS`): straight transits,
gentle turns, orbits (radius, direction, wind drift, drifting centre), wide slow orbits
(10-30 km across), partial orbits, meanders, hovering (station keeping), racetracks/holds,
lawnmower surveys, S-turns, approaches and landings, and parked or taxiing on the ground; when
asked for (:data:`OPTIONAL_BEHAVIOURS`), airport circuits of light aircraft and airliners at
cruise with route turns, Vs, doglegs and holds.
The path is integrated on a 1-second grid from turn rate, airspeed and wind, then sampled
the way receivers see it: irregular intervals (about 1-3 s, 5-15 s, or about 60 s like ADS-B
Exchange extracts), dropouts, coverage gaps longer than the track gap, receiver noise, and
extra GPS jitter when hovering or parked. Many aircraft fly interleaved in time.

:func:`simulate` returns the points table and the truth (one row per behaviour interval:
``object_id, callsign, start, end, behaviour, circling`` plus ``kind, sampling, radius_m,
revolutions``). :func:`write_sbs` writes a standard 22-field SBS-1 log (``MSG,1`` callsigns,
``MSG,3`` airborne and ``MSG,2`` surface positions, ``MSG,4`` velocities) that reads back
through :func:`flightpaths.ingest.read_sbs` to the same points. Everything is deterministic
for a given :class:`SimSettings`; each aircraft has its own random stream, so adding aircraft
does not change the others.

>>> sim = simulate(SimSettings(seed=1, hours=0.5, aircraft=2))
>>> sorted(sim.truth.columns[:6])
['behaviour', 'callsign', 'circling', 'end', 'object_id', 'start']
>>> sim.points["object_id"].nunique()
2
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from .errors import SettingsError
from .fileio import atomic_write_bytes, write_csv
from .registration import FIRST_US, LAST_US, icao_of_n_number
from .schema import KT_PER_MPS, validate_points
from .tracks import inverse_local_aeqd

__all__ = [
    "BEHAVIOURS",
    "CIRCLING",
    "OPTIONAL_BEHAVIOURS",
    "SimSettings",
    "Simulation",
    "label_windows",
    "sbs_lines",
    "simulate",
    "write_sbs",
    "write_simulation",
]

BEHAVIOURS: Final[tuple[str, ...]] = (
    "straight", "gentle_turns", "orbit", "wide_orbit", "partial_orbit", "hover", "racetrack",
    "survey", "s_turns", "approach", "parked", "meander", "circuit", "route_turn", "hold",
)
#: Behaviours that are circling (partial orbits only when they complete a revolution).
CIRCLING: Final[frozenset[str]] = frozenset({"orbit", "wide_orbit", "racetrack", "hold"})
#: Behaviours flown only when asked for (``SimSettings.airliner_share``, ``circuit_weight``).
OPTIONAL_BEHAVIOURS: Final[frozenset[str]] = frozenset({"circuit", "route_turn", "hold"})

_KT: Final = 1.0 / KT_PER_MPS  # m/s per knot

# Behaviour weights for airborne choices, per kind of aircraft.
_WEIGHTS: Final[dict[str, dict[str, float]]] = {
    "helicopter": {
        "straight": 0.12, "gentle_turns": 0.08, "orbit": 0.22, "wide_orbit": 0.03, "partial_orbit": 0.08,
        "hover": 0.14, "racetrack": 0.04, "survey": 0.04, "s_turns": 0.06, "meander": 0.09, "approach": 0.07,
    },
    "light": {
        "straight": 0.13, "gentle_turns": 0.10, "orbit": 0.13, "wide_orbit": 0.14, "partial_orbit": 0.08,
        "racetrack": 0.08, "survey": 0.09, "s_turns": 0.06, "meander": 0.11, "approach": 0.08,
    },
    # airliners (only with SimSettings.airliner_share): cruise, route turns, Vs and doglegs, holds
    "airliner": {"straight": 0.35, "route_turn": 0.45, "hold": 0.20},
}


@dataclass(frozen=True)
class SimSettings:
    """What to simulate.

    ``hours`` of traffic with ``aircraft`` aircraft (each flies 50-100% of the span),
    ``helicopter_share`` of them helicopters, ``sparse_share`` sampled about every 60 s (the
    rest every 1-3 s or 5-15 s). Positions scatter within ``spread_km`` of the centre.
    ``noise_m`` is the typical receiver position noise; ``dropout_per_hour`` short dropouts
    (20 s - 3 min) and ``gap_per_hour`` coverage gaps (11-25 min, which split tracks) happen
    per aircraft-hour. ``wind_kt`` is the largest wind speed drawn. ``airliner_share`` of the
    aircraft are airliners at cruise (route turns, Vs, doglegs and holds at altitude), and
    light aircraft fly airport circuits (touch-and-go patterns) with weight ``circuit_weight``
    beside the other behaviours; both default to 0, which leaves every seed's output as it was.
    """

    seed: int = 0
    hours: float = 2.0
    aircraft: int = 12
    start: str = "2024-06-01T08:00:00Z"
    centre_lat: float = 40.75
    centre_lon: float = -73.95
    spread_km: float = 40.0
    helicopter_share: float = 0.5
    sparse_share: float = 0.25
    noise_m: float = 8.0
    dropout_per_hour: float = 2.0
    gap_per_hour: float = 0.15
    wind_kt: float = 25.0
    airliner_share: float = 0.0
    circuit_weight: float = 0.0

    def __post_init__(self) -> None:
        if not (isinstance(self.hours, (int, float)) and 0 < self.hours <= 24 * 30):
            raise SettingsError(f"setting hours must be between 0 and 720, got {self.hours!r}")
        if not (isinstance(self.aircraft, int) and 1 <= self.aircraft <= 100_000):
            raise SettingsError(f"setting aircraft must be a whole number from 1 to 100000, got {self.aircraft!r}")
        for name in ("helicopter_share", "sparse_share", "airliner_share", "circuit_weight"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise SettingsError(f"setting {name} must be between 0 and 1, got {value!r}")
        if not -85 <= self.centre_lat <= 85:
            raise SettingsError(f"setting centre_lat must be between -85 and 85, got {self.centre_lat!r}")
        try:
            pd.Timestamp(self.start)
        except ValueError as exc:
            raise SettingsError(f"setting start {self.start!r} is not a time: {exc}") from exc


@dataclass(frozen=True)
class Simulation:
    """A simulated log: the points table and one truth row per behaviour interval."""

    points: pd.DataFrame
    truth: pd.DataFrame


@dataclass
class _State:
    x: float
    y: float
    heading: float  # deg clockwise from north
    speed: float  # m/s
    alt: float  # ft
    ground: bool


@dataclass
class _Piece:
    """One behaviour interval on the 1-second grid."""

    behaviour: str
    x: np.ndarray
    y: np.ndarray
    alt: np.ndarray
    gs: np.ndarray  # ground speed m/s
    track: np.ndarray  # deg
    ground: bool
    jitter_m: float
    circling: bool
    radius_m: float
    revolutions: float


def _ramp(start: float, target: float, n: int, rate_per_s: float) -> np.ndarray:
    """Values moving from *start* to *target* at *rate_per_s*, then holding."""
    t = np.arange(n, dtype=float)
    step = np.clip(t * rate_per_s, 0, abs(target - start))
    return start + np.sign(target - start) * step


def _fly(
    st: _State, turn: np.ndarray, speed: np.ndarray, alt: np.ndarray, wind: np.ndarray, *,
    behaviour: str, circling: bool = False, radius_m: float = math.nan, revolutions: float = math.nan,
    drift: np.ndarray | None = None,
) -> _Piece:
    """Integrate turn rate (deg/s) and airspeed (m/s) with wind (m/s east, north) over 1-s steps."""
    heading = st.heading + np.cumsum(turn)
    h = np.radians(heading)
    vx = speed * np.sin(h) + wind[0] + (0.0 if drift is None else drift[0])
    vy = speed * np.cos(h) + wind[1] + (0.0 if drift is None else drift[1])
    x = st.x + np.cumsum(vx)
    y = st.y + np.cumsum(vy)
    gs = np.hypot(vx, vy)
    track = np.degrees(np.arctan2(vx, vy)) % 360
    st.x, st.y, st.heading, st.speed, st.alt = float(x[-1]), float(y[-1]), float(heading[-1] % 360), float(speed[-1]), float(alt[-1])
    st.ground = False
    return _Piece(behaviour, x, y, alt, gs, track, False, 0.0, circling, radius_m, revolutions)


def _cruise(kind: str, rng: np.random.Generator) -> float:
    if kind == "airliner":
        return rng.uniform(420, 490) * _KT
    return (rng.uniform(90, 130) if kind == "helicopter" else rng.uniform(100, 150)) * _KT


def _altitude(kind: str, behaviour: str, rng: np.random.Generator) -> float:
    if kind == "airliner":
        lo, hi = (15000, 35000) if behaviour == "hold" else (30000, 41000)
    elif kind == "helicopter":
        lo, hi = {"hover": (200, 800), "orbit": (700, 1800), "partial_orbit": (700, 1800)}.get(behaviour, (800, 2500))
    else:
        lo, hi = {"wide_orbit": (3000, 10000), "survey": (3000, 8000), "orbit": (1500, 4500)}.get(behaviour, (2000, 7500))
    return float(round(rng.uniform(lo, hi) / 100) * 100)


def _behaviour_piece(kind: str, behaviour: str, st: _State, wind: np.ndarray, rng: np.random.Generator, max_s: int) -> _Piece:
    """One interval of *behaviour*, starting from the state *st* (which it updates)."""
    alt_target = _altitude(kind, behaviour, rng)
    climb = rng.uniform(500, 1000) / 60.0  # ft/s

    def alts(n: int) -> np.ndarray:
        return _ramp(st.alt, alt_target, n, climb)

    heli = kind == "helicopter"
    if behaviour in ("circuit", "route_turn", "hold"):
        return _extra_piece(kind, behaviour, st, wind, rng, max_s, alts)
    if behaviour in ("orbit", "partial_orbit", "wide_orbit"):
        if behaviour == "wide_orbit":
            radius = rng.uniform(5000, 15000)
            v = rng.uniform(100, 160) * _KT
            revs = rng.uniform(1.0, 2.5)
        else:
            radius = rng.uniform(250, 1500) if heli else rng.uniform(700, 3000)
            v = (rng.uniform(50, 90) if heli else rng.uniform(75, 110)) * _KT
            revs = rng.uniform(1.5, 6.0) if behaviour == "orbit" else rng.uniform(0.3, 1.5)
        n = int(min(max_s, revs * 2 * math.pi * radius / v))
        n = max(n, 30)
        direction = -1.0 if rng.random() < 0.6 else 1.0
        wobble = 1 + 0.08 * np.sin(np.arange(n) * 2 * math.pi / rng.uniform(60, 400) + rng.uniform(0, 6.3))
        rate = direction * np.degrees(v / radius) * wobble
        actual_revs = float(abs(rate.sum()) / 360)
        drift = rng.normal(0, 1.0, 2)  # slowly drifting centre (e.g. following something)
        circ = behaviour != "partial_orbit" or actual_revs >= 1.0
        return _fly(st, rate, np.full(n, v), alts(n), wind, behaviour=behaviour, circling=circ,
                    radius_m=radius, revolutions=actual_revs, drift=drift)
    if behaviour == "racetrack":
        v = (rng.uniform(70, 100) if heli else rng.uniform(90, 140)) * _KT
        leg_m = rng.uniform(1000, 3000) if heli else rng.uniform(2000, 8000)
        rate = rng.choice([-1.0, 1.0]) * (6.0 if heli else 3.0)
        turns = _racetrack_turns(v, leg_m, rate, rng.uniform(1.5, 4.0), max_s)
        return _fly(st, turns, np.full(len(turns), v), alts(len(turns)), wind, behaviour=behaviour, circling=True,
                    radius_m=v / math.radians(abs(rate)), revolutions=float(abs(turns.sum()) / 360))
    if behaviour == "survey":
        v = (rng.uniform(70, 100) if heli else rng.uniform(90, 130)) * _KT
        leg = int(rng.uniform(2000, 8000) / v)
        rate = 3.0 * rng.choice([-1.0, 1.0])
        turn_s = int(180 / 3.0)
        parts = []
        for i in range(int(rng.integers(4, 11))):
            parts += [np.zeros(leg), np.full(turn_s, rate if i % 2 == 0 else -rate)]
        turns = np.concatenate(parts)[:max_s]
        return _fly(st, turns, np.full(len(turns), v), alts(len(turns)), wind, behaviour=behaviour)
    if behaviour == "s_turns":
        n = int(min(max_s, rng.uniform(300, 720)))
        amp, period = rng.uniform(2.5, 6.0), rng.uniform(60, 180)
        turns = amp * np.sin(2 * math.pi * np.arange(n) / period)
        v = _cruise(kind, rng) * 0.8
        return _fly(st, turns, np.full(n, v), alts(n), wind, behaviour=behaviour)
    if behaviour == "meander":
        n = int(min(max_s, rng.uniform(900, 2400)))
        amp, period = rng.uniform(60, 150), rng.uniform(480, 1200)
        t = np.arange(n)
        heading = amp * np.sin(2 * math.pi * t / period) + np.cumsum(rng.normal(0, 0.15, n))
        turns = np.diff(heading, prepend=0.0)
        v = _cruise(kind, rng) * rng.uniform(0.7, 1.0)
        return _fly(st, turns, np.full(n, v), alts(n), wind, behaviour=behaviour)
    if behaviour == "gentle_turns":
        n = int(min(max_s, rng.uniform(300, 900)))
        t = np.arange(n)
        turns = sum(
            rng.uniform(0.15, 0.6) * np.sin(2 * math.pi * t / p + rng.uniform(0, 6.3))
            for p in rng.uniform(90, 400, 2)
        )
        return _fly(st, turns, np.full(n, _cruise(kind, rng)), alts(n), wind, behaviour=behaviour)
    if behaviour == "hover":
        n = int(min(max_s, rng.uniform(180, 900)))
        walk = np.cumsum(rng.normal(0, 0.5, (n, 2)), axis=0)  # station keeping wanders a few metres
        x, y = st.x + walk[:, 0], st.y + walk[:, 1]
        alt = alts(n)
        gs = np.hypot(np.gradient(x), np.gradient(y))
        track = np.degrees(np.arctan2(np.gradient(x), np.gradient(y))) % 360
        st.x, st.y, st.alt, st.speed = float(x[-1]), float(y[-1]), float(alt[-1]), 0.0
        return _Piece(behaviour, x, y, alt, gs, track, False, rng.uniform(5, 20), False, math.nan, math.nan)
    if behaviour == "approach":
        n = int(min(max_s, rng.uniform(240, 600)))
        v0 = max(st.speed, 30 * _KT)
        v1 = (rng.uniform(0, 20) if heli else rng.uniform(55, 75)) * _KT
        speed = np.linspace(v0, v1, n)
        turns = np.zeros(n)
        k = int(n * rng.uniform(0.3, 0.6))
        turns[k : k + 30] = rng.choice([-3.0, 3.0])  # base-to-final turn
        alt = np.linspace(st.alt, 0.0, n)
        piece = _fly(st, turns, speed, alt, wind, behaviour=behaviour)
        st.alt = 0.0
        return piece
    if behaviour == "parked":
        n = int(min(max_s, rng.uniform(300, 1800)))
        x = np.full(n, st.x)
        y = np.full(n, st.y)
        if rng.random() < 0.5:  # taxi a few hundred metres, then stop
            k = int(rng.uniform(60, 240))
            v = rng.uniform(5, 15) * _KT
            h = math.radians(rng.uniform(0, 360))
            d = np.minimum(np.arange(n), k) * v
            x, y = st.x + d * math.sin(h), st.y + d * math.cos(h)
        gs = np.hypot(np.gradient(x), np.gradient(y))
        track = np.degrees(np.arctan2(np.gradient(x), np.gradient(y))) % 360
        st.x, st.y, st.speed, st.alt, st.ground = float(x[-1]), float(y[-1]), 0.0, 0.0, True
        return _Piece(behaviour, x, y, np.full(n, np.nan), gs, track, True, rng.uniform(3, 15), False, math.nan, math.nan)
    # straight (also the take-off climb after parking)
    n = int(min(max_s, rng.uniform(180, 900)))
    noise = rng.normal(0, 0.08, n + 29)
    turns = np.convolve(noise, np.ones(30) / 30, mode="valid")  # smooth heading wander, length n
    if st.ground:
        st.alt = 0.0
        st.heading = float(rng.uniform(0, 360))
    return _fly(st, turns, np.full(n, _cruise(kind, rng)), alts(n), wind, behaviour="straight")


def _racetrack_turns(v: float, leg_m: float, rate: float, laps: float, max_s: int) -> np.ndarray:
    """Turn rates (deg/s) of *laps* laps of a racetrack: straight legs of *leg_m* at *v* m/s
    joined by 180-degree turns at *rate* deg/s (signed)."""
    leg = int(leg_m / v)
    turn_s = int(180 / abs(rate))
    lap = np.concatenate([np.zeros(leg), np.full(turn_s, rate), np.zeros(leg), np.full(turn_s, rate)])
    return np.tile(lap, int(math.ceil(laps)))[: max(60, min(max_s, int(laps * len(lap))))]


def _circuit(st: _State, wind: np.ndarray, rng: np.random.Generator, max_s: int) -> _Piece:
    """Airport circuits: 2-5 touch-and-go laps of a rectangular pattern (upwind, crosswind,
    downwind, base, final; 90-degree turns one way), climbing to about 1,000 ft and descending
    to the runway each lap."""
    v = rng.uniform(65, 95) * _KT
    rate = (-1.0 if rng.random() < 0.7 else 1.0) * rng.uniform(3.0, 5.0)
    turn_s = int(90 / abs(rate))
    up, cross, down, final = (int(rng.uniform(*r)) for r in ((40, 70), (25, 45), (60, 120), (40, 70)))
    legs = [up, cross, down, cross, final]
    turn = np.concatenate([np.r_[np.zeros(n), np.full(turn_s, rate)] for n in legs[:-1]] + [np.zeros(final)])
    top = rng.uniform(800, 1300)
    n_lap = len(turn)
    climb_end, descend_start = up + cross + 2 * turn_s, n_lap - final - cross - turn_s
    alt = np.interp(np.arange(n_lap), [0, climb_end, descend_start, n_lap - 1], [50.0, top, top, 50.0])
    laps = int(rng.integers(2, 6))
    n = min(max_s, laps * n_lap)
    turns = np.tile(turn, laps)[:n]
    alt = np.tile(alt, laps)[:n]
    alt = np.maximum(alt, st.alt - np.arange(n) * 1000 / 60.0)  # descend into the first lap
    return _fly(st, turns, np.full(n, v), alt, wind, behaviour="circuit", revolutions=float(abs(turns.sum()) / 360))


def _extra_piece(kind: str, behaviour: str, st: _State, wind: np.ndarray, rng: np.random.Generator, max_s: int,
                 alts: Callable[[int], np.ndarray]) -> _Piece:
    """Circuits, airliner route turns (one turn, a V or a dogleg at cruise) and holds."""
    if behaviour == "circuit":
        return _circuit(st, wind, rng, max_s)
    if behaviour == "hold":
        v = rng.uniform(210, 265) * _KT
        rate = rng.choice([-1.0, 1.0]) * rng.uniform(1.5, 3.0)
        turns = _racetrack_turns(v, v * rng.uniform(60, 90), rate, rng.uniform(1.5, 4.0), max_s)
        return _fly(st, turns, np.full(len(turns), v), alts(len(turns)), wind, behaviour="hold", circling=True,
                    radius_m=v / math.radians(abs(rate)), revolutions=float(abs(turns.sum()) / 360))
    n = int(min(max_s, rng.uniform(480, 1200)))
    v = _cruise(kind, rng)
    turns = np.convolve(rng.normal(0, 0.05, n + 29), np.ones(30) / 30, mode="valid")
    rate = rng.uniform(0.8, 2.0)
    shape = str(rng.choice(["turn", "v", "dogleg"]))
    first = rng.uniform(*{"turn": (20, 150), "v": (60, 150), "dogleg": (20, 60)}[shape]) * rng.choice([-1.0, 1.0])
    angles = {"turn": [first], "v": [first, -first * rng.uniform(0.8, 1.2)], "dogleg": [first, -first]}[shape]
    at = np.sort(rng.uniform(0.15, 0.85, len(angles))) * n
    for a, k in zip(angles, at.astype(int)):
        m = int(abs(a) / rate)
        turns[k : k + m] += math.copysign(rate, a)
    return _fly(st, turns, np.full(n, v), alts(n), wind, behaviour="route_turn")


def _next_behaviour(kind: str, previous: str | None, rng: np.random.Generator, circuit_weight: float = 0.0) -> str:
    if previous == "parked":
        return "straight"
    if previous == "approach":
        return "parked" if rng.random() < 0.7 else "straight"
    weights = dict(_WEIGHTS[kind])
    if circuit_weight > 0 and kind == "light":
        weights["circuit"] = circuit_weight
    if previous in weights:
        weights[previous] *= 0.3  # vary the sequence
    names = list(weights)
    p = np.array([weights[k] for k in names])
    return str(rng.choice(names, p=p / p.sum()))


def _sample_times(n_s: int, mode: str, settings: SimSettings, rng: np.random.Generator) -> np.ndarray:
    """Irregular sample times (seconds, < n_s) with dropouts and coverage gaps removed."""
    if mode == "sparse":
        dts = np.clip(rng.normal(60, 8, n_s // 40 + 10), 35, 90)
    elif mode == "dense":
        dts = 0.8 + rng.exponential(1.2, n_s + 10)
    else:
        dts = 4.0 + rng.exponential(6.0, n_s // 4 + 10)
    t = rng.uniform(0, dts[0]) + np.concatenate([[0.0], np.cumsum(dts)])
    t = t[t < n_s - 1]
    keep = np.ones(len(t), bool)
    hours = n_s / 3600
    for _ in range(rng.poisson(settings.dropout_per_hour * hours)):
        a = rng.uniform(0, n_s)
        keep &= ~((t >= a) & (t < a + rng.uniform(20, 180)))
    for _ in range(rng.poisson(settings.gap_per_hour * hours)):
        a = rng.uniform(0, n_s)
        keep &= ~((t >= a) & (t < a + rng.uniform(660, 1500)))
    return t[keep]


def _callsign(kind: str, rng: np.random.Generator) -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    if kind == "helicopter":
        prefix = str(rng.choice(["N", "HELI", "PD", "HEMS", "NEWS"]))
        if prefix == "N":
            return f"N{rng.integers(100, 999)}{letters[rng.integers(24)]}{letters[rng.integers(24)]}"
        return f"{prefix}{rng.integers(1, 99)}"
    digits, letter = str(rng.integers(1000, 99999)), letters[rng.integers(24)]
    return f"N{digits}" if len(digits) == 5 else f"N{digits}{letter}"  # a valid N-number: at most 5 after the N


def _address(own: str | None, draw: int, used: set[str]) -> str:
    """The aircraft's ICAO address: its own for an N-number callsign, else one in the US block
    (the simulated sky is over New York) from the random draw; the next free one on a clash."""
    if own is not None and own not in used:
        return own
    span = LAST_US - FIRST_US + 1
    offset = (draw - 0x100000) % span
    while (hex_id := f"{FIRST_US + offset:06x}") in used:
        offset = (offset + 1) % span
    return hex_id


def _aircraft(i: int, settings: SimSettings, used: set[str]) -> tuple[pd.DataFrame, list[dict[str, object]]]:
    """Simulate one aircraft: its sampled points (local metres) and truth intervals."""
    rng = np.random.default_rng([settings.seed, i])
    kind = "helicopter" if rng.random() < settings.helicopter_share else "light"
    if settings.airliner_share > 0 and np.random.default_rng([settings.seed, i, 1]).random() < settings.airliner_share:
        kind = "airliner"  # its own stream: the other draws stay as they were
    u = rng.random()
    mode = "sparse" if u < settings.sparse_share else ("dense" if rng.random() < 0.45 else "medium")
    raw = f"{rng.integers(0x100000, 0xFFFFFF):06x}"
    while f"raw:{raw}" in used:  # the draws as they always were, so every seed keeps its tracks
        raw = f"{rng.integers(0x100000, 0xFFFFFF):06x}"
    used.add(f"raw:{raw}")
    callsign = _callsign(kind, rng)
    hex_id = _address(icao_of_n_number(callsign), int(raw, 16), used)
    used.add(hex_id)
    span_s = settings.hours * 3600
    t_start = rng.uniform(0, 0.25 * span_s)
    t_end = min(span_s, t_start + rng.uniform(0.5, 1.0) * span_s)
    total = max(60, int(t_end - t_start))
    r, a = settings.spread_km * 1000 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
    wind_speed, wind_dir = rng.uniform(0, settings.wind_kt) * _KT, rng.uniform(0, 2 * math.pi)
    wind = np.array([wind_speed * math.sin(wind_dir), wind_speed * math.cos(wind_dir)])
    parked_first = rng.random() < 0.2
    st = _State(r * math.sin(a), r * math.cos(a), rng.uniform(0, 360), 0.0 if parked_first else _cruise(kind, rng),
                0.0 if parked_first else _altitude(kind, "straight", rng), parked_first)
    pieces: list[_Piece] = []
    used_s = 0
    behaviour: str | None = None
    while used_s < total:
        behaviour = "parked" if (parked_first and not pieces) else _next_behaviour(kind, behaviour, rng, settings.circuit_weight)
        if behaviour == "hover" and kind != "helicopter":
            behaviour = "orbit"
        piece = _behaviour_piece(kind, behaviour, st, wind, rng, total - used_s)
        pieces.append(piece)
        used_s += len(piece.x)
    times = _sample_times(used_s, mode, settings, rng)
    grid_x = np.concatenate([p.x for p in pieces])
    grid_y = np.concatenate([p.y for p in pieces])
    grid_alt = np.concatenate([p.alt for p in pieces])
    grid_gs = np.concatenate([p.gs for p in pieces])
    grid_tr = np.concatenate([p.track for p in pieces])
    piece_of = np.repeat(np.arange(len(pieces)), [len(p.x) for p in pieces])
    sec = np.arange(used_s, dtype=float)
    x = np.interp(times, sec, grid_x)
    y = np.interp(times, sec, grid_y)
    k = np.minimum(np.round(times).astype(int), used_s - 1)
    pidx = piece_of[k]
    noise = settings.noise_m * rng.uniform(0.3, 1.5)
    jitter = np.array([p.jitter_m for p in pieces])[pidx]
    sd = np.hypot(noise, jitter)
    x = x + rng.normal(0, 1, len(x)) * sd
    y = y + rng.normal(0, 1, len(y)) * sd
    alt = np.interp(times, sec, grid_alt)
    ground = np.array([p.ground for p in pieces])[pidx]
    vrate = np.gradient(grid_alt, edge_order=1) * 60 if used_s > 1 else np.zeros(used_s)
    points = pd.DataFrame(
        {
            "object_id": hex_id, "t": t_start + times, "x": x, "y": y,
            "altitude_ft": np.where(ground, np.nan, np.round(alt / 25) * 25),
            "speed_kt": np.round(grid_gs[k] * KT_PER_MPS),
            "track_deg": np.round(grid_tr[k]) % 360,
            "vrate_fpm": np.where(ground, np.nan, np.round(np.nan_to_num(vrate[k]) / 64) * 64),
            "on_ground": ground, "callsign": callsign,
        }
    )
    truth = []
    start_s = 0
    for p in pieces:
        truth.append({
            "object_id": hex_id, "callsign": callsign, "start_s": t_start + start_s,
            "end_s": t_start + start_s + len(p.x), "behaviour": p.behaviour, "circling": p.circling,
            "kind": kind, "sampling": mode, "radius_m": round(p.radius_m, 1) if math.isfinite(p.radius_m) else math.nan,
            "revolutions": round(p.revolutions, 3) if math.isfinite(p.revolutions) else math.nan,
        })
        start_s += len(p.x)
    return points, truth


def simulate(settings: SimSettings | None = None) -> Simulation:
    """Simulate ``settings.aircraft`` aircraft for ``settings.hours`` hours (seeded, deterministic)."""
    settings = settings or SimSettings()
    used: set[str] = set()
    frames, truth_rows = [], []
    for i in range(settings.aircraft):
        pts, truth = _aircraft(i, settings, used)
        frames.append(pts)
        truth_rows += truth
    pts = pd.concat(frames, ignore_index=True)
    t0 = pd.Timestamp(settings.start)
    t0 = t0.tz_localize("UTC") if t0.tzinfo is None else t0.tz_convert("UTC")
    t0_ns = int(t0.as_unit("ns").value)
    # times on the millisecond grid, as an SBS log carries them
    t_ns = t0_ns + np.round(pts["t"].to_numpy() * 1000).astype(np.int64) * 1_000_000
    lat, lon = inverse_local_aeqd(pts["x"].to_numpy(), pts["y"].to_numpy(), settings.centre_lat, settings.centre_lon)
    order = np.lexsort((pts["object_id"].to_numpy(dtype=str), t_ns))
    n = len(pts)
    points = pd.DataFrame(
        {
            "object_id": pts["object_id"].to_numpy()[order],
            "time": pd.DatetimeIndex(t_ns[order].view("datetime64[ns]")).tz_localize("UTC"),
            "lat": np.round(lat[order], 5),
            "lon": np.round(lon[order], 5),
            "x": np.full(n, np.nan),
            "y": np.full(n, np.nan),
            "altitude_ft": pts["altitude_ft"].to_numpy()[order],
            "speed_kt": pts["speed_kt"].to_numpy()[order],
            "track_deg": pts["track_deg"].to_numpy()[order],
            "vrate_fpm": pts["vrate_fpm"].to_numpy()[order],
            "callsign": pts["callsign"].to_numpy()[order],
            "squawk": pd.array([pd.NA] * n, dtype="string"),
            "on_ground": pts["on_ground"].to_numpy()[order],
            "new_leg": np.zeros(n, bool),
            "source_file": "",
            "source_line": np.zeros(n, np.int64),
        }
    )
    points = validate_points(points, source="simulation")
    truth = pd.DataFrame(truth_rows)
    truth.insert(2, "start", t0 + pd.to_timedelta(truth.pop("start_s").round(3), unit="s"))
    truth.insert(3, "end", t0 + pd.to_timedelta(truth.pop("end_s").round(3), unit="s"))
    truth["start"] = truth["start"].astype("datetime64[ns, UTC]")
    truth["end"] = truth["end"].astype("datetime64[ns, UTC]")
    truth = truth.sort_values(["object_id", "start"], kind="stable").reset_index(drop=True)
    return Simulation(points=points, truth=truth)


def _fmt_num(values: np.ndarray, fmt: str) -> list[str]:
    return ["" if not math.isfinite(v) else format(v, fmt) for v in values]


def sbs_lines(points: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """SBS-1 lines for a points table (sorted by time) and, per point, its position line (1-based).

    One ``MSG,1`` (callsign) before each aircraft's first position; then per point an
    ``MSG,3`` airborne or ``MSG,2`` surface position row followed by an ``MSG,4`` velocity
    row with the same timestamp (airborne only).
    """
    n = len(points)
    times = pd.DatetimeIndex(points["time"]).tz_convert("UTC")
    date = times.strftime("%Y/%m/%d").to_numpy()
    clock = times.strftime("%H:%M:%S.%f").str[:-3].to_numpy()
    hexes = points["object_id"].astype("string").str.upper().to_numpy(dtype=object)
    calls = points["callsign"].astype("string").fillna("").to_numpy(dtype=object)
    alt = _fmt_num(points["altitude_ft"].to_numpy(float), ".0f")
    gs = _fmt_num(points["speed_kt"].to_numpy(float), ".0f")
    trk = _fmt_num(points["track_deg"].to_numpy(float), ".0f")
    vr = _fmt_num(points["vrate_fpm"].to_numpy(float), ".0f")
    lat = _fmt_num(points["lat"].to_numpy(float), ".5f")
    lon = _fmt_num(points["lon"].to_numpy(float), ".5f")
    ground = points["on_ground"].to_numpy(dtype=bool, na_value=False)
    lines: list[str] = []
    line_of = np.zeros(n, np.int64)
    seen: set[str] = set()
    for i in range(n):
        h, d, c = hexes[i], date[i], clock[i]
        stamp = f"{h},1,{d},{c},{d},{c}"
        if h not in seen:
            seen.add(h)
            lines.append(f"MSG,1,1,1,{stamp},{calls[i]},,,,,,,,,,,0")
        if ground[i]:
            lines.append(f"MSG,2,1,1,{stamp},{calls[i]},,{gs[i]},{trk[i]},{lat[i]},{lon[i]},,,,,,-1")
            line_of[i] = len(lines)
        else:
            lines.append(f"MSG,3,1,1,{stamp},{calls[i]},{alt[i]},,,{lat[i]},{lon[i]},,,,,,0")
            line_of[i] = len(lines)
            lines.append(f"MSG,4,1,1,{stamp},,,{gs[i]},{trk[i]},,,{vr[i]},,,,,0")
    return lines, line_of


def write_sbs(points: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """Write *points* as an SBS-1 log (gzipped when *path* ends in ``.gz``).

    Returns the points with ``source_file`` (the file name) and ``source_line`` (the line of
    each position row) filled in, exactly as the SBS reader will report them.
    """
    path = Path(path)
    lines, line_of = sbs_lines(points)
    data = ("\r\n".join(lines) + "\r\n").encode("ascii")
    atomic_write_bytes(path, gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    out = points.copy()
    out["source_file"] = pd.array([str(path)] * len(out), dtype="string")
    out["source_line"] = line_of
    return out


def write_simulation(sim: Simulation, out_dir: str | Path, *, gzip_log: bool = False, name: str = "sim") -> dict[str, Path]:
    """Write ``{name}.sbs[.gz]``, ``points.parquet`` and ``truth.csv`` into *out_dir*.

    The caller checks for existing files (:func:`flightpaths.fileio.check_output`).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / (f"{name}.sbs.gz" if gzip_log else f"{name}.sbs")
    points = write_sbs(sim.points, log)
    pq_path = out_dir / "points.parquet"
    tmp = out_dir / ".points.parquet.tmp"
    points.to_parquet(tmp, index=False)
    tmp.replace(pq_path)
    truth = sim.truth.copy()
    for col in ("start", "end"):
        truth[col] = truth[col].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    truth_path = write_csv(out_dir / "truth.csv", truth, index=False, lineterminator="\n")
    return {"log": log, "points": pq_path, "truth": truth_path}


def label_windows(windows: pd.DataFrame, truth: pd.DataFrame, *, min_fraction: float = 0.5) -> pd.DataFrame:
    """Ground truth for each window from the behaviour intervals overlapping it.

    Returns a frame aligned with *windows*: ``behaviour`` (the one covering most of the
    window), ``behaviour_fraction`` (the share of the window it covers), ``circling_fraction`` (share of the window's time inside circling
    intervals) and
    ``circling`` (``circling_fraction >= min_fraction``). Windows of aircraft not in *truth*
    get behaviour ``<NA>`` and fraction 0.
    """
    n = len(windows)
    behaviour = np.full(n, None, dtype=object)
    frac = np.zeros(n)
    bfrac = np.zeros(n)
    start = pd.DatetimeIndex(windows["start"]).as_unit("ns").asi8 if n else np.empty(0, np.int64)
    end = pd.DatetimeIndex(windows["end"]).as_unit("ns").asi8 if n else np.empty(0, np.int64)
    t_start = pd.DatetimeIndex(pd.to_datetime(truth["start"], utc=True)).as_unit("ns").asi8
    t_end = pd.DatetimeIndex(pd.to_datetime(truth["end"], utc=True)).as_unit("ns").asi8
    t_obj = truth["object_id"].astype(str).str.lower().to_numpy()
    t_beh = truth["behaviour"].astype(str).to_numpy()
    t_circ = truth["circling"].astype(str).str.lower().isin(["true", "1"]).to_numpy()
    w_obj = windows["object_id"].astype(str).to_numpy() if n else np.empty(0, str)
    for obj in np.unique(w_obj):
        wi = np.flatnonzero(w_obj == obj)
        ti = np.flatnonzero(t_obj == obj)
        if not len(ti):
            continue
        ws, we = start[wi][:, None], end[wi][:, None]
        overlap = np.clip(np.minimum(we, t_end[ti]) - np.maximum(ws, t_start[ti]), 0, None).astype(float)
        length = np.maximum((we - ws).astype(float), 1.0)
        zero = (we - ws)[:, 0] <= 0
        inside = (ws >= t_start[ti]) & (ws <= t_end[ti])  # zero-length windows: the interval holding them
        overlap[zero] = inside[zero].astype(float)
        length[zero] = 1.0
        best = overlap.argmax(axis=1)
        has = overlap.max(axis=1) > 0
        behaviour[wi[has]] = t_beh[ti][best[has]]
        bfrac[wi] = overlap.max(axis=1) / length[:, 0]
        frac[wi] = (overlap * t_circ[ti]).sum(axis=1) / length[:, 0]
    frac = np.clip(frac, 0, 1)
    return pd.DataFrame(
        {
            "behaviour": pd.array(behaviour, dtype="string"),
            "behaviour_fraction": np.clip(bfrac, 0, 1),
            "circling_fraction": frac,
            "circling": frac >= min_fraction,
        },
        index=windows.index,
    )
