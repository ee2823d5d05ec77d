"""Helpers for tests that drive a whole kiosk (in this process or as a subprocess)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from device.config import Config
from kiosk.app import KioskApp


@contextmanager
def running_kiosk(config: Config) -> Iterator[KioskApp]:
    """The real wiring (store, core, simulated drivers, control socket) in this process,
    headless; `kiosk sim` and ControlClient reach it through its socket."""
    app = KioskApp(config, headless=True)
    app.setup()
    try:
        yield app
    finally:
        app.close()


def db_rows(path: Path) -> tuple[list[tuple], list[tuple]]:
    """Every event row and the saved counter state, read on a connection of our own."""
    conn = sqlite3.connect(str(path), timeout=10)
    try:
        events = conn.execute("SELECT seq, type, body, sent_at FROM events ORDER BY seq")
        state = conn.execute("SELECT body FROM counter_state")
        return events.fetchall(), state.fetchall()
    finally:
        conn.close()
