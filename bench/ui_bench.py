"""Touchscreen benchmark: time to first frame, touch to screen change, idle CPU, RSS.

    python bench/ui_bench.py [--idle-s 10] [--taps 30]

1. Starts the real kiosk (`kiosk run --simulate`, drivers simulated, its own state dir) as
   a child process and times from launch to the first frame it shows (its log line), then
   leaves it untouched and reads its CPU time from /proc/PID/stat over --idle-s seconds,
   and its resident memory (VmRSS, VmHWM) from /proc/PID/status.
2. Starts the kiosk again the same way and uses every screen in both text sizes (40
   cases of bench/soak.py's compressed day: tickets, guide, check-in, comment book, mirror,
   all five ratings, away, notices, the text size switched every 10 cases), lets it settle
   and reads its RSS and idle CPU again: a kiosk in use, not only an untouched one.
3. In this process, mounts the UI on a simulated core and taps navigation buttons with
   real touch events: the time from the touch to the end of the frame that shows the new
   screen (rebuilt widgets, layout and draw included).

Without a display it starts a private Xvfb (software OpenGL: a Pi's GPU draws faster).
Targets (issue 3): first frame <= 3 s, touch to screen <= 100 ms, idle < 5 % of a core,
RSS <= 200 MB.
"""

from __future__ import annotations

import argparse
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def software_gl_kb(pid: int) -> int:
    """Resident size of Mesa's software renderer (LLVM, llvmpipe/swrast): the part of the
    RSS that exists only without a GPU driver (a Pi draws with v3d)."""
    total, counting = 0, False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5:  # a mapping header line
            path = head[5] if len(head) > 5 else ""
            counting = any(k in path for k in ("libLLVM", "swrast_dri", "libgallium",
                                               "kms_swrast"))
        elif counting and line.startswith("Rss:"):
            total += int(head[1])
    return total


def uses_mit_shm(pid: int) -> bool:
    """Whether Mesa's software renderer presents through an X shared-memory segment.
    The starts without one held ~28 MB more heap (docs/benchmarks.md, Touchscreen); a Pi
    (KMS/DRM, v3d) has neither path."""
    return "SYSV" in Path(f"/proc/{pid}/maps").read_text()


BARE = """
import os, sys, time
from kivy.base import EventLoop
EventLoop.ensure_window()
from kivy.core.window import Window
from kivy.uix.label import Label
Window.add_widget(Label(text="hello"))
for _ in range(5):
    EventLoop.idle()
print([l for l in open("/proc/self/status") if l.startswith("VmRSS")][0].split()[1])
"""


def bare_kivy_rss_mb() -> float:
    """Baseline in the same run: an empty Kivy window with one label."""
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_NO_CONFIG="1", KIVY_NO_FILELOG="1",
               KIVY_NO_CONSOLELOG="1")
    out = subprocess.run([sys.executable, "-c", BARE], capture_output=True, text=True,
                         env=env, timeout=60, check=True).stdout.split()
    return int(out[-1]) / 1024


def child_figures(idle_s: float) -> dict[str, float]:
    kiosk = Path(sys.executable).with_name("kiosk")
    with tempfile.TemporaryDirectory() as state:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [str(kiosk), "run", "--config", str(ROOT / "config.toml"), "--simulate",
             "--state-dir", state], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            cwd=ROOT)
        assert proc.stdout is not None
        first = None
        buf = b""
        try:
            while first is None and time.monotonic() - t0 < 60:
                ready, _, _ = select.select([proc.stdout], [], [], 1.0)
                if not ready:
                    if proc.poll() is not None:
                        raise SystemExit(f"kiosk exited early:\n{buf.decode()[-2000:]}")
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                buf += chunk
                if b"first frame shown" in buf:
                    first = time.monotonic() - t0
            if first is None:
                raise SystemExit("no first frame within 60 s")
            # Let start-up settle (scroll bars fade out over the first seconds), then
            # measure the still screen.
            settle_until = time.monotonic() + 5.0
            while time.monotonic() < settle_until:
                ready, _, _ = select.select([proc.stdout], [], [], 0.2)
                if ready:
                    os.read(proc.stdout.fileno(), 65536)
            hz = os.sysconf("SC_CLK_TCK")
            c0, w0 = cpu_ticks(proc.pid), time.monotonic()
            end = w0 + idle_s
            while time.monotonic() < end:  # keep draining its log so it never blocks
                ready, _, _ = select.select([proc.stdout], [], [], 0.5)
                if ready:
                    os.read(proc.stdout.fileno(), 65536)
            c1, w1 = cpu_ticks(proc.pid), time.monotonic()
            return {
                "first_frame_s": first,
                "idle_cpu_pct": 100.0 * (c1 - c0) / hz / (w1 - w0),
                "rss_mb": status_kb(proc.pid, "VmRSS") / 1024,
                "rss_peak_mb": status_kb(proc.pid, "VmHWM") / 1024,
                "software_gl_mb": software_gl_kb(proc.pid) / 1024,
                "mit_shm": uses_mit_shm(proc.pid),
            }
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


per_screen: dict[str, list[float]] = {}


