"""Optional notifications: a chat webhook (Slack, Mattermost, Discord) and a local command.

Everything an alert says is escaped for its channel: Slack and Mattermost read ``&``, ``<``
and ``>`` as markup (``<!channel>``, links), Discord reads markdown and ``@everyone``. The
command runs without a shell, its arguments split once at start, the alert's fields passed
as ``FLIGHTPATHS_*`` environment variables, with a time limit.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import subprocess
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["CommandNotifier", "WebhookNotifier", "alert_text", "discord_escape", "slack_escape", "webhook_payload"]

log = logging.getLogger(__name__)

_MD = re.compile(r"([\\*_~`|>#\[\]()-])")


def slack_escape(text: str) -> str:
    """Text safe in a Slack/Mattermost message: ``&``, ``<``, ``>`` as entities.

    >>> slack_escape("<!channel> & <http://x|y>")
    '&lt;!channel&gt; &amp; &lt;http://x|y&gt;'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def discord_escape(text: str) -> str:
    """Text safe in a Discord message: markdown escaped, mentions broken with a zero-width space.

    >>> discord_escape("@everyone *hi*")
    '@\\u200beveryone \\\\*hi\\\\*'
    """
    return _MD.sub(r"\\\1", text).replace("@", "@\u200b")


def alert_text(record: Mapping[str, Any]) -> str:
    """One plain line about an alert (not yet escaped)."""
    who = " ".join(str(record[k]) for k in ("callsign", "registration", "object_id") if record.get(k))
    what = {"opened": "possible circling", "updated": "still possibly circling", "closed": "possible circling ended"}
    p = record.get("p_segment") if record.get("p_segment") is not None else record.get("peak_p")
    where = record.get("place") or (f"{record['lat']:.4f}, {record['lon']:.4f}" if record.get("lat") is not None else "")
    extra = ", ".join(str(record[k]) for k in ("type_code", "operator") if record.get(k))
    parts = [f"{what.get(str(record.get('event')), record.get('event'))}: {who}"]
    if extra:
        parts.append(f"({extra})")
    if record.get("behaviour"):
        parts.append(f"[looks like {record['behaviour']}]")
    if where:
        parts.append(f"near {where}")
    parts.append(f"from {record.get('start')} to {record.get('end')}")
    if p is not None:
        parts.append(f"p={float(p):.2f}")
    return " ".join(parts)


def webhook_payload(record: Mapping[str, Any]) -> dict[str, Any]:
    """JSON for Slack/Mattermost (``text``) and Discord (``content``), each escaped for its reader."""
    text = alert_text(record)
    return {"text": slack_escape(text), "content": discord_escape(text), "allowed_mentions": {"parse": []}}


class WebhookNotifier:
    """POST each alert to a webhook URL (time-limited; failures are logged, never fatal)."""

    def __init__(self, url: str, *, timeout_s: float = 5.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must start with http:// or https://, got {url!r}")
        self.url = url
        self.timeout_s = timeout_s

    def send(self, record: Mapping[str, Any]) -> bool:
        body = json.dumps(webhook_payload(record)).encode("utf-8")
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310 - http(s) checked above
                return bool(200 <= resp.status < 300)
        except OSError as exc:
            log.warning("webhook: could not post alert %s (%s)", record.get("alert_id"), exc)
            return False


def _env_name(key: str) -> str:
    return "FLIGHTPATHS_" + re.sub(r"[^A-Z0-9]+", "_", key.upper())


class CommandNotifier:
    """Run a command for each alert: no shell; fields as ``FLIGHTPATHS_*`` environment variables."""

    def __init__(self, command: str | Sequence[str], *, timeout_s: float = 30.0) -> None:
        self.argv = shlex.split(command) if isinstance(command, str) else list(command)
        if not self.argv:
            raise ValueError("--on-alert needs a command")
        self.timeout_s = timeout_s

    def environment(self, record: Mapping[str, Any]) -> dict[str, str]:
        env = dict(os.environ)
        for key, value in record.items():
            if value is not None:
                env[_env_name(str(key))] = str(value).replace("\x00", "")
        env["FLIGHTPATHS_TEXT"] = alert_text(record)
        return env

    def send(self, record: Mapping[str, Any]) -> bool:
        try:
            done = subprocess.run(self.argv, env=self.environment(record), timeout=self.timeout_s,  # noqa: S603
                                  stdin=subprocess.DEVNULL, capture_output=True, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("--on-alert: %s failed for alert %s (%s)", self.argv[0], record.get("alert_id"), exc)
            return False
        if done.returncode != 0:
            log.warning("--on-alert: %s exited %d for alert %s", self.argv[0], done.returncode, record.get("alert_id"))
        return done.returncode == 0
