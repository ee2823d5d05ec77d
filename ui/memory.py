"""Keeping the touchscreen's memory flat over months of use (issues 15 and 16).

What a kiosk in use held on top of an untouched one (heaptrack, docs/benchmarks.md,
"Touchscreen memory in use"):

- **Every label's bitmap twice.** Kivy's SDL2 text provider renders a label into an SDL
  surface, copies the pixels into the GL texture and keeps the surface on the label for
  as long as the label lives (its pygame provider deletes it; the SDL2 one forgets to).
  :func:`drop_label_surfaces` makes it let go once the pixels are copied.
- **Discarded screens waiting for Python's cycle collector.** A widget tree is full of
  reference cycles (parent <-> children, bindings to its own setters), so a rebuilt
  screen's old widgets, and with them their textures (C memory in the GL driver that
  Python's collection thresholds never see), live until the next full collection, which
  a running kiosk reaches only now and then. :class:`Reclaimer` collects soon after the
  screens changed and then gives the freed heap back to the system (``malloc_trim``), so
  an idle kiosk does not keep the high-water mark of its busiest minute.

:func:`freeze_startup` moves everything that exists before the screens are built (the
modules, Kivy, the drivers: objects that live as long as the process) out of the
collector's sight, so those collections only walk the UI's own objects and stay short.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
from typing import Any

log = logging.getLogger("ui.memory")

RECLAIM_AFTER_S = 2.0  # after a screen change; at most one collection per this interval
TRIM_AFTER_S = 0.5  # Kivy deletes the GL textures of collected labels on the next frame


def drop_label_surfaces() -> bool:
    """Make Kivy's SDL2 text provider drop each label's SDL surface once its pixels are in
    the texture (the texture is re-rendered from the text on a GL context reload, never
    from the surface). Returns False when another text provider is in use."""
    from kivy.core.text import Label as CoreLabel

    if getattr(CoreLabel, "_kiosk_drops_surface", False):
        return True
    if CoreLabel.__name__ != "LabelSDL2":
        return False

    def _render_end(self: Any) -> Any:
        data = self._surface.get_data()  # a copy of the pixels
        self._surface = None
        return data

    CoreLabel._render_end = _render_end
    CoreLabel._kiosk_drops_surface = True
    return True


def freeze_startup() -> None:
    """Everything alive now lives as long as the process: exclude it from collections."""
    gc.collect()
    gc.freeze()


def _malloc_trim() -> Any:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None


class Reclaimer:
    """``soon()`` after the screens changed; the collection runs at most once per
    ``after_s`` while the kiosk is busy and once more when it went quiet."""

    def __init__(self, after_s: float = RECLAIM_AFTER_S) -> None:
        from kivy.clock import Clock

        self._clock = Clock
        self._trigger = Clock.create_trigger(self._collect, after_s)
        self._trim = _malloc_trim()
        self.collections = 0

    def soon(self) -> None:
        self._trigger()

    def cancel(self) -> None:
        self._trigger.cancel()

    def _collect(self, _dt: float = 0.0) -> None:
        found = gc.collect()
        self.collections += 1
        log.debug("collected %d unreachable objects", found)
        self._clock.schedule_once(self._give_back, TRIM_AFTER_S)

    def _give_back(self, _dt: float = 0.0) -> None:
        if self._trim is not None:
            self._trim(0)
