"""The Kivy App: header, screens, overlays (called number, notices, help), the core
observer, the idle timeout and the simulation keys. What a change does to the screen is
ui/changes.py. Imported only after ui.env.prepare."""

from __future__ import annotations

import contextlib
import logging
import time
from functools import partial
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager
from kivy.uix.widget import Widget

from device.catalogue import Catalogue
from device.config import Config
from device.core import Change, Core
from device.hall import HallBoard, HallView
from device.intents import Press
from device.notices import Notice, NoticeBoard
from device.queue import QueueDesk
from device.results import MonthFigure, ResultsBoard
from ui import memory, theme
from ui.app import (
    CALLED_SHOW_S,
    KEY_ESC,
    KEY_F1,
    KEYS,
    TOAST_S,
    catalogue_of,
    local_time,
    mode_screen,
    role_of,
)
from ui.changes import apply_change
from ui.help_card import help_card
from ui.screens.away import AwayScreen
from ui.screens.base import KioskScreen, column
from ui.screens.comment import CommentScreen
from ui.screens.guide import GuideScreen
from ui.screens.hall import HallScreen
from ui.screens.home import HomeScreen
from ui.screens.mirror import MirrorScreen
from ui.screens.rating import RatingScreen, ThanksScreen
from ui.screens.ticket import CheckinScreen, TicketScreen
from ui.widgets import BigButton, Cell, Panel, Txt

log = logging.getLogger("ui")

PREBUILT = ("home", "guide", "ticket", "checkin", "comment")

SCREENS: tuple[type[KioskScreen], ...] = (
    HomeScreen, GuideScreen, TicketScreen, CheckinScreen, MirrorScreen, RatingScreen,
    ThanksScreen, AwayScreen, CommentScreen, HallScreen)


class KioskRoot(FloatLayout):
    """Every touch passes here first: it restarts the idle timeout."""

    def __init__(self, ui: KioskUi, **kw: Any) -> None:
        super().__init__(**kw)
        self.ui = ui

    def on_touch_down(self, touch: Any) -> bool:
        self.ui.touched()
        return bool(super().on_touch_down(touch))


