"""Memory of a touchscreen in use (issue 16): after every screen has been used in both
text sizes, again and again, the kiosk holds what its screens show and no more - no
second copy of each label's pixels, no discarded screens waiting for a collection that
may come much later, no growth of Kivy's caches."""

from __future__ import annotations

import gc

import pytest

from device.intents import AwayClear, AwaySet, MirrorField, Press
from ui import memory

pytestmark = pytest.mark.ui

TOUCH_ROUTE = ("办事指南", "返回首页", "取号", "返回首页", "预约签到", "返回首页", "意见簿",
               "返回首页")


def use_every_screen(kiosk) -> None:
    """One citizen's worth of everything: the touch screens, a case with mirror fields,
    an unsatisfied rating with its reasons screen, thanks, away and back, help."""
    for label in TOUCH_ROUTE:
        kiosk.tap(label)
    kiosk.core.submit(Press("next"))
    for key, label, value in (("name", "姓名", "张三"), ("id_number", "身份证号",
                              "440301199001011234"), ("address", "住址", "深圳市福田区1号")):
        kiosk.core.submit(MirrorField(key, label, value, sensitive=key == "id_number"))
        kiosk.frames(2)
    assert kiosk.screen() == "mirror"
    kiosk.core.submit(Press("next"))
    kiosk.core.submit(Press("very_unsatisfied"))
    kiosk.frames(3)
    assert "跳过" in kiosk.texts()  # the reasons screen of an unsatisfied rating
    kiosk.tap("跳过")
    kiosk.app.home()
    kiosk.core.submit(AwaySet("开会", "23:59"))
    kiosk.frames(3)
    assert kiosk.screen() == "away"
    kiosk.core.submit(AwayClear())
    kiosk.frames(3)
    kiosk.tap("?")
    kiosk.tap("关闭")


def both_sizes(kiosk) -> None:
    use_every_screen(kiosk)
    kiosk.tap("大字")
    use_every_screen(kiosk)
    kiosk.tap("标准字")


def settle(kiosk) -> None:
    """Time passes with nobody touching: the reclaimer's delay and a few frames."""
    kiosk.kclock.advance(memory.RECLAIM_AFTER_S + 0.1)
    kiosk.frames(2)
    kiosk.kclock.advance(memory.TRIM_AFTER_S + 0.1)
    kiosk.frames(2)


def live_textures() -> tuple[int, int]:
    """Textures alive or awaiting collection (no gc.collect here: that is what is tested)."""
    from kivy.graphics.texture import Texture

    found = [o for o in gc.get_objects() if type(o) is Texture]
    return len(found), sum(t.width * t.height for t in found)


def kivy_caches() -> dict[str, int]:
    from kivy.cache import Cache

    return {name: len(objects) for name, objects in Cache._objects.items()}


def test_labels_keep_no_second_copy_of_their_pixels(kiosk):
    from kivy.core.text import LabelBase

    both_sizes(kiosk)
    labels = [o for o in gc.get_objects() if isinstance(o, LabelBase)]
    assert len(labels) > 50
    holding = [lab for lab in labels if getattr(lab, "_surface", None) is not None]
    assert holding == [], f"{len(holding)} of {len(labels)} labels keep their SDL surface"


def test_memory_is_bounded_after_every_screen_is_used_in_both_sizes(kiosk):
    gc.collect()
    both_sizes(kiosk)
    settle(kiosk)
    first_textures, first_texels = live_textures()
    first_caches = kivy_caches()
    collections = kiosk.app.reclaimer.collections
    assert collections >= 1
    for _ in range(3):
        both_sizes(kiosk)
        settle(kiosk)
    textures, texels = live_textures()
    # The same screens show nearly the same things (ticket and case numbers, which screen
    # was last built in which size differ a little): what is held does not grow with use.
    # Without the reclaimer, discarded screens pile up until a full collection happens.
    assert textures <= first_textures * 1.2, (first_textures, textures)
    assert texels <= first_texels * 1.25, (first_texels, texels)
    assert kiosk.app.reclaimer.collections > collections
    for name, size in kivy_caches().items():
        assert size <= max(first_caches.get(name, 0), 8), (name, first_caches, size)
