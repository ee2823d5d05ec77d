"""Every flow of the touchscreen, driven by touch events on the real widgets under Xvfb;
each test checks what the screen shows and which events the SQLite file holds."""

from __future__ import annotations

import threading

import pytest

from device.codes import REFUSALS, Refusal
from device.intents import AwaySet, MirrorField, Press
from ui import theme

pytestmark = pytest.mark.ui


def test_home_shows_the_window_officer_phones_and_monthly_rate(kiosk):
    for level in ("very_satisfied", "basic", "very_unsatisfied"):
        kiosk.core.submit(Press("next"))
        kiosk.core.submit(Press("next"))
        kiosk.core.submit(Press(level))
    kiosk.frames(3)  # the last one (unsatisfied) asks for reasons first
    kiosk.app.go("home")
    kiosk.frames()
    text = kiosk.texts()
    for expected in ("李明", "警号：000001", "电话：0755-8000 0001", "B岗民警：王芳",
                     "咨询电话：12345", "投诉电话：12389", "周一至周五", "出生登记"):
        assert expected in text, expected
    assert "66.7%" in text and "3 次评价" in text


def test_ticket_in_two_taps_with_people_ahead_event_and_print_job(kiosk):
    kiosk.desk.issue_ticket("hukou.birth")
    kiosk.tap("取号")
    assert kiosk.screen() == "ticket"
    kiosk.tap("居民身份证有效期满换领")
    text = kiosk.texts()
    assert "A002" in text and "前面还有 [b]1[/b] 人等候" in text
    issued = kiosk.rows("ticket.issued")
    assert [e["data"]["number"] for e in issued] == ["A001", "A002"]
    jobs = kiosk.core.store.query("SELECT kind, body FROM print_jobs ORDER BY id")
    assert jobs[-1][0] == "ticket" and '"number": "A002"' in jobs[-1][1]


def test_green_channel_chip_gives_priority(kiosk):
    kiosk.desk.issue_ticket("hukou.birth")
    kiosk.tap("取号")
    kiosk.tap("退役军人")
    kiosk.tap("首次申领居民身份证")
    assert "前面还有 [b]0[/b] 人等候" in kiosk.texts()
    assert kiosk.rows("ticket.issued")[-1]["data"]["group"] == "veteran"


def test_appointment_check_in_on_the_number_pad(kiosk):
    kiosk.tap("预约签到")
    for digit in "12345678":
        kiosk.tap(digit)
    kiosk.tap("签到")
    assert "未找到预约码 12345678" in kiosk.texts()
    for digit in "20261001":
        kiosk.tap(digit)
    kiosk.tap("签到")
    assert kiosk.screen() == "ticket"
    assert "签到成功，您的号码是 A001" in kiosk.texts()
    rows = kiosk.rows("appointment.checked_in")
    assert len(rows) == 1 and rows[0]["data"]["code"] == "20261001"


def test_scanner_check_in_from_a_driver_thread_shows_the_ticket(kiosk):
    t = threading.Thread(target=kiosk.desk.check_in, args=("20261002", "scanner"))
    t.start()
    t.join(10)
    kiosk.frames(3)  # the observer handed the change to the main thread
    assert kiosk.screen() == "ticket" and "A001" in kiosk.texts()


def test_guide_shows_the_facts_and_prints_the_checklist_in_three_taps(kiosk):
    kiosk.tap("办事指南")
    kiosk.tap("出生登记")
    text = kiosk.texts()
    for expected in ("出生医学证明", "结婚证", "户口登记条例", "办理时限", "审批机关"):
        assert expected in text, expected
    kiosk.tap("打印一次性告知单")
    kind, body = kiosk.core.store.query(
        "SELECT kind, body FROM print_jobs ORDER BY id DESC LIMIT 1")[0]
    assert kind == "checklist"
    assert '"catalogue_version": "2026.11-default.1"' in body and "出生医学证明" in body
    assert "正在打印" in kiosk.texts()


