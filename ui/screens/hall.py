"""The hall's calling display (role ``hall``, docs/station.md): the newest call in very
large yellow text, what each window serves now (or where to go while it is away), the
last calls, how many wait per service, and the station's notices. Fed only by the
station's board (device/hall.py's :class:`HallView`); nothing on it is touchable.

Sized to be read from across a hall: the call at 120 px, the windows at 64 px, nothing
below 40 px (at 1280x800; a larger TV scales the window up).
"""

from __future__ import annotations

from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from device.hall import OFFLINE, HallView
from ui import theme
from ui.screens.base import KioskScreen, column, row, shrink_to_fit
from ui.widgets import Cell, Panel, Txt


class HallScreen(KioskScreen):
    screen_name = "hall"
    always_rebuild = True

    def view(self) -> HallView:
        board = self.ui.hall
        return board.view() if board is not None else HallView()

    def build_content(self) -> Widget:
        v = self.view()
        body = column(padding=[20, 14], spacing=14)
        top = Panel(orientation="vertical", padding=[16, 10], size_hint_y=None, height=200,
                    bg=[0.0, 0.0, 0.0, 1.0])
        self.latest = Txt(v.latest or "请留意叫号", size=104 if v.latest else 72, bold=True,
                          colour=theme.ACCENT, halign="center", valign="middle")
        top.add_widget(self.latest)
        body.add_widget(top)

        middle = row(spacing=18)
        grid = GridLayout(cols=1, spacing=10, size_hint_x=0.64)
        for w in v.windows:
            cell = Panel(orientation="horizontal", padding=[14, 6], spacing=14,
                         bg=list(theme.WARN if w.away else theme.PANEL))
            # One line, never broken: "1号窗口" is what the citizen looks for.
            cell.add_widget(Cell(f"[b]{w.window}号窗口[/b]", size=52, size_hint_x=0.36))
            if w.away:
                what = (f"暂离\n请到{w.backup}号窗口办理" if w.backup else "暂停服务")
                cell.add_widget(Txt(what, size=44, bold=True, valign="middle"))
            else:
                cell.add_widget(Txt(w.serving or "等候叫号", size=64 if w.serving else 48,
                                    bold=bool(w.serving), valign="middle",
                                    colour=theme.ACCENT if w.serving else theme.MUTED))
            grid.add_widget(cell)
        if not v.windows:
            grid.add_widget(Txt("正在连接叫号系统…", size=48, colour=theme.MUTED))
        middle.add_widget(grid)
        recent = Panel(orientation="vertical", padding=[14, 8], spacing=6, size_hint_x=0.36)
        recent.add_widget(Txt("最近叫号", size=44, bold=True, colour=theme.MUTED))
        for line in v.called[:6]:
            recent.add_widget(Txt(line, size=48))
        recent.add_widget(Widget())
        middle.add_widget(shrink_to_fit(recent))
        body.add_widget(middle)

        foot = column(spacing=6, size_hint_y=None, height=190)
        if v.offline:
            foot.add_widget(Txt(OFFLINE, size=36, bold=True, colour=theme.BAD_TEXT))
        waiting = "　".join(v.waiting) if v.waiting else "暂无等候"
        foot.add_widget(Txt(f"等候人数：{waiting}", size=36))
        if v.longest_wait_min:
            foot.add_widget(Txt(f"最长已等候约 {v.longest_wait_min} 分钟", size=36,
                                colour=theme.MUTED))
        for n in v.notices[:2]:
            foot.add_widget(Txt(f"公告：{n}", size=36, bold=True, colour=theme.ACCENT))
        foot.add_widget(Widget())
        body.add_widget(shrink_to_fit(foot, 0.6))
        return body
