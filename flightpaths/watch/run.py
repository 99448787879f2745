"""The watch loop: read a source, feed the engine, log and send alerts, keep state."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from .alerts import AlertLog, alert_record, write_closed_episodes
from .engine import LiveEngine
from .parse import LiveSbsParser
from .settings import WatchSettings
from .state import load_state, save_state

__all__ = ["WatchResult", "run_watch"]

log = logging.getLogger(__name__)


class _Notifier(Protocol):
    def send(self, record: dict[str, Any]) -> bool: ...


@dataclass(frozen=True)
class WatchResult:
    """What a watch run did."""

    lines: int
    points: int
    windows: int
    alerts: int
    closed: int
    dropped: dict[str, int]

    def summary(self) -> str:
        bad = sum(self.dropped.values())
        return (f"watched {self.lines:,} lines: {self.points:,} points, {self.windows:,} windows scored, "
                f"{self.alerts} alert(s) opened, {self.closed} episode(s) closed; {bad:,} row(s) dropped")


def run_watch(source: Any, bundle: Any, out_dir: str | Path, settings: WatchSettings | None = None, *,
              duration_s: float | None = None, notifiers: list[_Notifier] | None = None,
              stop: threading.Event | None = None, live: Any = None) -> WatchResult:
    """Watch *source* until *duration_s* passes, *stop* is set or Ctrl-C; alerts into *out_dir*.

    *live* (optional) has ``update(engine, events)``, called after every step (the live page).
    """
    settings = settings or WatchSettings()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = load_state(out)
    engine = LiveEngine(bundle, settings)
    engine.seen_alerts |= set(state["seen"])
    engine.closed_alerts |= set(state["closed_alerts"])
    engine.closed.extend(state["closed"])
    engine.closed_ids |= {str(e.get("episode_id")) for e in state["closed"]}
    parser = LiveSbsParser(name=getattr(source, "name", "feed"), tz=settings.input_tz, hold_s=settings.hold_s)
    alerts = AlertLog(out)
    stop = stop or threading.Event()
    notifiers = notifiers or []
    t_end = time.monotonic() + duration_s if duration_s else None
    opened = 0
    lag: int | None = None  # wall ns minus feed ns at the last points
    try:
        while not stop.is_set() and (t_end is None or time.monotonic() < t_end):
            wait = settings.tick_s if t_end is None else max(0.0, min(settings.tick_s, t_end - time.monotonic()))
            got = source.read(wait)
            n = _take(got, parser, engine)
            wall = time.time_ns()
            if n:
                lag = wall - engine.now_ns
            events = engine.step(wall - lag if lag is not None else None)
            opened += _deliver(events, engine, alerts, notifiers, out)
            if live is not None:
                live.update(engine, events)
    except KeyboardInterrupt:
        log.warning("interrupted: closing cleanly")
    finally:
        # stopping closes every open episode (logged as closed; a restart does not reopen it)
        engine.add_columns(parser.parse_columns(final=True))
        opened += _deliver(engine.step() + engine.finish(), engine, alerts, notifiers, out)
        if engine.closed:
            write_closed_episodes(engine.closed_episodes(), out)
        save_state(out, seen=engine.seen_alerts, closed_alerts=engine.closed_alerts, closed=engine.closed)
        alerts.close()
        parser.close()
        source.close()
    return WatchResult(parser.lines, engine.n_points, engine.n_windows, opened, len(engine.closed), dict(parser.dropped))


def _take(got: Any, parser: LiveSbsParser, engine: LiveEngine) -> int:
    """Give what a source read (SBS lines, or a points table) to the engine; the number of points."""
    if isinstance(got, pd.DataFrame):
        engine.add_points(got)
        return len(got)
    parser.feed(got)
    cols = parser.parse_columns()
    engine.add_columns(cols)
    return 0 if cols is None else len(cols["time"])


#: Context fields an alert gains (who, where, when): those ``flightpaths score`` gives its
#: episodes, but the watchlist (watch takes none).
def _alert_context() -> tuple[str, ...]:
    from ..context import CONTEXT_COLUMNS

    return tuple(c for c in CONTEXT_COLUMNS if not c.startswith("watchlist"))


def add_alert_context(episode: dict[str, Any]) -> dict[str, Any]:
    """*episode* (an alert's fields) with who, where and when added in place, as ``score`` adds
    them (:func:`flightpaths.context.add_context`: offline place, airport, time zone; the local
    registry when one was imported). Nothing is added when the context cannot be computed."""
    from ..context import add_context
    from ..errors import FlightpathsError

    if episode.get("lat") is None or episode.get("lon") is None or "object_id" not in episode:
        return episode
    row = {k: episode.get(k) for k in ("object_id", "lat", "lon", "callsign")}
    row["start"], row["end"] = pd.Timestamp(episode["start"]), pd.Timestamp(episode["end"])
    try:
        ctx = add_context(pd.DataFrame([row]), pd.DataFrame({"object_id": pd.Series([], dtype="string")}))
    except (FlightpathsError, OSError, ValueError, KeyError) as exc:
        log.warning("alert %s: no context (%s)", episode.get("episode_id"), exc)
        return episode
    if ctx.empty:
        return episode
    first = ctx.iloc[0]
    for c in _alert_context():
        value = first.get(c)
        if value is not None and not (isinstance(value, float) and value != value) and value is not pd.NA and value != "":
            episode[c] = value.item() if hasattr(value, "item") else value
    return episode


def _deliver(events: list[Any], engine: LiveEngine, alerts: AlertLog, notifiers: list[_Notifier], out: Path) -> int:
    opened = 0
    for event in events:
        if "place" not in event.episode:
            add_alert_context(event.episode)  # in place: the live page and closed episodes show it too
        record = alert_record(event)
        alerts.write(record)
        opened += event.kind == "opened"
        log.warning("alert %s: %s %s", event.kind, event.alert_id, record.get("callsign") or "")
        if event.notify and event.kind in ("opened", "closed") and not record.get("merged_into"):
            for notifier in notifiers:
                notifier.send(record)
    if any(e.kind == "closed" for e in events) or (events and engine.closed):
        write_closed_episodes(engine.closed_episodes(), out)
    if events:
        save_state(out, seen=engine.seen_alerts, closed_alerts=engine.closed_alerts, closed=engine.closed)
    return opened