def test_mirror_fields_live_masked_confirm_and_flag(kiosk):
    core = kiosk.core
    core.submit(Press("next"))
    core.submit(MirrorField("name", "姓名", "刘䶮"))
    core.submit(MirrorField("id_number", "公民身份号码", "440301199001011234", sensitive=True))
    kiosk.frames(3)
    assert kiosk.screen() == "mirror"
    text = kiosk.texts()
    assert "440301********1234" in text and "199001011234" not in text
    assert "䶮" in text
    confirm, flag = kiosk.app.sm.get_screen("mirror").rows["name"]["ok"], None
    kiosk.tap(confirm)
    flag = kiosk.app.sm.get_screen("mirror").rows["id_number"]["bad"]
    kiosk.tap(flag)
    assert [e["data"]["field"] for e in kiosk.rows("mirror.confirmed")] == ["name"]
    assert [e["data"]["field"] for e in kiosk.rows("mirror.flagged")] == ["id_number"]
    assert "已标记有误" in kiosk.texts() and "已确认" in kiosk.texts()
    dump = "\n".join(str(r) for r in core.store.query("SELECT body FROM events"))
    assert "199001011234" not in dump and "䶮" not in dump  # memory only


def test_rating_first_touch_counts_once_then_thanks_then_home(kiosk):
    kiosk.core.submit(Press("next"))
    kiosk.core.submit(Press("next"))
    kiosk.frames(3)
    assert kiosk.screen() == "rating"
    kiosk.tap(kiosk.app.sm.get_screen("rating").level_buttons["satisfied"])
    assert kiosk.screen() == "thanks" and "感谢您的评价" in kiosk.texts()
    kiosk.core.submit(Press("very_satisfied", source="screen"))  # a second press: refused
    given = kiosk.rows("rating.given")
    assert len(given) == 1 and given[0]["data"]["level"] == "satisfied"
    assert given[0]["data"]["source"] == "screen"
    kiosk.kclock.advance(5.1)
    kiosk.frames()
    assert kiosk.screen() == "home"


def test_a_refused_screen_press_shows_its_code_s_citizen_text(kiosk):
    kiosk.core.submit(Press("satisfied", source="pad"))  # the pad: its LEDs say it, not us
    kiosk.frames()
    assert kiosk.app.toast_widget is None
    kiosk.core.submit(Press("satisfied", source="screen"))  # no case to rate
    kiosk.frames()
    assert kiosk.app.toast_label.text == REFUSALS[Refusal.NO_CASE].citizen == "现在不能评价"
    kiosk.core.submit(Press("next"))
    kiosk.core.submit(Press("next"))
    kiosk.core.submit(Press("satisfied", source="screen"))
    kiosk.core.submit(Press("basic", source="screen"))  # a second rating of the same case
    kiosk.frames()
    assert kiosk.app.toast_label.text == REFUSALS[Refusal.RATED].citizen
    assert "本次服务已评价，谢谢您" in kiosk.texts()


def test_unsatisfied_rating_takes_reasons_and_a_callback_phone(kiosk):
    kiosk.core.submit(Press("next"))
    kiosk.core.submit(Press("next"))
    kiosk.frames(3)
    kiosk.tap("不满意")
    assert "请选择原因" in kiosk.texts()
    kiosk.tap("等候时间长")
    for digit in "13800138000":
        kiosk.tap(digit)
    kiosk.tap("提交")
    details = kiosk.rows("rating.details")
    assert details[0]["data"]["reasons"] == ["waiting"]
    assert details[0]["data"]["callback_phone"] == "13800138000"
    assert kiosk.screen() == "thanks"


