"""The state file that lets a restarted ``watch`` go on without repeating alerts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import FlightpathsError
from ..fileio import atomic_write_text

__all__ = ["STATE_NAME", "load_state", "save_state"]

STATE_NAME = "watch-state.json"


def load_state(out_dir: str | Path) -> dict[str, Any]:
    """The saved state (alert ids opened and closed, closed episodes), or an empty one."""
    path = Path(out_dir) / STATE_NAME
    if not path.exists():
        return {"version": 1, "seen": [], "closed_alerts": [], "closed": []}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FlightpathsError(f"{path}: cannot read the watch state ({exc}); move it away to start afresh") from exc
    if not isinstance(state, dict) or not all(isinstance(state.get(k), list) for k in ("seen", "closed_alerts", "closed")):
        raise FlightpathsError(f"{path}: not a flightpaths watch state file; move it away to start afresh")
    return state


def save_state(out_dir: str | Path, *, seen: set[str], closed_alerts: set[str], closed: list[dict[str, Any]]) -> Path:
    """Write the state atomically."""
    data = {"version": 1, "seen": sorted(seen), "closed_alerts": sorted(closed_alerts), "closed": closed}
    return atomic_write_text(Path(out_dir) / STATE_NAME, json.dumps(data, default=str, sort_keys=True) + "\n")
