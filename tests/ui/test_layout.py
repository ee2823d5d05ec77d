"""What a citizen reads, checked on the lines Kivy actually drew, on every screen in both
text sizes: the line-breaking rule (no 。 at a line start, no bullet alone, phone
numbers and codes whole, button words never split) and nothing clipped or hidden behind
a scroll (items 23 and 24 of issue 9)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from device.intents import AwaySet, MirrorAnswer, MirrorField, Press
from device.linebreak import violations
from ui import theme

pytestmark = pytest.mark.ui

MIRROR = [("name", "姓名", "刘䶮", False), ("sex", "性别", "男", False),
          ("id_number", "公民身份号码", "440301199001011234", True),
          ("address", "住址", "广东省深圳市南山区科技园路 1 号 3 栋 502 室", False)]


def _labels(kiosk: Any) -> Iterator[Any]:
    """Every Kivy label (buttons and chips too) the window shows with text."""
    from kivy.uix.label import Label

    for w in kiosk.app.root.walk():
        if isinstance(w, Label) and isinstance(w.text, str) and w.text.strip() \
                and w.get_root_window() is not None:
            yield w


def _is_button(w: Any) -> bool:
    from kivy.uix.button import Button

    return isinstance(w, Button)


def drawn_lines(w: Any) -> list[str]:
    """The lines Kivy laid out and drew, from its core label (not from our code)."""
    return ["".join(word.text for word in line.words)
            for line in getattr(w._label, "_cached_lines", None) or []]


def _screen_box(kiosk: Any) -> tuple[float, float, float, float]:
    from kivy.core.window import Window

    return 0, 0, Window.width, Window.height


def line_problems(kiosk: Any, where: str) -> list[str]:
    problems = []
    for w in _labels(kiosk):
        lines = drawn_lines(w)
        for p in violations(lines, w.text, phrases=_is_button(w)):
            problems.append(f"{where}: {w.text[:30]!r} drawn as {lines}: {p}")
    return problems


def _in_scroll_view(w: Any) -> bool:
    from kivy.uix.scrollview import ScrollView

    while w is not None and w.parent is not w:
        if isinstance(w, ScrollView):
            return True
        w = w.parent
    return False


def clip_problems(kiosk: Any, where: str) -> list[str]:
    """A label drawn wider than its box, or outside the screen, or inside a scroll view
    whose content does not fit (hidden below the edge)."""
    from kivy.uix.scrollview import ScrollView

    problems = []
    left, bottom, right, top = _screen_box(kiosk)
    for w in _labels(kiosk):
        if w.text_size[0] is not None and w.texture_size[0] > w.width + 1:
            problems.append(f"{where}: {w.text[:30]!r} is {w.texture_size[0]} px wide in a "
                            f"{w.width:.0f} px box")
        if _is_button(w) and w.texture_size[1] > w.height + 1:
            problems.append(f"{where}: button {w.text!r} text is taller than the button")
        if _in_scroll_view(w):
            continue  # checked below: a scroll view may not hide anything (but the guide's)
        x0, y0 = w.to_window(w.x, w.y)
        if y0 < bottom - 1 or y0 + w.height > top + 1 or x0 < left - 1 \
                or x0 + w.width > right + 1:
            problems.append(f"{where}: {w.text[:30]!r} is outside the screen "
                            f"(y {y0:.0f}..{y0 + w.height:.0f}, screen {bottom:.0f}..{top:.0f})")
    if where.split()[0] != "guide":  # the guide's long detail scrolls, with a bar
        for sv in kiosk.app.root.walk():
            if isinstance(sv, ScrollView) and sv.children \
                    and sv.children[0].height > sv.height + 1:
                problems.append(f"{where}: content hidden in a scroll view "
                                f"({sv.children[0].height:.0f} px in {sv.height:.0f})")
    return problems


def scenes(kiosk: Any) -> list[tuple[str, Callable[[], None]]]:
    app, core = kiosk.app, kiosk.core

    def mirror() -> None:
        core.submit(Press("next"))
        kiosk.frames(2)
        app.hide_called()
        for key, label, value, sensitive in MIRROR:
            core.submit(MirrorField(key, label, value, sensitive))
        core.submit(MirrorAnswer("name", True))
        core.submit(MirrorAnswer("address", False))

    def checkin_error() -> None:
        app.go("checkin")
        screen = app.sm.get_screen("checkin")
        screen.pad.value = "12345678"
        screen.check_in()

    def ticket_issued() -> None:
        app.sm.get_screen("ticket").show(kiosk.desk.issue_ticket("id_card.lost"))

    out: list[tuple[str, Callable[[], None]]] = [
        ("home", lambda: app.go("home")), ("guide", lambda: app.go("guide"))]
    for code in ("id_card.first", "id_card.renew", "id_card.lost", "hukou.birth",
                 "hukou.move_in"):
        out.append((f"guide {code}", lambda c=code: app.go("guide", service=c)))
    out += [("ticket", lambda: app.go("ticket")), ("ticket-issued", ticket_issued),
            ("checkin", checkin_error), ("comment", lambda: app.go("comment")),
            ("mirror", mirror), ("rating", lambda: core.submit(Press("next"))),
            ("rating-reasons", lambda: core.submit(Press("unsatisfied", source="screen"))),
            ("thanks", lambda: app.go("thanks", rated=True)),
            ("away", lambda: core.submit(AwaySet("参加业务培训", "17:30", "0755-8000 0001",
                                                 "")))]
    return out


@pytest.mark.parametrize("large", [False, True], ids=["normal", "large"])
def test_every_screen_breaks_lines_by_the_rule_and_clips_nothing(kiosk, large: bool) -> None:
    theme.set_large(large)
    kiosk.app.build_header()
    kiosk.app.mark_all_dirty()
    problems: list[str] = []
    try:
        for name, setup in scenes(kiosk):
            setup()
            kiosk.frames(4)
            kiosk.app.hide_toast()
            where = f"{name} ({'large' if large else 'normal'})"
            problems += line_problems(kiosk, where) + clip_problems(kiosk, where)
    finally:
        theme.set_large(False)
    assert problems == [], "\n".join(problems)


def test_the_rule_catches_what_kivy_alone_does(kiosk) -> None:
    """The same text in a plain Kivy label breaks where the rule forbids: the check above
    can fail."""
    from kivy.core.window import Window
    from kivy.uix.label import Label

    plain = Label(text="电话：0755-8000 0001", font_size=44, text_size=(330, None))
    Window.add_widget(plain)
    plain.texture_update()
    lines = ["".join(w.text for w in ln.words) for ln in plain._label._cached_lines]
    Window.remove_widget(plain)
    assert len(lines) > 1 and violations(lines, plain.text)


def test_four_mirror_fields_are_all_on_screen_in_large_text(kiosk) -> None:
    theme.set_large(True)
    try:
        kiosk.app.mark_all_dirty()
        for name, setup in scenes(kiosk):
            if name == "mirror":
                setup()
        kiosk.frames(6)
        rows = kiosk.app.sm.get_screen("mirror").rows
        assert list(rows) == [k for k, *_ in MIRROR]
        _left, bottom, _right, top = _screen_box(kiosk)
        for key, row in rows.items():
            for part in ("value", "ok", "bad"):
                w = row[part]
                _x, y = w.to_window(w.x, w.y)
                assert bottom <= y and y + w.height <= top + 1, (key, part)
    finally:
        theme.set_large(False)
