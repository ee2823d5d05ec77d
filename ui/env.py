"""Kivy's environment and configuration, set before Kivy is first imported.

Kivy reads its environment and its Config at import time, so :func:`prepare` must run
before any ``import kivy``; every other module of ui/ imports Kivy and is imported only
after it. Nothing here imports Kivy at module level.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from device.config import Config
from device.errors import UiError

WIDTH, HEIGHT = 1280, 800  # the usual 10.1" counter touchscreen; full screen on the Pi

# A USB QR/barcode scanner is a keyboard-like HID device; Kivy's probesysfs once took one
# for a multitouch screen and crashed (kivy#5331). Touch devices whose name matches these
# words are never used as touch input. (The scanner itself is read over serial by its
# driver.) No commas or '=' here: Kivy splits provider arguments on them.
_SCANNER_WORDS = "scanner|barcode|qr|honeywell|newland|zebra|symbol|datalogic|hid keyboard"
TOUCH_PROVIDER = (
    f"probesysfs,provider=hidinput,select_all=0,match=^(?!.*({_SCANNER_WORDS})).*$"
)


def kivy_home(config: Config) -> Path:
    return config.state_dir / "kivy"


def set_environment(home: Path) -> None:
    """Environment Kivy reads at import: no CLI parsing, no config file, logs to Python."""
    if "kivy" in sys.modules:
        return
    home.mkdir(parents=True, exist_ok=True)
    os.environ["KIVY_NO_ARGS"] = "1"  # our argparse owns the command line
    os.environ["KIVY_HOME"] = str(home)
    os.environ["KIVY_NO_CONFIG"] = "1"  # in-memory config only: set below, never written
    os.environ.setdefault("KIVY_NO_FILELOG", "1")  # the journal has our logs; spare the SD
    os.environ.setdefault("KIVY_LOG_MODE", "MIXED")


def prepare(config: Config) -> None:
    """Set the environment and Kivy's Config for ``config`` (before the window exists)."""
    set_environment(kivy_home(config))
    try:
        from kivy.config import Config as KivyConfig
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise UiError(f"Kivy is not installed ({exc}). Fix: pip install 'kivy>=2.3.1' "
                      "(setup.sh does), or run with --headless.") from None
    ui = config.ui
    KivyConfig.set("graphics", "maxfps", str(max(1, ui.max_fps)))
    # No multisampling: flat shapes and text look the same without it, and it halves the
    # cost of a frame on the Pi's GPU (and on a software renderer).
    KivyConfig.set("graphics", "multisamples", "0")
    KivyConfig.set("graphics", "width", str(WIDTH))
    KivyConfig.set("graphics", "height", str(HEIGHT))
    KivyConfig.set("graphics", "resizable", "0" if ui.fullscreen else "1")
    KivyConfig.set("graphics", "fullscreen", "auto" if ui.fullscreen else "0")
    KivyConfig.set("graphics", "borderless", "1" if ui.fullscreen else "0")
    KivyConfig.set("graphics", "show_cursor", "0" if ui.fullscreen else "1")
    # Esc must not close the kiosk on the Pi; on a laptop it may.
    KivyConfig.set("kivy", "exit_on_escape", "0" if ui.fullscreen else "1")
    KivyConfig.set("kivy", "pause_on_minimize", "0")
    KivyConfig.set("kivy", "keyboard_mode", "system")
    # One input provider per physical device, or every touch arrives twice (mtdev plus
    # hidinput, or SDL's mouse emulation plus hidinput: kivy#3801, #4172, #6160).
    for option in list(KivyConfig.options("input")) if KivyConfig.has_section("input") else []:
        KivyConfig.remove_option("input", option)
    if not KivyConfig.has_section("input"):
        KivyConfig.add_section("input")
    if ui.fullscreen:
        KivyConfig.set("input", "touch", TOUCH_PROVIDER)
    else:
        KivyConfig.set("input", "mouse", "mouse,disable_multitouch")
