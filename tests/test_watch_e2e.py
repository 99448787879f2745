"""flightpaths watch end to end: live = batch on the simulated score day, alerts on time, a
feed that drops and comes back over loopback, a webhook receiver, and a restart that resumes."""

from __future__ import annotations

import gzip
import http.server
import json
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flightpaths.score import ScoreSettings, score_logs
from flightpaths.train.predict import load_bundle
from flightpaths.watch import (
    FollowSource,
    LiveEngine,
    LiveSbsParser,
    TcpSource,
    WatchSettings,
    WebhookNotifier,
    run_watch,
    serve_replay,
    shift_line,
)

REPO = Path(__file__).resolve().parents[1]
SIM = REPO / "data" / "sim" / "score"
MODEL = REPO / "flightpaths" / "models" / "default"
#: aircraft of the simulated score day with hard circling intervals (a sparse wide orbit, a partial orbit)
SUBSET = ("a6218f", "a4ec81")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle():  # noqa: ANN201
    return load_bundle(MODEL)


def _lines(objects: tuple[str, ...], until: str | None = None) -> list[bytes]:
    keep = tuple(o.upper().encode() for o in objects)
    out = []
    for line in gzip.open(SIM / "sim.sbs.gz", "rb").read().splitlines(keepends=True):
        if line.split(b",")[4].upper() in keep if line.count(b",") > 4 else False:
            if until is not None and line.split(b",")[7].decode() > until:
                break
            out.append(line)
    return out


def _live(bundle, lines: list[bytes], tick_s: int = 15) -> tuple[LiveEngine, list]:  # noqa: ANN001
    """Feed *lines* to the engine *tick_s* seconds of feed time at a time (as a receiver's stream)."""
    engine = LiveEngine(bundle, WatchSettings(), keep_windows=True)
    parser = LiveSbsParser(name="feed")
    events = []

    def tick_of(line: bytes) -> int:
        hh, mm, ss = line.split(b",")[7].split(b":")
        return (int(hh) * 3600 + int(mm) * 60 + int(float(ss))) // tick_s

    try:
        batch: list[bytes] = []
        for line in lines:
            if batch and tick_of(line) != tick_of(batch[-1]):
                parser.feed(batch)
                engine.add_points(parser.parse())
                events += engine.step()
                batch = []
            batch.append(line)
        parser.feed(batch)
        engine.add_points(parser.parse(final=True))
        events += engine.step() + engine.finish()
    finally:
        parser.close()
    return engine, events


def test_live_windows_and_episodes_equal_batch_and_alerts_come_on_time(bundle, tmp_path: Path) -> None:  # noqa: ANN001
    lines = _lines(SUBSET)
    log = tmp_path / "subset.sbs"
    log.write_bytes(b"".join(lines))
    batch = score_logs([log], tmp_path / "batch", bundle, ScoreSettings(workers=1, progress=False))
    assert batch.n_episodes > 5
    bw = pd.read_parquet(tmp_path / "batch" / "windows.parquet")
    be = pd.read_csv(tmp_path / "batch" / "episodes.csv")
    engine, events = _live(bundle, lines)
    lw = pd.concat(engine.scored, ignore_index=True)
    # the same windows, the same probabilities
    assert sorted(lw["window_id"]) == sorted(bw["window_id"])
    m = bw.merge(lw, on="window_id", suffixes=("_b", "_l"))
    assert (m["n_points_b"] == m["n_points_l"]).all()
    np.testing.assert_allclose(m["p_circling_l"], m["p_circling_b"], atol=1e-5)
    # the closed episodes are batch score's
    le = engine.closed_episodes()
    assert sorted(le["episode_id"]) == sorted(be["episode_id"])
    e = be.merge(le, on="episode_id", suffixes=("_b", "_l"))
    assert (e["window_ids_b"] == e["window_ids_l"]).all()
    np.testing.assert_allclose(e["p_segment_l"], e["p_segment_b"], atol=1e-4)
    # and name the same behaviour; every alert carries one
    assert (e["behaviour_l"].astype(str) == e["behaviour_b"].astype(str)).all()
    assert (e["behaviours_l"].fillna("").astype(str) == e["behaviours_b"].fillna("").astype(str)).all()
    assert all(ev.episode.get("behaviour") for ev in events if ev.kind == "opened")
    # no duplicate alerts: one "opened" per alert id, at most one "closed"
    opened = [ev for ev in events if ev.kind == "opened"]
    assert len({ev.alert_id for ev in opened}) == len(opened)
    closed = [ev.alert_id for ev in events if ev.kind == "closed"]
    assert len(set(closed)) == len(closed) and set(closed) <= {ev.alert_id for ev in opened}
    # every circling interval of 5 minutes or more is alerted, within one window step of the
    # moment its first positive window was complete (what batch scoring could first see)
    truth = pd.read_csv(SIM / "truth.csv", parse_dates=["start", "end"])
    truth = truth[truth["circling"] & truth["object_id"].isin(SUBSET)
                  & ((truth["end"] - truth["start"]).dt.total_seconds() >= 300)]
    assert len(truth) >= 4
    step = min(s for _, s in engine.lengths)
    visible = _first_visible(bw, engine, truth)
    for (_, iv), could in zip(truth.iterrows(), visible):
        # an alert covers the interval once its episode (as opened or updated) overlaps it
        mine = [ev for ev in events if ev.kind in ("opened", "updated") and ev.episode["object_id"] == iv["object_id"]
                and pd.Timestamp(ev.episode["start"]) < iv["end"] and pd.Timestamp(ev.episode["end"]) > iv["start"]]
        assert mine, f"circling of {iv['object_id']} from {iv['start']} not alerted"
        late = (min(ev.feed_time for ev in mine) - could).total_seconds()
        assert late <= step, f"alert for {iv['object_id']} at {iv['start']}: {late:.0f} s after batch could see it"


