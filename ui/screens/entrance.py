"""Home of the entrance kiosk (role ``entrance``, docs/station.md): no officer, no mirror,
no rating; the way to the guide (with its printed checklist), a ticket, appointment
check-in and the comment book, with the hall's hours, phones and notices."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kivy.uix.widget import Widget

from ui import theme
from ui.screens.base import column, row, shrink_to_fit
from ui.screens.home import notice_labels
from ui.theme import fs
from ui.widgets import BigButton, Panel, Txt

if TYPE_CHECKING:
    from ui.kioskui import KioskUi


def entrance_home(ui: KioskUi) -> tuple[Widget, dict[str, BigButton]]:
    cfg = ui.cfg
    body = column(padding=[16, 12, 16, 12], spacing=14)
    info = Panel(orientation="vertical", padding=[20, 14], spacing=10)
    info.add_widget(Txt(f"欢迎来到{cfg.window.station or '户政服务大厅'}", size=52, bold=True,
                        colour=theme.ACCENT))
    info.add_widget(Txt("请先取号，再留意大厅屏幕和语音叫号，到叫您的窗口办理。"
                        "不清楚要带什么材料，请点“办事指南”，可打印一次性告知单。", size=36))
    info.add_widget(Txt(f"办公时间：{cfg.window.hours}", size=32))
    info.add_widget(Txt(f"咨询电话：{cfg.window.consult_phone}　"
                        f"投诉电话：{cfg.window.complaint_phone}", size=32))
    for label in notice_labels(ui.current_notices()):
        info.add_widget(label)
    info.add_widget(Widget())
    body.add_widget(shrink_to_fit(info))
    figure = ui.published_figure()
    if figure is not None:
        body.add_widget(Txt(figure.line, size=36, colour=theme.ACCENT, bold=True,
                            halign="center"))
    nav = row(size_hint_y=None, height=max(theme.TARGET, fs(40) * 3.2), spacing=14)
    buttons = {
        "ticket": BigButton("取号", on_press=lambda: ui.go("ticket"), size=48,
                            colour=theme.GOOD),
        "guide": BigButton("办事指南\n打印告知单", on_press=lambda: ui.go("guide"), size=34),
        "checkin": BigButton("预约签到", on_press=lambda: ui.go("checkin"), size=40),
        "comment": BigButton("意见簿", on_press=lambda: ui.go("comment"), size=40,
                             colour=theme.WARN),
    }
    for b in buttons.values():
        b.height = nav.height
        nav.add_widget(b)
    body.add_widget(nav)
    return body, buttons
