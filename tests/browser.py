"""Debian's chromium driven by Playwright, for the pages the project serves: HQ's console
(tests/hq/) and the counter's officer panel."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags chromium keeps trying Google's hosts, which a
# closed network refuses many times a second.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="session")
def _chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise AssertionError(f"{CHROMIUM} is missing: ./setup.sh deps installs Debian's "
                             "chromium for the browser tests")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_page(browser: Any) -> Any:
    """A page in a fresh context (its own cookies): one desk PC."""
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    return context.new_page()


@pytest.fixture
def browser_page(_chromium: Any) -> Iterator[Any]:
    page = new_page(_chromium)
    yield page
    page.context.close()


def screenshot(page: Any, folder_env: str, name: str) -> None:
    """Save the whole page as NAME.png in the folder ``folder_env`` names, if it is set
    (how docs/screens/ is redrawn: HQ_SCREENS, PANEL_SCREENS)."""
    folder = os.environ.get(folder_env)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
