"""Seeded mouse-telemetry sessions, people versus bots, in the Balabit CSV format.

The shipped sample ``data/mouse/{human,bot}/session_*.csv`` (labels from the folder) is made
by :func:`write_sample`; regenerate it with::

    python -m flightpaths.simulate_mouse --out data/mouse --seed 0

Each file is one session: ``record timestamp,client timestamp,button,state,x,y`` (seconds
since the session start, pixels), as in the Balabit Mouse Dynamics Challenge; states Move,
Pressed, Released, Drag. A session is a series of tasks (point and click on a target, or
"draw a circle" with the button held, as in DELBOT-Mouse) separated by pauses.

- **People**: each move is one main minimum-jerk submovement (bell-shaped speed) along a
  gently curved path, landing with an error that grows with distance (over- or undershoot),
  followed by one or two small corrective submovements; physiological tremor; durations
  from Fitts's law with noise; clicks held 60-180 ms; circles drawn with wobbling radius,
  varying angular speed and ends that do not meet.
- **Bots**: straight lines or perfect ellipses at constant speed by linear interpolation,
  a fixed event interval, and instant clicks (Pressed and Released at the same instant).

What the two classes share, so that nothing but the movement tells them apart: the screen
(1920x1080 by default), the event rate (the same mean interval between reports, on the
same 1/64 s timer grid), the pause distribution between tasks, the task mix and target
placement, file names (random session numbers) and the session length.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .fileio import atomic_write_text, check_output, csv_text

__all__ = ["HEADER", "MouseSimSettings", "main", "simulate_session", "write_sample"]

HEADER = "record timestamp,client timestamp,button,state,x,y"
CLASSES = ("human", "bot")


@dataclass(frozen=True)
class MouseSimSettings:
    """How many sessions of what length; what both classes share.

    sessions: sessions per class. duration_s: active time of each session.
    interval_s: mean time between movement reports (both classes). tick_s: timer grid.
    circle_share: share of tasks that are "draw a circle" (both classes).
    """

    seed: int = 0
    sessions: int = 12
    duration_s: float = 75.0
    screen: tuple[int, int] = (1920, 1080)
    interval_s: float = 0.05
    tick_s: float = 1.0 / 64.0
    circle_share: float = 0.3
    margin_px: int = 40


def _min_jerk(s: np.ndarray) -> np.ndarray:
    """Minimum-jerk position profile 0 -> 1 over normalised time s in [0, 1]."""
    s = np.clip(s, 0.0, 1.0)
    return 10 * s**3 - 15 * s**4 + 6 * s**5


def _target(rng: np.random.Generator, st: MouseSimSettings, near: np.ndarray | None = None) -> np.ndarray:
    w, h = st.screen
    m = st.margin_px
    if near is not None and rng.random() < 0.5:  # nearby targets, as in menus and forms
        p = near + rng.normal(0, 180, 2)
    else:
        p = np.array([rng.uniform(m, w - m), rng.uniform(m, h - m)])
    return np.clip(p, [m, m], [w - m, h - m])


def _fitts_s(rng: np.random.Generator, distance: float) -> float:
    """Movement time (s) by Fitts's law with noise, for a target 12-40 px wide (both classes)."""
    width = rng.uniform(12, 40)
    return max(0.18, (0.12 + 0.13 * math.log2(distance / width + 1)) * rng.lognormal(0, 0.2))


Path_ = Callable[[np.ndarray], np.ndarray]


_Sub = tuple[float, float, np.ndarray, np.ndarray, float]  # start s, end s, from, to, sideways bend (px)


