"""flightpaths watch: parser, notifiers, sources, state, live page and CLI (fast tests)."""

from __future__ import annotations

import http.client
import json
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from flightpaths.cli import cli
from flightpaths.watch import (
    CommandNotifier,
    FollowSource,
    LiveSbsParser,
    WatchSettings,
    discord_escape,
    parse_hostport,
    slack_escape,
    webhook_payload,
)
from flightpaths.watch.notify import alert_text

POS = "MSG,3,1,1,4CA2D6,1,2024/05/01,12:00:{s:06.3f},2024/05/01,12:00:{s:06.3f},,3000,,,51.5,-0.1,,,0,0,0,0\n"
VEL = "MSG,4,1,1,4CA2D6,1,2024/05/01,12:00:{s:06.3f},2024/05/01,12:00:{s:06.3f},,,140,90,,,-64,,0,0,0,0\n"


def test_parser_joins_a_velocity_that_arrives_in_the_next_batch() -> None:
    parser = LiveSbsParser(hold_s=5.0)
    try:
        parser.feed([POS.format(s=0.0).encode()])
        assert parser.parse().empty  # held back: its velocity may still come
        parser.feed([VEL.format(s=0.5).encode(), POS.format(s=20.0).encode()])
        first = parser.parse()
        assert first[["speed_kt", "track_deg"]].values.tolist() == [[140.0, 90.0]]
        assert first["source_line"].tolist() == [1]
        rest = parser.parse(final=True)
        assert len(rest) == 1 and rest["source_line"].tolist() == [3]
    finally:
        parser.close()


def test_parser_reads_each_line_once_and_counts_each_bad_line_once() -> None:
    parser = LiveSbsParser(hold_s=5.0)
    parser.feed([POS.format(s=0.0).encode(), b"MSG,3,garbage\n", VEL.format(s=0.5).encode()])
    assert parser.parse().empty
    for s in (1.0, 2.0, 3.0):  # the held-back seconds are not parsed again with each batch
        parser.feed([POS.format(s=s).encode()])
        assert parser.parse().empty
    parser.feed([POS.format(s=30.0).encode()])
    out = parser.parse()
    assert out["source_line"].tolist() == [1, 4, 5, 6]
    assert out["speed_kt"].tolist()[:1] == [140.0]
    assert sum(parser.dropped.values()) == 1
    rest = parser.parse_columns(final=True)
    assert rest is not None and rest["source_line"].tolist() == [7]


def test_parser_drops_and_counts_positions_that_come_too_late() -> None:
    parser = LiveSbsParser(hold_s=1.0)
    parser.feed([POS.format(s=0.0).encode(), POS.format(s=20.0).encode()])
    assert parser.parse()["source_line"].tolist() == [1]
    parser.feed([POS.format(s=5.0).encode()])  # older than what was given out already
    assert parser.parse(final=True)["source_line"].tolist() == [2]
    assert parser.late == 1


def test_parser_blanks_absurd_numbers_as_the_batch_reader_does(tmp_path: Path) -> None:
    from flightpaths.ingest import read_logs

    lines = [POS.format(s=0.0).replace(",3000,", ",1e300,"), VEL.format(s=0.5).replace(",140,", ",inf,"), POS.format(s=10.0)]
    log = tmp_path / "absurd.sbs"
    log.write_text("".join(lines))
    batch = read_logs([log]).points
    parser = LiveSbsParser(hold_s=1.0)
    try:
        parser.feed([line.encode() for line in lines])
        live = parser.parse(final=True)
    finally:
        parser.close()
    assert live["altitude_ft"].isna().tolist() == batch["altitude_ft"].isna().tolist() == [True, False]
    assert live["speed_kt"].isna().tolist() == batch["speed_kt"].isna().tolist()
    assert live["speed_kt"].isna().iloc[0]  # an infinite speed is blanked, the row kept


def test_parser_counts_malformed_lines_and_keeps_the_good_ones() -> None:
    parser = LiveSbsParser(hold_s=1.0)
    try:
        parser.feed([POS.format(s=0.0).encode(), b"MSG,3,garbage\n", b"\x00\xff not sbs\n", POS.format(s=10.0).encode()])
        points = parser.parse(final=True)
        assert len(points) == 2
        assert sum(parser.dropped.values()) >= 1
    finally:
        parser.close()


def test_escapes_for_each_chat() -> None:
    assert slack_escape("<!channel> & <b>") == "&lt;!channel&gt; &amp; &lt;b&gt;"
    text = discord_escape("@everyone **bold** <@123>")
    assert "@everyone" not in text and "@\u200beveryone" in text and "\\*\\*bold\\*\\*" in text
    payload = webhook_payload({"event": "opened", "callsign": "<!here> @everyone", "object_id": "abc123",
                               "start": "t0", "end": "t1", "p_segment": 0.9, "lat": 40.0, "lon": -74.0})
    assert "<!here>" not in payload["text"] and "&lt;!here&gt;" in payload["text"]
    assert "@everyone" not in payload["content"]
    assert payload["allowed_mentions"] == {"parse": []}
    json.dumps(payload)


def test_alert_text_names_the_behaviour_and_escapes_it() -> None:
    record = {"event": "opened", "callsign": "NYPD2", "object_id": "a1b2c3", "start": "t0", "end": "t1",
              "p_segment": 0.9, "place": "Midtown", "behaviour": "hover <!here>"}
    assert "possible circling: NYPD2 a1b2c3 [looks like hover <!here>] near Midtown" in alert_text(record)
    assert "[looks like hover &lt;!here&gt;]" in webhook_payload(record)["text"]
    assert "looks like" not in alert_text({**record, "behaviour": None})


