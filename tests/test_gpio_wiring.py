"""GPIO on gpiozero's MockFactory: the documented wiring matches the config, buttons are
active low with pull-ups, debounce, stuck buttons fault instead of firing and recover on
release, LEDs and the buzzer follow the counter."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory, MockPin

from device.config import GpioSection
from device.core import Core
from device.counter import Mode
from device.events import EventType
from drivers.gpio import ButtonPanel, make_pin_factory
from tests.conftest import FakeClock

DOC = Path(__file__).resolve().parent.parent / "docs" / "wiring.md"


class Mono(FakeClock):
    """A monotonic clock the test moves by hand."""


@pytest.fixture
def mono() -> Mono:
    return Mono(1000.0)


@pytest.fixture
def panel(core: Core, mono: Mono) -> Iterator[ButtonPanel]:
    factory = MockFactory()
    p = ButtonPanel(GpioSection(), pin_factory=factory, monotonic=mono)
    p.start(core)
    yield p
    p.close()
    factory.reset()


def _types(core: Core) -> list[str]:
    rows = core.store.query("SELECT type FROM events ORDER BY seq")
    return [r[0] for r in rows]


def _pin(panel: ButtonPanel, name: str):
    return panel.factory.pin(panel.pins()[name])


def test_wiring_doc_matches_config_defaults() -> None:
    """Every pin in config's defaults is in the doc's table with the same BCM number."""
    text = DOC.read_text(encoding="utf-8")
    rows = {m.group(1): int(m.group(2)) for m in re.finditer(
        r"^\|[^|]*\| `([a-z_.]+)` \| (\d+) \|", text, re.MULTILINE)}
    g = GpioSection()
    expected = {f"rating_pins.{k}": v for k, v in g.rating_pins.as_dict().items()}
    expected |= {f"rating_led_pins.{k}": v for k, v in g.rating_led_pins.as_dict().items()}
    expected |= {"away_pin": g.away_pin, "next_pin": g.next_pin,
                 "away_led_pin": g.away_led_pin, "buzzer_pin": g.buzzer_pin}
    assert rows == expected


def test_buttons_are_active_low_with_pull_ups(core: Core, panel: ButtonPanel,
                                              mono: Mono) -> None:
    for name in panel.pins():
        pin = _pin(panel, name)
        assert pin.pull == "up" and pin.state is True  # released reads high
    pin = _pin(panel, "next")
    pin.drive_low()
    assert core.state.mode is Mode.SERVING
    pin.drive_high()
    assert _types(core)[-1] == EventType.CASE_STARTED


def test_debounce(core: Core, panel: ButtonPanel, mono: Mono) -> None:
    pin = _pin(panel, "next")
    pin.drive_low()
    for _ in range(3):  # contact bounce within 50 ms: one press
        mono.advance(0.005)
        pin.drive_high()
        mono.advance(0.005)
        pin.drive_low()
    pin.drive_high()
    assert core.state.mode is Mode.SERVING and _types(core).count(EventType.CASE_STARTED) == 1
    mono.advance(0.2)
    pin.drive_low()  # a real second press: ends the case
    pin.drive_high()
    assert core.state.mode is Mode.RATING


def test_stuck_button_faults_instead_of_firing_and_recovers(core: Core, panel: ButtonPanel,
                                                            mono: Mono) -> None:
    pin = _pin(panel, "away")
    pin.drive_low()  # pressed: the away board goes up at once
    assert core.state.mode is Mode.AWAY
    mono.advance(9.9)
    assert panel.check_stuck() == [] and "button.away" not in core.faults
    mono.advance(0.2)
    assert panel.check_stuck() == ["away"]
    assert core.faults["button.away"] == "stuck"
    panel.check_stuck()  # recorded once, not once per check
    assert _types(core).count(EventType.DEVICE_FAULT) == 1
    pin.drive_high()  # released: recovered, and the button works again
    assert "button.away" not in core.faults and _types(core)[-1] == EventType.DEVICE_RECOVERED
    mono.advance(1)
    pin.drive_low()
    pin.drive_high()
    assert core.state.mode is Mode.IDLE  # came back


def test_button_down_at_start_up_is_stuck_not_a_press(core: Core, mono: Mono) -> None:
    class Shorted(MockPin):
        """A button shorted to ground: the pull-up cannot raise the pin."""

        def _set_pull(self, value: str) -> None:
            super()._set_pull(value)
            if self.info.name == "GPIO24" and self.shorted:
                self.drive_low()

        shorted = True

    factory = MockFactory(pin_class=Shorted)  # "next" (BCM 24) is down from the start
    panel = ButtonPanel(GpioSection(), pin_factory=factory, monotonic=mono)
    try:
        panel.start(core)
        assert core.faults == {"button.next": "stuck"}
        assert core.state.mode is Mode.IDLE  # nothing fired
        mono.advance(20)
        panel.check_stuck()
        pin = factory.pin(24)
        pin.shorted = False  # the short is fixed
        pin.drive_high()
        assert core.faults == {}
        assert _types(core).count(EventType.CASE_STARTED) == 0
    finally:
        panel.close()
        factory.reset()


def test_missed_release_edge_is_cleared_by_the_check(core: Core, panel: ButtonPanel,
                                                     mono: Mono) -> None:
    pin = _pin(panel, "next")
    pin.drive_low()
    panel.buttons["next"].when_released = None  # lose the release edge
    pin.drive_high()
    mono.advance(60)
    assert panel.check_stuck() == [] and "button.next" not in core.faults


def test_leds_and_buzzer_follow_the_counter(core: Core, panel: ButtonPanel,
                                            mono: Mono) -> None:
    led_pins = {n: panel.factory.pin(p) for n, p in GpioSection().rating_led_pins.as_dict()
                .items()}
    assert not any(p.state for p in led_pins.values())
    nxt = _pin(panel, "next")
    nxt.drive_low()
    nxt.drive_high()
    mono.advance(1)
    nxt.drive_low()  # end the case: please rate, every pad LED lit
    nxt.drive_high()
    assert all(p.state for p in led_pins.values())
    sat = _pin(panel, "satisfied")
    sat.drive_low()
    sat.drive_high()
    assert {n for n, p in led_pins.items() if p.state} == {"satisfied"}
    # Away: the away LED is lit; the officer's next does nothing then: a double beep.
    away = _pin(panel, "away")
    mono.advance(1)
    away.drive_low()
    away.drive_high()
    assert panel.factory.pin(GpioSection().away_led_pin).state is True
    buzzer = panel.factory.pin(GpioSection().buzzer_pin)
    buzzer.clear_states()
    mono.advance(1)
    nxt.drive_low()
    nxt.drive_high()
    panel.buzzer._blink_thread.join(5)
    assert [s.state for s in buzzer.states] == [False, True, False, True, False]


def test_pin_factories() -> None:
    assert isinstance(make_pin_factory("mock"), MockFactory)
    with pytest.raises(ValueError, match="unknown pin factory"):
        make_pin_factory("wiringpi")
