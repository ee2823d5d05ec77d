"""HQ's published month on the real home screen under Xvfb: kiosk-sync stores a results
document (its own connection, its own validation), the home screen shows the station's
figure in large text at the next content poll, in both text sizes by the line-breaking
rule and unclipped; a newer month replaces it."""

from __future__ import annotations

import json

import pytest

from device.store import Store
from sync import downlink
from tests.ui.test_layout import clip_problems, line_problems
from ui import theme

pytestmark = pytest.mark.ui

LINE = "本所11月公布：好评率 98.5%（群众评价 1,234 件）"


def _as_kiosk_sync(kiosk, doc: dict) -> None:
    """Validate and store ``doc`` exactly as kiosk-sync does, from another connection (the
    kiosk notices through PRAGMA data_version), then let the content poll run."""
    cfg = kiosk.core.config
    sync_side = Store(cfg.db_path, site=cfg.device.site, device=cfg.device.id)
    try:
        payload = json.dumps(doc, ensure_ascii=False).encode()
        assert downlink.apply_content(sync_side, "results",
                                      downlink.parse_content("results", payload))
    finally:
        sync_side.close()
    kiosk.kclock.advance(5.1)  # the content poll
    kiosk.frames(3)


def _month(version: str, month: str, rated: int, rate: float) -> dict:
    return {"version": version, "month": month,
            "station": {"name": "城关派出所", "rated": rated, "good_rate": rate}}


def test_the_home_screen_shows_the_published_figure(kiosk) -> None:
    assert kiosk.screen() == "home"
    assert "公布：好评率" not in kiosk.texts()  # nothing published yet: no line at all
    _as_kiosk_sync(kiosk, _month("20261202.1", "2026-11", 1234, 98.5))
    label = kiosk.find(LINE)
    home = kiosk.app.sm.get_screen("home")
    assert label is home.figure and label.base_font_size >= theme.fs(40)
    for large in (False, True):
        theme.set_large(large)
        try:
            kiosk.app.mark_all_dirty()
            kiosk.app.go("guide")
            kiosk.app.go("home")
            kiosk.frames(4)
            where = f"home with results ({'large' if large else 'normal'})"
            assert kiosk.widgets(LINE), where
            assert line_problems(kiosk, where) + clip_problems(kiosk, where) == []
        finally:
            theme.set_large(False)
    _as_kiosk_sync(kiosk, _month("20270105.1", "2026-12", 987, 99.1))
    text = kiosk.texts()
    assert "本所12月公布：好评率 99.1%（群众评价 987 件）" in text and LINE not in text