def test_on_alert_runs_without_a_shell_and_passes_fields_in_the_environment(tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    script = tmp_path / "hook.py"
    script.write_text("import json, os, sys\n"
                      "json.dump({k: v for k, v in os.environ.items() if k.startswith('FLIGHTPATHS_')}, open(sys.argv[1], 'w'))\n")
    notifier = CommandNotifier(f"{sys.executable} {script} {out}")
    evil = "$(touch PWNED); `touch PWNED2` && echo"
    assert notifier.send({"event": "opened", "alert_id": "a1", "callsign": evil, "object_id": "abc123", "p_segment": 0.5})
    env = json.loads(out.read_text())
    assert env["FLIGHTPATHS_CALLSIGN"] == evil
    assert env["FLIGHTPATHS_ALERT_ID"] == "a1" and env["FLIGHTPATHS_EVENT"] == "opened"
    assert not list(tmp_path.glob("PWNED*")) and not Path("PWNED").exists()


def test_on_alert_that_hangs_is_stopped(tmp_path: Path) -> None:
    notifier = CommandNotifier([sys.executable, "-c", "import time; time.sleep(30)"], timeout_s=0.5)
    t0 = time.monotonic()
    assert notifier.send({"event": "opened"}) is False
    assert time.monotonic() - t0 < 10


def test_follow_survives_rotation(tmp_path: Path) -> None:
    log = tmp_path / "feed.sbs"
    log.write_bytes(b"old line\n")
    src = FollowSource(log)
    try:
        assert src.read(0.2) == []  # starts at the end, as tail -F
        with open(log, "ab") as fh:
            fh.write(b"one\ntw")
        assert src.read(0.3) == [b"one\n"]
        log.rename(tmp_path / "feed.sbs.1")
        log.write_bytes(b"three\n")
        got = src.read(0.5)
        assert got == [b"three\n"]
    finally:
        src.close()


def test_hostport_and_settings_are_checked() -> None:
    assert parse_hostport("localhost:30003") == ("localhost", 30003)
    for bad in ("30003", "host:", "host:99999", "host:abc"):
        with pytest.raises(ValueError):
            parse_hostport(bad)
    with pytest.raises(ValueError):
        WatchSettings(alert_p=2.0)


def test_watch_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(cli, ["watch", "-o", str(tmp_path / "a")])
    assert r.exit_code == 2 and "exactly one of" in r.output
    r = runner.invoke(cli, ["watch", "--connect", "nohost", "-o", str(tmp_path / "a")])
    assert r.exit_code == 2 and "HOST:PORT" in r.output
    r = runner.invoke(cli, ["watch", "--connect", "127.0.0.1:1", "--follow", "x", "-o", str(tmp_path / "a")])
    assert r.exit_code == 2


def test_an_alert_says_where_and_when_as_score_does() -> None:
    from flightpaths.watch.run import add_alert_context

    episode = {"episode_id": "a1_x", "object_id": "a1b2c3", "lat": 40.758, "lon": -73.985, "callsign": "N917PD",
               "start": "2024-06-01T14:00:00+00:00", "end": "2024-06-01T14:20:00+00:00"}
    out = add_alert_context(dict(episode))
    assert "New York" in out["place"] and out["tz"] == "America/New_York"
    assert out["local_start"].startswith("2024-06-01T10:00:00-04:00") and out["airport_code"]
    assert out["country"] == "United States"
    json.dumps(out)  # plain values: the alert log and webhooks take them as they are
    assert add_alert_context({"object_id": "x", "lat": None, "lon": None}) == {"object_id": "x", "lat": None, "lon": None}


def test_sigterm_stops_watch_cleanly(tmp_path: Path) -> None:
    """A service manager's stop: exit 0, the summary printed, the state file saved, no traceback."""
    import signal
    import subprocess
    import sys
    import time

    feed = tmp_path / "feed.sbs"
    feed.write_bytes(b"")
    cmd = [sys.executable, "-c", "from flightpaths.cli import main; main()", "watch", "--follow", str(feed), "-o", str(tmp_path / "out")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "out").is_dir() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err and out.strip()
    assert (tmp_path / "out" / "watch-state.json").is_file()


def _get(port: int, path: str, host: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path, headers={"Host": host or f"127.0.0.1:{port}"})
    resp = conn.getresponse()
    return resp.status, resp.read()


def test_live_page_needs_token_and_host(tmp_path: Path) -> None:
    from flightpaths.watch.server import LivePage

    page = LivePage.start(0)
    try:
        port = page.port_ref[0]
        assert port
        assert _get(port, f"/?token={page.token}")[0] == 200
        assert _get(port, "/")[0] == 403
        assert _get(port, f"/?token={page.token}", host="evil.example:80")[0] == 403
        page.state["data"] = {"alerts": [{"callsign": "<script>alert(1)</script>"}]}
        status, body = _get(port, f"/state?token={page.token}")
        assert status == 200 and json.loads(body)["alerts"][0]["callsign"] == "<script>alert(1)</script>"
        status, body = _get(port, f"/static/live.js?token={page.token}")
        assert b"textContent" in body and b"innerHTML" not in body  # the page never parses data as HTML
    finally:
        page.stop()


def test_live_page_answers_malformed_requests_with_4xx_and_no_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    import socket

    from flightpaths.watch.server import LivePage

    page = LivePage.start(0)
    try:
        port = page.port_ref[0]
        for raw in (f"POST /state?token={page.token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: abc\r\n\r\n",
                    "GARBAGE\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(raw.encode())
                answer = s.recv(200).decode("latin-1")
            assert answer.startswith("HTTP/1.1 4"), answer
    finally:
        page.stop()
    err = capfd.readouterr().err
    assert "Traceback" not in err
