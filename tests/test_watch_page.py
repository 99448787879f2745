"""The data behind watch's live page (fast, no browser): an alert's track split at its episode,
an alert with no track fitted to its centre, what a snapshot holds and in what order, and the
event stream's reconnect hint and keep-alive."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pytest

from flightpaths.watch import server
from flightpaths.watch.server import LivePage, alert_view, episode_paths, snapshot


def _points(n: int = 60, start: str = "2024-06-01 09:00:00") -> pd.DataFrame:
    t = pd.date_range(start, periods=n, freq="1min", tz="UTC")
    return pd.DataFrame({"time": t, "lat": [40.0 + i / 1000 for i in range(n)], "lon": [-74.0] * n,
                         "callsign": pd.array(["NYPD2"] * (n - 1) + [pd.NA], dtype="string"),
                         "altitude_ft": 1200.0, "speed_kt": 90.0})  # fmt: skip


def test_episode_paths_split_the_aircraft_path_at_the_episode() -> None:
    paths = episode_paths(_points(), "2024-06-01 09:20:00+00:00", "2024-06-01T09:40:00Z")
    assert len(paths["track"]) == 21 and paths["track"][0] == [40.02, -74.0] and paths["track"][-1] == [40.04, -74.0]
    assert paths["before"][0] == [40.0, -74.0] and paths["before"][-1] == paths["track"][0]  # joined to the track
    assert paths["after"][0] == paths["track"][-1] and paths["after"][-1] == [40.059, -74.0]
    assert episode_paths(pd.DataFrame(), "2024-06-01", "2024-06-02") == {"track": [], "before": [], "after": []}


def test_an_alert_without_a_track_is_placed_at_its_centre_and_never_at_zero() -> None:
    ep = {"object_id": "a1b2c3", "registration": "N556BW", "start": "2024-06-01 09:31:00+00:00",
          "end": "2024-06-01 09:59:00+00:00", "lat": 40.62, "lon": -73.83, "radius_m": 900.0, "p_segment": 0.7}  # fmt: skip
    a = alert_view(ep, [])
    assert a["centre"] == [40.62, -73.83] and a["radius_m"] == 900.0 and a["p"] == 0.7
    assert a["context"]["land"] and a["context"]["coast"]  # the map around the centre, offline
    assert a["start_ms"] == int(pd.Timestamp("2024-06-01 09:31:00Z").value // 1_000_000)
    names = [name for name, _url in a["links"]]
    assert names[:3] == ["ADS-B Exchange", "adsb.lol", "airplanes.live"] and "FAA registry" in names and "OpenStreetMap" in names
    for bad in ({"lat": float("nan"), "lon": -73.83}, {"lat": None, "lon": None}, {"lat": "40", "lon": "x"}, {"lat": 0.0, "lon": 999.0}):
        b = alert_view({**ep, **bad}, [])
        assert b["centre"] is None and b["context"] == {"land": [], "coast": [], "borders": []}, bad
        assert "OpenStreetMap" not in [name for name, _url in b["links"]]


@dataclass
class _Alert:
    alert_id: str
    episode: dict[str, Any]


@dataclass
class _Aircraft:
    object_id: str
    pts: pd.DataFrame
    alerts: dict[str, _Alert] = field(default_factory=dict)

    @property
    def pieces(self) -> list[pd.DataFrame]:
        return [self.pts]

    def points(self) -> pd.DataFrame:
        return self.pts


@dataclass
class _Engine:
    aircraft: dict[str, _Aircraft]
    closed: list[dict[str, Any]]
    now_ns: int


def test_snapshot_times_to_the_second_and_alerts_by_probability() -> None:
    def ep(obj: str, p: float) -> dict[str, Any]:
        return {"object_id": obj, "start": "2024-06-01 09:20:00+00:00", "end": "2024-06-01 09:40:00+00:00",
                "lat": 40.03, "lon": -74.0, "p_segment": p}  # fmt: skip

    pts = _points()
    low, high = _Aircraft("aaaaa1", pts, {"x1": _Alert("x1", ep("aaaaa1", 0.3))}), _Aircraft("bbbbb2", pts, {"x2": _Alert("x2", ep("bbbbb2", 0.9))})
    now = pd.Timestamp("2024-06-01 10:00:00.123456789", tz="UTC").value
    snap = snapshot(_Engine({"aaaaa1": low, "bbbbb2": high}, [{**ep("ccccc3", 0.5), "place": "Howard Beach"}], now))
    assert snap["feed_time"] == "2024-06-01T10:00:00Z" and snap["feed_ms"] == now // 1_000_000
    assert [a["alert_id"] for a in snap["alerts"]] == ["x2", "x1"]  # highest probability first
    assert len(snap["alerts"][0]["track"]) == 21 and snap["alerts"][0]["after"]
    row = snap["aircraft"][0]
    assert row["callsign"] is None and row["seen_ms"] == int(pts["time"].iloc[-1].value // 1_000_000) and row["alert"] is True
    assert snap["closed"][0]["place"] == "Howard Beach" and snap["closed"][0]["p"] == 0.5 and "window_ids" not in snap["closed"][0]
    assert snapshot(_Engine({}, [], 0))["feed_ms"] is None
    server.to_json(snap)  # strict JSON


def test_event_stream_says_how_soon_to_reconnect_and_keeps_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "_HEARTBEAT_S", 0.5)
    page = LivePage.start(0)
    try:
        port = page.server.port
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(f"GET /events?token={page.token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            got, deadline = b"", time.monotonic() + 5
            while b"event: alive" not in got and time.monotonic() < deadline:
                got += s.recv(4096)
        assert b"text/event-stream" in got and b"retry: 2000" in got and b"data: {}" in got
        assert b"event: alive\ndata: 1\n\n" in got
    finally:
        page.stop()


def test_page_json_is_strict_and_keeps_numbers() -> None:
    import numpy as np

    data = {"nan": float("nan"), "inf": [np.float64("inf"), 1.5], "f32": np.float32(2.5), "i": np.int64(3), "b": np.bool_(True),
            "t": pd.Timestamp("2024-06-01", tz="UTC"), "nested": {"x": np.float32("nan")}}  # fmt: skip
    assert server.to_json(data) == ('{"nan": null, "inf": [null, 1.5], "f32": 2.5, "i": 3, "b": true, '
                                    '"t": "2024-06-01 00:00:00+00:00", "nested": {"x": null}}')  # fmt: skip
