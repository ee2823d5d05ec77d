"""A written document on the mirror (issue 13): the citizen reads every line of it,
the promised date included, before it prints; 确认并打印 issues and prints it once."""

from __future__ import annotations

import json

import pytest

from drivers.link import handle_line

pytestmark = pytest.mark.ui


def test_receipt_is_read_on_the_mirror_then_printed_on_confirm(kiosk):
    assert handle_line(kiosk.core, json.dumps(
        {"op": "case_start", "case_no": "C-0042", "service": "hukou.move_in"}))["ok"]
    kiosk.app.go("guide")  # the citizen was browsing: the document brings the mirror up
    kiosk.frames(2)
    reply = handle_line(kiosk.core, json.dumps({"op": "receipt", "pickup": "本窗口领取"}))
    assert reply["ok"], reply
    kiosk.frames(3)
    assert kiosk.screen() == "mirror"
    text = kiosk.texts()
    assert "《受理回执》" in text and "承诺办结日期：2026年12月3日" in text  # 5 working days
    assert "领取方式：本窗口领取" in text and "受理编号：C-0042" in text
    assert kiosk.core.store.query("SELECT count(*) FROM print_jobs") == [(0,)]
    kiosk.tap("确认并打印")
    [(kind, body)] = kiosk.core.store.query("SELECT kind, body FROM print_jobs")
    assert kind == "receipt" and json.loads(body)["promised_date"] == "2026年12月3日"
    assert [e["data"]["kind"] for e in kiosk.rows("document.issued")] == ["receipt"]
    kiosk.frames(3)
    assert "确认并打印" not in kiosk.texts() and kiosk.screen() == "mirror"


def test_intake_is_read_on_the_mirror_then_printed_and_handed_on(kiosk):
    # 2026-11-26 (Thursday): the materials go to the registration officer on Friday.
    assert handle_line(kiosk.core, json.dumps(
        {"op": "case_start", "case_no": "C-0043", "service": "hukou.birth"}))["ok"]
    reply = handle_line(kiosk.core, json.dumps({"op": "intake", "materials": [1, 2]},
                                               ensure_ascii=False))
    assert reply["ok"], reply
    kiosk.frames(3)
    text = kiosk.texts()
    assert "《户口代办受理回执》" in text and "受理编号：C-0043" in text
    assert "移交日期：2026年11月27日（下一个工作日）转户籍民警办理" in text
    kiosk.tap("确认并打印")
    [(kind,)] = kiosk.core.store.query("SELECT kind FROM print_jobs")
    assert kind == "intake"
    assert [e["data"]["number"] for e in kiosk.rows("intake.queued")] == ["DB001"]


def test_home_visit_is_read_on_the_mirror(kiosk):
    assert handle_line(kiosk.core, json.dumps(
        {"op": "case_start", "case_no": "C-0044", "service": "id_card.renew"}))["ok"]
    assert handle_line(kiosk.core, json.dumps(
        {"op": "home_visit", "date": "2026-12-01", "slot": "09:00-11:00",
         "need": "disabled"}))["ok"]
    kiosk.frames(3)
    text = kiosk.texts()
    assert "《上门服务预约单》" in text and "上门日期：2026年12月1日" in text
    assert "上门时段：09:00-11:00" in text and "服务对象：残疾人" in text
