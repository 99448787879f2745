"""The ``flightpaths`` command line: a thin click layer over the library.

Subcommands live one per module in this package and are imported only when used, so
``flightpaths --help`` is instant and never imports torch. This is the one place where
errors become exit codes: 0 success, 1 data or runtime error, 2 usage error.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from .. import __version__
from ..errors import FlightpathsError

__all__ = ["COMMANDS", "cli", "main"]

#: name -> (module, one-line help), in pipeline order.
COMMANDS: dict[str, tuple[str, str]] = {
    "ingest": ("flightpaths.cli.ingest", "Read logs (SBS, aircraft.json, traces, OpenSky, FR24, CSV, mouse) into one points table."),
    "tracks": ("flightpaths.cli.tracks", "Cut points into tracks and overlapping time windows with their figures."),
    "simulate": ("flightpaths.cli.simulate", "Write a realistic simulated SBS log with ground-truth behaviour intervals."),
    "render": ("flightpaths.cli.render", "Draw every window as an image, with a manifest and the render config."),
    "label": ("flightpaths.cli.label", "Sort images into class folders: by rule, import, model, or in the browser."),
    "train": ("flightpaths.cli.train", "Fine-tune a pretrained CNN on a class-folder dataset (CPU or GPU, offline)."),
    "lr-find": ("flightpaths.cli.lr_find", "Learning-rate range test: plot loss against learning rate and suggest one."),
    "score": ("flightpaths.cli.score", "Score new logs in bulk: window probabilities, episodes and a tip sheet."),
    "registry": ("flightpaths.cli.registry", "Keep a local aircraft registry (FAA, OpenSky, tar1090) that score joins."),
    "watch": ("flightpaths.cli.watch", "Watch a live feed (SBS over TCP, aircraft.json, a growing log) and alert while an aircraft circles."),
    "replay": ("flightpaths.cli.replay", "Serve a recorded SBS log on 127.0.0.1 as a receiver would, at any speed."),
    "export": ("flightpaths.cli.export", "Export a model bundle as ONNX (probabilities; preprocessing in its metadata)."),
    "report": ("flightpaths.cli.report", "Interpretation report for a model on a dataset: confusion, PR curve, top losses."),
    "evaluate": ("flightpaths.cli.evaluate", "Score real flights per segment against the 5-minute and multi-scale turn rules, with intervals."),
    "demo": ("flightpaths.cli.demo", "Run the whole pipeline on the shipped sample data and print where the results are."),
}


class FlightpathsGroup(click.Group):
    """A click group that loads subcommands lazily and turns library errors into exit 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[cmd_name][0])
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (_, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FlightpathsError as exc:
            raise click.ClickException(str(exc)) from exc
        except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
            where = exc.filename if exc.filename is not None else ""
            raise click.ClickException(f"{where}: {exc.strerror or exc}") from exc


@click.group(cls=FlightpathsGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="flightpaths")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr, no progress bars.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """flightpaths: find circling aircraft (and other patterns) in movement logs.

    Logs -> points -> tracks/windows -> images -> labels -> model -> scores -> tip sheet.
    Every command reads and writes plain files; run `flightpaths COMMAND --help` for details.
    """
    level = logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr, force=True)
    # -vv: debug from flightpaths only (numba's compiler logs megabytes at DEBUG and slowed runs)
    logging.getLogger("flightpaths").setLevel(logging.DEBUG if verbose > 1 and not quiet else logging.NOTSET)
    ctx.ensure_object(dict)
    ctx.obj["quiet"] = quiet


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="flightpaths")
