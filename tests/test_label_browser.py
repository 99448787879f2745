"""End to end in a real headless Chromium: a user labels simulated windows with the keyboard alone.

The scaled version of the issue's "done when": label with number keys, skip, undo twice,
reload the page, kill and restart the server in the middle, finish a few in the grid view,
and end with the right class folders and labels.csv. A hostile callsign must show as text.
Needs Debian's ``chromium`` and ``chromium-driver`` (``make test`` installs them).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from test_label import HOSTILE_CALLSIGN, make_render_folder

pytestmark = pytest.mark.browser  # skipped without Chromium (conftest.py)

KEY = {"circling": "1", "straight": "2"}


def _truth(kind: str) -> str:
    return "circling" if kind == "circle" else "straight"


@pytest.fixture()
def driver(chromium: Callable[..., object]) -> object:
    return chromium()


def _start(renders: Path, ds: Path) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-c", "from flightpaths.cli import main; main()", "label", str(renders), "-o", str(ds),
           "--classes", "circling,straight", "--no-browser"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+/\?token=[\w-]+)", line)
    if not match:
        proc.kill()
        raise AssertionError(f"no URL printed: {line!r}")
    return proc, match.group(1)


def _wait(drv: object, script: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if drv.execute_script(script):  # type: ignore[attr-defined]
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for: {script}")


def _ready(drv: object) -> None:
    _wait(drv, "return document.body.dataset.ready === '1'")


def _settled(drv: object) -> None:
    _wait(drv, "return document.getElementById('saving').dataset.pending === '0'", timeout=30.0)


def _current(drv: object) -> str:
    return drv.execute_script("return document.getElementById('viewer').dataset.windowId")  # type: ignore[attr-defined]


def _press(drv: object, key: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(drv).send_keys(key).perform()


def _no_alert(drv: object) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        drv.switch_to.alert.text  # type: ignore[attr-defined]  # noqa: B018


def test_keyboard_labelling_with_undo_reload_and_restart(driver: object, tmp_path: Path) -> None:
    label_by_keyboard(driver, tmp_path, 28)


def label_by_keyboard(driver: object, tmp_path: Path, n: int) -> None:
    """The whole scenario for *n* simulated windows (tests/test_label_browser_slow.py runs 200)."""
    from selenium.webdriver.common.by import By

    kinds = (["circle", "line", "bend", "line", "circle"] * (n // 5 + 1))[:n]
    rows = make_render_folder(tmp_path / "renders", kinds, hostile_at=5)
    kind_of = {str(r["window_id"]): str(r["kind"]) for r in rows}
    hostile_window = str(rows[5]["window_id"])
    ds = tmp_path / "ds"
    proc, url = _start(tmp_path / "renders", ds)
    drv = driver
    try:
        drv.get(url)  # type: ignore[attr-defined]
        _ready(drv)
        assert drv.title == "flightpaths labeler"  # type: ignore[attr-defined]
        decided: list[str] = []

        def decide_current() -> None:
            wid = _current(drv)
            if wid == hostile_window:  # check the hostile callsign while it is on screen, then skip it
                shown = drv.execute_script("return document.getElementById('callsign').textContent")  # type: ignore[attr-defined]
                assert shown == HOSTILE_CALLSIGN
                assert drv.execute_script("return document.querySelectorAll('img[src=\"x\"]').length") == 0  # type: ignore[attr-defined]
                _no_alert(drv)
                drv.save_screenshot(str(tmp_path / "labeler.png"))  # type: ignore[attr-defined]
                _press(drv, "s")
            else:
                _press(drv, KEY[_truth(kind_of[wid])])
            decided.append(wid)

        for _ in range(8):
            decide_current()
        # two wrong keys, then undo both: the page goes back to the first undone image
        wrong = _current(drv)
        _press(drv, "2" if _truth(kind_of[wrong]) == "circling" else "1")
        _press(drv, "1")
        _press(drv, "u")
        _press(drv, "u")
        _settled(drv)
        assert _current(drv) == wrong
        assert drv.find_element(By.ID, "progress").text.startswith(f"7 / {n} labelled · 1 skipped")  # type: ignore[attr-defined]

        for _ in range(4):
            decide_current()
        _settled(drv)
        drv.refresh()  # type: ignore[attr-defined]  # reload: resumes at the next undecided image
        _ready(drv)
        assert _current(drv) not in decided

        for _ in range(6):
            decide_current()
        _settled(drv)
        os.kill(proc.pid, signal.SIGKILL)  # the server dies in the middle of the session
        proc.wait(timeout=10)
        lost = _current(drv)
        _press(drv, KEY[_truth(kind_of[lost])] if lost != hostile_window else "s")  # this one cannot be saved
        _wait(drv, "return document.getElementById('banner').textContent.includes('Not saved')")
        _settled(drv)
        proc, url = _start(tmp_path / "renders", ds)
        drv.get(url)  # type: ignore[attr-defined]
        _ready(drv)
        assert _current(drv) not in decided

        # the last images: select the lines in the grid view and label them at once
        _press(drv, "g")
        _settled(drv)
        cells = drv.execute_script(  # type: ignore[attr-defined]
            "return [...document.querySelectorAll('#grid-items figure.cell:not(.done)')]"
            ".map(c => [c.dataset.id, c.querySelector('.cap-id').textContent])"
        )
        by_class: dict[str, list[str]] = {}
        for cid, wid in cells:
            by_class.setdefault(_truth(kind_of[wid]), []).append(cid)
        similar_class, similar = max(by_class.items(), key=lambda kv: len(kv[1]))
        assert len(similar) >= 3
        for cell_id in similar[:3]:  # each click redraws the grid: find the cell afresh
            drv.find_element(By.CSS_SELECTOR, f'figure.cell[data-id="{cell_id}"]').click()  # type: ignore[attr-defined]
        assert "3 selected" in drv.find_element(By.ID, "grid-selected").text  # type: ignore[attr-defined]
        _press(drv, KEY[similar_class])
        _press(drv, "g")
        for _ in range(n + 10):
            if drv.execute_script("return document.body.dataset.allDone") == "1":  # type: ignore[attr-defined]
                break
            decide_current()
        _settled(drv)
        assert drv.execute_script("return document.body.dataset.allDone") == "1"  # type: ignore[attr-defined]
        drv.save_screenshot(str(tmp_path / "labeler-done.png"))  # type: ignore[attr-defined]
        _no_alert(drv)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)

    # the folders and labels.csv say exactly what the user meant
    with open(ds / "labels.csv", newline="") as fh:
        labels = {r["window_id"]: (r["image"], r["label"], r["source"]) for r in csv.DictReader(fh)}
    expected = {wid: _truth(kind) for wid, kind in kind_of.items() if wid != hostile_window}
    assert {w: lab for w, (_, lab, _) in labels.items()} == expected
    assert {src for _, _, src in labels.values()} == {"human"}
    on_disk = {p.relative_to(ds).as_posix() for p in ds.glob("*/*.png")}
    assert on_disk == {img for img, _, _ in labels.values()}
    assert all(img.startswith(f"{lab}/") for img, lab, _ in labels.values())
    for shot in ("labeler.png", "labeler-done.png"):
        assert (tmp_path / shot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("FLIGHTPATHS_SCREENSHOTS"):
        for shot in ("labeler.png", "labeler-done.png"):
            shutil.copy(tmp_path / shot, Path(os.environ["FLIGHTPATHS_SCREENSHOTS"]) / shot)
