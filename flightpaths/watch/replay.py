"""Serve a recorded SBS log on 127.0.0.1 as a receiver would (port 30003 style).

Times are shifted so that the log's first time is *start* (default: now), and lines are sent
at *speed* times real time. Each client that connects gets the stream from the point the
playback has reached (as a receiver's clients do).
"""

from __future__ import annotations

import gzip
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

__all__ = ["iter_replay", "serve_replay", "shift_line"]

log = logging.getLogger(__name__)

_FMT = "%Y/%m/%d%H:%M:%S.%f"


def _line_time(fields: list[bytes]) -> datetime | None:
    """The time of a (date, time) pair of SBS fields, or None."""
    try:
        return datetime.strptime((fields[0] + fields[1]).decode("ascii"), _FMT)
    except (IndexError, ValueError, UnicodeDecodeError):
        return None


def shift_line(line: bytes, shift: timedelta) -> bytes:
    """*line* with its generated and logged date/time fields moved by *shift* (others as they are).

    >>> shift_line(b"MSG,3,1,1,ABC123,1,2024/06/01,08:00:00.000,2024/06/01,08:00:00.000,,1000\\n", timedelta(hours=1))
    b'MSG,3,1,1,ABC123,1,2024/06/01,09:00:00.000,2024/06/01,09:00:00.000,,1000\\n'
    """
    fields = line.split(b",")
    for i in (6, 8):
        if len(fields) > i + 1:
            t = _line_time(fields[i:i + 2])
            if t is not None:
                u = t + shift
                fields[i] = u.strftime("%Y/%m/%d").encode()
                fields[i + 1] = u.strftime("%H:%M:%S.%f")[:-3].encode()
    return b",".join(fields)


def _open(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rb") if gz else open(path, "rb")) as fh:  # noqa: SIM115
        yield from fh


def iter_replay(path: str | Path, *, speed: float = 1.0, start: datetime | None = None,
                sleep: bool = True) -> Iterator[bytes]:
    """The lines of *path*, times shifted so the first is *start* (naive UTC; default now), paced at *speed*."""
    t0: datetime | None = None
    shift = timedelta(0)
    wall0 = time.monotonic()
    for line in _open(Path(path)):
        t = _line_time(line.split(b",")[6:8])
        if t is not None and t0 is None:
            t0 = t
            base = start if start is not None else datetime.now(timezone.utc).replace(tzinfo=None)
            shift = base - t0
        if t is not None and t0 is not None and sleep:
            due = wall0 + (t - t0).total_seconds() / speed
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        yield shift_line(line, shift) if t0 is not None else line


def serve_replay(path: str | Path, port: int, *, speed: float = 1.0, start: datetime | None = None,
                 stop: threading.Event | None = None, host: str = "127.0.0.1", wait_s: float = 0.0) -> int:
    """Serve the replay on *host*:*port* until the log ends or *stop* is set; lines sent.

    With *wait_s*, playback starts when the first client connects (or after *wait_s* seconds).
    """
    stop = stop or threading.Event()
    clients: list[socket.socket] = []
    lock = threading.Lock()
    server = socket.create_server((host, port), reuse_port=False)
    server.settimeout(0.2)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, addr = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            log.info("replay: client %s:%d connected", *addr[:2])
            with lock:
                clients.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    waited = time.monotonic() + wait_s
    while not clients and time.monotonic() < waited and not stop.is_set():
        time.sleep(0.02)
    sent = 0
    batch: list[bytes] = []
    last = time.monotonic()
    try:
        for line in iter_replay(path, speed=speed, start=start):
            if stop.is_set():
                break
            batch.append(line)
            if time.monotonic() - last < 0.05 and len(batch) < 5000:
                continue
            sent += _send(b"".join(batch), clients, lock)
            batch, last = [], time.monotonic()
        if batch and not stop.is_set():
            sent += _send(b"".join(batch), clients, lock)
    finally:
        stop.set()
        server.close()
        with lock:
            for c in clients:
                c.close()
    return sent


def _send(data: bytes, clients: list[socket.socket], lock: threading.Lock) -> int:
    with lock:
        for c in list(clients):
            try:
                c.sendall(data)
            except OSError:
                clients.remove(c)
                c.close()
        return data.count(b"\n") if clients else 0
