"""gpiozero's mock pins for ``pin_factory = "mock"`` (`kiosk run --simulate`), with a
bounded history.

gpiozero's MockPin appends every state change to ``pin.states`` so tests can assert on
them; in a simulated kiosk that runs for days the list only grows (about 0.25 MB per
1,000 events across the pad's LEDs and the buzzer, bench/soak.py headless). The newest
``HISTORY`` changes are plenty for `kiosk sim` and for anyone looking at a running demo.
"""

from __future__ import annotations

from gpiozero.pins.mock import MockPin

HISTORY = 1000


class BoundedMockPin(MockPin):
    def _change_state(self, value: bool) -> bool:
        changed = bool(super()._change_state(value))
        if len(self.states) > 2 * HISTORY:
            del self.states[:-HISTORY]  # in chunks: one copy per HISTORY changes
        return changed
