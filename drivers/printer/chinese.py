"""Chinese text for the printer: native GB18030 in the printer's Chinese mode, or raster.

Native: FS & (enter Chinese mode), GB18030 two-byte codes, FS . (leave). Printer ROM
fonts carry GB2312 or GBK, never the four-byte GB18030 planes, so a character that is not
two-byte (Extension A/B name characters such as 䶮 or 𠮷, private use) cannot be printed
natively: such a line is drawn with Pillow and sent as a raster image instead.

Raster: text drawn with a CJK TrueType font (Debian fonts-wqy-microhei by default), one
bit per dot, sent as GS v 0. Characters the main font lacks are drawn with the first
fallback font that has them (fonts-hanazono covers Extension A-F).
"""

from __future__ import annotations

import logging
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from device import linebreak
from device.errors import DriverError

log = logging.getLogger("printer")

# Tried in order when printer.font is empty (Debian / Raspberry Pi OS package paths).
FONT_SEARCH = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",     # fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",       # fonts-wqy-zenhei
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # fonts-noto-cjk
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # fonts-droid-fallback
)
# Rare characters (Extension A-F) the main font lacks; used only for those characters.
FALLBACK_SEARCH = (
    "/usr/share/fonts/truetype/hanazono/HanaMinA.ttf",    # fonts-hanazono (BMP + Ext A)
    "/usr/share/fonts/truetype/hanazono/HanaMinB.ttf",    # fonts-hanazono (Ext B-F)
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)

DOT_SIZE = 24  # the ROM font A is 12x24 dots (CJK 24x24): raster text matches it


def clean(text: str) -> str:
    """Text safe to send: control characters (ESC, GS, FS, DLE...) become spaces so job
    data can never inject printer commands; tabs and newlines too (layout wraps lines)."""
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") else c
                   for c in text)


def native_ok(ch: str, charset: str = "gbk") -> bool:
    """Can the printer's ROM font print ``ch`` in Chinese mode?

    ASCII always; otherwise it must be a two-byte code of GBK (``charset="gbk"``) or of
    GB2312 (``"gb2312"``, older ROMs). GB18030's own additions are excluded even where
    they are two bytes (e.g. 䶮 U+4DAE = FE9F, an Extension A character in the old
    user-defined area): ROM fonts have no glyph there.
    """
    o = ord(ch)
    if o < 0x80:
        return 0x20 <= o < 0x7F
    if 0xE000 <= o <= 0xF8FF:  # private use: GBK user-defined areas have no ROM glyph
        return False
    try:
        return len(ch.encode("gb2312" if charset == "gb2312" else "gbk")) == 2
    except UnicodeEncodeError:
        return False


# Never at the start of a line (GB/T 15834 and common typesetting practice).


def char_columns(ch: str) -> int:
    """Width in ROM-font columns (12 dots): ASCII 1, everything else 2."""
    return 1 if ord(ch) < 0x80 else 2


def encode_native(text: str) -> bytes:
    """One line for Chinese mode. Pure ASCII needs no mode switch."""
    if text.isascii():
        return text.encode("ascii")
    from drivers.printer.commands import CHINESE_OFF, CHINESE_ON

    return CHINESE_ON + text.encode("gb18030") + CHINESE_OFF


# --------------------------------------------------------------------------- fonts


def find_font(configured: str = "", search: Sequence[str] = FONT_SEARCH) -> str:
    if configured:
        if not os.path.exists(configured):
            raise DriverError(f"printer.font {configured!r} does not exist. Fix: install "
                              "fonts-wqy-microhei or point printer.font at a CJK .ttf/.ttc")
        return configured
    for path in search:
        if os.path.exists(path):
            return path
    raise DriverError("no CJK font found for raster printing (looked in "
                      + ", ".join(search) + "). Fix: apt install fonts-wqy-microhei, or set "
                      "printer.font")


def find_fallbacks(configured: Sequence[str] = ()) -> tuple[str, ...]:
    paths = tuple(configured) if configured else FALLBACK_SEARCH
    return tuple(p for p in paths if os.path.exists(p))


@lru_cache(maxsize=32)
def _font(path: str, px: int) -> Any:
    from PIL import ImageFont

    try:
        # BASIC layout: CJK needs no shaping, and raqm costs ~0.3 ms per measured string.
        return ImageFont.truetype(path, px, layout_engine=ImageFont.Layout.BASIC)
    except OSError as exc:
        raise DriverError(f"cannot load font {path}: {exc}. Fix: set printer.font to a "
                          "TrueType/OpenType CJK font") from None


@lru_cache(maxsize=32)
def _missing_mask(path: str, px: int) -> bytes:
    # A code point no font maps: what the font draws for a glyph it does not have.
    return _mask_bytes(_font(path, px), "\U0010fffd")


def _mask_bytes(font: Any, ch: str) -> bytes:
    mask = font.getmask(ch)
    return bytes(mask.size) + bytes(mask)