class KioskUi(App):
    title = "counter-kiosk"

    def __init__(self, core: Core, desk: QueueDesk, config: Config,
                 hall: HallBoard | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.core = core
        self.desk = desk
        self.cfg = config  # not "config": Kivy's App keeps its ConfigParser there
        # The station role (docs/station.md): "counter" (standalone), "window",
        # "entrance" (no mirror, no rating) or "hall" (the calling display, fed by
        # ``hall``, the station's board).
        self.role = role_of(config)
        self.hall = hall
        self.started_perf = time.perf_counter()
        self.first_frame_s: float | None = None
        self.simulation_keys = not config.ui.fullscreen
        self._idle_ev: Any = None
        self._home_ev: Any = None
        self._toast_ev: Any = None
        self._called_ev: Any = None
        self._catalogue_version = ""
        self._notice_ids: tuple[str, ...] = ()
        self._clock_ev: Any = None
        self.notices = NoticeBoard(core.store, config.window.notice, config.device.timezone)
        self.results = ResultsBoard(core.store)  # HQ's published month, on home
        self._figure_line = ""
        self.overlay: Widget | None = None
        self.toast_widget: Widget | None = None
        self.help_widget: Widget | None = None
        # Frees what changed screens left behind, soon after (ui/memory.py).
        self.reclaimer = memory.Reclaimer()
        # The hall's display is large text already, sized for across the hall.
        theme.set_large(config.ui.large_text and self.role != "hall")

    use_kivy_settings = False

    def open_settings(self, *_: Any) -> bool:
        return False  # F1 is our help overlay, not Kivy's settings panel

    def mount(self) -> None:
        """Build and start without entering Kivy's loop (tests, screenshots, benchmarks):
        the caller runs frames with EventLoop.idle()."""
        from kivy.base import EventLoop

        EventLoop.ensure_window()
        self.root = self.build()
        self.built = True
        Window.add_widget(self.root)
        self._app_window = Window
        self.dispatch("on_start")

    def unmount(self) -> None:
        self.dispatch("on_stop")
        Window.remove_widget(self.root)

    # ------------------------------------------------------------------ building

    def build(self) -> Widget:
        Window.clearcolor = theme.BG
        self.root_widget = KioskRoot(self)
        self.main = column(spacing=0)
        # The header's own padding (4 px) around the 96 px buttons: nothing pokes out.
        self.header = BoxLayout(size_hint_y=None, height=theme.TARGET + 8)
        if self.role != "hall":  # the calling display is the whole screen
            self.main.add_widget(self.header)
        self.sm = ScreenManager(transition=NoTransition())
        for cls in SCREENS:
            self.sm.add_widget(cls(self))
        self.main.add_widget(self.sm)
        self.root_widget.add_widget(self.main)
        self.build_header()
        return self.root_widget

    def build_header(self) -> None:
        h, cfg = self.header, self.cfg
        h.clear_widgets()
        bar = Panel(orientation="horizontal", padding=[16, 4], spacing=12, bg=list(theme.PANEL))
        where = (f"[b]{cfg.window.station or '户政服务大厅'}[/b]"
                 if self.role == "entrance"
                 else f"[b]{cfg.window.number}号窗口[/b]  {cfg.window.name}")
        bar.add_widget(Cell(where, size=30, size_hint_x=0.36))
        called = self.desk.called
        self.called_label = Cell(
            f"正在办理：[b][color=#ffd600]{called.number}[/color][/b]" if called else "",
            size=30, size_hint_x=0.26)
        bar.add_widget(self.called_label)
        self.clock_label = Cell("", size=26, size_hint_x=0.18, colour=theme.MUTED)
        bar.add_widget(self.clock_label)
        self.large_button = BigButton("标准字" if theme.is_large() else "大字", size=28,
                                      colour=theme.WARN, size_hint_x=None, width=150,
                                      height=theme.TARGET, on_press=self.toggle_large)
        bar.add_widget(self.large_button)
        self.help_button = BigButton("?", size=34, colour=theme.PRIMARY, size_hint_x=None,
                                     width=theme.TARGET, height=theme.TARGET,
                                     on_press=self.toggle_help)
        bar.add_widget(self.help_button)
        h.add_widget(bar)
        self.update_clock()

    def on_start(self) -> None:
        self.core.subscribe(self._observe)
        Window.bind(on_key_down=self._on_key, on_request_close=self._on_request_close)
        self._schedule_tick()
        self._content_ev = Clock.schedule_interval(self.poll_content, 5.0)
        self._catalogue_version = self.catalogue().version
        self._notice_ids = tuple(n.id for n in self.current_notices())
        self._figure_line = self._figure_text()
        if self.hall is not None:
            self.hall.subscribe(self._hall_changed)
        self.go(self.mode_target())
        Window.bind(on_flip=self._first_frame)

    def _first_frame(self, *_: Any) -> None:
        Window.unbind(on_flip=self._first_frame)
        self.first_frame_s = time.perf_counter() - self.started_perf
        # bench/ui_bench.py waits for this line.
        log.info("first frame shown %.2f s after the UI started", self.first_frame_s)
        # Build the other touch screens now, one per frame, so a citizen's first tap on
        # each shows it within a frame (the start-up window is not delayed by them).
        pending = [n for n in PREBUILT if n != self.sm.current and self.role != "hall"]

        def build_next(_dt: float) -> None:
            if pending:
                self.prebuild(pending.pop(0))
                Clock.schedule_once(build_next, 0)

        Clock.schedule_once(build_next, 0)

    def prebuild(self, name: str) -> None:
        screen = self.sm.get_screen(name)
        assert isinstance(screen, KioskScreen)
        if screen.needs_rebuild() and not screen.always_rebuild:
            screen.size = self.sm.size  # lay out at the real size: no re-render on entry
            screen.rebuild()

    def on_stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.core.unsubscribe(self._observe)
        if self.hall is not None:
            self.hall.unsubscribe(self._hall_changed)
        Window.unbind(on_key_down=self._on_key, on_request_close=self._on_request_close,
                      on_flip=self._first_frame)
        for ev in (self._idle_ev, self._home_ev, self._toast_ev, self._called_ev,
                   self._clock_ev, getattr(self, "_content_ev", None)):
            if ev is not None:
                ev.cancel()
        self.reclaimer.cancel()
        away = self.sm.get_screen("away")
        away.on_leave()

    # ------------------------------------------------------------------ navigation

    def catalogue(self) -> Catalogue:
        return catalogue_of(self.desk)

    def go(self, name: str, **options: Any) -> None:
        screen = self.sm.get_screen(name)
        assert isinstance(screen, KioskScreen)
        screen.prepare(**options)
        if self.sm.current == name:
            screen.rebuild()
        else:
            self.sm.current = name
        self.touched()

    def home(self) -> None:
        """Home, or the screen the counter's mode demands (mirror, rating, away); an
        unsent comment the counter interrupted comes back first (docs/ui.md)."""
        target = self.mode_target()
        comment = self.sm.get_screen("comment")
        assert isinstance(comment, CommentScreen)
        if target == "home" and comment.has_draft(Clock.get_time()):
            target = "comment"
        self.go(target)

    def mode_target(self) -> str:
        """The screen the counter's mode wants; the hall shows only its board."""
        return "hall" if self.role == "hall" else mode_screen(self.core.state.mode)

    def _hall_changed(self, _view: HallView) -> None:
        # The station driver's thread: redraw on Kivy's main thread.
        Clock.schedule_once(lambda _dt: self._redraw("hall"), 0)

    def touched(self) -> None:
        if self._idle_ev is not None:
            self._idle_ev.cancel()
        self._idle_ev = Clock.schedule_once(self._idle, self.cfg.timeouts.idle_home_s)
        self.reclaimer.soon()

    def _idle(self, _dt: float) -> None:
        if self.sm.current != self.mode_target():
            log.info("idle for %.0f s on %s: back home", self.cfg.timeouts.idle_home_s,
                     self.sm.current)
            comment = self.sm.get_screen("comment")
            assert isinstance(comment, CommentScreen)
            comment.reset()  # nobody came back for it: the idle timeout ends a draft
            self.home()

    def schedule_home(self, after_s: float) -> None:
        if self._home_ev is not None:
            self._home_ev.cancel()
        shown = self.sm.current

        def back(_dt: float) -> None:
            if self.sm.current == shown:
                self.home()

        self._home_ev = Clock.schedule_once(back, after_s)

    def mark_all_dirty(self) -> None:
        for screen in self.sm.screens:
            assert isinstance(screen, KioskScreen)
            screen.mark_dirty()

    def toggle_large(self) -> None:
        theme.set_large(not theme.is_large())
        self.mark_all_dirty()
        self.build_header()
        screen = self.sm.current_screen
        assert isinstance(screen, KioskScreen)
        screen.rebuild()

    def update_clock(self, *_: Any) -> None:
        fmt = "%H:%M" if theme.is_large() else "%m月%d日 %H:%M"
        self.clock_label.text = local_time(self.core, self.cfg).strftime(fmt)

    def _schedule_tick(self) -> None:
        # On the next whole second of the core's clock: the header minute and the away
        # countdown come from one clock and change on the same tick.
        delay = 1.0 - (self.core.clock() % 1.0)
        self._clock_ev = Clock.schedule_once(self._tick, max(0.01, delay))

    def _tick(self, _dt: float) -> None:
        self.update_clock()
        away = self.sm.get_screen("away")
        if self.sm.current == "away":
            assert isinstance(away, AwayScreen)
            away.update_countdown()
        self._schedule_tick()

    def current_notices(self) -> list[Notice]:
        """HQ's notices valid now, else config's window.notice (device/notices.py)."""
        return self.notices.current(self.core.clock())

    def published_figure(self) -> MonthFigure | None:
        """HQ's published month for the home screen (device/results.py), or None."""
        return self.results.current()

    def _figure_text(self) -> str:
        figure = self.published_figure()
        return figure.line if figure else ""

    def _redraw(self, *names: str) -> None:
        for name in names:
            screen = self.sm.get_screen(name)
            assert isinstance(screen, KioskScreen)
            screen.mark_dirty()
            if self.sm.current == name:
                screen.rebuild()

    def poll_content(self, *_: Any) -> None:
        """A new catalogue, notices or results from HQ (PRAGMA data_version), or a notice
        that became valid or expired: redraw what shows it."""
        ids = tuple(n.id for n in self.current_notices())
        if ids != self._notice_ids:
            self._notice_ids = ids
            log.info("notices now shown: %s", ", ".join(ids) or "none")
            self._redraw("hall" if self.role == "hall" else "home", "away")
        line = self._figure_text()
        if line != self._figure_line:
            self._figure_line = line
            log.info("published results now shown: %s", line or "none")
            self._redraw("home")
        version = self.catalogue().version
        if version != self._catalogue_version:
            self._catalogue_version = version
            log.info("catalogue %s now in force", version)
            self.mark_all_dirty()
            if self.sm.current in ("home", "guide", "ticket"):
                screen = self.sm.current_screen
                assert isinstance(screen, KioskScreen)
                screen.rebuild()

    # ------------------------------------------------------------------ the core

    def _observe(self, change: Change) -> None:
        # Driver threads: hand over to Kivy's main thread (ui/changes.py), touch no
        # widget here.
        Clock.schedule_once(partial(self.apply, change), 0)

    def apply(self, change: Change, _dt: float = 0) -> None:
        apply_change(self, change)

    # ------------------------------------------------------------------ overlays

    def show_called(self, number: str, window: int) -> None:
        self.called_label.text = f"正在办理：[b][color=#ffd600]{number}[/color][/b]"
        self.hide_called()
        box = BoxLayout(orientation="vertical", padding=20, size_hint=(0.86, 0.74),
                        pos_hint={"center_x": 0.5, "center_y": 0.5})
        card = Panel(orientation="vertical", padding=30, spacing=20, bg=[0.0, 0.0, 0.0, 1.0])
        card.add_widget(Txt("叫号", size=40, halign="center", colour=theme.MUTED))
        self.called_text = Txt(f"请 [b][color=#ffd600]{number}[/color][/b] 号", size=110,
                               halign="center")
        card.add_widget(self.called_text)
        card.add_widget(Txt(f"到 [b]{window}[/b] 号窗口办理", size=60, halign="center"))
        card.add_widget(Widget())
        box.add_widget(card)
        box.bind(on_touch_down=lambda *_: self.hide_called())
        self.overlay = box
        self.root_widget.add_widget(box)
        self._called_ev = Clock.schedule_once(lambda _dt: self.hide_called(), CALLED_SHOW_S)

    def hide_called(self) -> None:
        if self._called_ev is not None:
            self._called_ev.cancel()
            self._called_ev = None
        if self.overlay is not None:
            self.root_widget.remove_widget(self.overlay)
            self.overlay = None

    def toast(self, message: str, kind: str = "info") -> None:
        self.hide_toast()
        colour = theme.BAD if kind == "error" else theme.PRIMARY
        t = Panel(orientation="vertical", padding=18, bg=list(colour), size_hint=(0.8, None),
                  height=theme.TARGET + 20, pos_hint={"center_x": 0.5, "y": 0.04})
        self.toast_label = Txt(message, size=30, halign="center", valign="middle")
        t.add_widget(self.toast_label)
        self.toast_widget = t
        self.root_widget.add_widget(t)
        self._toast_ev = Clock.schedule_once(lambda _dt: self.hide_toast(), TOAST_S)

    def hide_toast(self) -> None:
        if self._toast_ev is not None:
            self._toast_ev.cancel()
            self._toast_ev = None
        if self.toast_widget is not None:
            self.root_widget.remove_widget(self.toast_widget)
            self.toast_widget = None

    def toggle_help(self) -> None:
        if self.help_widget is not None:
            self.root_widget.remove_widget(self.help_widget)
            self.help_widget = None
            return
        card = help_card(self.simulation_keys, self.toggle_help)
        self.help_widget = card
        self.root_widget.add_widget(card)

    # ------------------------------------------------------------------ keys and closing

    def _on_key(self, _window: Any, key: int, _scancode: int, codepoint: str | None,
                modifiers: list[str]) -> bool:
        if self.cfg.ui.fullscreen:
            return True  # the kiosk ignores every key: nothing leaves it (Esc, Alt+F4)
        if key == KEY_F1 or codepoint == "?":
            self.toggle_help()
            return True
        if key == KEY_ESC:
            return False  # a laptop window may close with Esc
        char = (codepoint or "").lower()
        if char == "l":
            self.toggle_large()
            return True
        if char in KEYS:
            # Exactly the GPIO pad's path: the same intent into the core.
            self.core.submit(Press(KEYS[char], source="pad"))
            return True
        return False

    def _on_request_close(self, *_: Any, **__: Any) -> bool:
        # True keeps the window open: on the Pi (full screen) nothing closes the kiosk.
        return bool(self.cfg.ui.fullscreen)
