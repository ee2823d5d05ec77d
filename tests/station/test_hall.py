"""What the hall display shows for a board, and the headless hall on a real broker: the
board's lines through `kiosk sim hall`, each new call spoken once."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from device.hall import HallView, hall_view, new_calls
from device.intents import Press
from drivers.sound import call_clips
from kiosk import cli
from kiosk.control import ControlClient
from tests.kiosk_support import running_kiosk
from tests.station.conftest import Device, station_config
from tests.station.responder import Responder
from tests.sync.conftest import Mosquitto

BOARD = {
    "v": 1, "ts": 100.0, "day": "2026-11-26",
    "windows": [{"window": 1, "serving": "A007", "away": False, "backup": 2,
                 "services": ["id_card.renew"]},
                {"window": 2, "serving": "", "away": False, "backup": 1,
                 "services": ["hukou.birth"]},
                {"window": 3, "serving": "", "away": True, "backup": 2,
                 "services": ["hukou.move_out"]}],
    "called": [{"number": "A006", "window": 2, "ts": 90.0},
               {"number": "A007", "window": 1, "ts": 95.0}],
    "waiting": {"id_card.renew": 4, "hukou.birth": 0},
    "longest_wait_min": 12, "notices": ["今日延时服务至19:00"],
}


def test_the_lines_the_hall_shows_for_a_board() -> None:
    names = {"id_card.renew": "居民身份证换领"}
    assert hall_view(BOARD, lambda c: names.get(c, c)).lines() == [
        "请A007号到1号窗口办理",
        "1号窗口　正在办理 A007",
        "2号窗口　等候叫号",
        "3号窗口暂离，请到2号窗口办理",
        "最近叫号：A007 → 1号窗口　A006 → 2号窗口",
        "等候人数：居民身份证换领 4人",
        "最长等候约 12 分钟",
        "公告：今日延时服务至19:00",
    ]
    assert hall_view(None).lines() == ["请留意叫号"]


def test_hq_notices_come_first_and_once() -> None:
    pushed = "今日办理人数较多，本所延时服务至19:00，请耐心等候。"
    view = hall_view(BOARD, site_notices=[pushed, "今日延时服务至19:00"])
    assert view.notices == (pushed, "今日延时服务至19:00")  # the board's same text: once
    assert view.lines()[-2:] == [f"公告：{pushed}", "公告：今日延时服务至19:00"]
    # Nothing heard from the station yet: HQ's notice is shown all the same.
    assert hall_view(None, site_notices=[pushed]).lines() == ["请留意叫号", f"公告：{pushed}"]


def test_only_new_calls_are_spoken() -> None:
    later = {**BOARD, "called": [*BOARD["called"], {"number": "A007", "window": 1, "ts": 99.0},
                                 {"number": "A008", "window": 2, "ts": 98.0}]}
    assert new_calls(BOARD, later) == [("A008", 2), ("A007", 1)]  # a recall is new too
    assert new_calls(later, later) == []


def test_the_headless_hall_follows_the_station(device: Callable[..., Device],
                                               responder: Responder) -> None:
    e = device("e01", role="entrance", prefix="E")
    w2 = device("w02", window=2, prefix="W2")
    e.desk.issue_ticket("hukou.birth")  # A001: window 2's
    hall = device("hall", role="hall", drivers=True)
    board = hall.counter.hall
    assert board is not None
    assert board.wait_for(lambda v: bool(v.windows), 10)
    assert hall.commands["hall"]({})["lines"][:3] == [
        "请留意叫号", "1号窗口　等候叫号", "2号窗口　等候叫号"]
    w2.core.submit(Press("next"))

    def called(v: HallView) -> bool:
        return v.latest == "请A001号到2号窗口办理"

    assert board.wait_for(called, 10)
    lines = hall.commands["hall"]({})["lines"]
    assert "2号窗口　正在办理 A001" in lines and "最近叫号：A001 → 2号窗口" in lines
    sound = hall.counter.driver("sound")
    assert list(sound.played) == [call_clips("A001", 2)]  # type: ignore[attr-defined]
    # Window 1 away: the hall sends its citizens to window 2.
    w1 = device("w01", window=1, prefix="W1")
    w1.core.submit(Press("away"))
    assert board.wait_for(lambda v: "1号窗口暂离，请到2号窗口办理" in v.lines(), 10)
    assert list(sound.played) == [call_clips("A001", 2)]  # nothing more was called
    # HQ pushes the extended-hours notice: kiosk-sync stores it as the site's notices,
    # the hall shows it above the station's own, with no new board needed.
    pushed = "今日办理人数较多，本所延时服务至19:00，请耐心等候。"
    body = json.dumps({"version": "7", "notices": [
        {"id": "hours", "text": pushed, "level": "urgent"}]}, ensure_ascii=False)
    other = sqlite3.connect(hall.counter.config.db_path)  # kiosk-sync's own connection
    with other:
        other.execute("INSERT OR REPLACE INTO site_content VALUES ('notices', '7', ?, 'now')",
                      (body,))
    other.close()
    lines = hall.commands["hall"]({})["lines"]
    assert f"公告：{pushed}" in lines
    assert board.view().notices[0] == pushed
    # The station gone: the hall says to watch the windows' own calls.
    responder.stop()
    assert board.wait_for(lambda v: v.offline, 10)
    assert hall.commands["hall"]({})["lines"][1] == "叫号系统暂时中断，请留意各窗口的屏幕和语音叫号"
    responder.start()
    assert board.wait_for(lambda v: not v.offline, 10)


def test_kiosk_sim_hall_reads_a_running_headless_hall(
        tmp_path: Path, broker: Mosquitto, responder: Responder,
        device: Callable[..., Device], capsys: pytest.CaptureFixture[str]) -> None:
    e = device("e01", role="entrance", prefix="E")
    w1 = device("w01", window=1, prefix="W1")
    e.desk.issue_ticket("id_card.renew")
    w1.core.submit(Press("next"))
    cfg = station_config(tmp_path, broker.port, "hall", role="hall")
    with running_kiosk(cfg) as app:
        assert app.counter is not None and app.counter.hall is not None
        assert app.counter.hall.wait_for(lambda v: bool(v.latest), 10)
        with ControlClient(cfg.control_socket) as client:
            reply = client.request({"cmd": "hall"})
        assert reply["ok"] and reply["lines"][:2] == ["请A001号到1号窗口办理",
                                                      "1号窗口　正在办理 A001"]
        # The same through the command line a technician types.
        args = ["sim", "--state-dir", str(cfg.state_dir), "hall"]
        assert cli.main(args) == 0
        assert "请A001号到1号窗口办理" in capsys.readouterr().out
