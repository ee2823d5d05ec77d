"""The kiosk's building blocks: panels, big buttons, chips, wrapping text, a number pad."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from kivy.lang import Builder
from kivy.properties import BooleanProperty, ListProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.togglebutton import ToggleButton

from ui import theme
from ui.textfit import Kinsoku
from ui.theme import fs

Builder.load_file(str(Path(__file__).with_name("kiosk.kv")))


class Panel(BoxLayout):
    bg = ListProperty(list(theme.PANEL))


class BigButton(Kinsoku, Button):
    """A touch target of at least theme.TARGET px on each side; its words never split
    (the text shrinks to fit instead, ui/textfit.py)."""

    fit_text = True

    fg = ListProperty(list(theme.TEXT))

    def __init__(self, text: str = "", *, on_press: Callable[[], Any] | None = None,
                 colour: tuple[float, ...] = theme.PRIMARY, size: float = 30,
                 height: float | None = None, **kw: Any) -> None:
        kw.setdefault("size_hint_y", None)
        super().__init__(text=text, font_size=fs(size), background_color=colour, **kw)
        self.height = max(theme.TARGET, height or fs(size) * 2.6)
        self.size_hint_min_x = theme.TARGET
        if on_press is not None:
            self.bind(on_release=lambda *_: on_press())


class Chip(Kinsoku, ToggleButton):
    fit_text = True
    key = StringProperty("")

    def __init__(self, text: str, key: str, **kw: Any) -> None:
        kw.setdefault("size_hint_y", None)
        super().__init__(text=text, font_size=fs(26), **kw)
        self.key = key
        self.height = max(theme.TARGET, fs(26) * 2.6)
        self.size_hint_min_x = theme.TARGET


class Txt(Kinsoku, Label):
    """Text that wraps to its width (by the kinsoku rule) and grows to its height.

    Markup is on only when the text has some (or ``markup=True`` for text set later):
    wrapping markup measures word by word and costs several times more."""

    def __init__(self, text: str = "", size: float = 26, colour: tuple[float, ...] = theme.TEXT,
                 bold: bool = False, **kw: Any) -> None:
        kw.setdefault("markup", "[" in text or "&" in text)
        super().__init__(text=text, font_size=fs(size), color=colour, bold=bold, **kw)
        self.base_font_size = float(self.font_size)


class Cell(Kinsoku, Label):
    """One line in a fixed box, vertically centred (header items)."""

    def __init__(self, text: str = "", size: float = 26, colour: tuple[float, ...] = theme.TEXT,
                 **kw: Any) -> None:
        super().__init__(text=text, font_size=fs(size), color=colour, **kw)


class NumberPad(GridLayout):
    """Digits, 删除 and 清空 for appointment codes and phone numbers (no IME on the kiosk)."""

    value = StringProperty("")
    masked = BooleanProperty(False)

    def __init__(self, max_len: int = 12, **kw: Any) -> None:
        super().__init__(cols=3, spacing=10, size_hint_y=None, **kw)
        self.max_len = max_len
        self.buttons: dict[str, BigButton] = {}
        keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "清空", "0", "删除"]
        for k in keys:
            colour = theme.PANEL if k in ("清空", "删除") else theme.PRIMARY
            b = BigButton(k, colour=colour, size=34, height=theme.TARGET,
                          on_press=partial(self.press, k))
            self.buttons[k] = b
            self.add_widget(b)
        self.height = 4 * theme.TARGET + 3 * 10

    def press(self, key: str) -> None:
        if key == "删除":
            self.value = self.value[:-1]
        elif key == "清空":
            self.value = ""
        elif len(self.value) < self.max_len:
            self.value += key


def chip_grid(options: dict[str, str], spacing: float = 10) -> tuple[GridLayout, dict[str, Chip]]:
    """Two columns of toggle chips (key -> label) that grow with their content; returns
    the grid and the chips by key, for reading which ones are down."""
    grid = GridLayout(cols=2, spacing=spacing, size_hint_y=None)
    grid.bind(minimum_height=grid.setter("height"))
    chips: dict[str, Chip] = {}
    for key, label in options.items():
        chips[key] = Chip(label, key)
        grid.add_widget(chips[key])
    return grid, chips
