"""``flightpaths score``: score new logs in bulk into windows, episodes and a tip sheet."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import FlightpathsError, InputError
from .options import DURATION, ingest_settings, log_options, overwrite_option, progress_enabled, say_if_read_as_utc

__all__ = ["DEFAULT_MODEL", "command"]

#: Where the built-in model ships (``make default-model``); the same path as
#: ``flightpaths.score.BUILTIN_MODEL``, written here so that the CLI starts without importing scoring.
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "default"


@click.command("score")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Model bundle folder from `flightpaths train` (default: the built-in model).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None, help="Probability for a positive window (default 0.5).")
@click.option("--class", "positive_class", default=None, help="Class to make episodes for (default: every class but not_*/other).")
@log_options
@click.option("--display-tz", default=None, help="Time zone shown beside UTC in the tip sheet, e.g. America/New_York (default UTC).")
@click.option("--merge-gap", "merge_gap_s", type=DURATION, default=None,
              help="Merge positive windows up to this far apart (default 0s).")
@click.option("--path-margin", "path_margin_s", type=DURATION, default=None,
              help="The aircraft's own path kept and mapped this long before and after each lead (default 10min).")
@click.option("--resume", is_flag=True, default=None, help="Skip inputs already scored with this model (default: off).")
@click.option("--dask", default=None, help="Dask scheduler address, or 'local' for a local cluster (default: no Dask).")
@click.option("--workers", type=click.IntRange(0), default=None, help="Drawing processes, 0 = all cores (default 0).")
@click.option("--batch-size", type=click.IntRange(1), default=None, help="Images per inference batch (default 64).")
@click.option("--chunk-lines", type=click.IntRange(1000), default=None,
              help="Points read at a time (about one per log line): bounds memory (default 100000).")
@click.option("--registry", type=click.Path(exists=True, path_type=Path), default=None,
              help="Registry store (folder or .parquet) from `flightpaths registry import` (default: the user store if present).")
@click.option("--no-registry", is_flag=True, default=False, help="Do not join a registry (default: join it when present).")
@click.option("--watchlist", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="File of ICAO hex, registration or operator patterns, one per line; listed aircraft rank first (default: none).")
@click.option("--near-airport-km", type=click.FloatRange(0), default=None,
              help="Flag episodes this close to an airport (default 2.0).")
@click.option("--behaviour", "behaviours", callback=lambda _c, _p, v: tuple(b.strip() for b in v.split(",") if b.strip()) if v else None,
              default=None, metavar="NAMES",
              help="Keep only episodes named by these behaviours (or holding an orbit, hover or racetrack stretch of them), comma-separated: orbit, "
                   "hover, survey, racetrack, pattern, transit, other (default: all).")
@click.option("--behaviour-episodes/--circling-only", "behaviour_episodes", default=None,
              help="Also list windows that the behaviour classifier alone calls an orbit, hover or racetrack, where the "
                   "circling model flags none (models with a segment aggregator; default: only with --behaviour "
                   "naming hover or racetrack).")
@click.option("--exclude-near-airports", "exclude_near_airports_km", type=click.FloatRange(0), default=None, metavar="KM",
              help="Leave out episodes within KM of an airport (not a heliport; default: keep all).")
@overwrite_option
def command(inputs: tuple[Path, ...], out_dir: Path, model_dir: Path | None, overwrite: bool, fmt: str | None,
            tz: str | None, columns: str | None, registry: Path | None, no_registry: bool, watchlist: Path | None,
            near_airport_km: float | None, exclude_near_airports_km: float | None, **options: object) -> None:
    """Score LOG_OR_POINTS... (logs of any format `ingest` reads, or points .parquet) into OUT/.

    Windows are cut and drawn as the model's training windows were (settings from the model).
    Writes windows.parquet, episodes.csv/.geojson/.kml/.gpkg and tipsheet.html (the tip sheet).
    """
    from ..ingest import sniff_formats
    from ..score import ScoreSettings, score_logs
    from ..settings import resolve
    from ..train.predict import load_bundle

    if model_dir is None:
        if not (DEFAULT_MODEL / "model.json").is_file():
            raise click.UsageError(f"no built-in model at {DEFAULT_MODEL} yet; pass --model MODEL_DIR (a folder made by `flightpaths train`)")
        model_dir = DEFAULT_MODEL
    from ..context import ContextSettings, load_watchlist

    if registry is not None and no_registry:
        raise click.UsageError("--registry and --no-registry contradict each other; give one")
    if watchlist is not None:
        load_watchlist(watchlist)  # a bad pattern stops here, naming the file and line
    try:
        read = ingest_settings(fmt=fmt, tz=tz, columns=columns)
        context = resolve(ContextSettings, registry=str(registry) if registry else None, use_registry=not no_registry,
                          watchlist=str(watchlist) if watchlist else None, near_airport_km=near_airport_km,
                          exclude_near_airports_km=exclude_near_airports_km)
        settings = resolve(ScoreSettings, progress=progress_enabled(), ingest=read, context=context, **options)
    except FlightpathsError as exc:
        raise click.UsageError(str(exc)) from exc
    bundle = load_bundle(model_dir)
    if settings.positive_class is not None and settings.positive_class not in bundle.classes:
        raise click.BadParameter(f"{settings.positive_class!r} is not a class of this model; choose from {', '.join(bundle.classes)}",
                                 param_hint="--class")
    if tz is None:
        say_if_read_as_utc(tz, sniff_formats(inputs, read))
    result = score_logs(list(inputs), out_dir, bundle, settings, overwrite=overwrite)
    click.echo(result.summary())
    click.echo(f"tip sheet: {result.outputs['tipsheet.html']}")
    if result.problems:  # the outputs hold what could be read; the run is still a data error
        raise InputError(f"{len(result.problems)} input(s) could not be read or were read only in part; "
                         + "; ".join(result.problems[:5]))
