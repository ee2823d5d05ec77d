"""GPIO: the five-button rating pad, the officer's away and next buttons, their LEDs and
the buzzer, through gpiozero with the pin factory drivers/registry.py builds from config
(:func:`make_pin_factory`); :class:`ButtonPanel` only ever uses the factory it is given.

``pin_factory = "mock"`` uses gpiozero's own MockFactory (simulation and tests: `kiosk sim
press NAME` drives the mock pin, so the real gpiozero callback path runs). ``lgpio``
works on a Pi 5 and a Pi 4 (Bookworm and later). Buttons are wired to ground with the
internal pull-up (active low); see docs/wiring.md.

A press fires at once (the citizen sees the pad light), once per ``gpio.bounce_ms``.
A button that stays down longer than ``gpio.stuck_s`` (a jammed key, a shorted cable, a
bag on the pad) raises ``device.fault`` ``button.NAME`` "stuck" and fires nothing more
until it is released, which clears the fault. The check runs on the driver's own
watchdog thread against ``monotonic`` (tests call :meth:`ButtonPanel.check_stuck` with
their own clock) and on gpiozero's hold timer; whichever sees it first records it.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from device.codes import Fault
from device.config import GpioSection
from device.core import Change, Core
from device.counter import Mode
from device.errors import ConfigError
from device.events import EventType
from device.intents import BUTTONS, Press
from drivers.base import BaseDriver, ControlHandler

log = logging.getLogger("gpio")


@dataclass(frozen=True)
class PinLibrary:
    """A real pin factory: gpiozero's module and class for it, and the pin library that
    module imports (not a dependency of gpiozero: the OS or the lock brings it)."""

    module: str
    factory: str
    library: str
    fix: str


PIN_FACTORIES: dict[str, PinLibrary] = {
    "lgpio": PinLibrary(
        "gpiozero.pins.lgpio", "LGPIOFactory", "lgpio",
        "on Raspberry Pi OS: sudo apt install python3-lgpio; on Debian 12 arm64 (Python "
        "3.11) the lock installs the lgpio wheel: run systemd/install.sh again; elsewhere "
        "(Debian 13 has neither) install python3-lgpio from the Raspberry Pi archive "
        "(docs/deployment.md, 'The pin library')"),
    "rpigpio": PinLibrary(
        "gpiozero.pins.rpigpio", "RPiGPIOFactory", "RPi.GPIO",
        "sudo apt install python3-rpi.gpio (Pi 4 and older only; on a Pi 5 use "
        "pin_factory = \"lgpio\")"),
    "native": PinLibrary("gpiozero.pins.native", "NativeFactory", "", ""),
}


class PinLibraryMissing(ConfigError):
    """The configured pin factory's library is not installed: the counter cannot start
    (exit 2, so systemd does not restart it forever); the message says how to get it."""


def make_pin_factory(name: str) -> Any:
    """Build the gpiozero pin factory named in config (imported only when asked for).

    Raises :class:`PinLibraryMissing` when its pin library is not installed."""
    if name == "mock":
        from gpiozero.pins.mock import MockFactory

        from drivers.mockpins import BoundedMockPin

        return MockFactory(pin_class=BoundedMockPin)
    if name not in PIN_FACTORIES:
        raise ValueError(f"unknown pin factory {name!r}")
    lib = PIN_FACTORIES[name]
    try:
        module = importlib.import_module(lib.module)
    except ImportError as exc:
        raise PinLibraryMissing(
            f"[gpio] pin_factory = {name!r} needs the Python module "
            f"{lib.library or exc.name}, which is not installed ({exc}). Fix: {lib.fix}; or "
            "set pin_factory = \"mock\" to run without the buttons",
            key="gpio.pin_factory") from exc
    return getattr(module, lib.factory)()


class ButtonPanel(BaseDriver):
    """Rating pad + officer buttons + LEDs + buzzer on one pin factory."""

    name = "gpio"

    def __init__(self, cfg: GpioSection, pin_factory: Any,
                 monotonic: Any = time.monotonic, *, simulated: bool = False) -> None:
        """``simulated``: the factory is the mock one `kiosk sim press` may drive (the
        registry says so; a real panel offers no commands that fake a press)."""
        self.cfg = cfg
        self.factory = pin_factory
        self.simulated = simulated
        self._monotonic = monotonic
        self._last_press: dict[str, float] = {}
        self._down_since: dict[str, float] = {}  # buttons down now, since when
        self._press_lock = threading.Lock()
        self._failed = threading.local()  # why this thread's last press was not recorded
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None
        self.buttons: dict[str, Any] = {}
        self.leds: dict[str, Any] = {}
        self.away_led: Any = None
        self.buzzer: Any = None

    def pins(self) -> dict[str, int]:
        return {**self.cfg.rating_pins.as_dict(), "away": self.cfg.away_pin,
                "next": self.cfg.next_pin}

    def start(self, core: Core) -> None:
        from gpiozero import LED, Button, Buzzer

        self.core = core
        for name, pin in self.pins().items():
            # Debounce in software (below) so the mock and real pins behave the same.
            # Stuck: gpiozero's hold timer (real time) and our watchdog (our clock),
            # whichever sees it first; the fault is recorded once.
            button = Button(pin, pull_up=True, hold_time=self.cfg.stuck_s,
                            pin_factory=self.factory)
            button.when_pressed = lambda _d=None, n=name: self._pressed(n)
            button.when_held = lambda _d=None, n=name: self._held(n)
            button.when_released = lambda _d=None, n=name: self._released(n)
            self.buttons[name] = button
            if button.is_pressed:
                # Down before we looked: never a press, and stuck until released.
                self._down_since[name] = self._monotonic()
                core.fault(f"button.{name}", Fault.STUCK, f"pressed at start-up (BCM {pin})")
        for name, pin in self.cfg.rating_led_pins.as_dict().items():
            self.leds[name] = LED(pin, pin_factory=self.factory)
        self.away_led = LED(self.cfg.away_led_pin, pin_factory=self.factory)
        self.buzzer = Buzzer(self.cfg.buzzer_pin, pin_factory=self.factory)
        core.subscribe(self.on_change)
        self._show(core.state.mode, core.state.away is not None)
        self._watchdog = threading.Thread(target=self._watch, name="gpio-stuck", daemon=True)
        self._watchdog.start()

    def close(self) -> None:
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=5)
        for dev in [*self.buttons.values(), *self.leds.values(), self.away_led, self.buzzer]:
            if dev is not None:
                dev.close()
        self.buttons.clear()
        self.leds.clear()

    # ------------------------------------------------------------------ inputs

    def _pressed(self, name: str) -> None:
        now = self._monotonic()
        with self._press_lock:
            self._down_since.setdefault(name, now)
            last = self._last_press.get(name)
            if last is not None and now - last < self.cfg.bounce_ms / 1000:
                return  # contact bounce
            self._last_press[name] = now
        if f"button.{name}" in self.core.faults:
            return  # a stuck button fires nothing until it is released
        self._failed.error = ""
        try:
            self.core.submit(Press(name, source="pad"))
        except Exception as exc:
            # Not committed, so no LED says it was taken; the citizen presses again. It
            # must not escape into the pin library's callback thread: lgpio's dies with
            # it, and every button with it.
            log.exception("gpio: press of %s not recorded", name)
            self._failed.error = str(exc)

    def _held(self, name: str) -> None:
        self.core.fault(f"button.{name}", Fault.STUCK,
                        f"held for more than {self.cfg.stuck_s:g} s (BCM {self.pins()[name]})")

    def _released(self, name: str) -> None:
        with self._press_lock:
            self._down_since.pop(name, None)
        if f"button.{name}" in self.core.faults:
            self.core.recovered(f"button.{name}")

    def check_stuck(self) -> list[str]:
        """Fault every button down for longer than ``stuck_s``; returns their names."""
        now = self._monotonic()
        with self._press_lock:
            down = dict(self._down_since)
        stuck = []
        for name, since in down.items():
            button = self.buttons.get(name)
            # Trust the pin, not only our edge bookkeeping (a missed release edge).
            if button is None or not button.is_pressed:
                self._released(name)
                continue
            if now - since >= self.cfg.stuck_s:
                with self._press_lock:
                    # Released since the pin was read: the release already ran, and a
                    # fault recorded now would never be cleared.
                    if name not in self._down_since:
                        continue
                    stuck.append(name)
                    self.core.fault(f"button.{name}", Fault.STUCK,
                                    f"held for more than {self.cfg.stuck_s:g} s "
                                    f"(BCM {self.pins()[name]})")
        return stuck

    def _watch(self) -> None:
        interval = min(1.0, self.cfg.stuck_s / 4)
        while not self._stop.wait(interval):
            try:
                self.check_stuck()
            except Exception:  # a closed pin during shutdown must not kill the thread
                log.exception("gpio: stuck check failed")

    # ------------------------------------------------------------------ feedback

    def on_change(self, change: Change) -> None:
        given = next((e for e in change.events if e.type == EventType.RATING_GIVEN), None)
        if given is not None:
            # Light only the chosen level: the citizen sees their press was taken.
            level = str(given.data["level"])
            for name, led in self.leds.items():
                led.value = name == level
        elif change.before.mode != change.after.mode:
            self._show(change.after.mode, change.after.away is not None)
        if change.refused and isinstance(change.intent, Press) and change.intent.button in (
                "away", "next"):
            # The officer's button did nothing: say so with a short double beep.
            self.buzzer.blink(on_time=0.05, off_time=0.05, n=2, background=True)

    def _show(self, mode: Mode, away: bool) -> None:
        for led in self.leds.values():
            led.value = mode is Mode.RATING  # lit pad = "please rate now"
        self.away_led.value = away

    # ------------------------------------------------------------------ simulation

    def control_commands(self) -> dict[str, ControlHandler]:
        if not self.simulated:
            return {}
        return {"press": self._sim_press, "pins": self._sim_pins, "hold": self._sim_hold}

    def _sim_press(self, req: dict[str, Any]) -> dict[str, Any]:
        name = req.get("button")
        if name not in self.buttons:
            return {"ok": False, "error": f"unknown button {name!r}; buttons are "
                    + ", ".join(BUTTONS)}
        pin = self.factory.pin(self.pins()[name])
        self.core.clear_last_outcome()
        self._failed.error = ""
        pin.drive_low()  # gpiozero's callback runs here, synchronously, on this thread
        pin.drive_high()
        if self._failed.error:
            return {"ok": False, "error": f"the press was not recorded: {self._failed.error}"}
        outcome = self.core.last_outcome()
        if outcome is None:
            return {"ok": True, "taken": False, "reason": "debounced or ignored", "events": []}
        return {"ok": True, "taken": outcome.ok, "reason": outcome.reason,
                "events": [{"seq": e.seq, "type": e.type, "data": dict(e.data)}
                           for e in outcome.events], "mode": outcome.state.mode.value}

    def _sim_hold(self, req: dict[str, Any]) -> dict[str, Any]:
        """Hold a button down (``"down": true``) or let it go: try the stuck-button fault
        with `kiosk sim raw '{"cmd":"hold","button":"next"}'`."""
        name = req.get("button")
        if name not in self.buttons:
            return {"ok": False, "error": f"unknown button {name!r}; buttons are "
                    + ", ".join(BUTTONS)}
        pin = self.factory.pin(self.pins()[name])
        if req.get("down", True):
            pin.drive_low()
        else:
            pin.drive_high()
        return {"ok": True, "button": name, "down": self.buttons[name].is_pressed}

    def _sim_pins(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True,
                "leds": {n: bool(led.value) for n, led in self.leds.items()},
                "away_led": bool(self.away_led.value),
                "buttons": {n: b.is_pressed for n, b in self.buttons.items()}}
