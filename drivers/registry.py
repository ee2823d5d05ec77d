"""Build the drivers a config asks for. The one place that maps config to backends."""

from __future__ import annotations

from device.config import Config
from drivers.base import Driver
from drivers.gpio import ButtonPanel
from drivers.link import SerialLink, SimLink, TcpLink
from drivers.printer import PrinterDriver
from drivers.scanner import ScannerDriver
from drivers.sign import SignDriver
from drivers.sound import Sound


def build(config: Config) -> list[Driver]:
    """Drivers for ``config``, not yet started (``Config.simulated()`` picks simulators)."""
    drivers: list[Driver] = [ButtonPanel(config.gpio)]
    if config.link.url == "sim://":
        drivers.append(SimLink(config.link.max_line_bytes))
    elif config.link.url.startswith("tcp://"):
        drivers.append(TcpLink(config.link))
    else:
        drivers.append(SerialLink(config.link))
    drivers.append(SignDriver(config))
    # Checks appointments in with core.queue (looked up per scan: no queue desk, the
    # citizen is told on screen to go to the window).
    drivers.append(ScannerDriver(config))
    drivers.append(Sound(config.sound, config.window.number))
    drivers.append(PrinterDriver(config.printer, config.state_dir))
    return drivers
