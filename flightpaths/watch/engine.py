"""The live engine: points in, windows cut as they complete, scored, episodes opened and closed.

Each aircraft keeps its recent points: of its open track, from a window length before the
grid start (shared by every window length) at or before its earliest window not given out,
as ``score`` carries a stretch of a long log into the next (so a cut covers about an hour of
points, whatever the track's length). When its latest point
passes the end of a window not yet given out, its buffer is cut again with the bundle's own
track and window settings (:func:`flightpaths.tracks.split_tracks`,
:func:`flightpaths.tracks.make_windows`: the same grid as batch scoring, which starts at each
track's first point) and only the windows that newly completed are scored
(:func:`flightpaths.score.score_windows`, drawn with the bundle's render config). Episodes are
made from each aircraft's recent scored windows by :func:`flightpaths.score.merge_episodes`
and :func:`flightpaths.score.add_segment_probability`, exactly as ``flightpaths score`` does,
so a closed live episode equals the batch one. They are made again only when an aircraft's new
windows can change them (a positive window, or one within ``context_s`` of an episode), and
without the windows of its closed episodes (which no later window can join; they stay as
context for the segment probability).

A window is complete when its track has a point at least one window length after the
window's first point, or when the track has ended (no point for the track gap). An episode
closes when no later window can join it and the windows of ``context_s`` after it (which
its segment probability looks at) are in, or when its aircraft is let go.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .parse import point_columns, points_frame
from .settings import WatchSettings

__all__ = ["AlertEvent", "BundleSettings", "LiveEngine", "bundle_settings"]

_NS = 1_000_000_000
_BIG = np.iinfo(np.int64).max


@dataclass(frozen=True)
class BundleSettings:
    """What the engine needs from a model bundle besides its weights."""

    track_settings: Any
    window_settings: Any
    render_config: Any
    aggregator: Any
    positive_class: str


def bundle_settings(bundle: Any) -> BundleSettings:
    """The settings a model bundle carries (see :class:`BundleSettings`): those of its training windows."""
    from ..score.pipeline import bundle_aggregator, positive_class_of, render_config_of

    return BundleSettings(
        bundle.track_settings,
        bundle.window_settings,
        render_config_of(bundle),
        bundle_aggregator(bundle),
        positive_class_of(bundle),
    )




@dataclass(frozen=True)
class AlertEvent:
    """One alert event: ``opened``, ``updated`` or ``closed``, with the episode's fields."""

    kind: str
    alert_id: str
    episode: dict[str, Any]
    notify: bool = True
    feed_time: pd.Timestamp | None = None  # how far the feed had got when it happened


@dataclass
class _Alert:
    alert_id: str
    windows: set[str]
    episode: dict[str, Any]
    notify: bool


#: a points table as columns of plain arrays (see :func:`.parse.point_columns`)
_Cols = dict[str, np.ndarray]


@dataclass
class _Aircraft:
    object_id: str
    pieces: list[_Cols] = field(default_factory=list)
    has_callsign: bool = False
    last_ns: int = -_BIG
    due_ns: int = -_BIG  # cut again once last_ns reaches this
    pending_ns: int = _BIG  # earliest first point of a window not yet given out
    track_base: int = 0
    origin_ns: int | None = None  # where the open track's window grid goes on (its buffer was trimmed)
    emitted: dict[str, int] = field(default_factory=dict)  # window id -> its first point (ns)
    emitted_keys: set[tuple[str, int, float]] = field(default_factory=set)
    windows: pd.DataFrame | None = None  # scored windows kept for episodes
    episodes: pd.DataFrame | None = None  # made from them; None: to be made again
    final_windows: set[str] = field(default_factory=set)  # windows of closed episodes
    alerts: dict[str, _Alert] = field(default_factory=dict)
    last_closed_ns: int = -_BIG  # feed time an alert of this aircraft last closed
    unfinal: bool = False  # has episodes not closed yet

    def arrays(self) -> _Cols:
        """The buffered points as one set of columns (the pieces joined once)."""
        if len(self.pieces) > 1:
            self.pieces = [{k: np.concatenate([p[k] for p in self.pieces]) for k in self.pieces[0]}]
        return self.pieces[0] if self.pieces else {}

    def points(self) -> pd.DataFrame:
        """The buffered points as a points table."""
        return points_frame(self.arrays()) if self.pieces else pd.DataFrame()