def used_figures(idle_s: float) -> dict[str, float]:
    """RSS and idle CPU of the kiosk after every screen was used in both text sizes."""
    import json

    with tempfile.TemporaryDirectory() as state:
        out = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "soak.py"), "_touch", "--state", state,
             "--days", "1", "--cases-per-day", "40", "--idle-s", str(idle_s),
             "--sample-every", "100000"], capture_output=True, text=True, cwd=ROOT,
            env=dict(os.environ, KIVY_NO_ARGS="1", KIVY_LOG_MODE="PYTHON"), timeout=900)
    records = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    idle = [r for r in records if r["kind"] == "idle"]
    if len(idle) < 2:
        raise SystemExit(f"the used-kiosk run did not finish:\n{out.stderr[-2000:]}")
    end = idle[-1]
    return {"rss_mb": end["rss_mb"], "heap_mb": end["heap_mb"],
            "idle_cpu_pct": end["idle_cpu_pct"], "screen_changes": end["screen_changes"],
            "untouched_rss_mb": records[0]["rss_mb"], "mit_shm": end["mit_shm"]}


def touch_figures(taps: int) -> list[float]:
    import dataclasses

    from device.config import load
    from kiosk.build import build_counter
    from ui.app import build_app

    with tempfile.TemporaryDirectory() as state:
        cfg = load(ROOT / "config.toml").with_state_dir(state).simulated()
        cfg = dataclasses.replace(cfg, ui=dataclasses.replace(cfg.ui, fullscreen=False))
        counter = build_counter(cfg, with_drivers=False)
        counter.core.start()
        app = build_app(counter.core, counter.desk, cfg)
        app.mount()
        from kivy.base import EventLoop
        from kivy.input.motionevent import MotionEvent

        class Touch(MotionEvent):
            def depack(self, args: dict[str, float]) -> None:
                self.sx, self.sy = args["sx"], args["sy"]
                self.profile = ["pos"]
                super().depack(args)

        def idle(n: int = 3) -> None:
            for _ in range(n):
                EventLoop.idle()

        def button(text: str) -> object:
            return [w for w in app.root.walk() if getattr(w, "text", None) == text][-1]

        idle()
        # home -> X -> home, alternating, as a citizen does.
        route = [("办事指南", "guide"), ("返回首页", "home"), ("取号", "ticket"),
                 ("返回首页", "home"), ("意见簿", "comment"), ("返回首页", "home"),
                 ("预约签到", "checkin"), ("返回首页", "home")]
        times: list[float] = []
        win = EventLoop.window
        for i in range(taps):
            text, target = route[i % len(route)]
            w = button(text)
            x, y = w.to_window(*w.center)  # type: ignore[attr-defined]
            touch = Touch("bench", i, {"sx": x / win.width, "sy": y / win.height},
                          is_touch=True, type_id="touch")
            t0 = time.perf_counter()
            EventLoop.post_dispatch_input("begin", touch)
            EventLoop.post_dispatch_input("end", touch)
            EventLoop.idle()  # layout + draw of the new screen
            times.append((time.perf_counter() - t0) * 1000)
            per_screen.setdefault(target, []).append(times[-1])
            assert app.sm.current == target, (text, app.sm.current)
            idle(2)
        app.unmount()
        counter.close()
        return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--idle-s", type=float, default=10.0)
    ap.add_argument("--taps", type=int, default=32)
    args = ap.parse_args()
    from ui.xvfb import ensure_display

    xvfb = ensure_display()
    try:
        child = child_figures(args.idle_s)
        used = used_figures(args.idle_s)
        taps = touch_figures(args.taps)
        bare = bare_kivy_rss_mb()
    finally:
        if xvfb is not None:
            xvfb.stop()
    taps_sorted = sorted(taps)
    p95 = taps_sorted[max(0, int(len(taps_sorted) * 0.95) - 1)]
    print(f"time to first frame:   {child['first_frame_s']:.2f} s   (target <= 3 s)")
    print(f"touch to screen change: median {statistics.median(taps):.0f} ms, p95 {p95:.0f} ms, "
          f"max {max(taps):.0f} ms over {len(taps)} taps   (target <= 100 ms)")
    print("  by screen (median ms): " + ", ".join(
        f"{k} {statistics.median(v):.0f}" for k, v in per_screen.items()))
    print(f"idle CPU, screen still: {child['idle_cpu_pct']:.1f} % of one core over "
          f"{args.idle_s:.0f} s   (target < 5 %)")
    print(f"RSS: {child['rss_mb']:.0f} MB (peak {child['rss_peak_mb']:.0f} MB)   "
          "(target <= 200 MB)")
    print(f"  of which Mesa's software renderer (no GPU here): {child['software_gl_mb']:.0f} MB;"
          f" RSS without it: {child['rss_mb'] - child['software_gl_mb']:.0f} MB")
    print("  software GL presented through " + ("MIT-SHM" if child["mit_shm"] else
          "XPutImage, no MIT-SHM (see docs/benchmarks.md)"))
    print(f"  baseline, same run: an empty Kivy window with one label: {bare:.0f} MB; "
          f"the kiosk's own share: {child['rss_mb'] - bare:.0f} MB   (target <= 40 MB)")
    print(f"after every screen was used in both text sizes ({used['screen_changes']:.0f} "
          f"screen changes), settled: RSS {used['rss_mb']:.0f} MB ([heap] "
          f"{used['heap_mb']:.0f} MB; {used['untouched_rss_mb']:.0f} MB before use), own "
          f"share {used['rss_mb'] - bare:.0f} MB, idle CPU {used['idle_cpu_pct']:.1f} %, "
          + ("MIT-SHM" if used["mit_shm"] else "no MIT-SHM"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
