"""Rating: five large buttons mirroring the GPIO pad (the same Press intent, so whichever
is pressed first counts, once); after 不满意/非常不满意 optional reason chips and a
callback phone; then thanks and a farewell."""

from __future__ import annotations

from functools import partial
from typing import Any

from kivy.uix.widget import Widget

from device.comments import valid_phone
from device.intents import Press, RatingExtras
from device.rating import RatingLevel
from ui import theme
from ui.screens.base import KioskScreen, column, row
from ui.widgets import BigButton, NumberPad, Panel, Txt, chip_grid

REASONS: dict[str, str] = {
    "attitude": "服务态度差",
    "waiting": "等候时间长",
    "competence": "业务不熟练",
    "process": "手续繁琐",
    "facility": "设施不便",
    "other": "其他",
}


class RatingScreen(KioskScreen):
    screen_name = "rating"
    always_rebuild = True

    def build_content(self) -> Widget:
        if self.options.get("extras_for"):
            return self._extras()
        body = column(padding=[24, 20], spacing=20)
        body.add_widget(Txt("请您对本次服务进行评价", size=48, bold=True, halign="center",
                            colour=theme.ACCENT))
        body.add_widget(Txt("点击下方按钮，或按台面评价器，只计第一次评价", size=28,
                            halign="center"))
        buttons = row(spacing=16, size_hint_y=None, height=260)
        self.level_buttons: dict[str, BigButton] = {}
        for level in RatingLevel:
            b = BigButton(level.label, colour=theme.RATING_COLOURS[level.value], size=38,
                          height=260, on_press=partial(self.rate, level.value))
            self.level_buttons[level.value] = b
            buttons.add_widget(b)
        body.add_widget(buttons)
        body.add_widget(Widget())
        return body

    def rate(self, level: str) -> None:
        # Exactly what the GPIO pad does: the counter takes the first press only.
        self.ui.core.submit(Press(level, source="screen"))

    # -------------------------------------------------------------- extras

    def _extras(self) -> Widget:
        body = row(padding=[16, 12], spacing=20)
        left = column(spacing=12)
        left.add_widget(Txt("很抱歉给您带来不好的体验", size=38, bold=True,
                            colour=theme.ACCENT))
        left.add_widget(Txt("请选择原因（可多选，可不选）：", size=28))
        grid, self.reason_chips = chip_grid(REASONS, spacing=12)
        left.add_widget(grid)
        left.add_widget(Txt("如需回访，请在右侧输入手机号码（可不填）：", size=26))
        box = Panel(orientation="vertical", padding=8, size_hint_y=None, height=96)
        self.phone_label = Txt("", size=44, bold=True, halign="center", markup=True)
        box.add_widget(self.phone_label)
        left.add_widget(box)
        self.message = Txt("", size=26, colour=theme.ACCENT)
        left.add_widget(self.message)
        left.add_widget(Widget())
        body.add_widget(left)
        right = column(spacing=12, size_hint_x=0.45)
        self.pad = NumberPad(max_len=12)
        self.pad.bind(value=self._show_phone)
        right.add_widget(self.pad)
        actions = row(size_hint_y=None, height=theme.TARGET)
        self.submit = BigButton("提交", colour=theme.GOOD, on_press=self.send)
        self.skip = BigButton("跳过", colour=theme.PANEL, on_press=self.finish)
        actions.add_widget(self.submit)
        actions.add_widget(self.skip)
        right.add_widget(actions)
        right.add_widget(Widget())
        body.add_widget(right)
        self._show_phone()
        return body

    def _show_phone(self, *_: Any) -> None:
        self.phone_label.text = self.pad.value or "[color=#8899bb]不填写[/color]"

    def send(self) -> None:
        phone = self.pad.value
        if phone and not valid_phone(phone):
            self.message.text = "号码不完整：手机号为11位，固话请加区号"
            return
        reasons = tuple(k for k, c in self.reason_chips.items() if c.state == "down")
        if reasons or phone:
            self.ui.core.submit(RatingExtras(self.options["extras_for"], reasons, phone))
        self.finish()

    def finish(self) -> None:
        self.options = {}
        self.ui.go("thanks", rated=True)


class ThanksScreen(KioskScreen):
    screen_name = "thanks"
    always_rebuild = True

    def build_content(self) -> Widget:
        body = column(padding=[24, 60], spacing=30)
        text = self.options.get("text") or ("感谢您的评价！" if self.options.get("rated")
                                            else "感谢您的光临！")
        body.add_widget(Widget())
        body.add_widget(Txt(text, size=60, bold=True, halign="center", colour=theme.ACCENT))
        body.add_widget(Txt("请慢走，欢迎再来", size=44, halign="center"))
        body.add_widget(Widget())
        body.add_widget(self.home_button())
        return body

    def on_enter(self, *args: Any) -> None:
        self.ui.schedule_home(self.ui.cfg.timeouts.thanks_s)