def _first_visible(windows: pd.DataFrame, engine: LiveEngine, truth: pd.DataFrame) -> list[pd.Timestamp]:
    """For each truth interval, the first time batch scoring of the log up to then would give an
    episode overlapping it that reaches the alert probability (from batch's own windows: a
    window is known once the log reaches its nominal end)."""
    from flightpaths.score import add_segment_probability, merge_episodes

    nominal = pd.to_datetime(windows["window_id"].str.extract(r"_(\d{8}T\d{6})_[^_]*$")[0], format="%Y%m%dT%H%M%S", utc=True)
    windows = windows.assign(known=nominal + pd.to_timedelta(windows["window_s"], unit="s"))
    out = []
    for _, iv in truth.iterrows():
        mine = windows[windows["object_id"] == iv["object_id"]]
        found = None
        for t in sorted(mine["known"].unique()):
            seen = mine[mine["known"] <= t]
            eps = merge_episodes(seen, threshold=engine.settings.threshold, classes=engine.ep_classes)
            if len(eps):
                eps = add_segment_probability(eps, seen, engine.aggregator, positive_class=engine.positive)
            hit = eps[(eps["start"] < iv["end"]) & (eps["end"] > iv["start"]) & (eps["p_segment"] >= engine.settings.alert_p)]
            if len(hit):
                found = pd.Timestamp(t)
                break
        assert found is not None, f"batch never alerts {iv['object_id']} at {iv['start']}"
        out.append(found)
    return out


