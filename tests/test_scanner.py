"""The QR scanner: the appointment payload format, foreign and garbage codes refused with
a Chinese on-screen message, check-in through the queue desk, serial line mode over a pty
(CR, LF, CR LF), and unplug/replug."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from device.config import Config
from device.core import Core
from device.errors import ParseError
from device.events import EventType
from drivers import registry
from drivers.scanner import (
    MSG_CHECK,
    MSG_NO_QUEUE,
    MSG_SITE,
    MSG_UNKNOWN,
    MSG_URL,
    MSG_VERSION,
    AppointmentScan,
    ScanError,
    ScannerDriver,
    check_char,
    check_scan,
    main,
    make_payload,
    parse_scan,
)
from tests.conftest import FakeClock
from tests.serial_helpers import Pty, Replug, Watcher


def _today(clock: FakeClock) -> str:
    return datetime.fromtimestamp(clock(), ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d")


# ----------------------------------------------------------------- the format


def test_payload_round_trip() -> None:
    text = make_payload("demo-site", "20261001", "20261126")
    body, check = text.rsplit("|", 1)
    assert body == "CK1|demo-site|20261001|20261126" and check == check_char(body)
    assert len(check) == 1 and check.isalnum() and check == check.upper()
    assert parse_scan(text.encode()) == AppointmentScan("demo-site", "20261001", "20261126")
    # Line ends, padding and an AIM symbology prefix are tolerated.
    assert parse_scan(b"]Q1" + text.encode() + b"\r\n").code == "20261001"


def test_check_character_is_pinned() -> None:
    # HQ's booking system must compute the same characters (examples in docs/scanner.md).
    assert make_payload("demo-site", "20261001", "20261126") == (
        "CK1|demo-site|20261001|20261126|F")
    assert make_payload("demo-site", "A7K2M9", "20261126") == "CK1|demo-site|A7K2M9|20261126|4"


def _bad_check(text: str) -> str:
    body, check = text.rsplit("|", 1)
    return f"{body}|{'0' if check != '0' else '1'}"


@pytest.mark.parametrize(("raw", "screen"), [
    (b"https://weixin.qq.com/r/abc", MSG_URL),
    (b"HTTP://EXAMPLE.COM", MSG_URL),
    (b"6222020200112233445", MSG_UNKNOWN),  # a payment code or a bank card
    (b"", MSG_UNKNOWN),
    (b"\xff\xfe\x80", MSG_UNKNOWN),
    (b"CK2|demo-site|20261001|20261126|X", MSG_VERSION),
    (b"CK1|demo-site|20261001|20261126", MSG_UNKNOWN),  # no check character
    (b"CK1|Demo Site|20261001|20261126|X", MSG_UNKNOWN),
    (b"CK1|demo-site|2026-1001|20261126|X", MSG_UNKNOWN),
    (b"CK1|demo-site|20261001|20261332|X", MSG_UNKNOWN),  # no month 13
    (_bad_check(make_payload("demo-site", "20261001", "20261126")).encode(), MSG_CHECK),
    (b"x" * 600, MSG_UNKNOWN),
])
def test_foreign_and_broken_codes_are_refused(raw: bytes, screen: str) -> None:
    with pytest.raises(ScanError) as info:
        parse_scan(raw)
    assert info.value.screen == screen
    assert isinstance(info.value, ParseError)


def test_other_site_and_other_day_are_refused() -> None:
    scan = AppointmentScan("other-site", "20261001", "20261126")
    with pytest.raises(ScanError) as info:
        check_scan(scan, "demo-site", "20261126")
    assert info.value.screen == MSG_SITE
    with pytest.raises(ScanError) as info:
        check_scan(AppointmentScan("demo-site", "20261001", "20261127"), "demo-site",
                   "20261126")
    assert info.value.screen == "该预约的日期是2026年11月27日，不是今天，请按预约日期前来"
    check_scan(AppointmentScan("demo-site", "20261001", "20261126"), "demo-site", "20261126")


def test_payload_tool(capsys) -> None:
    assert main(["demo-site", "20261001", "20261126"]) == 0
    assert capsys.readouterr().out.strip() == make_payload("demo-site", "20261001", "20261126")
    assert main([]) == 2


# ----------------------------------------------------------------- the driver (sim)


class Desk:
    """A stand-in for the queue desk's check_in with the same reply shape."""

    def __init__(self, watcher: Watcher | None = None) -> None:
        self.codes: list[str] = []
        self.watcher = watcher

    def __call__(self, code: str) -> object:
        self.codes.append(code)
        if self.watcher is not None:  # a check-in is no core change: wake the test
            self.watcher.poke()
        ticket = type("T", (), {"number": "A007"})()
        return type("R", (), {"ok": True, "message": "签到成功，您的号码是 A007",
                              "ticket": ticket})()


@pytest.fixture
def started(core: Core) -> Iterator[Callable[[ScannerDriver], ScannerDriver]]:
    """Start a scanner on the core; closed (its reader thread stopped) after the test."""
    drivers: list[ScannerDriver] = []

    def start(driver: ScannerDriver) -> ScannerDriver:
        driver.start(core)
        drivers.append(driver)
        return driver

    yield start
    for driver in drivers:
        driver.close()


def test_sim_scan_checks_in_and_announces(core: Core, config: Config, clock, started) -> None:
    watcher = Watcher(core)
    desk = Desk()
    driver = started(registry.scanner(config, check_in=desk, clock=clock))
    scan = driver.control_commands()["scan"]
    code = make_payload(config.device.site, "20261001", _today(clock))
    reply = scan({"code": code})["reply"]
    assert reply == {"ok": True, "code": "20261001", "message": "签到成功，您的号码是 A007",
                     "ticket": "A007"}
    assert desk.codes == ["20261001"]
    assert watcher.notices() == [("签到成功，您的号码是 A007", "info")]


