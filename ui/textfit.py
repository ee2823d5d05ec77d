"""Every label of the kiosk breaks its lines by device.linebreak (禁则) and buttons fit
their text, instead of Kivy's own wrapping.

Kivy wraps at spaces and, inside a run without spaces (all of Chinese), at whichever
character overflows: 。 at the start of a line, a bullet left alone before its item (the
space after it was the only "word" break), 0755-8000/0001, 非常不满/意 on a button. The
:class:`Kinsoku` mixin computes the lines itself with the label's own font metrics and
hands Kivy text that already fits, so Kivy breaks nothing more. The label's ``text``
stays what the screen set (tests and taps find widgets by it); only the rendered text
has the line breaks. Buttons and chips (``fit_text``) never split a word: they try the
font size they were given and then smaller sizes (down to 60 %) until every line fits
the button, breaking only at spaces and after punctuation.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from kivy.core.text import Label as CoreLabel
from kivy.uix.label import Label
from kivy.utils import get_hex_from_color

from device import linebreak

_TAG = re.compile(r"\[(/?)(b|font|size|color|i|u|s|ref|anchor|sub|sup)(?:=([^\]]*))?\]")
MIN_FIT = 0.6


@functools.lru_cache(maxsize=64)
def _core(font_name: str, font_size: float, bold: bool) -> Any:
    return CoreLabel(font_name=font_name, font_size=font_size, bold=bold)


@functools.lru_cache(maxsize=4096)
def extent(text: str, font_name: str, font_size: float, bold: bool) -> tuple[int, int]:
    if not text:
        return 0, 0
    w, h = _core(font_name, font_size, bold).get_extents(text)
    return int(w), int(h)


def _unescape(text: str) -> str:
    return text.replace("&bl;", "[").replace("&br;", "]").replace("&amp;", "&")


def measure_markup(raw: str, font_name: str, font_size: float, bold: bool) -> float:
    """Width of Kivy markup ``raw``: each styled run measured with its own font."""
    fonts, sizes, bolds = [font_name], [font_size], [bold]
    width = 0.0
    pos = 0
    for m in _TAG.finditer(raw):
        width += extent(_unescape(raw[pos:m.start()]), fonts[-1], sizes[-1], bolds[-1])[0]
        pos = m.end()
        closing, name, value = m.group(1), m.group(2), m.group(3)
        stacks: dict[str, list[Any]] = {"b": bolds, "font": fonts, "size": sizes}
        stack = stacks.get(name)
        if stack is None:
            continue
        if closing:
            if len(stack) > 1:
                stack.pop()
        elif name == "b":
            bolds.append(True)
        elif name == "font":
            fonts.append(value or fonts[-1])
        else:
            try:
                sizes.append(float(str(value).rstrip("px").rstrip("sp")))
            except ValueError:
                sizes.append(sizes[-1])
    width += extent(_unescape(raw[pos:]), fonts[-1], sizes[-1], bolds[-1])[0]
    return width


class Kinsoku:
    """Mixin for Label subclasses (put it first): our line breaks, fitted buttons."""

    fit_text = False  # buttons and chips: shrink to fit, never split a word
    shown_lines: list[str]
    shown_font_size: float

    def wrap_width(self) -> float | None:
        lbl: Any = self
        tw = lbl.text_size[0]
        if tw is None:
            return None
        pad = lbl.padding if len(lbl.padding) == 4 else [lbl.padding[0], 0, lbl.padding[0], 0]
        return float(tw) - pad[0] - pad[2] - 1  # 1 px: Kivy's integer rounding

    def measure_at(self, size: float) -> linebreak.Measure:
        lbl: Any = self
        font, bold, markup = lbl.font_name, bool(lbl.bold), bool(lbl.markup)
        if markup:
            return lambda s: measure_markup(s, font, size, bold)
        return lambda s: extent(s, font, size, bold)[0]

    def fit_height(self) -> float:
        """The height the fitted text may take (a button: all of it but a margin)."""
        lbl: Any = self
        return float(lbl.height) - 8

    def line_height_at(self, size: float) -> float:
        lbl: Any = self
        return extent("国Ag", lbl.font_name, size, bool(lbl.bold))[1] * lbl.line_height

    def layout_lines(self) -> tuple[float, list[str]]:
        lbl: Any = self
        size = float(lbl.font_size)
        width = self.wrap_width()
        if not lbl.text or width is None or width <= 0:
            return size, lbl.text.split("\n")
        if self.fit_text:
            steps = max(1, int(size * (1 - MIN_FIT) // 2))
            sizes = [size - 2 * i for i in range(steps + 1)]
            return linebreak.fit(lbl.text, width, self.fit_height(), sizes, self.measure_at,
                                 self.line_height_at)
        return size, linebreak.wrap(lbl.text, width, self.measure_at(size))

    def texture_update(self, *largs: Any) -> None:
        lbl: Any = self
        size, lines = self.layout_lines()
        self.shown_lines, self.shown_font_size = lines, size
        core = lbl._label
        shown = "\n".join(lines)
        # Left in place, not restored: Kivy draws the glyphs later, when the texture is
        # first used (Texture.ask_update), from the core label's text and options.
        core.options["font_size"] = size
        if lbl.markup and shown:
            self._markup_update(shown)
        else:
            core.text = shown
            Label.texture_update(lbl, *largs)

    def _markup_update(self, shown: str) -> None:
        # Label.texture_update's markup branch, with our lines instead of self.text.
        lbl: Any = self
        core = lbl._label
        lbl.texture = None
        colour = lbl.disabled_color if lbl.disabled else lbl.color
        core.text = f"[color={get_hex_from_color(colour)}]{shown}[/color]"
        core.refresh()
        if core.texture:
            core.texture.bind()
        lbl.refs = core.refs
        lbl.anchors = core.anchors
        if core.texture is not None:
            lbl.texture = core.texture
            lbl.texture_size = list(core.texture.size)
        lbl.is_shortened = core.is_shortened

    def rendered_lines(self) -> list[str]:
        """The lines Kivy drew (its own layout), for tests and checks."""
        lbl: Any = self
        cached = getattr(lbl._label, "_cached_lines", None) or []
        return ["".join(w.text for w in line.words) for line in cached]
