"""What the screen shows from the core's state (issue 9, items 1-3): the service of the
called ticket on the mirror, the number being served in the header only while it is, and
the away details of the officer who is signed in now."""

from __future__ import annotations

import pytest

from device.intents import CaseEnd, Press, SignIn

pytestmark = pytest.mark.ui

SERVING = "正在办理：[b][color=#ffd600]A001[/color][/b]"


def test_called_ticket_service_on_the_mirror_and_header_clears(kiosk):
    kiosk.desk.issue_ticket("id_card.renew")
    kiosk.core.submit(Press("next"))
    kiosk.frames(3)
    assert kiosk.screen() == "mirror"
    text = kiosk.texts()
    assert "正在为您办理：居民身份证有效期满换领" in text and "窗口业务" not in text
    assert kiosk.app.called_label.text == SERVING
    kiosk.core.submit(CaseEnd())
    kiosk.frames(3)
    assert kiosk.app.called_label.text == ""
    kiosk.core.submit(Press("satisfied"))
    kiosk.core.submit(Press("away"))
    kiosk.frames(3)
    assert kiosk.screen() == "away" and "正在办理" not in kiosk.texts()


def test_away_board_shows_the_signed_in_officers_phone_and_another_backup(kiosk):
    kiosk.core.submit(SignIn("000002"))
    kiosk.core.submit(Press("away"))
    kiosk.frames(3)
    assert kiosk.screen() == "away"
    text = kiosk.texts()
    assert "联系电话：0755-8000 0002" in text
    assert "急需办理请到：窗口民警 李明（警号 000001）" in text and "王芳（警号" not in text