def _submovements(rng: np.random.Generator, p0: np.ndarray, p1: np.ndarray) -> tuple[list[_Sub], float]:
    """The main submovement (landing off target) and one or two corrections; and when the last ends."""
    d = float(np.linalg.norm(p1 - p0)) + 1e-9
    main_t = _fitts_s(rng, d)
    err = rng.normal(0, 0.05 + 0.04 * rng.random(), 2) * d ** 0.8 + rng.normal(0, 3, 2)
    over = (p1 - p0) / d * d * rng.normal(0.04, 0.06)  # along-track over/undershoot
    land = p1 + err * 0.3 + over
    bend = rng.normal(0, 0.08) * d
    subs: list[_Sub] = [(0.0, main_t, p0, land, bend)]
    t, here = main_t, land
    for k in range(int(rng.integers(1, 3))):
        gap = rng.uniform(0.03, 0.15)
        dur = rng.uniform(0.12, 0.3)
        goal = p1 + rng.normal(0, 1.5, 2) if k == 0 else p1
        subs.append((t + gap, t + gap + dur, here, goal, rng.normal(0, 0.05) * float(np.linalg.norm(goal - here))))
        t, here = t + gap + dur, goal
    return subs, t


def _human_move(rng: np.random.Generator, p0: np.ndarray, p1: np.ndarray) -> tuple[float, Path_]:
    """(duration, position(t)) of a human point-to-point movement."""
    subs, t = _submovements(rng, p0, p1)
    tremor_f = rng.uniform(8, 12)
    tremor_a = rng.uniform(0.3, 1.2)
    phase = rng.uniform(0, 2 * np.pi, 2)

    def pos(tt: np.ndarray) -> np.ndarray:
        out = np.repeat(p0[None, :], len(tt), 0).astype(float)
        for a, b, q0, q1, bd in subs:
            s = (tt - a) / (b - a)
            active = tt >= a
            f = _min_jerk(s)[active, None]
            dq = q1 - q0
            n = np.array([-dq[1], dq[0]]) / (np.linalg.norm(dq) + 1e-9)
            out[active] = q0 + f * dq + (np.sin(np.pi * np.clip(s[active], 0, 1)) * bd)[:, None] * n
        wob = tremor_a * np.c_[np.sin(2 * np.pi * tremor_f * tt + phase[0]), np.sin(2 * np.pi * tremor_f * tt + phase[1])]
        return out + wob

    return float(t), pos


def _bot_move(rng: np.random.Generator, p0: np.ndarray, p1: np.ndarray) -> tuple[float, Path_]:
    """A straight line at constant speed, taking as long as a person would (corrections included)."""
    d = float(np.linalg.norm(p1 - p0))
    dur = _fitts_s(rng, d + 1e-9) + rng.uniform(0.15, 0.6)

    def pos(tt: np.ndarray) -> np.ndarray:
        f = np.clip(tt / dur, 0, 1)[:, None]
        return p0 + f * (p1 - p0)

    return dur, pos


def _circle(rng: np.random.Generator, centre: np.ndarray, human: bool) -> tuple[float, Path_]:
    rx = rng.uniform(60, 220)
    ry = rx * (rng.uniform(0.75, 1.25) if human else rng.uniform(0.6, 1.4))
    start = rng.uniform(0, 2 * np.pi)
    sign = rng.choice([-1.0, 1.0])
    turns = rng.uniform(0.9, 1.15) if human else 1.0
    circumference = math.pi * (rx + ry)
    dur = turns * circumference / rng.uniform(500, 1100)
    wob_a, wob_k, wob_p = rng.uniform(0.02, 0.08), rng.integers(2, 4), rng.uniform(0, 2 * np.pi)
    drift = rng.normal(0, 6, 2)

    def pos(tt: np.ndarray) -> np.ndarray:
        s = np.clip(tt / dur, 0, 1)
        if human:  # slow start and end, uneven angular speed, wobbling radius, ends that miss
            s = _min_jerk(s) * 0.7 + s * 0.3
            ang = start + sign * 2 * np.pi * turns * s
            r = 1 + wob_a * np.sin(wob_k * ang + wob_p)
            pts = np.c_[rx * r * np.cos(ang), ry * r * np.sin(ang)] + np.outer(s, drift)
            return centre + pts + rng.normal(0, 0.6, (len(tt), 2))
        ang = start + sign * 2 * np.pi * s
        return centre + np.c_[rx * np.cos(ang), ry * np.sin(ang)]

    return dur, pos


