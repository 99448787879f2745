"""``flightpaths watch``: score a live ADS-B feed and raise alerts while an aircraft still circles."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import click

from ..errors import FlightpathsError
from .options import DURATION

__all__ = ["command"]


@click.command("watch")
@click.option("--connect", "connect", default=None, metavar="HOST:PORT", help="SBS-1 feed over TCP, e.g. 127.0.0.1:30003 (readsb/dump1090).")
@click.option("--poll", "poll", default=None, metavar="URL|PATH", help="readsb/tar1090 aircraft.json to read every --every seconds.")
@click.option("--every", type=DURATION, default=5.0, show_default=True, help="Polling interval for --poll.")
@click.option("--follow", "follow", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A growing SBS log, followed like tail -F (survives rotation).")
@click.option("--from-start", is_flag=True, default=False, help="With --follow: read the file from its start (default: its end).")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for alerts.jsonl, closed episodes and the state file (a restart resumes from it).")
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Model bundle folder (default: the built-in model).")
@click.option("--alert-p", type=click.FloatRange(0, 1), default=None, help="Headline probability that raises an alert (default 0.2).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None, help="Probability for a positive window (default 0.5).")
@click.option("--input-tz", default=None, help="Zone of SBS times (receivers log local time; default UTC).")
@click.option("--duration", "duration_s", type=DURATION, default=None, help="Stop after this long (default: run until Ctrl-C).")
@click.option("--webhook", default=None, metavar="URL", help="POST each alert as Slack/Mattermost/Discord JSON (default: none).")
@click.option("--on-alert", "on_alert", default=None, metavar="CMD",
              help="Run CMD for each alert, no shell; fields in FLIGHTPATHS_* variables (default: none).")
@click.option("--serve", "serve_port", type=click.IntRange(0, 65535), default=None, metavar="PORT",
              help="Serve the live page on 127.0.0.1:PORT (default: no page).")
def command(connect: str | None, poll: str | None, every: float, follow: Path | None, from_start: bool, out_dir: Path,
            model_dir: Path | None, duration_s: float | None, webhook: str | None, on_alert: str | None,
            serve_port: int | None, **options: object) -> None:
    """Watch a live feed; alerts go to OUT/alerts.jsonl (and --webhook / --on-alert).

    Exactly one of --connect, --poll, --follow. Closed episodes are written to OUT/episodes.csv,
    .geojson and .kml as `flightpaths score` writes them.
    """
    from ..settings import resolve
    from ..train.predict import load_bundle
    from ..watch import CommandNotifier, FollowSource, PollSource, TcpSource, WatchSettings, parse_hostport, run_watch
    from .score import DEFAULT_MODEL

    given = [x for x in (connect, poll, follow) if x is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --connect HOST:PORT, --poll URL|PATH, --follow PATH")
    try:
        settings = resolve(WatchSettings, **options)
    except FlightpathsError as exc:
        raise click.UsageError(str(exc)) from exc
    notifiers: list[Any] = []
    source: Any
    try:
        if connect is not None:
            source = TcpSource(*parse_hostport(connect))
        elif poll is not None:
            source = PollSource(poll, every_s=every, tz=settings.input_tz)
        else:
            source = FollowSource(str(follow), from_start=from_start)
        if webhook:
            from ..watch import WebhookNotifier

            notifiers.append(WebhookNotifier(webhook))
        if on_alert:
            notifiers.append(CommandNotifier(on_alert))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    bundle = load_bundle(model_dir or DEFAULT_MODEL)
    live = None
    if serve_port is not None:
        from ..watch.server import LivePage

        try:
            live = LivePage.start(serve_port)
        except OSError as exc:
            raise click.ClickException(f"cannot serve the live page on 127.0.0.1:{serve_port}: {exc.strerror or exc}") from exc
        click.echo(f"live page: {live.url}", err=True)
    stop = threading.Event()
    # a service manager's stop (SIGTERM) closes open episodes and saves the state, as Ctrl-C does
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        result = run_watch(source, bundle, out_dir, settings, duration_s=duration_s, notifiers=notifiers, live=live,
                           stop=stop)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if live is not None:
            live.stop()
    click.echo(result.summary())
