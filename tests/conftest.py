"""Shared fixtures: where the real data lives (skips when it is absent), and a headless Chromium
for the browser tests (skips without Debian's ``chromium`` and ``chromium-driver``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
#: Chromium flags every browser test uses: headless, and nothing that talks to the network by itself
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the checkout; tests that need it skip cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA


def has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.fixture()
def chromium(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``chromium(*flags, window="1280,860")`` starts a headless Chromium under Selenium (its profile
    in the test's tmp folder; *flags* added to :data:`CHROMIUM_FLAGS`); each one is quit at the end."""
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager reach the network
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    started: list[Any] = []

    def start(*flags: str, window: str = "1280,860") -> Any:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        profile = tmp_path / f"chromium-profile-{len(started)}"
        for flag in (*CHROMIUM_FLAGS, *flags, f"--user-data-dir={profile}", f"--window-size={window}"):
            options.add_argument(flag)
        drv = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
        started.append(drv)
        drv.set_page_load_timeout(20)
        return drv

    try:
        yield start
    finally:
        for drv in started:
            drv.quit()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skips = []
    if not has_cuda():
        skips.append(("gpu", pytest.mark.skip(reason="needs a CUDA device; none is present")))
    if CHROMIUM is None or CHROMEDRIVER is None:
        skips.append(("browser", pytest.mark.skip(
            reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; `make test` does it)")))
    for item in items:
        for marker, skip in skips:
            if marker in item.keywords:
                item.add_marker(skip)
