"""The station driver of a window or the entrance: connects the client, tells the station
what the counter did that the core does not ask the book about, and reconciles.

* ``case.ended`` of a station ticket -> ``done`` (the station measures service times);
* ``away.started`` / ``away.ended`` -> ``away`` (with ``staff.backup_window``) / ``back``
  (B-post routing, docs/station.md);
* when the station answers again after a fallback -> ``reconcile`` of this device's block.

The core's observer only queues the request; one worker thread sends them in order, each
resent with its own rid until it is answered (the station takes a rid once), so nothing
waits on the network under the core lock but the book's own questions.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from device.core import Change, Core
from device.events import EventType, uuid7
from drivers.base import BaseDriver, ControlHandler
from drivers.station.book import StationBook

log = logging.getLogger("station")

Op = tuple[str, str, dict[str, Any]]  # (rid, op, fields)


class StationLink(BaseDriver):
    name = "station"

    def __init__(self, book: StationBook) -> None:
        self.book = book
        self.client = book.client
        self.config = book.config
        self._ops: queue.Queue[Op | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reconciled = threading.Event()  # set after each reconcile the station took

    def start(self, core: Core) -> None:
        self.core = core
        self.client.start()
        core.subscribe(self._on_change)
        self._thread = threading.Thread(target=self._work, name="station", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._ops.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.client.close()

    def control_commands(self) -> dict[str, ControlHandler]:
        def station(_req: dict[str, Any]) -> dict[str, Any]:
            return {"ok": True, "online": self.client.online,
                    "connected": self.client.connected.is_set(),
                    "pending": [r["number"] for r in self.book.pending()],
                    "board": self.client.board}
        return {"station": station}

    # ------------------------------------------------------------------ observing

    def _on_change(self, change: Change) -> None:
        window = self.book.window
        for ev in change.events:
            if ev.type == EventType.CASE_ENDED and ev.data.get("ticket") \
                    and not self.book._own(str(ev.data["ticket"])):
                self._ops.put((uuid7(), "done", {"window": window}))
            elif ev.type == EventType.AWAY_STARTED:
                self._ops.put((uuid7(), "away", {
                    "window": window, "backup": self.config.staff.backup_window}))
            elif ev.type == EventType.AWAY_ENDED:
                self._ops.put((uuid7(), "back", {"window": window}))

    # ------------------------------------------------------------------ sending

    def _work(self) -> None:
        held: Op | None = None
        while not self._stop.is_set():
            if held is None:
                try:
                    # While tickets of our block wait for the station, try now and then.
                    held = self._ops.get(timeout=self.config.station.timeout_s)
                except queue.Empty:
                    self._try_reconcile()
                    continue
                if held is None:
                    return
            rid, op, fields = held
            resp = self.client.request(op, rid=rid, **fields)
            if resp is None:
                # The same rid again (the station takes it once), after a pause: an
                # offline station answers None at once.
                self._stop.wait(self.config.station.timeout_s)
                continue
            if not resp.get("ok"):
                log.warning("the station refused %s: %s", op, resp.get("error"))
            held = None
            self._try_reconcile()

    def _try_reconcile(self) -> None:
        if not self.client.connected.is_set() or not self.book.pending():
            return
        try:
            resp = self.book.reconcile()
        except Exception:
            log.exception("reconcile failed")
            return
        if resp is not None and resp.get("ok"):
            self.reconciled.set()
