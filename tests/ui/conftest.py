"""Kivy under a private Xvfb: one display and one Kivy window for the session, a fresh app
on a fresh core (real SQLite file) per test, taps as real touch events.

Skips (with the reason) only when Xvfb or Kivy is missing; CI installs both.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from device.config import Config
from device.core import Core
from device.queue import QueueDesk
from kiosk.build import Counter
from ui import env

if shutil.which("Xvfb") is None:
    pytest.skip("Xvfb not installed (apt install xvfb)", allow_module_level=True)
if importlib.util.find_spec("kivy") is None:
    pytest.skip("Kivy not installed", allow_module_level=True)

# Kivy reads its environment once, at its first import, and the test modules here import
# ui/ (and so Kivy) when they are collected: set it now. PYTHON log mode: Kivy adds no
# handlers of its own and leaves stderr alone, so its records go through pytest's capture
# instead of to a stream that a finished test has closed.
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
_KIVY_HOME = tempfile.mkdtemp(prefix="kivy-home-")
env.set_environment(Path(_KIVY_HOME))


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    from ui.xvfb import Xvfb

    old = os.environ.get("DISPLAY")
    with Xvfb() as x:
        os.environ["DISPLAY"] = x.display
        yield x.display
    if old is None:
        os.environ.pop("DISPLAY", None)
    else:
        os.environ["DISPLAY"] = old
    shutil.rmtree(_KIVY_HOME, ignore_errors=True)


class KivyClock:
    """Moves Kivy's clock forward without sleeping: Clock.time() plus an offset.

    One per session and never wound back: Kivy sleeps to catch up with a clock that went
    backwards (its frame limiter), which would stall every later test."""

    def __init__(self) -> None:
        from kivy.clock import Clock

        self.clock = Clock
        self.offset = 0.0
        self._real = Clock.time
        Clock.time = self.time  # type: ignore[method-assign]

    def time(self) -> float:
        return float(self._real()) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds
        self.clock.tick()


class Driver:
    """Taps widgets of the running app and runs frames."""

    def __init__(self, app: Any, core: Core, desk: QueueDesk, kclock: KivyClock) -> None:
        self.app = app
        self.core = core
        self.desk = desk
        self.kclock = kclock

    def frames(self, n: int = 2) -> None:
        from kivy.base import EventLoop

        for _ in range(n):
            EventLoop.idle()

    def widgets(self, text: str, root: Any = None) -> list[Any]:
        root = root or self.app.root
        return [w for w in root.walk() if getattr(w, "text", None) == text]

    def find(self, text: str, root: Any = None) -> Any:
        found = self.widgets(text, root)
        assert found, f"no widget with text {text!r} on screen {self.app.sm.current}"
        return found[-1]

    def tap(self, target: Any) -> None:
        from kivy.base import EventLoop
        from kivy.input.motionevent import MotionEvent

        widget = self.find(target) if isinstance(target, str) else target
        self.frames(1)  # layout is done before we aim
        x, y = widget.to_window(*widget.center)
        win = EventLoop.window

        class Touch(MotionEvent):
            def depack(self, args: dict[str, float]) -> None:
                self.sx, self.sy = args["sx"], args["sy"]
                self.profile = ["pos"]
                super().depack(args)

        touch = Touch("test", time.monotonic_ns(),
                      {"sx": x / win.width, "sy": y / win.height},
                      is_touch=True, type_id="touch")
        EventLoop.post_dispatch_input("begin", touch)
        EventLoop.post_dispatch_input("end", touch)
        self.frames(2)

    def screen(self) -> str:
        return str(self.app.sm.current)

    def texts(self) -> str:
        """Everything the window shows as text (for 'what the screen shows' asserts)."""
        return "\n".join(str(w.text) for w in self.app.root.walk()
                         if hasattr(w, "text") and isinstance(w.text, str))

    def rows(self, etype: str) -> list[dict[str, Any]]:
        import json

        return [json.loads(b) for (b,) in self.core.store.query(
            "SELECT body FROM events WHERE type = ? ORDER BY seq", (etype,))]


@pytest.fixture
def ui_config(config: Config) -> Config:
    return dataclasses.replace(
        config, queue=dataclasses.replace(config.queue, green_channel=("veteran",)),
        timeouts=dataclasses.replace(config.timeouts, idle_home_s=60.0, thanks_s=5.0))


@pytest.fixture(scope="session")
def kclock(display: str) -> KivyClock:
    return KivyClock()


@pytest.fixture
def kiosk(display: str, kclock: KivyClock, make_counter: Callable[[Config], Counter],
          ui_config: Config) -> Iterator[Driver]:
    from ui.app import build_app

    counter = make_counter(ui_config)
    app = build_app(counter.core, counter.desk, ui_config)
    app.mount()
    drv = Driver(app, counter.core, counter.desk, kclock)
    drv.frames(3)
    yield drv
    app.unmount()
