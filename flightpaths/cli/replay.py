"""``flightpaths replay``: serve a recorded SBS log on 127.0.0.1 as a receiver would."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["command"]


@click.command("replay")
@click.argument("log", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--port", type=click.IntRange(1, 65535), default=30003, show_default=True, help="Port on 127.0.0.1.")
@click.option("--speed", type=click.FloatRange(0.01, 100_000), default=1.0, show_default=True, help="Times real speed.")
@click.option("--wait", "wait_s", type=click.FloatRange(0), default=0.0, show_default=True,
              help="Start playing when the first client connects, or after this many seconds.")
def command(log: Path, port: int, speed: float, wait_s: float) -> None:
    """Serve LOG (SBS, .gz welcome) on 127.0.0.1:PORT, times shifted to now, at --speed."""
    from ..watch import serve_replay

    click.echo(f"replaying {log} on 127.0.0.1:{port} at {speed:g}x (Ctrl-C stops)", err=True)
    try:
        sent = serve_replay(log, port, speed=speed, wait_s=wait_s)
    except OSError as exc:
        raise click.ClickException(f"cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}") from exc
    except KeyboardInterrupt:
        sent = None
    click.echo("replay finished" + (f": {sent:,} lines sent" if sent is not None else ""), err=True)
