"""A failing disk plus a device fault must not leave the counter deaf (issue 9, item 14).

Core.fault / Core.recovered are called from driver threads: the serial read loops (link,
scanner), the sign writer, the sound worker and gpiozero's callbacks. With a store that
refuses every write (PRAGMA query_only, a real SQLite refusal), each driver here raises a
fault and recovers, and keeps doing its job afterwards."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from gpiozero.pins.mock import MockFactory, MockPin

from device.config import Config
from device.core import Change, Core
from device.intents import Press
from device.store import Store
from drivers import registry
from drivers.gpio import ButtonPanel
from drivers.scanner import make_payload
from drivers.sign.emulator import SignEmulator
from tests.serial_helpers import FakeDevice, Pty, Replug


class Faults:
    """Wakes the test on every core change (a fault held in memory is one too)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self._cond = threading.Condition()
        core.subscribe(self._on_change)

    def _on_change(self, _change: Change) -> None:
        with self._cond:
            self._cond.notify_all()

    def wait(self, pred: Callable[[dict[str, str]], bool], timeout: float = 10.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: pred(dict(self.core.faults)), timeout), \
                dict(self.core.faults)


@pytest.fixture
def failing(store: Store) -> Iterator[Store]:
    store.conn.execute("PRAGMA query_only = 1")  # the disk refuses every write
    yield store
    store.conn.execute("PRAGMA query_only = 0")


def _written(store: Store) -> list[tuple[str, str]]:
    return [(json.loads(b)["type"], json.loads(b)["data"].get("component", ""))
            for (b,) in store.query("SELECT body FROM events ORDER BY seq")]


def _ask(pty: Pty, msg: dict) -> dict:
    pty.write(json.dumps(msg).encode() + b"\n")
    return json.loads(pty.read_until(b"\n").decode())


def test_serial_link_survives_a_fault_it_cannot_record(core: Core, config: Config,
                                                       failing: Store, tmp_path: Path) -> None:
    faults = Faults(core)
    port = Replug(tmp_path)
    link = registry.link(dataclasses.replace(config.link, url=port.url, retry_s=0.05))
    link.start(core)
    try:
        assert link.connected.wait(5)
        port.unplug()
        faults.wait(lambda f: f.get("link") == "gone")
        pty = port.plug()
        faults.wait(lambda f: "link" not in f)
        # The read loop still answers (a refused line needs no commit) ...
        assert _ask(pty, {"op": "back"})["error"] == "the counter is not away"
        failing.conn.execute("PRAGMA query_only = 0")
        # ... and once the disk is back, its lines are recorded with the outage's record.
        assert _ask(pty, {"op": "away", "reason": "开会", "return_at": "10:00"})["ok"]
        assert ("device.fault", "link") in _written(failing)
        assert ("device.recovered", "link") in _written(failing)
    finally:
        link.close()
        port.pty.close()


def test_scanner_survives_a_fault_it_cannot_record(core: Core, config: Config, clock,
                                                   failing: Store, tmp_path: Path) -> None:
    faults = Faults(core)
    port = Replug(tmp_path)
    codes: list[str] = []
    got = threading.Event()

    def check_in(code: str) -> object:
        codes.append(code)
        got.set()
        return type("R", (), {"ok": True, "message": "签到成功", "ticket": None})()

    cfg = dataclasses.replace(config, scanner=dataclasses.replace(
        config.scanner, url=port.url, retry_s=0.05))
    driver = registry.scanner(cfg, check_in=check_in, clock=clock)
    driver.start(core)
    try:
        assert driver.connected.wait(5)
        port.unplug()
        faults.wait(lambda f: f.get("scanner") == "gone")
        pty = port.plug()
        faults.wait(lambda f: "scanner" not in f)
        day = datetime.fromtimestamp(clock.now, ZoneInfo(config.device.timezone)).strftime(
            "%Y%m%d")
        pty.write(make_payload(config.device.site, "1005", day).encode() + b"\r")
        assert got.wait(5) and codes == ["1005"]
    finally:
        driver.close()
        port.pty.close()


