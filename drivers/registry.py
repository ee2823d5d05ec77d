"""Build the drivers a config asks for. The one place that maps config to backends."""

from __future__ import annotations

import time
from collections.abc import Callable

from device.config import Config
from device.queue import QueueDesk
from drivers.base import Driver
from drivers.gpio import ButtonPanel
from drivers.link import SerialLink, SimLink, TcpLink
from drivers.printer import PrinterDriver
from drivers.scanner import ScannerDriver
from drivers.sign import SignDriver
from drivers.sound import Sound


def build(config: Config, *, desk: QueueDesk | None = None,
          clock: Callable[[], float] = time.time) -> list[Driver]:
    """Drivers for ``config``, not yet started (``Config.simulated()`` picks simulators).

    ``desk`` is the queue desk the scanner checks appointments in with; without one (a
    counter with no queue) a scan tells the citizen to go to the window. ``clock`` is the
    counter's (the scanner refuses another day's appointment by it)."""
    drivers: list[Driver] = [ButtonPanel(config.gpio)]
    if config.link.url == "sim://":
        drivers.append(SimLink(config.link.max_line_bytes))
    elif config.link.url.startswith("tcp://"):
        drivers.append(TcpLink(config.link))
    else:
        drivers.append(SerialLink(config.link))
    drivers.append(SignDriver(config))
    drivers.append(ScannerDriver(
        config, clock=clock,
        check_in=(lambda code: desk.check_in(code, source="scanner")) if desk else None))
    drivers.append(Sound(config.sound, config.window.number))
    drivers.append(PrinterDriver(config.printer, config.state_dir))
    return drivers
