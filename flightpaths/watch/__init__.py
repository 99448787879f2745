"""Live alerts: score a receiver's feed as it arrives and alert while an aircraft still circles.

- sources (:mod:`.sources`): SBS-1 over TCP, a followed log, polled ``aircraft.json``;
- :class:`LiveSbsParser`: SBS lines -> points with the library's SBS reader, batch by batch;
- :class:`LiveEngine`: windows cut as they complete, scored with the bundle, episodes opened,
  updated and closed exactly as ``flightpaths score`` makes them;
- :mod:`.alerts`, :mod:`.notify`, :mod:`.state`: ``alerts.jsonl``, webhooks and commands, and
  the state file a restart resumes from; :func:`run_watch` ties them together;
- :func:`serve_replay`: a recorded log served as a receiver would, for demos and tests.
"""

from __future__ import annotations

from .alerts import IDENTITY_FIELDS, AlertLog, alert_record, write_closed_episodes
from .engine import AlertEvent, BundleSettings, LiveEngine, bundle_settings
from .notify import CommandNotifier, WebhookNotifier, alert_text, discord_escape, slack_escape, webhook_payload
from .parse import LiveSbsParser
from .replay import iter_replay, serve_replay, shift_line
from .run import WatchResult, run_watch
from .settings import WatchSettings
from .sources import FollowSource, PollSource, TcpSource, parse_hostport
from .state import load_state, save_state

__all__ = [
    "IDENTITY_FIELDS",
    "AlertEvent",
    "AlertLog",
    "BundleSettings",
    "CommandNotifier",
    "FollowSource",
    "LiveEngine",
    "LiveSbsParser",
    "PollSource",
    "TcpSource",
    "WatchResult",
    "WatchSettings",
    "WebhookNotifier",
    "alert_record",
    "alert_text",
    "bundle_settings",
    "discord_escape",
    "iter_replay",
    "load_state",
    "parse_hostport",
    "run_watch",
    "save_state",
    "serve_replay",
    "shift_line",
    "slack_escape",
    "webhook_payload",
    "write_closed_episodes",
]
