"""CPU time to rebuild and draw each touch screen (home, ticket, comment, check-in, the
guide of every service), for comparing two checkouts on a busy machine (CPU time is
steadier than wall time under load):

    python bench/ui_rebuild.py /path/to/checkout    # e.g. an export of main, then this tree
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path


def main(root: str) -> None:
    sys.path.insert(0, root)  # that checkout's device/ and ui/, not the installed ones
    from ui.xvfb import ensure_display

    xvfb = ensure_display()
    from kivy.base import EventLoop

    from device.config import load
    from kiosk.build import build_counter
    from kiosk.screenshots import demo_config
    from ui.app import build_app

    cfg = demo_config(load(Path(root) / "config.toml"), tempfile.mkdtemp())
    counter = build_counter(cfg, with_drivers=False)
    counter.core.start()
    app = build_app(counter.core, counter.desk, cfg)
    app.mount()

    def frames(n: int) -> None:
        for _ in range(n):
            EventLoop.idle()

    frames(5)
    codes = [s.code for s in app.catalogue().services]
    started, n = time.process_time(), 0
    for _round in range(3):
        for name in ("home", "ticket", "comment", "checkin"):
            app.mark_all_dirty()
            app.go(name)
            frames(2)
            n += 1
        for code in codes:
            app.go("guide", service=code)
            frames(2)
            n += 1
    per = 1000 * (time.process_time() - started) / n
    print(f"{root}: {per:.1f} ms CPU per screen rebuild + 2 frames, over {n}")
    app.unmount()
    counter.close()
    if xvfb is not None:
        xvfb.stop()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).resolve().parents[1]))
