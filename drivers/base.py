"""What every driver looks like to the app wiring, and the small protocols the core uses.

Drivers come in two kinds, both with ``start(core)`` and ``close()``:

* input drivers (rating pad, officer buttons, workstation link, QR scanner) turn
  hardware into :mod:`device.intents` and hand them to ``core.submit``;
* output drivers (LEDs, buzzer, sign, printer, sound) subscribe to the core's
  :class:`device.core.Change` notifications and show what was committed.

A driver never opens hardware at import time, only in ``start``; each has a real and a
simulated backend, which drivers/registry.py chooses from config and hands to the driver
(``--simulate`` forces every simulator).

A driver may also offer *control commands* for `kiosk sim` (``press``, ``link``, ``scan``,
``sign``...): a name and a handler taking the JSON request and returning a JSON reply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from device.core import Core

ControlHandler = Callable[[dict[str, Any]], dict[str, Any]]


class Driver(Protocol):
    name: str

    def start(self, core: Core) -> None: ...

    def close(self) -> None: ...

    def control_commands(self) -> dict[str, ControlHandler]: ...


class BaseDriver:
    """Convenience base: no control commands, nothing to close."""

    name = "driver"

    def start(self, core: Core) -> None:
        self.core = core

    def close(self) -> None:
        pass

    def control_commands(self) -> dict[str, ControlHandler]:
        return {}
