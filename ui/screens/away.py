"""Away: a full-screen notice with the reason, the return time and a live countdown, the
contact phone and where to go meanwhile. The countdown ticks once a second only while
this screen is shown."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kivy.clock import Clock
from kivy.uix.widget import Widget

from ui import theme
from ui.fonts import markup
from ui.screens.base import KioskScreen, column
from ui.widgets import Panel, Txt


def countdown_text(seconds: float) -> str:
    if seconds <= 0:
        return "民警即将返回，请稍候"
    m, s = divmod(int(seconds + 0.999), 60)
    h, m = divmod(m, 60)
    return f"还有 {h} 小时 {m:02d} 分 {s:02d} 秒" if h else f"还有 {m} 分 {s:02d} 秒"


class AwayScreen(KioskScreen):
    screen_name = "away"
    always_rebuild = True
    _tick: Any = None

    def build_content(self) -> Widget:
        cfg = self.ui.cfg
        away = self.ui.core.state.away
        body = column(padding=[40, 24], spacing=18)
        body.add_widget(Txt("暂停服务", size=90, bold=True, halign="center",
                            colour=theme.ACCENT))
        if away is None:
            body.add_widget(Widget())
            return body
        back = datetime.fromisoformat(away.return_at)
        body.add_widget(Txt(f"原因：{away.reason}", size=40, halign="center"))
        body.add_widget(Txt(f"预计 {back:%H:%M} 返回", size=44, bold=True, halign="center"))
        self.countdown = Txt("", size=40, halign="center", colour=theme.ACCENT)
        body.add_widget(self.countdown)
        info = Panel(orientation="vertical", padding=20, spacing=10, size_hint_y=None)
        info.bind(minimum_height=info.setter("height"))
        info.add_widget(Txt(f"联系电话：{away.phone or cfg.window.consult_phone}", size=34))
        # The core names the backup of the officer who left ("000002; window 2").
        backup = cfg.officer(away.backup.split(";")[0].strip())
        where = away.backup
        if backup:
            where = f"{markup(backup.role)} {markup(backup.name)}（警号 {backup.badge}）"
            if cfg.staff.backup_window:
                where += f"，{cfg.staff.backup_window}号窗口"
        info.add_widget(Txt(f"急需办理请到：{where}", size=34))
        body.add_widget(info)
        body.add_widget(Widget())
        self.update_countdown()
        return body

    def update_countdown(self, *_: Any) -> None:
        away = self.ui.core.state.away
        if away is None or not hasattr(self, "countdown"):
            return
        left = datetime.fromisoformat(away.return_at).timestamp() - self.ui.core.clock()
        self.countdown.text = countdown_text(left)

    def on_enter(self, *args: Any) -> None:
        self._tick = Clock.schedule_interval(self.update_countdown, 1.0)

    def on_leave(self, *args: Any) -> None:
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
