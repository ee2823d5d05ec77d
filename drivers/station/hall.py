"""The hall display's driver: the station's retained board into the :class:`HallBoard`
(the screen and ``kiosk sim hall`` read it), and each new call spoken through the sound
driver ("请A007号到2号窗口办理", the clips of drivers/sound.py)."""

from __future__ import annotations

import logging
from typing import Any

from device.core import Core
from device.hall import HallBoard, new_calls
from drivers.base import BaseDriver, ControlHandler
from drivers.sound import Sound, call_clips
from drivers.station.client import StationClient

log = logging.getLogger("station.hall")


class HallDriver(BaseDriver):
    name = "hall"

    def __init__(self, client: StationClient, board: HallBoard, sound: Sound | None) -> None:
        self.client = client
        self.board = board
        self.sound = sound
        self._heard = False

    def start(self, core: Core) -> None:
        self.core = core
        self.client.subscribe_board(self.on_board)
        self.client.subscribe_state(self.on_state)
        self.client.start()

    def close(self) -> None:
        self.client.close()

    def on_state(self, online: bool) -> None:
        self.board.update(online=online)

    def on_board(self, board: dict[str, Any]) -> None:
        before = self.board.board
        # The retained board at start holds calls made before we listened: shown, not
        # spoken again.
        calls = new_calls(before, board) if self._heard else []
        self._heard = True
        view = self.board.update(board)
        for number, window in calls:
            log.info("calling %s to window %d", number, window)
            if self.sound is not None:
                self.sound.play(call_clips(number, window))
        log.debug("hall shows: %s", view.lines())

    def control_commands(self) -> dict[str, ControlHandler]:
        def hall(_req: dict[str, Any]) -> dict[str, Any]:
            return {"ok": True, "lines": self.board.lines(),
                    "connected": self.client.connected.is_set()}
        return {"hall": hall}
