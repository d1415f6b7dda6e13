"""Debian's Chromium for the real-browser tests, through Playwright (never its download)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless Chromium calls itself HeadlessChrome, a bot by docs/metrics.md.
DESKTOP_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def launched() -> Iterator[Any]:
    """A headless Chromium for a fixture to yield; skipped where none is installed, and a
    failure under CI (which must run the browser tests)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: .ci/chromium did not install Chromium")
        pytest.skip("Chromium is not installed (make test installs it where it can)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()