@lru_cache(maxsize=16384)
def char_width(path: str, px: int, ch: str) -> float:
    """Advance of one character (cached: a slip measures the same few hundred)."""
    return float(_font(path, px).getlength(ch))


@lru_cache(maxsize=8192)
def has_glyph(path: str, px: int, ch: str) -> bool:
    """Pillow has no cmap lookup; a glyph drawn identically to the "missing" glyph of an
    unassigned code point is missing."""
    if ch == " " or unicodedata.category(ch).startswith("Z"):
        return True
    return _mask_bytes(_font(path, px), ch) != _missing_mask(path, px)


_WARNED: set[str] = set()


@dataclass(frozen=True)
class Fonts:
    main: str
    fallbacks: tuple[str, ...] = ()

    def for_char(self, ch: str, px: int) -> str:
        if ord(ch) < 0x3000 or has_glyph(self.main, px, ch):
            return self.main
        for path in self.fallbacks:
            if has_glyph(path, px, ch):
                return path
        if ch not in _WARNED:  # once per character, not once per measurement
            _WARNED.add(ch)
            log.warning("no font has a glyph for U+%04X; it prints as a box (add a font "
                        "that has it to printer.fallback_fonts)", ord(ch))
        return self.main

    def runs(self, text: str, px: int) -> list[tuple[str, str]]:
        """Split ``text`` into (font path, run) so each run is drawn in one call."""
        out: list[tuple[str, str]] = []
        for ch in text:
            path = self.for_char(ch, px)
            if out and out[-1][0] == path:
                out[-1] = (path, out[-1][1] + ch)
            else:
                out.append((path, ch))
        return out

    def width(self, text: str, px: int) -> float:
        return sum(char_width(self.for_char(c, px), px, c) for c in text)


# --------------------------------------------------------------------------- raster


@dataclass(frozen=True)
class RasterLine:
    text: str
    align: int = 0      # 0 left, 1 centre, 2 right
    big: bool = False   # double width and height (48 px)
    bold: bool = False
    indent: int = 0     # dots from the left edge
    rule: bool = False  # a horizontal rule across the paper instead of text


def line_height(big: bool) -> int:
    # 30 dots (3.75 mm) is the default line spacing of most 203 dpi printers for their
    # 24-dot ROM font: match it so both modes take about the same paper.
    return 60 if big else 30


def wrap_raster(text: str, width: float, fonts: Fonts, px: int,
                hang: float = 0) -> list[str]:
    """Wrap by measured width and the one line-breaking rule (device/linebreak.py);
    continuation lines get ``hang`` dots less room."""
    def measure(s: str) -> float:
        return sum(char_width(fonts.for_char(ch, px), px, ch) for ch in s)

    return linebreak.wrap(text, width, measure, hang=hang) or [""]


def render(lines: Sequence[RasterLine], width_dots: int, fonts: Fonts) -> Any:
    """Draw ``lines`` into a mode "1" image ``width_dots`` wide, ink = 1 (a printed dot)."""
    from PIL import Image, ImageDraw

    height = sum(line_height(ln.big) for ln in lines) or 1
    img = Image.new("1", (width_dots, height), 0)
    draw = ImageDraw.Draw(img)
    y = 0
    for ln in lines:
        if ln.rule:
            mid = y + line_height(False) // 2
            draw.rectangle((0, mid - 1, width_dots - 1, mid), fill=1)
            y += line_height(False)
            continue
        px = DOT_SIZE * 2 if ln.big else DOT_SIZE
        runs = fonts.runs(ln.text, px)
        text_w = fonts.width(ln.text, px)
        if ln.align == 1:
            x = (width_dots - text_w) / 2
        elif ln.align == 2:
            x = width_dots - text_w
        else:
            x = float(ln.indent)
        # Centre the glyph box in the line like the ROM font does (3 dots above and below).
        top = y + (line_height(ln.big) - px) // 2
        for path, run in runs:
            font = _font(path, px)
            draw.text((x, top), run, font=font, fill=1,
                      stroke_width=1 if ln.bold else 0, stroke_fill=1)
            x += sum(char_width(path, px, c) for c in run)
        y += line_height(ln.big)
    return img


def image_bands(img: Any, band: int = 240) -> list[tuple[int, int, bytes]]:
    """Split a mode "1" image (ink = 1) into GS v 0 bands: (width_bytes, height, data).

    Bands keep each command inside the receive buffer of cheap printers; the width is
    padded to whole bytes.
    """
    width_bytes = (img.width + 7) // 8
    if img.width != width_bytes * 8:
        from PIL import Image

        padded = Image.new("1", (width_bytes * 8, img.height), 0)
        padded.paste(img, (0, 0))
        img = padded
    out = []
    for top in range(0, img.height, band):
        part = img.crop((0, top, img.width, min(img.height, top + band)))
        out.append((width_bytes, part.height, part.tobytes()))
    return out
