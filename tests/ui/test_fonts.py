"""Chinese renders: the default font has CJK glyphs, rare name characters get a fallback,
and a missing font fails with a message naming the apt package."""

from __future__ import annotations

import pytest

from device.errors import UiError
from ui import fonts

pytestmark = pytest.mark.ui


def _pixels(text: str, font_name: str | None = None) -> bytes:
    from kivy.core.text import Label as CoreLabel

    kw = {"font_name": font_name} if font_name else {}
    label = CoreLabel(text=text, font_size=48, **kw)
    label.refresh()
    return bytes(label.texture.pixels)


@pytest.fixture
def default_font(display, config):
    from ui import env

    env.prepare(config)
    path = fonts.register_default_font()
    from kivy.base import EventLoop

    EventLoop.ensure_window()  # textures need a GL context
    return path


def test_default_font_draws_distinct_chinese_glyphs_not_boxes(default_font):
    zhong, guo, box = _pixels("中"), _pixels("国"), _pixels("\U0010fffd")
    # With Roboto (no CJK) all three are the same missing-glyph box.
    assert zhong != guo
    assert zhong != box and guo != box


def test_rare_name_characters_use_a_fallback_font_that_has_them(default_font):
    if not fonts.fallback_fonts():
        pytest.skip("no fallback CJK font installed (apt install fonts-hanazono)")
    assert not fonts.has_glyph(default_font, "䶮")  # WenQuanYi lacks Extension A
    text = fonts.markup("刘䶮")
    assert text.startswith("刘[font=") and text.endswith("]䶮[/font]")
    fallback = text[len("刘[font="):text.index("]")]
    assert _pixels("䶮", fallback) != _pixels("\U0010fffd", fallback)
    assert _pixels("䶮", fallback) != _pixels("\U0010fffd")


def test_markup_escapes_brackets_from_outside():
    assert fonts.markup("[b]张三&") == "&bl;b&br;张三&amp;"


def test_no_cjk_font_names_the_package_to_install(tmp_path):
    with pytest.raises(UiError, match="apt install fonts-wqy-microhei"):
        fonts.find_default_font((str(tmp_path / "none.ttc"),))


def test_no_text_on_any_screen_needs_a_glyph_the_fonts_lack(kiosk):
    """Every character on every screen is in the default font, or in a fallback run."""
    import re

    from device.intents import MirrorField, Press

    default = fonts.find_default_font()
    kiosk.desk.issue_ticket("id_card.renew")
    kiosk.core.submit(Press("next"))
    kiosk.core.submit(MirrorField("name", "姓名", "刘䶮"))
    kiosk.frames(2)
    kiosk.app.toggle_help()  # overlays stay up over every screen below
    kiosk.app.toast("打印机缺纸，请到窗口领取号票")
    missing: set[str] = set()
    for name in kiosk.app.sm.screen_names:
        kiosk.app.go(name)
        kiosk.frames(2)
        for w in kiosk.app.root.walk():
            text = getattr(w, "text", None)
            if not isinstance(text, str):
                continue
            if getattr(w, "markup", False):
                text = re.sub(r"\[font=[^\]]*\].*?\[/font\]", "", text)  # fallback runs
                text = re.sub(r"\[/?[a-z]+(=[^\]]*)?\]", "", text)
                text = text.replace("&bl;", "[").replace("&br;", "]").replace("&amp;", "&")
            missing |= {ch for ch in text if not fonts.has_glyph(default, ch)}
    assert missing == set()
