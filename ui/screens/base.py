"""What every screen shares: a reference to the app, rebuild on enter, common rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kivy.clock import Clock
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from ui import theme
from ui.widgets import BigButton, Txt

if TYPE_CHECKING:
    from ui.kioskui import KioskUi


class KioskScreen(Screen):
    """A screen; ``build_content`` returns its widgets from the current state.

    Built widgets are kept and shown again as they are (``refresh`` resets what a new
    citizen must not see, e.g. a typed number), so going back and forth between screens
    costs one frame; a screen is rebuilt when its data changed (``mark_dirty``), when it
    is entered with options, when the text size changed, or always (``always_rebuild``,
    the screens that show the counter's live state)."""

    screen_name = ""
    always_rebuild = False

    def __init__(self, ui: KioskUi, **kw: Any) -> None:
        super().__init__(name=self.screen_name, **kw)
        self.ui = ui
        self.options: dict[str, Any] = {}
        self.dirty = True
        self._built_large: bool | None = None

    def prepare(self, **options: Any) -> None:
        if options or self.options:
            self.dirty = True
        self.options = options

    def mark_dirty(self) -> None:
        self.dirty = True

    def needs_rebuild(self) -> bool:
        return self.always_rebuild or self.dirty or self._built_large != theme.is_large()

    def on_pre_enter(self, *args: Any) -> None:
        if self.needs_rebuild():
            self.rebuild()
        else:
            self.refresh()

    def rebuild(self) -> None:
        self.clear_widgets()
        self.add_widget(self.build_content())
        self.dirty = False
        self._built_large = theme.is_large()

    def refresh(self) -> None:
        """Re-entered without a rebuild: reset per-citizen input here."""

    def build_content(self) -> Widget:  # pragma: no cover - every screen overrides
        raise NotImplementedError

    # -------------------------------------------------------------- helpers

    def home_button(self, text: str = "返回首页") -> BigButton:
        return BigButton(text, colour=theme.PANEL, on_press=self.ui.home, size=28)


def scrolled(content: BoxLayout) -> ScrollView:
    """``content`` (a vertical BoxLayout) in a ScrollView, growing with what it holds."""
    content.size_hint_y = None
    content.bind(minimum_height=content.setter("height"))
    # A wide bar: a thin one does not tell an elderly reader that more is below.
    sv = ScrollView(do_scroll_x=False, bar_width=18, bar_color=[1, 0.84, 0, 0.9],
                    bar_inactive_color=[1, 0.84, 0, 0.55], scroll_type=["bars", "content"])
    sv.add_widget(content)
    return sv


def shrink_to_fit(box: BoxLayout, min_scale: float = 0.7) -> BoxLayout:
    """Make the texts in ``box`` smaller (down to ``min_scale``) until everything it
    holds fits its height: what the citizen must read is never cut off or hidden behind
    a scroll bar (home in large text, the mirror with many fields)."""
    scale = [1.0]

    def apply(value: float) -> None:
        scale[0] = value
        for w in box.walk(restrict=True):
            if isinstance(w, Txt):
                w.font_size = round(w.base_font_size * value)

    def fit(*_: Any) -> None:
        need = float(box.minimum_height)
        if need <= box.height + 1 or scale[0] <= min_scale or box.height <= 1:
            return
        apply(max(min_scale, scale[0] * max(0.8, min(0.98, box.height / need))))

    def resized(*_: Any) -> None:
        # A new size (the first real layout, or the window): start again from full size,
        # so a box measured before it was laid out does not stay small.
        if scale[0] != 1.0:
            apply(1.0)
        trigger()

    trigger = Clock.create_trigger(fit, 0)
    box.bind(size=resized, minimum_height=trigger)
    return box


def column(**kw: Any) -> BoxLayout:
    kw.setdefault("spacing", 12)
    return BoxLayout(orientation="vertical", **kw)


def row(**kw: Any) -> BoxLayout:
    kw.setdefault("spacing", 12)
    return BoxLayout(orientation="horizontal", **kw)
