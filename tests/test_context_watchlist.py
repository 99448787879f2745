"""Watchlists: parse, match by address, registration, callsign or operator, bad patterns named."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flightpaths.context.watchlist import load_watchlist, parse_watchlist
from flightpaths.errors import InputError

AIRCRAFT = pd.DataFrame({
    "object_id": ["aa2183", "a996cb", "a1b2c3", "3c6444", "a00001"],
    "registration": ["N752AM", "N717HP", "N123AB", None, "N1"],
    "callsign": [None, "OSP1", "NYPD7", "DLH4", None],
    "operator": ["Department of Homeland Security", "Ohio Department of Public Safety", None, "Lufthansa",
                 "Cuyahoga County Sheriff"],
})


def test_matches_each_field_and_keeps_the_first_note() -> None:
    w = parse_watchlist("# comment\n\nAA2183   # the DHS AS350\nn717hp\nNYPD\\d+ # NYPD by callsign\nHOMELAND|SHERIFF # by name\n")
    listed, notes = w.match(AIRCRAFT)
    assert listed.tolist() == [True, True, True, False, True]
    assert notes.tolist() == ["the DHS AS350", "n717hp", "NYPD by callsign", "", "by name"]


def test_whole_fields_match_whole_not_part() -> None:
    listed, _ = parse_watchlist("A2183\nN7\n").match(AIRCRAFT)
    assert not listed.any()


def test_bad_pattern_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "watch.txt"
    path.write_text("\ufeffaa2183\nPOLICE(\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"watch.txt, line 2: 'POLICE\(' is not a valid pattern"):
        load_watchlist(path)
