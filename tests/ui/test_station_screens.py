"""The station roles on the real widgets under Xvfb: the hall's calling display draws the
board (and redraws when a new one comes), the entrance's home has no officer, mirror or
rating, and a ticket says which window(s) to watch."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from device.config import Config, StationSection
from kiosk.build import Counter, build_counter
from tests.conftest import FakeClock
from tests.station.test_hall import BOARD
from tests.ui.conftest import Driver, KivyClock


def _role(tmp_path: Path, role: str) -> Config:
    cfg = Config().with_state_dir(tmp_path / role).simulated()
    st = StationSection(enabled=True, role=role, host="127.0.0.1", port=1,  # type: ignore[arg-type]
                        fallback_prefix="E" if role == "entrance" else "", timeout_s=0.2)
    return dataclasses.replace(cfg, station=st)


@pytest.fixture
def role_app(display: str, kclock: KivyClock, tmp_path: Path) -> Iterator[Any]:
    made: list[tuple[Any, Counter]] = []

    def make(role: str) -> tuple[Driver, Counter]:
        from ui.app import build_app

        cfg = _role(tmp_path, role)
        counter = build_counter(cfg, clock=FakeClock(), with_drivers=False)
        counter.core.start()
        app = build_app(counter.core, counter.desk, cfg, counter.hall)
        app.mount()
        made.append((app, counter))
        drv = Driver(app, counter.core, counter.desk, kclock)
        drv.frames(3)
        return drv, counter

    yield make
    for app, counter in made:
        app.unmount()
        counter.close()


def test_the_hall_shows_the_board_and_redraws(role_app: Any) -> None:
    drv, counter = role_app("hall")
    assert drv.screen() == "hall"
    assert "请留意叫号" in drv.texts() and "正在连接叫号系统…" in drv.texts()
    counter.hall.update(BOARD)
    drv.frames(3)
    shown = drv.texts()
    for text in ("请A007号到1号窗口办理", "1号窗口", "A007", "暂离\n请到2号窗口办理",
                 "A006 → 2号窗口", "今日延时服务至19:00"):
        assert text in shown, (text, shown)
    # Nothing leaves the display: home and the idle timeout bring it back to the board.
    drv.app.home()
    drv.kclock.advance(120)
    drv.frames(2)
    assert drv.screen() == "hall"
    assert not drv.widgets("大字")  # no header: the hall is large text already


def test_the_entrance_home_and_a_fallback_ticket(role_app: Any) -> None:
    drv, counter = role_app("entrance")
    assert drv.screen() == "home"
    shown = drv.texts()
    assert "当班民警" not in shown and "本月满意率" not in shown
    for button in ("取号", "办事指南\n打印告知单", "预约签到", "意见簿"):
        assert drv.widgets(button), button
    counter.station.client.board = BOARD  # the last board it heard; the station is away
    drv.tap("取号")
    assert drv.screen() == "ticket"
    drv.tap(drv.find("居民身份证有效期满换领"))
    shown = drv.texts()
    assert "E001" in shown and "请留意1号窗口叫号" in shown, shown
    row = counter.store.ticket_numbered(counter.desk.today(), "E001")
    assert row is not None  # stored (with its print job) before it printed


def test_screenshots_of_the_station_roles(display: str, kclock: KivyClock, config: Config,
                                          tmp_path: Path) -> None:
    from PIL import Image

    from kiosk.screenshots import demo_config, frames
    from kiosk.screenshots_station import shoot_roles

    cfg = demo_config(config, str(tmp_path / "state"))
    written = shoot_roles(cfg, tmp_path / "shots", frames, tmp_path / "roles")
    assert {p.name for p in written} == {
        "entrance.png", "entrance-large.png", "entrance-ticket.png",
        "entrance-ticket-large.png", "hall.png"}
    img = Image.open(tmp_path / "shots" / "hall.png")
    assert img.size == (1280, 800)
    assert len(img.convert("RGB").getcolors(1 << 16) or []) > 20  # drawn, not blank
