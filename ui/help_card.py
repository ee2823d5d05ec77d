"""The help card (F1 or ?): how to use the kiosk, and in simulation the keys that stand
for the counter's hardware buttons."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.uix.widget import Widget

from ui import theme
from ui.app import KEY_HELP
from ui.screens.base import row
from ui.widgets import BigButton, Panel, Txt


def help_card(simulation_keys: bool, on_close: Callable[..., Any]) -> Panel:
    card = Panel(orientation="vertical", padding=30, spacing=14, bg=[0.02, 0.05, 0.12, 1],
                 size_hint=(0.88, 0.94), pos_hint={"center_x": 0.5, "center_y": 0.5})
    card.add_widget(Txt("使用帮助", size=40, bold=True, colour=theme.ACCENT))
    card.add_widget(Txt("点击屏幕下方的大按钮即可办理；“大字”按钮放大文字；"
                        "一段时间无操作将自动回到首页。", size=28))
    if simulation_keys:
        card.add_widget(Txt("模拟运行键盘按键（与台面按键效果相同）：", size=28,
                            colour=theme.ACCENT))
        for key, what in KEY_HELP:
            r = row(size_hint_y=None, height=50)
            r.add_widget(Txt(f"[b]{key}[/b]", size=28, size_hint_x=0.2))
            r.add_widget(Txt(what, size=26))
            card.add_widget(r)
    card.add_widget(Widget())
    card.add_widget(BigButton("关闭", colour=theme.PRIMARY, on_press=on_close))
    return card
