"""Where alerts go on disk: an append-only ``alerts.jsonl`` and the closed episodes' files."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from .engine import AlertEvent

__all__ = ["IDENTITY_FIELDS", "AlertLog", "alert_record", "write_closed_episodes"]

#: Episode context columns an alert carries when the episode has them (any may be missing).
IDENTITY_FIELDS: tuple[str, ...] = (
    "registration", "type_code", "type_desc", "operator", "country", "watchlist", "watchlist_note",
    "place", "airport_code", "airport_name", "tz", "local_start", "local_end",
)


def alert_record(event: AlertEvent) -> dict[str, Any]:
    """One JSON object for *event*: what happened, when, and the episode's fields."""
    return {
        "event": event.kind,
        "alert_id": event.alert_id,
        "logged": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "notify": event.notify,
        "feed_time": event.feed_time.isoformat() if event.feed_time is not None else None,
        **{k: v for k, v in event.episode.items() if v is not None},
    }


class AlertLog:
    """Append alert events to ``DIR/alerts.jsonl``, each line flushed and fsync'd."""

    def __init__(self, out_dir: str | Path) -> None:
        self.path = Path(out_dir) / "alerts.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, record: dict[str, Any]) -> None:
        """Append one record and make sure it is on disk."""
        self._fh.write(json.dumps(record, sort_keys=True, default=str, allow_nan=False) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


def write_closed_episodes(episodes: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write closed episodes as ``episodes.csv``, ``.geojson`` and ``.kml`` (the formats of
    ``flightpaths score``), replacing the previous versions atomically."""
    from ..score import write_episodes_csv, write_episodes_geojson, write_episodes_kml

    out = Path(out_dir)
    return [
        write_episodes_csv(episodes, out / "episodes.csv", overwrite=True),
        write_episodes_geojson(episodes, out / "episodes.geojson", overwrite=True),
        write_episodes_kml(episodes, out / "episodes.kml", overwrite=True),
    ]
