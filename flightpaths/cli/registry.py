"""``flightpaths registry``: a local aircraft registry (FAA, OpenSky, tar1090) that `score` joins."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["command"]

_STORE = click.option("--store", type=click.Path(path_type=Path), default=None,
                      help="Registry folder (default: $FLIGHTPATHS_DATA, else $XDG_DATA_HOME/flightpaths or ~/.local/share/flightpaths).")


@click.group("registry")
def command() -> None:
    """Keep a local aircraft registry: owner or operator, type and year by ICAO address.

    `flightpaths score` joins it when present (the tip sheet says when none was available).
    """


@command.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_STORE
def import_(files: tuple[Path, ...], store: Path | None) -> None:
    """Import FILES: the FAA ReleasableAircraft.zip (or MASTER.txt with ACFTREF.txt beside it),
    the OpenSky aircraft database CSV, or the tar1090 aircraft.csv(.gz). A source imported
    again replaces its earlier rows."""
    from ..context.registry import import_files

    click.echo(import_files(list(files), store).summary())


@command.command("fetch")
@click.argument("source", type=click.Choice(["faa", "opensky", "tar1090"]))
@click.option("--url", default=None, help="Download from this address instead (default: the source's own).")
@click.option("--timeout", type=click.FloatRange(1), default=60.0, show_default=True, help="Network timeout, seconds.")
@_STORE
def fetch(source: str, url: str | None, timeout: float, store: Path | None) -> None:
    """Download SOURCE (needs the internet) and import it."""
    from ..context.registry import fetch as fetch_source

    report = fetch_source(source, store, url=url, timeout=timeout, on_done=lambda p: click.echo(f"downloaded {p}", err=True))
    click.echo(report.summary())


@command.command("info")
@_STORE
def info(store: Path | None) -> None:
    """Print where the registry is and how many aircraft each source gave."""
    from ..context.registry import store_info

    state = store_info(store)
    click.echo(f"registry: {state['path']}")
    if not state["exists"]:
        click.echo("nothing imported yet; run `flightpaths registry import FILE` or `flightpaths registry fetch faa`")
        return
    for name, n in dict(state["sources"]).items():  # type: ignore[call-overload]
        click.echo(f"  {name}: {n:,} aircraft")


@command.command("path")
@_STORE
def path(store: Path | None) -> None:
    """Print the registry file's path (it may not exist yet)."""
    from ..context.registry import registry_path

    click.echo(str(registry_path(store)))
