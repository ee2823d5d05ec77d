"""Write a PNG of every screen, in normal and large-text mode (docs/screens).

    kiosk screenshots --out docs/screens

Runs a simulated counter on a throw-away state directory, drives it into each state
(mirror with fields, rating, away, a called ticket, ...) and saves what the window shows.
With no display it starts a private Xvfb.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device.codes import Fault
from device.config import Config
from device.counter import Mode
from device.intents import AwaySet, CaseEnd, MirrorAnswer, MirrorField, Press
from device.store import Store
from drivers.link import handle_line
from kiosk.build import build_counter
from kiosk.screenshots_station import shoot_roles

log = logging.getLogger("kiosk.screenshots")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="docs/screens", help="directory for the PNGs")


def demo_config(config: Config, state_dir: str) -> Config:
    cfg = config.with_state_dir(state_dir).simulated()
    return dataclasses.replace(
        cfg,
        ui=dataclasses.replace(cfg.ui, fullscreen=False, large_text=False),
        window=dataclasses.replace(cfg.window, notice=cfg.window.notice
                                   or "今日办理人数较多，延时服务至 19:00"),
        queue=dataclasses.replace(cfg.queue, green_channel=cfg.queue.green_channel
                                  or ("migrant_worker", "student", "veteran")))


def publish_demo_notices(store: Store, now: float) -> None:
    """An HQ notice as kiosk-sync stores it (site_content kind "notices"), valid now."""
    from datetime import UTC, datetime

    def iso(ts: float) -> str:
        return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")

    doc = {"version": "demo-1", "notices": [
        {"id": "demo-1", "level": "warning", "from": iso(now - 3600), "until": iso(now + 86400),
         "text": "本周六（12月5日）上午正常办理户籍和居民身份证业务"}]}
    store.put_site_content("notices", "demo-1", json.dumps(doc, ensure_ascii=False), iso(now))


def publish_demo_results(store: Store, now: float) -> None:
    """The station's month as HQ publishes it (site_content kind "results")."""
    from datetime import UTC, datetime

    stamp = datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
    doc = {"version": "demo-1", "month": "2026-11",
           "station": {"name": "城关派出所", "rated": 1234, "good_rate": 98.5}}
    store.put_site_content("results", "demo-1", json.dumps(doc, ensure_ascii=False), stamp)


def frames(n: int = 3) -> None:
    from kivy.base import EventLoop

    for _ in range(n):
        EventLoop.idle()


def main(args: argparse.Namespace, config: Config) -> int:
    from ui.xvfb import ensure_display

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    xvfb = ensure_display()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = demo_config(config, tmp)
            written = shoot(cfg, out)
            written += shoot_roles(cfg, out, frames, Path(tmp) / "roles")
    finally:
        if xvfb is not None:
            xvfb.stop()
    print(f"kiosk screenshots: wrote {len(written)} PNGs to {out}")
    return 0


def shoot(cfg: Config, out: Path) -> list[Path]:
    from ui import theme
    from ui.app import build_app

    out.mkdir(parents=True, exist_ok=True)
    counter = build_counter(cfg, with_drivers=False)
    core, desk = counter.core, counter.desk
    core.start()
    publish_demo_notices(counter.store, core.clock())
    publish_demo_results(counter.store, core.clock())
    app = build_app(core, desk, cfg)
    app.mount()
    written: list[Path] = []
    try:
        for n in range(3):
            desk.issue_ticket(["id_card.renew", "hukou.birth", "id_card.first"][n])
        # A few ratings so the home screen shows a satisfaction rate.
        for level in ("very_satisfied", "satisfied", "very_satisfied", "basic"):
            core.submit(Press("next"))
            core.submit(Press("next"))
            core.submit(Press(level))
        frames()
        app.hide_called()

        def go(name: str, **kw: Any) -> Callable[[], None]:
            return lambda: app.go(name, **kw)

        def document() -> None:
            # A notice of missing materials waiting for the citizen's 确认 (issue 13).
            n = len(written)
            for line in ({"op": "case_start", "case_no": f"SZ-20261126-{n:04d}",
                          "service": "hukou.move_in"},
                         {"op": "notice", "materials": [2, 4], "remarks": "原件须本人携带"}):
                reply = handle_line(core, json.dumps(line, ensure_ascii=False))
                assert reply["ok"], reply

        def mirror() -> None:
            if core.state.mode is Mode.SERVING:  # the document's case: end and rate it
                core.submit(CaseEnd())
                core.submit(Press("satisfied"))
            core.submit(Press("next"))
            frames()
            app.hide_called()
            for key, label, value, sensitive in [
                    ("name", "姓名", "刘䶮", False), ("sex", "性别", "男", False),
                    ("id_number", "公民身份号码", "440301199001011234", True),
                    ("address", "住址", "广东省深圳市南山区科技园路 1 号 3 栋 502 室", False)]:
                core.submit(MirrorField(key, label, value, sensitive))
            core.submit(MirrorAnswer("name", True))
            core.submit(MirrorAnswer("address", False))

        def rating() -> None:
            core.submit(Press("next"))

        def extras() -> None:
            core.submit(Press("unsatisfied", source="screen"))

        def away() -> None:
            core.submit(AwaySet("参加业务培训", "17:30", "0755-8000 0001", ""))

        def back() -> None:
            core.submit(Press("away"))
            frames()

        def called() -> None:
            app.hide_toast()
            app.show_called("A012", cfg.window.number)

        def helpscreen() -> None:
            app.hide_called()
            app.toggle_help()

        def ticket_result() -> None:
            core.recovered("printer")  # the paper-out scene of the last pass
            frames()
            screen = app.sm.get_screen("ticket")
            screen.show(desk.issue_ticket("id_card.lost"))

        def ticket_paper_out() -> None:
            core.fault("printer", Fault.PAPER_OUT, "screenshot")
            screen = app.sm.get_screen("ticket")
            screen.show(desk.issue_ticket("hukou.birth"))
            frames()
            app.hide_toast()

        def checkin_error() -> None:
            core.recovered("printer")
            app.go("checkin")
            screen = app.sm.get_screen("checkin")
            screen.pad.value = "12345678"
            screen.check_in()

        scenes: list[tuple[str, Callable[[], None]]] = [
            ("home", go("home")), ("guide", go("guide")),
            ("guide-birth", go("guide", service="hukou.birth")),
            ("ticket", go("ticket")), ("ticket-issued", ticket_result),
            ("ticket-paper-out", ticket_paper_out),
            ("checkin", checkin_error), ("comment", go("comment")),
            ("mirror-document", document), ("mirror", mirror), ("rating", rating),
            ("rating-reasons", extras),
            ("thanks", go("thanks", rated=True)), ("away", away), ("called", called),
            ("help", helpscreen),
        ]
        for large in (False, True):
            theme.set_large(large)
            app.build_header()
            if large:
                back()
            for name, setup in scenes:
                setup()
                frames(6)  # texts that shrink to fit settle in a few frames
                path = out / f"{name}{'-large' if large else ''}.png"
                app.root.export_to_png(str(path))
                written.append(path)
                log.info("wrote %s", path)
            if app.help_widget is not None:
                app.toggle_help()
            app.hide_called()
    finally:
        app.unmount()
        counter.close()
        theme.set_large(cfg.ui.large_text)
    return written
