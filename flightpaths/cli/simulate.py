"""``flightpaths simulate``: a realistic simulated SBS-1 log with ground-truth behaviour intervals."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import SettingsError
from ..fileio import check_output
from ..settings import resolve, write_settings
from ..simulate import SimSettings, simulate, write_simulation

__all__ = ["command"]


@click.command("simulate")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for sim.sbs (or sim.sbs.gz), points.parquet, truth.csv and simulate.settings.json.")
@click.option("--seed", type=int, default=None, help="Random seed; the same settings give the same files (default: 0).")
@click.option("--hours", type=click.FloatRange(0, 720, min_open=True), default=None, help="Hours of traffic (default: 2).")
@click.option("--aircraft", type=click.IntRange(1, 100_000), default=None, help="Number of aircraft (default: 12).")
@click.option("--sparse-share", type=click.FloatRange(0, 1), default=None,
              help="Share of aircraft sampled about every 60 s, like ADS-B Exchange extracts (default: 0.25).")
@click.option("--helicopter-share", type=click.FloatRange(0, 1), default=None, help="Share of helicopters (default: 0.5).")
@click.option("--start", default=None, help="UTC start time, e.g. 2024-06-01T08:00:00Z (default: that).")
@click.option("--gzip", "gzip_log", is_flag=True, default=False, help="Write the log gzipped as sim.sbs.gz (default: plain sim.sbs).")
@click.option("--overwrite", is_flag=True, default=False, help="Replace outputs that already exist (default: refuse).")
def command(output: Path, seed: int | None, hours: float | None, aircraft: int | None, sparse_share: float | None,
            helicopter_share: float | None, start: str | None, gzip_log: bool, overwrite: bool) -> None:
    """Simulate helicopters and light aircraft (orbits, wide orbits, hovering, surveys, racetracks,
    meanders, approaches, parked...) and write the log, the points table and the truth intervals."""
    try:
        settings = resolve(SimSettings, seed=seed, hours=hours, aircraft=aircraft, sparse_share=sparse_share,
                           helicopter_share=helicopter_share, start=start)
    except SettingsError as exc:
        raise click.BadParameter(str(exc), param_hint="'--start'") from exc
    names = ["sim.sbs.gz" if gzip_log else "sim.sbs", "points.parquet", "truth.csv", "simulate.settings.json"]
    for name in names:
        check_output(output / name, overwrite=overwrite)
    sim = simulate(settings)
    paths = write_simulation(sim, output, gzip_log=gzip_log)
    write_settings(output / "simulate.settings.json", simulate=settings)
    n_circ = int(sim.truth["circling"].sum())
    click.echo(f"simulated {sim.points['object_id'].nunique()} aircraft, {len(sim.points)} points, "
               f"{len(sim.truth)} behaviour intervals ({n_circ} circling)", err=True)
    for path in paths.values():
        click.echo(f"wrote {path}")
