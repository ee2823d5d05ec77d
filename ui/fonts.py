"""Chinese fonts: a CJK font as Kivy's default, and a fallback for rare name characters.

Kivy's default font (Roboto) has no CJK glyphs and its SDL2 text provider has no font
fallback (kivy#3379, #7393), so every label would show empty boxes. We register an
installed CJK font as the default (``fonts-wqy-microhei``, installed by setup.sh).

WenQuanYi Micro Hei covers the common characters but not CJK Extension A/B, where some
personal names live (e.g. 䶮 U+4DAE). For text that may hold names (the mirror, officer
names) :func:`markup` wraps each character the default font lacks in a ``[font=...]`` run
of a fallback font that has it (HanaMin from ``fonts-hanazono``), so nothing shows as a
box. Glyph coverage is probed with Pillow once per character.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from device.errors import UiError

log = logging.getLogger("ui.fonts")

# First found wins. Debian / Raspberry Pi OS paths.
DEFAULT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)
FALLBACK_CANDIDATES = (
    "/usr/share/fonts/truetype/hanazono/HanaMinA.ttf",  # CJK Extension A and more
    "/usr/share/fonts/truetype/hanazono/HanaMinB.ttf",  # CJK Extension B
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
APT_HINT = "apt install fonts-wqy-microhei (setup.sh installs it)"


def find_default_font(candidates: tuple[str, ...] = DEFAULT_CANDIDATES) -> str:
    for path in candidates:
        if Path(path).is_file():
            return path
    raise UiError("no Chinese font found (looked for " + ", ".join(candidates)
                  + f"). Fix: {APT_HINT}")


def fallback_fonts() -> list[str]:
    return [p for p in FALLBACK_CANDIDATES if Path(p).is_file()]


def register_default_font(path: str | None = None) -> str:
    """Make ``path`` (or the first installed CJK font) Kivy's default font."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    path = path or find_default_font()
    LabelBase.register(DEFAULT_FONT, path)
    log.info("default font %s", path)
    return path


@functools.lru_cache(maxsize=8)
def _pil_font(path: str) -> object:
    from PIL import ImageFont

    return ImageFont.truetype(path, 32)


@functools.lru_cache(maxsize=8)
def _notdef(path: str) -> bytes:
    # Plane-16 private use: no font of ours has it, so this is the missing-glyph box.
    return bytes(_pil_font(path).getmask("\U0010fffd"))  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=4096)
def has_glyph(path: str, ch: str) -> bool:
    if ch.isspace() or ord(ch) < 0x80:
        return True  # ASCII: every candidate font has it
    mask = bytes(_pil_font(path).getmask(ch))  # type: ignore[attr-defined]
    return bool(mask) and mask != _notdef(path)


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("[", "&bl;").replace("]", "&br;")


def markup(text: str, default: str | None = None) -> str:
    """Escaped markup of ``text`` with runs the default font lacks in a fallback font.

    Use on labels with ``markup=True`` for text that can hold rare name characters.
    """
    default = default or find_default_font()
    fallbacks = fallback_fonts()
    out: list[str] = []
    run_font: str | None = None
    run: list[str] = []

    def flush() -> None:
        if run:
            body = escape("".join(run))
            out.append(f"[font={run_font}]{body}[/font]" if run_font else body)
            run.clear()

    for ch in text:
        font: str | None = None
        if not has_glyph(default, ch):
            font = next((f for f in fallbacks if has_glyph(f, ch)), None)
            if font is None:
                log.warning("no installed font has U+%04X", ord(ch))
        if font != run_font:
            flush()
            run_font = font
        run.append(ch)
    flush()
    return "".join(out)
