"""What every screen shares: a reference to the app, rebuild on enter, common rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from ui import theme
from ui.widgets import BigButton

if TYPE_CHECKING:
    from ui.kioskui import KioskUi


class KioskScreen(Screen):
    """A screen; ``build_content`` returns its widgets from the current state."""

    screen_name = ""

    def __init__(self, ui: KioskUi, **kw: Any) -> None:
        super().__init__(name=self.screen_name, **kw)
        self.ui = ui
        self.options: dict[str, Any] = {}

    def prepare(self, **options: Any) -> None:
        self.options = options

    def on_pre_enter(self, *args: Any) -> None:
        self.rebuild()

    def rebuild(self) -> None:
        self.clear_widgets()
        self.add_widget(self.build_content())

    def build_content(self) -> Widget:  # pragma: no cover - every screen overrides
        raise NotImplementedError

    # -------------------------------------------------------------- helpers

    def home_button(self, text: str = "返回首页") -> BigButton:
        return BigButton(text, colour=theme.PANEL, on_press=self.ui.home, size=28)


def scrolled(content: BoxLayout) -> ScrollView:
    """``content`` (a vertical BoxLayout) in a ScrollView, growing with what it holds."""
    content.size_hint_y = None
    content.bind(minimum_height=content.setter("height"))
    sv = ScrollView(do_scroll_x=False, bar_width=10, scroll_type=["bars", "content"])
    sv.add_widget(content)
    return sv


def column(**kw: Any) -> BoxLayout:
    kw.setdefault("spacing", 12)
    return BoxLayout(orientation="vertical", **kw)


def row(**kw: Any) -> BoxLayout:
    kw.setdefault("spacing", 12)
    return BoxLayout(orientation="horizontal", **kw)
