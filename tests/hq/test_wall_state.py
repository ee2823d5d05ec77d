"""The live wall's tiles and revisions on a real SQLite HQ store: what each tile says
from the stored state and health, and that a refresh sends only the windows that changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from device.events import GENESIS, Draft, EventType, seal
from hq.store import HqStore

NOW = datetime.fromisoformat("2026-12-02T14:30:00+08:00")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HqStore]:
    s = HqStore.open(str(tmp_path / "hq.db"))
    yield s
    s.close()


def _tile(state: dict[str, Any] | None, health: dict[str, Any] | None = None,
          seen: str | None = "2026-12-02T06:00:00.000Z") -> Any:
    from hq.names import Names
    from hq.wall.state import build_tile

    names = Names(windows={("s1", "w01"): "1号窗口"}, officers={"000001": "李明"})
    return build_tile("s1", "w01", json.dumps(state) if state is not None else None,
                      json.dumps(health) if health is not None else None, seen, "", names, NOW)


def test_faults_waiting_and_outbox_in_chinese(store: HqStore) -> None:
    t = _tile({"online": True, "mode": "serving", "officer": "000001"},
              {"outbox_depth": 12, "oldest_unsent_age_s": 185.0, "people_waiting": 4,
               "peripherals": {"printer": {"ok": False, "fault": "paper_out"},
                               "sign": {"ok": False, "fault": "no_reply"},
                               "link": {"ok": True}}})
    html = t.html()
    assert t.status.value == "serving" and "办理中" in html and "李明 000001" in html
    assert t.faults == ("打印机：打印机缺纸", "暂离屏：设备无响应")  # the link is fine
    assert "排队 <b>4</b> 人" in html
    assert "待上传 12 条，最早 3 分钟前" in html
    assert "faulty" in html


def test_last_will_offline_and_a_window_never_seen(store: HqStore) -> None:
    off = _tile({"online": False})
    assert off.status.value == "offline" and "离线" in off.html()
    assert "最后消息 14:00" in off.html()  # 06:00Z is 14:00 in Asia/Shanghai
    never = _tile(None, None, seen=None)
    assert never.status.value == "never" and "未接入" in never.html()


def test_a_last_will_keeps_who_was_at_the_window(store: HqStore) -> None:
    """The Last Will is only ``online: false``; the store keeps the last state under it,
    so the offline tile still names the officer, marked as from before."""
    from hq.wall.state import Wall

    store.set_status("s1", "w01", "state", {"online": True, "mode": "serving",
                                            "officer": "000001"})
    store.set_status("s1", "w01", "state", {"online": False})
    stored = store.db.one("SELECT state FROM hq_devices WHERE device = 'w01'")
    assert stored is not None and json.loads(stored[0]) == {
        "online": False, "mode": "serving", "officer": "000001"}
    wall = Wall(store.db.alias)
    wall.refresh(force=True)
    tile = wall.entries[("s1", "w01")].tile
    assert tile.status.value == "offline"
    assert "民警：000001" in tile.html() and "（离线前）" in tile.html()
    store.set_status("s1", "w01", "state", {"online": True, "mode": "idle"})  # back
    wall.refresh(force=True)
    assert "离线前" not in wall.entries[("s1", "w01")].tile.html()


def test_away_overdue_by_the_console_clock(store: HqStore) -> None:
    away = {"reason": "午休", "return_at": "2026-12-02T14:00:00+08:00", "backup": "",
            "since": ""}
    late = _tile({"online": True, "mode": "away", "away": away})
    assert late.overdue and "逾期未归" in late.html() and "预计 14:00 返回" in late.html()
    soon = _tile({"online": True, "mode": "away", "away": {**away, "return_at":
                                                          "2026-12-02T15:00:00+08:00"}})
    assert not soon.overdue and "逾期" not in soon.html()


def test_a_refresh_sends_only_what_changed_and_the_last_rating(store: HqStore) -> None:
    from hq.wall.state import Wall

    store.set_status("s1", "w01", "state", {"online": True, "mode": "idle"})
    store.set_status("s1", "w02", "state", {"online": True, "mode": "idle"})
    # The station's queue server's kiosk-sync reports too: it is no window, no tile.
    store.set_status("s1", "station", "state", {"online": True})
    wall = Wall(store.db.alias)
    wall.refresh(force=True)
    full, first = wall.after("")
    assert full and {e.tile.key for e in first} == {"s1/w01", "s1/w02"}
    cursor = wall.cursor()
    wall.refresh(force=True)
    assert wall.after(cursor) == (False, [])  # nothing moved, nothing sent

    env = seal(Draft(EventType.RATING_GIVEN, {"case_no": "C1", "officer": "000001",
                                              "service": "id_card.first",
                                              "level": "very_unsatisfied"}),
               site="s1", device="w02", seq=1, prev=GENESIS)
    store.ingest([(json.loads(env.to_json()), False)])
    wall.refresh(force=True)
    full, changed = wall.after(cursor)
    assert not full and [e.tile.key for e in changed] == ["s1/w02"]
    assert changed[0].tile.last_rating.startswith("非常不满意 ")
    assert wall.after("another-process.3")[0] is True  # a restarted console: all again
