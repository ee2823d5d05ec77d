"""The GPIO panel on gpiozero's MockFactory: presses through mock pins reach the store, the
LEDs and buzzer show what was committed, contact bounce gives one press."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory, MockPin

from device.codes import Refusal
from device.config import Config
from device.core import Change, Core
from device.counter import Mode
from device.intents import Press
from device.store import Store
from drivers.gpio import ButtonPanel


class WatchedPin(MockPin):
    """A mock pin that lets a test wait for its state changes (the buzzer blinks on its
    own thread) without sleeping."""

    changed = threading.Condition()

    def _change_state(self, value: bool) -> bool:
        with WatchedPin.changed:
            done = super()._change_state(value)
            WatchedPin.changed.notify_all()
        return done

    def wait_states(self, n: int, timeout: float = 5.0) -> list[bool]:
        with WatchedPin.changed:
            WatchedPin.changed.wait_for(lambda: len(self.states) >= n, timeout)
        return [s.state for s in self.states]


class Mono:
    """A monotonic clock the test moves (contact bounce is measured on it)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory(pin_class=WatchedPin)
    yield f
    f.reset()  # close() does not release mock pins (gpiozero#1087)


@pytest.fixture
def mono() -> Mono:
    return Mono()


@pytest.fixture
def panel(config: Config, core: Core, factory: MockFactory, mono: Mono) -> Iterator[ButtonPanel]:
    p = ButtonPanel(config.gpio, pin_factory=factory, monotonic=mono, simulated=True)
    p.start(core)
    yield p
    p.close()


def press(factory: MockFactory, bcm: int) -> None:
    pin = factory.pin(bcm)
    pin.drive_low()  # buttons are active low: wired to ground with the pull-up
    pin.drive_high()


def led_states(config: Config, factory: MockFactory) -> dict[str, bool]:
    return {name: factory.pin(bcm).state
            for name, bcm in config.gpio.rating_led_pins.as_dict().items()}


def stored_types(store: Store) -> list[str]:
    return [e["type"] for e in store.events()]


def test_press_through_a_mock_pin_is_stored(config: Config, core: Core, store: Store,
                                            factory: MockFactory, panel: ButtonPanel,
                                            mono: Mono) -> None:
    g = config.gpio
    press(factory, g.next_pin)
    mono.t += 1
    press(factory, g.next_pin)
    mono.t += 1
    press(factory, g.rating_pins.basic)
    assert stored_types(store) == ["case.started", "case.ended", "rating.given"]
    assert store.events()[-1]["data"]["level"] == "basic"
    assert store.events()[-1]["data"]["source"] == "pad"


def test_pad_is_lit_while_rating_then_only_the_chosen_led(config: Config, core: Core,
                                                          factory: MockFactory,
                                                          panel: ButtonPanel,
                                                          mono: Mono) -> None:
    g = config.gpio
    assert set(led_states(config, factory).values()) == {False}
    press(factory, g.next_pin)
    assert set(led_states(config, factory).values()) == {False}  # serving: dark
    mono.t += 1
    press(factory, g.next_pin)
    assert core.state.mode is Mode.RATING
    assert set(led_states(config, factory).values()) == {True}  # "please rate now"
    press(factory, g.rating_pins.unsatisfied)
    assert led_states(config, factory) == {"very_satisfied": False, "satisfied": False,
                                           "basic": False, "unsatisfied": True,
                                           "very_unsatisfied": False}


def test_away_led_follows_the_away_state(config: Config, core: Core, factory: MockFactory,
                                         panel: ButtonPanel, mono: Mono) -> None:
    g = config.gpio
    led = factory.pin(g.away_led_pin)
    assert led.state is False
    press(factory, g.away_pin)
    assert core.state.mode is Mode.AWAY and led.state is True
    mono.t += 1
    press(factory, g.away_pin)
    assert core.state.mode is Mode.IDLE and led.state is False


