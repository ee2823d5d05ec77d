"""The speaker: greeting, rating prompt, thanks, farewell and the ticket call (来有迎声、
问有答声、走有送声).

An output driver: it observes committed changes and plays recorded clips, joined into a
sentence for a call ("请 / A / 0 1 2 / 号 / 到 / 3 / 号窗口办理"). Players (``sound.player``,
chosen by drivers/registry.py):

* :class:`SimPlayer` (``sim``): plays nothing; the driver keeps what it would have played
  (``kiosk sim sound``) and logs it;
* :class:`Aplay` (``aplay``): ALSA's aplay on the Pi, one process per sentence (aplay
  plays several files in a row), on a worker thread so the core's observer returns at
  once.

Clips are WAV files looked up by name in ``sound.dir`` (a site's recordings) and then in
the shipped placeholders (ui/sounds, made by tools/make_voice_clips.sh). A missing clip
is skipped with a warning, never an error.
"""

from __future__ import annotations

import logging
import queue
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from device.codes import Fault
from device.config import SoundSection
from device.core import Change, Core
from device.events import EventType
from drivers.base import BaseDriver, ControlHandler

log = logging.getLogger("sound")

SHIPPED_DIR = Path(__file__).resolve().parents[1] / "ui" / "sounds"


def call_clips(number: str, window: int) -> list[str]:
    """"A012" at window 3 -> 请 A 零 一 二 号 到 三 号窗口办理 (digits one by one, as
    queue systems read them)."""
    clips = ["call_please"]
    for ch in number:
        if ch.isdigit():
            clips.append(f"digit_{ch}")
        elif ch.isascii() and ch.isalpha():
            clips.append(f"letter_{ch.upper()}")
    clips += ["call_number", "call_to"]
    clips += [f"digit_{d}" for d in str(window)]
    clips.append("call_window")
    return clips


def clips_for(event_type: str, data: Mapping[str, Any], window: int) -> list[str]:
    """The sentence an event is announced with (empty: silent)."""
    if event_type == EventType.CASE_STARTED:
        return ["greeting"]
    if event_type == EventType.CASE_ENDED:
        return ["rating_prompt"]
    if event_type == EventType.RATING_GIVEN:
        return ["thanks", "farewell"]
    if event_type == EventType.RATING_SKIPPED:
        return ["farewell"]
    if event_type == EventType.TICKET_ISSUED:
        return ["ticket"]
    if event_type in (EventType.TICKET_CALLED, EventType.TICKET_RECALLED):  # 重呼: again
        if data.get("intake"):  # a handed-on intake (device/handover.py): nobody to call
            return []
        return call_clips(str(data.get("number", "")), int(data.get("window", window)))
    return []


class Player(Protocol):
    """How a sentence reaches the speaker. ``silent``: plays nothing (no worker thread)."""

    name: str
    silent: bool

    def available(self) -> bool: ...

    def play(self, files: list[Path]) -> None:
        """Play the files in a row, blocking; raise OSError/SubprocessError on failure."""


class SimPlayer:
    name = "sim"
    silent = True

    def available(self) -> bool:
        return True

    def play(self, files: list[Path]) -> None:
        pass


class Aplay:
    name = "aplay"
    silent = False

    def available(self) -> bool:
        return shutil.which("aplay") is not None

    def play(self, files: list[Path]) -> None:
        subprocess.run(["aplay", "-q", *map(str, files)], timeout=60, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Sound(BaseDriver):
    name = "sound"

    def __init__(self, section: SoundSection, player: Player, window: int = 1) -> None:
        self.section = section
        self.player = player
        self.window = window
        self.played: deque[list[str]] = deque(maxlen=50)  # sentences, newest last
        self._queue: queue.Queue[list[Path] | None] = queue.Queue(maxsize=20)
        self._thread: threading.Thread | None = None
        self._missing: set[str] = set()

    def start(self, core: Core) -> None:
        self.core = core
        if not self.section.enabled:
            log.info("sound disabled in config")
            return
        if not self.player.silent:
            if not self.player.available():
                core.fault(self.name, Fault.NO_PLAYER, "aplay not found: apt install alsa-utils")
                self.player = SimPlayer()
            else:
                self._thread = threading.Thread(target=self._work, name="sound", daemon=True)
                self._thread.start()
        core.subscribe(self._on_change)

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)

    @property
    def backend(self) -> str:
        return self.player.name

    def control_commands(self) -> dict[str, ControlHandler]:
        if not self.player.silent:
            return {}
        return {"sound": lambda _req: {"ok": True, "played": [list(s) for s in self.played]}}

    # ------------------------------------------------------------------ playing

    def path(self, clip: str) -> Path | None:
        for base in ([Path(self.section.dir)] if self.section.dir else []) + [SHIPPED_DIR]:
            p = base / f"{clip}.wav"
            if p.is_file():
                return p
        if clip not in self._missing:
            self._missing.add(clip)
            log.warning("voice clip %s.wav not found in %s or %s", clip,
                        self.section.dir or "(no sound.dir)", SHIPPED_DIR)
        return None

    def play(self, clips: list[str]) -> None:
        self.played.append(list(clips))
        files = [p for p in (self.path(c) for c in clips) if p is not None]
        if self.player.silent or not files:
            log.info("sound: %s", " ".join(clips))
            return
        try:
            self._queue.put_nowait(files)
        except queue.Full:  # the citizen is better served by silence than by a backlog
            log.warning("sound queue full; dropped %s", clips)

    def _on_change(self, change: Change) -> None:
        for ev in change.events:
            clips = clips_for(ev.type, ev.data, self.window)
            if clips:
                self.play(clips)

    def _work(self) -> None:
        while True:
            files = self._queue.get()
            if files is None:
                return
            try:
                self.player.play(files)
                self.core.recovered(self.name)
            except (OSError, subprocess.SubprocessError) as exc:
                detail = getattr(exc, "stderr", b"") or str(exc)
                self.core.fault(self.name, Fault.PLAY_FAILED, str(detail)[:200])
