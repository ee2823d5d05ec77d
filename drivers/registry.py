"""Build the drivers a config asks for: the one place that maps config to backends.

Every choice between hardware and simulator is made here, by the config sections'
``simulated`` property (device/config.py spells ``"sim://"`` once); the driver classes
take the backend they are given (an opener, a transport, a pin factory, a player) and
never look at a URL, like gpiozero's devices and their pin factory:

========  ===============================  =========================================
device    simulated                        real
========  ===============================  =========================================
gpio      gpiozero's MockFactory           lgpio / rpigpio / native pin factory
link      :class:`SimLink`: an in-memory   ``tcp://`` :class:`TcpLink`; otherwise
          line (drivers/simport.py)        :class:`SerialLink` on a pyserial URL
sign      :class:`SimSign` (the emulated   a pyserial URL or device path
          DWIN display behind a port)
scanner   :class:`ScannerDriver` on an     :class:`ScannerDriver` on a pyserial URL
          in-memory line
printer   :class:`SimTransport`            serial / network / USB transport
sound     :class:`SimPlayer`               :class:`Aplay`
panel     the same (a page on              :class:`OfficerPanel` on ``panel.listen``,
          ``panel.listen``)                only when ``panel.enabled``
station   the same (MQTT 5 to              :class:`StationLink` / :class:`HallDriver`
          ``station.host``)                only when ``station.enabled``
========  ===============================  =========================================

With ``station.enabled`` the role picks the drivers: a ``window`` has them all and the
station's ticket book (:func:`station_book`); the ``entrance`` has no rating pad, officer
buttons, workstation link or sign; the ``hall`` only its sound and the board.

A simulator is the real driver on a fake wire: the simulated link and scanner read their
in-memory line from the same thread, through the same framing, limits and parser as a
serial port, so `kiosk sim link` and `kiosk sim scan` exercise what a real counter runs.
Simulated backends are the ones that offer `kiosk sim` commands.

Nothing is opened here: ports, sockets and pins open in each driver's ``start``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device.config import (
    Config,
    GpioSection,
    LinkSection,
    PrinterSection,
    SoundSection,
)
from device.hall import HallBoard
from device.queue import QueueDesk
from device.store import Store
from drivers.base import Driver
from drivers.gpio import ButtonPanel, make_pin_factory
from drivers.link import SerialLink, SimLink, TcpLink
from drivers.printer import PrinterDriver
from drivers.printer.transports import (
    NetworkTransport,
    SerialTransport,
    SimDevice,
    SimTransport,
    Transport,
    UsbTransport,
)
from drivers.scanner import CheckIn, ScannerDriver
from drivers.serialport import Opener, url_opener
from drivers.sign import SignDriver, SimSign
from drivers.simport import SimPort
from drivers.sound import Aplay, SimPlayer, Sound
from drivers.station.book import StationBook
from drivers.station.client import StationClient
from drivers.station.hall import HallDriver
from drivers.station.link import StationLink


def pin_factory(cfg: GpioSection) -> Any:
    """The gpiozero pin factory ``gpio.pin_factory`` names (raises PinLibraryMissing)."""
    return make_pin_factory(cfg.pin_factory)


def gpio(cfg: GpioSection) -> ButtonPanel:
    return ButtonPanel(cfg, pin_factory(cfg), simulated=cfg.simulated)


def link(cfg: LinkSection) -> SerialLink | TcpLink:
    if cfg.simulated:
        return SimLink(cfg, SimPort())
    if cfg.tcp:
        return TcpLink(cfg)
    return SerialLink(cfg, url_opener(cfg.url, cfg.baudrate))


def sign(config: Config) -> SignDriver:
    cfg = config.sign
    if cfg.simulated:
        display = SimSign(cfg.crc)
        return SignDriver(config, lambda: display, sim=display)
    opener: Opener = url_opener(cfg.url, cfg.baudrate)
    return SignDriver(config, opener)


def scanner(config: Config, *, check_in: CheckIn | None = None,
            clock: Callable[[], float] = time.time) -> ScannerDriver:
    """``check_in`` takes a valid appointment code (the queue desk's); ``clock`` is the
    counter's (another day's appointment is refused by it)."""
    cfg = config.scanner
    if cfg.simulated:
        line = SimPort()
        return ScannerDriver(config, line.opener, check_in=check_in, clock=clock, sim=line)
    return ScannerDriver(config, url_opener(cfg.url, cfg.baudrate), check_in=check_in,
                         clock=clock)


def printer_transport(cfg: PrinterSection, state_dir: Path | None = None) -> Transport:
    """The transport ``printer.transport`` names, not opened. The simulated printer
    appends what it prints to ``<state_dir>/printer-sim.bin`` when given a state dir."""
    timeout = cfg.status_timeout_s
    if cfg.simulated:
        log_path = state_dir / "printer-sim.bin" if state_dir is not None else None
        return SimTransport(SimDevice(log_path))
    if cfg.transport == "serial":
        return SerialTransport(cfg.url, cfg.baudrate, timeout)
    if cfg.transport == "network":
        return NetworkTransport(cfg.url, timeout)
    return UsbTransport(cfg.usb_vendor, cfg.usb_product, timeout)


def printer(cfg: PrinterSection, state_dir: Path | None = None, *,
            threaded: bool = True) -> PrinterDriver:
    return PrinterDriver(cfg, printer_transport(cfg, state_dir), threaded=threaded)


def sound(cfg: SoundSection, window: int = 1) -> Sound:
    return Sound(cfg, SimPlayer() if cfg.simulated else Aplay(), window)


def panel(config: Config, clock: Callable[[], float]) -> Driver:
    # Imported here: Starlette, uvicorn and Jinja2 cost a counter ~8 MB of RSS, which one
    # without the panel (most of them) does not pay.
    from drivers.panel import OfficerPanel

    return OfficerPanel(config.panel, clock)


def station_book(config: Config, store: Store, clock: Callable[[], float]) -> StationBook:
    """The station's ticket book of a window or the entrance (not connected yet: its
    driver, :class:`StationLink`, connects in ``start``)."""
    return StationBook(store, config, StationClient(config), clock=clock)


def build(config: Config, *, desk: QueueDesk | None = None,
          clock: Callable[[], float] = time.time, station: StationBook | None = None,
          hall: HallBoard | None = None) -> list[Driver]:
    """Drivers for ``config``, not yet started (``Config.simulated()`` picks simulators).

    ``desk`` is the queue desk the scanner checks appointments in with; without one (a
    counter with no queue) a scan tells the citizen to go to the window. ``clock`` is the
    counter's (the scanner refuses another day's appointment by it). ``station`` (a window
    or the entrance) and ``hall`` (the hall display) are given when ``station.enabled``."""
    check_in = (lambda code: desk.check_in(code, source="scanner")) if desk else None
    # The officer panel is a web page, not hardware: the same with --simulate.
    panels: list[Driver] = [panel(config, clock)] if config.panel.enabled else []
    speaker = sound(config.sound, config.window.number)
    if hall is not None:
        return [speaker, HallDriver(StationClient(config), hall, speaker)]
    links: list[Driver] = [StationLink(station)] if station is not None else []
    if station is not None and config.station.role == "entrance":
        return [scanner(config, check_in=check_in, clock=clock), speaker,
                printer(config.printer, config.state_dir), *links, *panels]
    return [
        gpio(config.gpio),
        link(config.link),
        sign(config),
        scanner(config, check_in=check_in, clock=clock),
        speaker,
        printer(config.printer, config.state_dir),
        *panels,
        *links,
    ]
