"""Comment book (意见簿): categories, an optional phone, and a QR code that opens a longer
written comment on the citizen's own phone (the kiosk has no Chinese input method).

A comment the citizen has started is a draft until it is submitted: when the officer's
next (a case, the rating, the away board) takes over the screen the draft is kept, and
the comment book comes back with it when the counter is free again. It ends only when
submitted (committed before 感谢 shows, so a submitted comment is never lost), when the
citizen taps 返回首页, or when nobody touched it for ``timeouts.idle_home_s``."""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.graphics.texture import Texture
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from device.comments import COMMENT_CATEGORIES, comment_url, new_ref, submit_comment
from device.errors import ParseError
from ui import theme
from ui.screens.base import KioskScreen, column, row
from ui.widgets import BigButton, NumberPad, Panel, Txt, chip_grid


def scrolled_grid(grid: GridLayout) -> Widget:
    sv = ScrollView(do_scroll_x=False, bar_width=10, scroll_type=["bars", "content"])
    sv.add_widget(grid)
    return sv


def qr_modules(text: str, border: int = 2) -> list[list[bool]]:
    """The QR code of ``text`` as rows of dark (True) / light modules, quiet zone included."""
    import qrcode

    qr = qrcode.QRCode(border=border)
    qr.add_data(text)
    qr.make(fit=True)
    return [[bool(m) for m in row] for row in qr.get_matrix()]


def qr_texture(text: str) -> Any:
    """One texel per module, scaled up without smoothing. Not through an image file:
    encoding a PNG with Pillow and decoding it again made Pillow import all of its ~45
    format plugins and their libraries (libavif, libwebp, libtiff, openjpeg) into the
    kiosk process for one small picture (docs/benchmarks.md, Touchscreen)."""
    modules = qr_modules(text)
    n = len(modules)
    # Texture rows go bottom-up; luminance: 0 dark, 255 light.
    pixels = bytes(0 if dark else 255 for row in reversed(modules) for dark in row)
    texture = Texture.create(size=(n, n), colorfmt="luminance")
    texture.blit_buffer(pixels, colorfmt="luminance", bufferfmt="ubyte")
    texture.mag_filter = "nearest"
    texture.min_filter = "nearest"
    return texture


class CommentScreen(KioskScreen):
    screen_name = "comment"
    _last_touch = 0.0
    _resume = False
    _sent = False  # submitted: nothing left to keep

    def on_touch_down(self, touch: Any) -> bool:
        self._last_touch = Clock.get_time()
        return bool(super().on_touch_down(touch))

    def has_draft(self, now: float) -> bool:
        """A started, unsent comment touched within the idle timeout."""
        if self._sent or not hasattr(self, "chips"):
            return False
        started = any(c.state == "down" for c in self.chips.values()) or bool(self.pad.value)
        return started and now - self._last_touch < self.ui.cfg.timeouts.idle_home_s

    def on_leave(self, *args: Any) -> None:
        # Left by anything but 提交 / 返回首页 (the counter took over the screen): keep it.
        self._resume = self.has_draft(Clock.get_time())

    def leave_home(self) -> None:
        self.reset()
        self.ui.home()

    def reset(self) -> None:
        """End the draft: the next visit starts empty, with a new reference."""
        self._resume = False
        if hasattr(self, "chips"):
            self.refresh()

    def build_content(self) -> Widget:
        cfg = self.ui.cfg
        self.ref = new_ref()
        body = row(padding=[16, 12], spacing=16)
        left = column(spacing=10, size_hint_x=0.38)
        left.add_widget(Txt("意见簿：请选择您要反映的内容（可多选）", size=28, bold=True,
                            colour=theme.ACCENT))
        grid, self.chips = chip_grid(COMMENT_CATEGORIES, spacing=10)
        left.add_widget(scrolled_grid(grid))
        self.message = Txt("", size=26, colour=theme.ACCENT)
        left.add_widget(self.message)
        body.add_widget(left)

        middle = column(spacing=10, size_hint_x=0.33)
        middle.add_widget(Txt("需要回复请留电话（可不填）：", size=26))
        box = Panel(orientation="vertical", padding=6, size_hint_y=None, height=90)
        self.phone_label = Txt("", size=40, bold=True, halign="center", markup=True)
        box.add_widget(self.phone_label)
        middle.add_widget(box)
        self.pad = NumberPad(max_len=12)
        self.pad.bind(value=self._show_phone)
        middle.add_widget(self.pad)
        middle.add_widget(Widget())
        body.add_widget(middle)

        right = column(spacing=12, size_hint_x=0.29)
        qr = Panel(orientation="vertical", padding=12, spacing=8, bg=[1, 1, 1, 1],
                   size_hint_y=None, height=360)
        url = comment_url(cfg.window.comment_url, cfg.device.site, cfg.device.id, self.ref)
        self.qr_url = url
        self.qr_image = Image(texture=qr_texture(url), fit_mode="contain")
        qr.add_widget(self.qr_image)
        qr.add_widget(Txt("手机扫码，写下详细意见", size=24, colour=theme.DARK_TEXT,
                          halign="center"))
        right.add_widget(qr)
        right.add_widget(Widget())
        self.submit = BigButton("提交", colour=theme.GOOD, size=34, on_press=self.send)
        right.add_widget(self.submit)
        right.add_widget(BigButton("返回首页", colour=theme.PANEL, size=28,
                                   on_press=self.leave_home))
        body.add_widget(right)
        self._show_phone()
        return body

    def on_pre_enter(self, *args: Any) -> None:
        if self._resume and self.has_draft(Clock.get_time()):
            self.message.text = "您的意见尚未提交，请继续填写后点“提交”"
            return  # the same citizen's draft, as they left it
        super().on_pre_enter(*args)

    def refresh(self) -> None:
        """A new citizen: a new reference (and QR code), nothing of the last one."""
        cfg = self.ui.cfg
        self._sent = False
        self.ref = new_ref()
        self.qr_url = comment_url(cfg.window.comment_url, cfg.device.site, cfg.device.id,
                                  self.ref)
        self.qr_image.texture = qr_texture(self.qr_url)
        for chip in self.chips.values():
            chip.state = "normal"
        self.pad.value = ""
        self.message.text = ""

    def _show_phone(self, *_: Any) -> None:
        self.phone_label.text = self.pad.value or "[color=#8899bb]不填写[/color]"

    def send(self) -> None:
        cats = [k for k, c in self.chips.items() if c.state == "down"]
        if not cats:
            self.message.text = "请先选择至少一项内容"
            return
        try:
            submit_comment(self.ui.core, cats, self.pad.value, ref=self.ref)
        except ParseError:
            self.message.text = "号码不完整：手机号为11位，固话请加区号"
            return
        self._sent = True  # on disk: the draft is done
        self._resume = False
        self.ui.go("thanks", text="感谢您的意见，我们会认真处理！")