def _times(rng: np.random.Generator, dur: float, st: MouseSimSettings, human: bool, t0: float) -> np.ndarray:
    """Report times within a movement: irregular for people, a fixed step for bots."""
    if human:
        steps = rng.gamma(2.0, st.interval_s / 2.0, size=int(dur / st.interval_s * 3) + 8)
    else:
        steps = np.full(int(dur / st.interval_s) + 3, st.interval_s)
    t = np.cumsum(steps)
    t = t[t <= dur]
    t = np.r_[t, dur]
    return np.round((t0 + t) / st.tick_s) * st.tick_s - t0


def simulate_session(kind: str, *, seed: int, settings: MouseSimSettings = MouseSimSettings()) -> pd.DataFrame:
    """One session of *kind* ("human" or "bot") as a Balabit-format table (without glitches).

    >>> s = simulate_session("bot", seed=1, settings=MouseSimSettings(duration_s=5))
    >>> list(s.columns)
    ['record timestamp', 'client timestamp', 'button', 'state', 'x', 'y']
    >>> bool(s["client timestamp"].is_monotonic_increasing)
    True
    """
    if kind not in CLASSES:
        raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(CLASSES)}")
    rng = np.random.default_rng(seed)
    w, h = settings.screen
    here = np.array([w / 2, h / 2]) + rng.normal(0, 100, 2)
    rec = _Recorder(rng, settings, kind == "human")
    t = 0.0
    while t < settings.duration_s:
        t += float(rng.lognormal(math.log(0.8), 0.7))  # the same pause law for both classes
        if rng.random() < settings.circle_share:
            t, here = _circle_task(rec, here, t)
        else:
            t, here = _pointing_task(rec, here, t)
    return _balabit_frame(rec.rows, rng)


class _Recorder:
    """The rows of one session, as the mouse reports them."""

    def __init__(self, rng: np.random.Generator, st: MouseSimSettings, human: bool) -> None:
        self.rng, self.st, self.human = rng, st, human
        self.rows: list[tuple[float, str, str, int, int]] = []
        self.last: tuple[int, int] | tuple[None, None] = (None, None)

    def emit(self, times: np.ndarray, xy: np.ndarray, state: str) -> None:
        """Positions *xy* at *times*, on the screen; a mouse reports only when it moves."""
        w, h = self.st.screen
        for ti, (x, y) in zip(times, np.rint(xy).astype(int)):
            x, y = int(np.clip(x, 0, w - 1)), int(np.clip(y, 0, h - 1))
            if (x, y) == self.last:
                continue
            self.rows.append((float(ti), "NoButton", state, x, y))
            self.last = (x, y)

    def click(self, at: float, here: np.ndarray) -> float:
        """Press and release at the last position (held for a person, instant for a bot); the release time."""
        st = self.st
        hold = self.rng.uniform(0.06, 0.18) if self.human else 0.0
        x, y = self.last if self.last[0] is not None else (int(here[0]), int(here[1]))
        at = math.ceil(at / st.tick_s) * st.tick_s  # on the timer grid, so the release never comes first
        self.rows.append((at, "Left", "Pressed", x, y))
        self.rows.append((at + round(hold / st.tick_s) * st.tick_s, "Left", "Released", x, y))
        return at + hold

    def move(self, t: float, here: np.ndarray, goal: np.ndarray) -> float:
        """Move from *here* to *goal*, starting at *t*, the person's or the bot's way; the movement's duration."""
        rng, st = self.rng, self.st
        dur, pos = _human_move(rng, here, goal) if self.human else _bot_move(rng, here, goal)
        tt = _times(rng, float(dur), st, self.human, t)
        self.emit(t + tt, pos(tt), "Move")
        return float(dur)


def _circle_task(rec: _Recorder, here: np.ndarray, t: float) -> tuple[float, np.ndarray]:
    """Move to a circle's start, press, draw it with the button held, release: (the time, the position) after."""
    rng, st = rec.rng, rec.st
    w, h = st.screen
    centre = np.clip(here + rng.normal(0, 50, 2), [260, 260], [w - 260, h - 260])
    dur, pos = _circle(rng, centre, rec.human)
    mdur = rec.move(t, here, pos(np.array([0.0]))[0])
    t = rec.click(t + mdur + rng.uniform(0.05, 0.2), here)
    rec.rows.pop()  # keep the button down while drawing
    tt = _times(rng, dur, st, rec.human, t)
    rec.emit(t + tt, pos(tt), "Drag")
    t += dur
    rec.rows.append((round(t / st.tick_s) * st.tick_s, "Left", "Released", *rec.last))
    return t, np.array(rec.last, float)


