"""Live inputs: SBS-1 over TCP (port 30003), a growing log followed like ``tail -F``, and
readsb/tar1090 ``aircraft.json`` polled from a URL or a file.

Each source has ``read(timeout_s)``: the SBS lines (bytes) that arrived within about
*timeout_s* seconds, or a points frame (polled JSON). A dropped TCP feed is reconnected with
backoff, and the gap is logged; a rotated log is reopened.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import BinaryIO

import pandas as pd

__all__ = ["FollowSource", "PollSource", "TcpSource", "parse_hostport"]

log = logging.getLogger(__name__)


def parse_hostport(text: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port).

    >>> parse_hostport("127.0.0.1:30003")
    ('127.0.0.1', 30003)
    """
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:30003)")
    return host.strip("[]"), int(port)


class _Lines:
    """Cut a byte stream into whole lines, keeping the unfinished last one."""

    def __init__(self) -> None:
        self.rest = b""

    def push(self, data: bytes) -> list[bytes]:
        data = self.rest + data
        cut = data.rfind(b"\n")
        if cut < 0:
            self.rest = data[-1 << 16:]
            return []
        self.rest = data[cut + 1:]
        return data[: cut + 1].splitlines(keepends=True)


class TcpSource:
    """SBS-1 lines from a TCP feed (readsb/dump1090 ``--net-sbs-port``, 30003), reconnecting with backoff."""

    name: str

    def __init__(self, host: str, port: int, *, max_backoff_s: float = 30.0) -> None:
        self.host, self.port = host, port
        self.name = f"tcp:{host}:{port}"
        self.sock: socket.socket | None = None
        self.lines = _Lines()
        self.backoff = 0.5
        self.max_backoff_s = max_backoff_s
        self.down_since: float | None = None
        self.next_try = 0.0
        self.reconnects = 0

    def _connect(self) -> bool:
        now = time.monotonic()
        if now < self.next_try:
            return False
        try:
            self.sock = socket.create_connection((self.host, self.port), timeout=5.0)
        except OSError as exc:
            if self.down_since is None:
                self.down_since = now
                log.warning("%s: cannot connect (%s); retrying with backoff", self.name, exc)
            self.next_try = now + self.backoff
            self.backoff = min(self.backoff * 2, self.max_backoff_s)
            return False
        if self.down_since is not None:
            log.warning("%s: reconnected after a gap of %.1f s", self.name, now - self.down_since)
            self.reconnects += 1
        else:
            log.info("%s: connected", self.name)
        self.down_since, self.backoff, self.lines = None, 0.5, _Lines()
        return True

    def _lost(self, why: str) -> None:
        log.warning("%s: feed dropped (%s); reconnecting", self.name, why)
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.down_since = time.monotonic()
        self.next_try = 0.0

    def read(self, timeout_s: float) -> list[bytes]:
        """Lines that arrived within about *timeout_s* seconds."""
        end = time.monotonic() + timeout_s
        out: list[bytes] = []
        while time.monotonic() < end:
            if self.sock is None and not self._connect():
                time.sleep(min(0.1, max(0.0, end - time.monotonic())))
                continue
            assert self.sock is not None
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                data = self.sock.recv(1 << 16)
            except TimeoutError:
                break
            except OSError as exc:
                self._lost(str(exc))
                continue
            if not data:
                self._lost("closed by the other end")
                continue
            out += self.lines.push(data)
        return out

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


class FollowSource:
    """Lines appended to a log file, like ``tail -F``: starts at its end (or start), survives rotation."""

    def __init__(self, path: str | Path, *, from_start: bool = False) -> None:
        self.path = Path(path)
        self.name = str(path)
        self.fh: BinaryIO | None = None
        self.inode: int | None = None
        self.lines = _Lines()
        self.from_start = from_start

    def _open(self) -> bool:
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - closed on rotation or close()
        except OSError:
            return False
        st = os.fstat(fh.fileno())
        if self.fh is not None:
            self.fh.close()
            log.warning("%s: reopened (rotated or replaced)", self.name)
        elif not self.from_start:
            fh.seek(0, os.SEEK_END)
        self.fh, self.inode, self.lines = fh, st.st_ino, _Lines()
        return True

    def read(self, timeout_s: float) -> list[bytes]:
        end = time.monotonic() + timeout_s
        out: list[bytes] = []
        while True:
            if self.fh is None and not self._open():
                time.sleep(min(0.2, max(0.0, end - time.monotonic())))
            elif self.fh is not None:
                data = self.fh.read(1 << 20)
                if data:
                    out += self.lines.push(data)
                    continue
                try:
                    st = os.stat(self.path)
                    if st.st_ino != self.inode or st.st_size < self.fh.tell():
                        self.fh.close()
                        self.fh = None
                        self.from_start = True
                        self._open()
                        continue
                except OSError:
                    pass
                if time.monotonic() >= end:
                    break
                time.sleep(min(0.1, max(0.0, end - time.monotonic())))
            if time.monotonic() >= end:
                break
        return out

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


class PollSource:
    """readsb/tar1090 ``aircraft.json`` read every *every_s* seconds from a URL or a file path."""

    def __init__(self, where: str, *, every_s: float = 5.0, tz: str = "UTC") -> None:
        self.where = where
        self.name = where
        self.every_s = every_s
        self.tz = tz
        self.next_at = 0.0
        self.failures = 0
        self._dir = tempfile.TemporaryDirectory(prefix="flightpaths-poll-")

    def _fetch(self) -> bytes:
        if self.where.startswith(("http://", "https://")):
            with urllib.request.urlopen(self.where, timeout=10) as resp:  # noqa: S310 - http(s) only
                body: bytes = resp.read()
                return body
        return Path(self.where).read_bytes()

    def read(self, timeout_s: float) -> pd.DataFrame:
        """The points of one snapshot when one is due (else waits up to *timeout_s*; may be empty)."""
        from ..ingest import IngestSettings, read_logs

        wait = self.next_at - time.monotonic()
        if wait > 0:
            time.sleep(min(wait, timeout_s))
            if self.next_at - time.monotonic() > 0:
                return pd.DataFrame()
        self.next_at = time.monotonic() + self.every_s
        try:
            data = self._fetch()
        except OSError as exc:
            self.failures += 1
            log.warning("%s: cannot read (%s); trying again in %.0f s", self.where, exc, self.every_s)
            return pd.DataFrame()
        path = Path(self._dir.name) / "aircraft.json"
        path.write_bytes(data)
        try:
            return read_logs([path], settings=IngestSettings(fmt="aircraft-json", tz=self.tz)).points
        except Exception as exc:  # noqa: BLE001 - one bad snapshot is counted, never fatal
            self.failures += 1
            log.warning("%s: snapshot not readable (%s)", self.where, exc)
            return pd.DataFrame()

    def close(self) -> None:
        self._dir.cleanup()
