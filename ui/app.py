"""The citizen touchscreen: one Kivy window, talking only to the device core.

``run(core, config)`` is what kiosk/app.py calls when not headless. The UI reads
``core.state``, asks the queue desk and sends intents with ``core.submit``; it never
imports drivers/. The core calls our observer on driver threads, so the observer only
hands the change to Kivy's main thread (``Clock.schedule_once``); every widget change
happens there.

Which screen shows follows the counter's mode: serving -> mirror, rating -> rating,
away -> away, idle -> home (or the flow the citizen is in; an idle timeout brings every
screen back home). Nothing redraws per frame: screens rebuild when entered or when a
change concerns them, and only the away countdown and the header clock tick.
"""

from __future__ import annotations

import logging
import signal
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from device.catalogue import Catalogue
from device.config import Config
from device.core import Change, Core
from device.counter import Mode
from device.events import EventType
from device.hall import HallBoard
from device.queue import QueueDesk
from device.rating import RatingLevel
from ui import env

log = logging.getLogger("ui")

# Simulation keys (the same Press the GPIO pad sends); listed on the help overlay.
KEYS: dict[str, str] = {
    "1": RatingLevel.VERY_SATISFIED.value,
    "2": RatingLevel.SATISFIED.value,
    "3": RatingLevel.BASIC.value,
    "4": RatingLevel.UNSATISFIED.value,
    "5": RatingLevel.VERY_UNSATISFIED.value,
    "n": "next",
    "a": "away",
}
KEY_HELP = [
    ("1 – 5", "评价器：非常满意 / 满意 / 基本满意 / 不满意 / 非常不满意"),
    ("N", "民警“下一位”键（开始 / 结束办件，叫下一个号）"),
    ("A", "民警“暂离”键（暂停服务 / 恢复服务）"),
    ("L", "大字模式开 / 关"),
    ("F1 或 ?", "显示 / 关闭本帮助"),
]
KEY_F1, KEY_ESC = 282, 27
CALLED_SHOW_S = 10.0
TOAST_S = 4.0


def build_app(core: Core, desk: QueueDesk, config: Config,
              hall: HallBoard | None = None) -> Any:
    """The Kivy app for ``core`` and its queue desk ``desk`` (Kivy configured and the CJK
    font registered first); ``hall`` is the station's board on the hall display."""
    env.prepare(config)
    from ui import fonts

    fonts.register_default_font()
    from ui import memory

    memory.drop_label_surfaces()
    from ui.kioskui import KioskUi

    memory.freeze_startup()  # before any screen exists: screens stay collectable

    return KioskUi(core, desk, config, hall)


def run(core: Core, desk: QueueDesk, config: Config, hall: HallBoard | None = None) -> None:
    """Open the window and run until it is closed (kiosk/app.py, not headless)."""
    started = time.perf_counter()
    app = build_app(core, desk, config, hall)
    app.started_perf = started
    from kivy.clock import Clock

    def stop(signum: int, _frame: Any) -> None:
        # systemd stops the kiosk with SIGTERM: leave Kivy's loop so the wiring closes
        # the drivers and the store. (In full screen no key reaches a signal: the kiosk
        # has no controlling terminal and ignores every key, see docs/ui.md.)
        log.info("signal %d: closing the window", signum)
        Clock.schedule_once(lambda _dt: app.stop(), 0)

    signal.signal(signal.SIGTERM, stop)
    app.run()


def local_time(core: Core, config: Config) -> datetime:
    return datetime.fromtimestamp(core.clock(), ZoneInfo(config.device.timezone))


def role_of(config: Config) -> str:
    """"counter" (standalone), or the station role: "window", "entrance", "hall"."""
    return config.station.role if config.station.enabled else "counter"


def mode_screen(mode: Mode) -> str:
    return {Mode.SERVING: "mirror", Mode.RATING: "rating", Mode.AWAY: "away"}.get(mode, "home")


def wants_screen(change: Change, current: str) -> tuple[str, dict[str, Any]] | None:
    """Which screen a committed change should bring up (None: stay). Pure: tested alone."""
    before, after = change.before.mode, change.after.mode
    given = next((e for e in change.events if e.type == EventType.RATING_GIVEN), None)
    if given is not None and given.data.get("source") in ("screen", "pad", "link") \
            and given.data.get("unsatisfied"):
        return "rating", {"extras_for": given.data.get("case_no", "")}
    if given is not None:
        return ("away", {}) if after is Mode.AWAY else ("thanks", {"rated": True})
    if after is not before:
        if after is Mode.IDLE and current in ("mirror", "rating", "away"):
            return "home", {}
        if after is not Mode.IDLE:
            return mode_screen(after), {}
    if after is Mode.SERVING and change.after.document is not None \
            and change.after.document != change.before.document and current != "mirror":
        return "mirror", {}  # a document to confirm: the citizen is shown it wherever
    if after is Mode.SERVING and current == "mirror":
        return "mirror", {"refresh": True}
    return None


def catalogue_of(desk: QueueDesk) -> Catalogue:
    return desk.catalogue.current()
