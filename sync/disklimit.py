"""kiosk-sync's disk limit: above ``store.max_db_mb`` shed telemetry in rounds.

A mixin of the Syncer (its housekeeping calls :meth:`DiskLimit.check_disk`). One round
sheds for at most ``SHED_BUDGET_S`` and the next loop round goes on, so the loop keeps
feeding the systemd watchdog through a shed that takes minutes on an SD card.
"""

from __future__ import annotations

import logging
import time

from device.codes import Fault
from device.config import Config
from device.events import Draft, EventType
from device.store import Store

log = logging.getLogger("sync")

SHED_BUDGET_S = 5.0  # one housekeeping round sheds this long, then the loop beats again


class DiskLimit:
    cfg: Config
    store: Store
    _shed_fault_open: bool
    _shedding: bool  # a shed stopped by its time budget, to go on with
    _next_housekeep: float

    def check_disk(self) -> int:
        """Above ``store.max_db_mb``: shed unsent telemetry oldest first (never a rating,
        comment or case) and record a device.fault. Returns how many events were shed."""
        limit = self.cfg.store.max_db_mb * 1024 * 1024
        if self.store.used_bytes() <= limit and not self._shedding:
            # Shed pages go back to the file system in steps (incremental vacuum).
            self.store.release_free_pages(time.monotonic() + SHED_BUDGET_S)
            if self._shed_fault_open:
                self._shed_fault_open = False
                self.store.append([Draft(EventType.DEVICE_RECOVERED, {
                    "component": "store", "fault": Fault.DB_FULL})])
            return 0
        target = int(limit * 0.9)
        shed = self.store.shed_telemetry(target, budget_s=SHED_BUDGET_S)
        self._shedding = bool(shed) and self.store.used_bytes() > target
        if self._shedding:
            self._next_housekeep = 0.0  # not done: go on in the next loop round
        else:
            self.store.release_free_pages(time.monotonic() + SHED_BUDGET_S)
        # Full of what is never shed (not merely a round that ran out of time).
        still_full = self.store.used_bytes() > limit and not self._shedding
        if shed or (still_full and not self._shed_fault_open):
            self._shed_fault_open = True
            self.store.append([Draft(EventType.DEVICE_FAULT, {
                "component": "store", "fault": Fault.DB_FULL, "shed_events": shed,
                "limit_mb": self.cfg.store.max_db_mb, "still_full": still_full,
                "detail": "telemetry shed oldest first; ratings and comments kept"})])
            log.error("database above %d MB: shed %d telemetry events%s",
                      self.cfg.store.max_db_mb, shed,
                      "; still full of events that are never shed" if still_full else "")
        return shed