def test_pad_press_on_a_driver_thread_changes_the_screen_on_the_main_thread(kiosk):
    kiosk.core.submit(Press("next"))
    kiosk.core.submit(Press("next"))
    kiosk.frames(2)
    seen: list[str] = []
    t = threading.Thread(target=lambda: seen.append(
        kiosk.core.submit(Press("basic")).refused))
    t.start()
    t.join(10)
    assert seen == [None] and kiosk.screen() == "rating"  # nothing changed off the main thread
    kiosk.frames(2)
    assert kiosk.screen() == "thanks"


def test_away_shows_reason_return_countdown_and_backup(kiosk):
    kiosk.core.submit(AwaySet("参加业务培训", "09:30", "0755-1234", ""))
    kiosk.frames(3)
    assert kiosk.screen() == "away"
    text = kiosk.texts()
    assert "参加业务培训" in text and "预计 09:30 返回" in text and "0755-1234" in text
    assert "还有 30 分 00 秒" in text and "B岗民警 王芳" in text
    kiosk.core.clock.advance(61)
    kiosk.kclock.advance(1.0)
    assert "还有 28 分 59 秒" in kiosk.texts()
    kiosk.core.submit(Press("away"))
    kiosk.frames(3)
    assert kiosk.screen() == "home"


def test_next_button_calls_the_ticket_on_screen(kiosk):
    kiosk.desk.issue_ticket("id_card.renew")
    kiosk.core.submit(Press("next"))
    kiosk.frames(3)
    assert "请 [b][color=#ffd600]A001[/color][/b] 号" in kiosk.texts()
    assert "到 [b]1[/b] 号窗口办理" in kiosk.texts()
    assert kiosk.screen() == "mirror"
    assert kiosk.rows("ticket.called")[0]["data"]["number"] == "A001"


def test_comment_book_category_phone_and_qr(kiosk):
    kiosk.tap("意见簿")
    screen = kiosk.app.sm.get_screen("comment")
    assert screen.ref in screen.qr_url and "device=demo-w01" in screen.qr_url
    # The QR on screen is the code of that URL: one texel per module, top row first.
    from ui.screens.comment import qr_modules

    modules = qr_modules(screen.qr_url)
    tex = screen.qr_image.texture
    assert tex.size == (len(modules), len(modules)) and tex.mag_filter == "nearest"
    rgba = tex.pixels
    n = len(modules)
    shown = [[rgba[4 * (y * n + x)] < 128 for x in range(n)] for y in reversed(range(n))]
    assert shown == modules and any(any(r) for r in modules)
    kiosk.tap("提交")
    assert "请先选择" in kiosk.texts() and kiosk.rows("comment.submitted") == []
    kiosk.tap("表扬")
    kiosk.tap("提交")
    row = kiosk.rows("comment.submitted")[0]["data"]
    assert row["categories"] == ["praise"] and row["ref"] == screen.ref
    assert kiosk.screen() == "thanks"


def test_idle_timeout_returns_home_from_any_screen(kiosk):
    kiosk.tap("办事指南")
    kiosk.kclock.advance(30)
    kiosk.tap("首次申领居民身份证")  # a touch restarts the timeout
    kiosk.kclock.advance(55)
    assert kiosk.screen() == "guide"
    kiosk.kclock.advance(6)
    kiosk.frames()
    assert kiosk.screen() == "home"


def test_large_text_is_one_tap_away(kiosk):
    before = kiosk.find("办事指南").font_size
    kiosk.tap("大字")
    assert theme.is_large()
    assert kiosk.find("办事指南").font_size == round(before * theme.LARGE)
    kiosk.tap("标准字")
    assert not theme.is_large()


def test_every_button_on_every_screen_is_a_big_enough_target(kiosk):
    from kivy.uix.button import Button

    kiosk.core.submit(Press("next"))
    kiosk.core.submit(MirrorField("name", "姓名", "张三"))
    kiosk.frames(2)
    for name in kiosk.app.sm.screen_names:
        kiosk.app.go(name)
        kiosk.frames(3)
        for w in kiosk.app.root.walk():
            if isinstance(w, Button):
                assert w.width >= theme.TARGET and w.height >= theme.TARGET, (name, w.text)