def _pointing_task(rec: _Recorder, here: np.ndarray, t: float) -> tuple[float, np.ndarray]:
    """Move to a target and, mostly, click it: (the time, the position) after."""
    goal = _target(rec.rng, rec.st, here)
    t += rec.move(t, here, goal)
    here = np.array(rec.last, float) if rec.last[0] is not None else goal
    if rec.rng.random() < 0.7:
        t = rec.click(t + rec.rng.uniform(0.08, 0.3), here)
    return t, here


def _balabit_frame(rows: list[tuple[float, str, str, int, int]], rng: np.random.Generator) -> pd.DataFrame:
    """The rows in time order, timestamps from the session start, with the logger's receipt times."""
    frame = pd.DataFrame(rows, columns=["client timestamp", "button", "state", "x", "y"])
    frame = frame.sort_values("client timestamp", kind="mergesort").reset_index(drop=True)
    client = frame["client timestamp"].to_numpy()
    client = np.round(client - client[0], 3)
    delay = np.maximum.accumulate(client + rng.exponential(0.004, len(client)))  # the logger's receipt time
    frame.insert(0, "record timestamp", np.round(delay, 3))
    frame["client timestamp"] = client
    return frame[["record timestamp", "client timestamp", "button", "state", "x", "y"]]


def _session_numbers(rng: np.random.Generator, n: int) -> list[int]:
    """*n* distinct random session numbers (ten digits)."""
    numbers: list[int] = []
    while len(numbers) < n:
        number = int(rng.integers(10**9, 10**10))
        numbers += [] if number in numbers else [number]
    return numbers


def write_sample(out_dir: str | Path, *, settings: MouseSimSettings = MouseSimSettings(),
                 overwrite: bool = False) -> list[Path]:
    """Write ``out_dir/{human,bot}/session_<number>.csv``; returns the files written.

    Refuses a folder that already holds sessions unless *overwrite*, which first removes
    the old ``session_*.csv`` files there (so no stale session from another seed stays).
    """
    out = Path(out_dir)
    old = [f for kind in CLASSES for f in sorted((out / kind).glob("session_*.csv"))]
    if old:
        check_output(old[0], overwrite=overwrite)
        for f in old:
            f.unlink()
    rng = np.random.default_rng(settings.seed)
    numbers = _session_numbers(rng, 2 * settings.sessions)
    kinds = np.array(CLASSES).repeat(settings.sessions)
    written = []
    for i, (kind, number) in enumerate(zip(kinds, numbers)):
        path = check_output(out / str(kind) / f"session_{number}.csv", overwrite=overwrite)
        frame = simulate_session(str(kind), seed=settings.seed * 100_003 + i, settings=settings)
        body = csv_text(frame, index=False, header=False, float_format="%.3f")
        written.append(atomic_write_text(path, HEADER + "\n" + body))
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m flightpaths.simulate_mouse --out data/mouse [--seed 0] [--sessions 12]``."""
    parser = argparse.ArgumentParser(prog="python -m flightpaths.simulate_mouse", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="output folder (gets human/ and bot/)")
    parser.add_argument("--seed", type=int, default=MouseSimSettings.seed, help="random seed (default: 0)")
    parser.add_argument("--sessions", type=int, default=MouseSimSettings.sessions, help="sessions per class (default: 12)")
    parser.add_argument("--duration", type=float, default=MouseSimSettings.duration_s,
                        help="active seconds per session (default: 75)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing session files")
    args = parser.parse_args(argv)
    if args.sessions < 1 or args.duration <= 0:
        parser.error("--sessions must be >= 1 and --duration > 0")
    settings = MouseSimSettings(seed=args.seed, sessions=args.sessions, duration_s=args.duration)
    files = write_sample(args.out, settings=settings, overwrite=args.overwrite)
    print(f"wrote {len(files)} sessions under {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
