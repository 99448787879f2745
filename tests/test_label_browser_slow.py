"""The issue's "done when" at full size: 200 simulated windows labelled with the keyboard alone
in headless Chromium, with undo, a reload and a server restart in the middle (see
test_label_browser.py for the scenario)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_label_browser import driver, label_by_keyboard  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # skipped without Chromium (conftest.py)


def test_200_windows_by_keyboard_with_a_restart_in_the_middle(driver: object, tmp_path: Path) -> None:  # noqa: F811
    label_by_keyboard(driver, tmp_path, 200)
