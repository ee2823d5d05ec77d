"""A real console for browser tests: `kiosk-hq serve` in a subprocess on a fresh SQLite
database, and this process's own connection to the same database (to ingest events and
check rows). Playwright drives Debian's chromium against it."""

from __future__ import annotations

import os
import queue
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from hq.conf import alias_for
from hq.store import HqStore
from tests.browser import screenshot as browser_screenshot

KIOSK_HQ = str(Path(sys.executable).with_name("kiosk-hq"))


class Console:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.db_url = str(root / "hq.db")
        self.store = HqStore.open(self.db_url)  # migrates before the server starts
        self.alias = alias_for(self.db_url)
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.env: dict[str, str] = {}

    def start(self, env: Mapping[str, str] | None = None) -> None:
        self.env = dict(env or {})
        full = {**os.environ, "KIOSK_HQ_FAST_HASH": "1", **self.env}
        self.proc = subprocess.Popen(
            [KIOSK_HQ, "serve", "--db", self.db_url, "--host", "127.0.0.1", "--port", "0",
             "--threads", "4"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=full)
        lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []

        def pump() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line)
                lines.put(line)
            lines.put("")

        threading.Thread(target=pump, daemon=True).start()
        while True:
            try:
                line = lines.get(timeout=60)
            except queue.Empty:
                raise AssertionError("kiosk-hq serve printed nothing in 60 s") from None
            if not line:
                raise AssertionError("kiosk-hq serve exited:\n" + "".join(self.output))
            if line.startswith("serving on "):
                self.url = line.split()[2].rstrip("/")
                return

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None

    def restart(self, env: Mapping[str, str] | None = None) -> None:
        self.stop()
        self.start(env)

    def add_user(self, name: str, role: str, station: str | None = None) -> str:
        from hq.accounts.users import add_user

        password = "pw-" + secrets.token_hex(8)
        add_user(self.alias, name, role, password, station=station)
        return password


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    c = Console(tmp_path_factory.mktemp("console"))
    c.start()
    yield c
    c.stop()
    c.store.close()


def login(page: Any, console: Console, name: str, password: str) -> None:
    page.goto(console.url + "/accounts/login/")
    page.fill("#id_username", name)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(console.url + "/")


def screenshot(page: Any, name: str) -> None:
    """Redraw docs/screens/hq/NAME.png when HQ_SCREENS names that folder."""
    browser_screenshot(page, "HQ_SCREENS", name)
