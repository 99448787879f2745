"""Where and when: nearest place and airport, compass bearings, time zones, local times."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flightpaths.context._geo import PointIndex, compass, locality_order
from flightpaths.context.airports import Airports, nearest_airports, nearest_heliports
from flightpaths.context.places import Gazetteer, nearest_places, place_line, places_near
from flightpaths.context.timezones import add_local_times, local_iso, zones_at


@pytest.fixture()
def tiny() -> Gazetteer:
    """Three places; distances a reader can check: 0.01 degree of latitude is 1.11 km."""
    return Gazetteer.from_frame(pd.DataFrame({
        "name": ["Yonkers", "Bronxville", "Suva"], "region": ["New York", "New York", "Central"],
        "country": ["US", "US", "FJ"], "lat": [40.9312, 40.9382, -18.1416], "lon": [-73.8988, -73.8321, 178.4419],
        "population": [200_000, 6_000, 90_000]}))


def test_nearest_place_line_distance_and_bearing(tiny: Gazetteer) -> None:
    out = nearest_places(np.array([40.9312 + 0.0150, 40.9312, np.nan]), np.array([-73.8988 + 0.0197, -73.8988, 0.0]), tiny)
    assert out.loc[0, "place"] == "2.3 km NE of Yonkers, New York, US"
    assert (out.loc[0, "place_km"], out.loc[0, "place_bearing"]) == (2.3, "NE")
    assert out.loc[1, "place"] == "in Yonkers, New York, US"
    assert out.loc[2, "place"] == "" and np.isnan(out.loc[2, "place_km"])


def test_nearest_across_the_antimeridian(tiny: Gazetteer) -> None:
    out = nearest_places(np.array([-18.1416]), np.array([-179.9]), tiny)  # 1.7 degrees east of Suva, across 180
    assert out.loc[0, "place_name"] == "Suva" and out.loc[0, "place_bearing"] == "E"
    assert out.loc[0, "place_km"] == pytest.approx(1.6581 * 111.19 * np.cos(np.radians(18.1416)), rel=0.01)


def test_compass_points() -> None:
    assert list(compass(np.array([0, 22.4, 22.6, 90, 135, 180, 225, 270, 315, 337.6]))) == [
        "N", "N", "NE", "E", "SE", "S", "SW", "W", "NW", "N"]


def test_place_line_formats() -> None:
    assert place_line("Suva", "", "FJ", 12.04, "W") == "12.0 km W of Suva, FJ"


def test_point_index_within_radius() -> None:
    index = PointIndex(np.array([0.0, 0.0, 0.0]), np.array([0.0, 0.05, 1.0]))
    idx, km = index.within(0.0, 0.0, 10.0)
    assert sorted(idx.tolist()) == [0, 1]
    assert sorted(np.round(km, 2).tolist()) == [0.0, 5.56]


def test_airports_flag_and_code() -> None:
    table = Airports.from_frame(pd.DataFrame({"code": ["KJFK", "KLGA"], "name": ["John F Kennedy Intl", "LaGuardia"],
                                              "lat": [40.6398, 40.7772], "lon": [-73.7789, -73.8726]}))
    out = nearest_airports(np.array([40.6398 + 0.009, 40.70]), np.array([-73.7789, -73.80]), near_km=2.0, table=table)
    assert out["airport_code"].tolist() == ["KJFK", "KJFK"]
    assert out["airport_km"].tolist()[0] == 1.0
    assert out["near_airport"].tolist() == [True, False]


def test_packaged_gazetteer_and_airports_know_real_places() -> None:
    out = nearest_places(np.array([41.4993, 40.9396]), np.array([-81.6944, -73.8625]))
    assert out["place"].tolist()[0] == "in Cleveland, Ohio, US"
    assert out["place_country"].tolist()[1] == "US" and out["place_region"].tolist()[1] == "New York"
    near = nearest_airports(np.array([40.6413]), np.array([-73.7781]), near_km=2.0)
    assert near["airport_code"].tolist() == ["KJFK"] and bool(near["near_airport"].iloc[0])
    labels = places_near(40.7128, -74.0060, radius_km=20, limit=3)
    assert labels[0].name == "New York City" and len(labels) == 3
    assert labels[0].population >= labels[1].population >= labels[2].population


def test_zones_and_local_times_across_daylight_saving() -> None:
    zones = zones_at(np.array([41.5, 51.5, -33.87, np.nan]), np.array([-81.69, -0.12, 151.21, 0.0]))
    assert list(zones) == ["America/New_York", "Europe/London", "Australia/Sydney", ""]
    times = pd.Series(pd.to_datetime(["2016-07-18 18:02:11", "2016-01-18 18:02:11", "2016-07-18 18:02:11", "2016-07-18 00:00:00"], utc=True))
    assert local_iso(times, zones).tolist() == [
        "2016-07-18T14:02:11-04:00", "2016-01-18T18:02:11+00:00", "2016-07-19T04:02:11+10:00", ""]


def test_windows_get_local_times_too() -> None:
    t = pd.Timestamp("2016-07-18 18:00:00", tz="UTC")
    windows = pd.DataFrame({"lat": [41.4993, 41.4994, 51.5, np.nan], "lon": [-81.6944, -81.6945, -0.12, np.nan],
                            "start": [t] * 4, "end": [t + pd.Timedelta("5min")] * 4})
    out = add_local_times(windows)
    assert out["tz"].tolist() == ["America/New_York", "America/New_York", "Europe/London", ""]
    assert out["local_end"].tolist() == ["2016-07-18T14:05:00-04:00", "2016-07-18T14:05:00-04:00", "2016-07-18T19:05:00+01:00", ""]


def test_packaged_heliports_name_the_hospital_pad_beside_an_orbit() -> None:
    # the DHS AS350's orbits over downtown Cleveland in July 2016 centred about here
    out = nearest_heliports(np.array([41.4993, np.nan]), np.array([-81.6800, 0.0]))
    assert out["heliport_code"].tolist()[0] == "8OI6"
    assert out["heliport_name"].tolist()[0] == "St Vincent Charity Medical Center Heliport"
    assert out["heliport_km"].tolist()[0] == 0.6 and np.isnan(out["heliport_km"].tolist()[1])


def test_many_lookups_in_locality_order_give_each_point_its_own_answer() -> None:
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(-60, 60, 2000), rng.uniform(-180, 180, 2000)
    index = PointIndex(rng.uniform(-60, 60, 500), rng.uniform(-180, 180, 500))
    many = index.nearest(lat, lon)  # over 256 points: queried in Z-order, answers put back in place
    one = [index.nearest(lat[i : i + 1], lon[i : i + 1]) for i in range(0, 2000, 97)]
    assert many.index[::97].tolist() == [int(r.index[0]) for r in one]
    np.testing.assert_allclose(many.km[::97], [float(r.km[0]) for r in one])
    np.testing.assert_allclose(many.bearing_deg[::97], [float(r.bearing_deg[0]) for r in one])
    assert sorted(locality_order(lat, lon).tolist()) == list(range(2000))