class _Counting(TcpSource):
    """The TCP source, telling when it has read *expect* lines."""

    def __init__(self, host: str, port: int, expect: int) -> None:
        super().__init__(host, port)
        self.expect, self.got, self.all_read = expect, 0, threading.Event()

    def read(self, timeout_s: float) -> list[bytes]:
        lines = super().read(timeout_s)
        self.got += len(lines)
        if self.got >= self.expect:
            self.all_read.set()
        return lines


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802
        n = int(self.headers.get("Content-Length", "0"))
        type(self).bodies.append(self.rfile.read(n))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_feed_dropped_and_back_over_loopback_with_webhook_and_restart(bundle, tmp_path: Path) -> None:  # noqa: ANN001
    lines = _lines(("a4e201",), until="08:40:00.000")  # circles from 08:12; one position a minute
    assert len(lines) > 50
    cut = len(lines) // 2
    first, second = tmp_path / "a.sbs", tmp_path / "b.sbs"
    first.write_bytes(b"".join(lines[:cut]))
    second.write_bytes(b"".join(lines[cut:]))
    t = [datetime.strptime((ln.split(b",")[6] + ln.split(b",")[7]).decode(), "%Y/%m/%d%H:%M:%S.%f") for ln in (lines[0], lines[cut])]
    start = datetime(2030, 1, 1, 0, 0, 0)
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    sock = __import__("socket").socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    sent = []

    def feed() -> None:
        sent.append(serve_replay(first, port, speed=600, start=start, wait_s=120))
        import time

        time.sleep(1.5)  # the feed is down
        sent.append(serve_replay(second, port, speed=600, start=start + (t[1] - t[0]), wait_s=120))

    out = tmp_path / "alerts"
    player = threading.Thread(target=feed)
    player.start()
    stop = threading.Event()
    # stop once the watch has read every line (however slow this machine is today)
    source = _Counting("127.0.0.1", port, len(lines))

    def finish() -> None:
        player.join()
        source.all_read.wait(timeout=300)
        __import__("time").sleep(0.5)
        stop.set()

    done = threading.Thread(target=finish)
    done.start()
    try:
        result = run_watch(source, bundle, out, WatchSettings(tick_s=0.2), duration_s=600,
                           notifiers=[WebhookNotifier(f"http://127.0.0.1:{hook.server_address[1]}/hook")], stop=stop)
    finally:
        done.join()
        hook.shutdown()
    assert result.lines == sum(sent) == len(lines)  # nothing lost after the reconnect
    records = [json.loads(x) for x in (out / "alerts.jsonl").read_text().splitlines()]
    assert any(r["event"] == "opened" and r["object_id"] == "a4e201" for r in records)
    assert _Receiver.bodies
    for body in _Receiver.bodies:
        payload = json.loads(body)
        assert payload["text"] and payload["content"]
    # a restart on the same output folder resumes without repeating alerts
    log = tmp_path / "all.sbs"  # the same feed again: the same lines, the same shifted times
    log.write_bytes(b"".join(shift_line(ln, start - t[0]) for ln in lines))
    again = run_watch(FollowSource(log, from_start=True), bundle, out, WatchSettings(tick_s=0.2), duration_s=8)
    assert again.alerts == 0
    episodes = pd.read_csv(out / "episodes.csv")
    assert len(episodes) and episodes["episode_id"].is_unique


def _turn_scores(windows: pd.DataFrame) -> pd.DataFrame:
    """A stand-in for the CNN (no drawing): a turn rule."""
    p = np.clip(np.abs(windows["net_turn_rev"].to_numpy(float)) / 2.0, 0, 1)
    return windows.assign(p_circling=p, p_straight=1 - p, render_status="ok")


def test_engine_holds_about_an_hour_of_a_long_track_and_cuts_what_one_pass_cuts(bundle) -> None:  # noqa: ANN001
    from flightpaths.simulate import SimSettings, sbs_lines, simulate
    from flightpaths.tracks import make_windows, split_tracks
    from flightpaths.watch.parse import points_frame

    sim = simulate(SimSettings(seed=4, aircraft=2, hours=4.0, sparse_share=0.0, gap_per_hour=0.0))
    lines = [(ln + "\n").encode() for ln in sbs_lines(sim.points)[0]]
    engine = LiveEngine(bundle, WatchSettings(), keep_windows=True, score_fn=_turn_scores)
    parser = LiveSbsParser(name="feed")
    given, held_s = [], []
    minute = [line.split(b",")[7][:5] for line in lines]  # HH:MM
    cuts = [i for i in range(1, len(lines)) if minute[i] != minute[i - 1]]
    for lo, hi in zip([0, *cuts], [*cuts, len(lines)]):
        parser.feed(lines[lo:hi])
        cols = parser.parse_columns(final=hi == len(lines))
        if cols is not None:
            given.append(cols)
        engine.add_columns(cols)
        engine.step()
        spans = [np.ptp(a.arrays()["time"]) / 1e9 for a in engine.aircraft.values() if a.pieces]
        held_s.append(max(spans, default=0.0))
    engine.finish()
    # one pass over every point (as `score`, which keeps the fuller of two windows with the same first point)
    tracked = split_tracks(points_frame(given), engine.track_settings)[0]
    batch = make_windows(tracked, engine.window_settings).sort_values("n_points", ascending=False, kind="stable")
    batch = batch.drop_duplicates(["object_id", "start", "window_s"])
    live = pd.concat(engine.scored, ignore_index=True)
    assert sorted(zip(live["window_id"], live["n_points"])) == sorted(zip(batch["window_id"], batch["n_points"]))
    longest = max(w for w, _ in engine.lengths)
    track_s = tracked.groupby("track_id", observed=True)["time"].agg(lambda t: (t.max() - t.min()).total_seconds())
    assert track_s.max() > 2 * 3600  # a track far longer than what is held
    # held: a window length of context, the longest window and a step waiting, and the grid's slack
    assert max(held_s) <= 3 * longest + engine.grid_ms / 1000