def _ns(values: pd.Series) -> np.ndarray:
    out: np.ndarray = values.astype("datetime64[ns, UTC]").astype("int64").to_numpy()
    return out


def _nominal_ns(windows: pd.DataFrame) -> np.ndarray:
    """Nominal window starts (ns) from the window ids (``..._YYYYmmddTHHMMSS_300s``), floored to the second."""
    if windows.empty:
        return np.zeros(0, np.int64)
    stamps = [str(w).rsplit("_", 2)[-2] for w in windows["window_id"]]
    iso = [f"{s[:4]}-{s[4:6]}-{s[6:8]}T{s[9:11]}:{s[11:13]}:{s[13:15]}" for s in stamps]
    return np.array(iso, dtype="datetime64[s]").astype("datetime64[ns]").view(np.int64)


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


class LiveEngine:
    """Score a live stream of points; see the module docstring.

    ``add_points(frame)`` takes points (the points table; ``add_columns`` the same as plain arrays,
    from :meth:`LiveSbsParser.parse_columns`);
    ``step(now_ns)`` cuts, scores and returns alert events; ``finish()`` lets every aircraft go
    and returns the last events. Closed episodes collect in :attr:`closed` (one row each, the
    columns of ``episodes.csv``), the scored windows in :attr:`scored` when *keep_windows*.
    """

    def __init__(self, bundle: Any, settings: WatchSettings | None = None, *, keep_windows: bool = False,
                 on_windows: Callable[[pd.DataFrame], None] | None = None,
                 score_fn: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> None:
        from ..score import bundle_fingerprint, episode_classes

        self.bundle = bundle
        self.settings = settings or WatchSettings()
        config = bundle_settings(bundle)
        self.track_settings, self.window_settings = config.track_settings, config.window_settings
        self.lengths = self.window_settings.lengths()
        self.longest_ns = int(max(w for w, _ in self.lengths) * _NS)
        self.gap_ns = int(float(self.track_settings.gap_s) * _NS)
        self.idle_ns = int((self.settings.idle_s if self.settings.idle_s is not None else self.track_settings.gap_s) * _NS)
        self.idle_ns = max(self.idle_ns, self.gap_ns)
        self.ctx_ns = int(self.settings.context_s * _NS)
        self.grid_ms = int(np.lcm.reduce([max(1, int(round(s * 1000))) for _, s in self.lengths]))
        self.classes = [str(c) for c in bundle.classes]
        self.ep_classes = episode_classes(self.classes, self.settings.positive_class)
        self.aggregator = config.aggregator
        self.positive = config.positive_class
        self.fingerprint = bundle_fingerprint(bundle)
        self.aircraft: dict[str, _Aircraft] = {}
        self.track_bases: dict[str, int] = {}
        self.closed: list[dict[str, Any]] = []
        self.keep_windows = keep_windows
        self.scored: list[pd.DataFrame] = []
        self.on_windows = on_windows
        self.score_fn = score_fn  # windows -> windows with p_<class> (default: the bundle, drawn and scored)
        self.now_ns = -_BIG
        self.fed_ns = -_BIG  # the latest point time given (all earlier points are in)
        self.n_points = 0
        self.n_windows = 0
        self.seen_alerts: set[str] = set()  # alert ids opened (survives restarts through the state file)
        self.closed_alerts: set[str] = set()
        self.closed_ids: set[str] = set()

    # ------------------------------------------------------------------------------ points
    def add_points(self, points: pd.DataFrame) -> None:
        """Add points (any order within the batch) to their aircraft's buffers."""
        if points is not None and len(points):
            self.add_columns(point_columns(points))

    def add_columns(self, cols: _Cols | None) -> None:
        """:meth:`add_points` for a points table as plain arrays (:meth:`LiveSbsParser.parse_columns`)."""
        if cols is None or not len(cols["time"]):
            return
        t = cols["time"]
        self.now_ns = max(self.now_ns, int(t.max()))
        self.fed_ns = max(self.fed_ns, int(t.max()))
        self.n_points += len(t)
        codes, _ = pd.factorize(cols["object_id"])
        order = np.argsort(codes, kind="stable")
        cuts = np.flatnonzero(np.diff(codes[order])) + 1
        cols = {k: v[order] for k, v in cols.items()}
        first_w = int(min(w for w, _ in self.lengths) * _NS)
        for lo, hi in zip([0, *cuts.tolist()], [*cuts.tolist(), len(order)]):
            key = str(cols["object_id"][lo])
            ac = self.aircraft.get(key)
            if ac is None:
                ac = self.aircraft[key] = _Aircraft(key, track_base=self.track_bases.get(key, 0))
            piece = {k: v[lo:hi] for k, v in cols.items()}
            calls = [c for c in piece["callsign"] if c is not None] if not ac.has_callsign and "callsign" in piece else []
            if calls:
                for old in ac.pieces:  # as the reader's "next one after"
                    old["callsign"] = np.full(len(old["callsign"]), calls[0], dtype=object)
                ac.has_callsign = True
            ac.pieces.append(piece)
            tp = piece["time"]
            ac.last_ns = max(ac.last_ns, int(tp.max()))
            if ac.due_ns == -_BIG:
                ac.due_ns = int(tp.min()) + first_w

    # ------------------------------------------------------------------------------- steps
    def step(self, now_ns: int | None = None) -> list[AlertEvent]:
        """Cut and score the windows that completed, update episodes; the alert events."""
        if now_ns is not None:
            self.now_ns = max(self.now_ns, now_ns)
        live = [a for a in self.aircraft.values() if a.pieces]
        gone = [a for a in live if self.now_ns - a.last_ns > self.idle_ns]
        due = [a for a in live if max(a.last_ns, self.fed_ns) >= a.due_ns and self.now_ns - a.last_ns <= self.idle_ns]
        events: list[AlertEvent] = []
        events += self._cut(due, final=False)
        events += self._cut(gone, final=True)
        for ac in [a for a in self.aircraft.values() if not a.pieces]:
            ac.pending_ns = self.now_ns  # a returning aircraft's windows start after now
            if ac.unfinal and ac not in gone:
                events += self._episodes(ac, force=False)
            if not ac.unfinal and not ac.alerts and self.now_ns - ac.last_ns > self.ctx_ns + self.longest_ns:
                self.track_bases[ac.object_id] = ac.track_base
                del self.aircraft[ac.object_id]
        return events

    def finish(self) -> list[AlertEvent]:
        """Let every aircraft go (end of the feed): cut their last windows, close every episode."""
        events = self._cut([a for a in self.aircraft.values() if a.pieces], final=True)
        for ac in list(self.aircraft.values()):
            ac.pending_ns = _BIG
            events += self._episodes(ac, force=True)
            self.track_bases[ac.object_id] = ac.track_base
        self.aircraft.clear()
        return events

    # --------------------------------------------------------------------------------- cut
    def _cut(self, group: list[_Aircraft], *, final: bool) -> list[AlertEvent]:
        from ..tracks import make_windows, split_tracks

        if not group:
            return []
        raw = [cols for cols in (ac.arrays() for ac in group) if cols and len(cols["time"])]
        windows = pd.DataFrame()
        tracked = pd.DataFrame()
        by_obj_t: dict[str, np.ndarray] = {}
        if raw:
            tracked, _report = split_tracks(points_frame(raw), self.track_settings)
            by_obj_t = tracked.groupby(tracked["object_id"].astype(str)).indices if len(tracked) else {}
            if len(tracked):
                windows = make_windows(tracked, self.window_settings, grid=self._grid(group, tracked, by_obj_t))
        by_obj_w = windows.groupby(windows["object_id"].astype(str)).indices if len(windows) else {}
        new_parts = []
        for ac in group:
            rows = by_obj_w.get(ac.object_id, np.zeros(0, int))
            trows = by_obj_t.get(ac.object_id, np.zeros(0, int))
            new_parts.append(self._complete(ac, windows.iloc[rows], tracked.iloc[trows], final=final))
        new = [p for p in new_parts if len(p)]
        events: list[AlertEvent] = []
        scored = self._score(pd.concat(new, ignore_index=True)) if new else None
        by_obj = scored.groupby(scored["object_id"].astype(str)).indices if scored is not None else {}
        for ac in group:
            if scored is not None and ac.object_id in by_obj:
                part = scored.iloc[by_obj[ac.object_id]]
                ac.windows = part if ac.windows is None else pd.concat([ac.windows, part], ignore_index=True)
                if ac.episodes is not None and self._changes_episodes(ac.episodes, part):
                    ac.episodes = None
            if final:
                ac.pending_ns = self.now_ns
            if final or ac.object_id in by_obj or ac.unfinal:
                events += self._episodes(ac, force=False)
        return events

    @staticmethod
    def _grid(group: list[_Aircraft], tracked: pd.DataFrame, by_obj: dict[str, np.ndarray]) -> dict[str, tuple[int | None, int | None]]:
        """Where the window grid of each trimmed buffer's first track goes on (as ``score`` carries a stretch)."""
        grid: dict[str, tuple[int | None, int | None]] = {}
        for ac in group:
            rows = by_obj.get(ac.object_id)
            if ac.origin_ns is not None and rows is not None and len(rows):
                grid[str(tracked["track_id"].iloc[int(rows[0])])] = (ac.origin_ns, None)
        return grid

    def _complete(self, ac: _Aircraft, windows: pd.DataFrame, tracked: pd.DataFrame, *, final: bool) -> pd.DataFrame:
        """The windows of *ac* that completed and were not given out; updates its due time and buffer."""
        if tracked.empty:
            ac.due_ns = -_BIG if final else ac.last_ns + 1
            raw = ac.arrays()
            ac.pending_ns = self.now_ns if final or not raw or not len(raw["time"]) else int(raw["time"].min())
            if final:
                ac.pieces, ac.has_callsign = [], False
            return windows.iloc[0:0]
        tid = tracked["track_id"].astype(str).to_numpy()
        tno = np.array([int(x.rsplit("_", 1)[1]) for x in pd.unique(tid)])
        last_no = int(tno.max())
        open_tid = f"{ac.object_id}_{last_no}"
        t = _ns(tracked["time"])
        open_rows = tid == open_tid
        open_last = int(t[open_rows].max())
        open_first = int(t[open_rows].min())
        if getattr(self.window_settings, "airborne_only", False) and "on_ground" in tracked:
            air = open_rows & ~tracked["on_ground"].astype("boolean").to_numpy(dtype=bool, na_value=False)
            open_first = int(t[air].min()) if air.any() else open_first  # the window grid starts here
        carried = ac.origin_ns is not None and last_no == 0  # the open track is the trimmed buffer's first
        if not carried:
            ac.origin_ns = None
        grid0 = ac.origin_ns if ac.origin_ns is not None else open_first
        done = np.ones(len(windows), bool)
        start = _ns(windows["start"]) if len(windows) else np.zeros(0, np.int64)
        wlen = (windows["window_s"].to_numpy(float) * _NS).astype(np.int64) if len(windows) else np.zeros(0, np.int64)
        wtid = windows["track_id"].astype(str).to_numpy() if len(windows) else np.zeros(0, object)
        nominal = _nominal_ns(windows)
        if not final:
            is_open = wtid == open_tid
            # complete once a point at or after the window's nominal end exists (the nominal
            # start, read from the id to the second, is within 1 s before the real one)
            # or once the feed as a whole has passed it (the points come in time order)
            done = ~is_open | (nominal + _NS + wlen <= max(open_last, self.fed_ns))
        ids = self._global_ids(ac, windows)
        fresh = done & ~np.isin(ids, list(ac.emitted)) if len(windows) else done
        keep, unsettled = self._first_of_start(windows, fresh, ac)
        fresh &= keep
        out = windows.loc[fresh].copy()
        if len(out):
            out["track_id"] = self._global_tracks(ac, out["track_id"])
            out["window_id"] = ids[fresh]
            ac.emitted.update(zip(ids[fresh].tolist(), _ns(out["start"]).tolist()))
        if final:
            ac.due_ns, ac.pending_ns = -_BIG, self.now_ns
            ac.track_base += last_no + 1
            ac.pieces, ac.has_callsign = [], False
            ac.emitted, ac.emitted_keys, ac.origin_ns = {}, set(), None
            return out
        waiting = ~done
        next_nominal = self._next_nominal(windows[wtid == open_tid], grid0)
        ac.pending_ns = min(int(start[waiting].min()) if waiting.any() else open_last + 1, next_nominal)
        ac.due_ns = self._next_done(grid0, max(open_last, self.fed_ns))
        # the open track's windows not settled yet (not given out, nor a twin of one given out) are cut again
        unsettled &= wtid == open_tid
        resume = min(int(nominal[unsettled].min()) if unsettled.any() else _BIG, next_nominal)
        self._trim(ac, last_no, grid0, carried, resume)
        return out

    def _next_done(self, grid0: int, reached: int) -> int:
        """The earliest feed time after *reached* at which a window of the open track (its grid
        starting at *grid0*) can be complete, whether it was cut yet or not (see :meth:`_complete`:
        its nominal start, to the second, plus one second and its length). A track that starts
        later completes a window later still. Until then the aircraft is not cut again."""
        out = _BIG
        for w, step in self.lengths:
            w_ns, s_ns = int(w * _NS), int(step * _NS)
            k = max(0, (reached - grid0 - w_ns - _NS) // s_ns)
            while True:
                done_at = (grid0 + k * s_ns) // _NS * _NS + _NS + w_ns
                if done_at > reached:
                    break
                k += 1
            out = min(out, done_at)
        return out

    def _next_nominal(self, windows: pd.DataFrame, open_first: int) -> int:
        """The earliest time a window of the open track not cut yet can start: one step after
        the last nominal start of each length (read from the window ids, to the second)."""
        if windows.empty:
            return open_first
        nominal = _nominal_ns(windows)
        out = _BIG
        for w, step in self.lengths:
            mine = windows["window_s"].to_numpy(float) == float(w)
            out = min(out, int(nominal[mine].max()) + int(step * _NS) if mine.any() else open_first)
        return out

    def _first_of_start(self, windows: pd.DataFrame, fresh: np.ndarray, ac: _Aircraft) -> tuple[np.ndarray, np.ndarray]:
        """Of windows with the same first point and length, keep the one with most points (as
        ``flightpaths score`` does), and none whose twin was given out before; and which
        windows are not settled yet (neither they nor a twin given out)."""
        if windows.empty:
            return np.ones(0, bool), np.zeros(0, bool)
        keys = pd.Series(list(zip(windows["object_id"].astype(str), _ns(windows["start"]), windows["window_s"].astype(float))))
        order = np.argsort(-windows["n_points"].to_numpy(), kind="stable")
        keep = np.zeros(len(windows), bool)
        seen = set(ac.emitted_keys)
        for i in order:
            if not fresh[i]:
                if keys[i] in ac.emitted_keys:
                    continue
                seen.add(keys[i])  # a later, bigger twin may still come: wait for it
                continue
            if keys[i] not in seen:
                keep[i] = True
                seen.add(keys[i])
        ac.emitted_keys |= {keys[i] for i in np.flatnonzero(keep)}
        return keep, np.array([k not in ac.emitted_keys for k in keys], dtype=bool)

    def _global_tracks(self, ac: _Aircraft, tracks: pd.Series) -> np.ndarray:
        def one(track: str) -> str:
            obj, k = track.rsplit("_", 1)
            return f"{obj}_{int(k) + ac.track_base}"

        return np.array([one(str(x)) for x in tracks], dtype=object)

    def _global_ids(self, ac: _Aircraft, windows: pd.DataFrame) -> np.ndarray:
        """Window ids numbered by the aircraft's tracks since the feed began (as a batch run would)."""
        if windows.empty:
            return np.zeros(0, dtype=object)
        if ac.track_base == 0:
            ids: np.ndarray = windows["window_id"].astype(str).to_numpy(dtype=object)
            return ids
        out = []
        for wid, track in zip(windows["window_id"].astype(str), windows["track_id"].astype(str)):
            safe_obj, k = wid[: len(track)].rsplit("_", 1)
            out.append(f"{safe_obj}_{int(k) + ac.track_base}{wid[len(track):]}")
        return np.array(out, dtype=object)

    def _trim(self, ac: _Aircraft, open_no: int, grid0: int, carried: bool, resume: int) -> None:
        """Drop the points no window still to come needs: those of closed tracks, and of the open
        track those a window length before the last start its window lengths share at or before
        *resume*, the earliest nominal start of a window not settled (that start is where its grid goes on: the carry of
        ``score``'s stretches, so each cut covers about an hour, not the whole track)."""
        raw = ac.arrays()
        t = raw["time"]
        period = self.grid_ms * 1_000_000
        origin = grid0
        if grid0 < resume < _BIG:
            origin = grid0 + ((resume - grid0) // period) * period
        if origin > grid0 or carried:
            ac.origin_ns = origin
            keep_from = origin - self.longest_ns if carried else max(grid0, origin - self.longest_ns)
        else:
            keep_from = grid0
        if keep_from <= int(t.min()):
            return
        keep = t >= keep_from
        ac.pieces = [{k: v[keep] for k, v in raw.items()}]
        ac.track_base += open_no  # the open track is now the buffer's first (relative number 0)
        ac.emitted = {w: s for w, s in ac.emitted.items() if s >= keep_from and w.startswith(f"{ac.object_id}_{ac.track_base}_")}
        ac.emitted_keys = {k for k in ac.emitted_keys if k[1] >= keep_from}

    # ------------------------------------------------------------------------------- score
    def _score(self, windows: pd.DataFrame) -> pd.DataFrame:
        from ..score import add_window_geometry, score_windows
        from ..score.writers import array_columns

        if self.score_fn is not None:
            scored = self.score_fn(windows)
        else:
            scored = score_windows(windows, self.bundle, batch_size=self.settings.batch_size)
        pmax = scored[[f"p_{c}" for c in self.ep_classes]].max(axis=1).to_numpy() >= self.settings.threshold
        if self.aggregator is not None:
            scored = add_window_geometry(scored, rows=pmax)
        if self.on_windows is not None:
            self.on_windows(scored)
        slim = scored.drop(columns=array_columns(scored))
        self.n_windows += len(slim)
        if self.keep_windows:
            self.scored.append(slim)
        return slim

    # ---------------------------------------------------------------------------- episodes
    def _episodes(self, ac: _Aircraft, *, force: bool) -> list[AlertEvent]:
        from ..score import add_segment_probability, merge_episodes
        from ..score.episodes import headline_probability

        if ac.windows is None or ac.windows.empty:
            return []
        s = self.settings
        # windows of closed episodes take no part in new ones (each later window starts after
        # their reach): only their context is needed; with several classes a window may be in two
        live = ac.windows if len(self.ep_classes) > 1 or not ac.final_windows else \
            ac.windows.loc[~ac.windows["window_id"].isin(ac.final_windows).to_numpy()]
        if not ac.alerts and not (live[[f"p_{c}" for c in self.ep_classes]].to_numpy(float) >= s.threshold).any():
            ac.unfinal, ac.episodes = False, None  # no positive window not in a closed episode: no new episode
            self._prune(ac, [])
            return []
        eps = ac.episodes
        if eps is None:
            eps = merge_episodes(live, threshold=s.threshold, classes=self.ep_classes, merge_gap_s=s.merge_gap_s)
            if self.aggregator is not None and len(eps) and "turn_thin_deg" in ac.windows.columns:
                eps = add_segment_probability(eps, ac.windows, self.aggregator, positive_class=self.positive,
                                              context_s=s.context_s)
            ac.episodes = eps
        events: list[AlertEvent] = []
        open_starts = []
        for _, row in eps.iterrows():
            wids = set(str(row["window_ids"]).split(";"))
            if wids & ac.final_windows:
                continue
            end_ns = int(pd.Timestamp(row["end"]).value)
            final = force or ac.pending_ns > end_ns + int(max(s.merge_gap_s, s.context_s) * _NS)
            episode = {k: _jsonable(v) for k, v in row.items() if k != "rank"}
            p, _ = headline_probability(episode)
            match = [a for a in ac.alerts.values() if a.windows & wids]
            alert = min(match, key=lambda a: a.alert_id) if match else None
            for other in match:
                if alert is not None and other is not alert:  # two alerts joined by a longer window: one goes on
                    events.append(AlertEvent("closed", other.alert_id, {**episode, "merged_into": alert.alert_id}, False, self._feed_time()))
                    del ac.alerts[other.alert_id]
                    self.closed_alerts.add(other.alert_id)
            if alert is None and p >= s.alert_p:
                alert_id = str(episode["episode_id"])
                if alert_id not in self.seen_alerts:
                    notify = int(pd.Timestamp(row["start"]).value) - ac.last_closed_ns > s.cooldown_s * _NS
                    alert = ac.alerts[alert_id] = _Alert(alert_id, set(wids), episode, notify)
                    self.seen_alerts.add(alert_id)
                    events.append(AlertEvent("opened", alert_id, episode, notify, self._feed_time()))
            elif alert is not None and (alert.windows != wids or alert.episode.get("p_segment") != episode.get("p_segment")):
                alert.windows, alert.episode = set(wids), episode
                events.append(AlertEvent("updated", alert.alert_id, episode, alert.notify, self._feed_time()))
            if final:
                ac.final_windows |= wids
                if episode["episode_id"] not in self.closed_ids:  # a restart may see it again
                    self.closed_ids.add(str(episode["episode_id"]))
                    self.closed.append(episode)
                if alert is not None and alert.alert_id not in self.closed_alerts:
                    events.append(AlertEvent("closed", alert.alert_id, episode, alert.notify, self._feed_time()))
                    self.closed_alerts.add(alert.alert_id)
                    ac.last_closed_ns = end_ns
                if alert is not None:
                    ac.alerts.pop(alert.alert_id, None)
            else:
                open_starts.append(int(pd.Timestamp(row["start"]).value))
        ac.unfinal = bool(open_starts)
        self._prune(ac, open_starts)
        return events

    def _changes_episodes(self, episodes: pd.DataFrame, new: pd.DataFrame) -> bool:
        """Whether windows *new* can change *episodes* (made before them): a positive one may join
        or start one, and one within ``context_s`` of one changes its segment probability."""
        if (new[[f"p_{c}" for c in self.ep_classes]].to_numpy(float) >= self.settings.threshold).any():
            return True
        if not len(episodes) or not len(new):
            return False
        t0, t1 = _ns(episodes["start"])[None, :] - self.ctx_ns, _ns(episodes["end"])[None, :] + self.ctx_ns
        return bool(((_ns(new["end"])[:, None] >= t0) & (_ns(new["start"])[:, None] <= t1)).any())

    def _prune(self, ac: _Aircraft, open_starts: list[int]) -> None:
        """Forget scored windows no open or future episode can need."""
        if ac.windows is None or ac.windows.empty:
            return
        ctx = int(self.settings.context_s * _NS)
        horizon = min([*open_starts, ac.pending_ns, self.now_ns]) - ctx - self.longest_ns
        keep = _ns(ac.windows["end"]) >= horizon
        if not keep.all():
            ac.windows = ac.windows.loc[keep].reset_index(drop=True)
            ac.final_windows &= set(ac.windows["window_id"].astype(str))

    def _feed_time(self) -> pd.Timestamp:
        return pd.Timestamp(self.now_ns, tz="UTC")

    # ------------------------------------------------------------------------------- views
    def open_alerts(self) -> list[dict[str, Any]]:
        """The episodes of the alerts open now."""
        return [dict(a.episode, alert_id=a.alert_id) for ac in self.aircraft.values() for a in ac.alerts.values()]

    def closed_episodes(self) -> pd.DataFrame:
        """Closed episodes as a table, ranked as ``flightpaths score`` ranks them."""
        from ..score import EPISODE_COLUMNS

        if not self.closed:
            return pd.DataFrame(columns=list(EPISODE_COLUMNS))
        frame = pd.DataFrame(self.closed)
        for col in ("start", "end"):
            frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601")
        keys = [c for c in ("p_segment", "peak_p", "mean_p") if c in frame]
        frame = frame.sort_values([*keys, "start"], ascending=[False] * len(keys) + [True], na_position="last", kind="stable")
        frame.insert(0, "rank", np.arange(1, len(frame) + 1, dtype="int64"))
        cols = [c for c in EPISODE_COLUMNS if c in frame] + [c for c in frame.columns if c not in EPISODE_COLUMNS]
        return frame[cols].reset_index(drop=True)
