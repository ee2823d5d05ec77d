"""Shedding telemetry when the database is full, without blocking the kiosk.

The Store's methods for it (a mixin: they use its connection, lock and transactions).
The kiosk presses on meanwhile: each delete is a short transaction, and the lock stays
free between two for as long as a delete held it. The kiosk's busy handler retries on a
back-off, so a shedder that took the lock straight back would starve it; a VACUUM would
hold it for a rewrite of the whole file, longer than the kiosk waits.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import AbstractContextManager

SHED_BATCH = 200  # rows per delete transaction
VACUUM_STEP_PAGES = 256  # pages per incremental-vacuum step
SHED_MIN_PAUSE_S = 0.005  # the least pause between two


class Shedding:
    """Store methods: :meth:`shed_telemetry`, :meth:`release_free_pages`, :meth:`used_bytes`."""

    conn: sqlite3.Connection
    _lock: threading.RLock

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # the Store's

    def shed_telemetry(self, keep_below_bytes: int, *, budget_s: float | None = None) -> int:
        """Delete unsent non-critical events (never ``CRITICAL_TYPES``), oldest first,
        until the data takes less than ``keep_below_bytes`` (:meth:`used_bytes`) or for
        about ``budget_s`` (at least one batch; the caller calls again). Returns how many
        were shed (a gap HQ sees, explained by a device.fault)."""
        shed, until = 0, time.monotonic() + (budget_s if budget_s is not None else 1e9)
        while self.used_bytes() > keep_below_bytes:
            if shed and time.monotonic() >= until:
                return shed
            started = time.perf_counter()
            with self.transaction() as conn:
                n = conn.execute(
                    "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE critical = 0 "
                    "ORDER BY seq LIMIT ?)", (SHED_BATCH,)
                ).rowcount
            if n == 0:
                break
            shed += n
            time.sleep(max(SHED_MIN_PAUSE_S, time.perf_counter() - started))
        return shed

    def release_free_pages(self, until: float = 1e18) -> None:
        """Give free pages back in small steps: only in files made with
        ``auto_vacuum=INCREMENTAL``; an older file reuses them before it grows."""
        with self._lock:
            if int(self.conn.execute("PRAGMA auto_vacuum").fetchone()[0]) != 2:
                return
            free = int(self.conn.execute("PRAGMA freelist_count").fetchone()[0])
        for _ in range(-(-free // VACUUM_STEP_PAGES)):  # bounded: the kiosk frees pages too
            if time.monotonic() >= until:
                return
            started = time.perf_counter()
            with self._lock:
                # Its own short transaction. Through executescript, as sqlite3's execute
                # steps a statement without result columns once: one page per call.
                self.conn.executescript(f"PRAGMA incremental_vacuum({VACUUM_STEP_PAGES});")
            time.sleep(max(SHED_MIN_PAUSE_S, time.perf_counter() - started))

    def used_bytes(self) -> int:
        """What the data takes: the file's pages less its free list (reused first)."""
        with self._lock:
            page_size, pages, free = (
                int(self.conn.execute(f"PRAGMA {name}").fetchone()[0])
                for name in ("page_size", "page_count", "freelist_count"))
        return (pages - free) * page_size
