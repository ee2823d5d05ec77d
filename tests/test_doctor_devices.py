"""`kiosk doctor`'s device checks (kiosk/doctor_devices.py, drivers/probes.py): a missing
serial port, a sign that never says OK or has the wrong CRC setting, a printer that does
not answer or reports its paper, a link port, a stuck or busy button, a GPIO chip that
cannot open. Real parts: pty serial ports with a fake device on the master side and
gpiozero MockFactory pins.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.config import Config, GpioSection, PrinterSection, SignSection
from drivers import probes
from drivers.printer.status import Paper, status_byte
from drivers.sign.emulator import SignEmulator
from kiosk import doctor
from tests.serial_helpers import FakeDevice, Pty
from tests.test_doctor import by_name, env


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    return Config().with_state_dir(tmp_path / "state")


@pytest.fixture
def pty() -> Iterator[Pty]:
    p = Pty()
    yield p
    p.close()


# ------------------------------------------------------------------ serial devices


def test_a_missing_serial_port_fails_with_the_by_id_fix(cfg, tmp_path):
    gone = str(tmp_path / "usb-DWIN-if00-port0")
    c = dataclasses.replace(cfg, sign=SignSection(url=gone))
    result = by_name(doctor.run_checks(c, env=env(), skip=["broker"]))["sign"]
    assert result.status == "FAIL" and f"no such port {gone}" in result.detail
    assert "/dev/serial/by-id" in result.fix
    assert probes.scanner(dataclasses.replace(cfg.scanner, url=gone))[0] == "FAIL"


def test_a_sign_that_never_says_ok_fails(pty):
    status, detail, fix = probes.sign(SignSection(url=pty.path), timeout=0.3)
    assert status == "FAIL" and "no OK" in detail
    assert "TX/RX" in fix
    # It did send a write frame to the probe VP (and nothing answered).
    assert pty.read_until(b"\x5a\xa5", timeout=1).startswith(b"\x5a\xa5")


@pytest.mark.parametrize("crc", [False, True])
def test_a_sign_that_answers_ok_passes(pty, crc):
    emulator = SignEmulator(crc=crc)
    device = FakeDevice(pty, emulator.feed)
    try:
        status, detail, _ = probes.sign(SignSection(url=pty.path, crc=crc), timeout=3)
    finally:
        device.stop()
    assert (status, detail) == ("PASS", f"sign: OK from {pty.path} at 115200 baud")
    assert emulator.frames[-1].vp == probes.SIGN_PROBE_VP  # outside the driver's VP map


def test_a_sign_with_the_wrong_crc_setting_is_named(pty):
    device = FakeDevice(pty, SignEmulator(crc=False).feed)  # the display has CRC off
    try:
        # Host sends with CRC: the display ignores the bad frame; then no OK.
        status, detail, _ = probes.sign(SignSection(url=pty.path, crc=True), timeout=0.3)
    finally:
        device.stop()
    assert status == "FAIL"
    device = FakeDevice(pty, lambda _data: b"\x5a\xa5\x03\x82\x4f\x4b")  # OK without CRC
    try:
        status, detail, fix = probes.sign(SignSection(url=pty.path, crc=True), timeout=2)
    finally:
        device.stop()
    assert status == "FAIL" and "not OK" in detail and "sign.crc" in fix


def test_a_printer_that_does_not_answer_fails(pty):
    cfg = PrinterSection(transport="serial", url=pty.path, status_timeout_s=0.2)
    status, detail, fix = probes.printer(cfg)
    assert status == "FAIL" and "no answer to a status request" in detail
    assert "switch the printer on" in fix


def printer_device(pty: Pty, paper: Paper) -> FakeDevice:
    def answer(data: bytes) -> bytes:
        # DLE EOT n -> one status byte per query.
        out = b""
        for i in range(len(data) - 2):
            if data[i:i + 2] == b"\x10\x04":
                out += bytes([status_byte(data[i + 2], paper=paper,
                                          offline=paper is Paper.OUT)])
        return out

    return FakeDevice(pty, answer)


@pytest.mark.parametrize(("paper", "status", "words"), [
    (Paper.OK, "PASS", "online, paper ok"),
    (Paper.NEAR_END, "WARN", "paper near end"),
    (Paper.OUT, "FAIL", "paper out"),
])
def test_printer_status_is_read_and_reported(pty, paper, status, words):
    device = printer_device(pty, paper)
    try:
        verdict = probes.printer(PrinterSection(transport="serial", url=pty.path,
                                                status_timeout_s=1.0))
    finally:
        device.stop()
    assert verdict[0] == status and words in verdict[1], verdict


def test_a_printer_on_a_missing_port_fails(tmp_path):
    verdict = probes.printer(PrinterSection(transport="serial", url=str(tmp_path / "lp")))
    assert verdict[0] == "FAIL" and "port_gone" in verdict[1]


def test_a_serial_link_port_that_exists_passes_and_tcp_in_use_fails(pty):
    from device.config import LinkSection

    assert probes.link(LinkSection(url=pty.path))[0] == "PASS"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        verdict = probes.link(LinkSection(url=f"tcp://127.0.0.1:{port}"))
    assert verdict[0] == "FAIL" and "cannot listen" in verdict[1]


# ------------------------------------------------------------------ GPIO


def test_a_stuck_button_fails_naming_the_pin():
    from gpiozero.pins.mock import MockFactory, MockPin

    class ShortedPin(MockPin):
        """Wired to ground: reads low whatever the pull-up says."""

        def _set_pull(self, value: str) -> None:
            super()._set_pull(value)
            self.drive_low()

    factory = MockFactory()
    factory.pin(19, pin_class=ShortedPin)  # "unsatisfied" shorted to ground
    status, detail, fix = probes.gpio(GpioSection(), factory=factory)
    assert status == "FAIL" and "unsatisfied (BCM 19)" in detail and "wiring" in fix


def test_a_pin_in_use_fails_with_stop_the_kiosk():
    from gpiozero import Button
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    holder = Button(23, pin_factory=factory)  # the running kiosk holds the away button
    try:
        status, detail, fix = probes.gpio(GpioSection(), factory=factory)
    finally:
        holder.close()
    assert status == "FAIL" and "BCM 23" in detail and "stop the kiosk" in fix


def test_a_gpio_chip_that_cannot_open_fails():
    # No Pi here: the lgpio factory finds no /dev/gpiochip* (or no lgpio at all).
    status, detail, fix = probes.gpio(GpioSection(pin_factory="lgpio"))
    assert status == "FAIL" and "'lgpio'" in detail
    # No chip: the gpio group; no library: how to install it (tests/test_pin_library.py).
    assert "gpio group" in fix or "sudo apt install python3-lgpio" in fix
