"""Build a counter from a config: the one place the parts are put together.

The program (kiosk/app.py), the screenshots command, the benchmarks and the tests all
call :func:`build_counter`; nobody else constructs the core and the queue desk side by
side, so the wiring cannot drift between them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from device.catalogue import CatalogueSource
from device.codes import Fault
from device.config import Config
from device.core import Core
from device.hall import HallBoard
from device.notices import NoticeBoard
from device.queue import QueueDesk
from device.store import Store
from device.tickets import Book, TicketBook
from drivers import registry
from drivers.base import Driver
from drivers.station.book import StationBook
from kiosk.control import Handler

log = logging.getLogger("build")


@dataclass
class Counter:
    """One counter's parts. ``drivers`` are built, not started (:meth:`start_drivers`)."""

    config: Config
    store: Store
    core: Core
    desk: QueueDesk
    drivers: list[Driver] = field(default_factory=list)
    # The station's roles (docs/station.md): the hall display's board, and the ticket
    # book of a window or the entrance (its ``client`` is the station connection).
    hall: HallBoard | None = None
    station: StationBook | None = None

    def driver(self, name: str) -> Driver:
        return next(d for d in self.drivers if d.name == name)

    def start_drivers(self) -> dict[str, Handler]:
        """Start every driver; one that fails is a fault on the counter, not a stop (a
        missing device must not keep the others from working). Returns the control
        commands the started drivers offer."""
        handlers: dict[str, Handler] = {}
        for driver in self.drivers:
            try:
                driver.start(self.core)
            except Exception as exc:
                log.exception("driver %s failed to start", driver.name)
                self.core.fault(driver.name, Fault.START_FAILED, str(exc)[:200])
                continue
            handlers.update(driver.control_commands())
        return handlers

    def close(self) -> None:
        """Close the drivers (last started first), then the store."""
        for driver in reversed(self.drivers):
            try:
                driver.close()
            except Exception:
                log.exception("driver %s failed to close", driver.name)
        self.store.close()


def build_counter(config: Config, *, store: Store | None = None,
                  clock: Callable[[], float] = time.time,
                  with_drivers: bool = True) -> Counter:
    """The store (opened from ``config.db_path`` unless given), the core with its ticket
    book, the queue desk, and, with ``with_drivers``, the drivers ``config`` names
    (``Config.simulated()`` picks the simulators), given the desk they need."""
    if store is None:
        store = Store(config.db_path, site=config.device.site, device=config.device.id)
    st = config.station
    station = registry.station_book(config, store, clock) \
        if st.enabled and st.role in ("window", "entrance") else None
    hall = None
    if st.enabled and st.role == "hall":
        names = CatalogueSource(store)
        # HQ's notices (the extended-hours notice, an urgent one) reach the hall as site
        # content, like every screen of the site; the hall shows them above its own.
        notices = NoticeBoard(store, config.window.notice, config.device.timezone)
        hall = HallBoard(name_of=lambda code: names.current().name(code),
                         site_notices=lambda: [n.text for n in notices.current(clock())])
    book: Book = station or TicketBook(store, config, clock=clock)
    core = Core(config, store, clock=clock, tickets=book)
    desk = QueueDesk(core, book)
    drivers = registry.build(config, desk=desk, clock=clock, station=station,
                             hall=hall) if with_drivers else []
    return Counter(config, store, core, desk, drivers, hall, station)