def test_sign_writer_survives_a_fault_it_cannot_record(core: Core, config: Config,
                                                       failing: Store) -> None:
    faults = Faults(core)
    pty = Pty()
    emu = SignEmulator()
    emu.set_mute(10**9)  # the sign does not answer
    fake = FakeDevice(pty, emu.feed)
    sign = dataclasses.replace(config.sign, url=pty.path, reply_timeout_s=0.2, retry_s=0.05,
                               retries=1)
    driver = registry.sign(dataclasses.replace(config, sign=sign))
    driver.start(core)
    try:
        faults.wait(lambda f: f.get("sign") == "no_reply")
        emu.set_mute(0)
        assert driver.wait_idle(5)
        faults.wait(lambda f: "sign" not in f)
        failing.conn.execute("PRAGMA query_only = 0")
        core.submit(Press("away"))
        assert driver.wait_idle(5) and emu.text("status") == "暂时离开"
    finally:
        driver.close()
        fake.stop()
        pty.close()


def test_sound_worker_survives_a_fault_it_cannot_record(core: Core, config: Config,
                                                        failing: Store, tmp_path: Path,
                                                        monkeypatch) -> None:
    # The OS boundary: the aplay binary. This one fails while the flag file exists.
    flag = tmp_path / "no-card"
    flag.touch()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "aplay").write_text(
        f"#!/bin/sh\nif [ -e {flag} ]; then echo 'audio open error' >&2; exit 1; fi\n")
    (bin_dir / "aplay").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    faults = Faults(core)
    sound = registry.sound(dataclasses.replace(config.sound, player="aplay"))
    sound.start(core)
    try:
        assert sound.backend == "aplay"
        sound.play(["greeting"])
        faults.wait(lambda f: f.get("sound") == "play_failed")
        flag.unlink()
        sound.play(["greeting"])  # the worker is alive: it plays, and recovers
        faults.wait(lambda f: "sound" not in f)
    finally:
        sound.close()


def test_gpio_callbacks_survive_a_fault_they_cannot_record(core: Core, config: Config,
                                                           failing: Store) -> None:
    factory = MockFactory()
    gpio = dataclasses.replace(config.gpio, stuck_s=0.4)  # gpiozero's hold timer fires
    panel = ButtonPanel(gpio, pin_factory=factory)
    panel.start(core)
    faults = Faults(core)
    try:
        pin = factory.pin(gpio.next_pin)
        pin.drive_low()  # pressed (not recorded: the disk refuses) and held
        faults.wait(lambda f: f.get("button.next") == "stuck")
        pin.drive_high()  # released: gpiozero's callback must not get an exception
        assert "button.next" not in core.faults
        failing.conn.execute("PRAGMA query_only = 0")
        away = factory.pin(gpio.away_pin)
        away.drive_low()
        away.drive_high()
        assert core.state.away is not None  # every button still works
        assert factory.pin(gpio.away_led_pin).state is True
        assert ("device.fault", "button.next") in _written(failing)
        assert ("device.recovered", "button.next") in _written(failing)
    finally:
        panel.close()
        factory.reset()


class ReleasedWhileRead(MockPin):
    """A pin released by the citizen just as the stuck watchdog reads it: the read still
    says "pressed", but the release edge has already been handled."""

    release_on_read = False

    def _get_state(self) -> bool:
        state = self._state
        if self.release_on_read:
            self.release_on_read = False
            self.drive_high()  # the release edge fires its callback right here
        return state


def test_a_release_during_the_stuck_check_leaves_no_stuck_fault(core: Core,
                                                                config: Config) -> None:
    factory = MockFactory(pin_class=ReleasedWhileRead)
    t = [1000.0]
    panel = ButtonPanel(config.gpio, pin_factory=factory, monotonic=lambda: t[0])
    panel.start(core)
    try:
        pin = factory.pin(config.gpio.next_pin)
        pin.drive_low()
        t[0] += config.gpio.stuck_s + 1  # down for longer than stuck_s
        pin.release_on_read = True
        panel.check_stuck()
        assert "button.next" not in core.faults  # it is up: no fault that never clears
    finally:
        panel.close()
        factory.reset()
