"""The simulator: deterministic, realistic per behaviour, and its SBS log reads back the same."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from flightpaths.cli import cli
from flightpaths.errors import SettingsError
from flightpaths.ingest import read_logs, read_sbs
from flightpaths.schema import POINT_COLUMNS
from flightpaths.simulate import (
    BEHAVIOURS,
    CIRCLING,
    OPTIONAL_BEHAVIOURS,
    SimSettings,
    label_windows,
    sbs_lines,
    simulate,
    write_sbs,
    write_simulation,
)
from flightpaths.tracks import WindowSettings, make_windows

SMALL = SimSettings(seed=7, hours=1.0, aircraft=6)


@pytest.fixture(scope="module")
def big():
    """Enough traffic for every behaviour (deterministic: a fixed seed)."""
    sim = simulate(SimSettings(seed=11, hours=3.0, aircraft=40))
    # parked aircraft report "on the ground": keep those points to check they look parked
    windows = make_windows(sim.points, WindowSettings(window_s=(300, 1200), airborne_only=False))
    return sim, pd.concat([windows, label_windows(windows, sim.truth)], axis=1)


def test_same_settings_same_simulation_and_seed_matters() -> None:
    a, b = simulate(SMALL), simulate(SMALL)
    pd.testing.assert_frame_equal(a.points, b.points)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    c = simulate(SimSettings(seed=8, hours=1.0, aircraft=6))
    assert not c.points["object_id"].equals(a.points["object_id"])
    # each aircraft has its own random stream: adding aircraft leaves the first ones alone
    more = simulate(SimSettings(seed=7, hours=1.0, aircraft=8))
    first = a.points["object_id"].unique()
    pd.testing.assert_frame_equal(
        more.points[more.points["object_id"].isin(first)].reset_index(drop=True), a.points.reset_index(drop=True)
    )


def test_points_table_and_truth_columns() -> None:
    sim = simulate(SMALL)
    assert list(sim.points.columns)[: len(POINT_COLUMNS)] == list(POINT_COLUMNS)
    assert sim.points["time"].is_monotonic_increasing  # aircraft interleaved in time
    assert list(sim.truth.columns[:6]) == ["object_id", "callsign", "start", "end", "behaviour", "circling"]
    assert set(sim.truth["behaviour"]) <= set(BEHAVIOURS)
    assert (sim.truth["end"] > sim.truth["start"]).all()
    # intervals of one aircraft follow each other without holes
    for _, g in sim.truth.groupby("object_id"):
        assert (g["start"].iloc[1:].to_numpy() == g["end"].iloc[:-1].to_numpy()).all()


def test_every_behaviour_occurs_with_the_circling_rule(big) -> None:
    sim, _ = big
    truth = sim.truth
    assert set(truth["behaviour"]) == set(BEHAVIOURS) - OPTIONAL_BEHAVIOURS  # those only when asked for
    expected = truth["behaviour"].isin(CIRCLING) | ((truth["behaviour"] == "partial_orbit") & (truth["revolutions"] >= 1))
    assert (truth["circling"] == expected).all()
    assert set(truth.loc[truth["behaviour"] == "hover", "kind"]) == {"helicopter"}
    wide = truth[truth["behaviour"] == "wide_orbit"]
    assert (wide["radius_m"] * 2).between(10_000, 30_000).all()  # 10-30 km across


def test_behaviours_look_like_themselves_in_windows(big) -> None:
    sim, w = big
    five = w[(w["window_s"] == 300) & (w["n_points"] >= 5) & (w["behaviour_fraction"] > 0.9)].assign(turns=lambda d: d["net_turn_rev"].abs())
    by = five.groupby("behaviour")
    med = lambda col: by[col].median()  # noqa: E731
    inside = five[(five["circling_fraction"] > 0.99) & (five["n_points"] >= 20)]  # dense, wholly in an orbit
    assert inside.groupby("behaviour")["turns"].median()["orbit"] >= 0.9
    assert med("straightness")["straight"] > 0.95
    assert med("extent_m")["parked"] < 300 and med("median_speed_kt")["parked"] < 5
    assert med("extent_m")["hover"] < 300 and med("median_altitude_ft")["hover"] < 1000
    # wide slow orbits turn well under a revolution in 5 minutes, but complete one in 20
    assert med("turns")["wide_orbit"] < 0.6
    twenty = w[(w["window_s"] == 1200) & (w["behaviour"] == "wide_orbit") & (w["circling_fraction"] > 0.9)]
    assert twenty["net_turn_rev"].abs().median() >= 0.8
    assert med("extent_m")["meander"] > 5_000
    assert med("median_speed_kt")["wide_orbit"] > med("median_speed_kt")["hover"]
    all_five = w[w["window_s"] == 300]
    assert 0.2 < all_five["circling"].mean() < 0.6  # a healthy share of circling windows
    airborne = make_windows(sim.points, WindowSettings(window_s=300))  # the default leaves the ground out
    assert "parked" not in set(label_windows(airborne, sim.truth)["behaviour"]) and len(airborne) < len(all_five)


def test_airliners_and_circuits_when_asked_for() -> None:
    sim = simulate(SimSettings(seed=5, hours=3.0, aircraft=30, airliner_share=0.3, circuit_weight=0.3))
    truth = sim.truth
    assert OPTIONAL_BEHAVIOURS <= set(truth["behaviour"])
    assert set(truth.loc[truth["behaviour"].isin(["route_turn", "hold"]), "kind"]) == {"airliner"}
    assert set(truth.loc[truth["behaviour"] == "circuit", "kind"]) == {"light"}
    assert truth.loc[truth["behaviour"] == "hold", "circling"].all()
    windows = make_windows(sim.points, WindowSettings(window_s=600))
    w = pd.concat([windows, label_windows(windows, truth)], axis=1)
    w = w[w["behaviour_fraction"] > 0.9].groupby("behaviour")
    assert w["median_altitude_ft"].median()["route_turn"] > 25_000  # at cruise
    assert w["median_speed_kt"].median()["route_turn"] > 400
    assert w["median_altitude_ft"].median()["circuit"] < 1500  # a pattern at about 1,000 ft
    # the same seed without them: the helicopters are unchanged (each aircraft its own random stream;
    # light aircraft draw their behaviours among other weights)
    plain = simulate(SimSettings(seed=5, hours=3.0, aircraft=30))
    kept = set(truth.loc[truth["kind"] == "helicopter", "object_id"])
    assert len(kept) >= 5
    a = sim.points[sim.points["object_id"].isin(kept)].reset_index(drop=True)
    b = plain.points[plain.points["object_id"].isin(kept)].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_sampling_modes(big) -> None:
    sim, _ = big
    dt = sim.points.groupby("object_id")["time"].apply(lambda t: t.diff().dt.total_seconds().median())
    modes = sim.truth.groupby("object_id")["sampling"].first()
    assert dt[modes == "sparse"].between(45, 75).all()  # about 60 s like ADS-B Exchange extracts
    assert dt[modes == "dense"].max() < 4
    assert (modes == "sparse").sum() >= 5


def test_sbs_lines_are_standard_22_field_rows() -> None:
    sim = simulate(SimSettings(seed=3, hours=0.3, aircraft=3))
    lines, line_of = sbs_lines(sim.points)
    assert all(len(line.split(",")) == 22 for line in lines)
    pattern = re.compile(
        r"^MSG,3,1,1,[0-9A-F]{6},1,\d{4}/\d\d/\d\d,\d\d:\d\d:\d\d\.\d{3},\d{4}/\d\d/\d\d,\d\d:\d\d:\d\d\.\d{3},"
        r"[A-Z0-9]*,-?\d+,,,-?\d+\.\d{5},-?\d+\.\d{5},,,,,,0$"
    )
    airborne = [lines[i - 1] for i in line_of if lines[i - 1].startswith("MSG,3")]
    assert airborne and all(pattern.match(line) for line in airborne)
    assert {line[:5] for line in lines} <= {"MSG,1", "MSG,2", "MSG,3", "MSG,4"}


def test_sbs_round_trip_through_the_project_reader(tmp_path: Path) -> None:
    sim = simulate(SimSettings(seed=5, hours=1.5, aircraft=8))
    log = tmp_path / "sim.sbs.gz"
    written = write_sbs(sim.points, log)
    assert gzip.decompress(log.read_bytes()).count(b"\r\n") > len(written)
    result = read_sbs(log)
    back = result.points
    assert len(back) == len(written)
    key = ["object_id", "time"]
    a = written.sort_values(key).reset_index(drop=True)
    b = back.sort_values(key).reset_index(drop=True)
    for name in POINT_COLUMNS:
        if name in ("x", "y", "squawk"):
            continue
        pd.testing.assert_series_equal(a[name], b[name], check_dtype=False, check_names=False, obj=name)
    # and the windows cut from either are the same
    wa, wb = make_windows(a), make_windows(b)
    assert wa["window_id"].tolist() == wb["window_id"].tolist()
    np.testing.assert_allclose(wa["net_turn_rev"], wb["net_turn_rev"])


def test_write_simulation_and_label_windows(tmp_path: Path) -> None:
    sim = simulate(SMALL)
    paths = write_simulation(sim, tmp_path)
    truth = pd.read_csv(paths["truth"])
    assert list(truth.columns[:6]) == ["object_id", "callsign", "start", "end", "behaviour", "circling"]
    pts = pd.read_parquet(paths["points"])
    assert (pts["source_line"] > 0).all() and len(pts) == len(sim.points)
    windows = make_windows(read_logs(paths["log"]).points)
    labels = label_windows(windows, truth)
    assert labels.index.equals(windows.index)
    assert labels["behaviour"].notna().all()
    assert labels["circling_fraction"].between(0, 1).all()
    assert labels["circling"].equals(labels["circling_fraction"] >= 0.5)


def test_bad_settings_are_clear_errors() -> None:
    with pytest.raises(SettingsError, match="hours"):
        SimSettings(hours=0)
    with pytest.raises(SettingsError, match="aircraft"):
        SimSettings(aircraft=0)
    with pytest.raises(SettingsError, match="start"):
        SimSettings(start="yesterday-ish")


def test_cli_simulate_writes_and_refuses_to_overwrite(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["simulate", "-o", str(tmp_path / "sim"), "--seed", "4", "--hours", "0.5", "--aircraft", "3", "--gzip"]
    res = runner.invoke(cli, args)
    assert res.exit_code == 0, res.output
    log = tmp_path / "sim" / "sim.sbs.gz"
    first = log.read_bytes()
    assert {p.name for p in (tmp_path / "sim").iterdir()} == {"sim.sbs.gz", "points.parquet", "truth.csv", "simulate.settings.json"}
    again = runner.invoke(cli, args)
    assert again.exit_code == 1 and "--overwrite" in again.output
    assert runner.invoke(cli, [*args, "--overwrite"]).exit_code == 0
    assert log.read_bytes() == first  # deterministic, byte for byte
    assert runner.invoke(cli, ["simulate", "-o", str(tmp_path / "x"), "--hours", "-1"]).exit_code == 2
