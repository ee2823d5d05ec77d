"""Rating: whom the citizen rates (您正在评价：李明 000001) and five large buttons
mirroring the GPIO pad (the same Press intent, so whichever is pressed first counts,
once), each with its face drawn on the canvas (no emoji font needed) above the level
word; after 不满意/非常不满意 optional reason chips and a callback phone; then thanks
and a farewell."""

from __future__ import annotations

from functools import partial
from typing import Any

from kivy.graphics import Color, Ellipse, Line
from kivy.uix.widget import Widget

from device.comments import valid_phone
from device.intents import Press, RatingExtras
from device.rating import RatingLevel
from ui import theme
from ui.fonts import markup
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


# How much each face smiles: 1 a broad smile, 0 a straight mouth, -1 a deep frown.
SMILE: dict[RatingLevel, float] = {
    RatingLevel.VERY_SATISFIED: 1.0, RatingLevel.SATISFIED: 0.55, RatingLevel.BASIC: 0.0,
    RatingLevel.UNSATISFIED: -0.55, RatingLevel.VERY_UNSATISFIED: -1.0,
}


def mouth_points(cx: float, cy: float, r: float, smile: float) -> list[float]:
    """A parabola across the lower face: ends up for a smile, down for a frown."""
    pts: list[float] = []
    half = r * 0.5
    base = cy - r * 0.35
    for i in range(13):
        t = i / 12 * 2 - 1  # -1 .. 1
        pts += [cx + t * half, base - smile * r * 0.28 * (1 - t * t)]
    return pts


class RatingButton(BigButton):
    """A level button: the face in the upper part, the word below it."""

    def __init__(self, level: RatingLevel, **kw: object) -> None:
        super().__init__(level.label, **kw)  # type: ignore[arg-type]
        self.level = level
        self.bind(pos=self._draw, size=self._draw)

    def fit_height(self) -> float:
        return float(self.height) * 0.38

    def _draw(self, *_: object) -> None:
        # The word sits below the face: a top padding pushes the centred text down.
        self.padding = [8, self.height * 0.58, 8, 0]
        self.canvas.after.clear()
        r = min(self.width * 0.32, self.height * 0.22)
        cx, cy = self.center_x, self.y + self.height * 0.68
        w = max(3.0, r * 0.09)
        with self.canvas.after:
            Color(1, 0.92, 0.35, 1)
            Ellipse(pos=(cx - r, cy - r), size=(2 * r, 2 * r))
            Color(0.1, 0.08, 0.05, 1)
            Line(circle=(cx, cy, r), width=max(2.0, w * 0.6))
            eye = r * 0.13
            for dx in (-0.36, 0.36):
                Ellipse(pos=(cx + dx * r - eye, cy + r * 0.22 - eye), size=(2 * eye, 2 * eye))
            Line(points=mouth_points(cx, cy, r, SMILE[self.level]), width=w, cap="round",
                 joint="round")


class RatingScreen(KioskScreen):
    screen_name = "rating"
    always_rebuild = True

    def build_content(self) -> Widget:
        if self.options.get("extras_for"):
            return self._extras()
        body = column(padding=[24, 16], spacing=16)
        body.add_widget(Txt("请您对本次服务进行评价", size=46, bold=True, halign="center",
                            colour=theme.ACCENT))
        self.whom = Txt(self.whom_text(), size=34, halign="center", markup=True)
        body.add_widget(self.whom)
        body.add_widget(Txt("点击下方按钮，或按台面评价器，只计第一次评价", size=26,
                            halign="center", colour=theme.MUTED))
        buttons = row(spacing=16, size_hint_y=None, height=330)
        self.level_buttons: dict[str, BigButton] = {}
        for level in RatingLevel:
            b = RatingButton(level, colour=theme.RATING_COLOURS[level.value], size=36,
                             height=330, on_press=partial(self.rate, level.value))
            self.level_buttons[level.value] = b
            buttons.add_widget(b)
        body.add_widget(buttons)
        body.add_widget(Widget())
        return body

    def whom_text(self) -> str:
        """您正在评价：李明 000001 (the officer signed in, else the one on duty)."""
        cfg = self.ui.cfg
        badge = self.ui.core.state.officer or cfg.staff.on_duty
        officer = cfg.officer(badge)
        name = f"[b]{markup(officer.name)}[/b] " if officer else ""
        return f"您正在评价：{name}{badge}（{cfg.window.number}号窗口）"

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
