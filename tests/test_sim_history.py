"""A simulated kiosk runs for days (`kiosk run --simulate`, demos, bench/soak.py): what
its simulated devices remember is bounded. Found by the headless soak: the counter grew
~0.5 MB per 1,000 events, all of it gpiozero's mock-pin history and the sign emulator's
frame list."""

from __future__ import annotations

from drivers import mockpins, sign
from drivers.gpio import make_pin_factory


def test_mock_pins_of_a_simulated_counter_keep_a_bounded_history():
    from gpiozero import LED

    factory = make_pin_factory("mock")
    try:
        led = LED(17, pin_factory=factory)
        for _ in range(3 * mockpins.HISTORY):
            led.toggle()
        states = [s.state for s in led.pin.states]
        assert len(states) <= 2 * mockpins.HISTORY
        assert states[-1] is led.is_lit  # the newest change is kept
        assert states[-2] is not led.is_lit
        led.close()
    finally:
        factory.reset()


def test_sign_emulator_keeps_the_newest_frames_only():
    emu = sign.SignEmulator()
    total = 3 * sign.HISTORY
    for i in range(total):
        emu.feed(sign.write_frame(0x1000, i.to_bytes(2, "big")))
    assert len(emu.frames) <= 2 * sign.HISTORY
    assert emu.frames[-1].data == (total - 1).to_bytes(2, "big")
    assert emu.memory[0x2000:0x2002] == (total - 1).to_bytes(2, "big")  # still applied
