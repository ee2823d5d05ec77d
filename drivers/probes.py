"""Hardware checks for `kiosk doctor`, run through the driver layer.

device/ never imports gpiozero, pyserial or python-escpos, so the doctor loads this module
lazily (importlib) the way the app loads drivers.registry. Each probe opens its device,
asks it one harmless question, closes it again, and returns a :data:`Verdict`:
``(status, detail, fix)`` with status ``"PASS"``, ``"WARN"`` or ``"FAIL"``.

Probes open the hardware the running kiosk also uses (GPIO lines, serial ports), so the
doctor calls them only when the kiosk is stopped; while it runs, the doctor reads the
kiosk's own fault list instead.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import time
from typing import Any

from device.codes import FAULTS
from device.config import (
    Config,
    GpioSection,
    LinkSection,
    OfficerEntry,
    PanelSection,
    PrinterSection,
    ScannerSection,
    SignSection,
)

Verdict = tuple[str, str, str]
PASS, WARN, FAIL = "PASS", "WARN", "FAIL"

# The sign probe writes one word to this VP, outside the driver's map (docs/sign.md uses
# 0x1000-0x11FF): invisible on screen, and every DGUS write is answered "OK".
SIGN_PROBE_VP = 0x1FF0


# --------------------------------------------------------------------------- GPIO


def gpio(cfg: GpioSection, factory: Any = None) -> Verdict:
    """Claim every configured line; a button that reads pressed with nobody on it is stuck
    (or shorted to ground)."""
    from gpiozero import LED, Button, Buzzer

    from drivers import registry
    from drivers.gpio import PinLibraryMissing

    simulated = cfg.simulated
    try:
        factory = factory if factory is not None else registry.pin_factory(cfg)
    except PinLibraryMissing as exc:
        detail, _, fix = str(exc).partition(" Fix: ")
        return FAIL, f"the counter cannot start: {detail}", fix
    except Exception as exc:
        return (FAIL, f"cannot open the GPIO chip with pin factory {cfg.pin_factory!r}: "
                f"{_short(exc)}",
                "on a Pi 4/5 use pin_factory = \"lgpio\" (apt install python3-lgpio); the "
                "kiosk user must be in the gpio group (systemd/install.sh adds it)")
    buttons = {**cfg.rating_pins.as_dict(), "away": cfg.away_pin, "next": cfg.next_pin}
    outputs = {**{f"led.{k}": v for k, v in cfg.rating_led_pins.as_dict().items()},
               "led.away": cfg.away_led_pin}
    devices: list[Any] = []
    stuck: list[str] = []
    try:
        for name, pin in buttons.items():
            try:
                button = Button(pin, pull_up=True, pin_factory=factory)
            except Exception as exc:
                return _pin_failure(name, pin, exc)
            devices.append(button)
            if button.is_pressed:
                stuck.append(f"{name} (BCM {pin})")
        for name, pin in [*outputs.items(), ("buzzer", cfg.buzzer_pin)]:
            try:
                cls = Buzzer if name == "buzzer" else LED
                devices.append(cls(pin, pin_factory=factory))
            except Exception as exc:
                return _pin_failure(name, pin, exc)
    finally:
        for dev in devices:
            with contextlib.suppress(Exception):  # best effort; the verdict stands
                dev.close()
        if factory is not None and simulated and hasattr(factory, "reset"):
            factory.reset()
    if stuck:
        return (FAIL, "button reads pressed with nobody pressing it: " + ", ".join(stuck),
                "a stuck key or a wire shorted to ground: check that button's wiring "
                "(docs/wiring.md); the kiosk ignores it until it is released")
    what = f"{len(buttons)} buttons, {len(outputs)} LEDs and the buzzer claimed"
    return PASS, what + (" (simulated)" if simulated else f" ({cfg.pin_factory})"), ""


def _pin_failure(name: str, pin: int, exc: Exception) -> Verdict:
    kind = type(exc).__name__
    if "InUse" in kind or "busy" in str(exc).lower():
        return (FAIL, f"{name}: BCM {pin} is in use by another program",
                "stop the kiosk first (sudo systemctl stop kiosk) or free the pin; "
                "another HAT or overlay may own it (raspi-gpio get / pinctrl)")
    return (FAIL, f"{name}: cannot claim BCM {pin}: {kind}: {_short(exc)}",
            "check gpio pin numbers in config.toml (BCM, not board numbers) and that the "
            "kiosk user is in the gpio group")


# --------------------------------------------------------------------------- serial ports


def _open_serial(url: str, baudrate: int, timeout: float) -> Any:
    import serial

    return serial.serial_for_url(url, baudrate=baudrate, timeout=timeout, write_timeout=2.0)


def _port_failure(what: str, url: str, exc: BaseException) -> Verdict:
    err = getattr(exc, "errno", None)
    text = str(exc)
    if err == errno.ENOENT or "No such file" in text:
        return (FAIL, f"{what}: no such port {url}",
                "plug the USB serial adapter in (ls -l /dev/serial/by-id/) and set "
                f"{_key(what)} to its /dev/serial/by-id/... path")
    if err == errno.EACCES or "Permission denied" in text:
        return (FAIL, f"{what}: not allowed to open {url}",
                "the kiosk user must be in the dialout group (systemd/install.sh adds it); "
                "log out and in again after adding it")
    if err == errno.EBUSY or "busy" in text.lower():
        return (FAIL, f"{what}: {url} is busy", "stop the kiosk first (sudo systemctl stop "
                "kiosk) or find the other user of the port: fuser -v " + url)
    return (FAIL, f"{what}: cannot open {url}: {_short(exc)}",
            f"check {_key(what)} (a device path or a pyserial URL) and the cable")


def _key(what: str) -> str:
    return {"sign": "sign.url", "link": "link.url", "scanner": "scanner.url",
            "printer": "printer.url"}.get(what, what)


def serial_port(what: str, url: str, baudrate: int, timeout: float = 0.5) -> Verdict:
    """The port opens (for devices that only talk when they have something to say)."""
    try:
        port = _open_serial(url, baudrate, timeout)
    except Exception as exc:
        return _port_failure(what, url, exc)
    port.close()
    return PASS, f"{what}: {url} opens at {baudrate} baud", ""


def sign(cfg: SignSection, timeout: float | None = None) -> Verdict:
    """Write one word to the sign and expect its "OK" (5A A5 03 82 4F 4B)."""
    from device.errors import ParseError
    from drivers.sign.codec import Ack, FrameReader, parse_reply, write_frame

    if cfg.simulated:
        return PASS, "sign: simulated", ""
    wait = timeout if timeout is not None else max(cfg.reply_timeout_s * max(cfg.retries, 1),
                                                    0.5)
    try:
        port = _open_serial(cfg.url, cfg.baudrate, 0.05)
    except Exception as exc:
        return _port_failure("sign", cfg.url, exc)
    reader = FrameReader()
    got = b""
    try:
        port.reset_input_buffer()
        port.write(write_frame(SIGN_PROBE_VP, b"\x00\x00", cfg.crc))
        port.flush()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            chunk = port.read(64)
            got += chunk
            for frame in reader.feed(chunk):
                try:
                    reply = parse_reply(frame, cfg.crc)
                except ParseError as exc:
                    return (FAIL, f"sign answered, but not OK: {exc}",
                            "set sign.crc to match the DGUS project (CRC on or off) and "
                            "sign.baudrate to the display's baud rate")
                if isinstance(reply, Ack):
                    return PASS, f"sign: OK from {cfg.url} at {cfg.baudrate} baud", ""
    except Exception as exc:
        return _port_failure("sign", cfg.url, exc)
    finally:
        port.close()
    if got:
        return (FAIL, f"sign: {len(got)} bytes that are no DGUS reply ({got[:12].hex(' ')})",
                "the baud rate is probably wrong: set sign.baudrate to the display's "
                "(115200 on most DWIN T5L)")
    return (FAIL, f"sign: no OK from {cfg.url} within {wait:g} s",
            "check the sign's power and its TX/RX wires (crossed: TX to RX), "
            "sign.baudrate and sign.crc")


def link(cfg: LinkSection) -> Verdict:
    """The workstation link: a serial port that opens, or a TCP port the kiosk can listen on."""
    if cfg.simulated:
        return PASS, "link: simulated", ""
    if cfg.tcp:
        host, _, port = cfg.url.removeprefix("tcp://").rpartition(":")
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((host or "0.0.0.0", int(port)))
        except (OSError, ValueError) as exc:
            return (FAIL, f"link: cannot listen on {cfg.url}: {_short(exc)}",
                    "another program holds that port (ss -ltnp), or link.url is malformed "
                    "(tcp://0.0.0.0:7301)")
        return PASS, f"link: {cfg.url} is free to listen on", ""
    return serial_port("link", cfg.url, cfg.baudrate)


def panel(cfg: PanelSection, roster: tuple[OfficerEntry, ...]) -> Verdict:
    """The officer panel: off, or an address of this machine with its port free, and
    officers who can sign in."""
    if not cfg.enabled:
        return PASS, "panel: off (panel.enabled = false)", ""
    host, _, port = cfg.listen.rpartition(":")
    host = host.strip("[]")
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, int(port)))
    except OSError as exc:
        if exc.errno == errno.EADDRNOTAVAIL:
            return (FAIL, f"panel: {host} is not an address of this machine",
                    "set panel.listen to this Pi's address on the counter LAN (ip -br addr)")
        return (FAIL, f"panel: cannot listen on {cfg.listen}: {_short(exc)}",
                "another program holds that port (ss -ltnp): choose another in panel.listen")
    with_pin = sum(1 for o in roster if o.pin_hash)
    if not with_pin:
        return (WARN, f"panel: {cfg.listen} is free, but no [[roster]] officer has a "
                "pin_hash", "HQ's roster brings them; for a local roster add pin_hash "
                "lines (kiosk hash-pin)")
    return PASS, f"panel: {cfg.listen} is free to listen on; {with_pin} officers have a PIN", ""


def scanner(cfg: ScannerSection) -> Verdict:
    if cfg.simulated:
        return PASS, "scanner: simulated", ""
    return serial_port("scanner", cfg.url, cfg.baudrate)


# --------------------------------------------------------------------------- printer


def printer(cfg: PrinterSection) -> Verdict:
    """Ask the printer DLE EOT 1-4: online, cover, paper. No answer is a failure, never OK."""
    from drivers import registry
    from drivers.printer.status import Paper
    from drivers.printer.transports import PrinterError
    from drivers.printer.worker import read_status

    simulated = cfg.simulated
    transport = registry.printer_transport(cfg)
    try:
        transport.open()
        status = read_status(transport)
    except PrinterError as exc:
        where = {"usb": "usb_vendor/usb_product (lsusb)", "serial": "printer.url",
                 "network": "printer.url (host:9100)"}.get(cfg.transport, "printer")
        return (FAIL, f"printer: {exc}",
                f"check the cable and power, and {where}; a USB printer held by usblp "
                "gives 'Resource busy' (docs/deployment.md)")
    finally:
        transport.close()
    name = "simulated" if simulated else transport.name
    if not transport.can_read:
        return WARN, f"printer: {name} connected; this transport cannot read status", (
            "print a test ticket from the officer's screen to be sure")
    if not status.answered:
        return (FAIL, f"printer: no answer to a status request on {name}",
                "switch the printer on, check the cable, and for serial printers "
                "printer.baudrate (and DIP switches for RTS/CTS flow control)")
    if status.fault:
        return (FAIL, f"printer: {status.fault.replace('_', ' ')} ({name})",
                FAULTS[status.fault].fix)
    if status.paper is Paper.NEAR_END:
        return WARN, f"printer: paper near end ({name})", "have a fresh roll ready"
    return PASS, f"printer: online, paper ok ({name})", ""


# --------------------------------------------------------------------------- helpers


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160] or type(exc).__name__


def station(cfg: Config, timeout: float = 5.0) -> Verdict:
    """The station broker and kiosk-station (drivers/station/probe.py)."""
    from drivers.station.probe import station as probe

    return probe(cfg, timeout)
