"""The serial tests' watcher re-checks its condition on core changes, never on a clock."""

from __future__ import annotations

import threading

import pytest

from device.core import Core
from device.intents import Press
from tests.serial_helpers import Watcher


def test_watcher_waits_on_core_changes_not_a_clock(core: Core) -> None:
    watcher = Watcher(core)
    checks: list[int] = []

    def never() -> bool:
        checks.append(1)
        return False

    with pytest.raises(TimeoutError):
        watcher.wait(never, timeout=0.5)
    assert len(checks) <= 2  # before waiting and at the deadline

    pressed = threading.Thread(target=core.submit, args=(Press("away"),))
    pressed.start()
    watcher.wait(lambda: "away.started" in watcher.event_types(), timeout=10)
    pressed.join(5)
