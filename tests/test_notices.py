"""HQ's notices as kiosk-sync stores them (site_content kind "notices"), read by the
device core's NoticeBoard with their validity period; config's window.notice is the
fallback."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import pytest

from device.errors import ParseError
from device.notices import NoticeBoard, parse_notices
from device.store import Store
from tests.conftest import T0


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def publish(db_path: str, notices: list[dict], version: str = "3") -> None:
    other = sqlite3.connect(db_path)  # kiosk-sync's own connection
    with other:
        other.execute("INSERT OR REPLACE INTO site_content VALUES ('notices', ?, ?, 'now')",
                      (version, json.dumps({"version": version, "notices": notices})))
    other.close()


def test_fallback_until_hq_sends_notices_then_only_valid_ones(store: Store, config) -> None:
    board = NoticeBoard(store, "今日延时服务至19:00")
    assert [n.text for n in board.current(T0)] == ["今日延时服务至19:00"]
    publish(config.db_path, [
        {"id": "n1", "text": "系统升级，12月3日暂停办理迁移业务", "level": "warning",
         "from": iso(T0 - 60), "until": iso(T0 + 3600)},
        {"id": "n2", "text": "明日起启用新版申请表", "from": iso(T0 + 600)},
        {"id": "n3", "text": "已过期", "until": iso(T0 - 1)},
        {"id": "n4", "text": "停电：今天下午暂停服务", "level": "urgent"},
    ])
    assert [n.id for n in board.current(T0)] == ["n4", "n1"]  # urgent first
    assert [n.id for n in board.current(T0 + 600)] == ["n4", "n1", "n2"]
    assert [n.id for n in board.current(T0 + 3600)] == ["n4", "n2"]  # until is exclusive


def test_no_valid_hq_notice_shows_the_config_fallback(store: Store, config) -> None:
    publish(config.db_path, [{"id": "n3", "text": "已过期", "until": iso(T0 - 1)}])
    assert [n.id for n in NoticeBoard(store, "窗口公告").current(T0)] == ["window.notice"]
    assert NoticeBoard(store, "").current(T0) == []


def test_a_bad_stored_document_is_logged_and_the_fallback_shows(store, config, caplog):
    publish(config.db_path, [{"id": "x", "text": "bad\x1b[2J"}])
    board = NoticeBoard(store, "窗口公告")
    assert [n.text for n in board.current(T0)] == ["窗口公告"]
    assert "control" in board.problem or "character" in board.problem
    assert "stored notices 3 rejected" in caplog.text


@pytest.mark.parametrize(("item", "word"), [
    ({"id": "a", "text": ""}, "empty"),
    ({"id": "a", "text": "x", "from": "yesterday"}, "ISO 8601"),
    ({"id": "a", "text": "x", "level": "loud"}, "level"),
    ({"text": "x"}, "id"),
])
def test_each_malformed_notice_is_refused_by_name(item: dict, word: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_notices(json.dumps({"version": "1", "notices": [item]}))
    assert word in str(info.value) and "notices[0]" in str(info.value)


def test_dates_and_times_without_offset_are_the_counters_local_time(store, config) -> None:
    # T0 is 2026-11-26 09:00 in Asia/Shanghai (01:00 UTC).
    publish(config.db_path, [
        {"id": "today", "text": "今天有效", "until": "2026-11-26"},
        {"id": "later", "text": "十点起", "from": "2026-11-26T10:00"},
        {"id": "gone", "text": "昨天", "until": "2026-11-25"},
    ])
    board = NoticeBoard(store, "", "Asia/Shanghai")
    assert [n.id for n in board.current(T0)] == ["today"]
    assert [n.id for n in board.current(T0 + 3600)] == ["today", "later"]
    assert [n.id for n in board.current(T0 + 15 * 3600)] == ["later"]  # 00:00 on the 27th