def test_simulation_keys_press_the_pad_and_open_help(kiosk):
    from kivy.core.window import Window

    Window.dispatch("on_key_down", ord("n"), 0, "n", [])
    Window.dispatch("on_key_down", ord("n"), 0, "n", [])
    kiosk.frames(2)
    assert kiosk.screen() == "rating"
    Window.dispatch("on_key_down", ord("2"), 0, "2", [])
    kiosk.frames(2)
    given = kiosk.rows("rating.given")
    assert given[0]["data"]["level"] == "satisfied" and given[0]["data"]["source"] == "pad"
    Window.dispatch("on_key_down", 282, 0, None, [])
    assert "评价器：非常满意" in kiosk.texts()


def test_fullscreen_kiosk_ignores_keys_and_close_requests(kiosk):
    import dataclasses

    kiosk.app.cfg = dataclasses.replace(kiosk.app.cfg, ui=dataclasses.replace(
        kiosk.app.cfg.ui, fullscreen=True))
    assert kiosk.app._on_request_close() is True
    assert kiosk.app._on_key(None, 27, 0, None, []) is True  # Esc swallowed
    assert kiosk.app._on_key(None, ord("n"), 0, "n", []) is True
    assert kiosk.rows("case.started") == []  # no key drives the counter on the Pi


def test_a_new_visit_shows_nothing_of_the_last_citizen(kiosk):
    kiosk.tap("预约签到")
    for digit in "2026":
        kiosk.tap(digit)
    assert kiosk.app.sm.get_screen("checkin").pad.value == "2026"
    kiosk.tap("返回首页")
    kiosk.tap("意见簿")
    first_ref = kiosk.app.sm.get_screen("comment").ref
    kiosk.tap("表扬")
    kiosk.tap("返回首页")
    kiosk.tap("预约签到")
    assert kiosk.app.sm.get_screen("checkin").pad.value == ""
    kiosk.tap("返回首页")
    kiosk.tap("意见簿")
    screen = kiosk.app.sm.get_screen("comment")
    assert screen.ref != first_ref and first_ref not in screen.qr_url
    assert all(c.state == "normal" for c in screen.chips.values())


def test_scanner_check_in_during_a_case_only_shows_a_notice(kiosk):
    kiosk.core.submit(Press("next"))
    kiosk.frames(2)
    assert kiosk.desk.check_in("20261003", source="scanner").ok
    kiosk.frames(3)
    assert kiosk.screen() == "mirror"
    assert "签到成功，您的号码是 A001，请留意叫号" in kiosk.texts()


def test_screenshots_command_writes_every_screen_in_both_text_sizes(display, config, tmp_path):
    from PIL import Image

    from kiosk.screenshots import demo_config, shoot

    written = shoot(demo_config(config, str(tmp_path / "state")), tmp_path / "shots")
    names = {p.name for p in written}
    for screen in ("home", "guide", "ticket", "checkin", "comment", "mirror", "rating",
                   "rating-reasons", "thanks", "away", "called", "help"):
        assert {f"{screen}.png", f"{screen}-large.png"} <= names
    img = Image.open(tmp_path / "shots" / "home.png")
    assert img.size == (1280, 800)
    assert len(img.convert("RGB").getcolors(1 << 16) or []) > 20  # drawn, not blank


def test_core_notices_show_as_a_banner(kiosk):
    t = threading.Thread(target=kiosk.core.announce, args=("该二维码不是本所的预约", "error"))
    t.start()
    t.join(10)
    kiosk.frames(2)
    assert "该二维码不是本所的预约" in kiosk.texts()
    kiosk.kclock.advance(4.5)
    kiosk.frames()
    assert "该二维码不是本所的预约" not in kiosk.texts()
