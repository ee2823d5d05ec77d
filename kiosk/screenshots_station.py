"""The station roles' screenshots (docs/screens/entrance*.png, hall*.png): the entrance
kiosk's home and a ticket taken while the station is away, and the hall's calling display
for a demo board. Called by `kiosk screenshots` after the counter's own screens."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device.config import Config, StationSection
from kiosk.build import Counter, build_counter

log = logging.getLogger("kiosk.screenshots")


def demo_board(now: float) -> dict[str, Any]:
    """A morning at a hall of three windows: one away, its tickets routed to window 2."""
    return {
        "v": 1, "ts": now, "day": "2026-11-26",
        "windows": [
            {"window": 1, "serving": "A012", "away": False, "backup": 2,
             "services": ["id_card.renew", "id_card.first", "id_card.lost"]},
            {"window": 2, "serving": "A015", "away": False, "backup": 1,
             "services": ["hukou.birth", "hukou.move_in", "id_card.renew"]},
            {"window": 3, "serving": "", "away": True, "backup": 2,
             "services": ["hukou.move_out", "hukou.change"]},
        ],
        "called": [{"number": n, "window": w, "ts": now - 60 * i}
                   for i, (n, w) in enumerate([("A015", 2), ("A012", 1), ("A011", 2),
                                               ("A010", 1), ("A009", 1), ("A008", 2)])],
        "waiting": {"id_card.renew": 6, "hukou.birth": 2, "hukou.move_in": 3},
        "longest_wait_min": 25,
        "notices": ["今日办理人数较多，延时服务至 19:00"],
    }


def role_config(cfg: Config, role: str, state_dir: Path) -> Config:
    st = StationSection(enabled=True, role=role, host="127.0.0.1", port=1,  # type: ignore[arg-type]
                        fallback_prefix="E" if role == "entrance" else "", timeout_s=0.2)
    return dataclasses.replace(cfg.with_state_dir(state_dir), station=st,
                               window=dataclasses.replace(cfg.window, services=(),
                                                          station="城关派出所户政大厅"))


def shoot_roles(cfg: Config, out: Path, frames: Callable[[int], None],
                workdir: Path) -> list[Path]:
    from ui import theme
    from ui.app import build_app

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for role in ("entrance", "hall"):
        rcfg = role_config(cfg, role, workdir / role)
        counter = build_counter(rcfg, with_drivers=False)
        counter.core.start()
        now = time.time()
        if counter.hall is not None:
            counter.hall.update(demo_board(now))
        if counter.station is not None:
            counter.station.client.board = demo_board(now)  # the last board it heard
        app = build_app(counter.core, counter.desk, rcfg, counter.hall)
        app.mount()
        try:
            # The hall has no 大字 button: it is large text already.
            for large in (False, True) if role == "entrance" else (False,):
                theme.set_large(large)
                app.build_header()
                app.mark_all_dirty()
                scenes: list[tuple[str, Callable[[], None]]] = [(role, app.home)]
                if role == "entrance":
                    scenes.append(("entrance-ticket", _ticket_scene(app, counter)))
                for name, setup in scenes:
                    setup()
                    frames(6)
                    path = out / f"{name}{'-large' if large else ''}.png"
                    app.root.export_to_png(str(path))
                    written.append(path)
                    log.info("wrote %s", path)
        finally:
            app.unmount()
            counter.close()
            theme.set_large(cfg.ui.large_text)
    return written


def _ticket_scene(app: Any, counter: Counter) -> Callable[[], None]:
    """A ticket taken at the entrance while the station does not answer (E001)."""
    def ticket() -> None:
        app.sm.get_screen("ticket").show(counter.desk.issue_ticket("id_card.renew"))
    return ticket