def test_sim_scan_garbage_changes_nothing(core: Core, config: Config, clock, started) -> None:
    watcher = Watcher(core)
    desk = Desk()
    driver = started(registry.scanner(config, check_in=desk, clock=clock))
    scan = driver.control_commands()["scan"]
    head = core.store.head()
    tomorrow = make_payload(config.device.site, "20261001", "20261127")
    for code in ("https://example.com/a?b=c", "hello", tomorrow,
                 make_payload("other-site", "20261001", _today(clock)), "CK1||||"):
        assert scan({"code": code})["reply"]["ok"] is False
    assert scan({})["ok"] is False
    assert desk.codes == [] and core.store.head() == head
    assert [k for _, k in watcher.notices()] == ["error"] * 5
    assert watcher.notices()[0][0] == MSG_URL
    assert watcher.notices()[2][0].startswith("该预约的日期是2026年11月27日")


def test_no_queue_desk_is_said_on_screen(core: Core, config: Config, clock, started) -> None:
    watcher = Watcher(core)
    driver = started(registry.scanner(config, clock=clock))
    core.__dict__.pop("queue", None)
    reply = driver.handle_scan(make_payload(config.device.site, "20261001",
                                            _today(clock)).encode())
    assert reply["ok"] is False and watcher.notices() == [(MSG_NO_QUEUE, "error")]


def test_scan_checks_in_with_the_real_queue_desk(make_counter, config: Config, clock) -> None:
    cfg = dataclasses.replace(config, queue=dataclasses.replace(
        config.queue, demo_appointments=True))
    counter = make_counter(cfg)
    core = counter.core
    # The scanner as the registry builds it: given the desk's check-in.
    driver = next(d for d in registry.build(cfg, desk=counter.desk, clock=clock)
                  if isinstance(d, ScannerDriver))
    driver.start(core)
    watcher = Watcher(core)
    reply = driver.handle_scan(make_payload(cfg.device.site, "20261001", _today(clock)).encode())
    assert reply["ok"] is True and reply["ticket"], reply
    assert EventType.APPOINTMENT_CHECKED_IN in watcher.event_types()
    # The same code again: the desk refuses (already checked in) and says why on screen.
    again = driver.handle_scan(make_payload(cfg.device.site, "20261001", _today(clock)).encode())
    assert again["ok"] is False and "已签到" in watcher.notices()[-1][0]
    driver.close()


# ----------------------------------------------------------------- serial line mode


@pytest.fixture
def serial_scanner(core: Core, config: Config, clock) -> Iterator[tuple[ScannerDriver, Pty,
                                                                       Desk]]:
    pty = Pty()
    desk = Desk()
    cfg = dataclasses.replace(config, scanner=dataclasses.replace(
        config.scanner, url=pty.path, retry_s=0.05))
    driver = registry.scanner(cfg, check_in=desk, clock=clock)
    driver.start(core)
    assert driver.connected.wait(5)
    yield driver, pty, desk
    driver.close()
    pty.close()


def test_serial_lines_cr_lf_and_crlf(core: Core, config: Config, clock, serial_scanner) -> None:
    _, pty, desk = serial_scanner
    watcher = desk.watcher = Watcher(core)
    codes = ["1001", "1002", "1003"]
    p = [make_payload(config.device.site, c, _today(clock)).encode() for c in codes]
    pty.write(p[0] + b"\r" + p[1] + b"\n" + p[2][:5])
    pty.write(p[2][5:] + b"\r\n")
    watcher.wait(lambda: len(desk.codes) == 3)
    assert desk.codes == codes


def test_serial_garbage_is_refused_on_screen(core: Core, config: Config, clock,
                                             serial_scanner) -> None:
    _, pty, desk = serial_scanner
    watcher = desk.watcher = Watcher(core)
    pty.write(b"\x00\xff\x13garbage\r")
    pty.write(b"A" * 5000 + b"\r")  # over scanner.max_line_bytes: dropped, refused once
    pty.write(b"https://example.com\r")
    watcher.wait(lambda: len(watcher.notices()) == 3)
    assert watcher.notices() == [(MSG_UNKNOWN, "error"), (MSG_UNKNOWN, "error"),
                                 (MSG_URL, "error")]
    assert desk.codes == []
    good = make_payload(config.device.site, "1004", _today(clock)).encode()
    pty.write(good + b"\r")
    watcher.wait(lambda: desk.codes == ["1004"])


def test_scanner_unplug_and_replug(core: Core, config: Config, clock, tmp_path) -> None:
    watcher = Watcher(core)
    port = Replug(tmp_path)
    desk = Desk(watcher)
    cfg = dataclasses.replace(config, scanner=dataclasses.replace(
        config.scanner, url=port.url, retry_s=0.05))
    driver = registry.scanner(cfg, check_in=desk, clock=clock)
    driver.start(core)
    try:
        assert driver.connected.wait(5)
        port.unplug()
        watcher.wait(lambda: core.faults.get("scanner") == "gone")
        pty = port.plug()
        watcher.wait(lambda: EventType.DEVICE_RECOVERED in watcher.event_types())
        assert driver.connected.wait(5)
        pty.write(make_payload(config.device.site, "1005", _today(clock)).encode() + b"\n")
        watcher.wait(lambda: desk.codes == ["1005"])
    finally:
        driver.close()
        port.pty.close()
