"""Away: a full-screen notice with the reason, the return time and a live countdown, the
contact phone, where to go meanwhile, HQ's notices, and the ways into the guide, tickets,
check-in and the comment book (nothing at the counter is a dead end while the officer is
away). The countdown ticks on the app's one clock tick (KioskUi._tick), on the second
boundary of the core's clock, like the header clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kivy.uix.widget import Widget

from ui import theme
from ui.fonts import markup
from ui.screens.base import KioskScreen, column, row
from ui.screens.home import notice_labels
from ui.theme import fs
from ui.widgets import BigButton, Panel, Txt


def countdown_text(seconds: float) -> str:
    if seconds <= 0:
        return "民警即将返回，请稍候"
    m, s = divmod(int(seconds + 0.999), 60)
    h, m = divmod(m, 60)
    return f"还有 {h} 小时 {m:02d} 分 {s:02d} 秒" if h else f"还有 {m} 分 {s:02d} 秒"


class AwayScreen(KioskScreen):
    screen_name = "away"
    always_rebuild = True

    def build_content(self) -> Widget:
        cfg = self.ui.cfg
        away = self.ui.core.state.away
        body = column(padding=[40, 16], spacing=12)
        body.add_widget(Txt("暂停服务", size=72, bold=True, halign="center",
                            colour=theme.ACCENT))
        if away is None:
            body.add_widget(Widget())
            body.add_widget(self.nav())
            return body
        back = datetime.fromisoformat(away.return_at)
        body.add_widget(Txt(f"原因：{away.reason}", size=34, halign="center"))
        body.add_widget(Txt(f"预计 {back:%H:%M} 返回", size=40, bold=True, halign="center"))
        self.countdown = Txt("", size=36, halign="center", colour=theme.ACCENT)
        body.add_widget(self.countdown)
        info = Panel(orientation="vertical", padding=[20, 12], spacing=8, size_hint_y=None)
        info.bind(minimum_height=info.setter("height"))
        info.add_widget(Txt(f"联系电话：{away.phone or cfg.window.consult_phone}", size=30))
        # The core names the backup of the officer who left ("000002; window 2").
        backup = cfg.officer(away.backup.split(";")[0].strip())
        where = away.backup
        if backup:
            where = f"{markup(backup.role)} {markup(backup.name)}（警号 {backup.badge}）"
            if cfg.staff.backup_window:
                where += f"，{cfg.staff.backup_window}号窗口"
        info.add_widget(Txt(f"急需办理请到：{where}", size=30))
        for label in notice_labels(self.ui.current_notices(), size=26):
            info.add_widget(label)
        body.add_widget(info)
        body.add_widget(Widget())
        body.add_widget(self.nav())
        self.update_countdown()
        return body

    def nav(self) -> Widget:
        """The guide, tickets, check-in and the comment book stay one tap away."""
        ui = self.ui
        bar = row(size_hint_y=None, height=max(theme.TARGET, fs(30) * 2.6), spacing=14)
        self.nav_buttons = {
            "guide": BigButton("办事指南", size=30, on_press=lambda: ui.go("guide")),
            "ticket": BigButton("取号", size=30, colour=theme.GOOD,
                                on_press=lambda: ui.go("ticket")),
            "checkin": BigButton("预约签到", size=30, on_press=lambda: ui.go("checkin")),
            "comment": BigButton("意见簿", size=30, colour=theme.WARN,
                                 on_press=lambda: ui.go("comment")),
        }
        for b in self.nav_buttons.values():
            b.height = bar.height
            bar.add_widget(b)
        return bar

    def update_countdown(self, *_: Any) -> None:
        away = self.ui.core.state.away
        if away is None or not hasattr(self, "countdown"):
            return
        left = datetime.fromisoformat(away.return_at).timestamp() - self.ui.core.clock()
        self.countdown.text = countdown_text(left)

    def on_leave(self, *args: Any) -> None:
        """Nothing of its own ticks (the app's clock tick updates the countdown)."""
