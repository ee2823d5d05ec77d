"""Issue 9's screen items driven on the real widgets under Xvfb: HQ notices, the comment
draft, one clock for header and countdown, no dead ends, the truth when paper is out,
and the rating screen's faces and whom it rates."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from device.intents import AwaySet, Press, SignIn
from drivers.link import handle_line
from ui.app import local_time

pytestmark = pytest.mark.ui


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _publish_notices(kiosk, notices: list[dict]) -> None:
    other = sqlite3.connect(kiosk.core.config.db_path)  # as kiosk-sync writes it
    with other:
        other.execute("INSERT OR REPLACE INTO site_content VALUES ('notices', '5', ?, 'now')",
                      (json.dumps({"version": "5", "notices": notices}),))
    other.close()
    kiosk.kclock.advance(5.1)  # the content poll
    kiosk.frames(3)


# ---------------------------------------------------------------- item 4: HQ notices


def test_hq_notices_show_on_home_and_away_within_their_validity(kiosk):
    now = kiosk.core.clock()
    _publish_notices(kiosk, [
        {"id": "n1", "text": "12月3日系统升级，暂停办理迁移业务", "level": "warning",
         "until": _iso(now + 120)},
        {"id": "n2", "text": "明日起启用新版申请表", "from": _iso(now + 60)},
    ])
    assert kiosk.screen() == "home"
    text = kiosk.texts()
    assert "公告：12月3日系统升级，暂停办理迁移业务" in text and "新版申请表" not in text
    kiosk.core.clock.advance(61)  # n2 becomes valid
    kiosk.kclock.advance(5.1)
    kiosk.frames(3)
    assert "公告：明日起启用新版申请表" in kiosk.texts()
    kiosk.core.submit(AwaySet("参加业务培训", "10:30", "", ""))
    kiosk.frames(3)
    assert kiosk.screen() == "away"
    assert "公告：12月3日系统升级" in kiosk.texts()
    kiosk.core.clock.advance(60)  # n1 has expired
    kiosk.kclock.advance(5.1)
    kiosk.frames(3)
    assert "系统升级" not in kiosk.texts() and "新版申请表" in kiosk.texts()


def test_config_notice_is_the_fallback(kiosk):
    import dataclasses

    from device.notices import NoticeBoard

    kiosk.app.notices = NoticeBoard(kiosk.core.store, "今日延时服务至19:00")
    kiosk.app.mark_all_dirty()
    kiosk.app.go("home")
    kiosk.frames(2)
    assert "公告：今日延时服务至19:00" in kiosk.texts()
    assert dataclasses.is_dataclass(kiosk.app.current_notices()[0])


# ---------------------------------------------------------------- item 5: comment draft


def test_a_half_written_comment_survives_the_next_button_and_is_submitted(kiosk):
    kiosk.tap("意见簿")
    kiosk.tap("建议")
    for digit in "13800138000":
        kiosk.tap(digit)
    screen = kiosk.app.sm.get_screen("comment")
    ref = screen.ref
    kiosk.core.submit(Press("next"))   # the officer opens a case: the mirror takes over
    kiosk.frames(3)
    assert kiosk.screen() == "mirror"
    kiosk.core.submit(Press("next"))   # case ends: rating
    kiosk.core.submit(Press("satisfied"))
    kiosk.frames(3)
    kiosk.kclock.advance(5.1)          # thanks -> back: to the unsent comment, not home
    kiosk.frames(3)
    assert kiosk.screen() == "comment"
    assert screen.ref == ref and screen.pad.value == "13800138000"
    assert screen.chips["suggestion"].state == "down"
    assert "尚未提交" in kiosk.texts()
    kiosk.tap("提交")
    rows = kiosk.rows("comment.submitted")
    assert len(rows) == 1 and rows[0]["data"]["categories"] == ["suggestion"]
    assert rows[0]["data"]["ref"] == ref and rows[0]["data"]["callback_phone"] == "13800138000"
    assert kiosk.screen() == "thanks"
    kiosk.kclock.advance(5.1)
    kiosk.frames(3)
    assert kiosk.screen() == "home"  # submitted: nothing left to come back to


def test_an_abandoned_comment_ends_at_the_idle_timeout(kiosk):
    kiosk.tap("意见簿")
    kiosk.tap("表扬")
    kiosk.core.submit(Press("next"))
    kiosk.frames(3)
    kiosk.kclock.advance(61)  # ui_config: idle_home_s = 60, nobody touched the draft
    kiosk.core.submit(Press("next"))
    kiosk.core.submit(Press("very_satisfied"))
    kiosk.frames(3)
    kiosk.kclock.advance(5.1)
    kiosk.frames(3)
    assert kiosk.screen() == "home"
    kiosk.tap("意见簿")
    assert all(c.state == "normal" for c in kiosk.app.sm.get_screen("comment").chips.values())
    assert kiosk.rows("comment.submitted") == []


# ---------------------------------------------------------------- item 25: one clock


def test_header_clock_and_away_countdown_tick_together(kiosk):
    core = kiosk.core
    back = local_time(core, core.config) + timedelta(minutes=16)
    core.submit(AwaySet("参加业务培训", f"{back:%H:%M}", "", ""))
    kiosk.frames(3)
    # Move the core's clock to 1 s before a minute boundary, then let one tick pass.
    core.clock.advance(59 - local_time(core, core.config).second)
    kiosk.kclock.advance(1.01)
    kiosk.frames(1)
    core.clock.advance(1.0)  # now on the minute
    kiosk.kclock.advance(1.01)
    kiosk.frames(1)
    shown = kiosk.app.clock_label.text
    now = local_time(core, core.config)
    assert shown.endswith(f"{now:%H:%M}"), (shown, now)
    countdown = kiosk.app.sm.get_screen("away").countdown.text
    left = datetime.fromisoformat(core.state.away.return_at) - now
    minutes, seconds = divmod(int(left.total_seconds()), 60)
    assert countdown == f"还有 {minutes} 分 {seconds:02d} 秒"


# ---------------------------------------------------------------- item 26: no dead ends


def test_away_board_leads_to_guide_tickets_checkin_and_comments(kiosk):
    kiosk.core.submit(AwaySet("参加业务培训", "10:30", "", ""))
    kiosk.frames(3)
    away = kiosk.app.sm.get_screen("away")
    for key, screen in (("guide", "guide"), ("ticket", "ticket"), ("checkin", "checkin"),
                        ("comment", "comment")):
        kiosk.tap(away.nav_buttons[key])
        assert kiosk.screen() == screen
        kiosk.tap(kiosk.widgets("返回首页")[-1])
        assert kiosk.screen() == "away"  # home is the away board while away
    kiosk.tap(away.nav_buttons["ticket"])
    kiosk.tap("出生登记")
    assert kiosk.rows("ticket.issued")[-1]["data"]["service"] == "hukou.birth"


def test_check_in_error_offers_the_ticket_it_mentions(kiosk):
    kiosk.tap("预约签到")
    for digit in "12345678":
        kiosk.tap(digit)
    kiosk.tap("签到")
    assert "或直接取号" in kiosk.texts()
    kiosk.tap("直接取号")
    assert kiosk.screen() == "ticket"


def test_guide_takes_the_ticket_for_its_service_in_one_tap(kiosk):
    kiosk.tap("办事指南")
    kiosk.tap("出生登记")
    kiosk.tap("取号办理")
    assert kiosk.screen() == "ticket" and "A001" in kiosk.texts()
    issued = kiosk.rows("ticket.issued")
    assert [e["data"]["service"] for e in issued] == ["hukou.birth"]


# ---------------------------------------------------------------- item 27: paper out


def test_ticket_screen_tells_the_truth_when_the_paper_is_out(kiosk):
    kiosk.core.fault("printer", "paper_out")
    kiosk.frames(2)
    kiosk.tap("取号")
    kiosk.tap("出生登记")
    text = kiosk.texts()
    assert "A001" in text and "请取走号票" not in text
    assert "号票暂未打印" in text and "恢复后号票自动打印" in text
    kiosk.core.recovered("printer")
    kiosk.frames(3)
    assert "请取走号票" in kiosk.texts() and "暂未打印" not in kiosk.texts()


# ---------------------------------------------------------------- item 30: rating


def test_rating_says_whom_and_draws_a_face_on_each_level(kiosk):
    from kivy.graphics import Ellipse, Line

    from ui.screens.rating import SMILE, mouth_points

    kiosk.core.submit(SignIn("000002"))
    kiosk.core.submit(Press("next"))
    kiosk.core.submit(Press("next"))
    kiosk.frames(3)
    assert kiosk.screen() == "rating"
    assert "您正在评价：[b]王芳[/b] 000002" in kiosk.texts()
    screen = kiosk.app.sm.get_screen("rating")
    for level, button in screen.level_buttons.items():
        shapes = button.canvas.after.children
        assert sum(isinstance(s, Ellipse) for s in shapes) == 3, level  # face + two eyes
        assert any(isinstance(s, Line) for s in shapes), level
    # the mouth smiles for 非常满意 and frowns for 非常不满意
    smile = [SMILE[lv] for lv in sorted(SMILE, key=lambda lv: -lv.score)]
    assert smile == sorted(smile, reverse=True) and smile[0] > 0 > smile[-1]
    up = mouth_points(0, 0, 10, 1.0)
    assert up[13] < up[1]  # the middle of a smile is lower than its ends


def test_a_recall_shows_the_call_card_again(kiosk):
    kiosk.desk.issue_ticket("id_card.renew")
    kiosk.core.submit(Press("next"))
    kiosk.frames(3)
    card = "请 [b][color=#ffd600]A001[/color][/b] 号"
    kiosk.app.hide_called()  # the card went away (its time, or a touch)
    kiosk.frames(2)
    assert card not in kiosk.texts()
    assert handle_line(kiosk.core, '{"op":"recall"}')["ok"]  # 重呼 from the workstation
    kiosk.frames(3)
    assert card in kiosk.texts() and "到 [b]1[/b] 号窗口办理" in kiosk.texts()