def test_bounce_within_bounce_ms_is_one_press(config: Config, core: Core, store: Store,
                                              factory: MockFactory, panel: ButtonPanel,
                                              mono: Mono) -> None:
    g = config.gpio
    press(factory, g.next_pin)
    mono.t += 1
    press(factory, g.next_pin)  # rating now
    changes: list[Change] = []
    core.subscribe(changes.append)
    press(factory, g.rating_pins.satisfied)
    mono.t += (g.bounce_ms - 10) / 1000  # the contact bounces
    press(factory, g.rating_pins.satisfied)
    assert stored_types(store).count("rating.given") == 1
    assert len(changes) == 1  # the bounce never reached the core (not even as a refusal)
    mono.t += 1  # a real second press, after the bounce window: refused, not stored
    press(factory, g.rating_pins.satisfied)
    assert stored_types(store).count("rating.given") == 1
    assert changes[-1].refused is Refusal.RATED


def test_bounce_is_per_button(config: Config, core: Core, store: Store,
                              factory: MockFactory, panel: ButtonPanel) -> None:
    g = config.gpio
    changes: list[Change] = []
    core.subscribe(changes.append)
    press(factory, g.next_pin)
    press(factory, g.away_pin)  # another button at the same instant is a real press
    assert [c.intent for c in changes] == [Press("next", "pad"), Press("away", "pad")]
    assert changes[1].refused is Refusal.END_CASE_FIRST  # it reached the core (and was refused)
    assert stored_types(store) == ["case.started"]


def test_buzzer_beeps_on_a_refused_officer_press(config: Config, core: Core,
                                                 factory: MockFactory, panel: ButtonPanel,
                                                 mono: Mono) -> None:
    g = config.gpio
    buzzer = factory.pin(g.buzzer_pin)
    assert isinstance(buzzer, WatchedPin)
    press(factory, g.next_pin)
    assert [s.state for s in buzzer.states] == [False]  # taken: no beep
    mono.t += 1
    press(factory, g.away_pin)  # away mid-case: refused
    assert buzzer.wait_states(5)[:5] == [False, True, False, True, False]  # double beep


def test_sim_press_reports_what_the_core_did(config: Config, core: Core,
                                             factory: MockFactory, panel: ButtonPanel,
                                             mono: Mono) -> None:
    handlers = panel.control_commands()
    reply = handlers["press"]({"cmd": "press", "button": "satisfied"})
    assert reply == {"ok": True, "taken": False, "reason": "no case to rate", "events": [],
                     "mode": "idle"}
    reply = handlers["press"]({"cmd": "press", "button": "next"})
    assert reply["taken"] and reply["events"][0]["type"] == "case.started"
    reply = handlers["press"]({"cmd": "press", "button": "next"})  # same instant: bounce
    assert reply == {"ok": True, "taken": False, "reason": "debounced or ignored",
                     "events": []}
    reply = handlers["press"]({"cmd": "press", "button": "nope"})
    assert reply["ok"] is False and "unknown button 'nope'" in reply["error"]
    pins = handlers["pins"]({"cmd": "pins"})
    assert pins["away_led"] is False and set(pins["leds"].values()) == {False}


def test_real_factory_offers_no_sim_commands(config: Config, factory: MockFactory) -> None:
    cfg = dataclasses.replace(config.gpio, pin_factory="lgpio")
    assert ButtonPanel(cfg, pin_factory=factory).control_commands() == {}



def test_failed_commit_keeps_the_buttons_alive(config: Config, core: Core, store: Store,
                                               factory: MockFactory, panel: ButtonPanel,
                                               mono: Mono) -> None:
    g = config.gpio
    store.conn.execute("PRAGMA query_only = 1")  # the disk refuses writes
    press(factory, g.next_pin)  # must not raise into the pin library's callback
    assert core.state.mode is Mode.IDLE and stored_types(store) == []
    assert set(led_states(config, factory).values()) == {False}
    reply = panel.control_commands()["press"]({"cmd": "press", "button": "away"})
    assert reply["ok"] is False and "not recorded" in reply["error"]
    assert factory.pin(g.away_led_pin).state is False  # no feedback for what is not stored
    store.conn.execute("PRAGMA query_only = 0")
    mono.t += 1
    press(factory, g.next_pin)  # the same button works again
    assert stored_types(store) == ["case.started", "device.fault", "device.recovered"]
