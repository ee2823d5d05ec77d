"""Soak: the touchscreen through a compressed week, the headless counter and kiosk-sync
through a long stream of events; memory, Kivy's caches and CPU sampled throughout.

    python bench/soak.py touch [--days 7 --cases-per-day 300 --idle-s 20]
    python bench/soak.py headless [--events 1000000]

touch: the real kiosk (every driver simulated, its own state dir) under Xvfb, driven from
inside its own Kivy loop (one action per frame: real touch events on the buttons, the same
intents the GPIO pad and the workstation link send): tickets, guide, check-in, comment
book, cases with mirror fields and answers, all five ratings (the unsatisfied ones with
their reasons screen), away periods, notices, the text size switched, and an injected
clock that runs each day from 08:00 to 18:00 and then rolls over midnight. It reports
every --sample-every actions: RSS, the [heap] mapping, CPU, live textures, every Kivy
Cache category. Idle CPU: --idle-s untouched right after warm-up (day 1) and at the end.
headless: `kiosk run --headless` wiring (KioskApp, drivers simulated) submitting presses
(next, next, a rating: three events a case) with an injected clock, and the real
`kiosk-sync` process draining the outbox to a local Mosquitto; both sampled.
Targets (issue 15): RSS growth after warm-up <= 5 MB, idle CPU unchanged, no cache growth.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DAY_START_H, DAY_HOURS = 8, 10
SERVICES = ("id_card.renew", "id_card.first", "hukou.birth", "hukou.move_in")
LEVELS = ("very_satisfied", "satisfied", "basic", "unsatisfied", "very_unsatisfied")


def proc_figures(pid: int) -> dict[str, float]:
    """RSS and [heap] in MB, CPU seconds (all threads) of ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = heap = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    on_heap = False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5:
            on_heap = head[-1] == "[heap]"
        elif on_heap and line.startswith("Rss:"):
            heap += int(head[1])
    return {"rss_mb": rss / 1024, "heap_mb": heap / 1024, "cpu_s": cpu}


class WeekClock:
    """The core's clock: a working day from 08:00 to 18:00 local time, then the next day
    (midnight passes between two cases: ticket numbers, the monthly rate, the header)."""

    def __init__(self, tz: str, cases_per_day: int) -> None:
        from datetime import datetime, timedelta
        from zoneinfo import ZoneInfo

        start = datetime.now(ZoneInfo(tz)).replace(hour=DAY_START_H, minute=0, second=0,
                                                   microsecond=0) - timedelta(days=1)
        self.day0 = start.timestamp()
        self.step = DAY_HOURS * 3600 / cases_per_day
        self.cases_per_day = cases_per_day
        self.case = 0

    def __call__(self) -> float:
        day, n = divmod(self.case, self.cases_per_day)
        return self.day0 + day * 86400 + n * self.step

    @property
    def day(self) -> int:
        return self.case // self.cases_per_day


# ---------------------------------------------------------------------- touchscreen


def touch_child(args: argparse.Namespace) -> int:
    """Runs inside the kiosk process: builds it as `kiosk run --simulate` does, then
    drives it from its own Clock and prints one JSON line per sample."""
    import dataclasses
    import gc

    from device.config import load
    from kiosk.app import KioskApp

    cfg = load(ROOT / "config.toml").with_state_dir(args.state).simulated()
    cfg = dataclasses.replace(cfg, ui=dataclasses.replace(cfg.ui, fullscreen=False,
                                                          max_fps=args.fps))
    week = WeekClock(cfg.device.timezone, args.cases_per_day)
    kiosk = KioskApp(cfg, headless=False, clock=week)
    core = kiosk.setup()
    from ui.app import build_app

    assert kiosk.counter is not None
    app = build_app(core, kiosk.counter.desk, cfg)
    from kivy.base import EventLoop
    from kivy.cache import Cache
    from kivy.clock import Clock
    from kivy.graphics.texture import Texture
    from kivy.input.motionevent import MotionEvent

    from device.intents import AwayClear, AwaySet, MirrorAnswer, MirrorField, Press

    class Touch(MotionEvent):
        def depack(self, a: dict[str, float]) -> None:
            self.sx, self.sy, self.profile = a["sx"], a["sy"], ["pos"]
            super().depack(a)

    missed: dict[str, int] = {}
    stats = {"actions": 0, "screen_changes": 0, "cases": 0, "taps": 0, "missed": 0}

    def tap(text: str) -> None:
        found = [w for w in app.root.walk() if getattr(w, "text", None) == text]
        if not found:
            stats["missed"] += 1
            missed[f"{app.sm.current}:{text}"] = missed.get(f"{app.sm.current}:{text}", 0) + 1
            return
        w, win = found[-1], EventLoop.window
        x, y = w.to_window(*w.center)
        t = Touch("soak", stats["taps"], {"sx": x / win.width, "sy": y / win.height},
                  is_touch=True, type_id="touch")
        stats["taps"] += 1
        EventLoop.post_dispatch_input("begin", t)
        EventLoop.post_dispatch_input("end", t)

    def case_steps(n: int) -> list[Any]:
        svc = SERVICES[n % len(SERVICES)]
        steps: list[Any] = [lambda: tap("取号"), lambda: app.sm.get_screen("ticket").issue(svc),
                            lambda: tap("返回首页")]
        if n % 3 == 0:
            steps += [lambda: tap("办事指南"), lambda: tap(["首次申领居民身份证", "出生登记",
                                                           "户口迁入"][n % 3]),
                      lambda: tap("返回首页")]
        if n % 5 == 0:
            steps += [lambda: tap("预约签到")] + [lambda d=d: tap(d) for d in f"{n:08d}"] + [
                lambda: tap("签到"), lambda: tap("返回首页")]
        if n % 7 == 0:
            steps += [lambda: tap("意见簿"), lambda: tap("表扬"), lambda: tap("提交"),
                      lambda: app.home()]
        steps.append(lambda: core.submit(Press("next")))
        fields = (("name", "姓名", f"张{'三四五六七'[n % 5]}{n}"),
                  ("id_number", "身份证号", f"44030119{n % 90 + 10:02d}0101{n % 10000:04d}"),
                  ("address", "住址", f"深圳市福田区某某路{n}号{n % 30}栋"))
        for key, label, value in fields[:2 + n % 2]:
            steps.append(lambda k=key, lab=label, v=value: core.submit(
                MirrorField(k, lab, v, sensitive=k == "id_number")))
        steps.append(lambda: core.submit(MirrorAnswer("name", n % 11 != 0)))
        steps.append(lambda: core.submit(Press("next")))
        level = LEVELS[n % len(LEVELS)]
        steps.append(lambda: core.submit(Press(level)))
        if level in ("unsatisfied", "very_unsatisfied"):
            steps += [lambda: tap("等候时间长"), lambda: tap("跳过")]
        steps.append(lambda: app.home())
        if n % 25 == 9:
            steps += [lambda: core.submit(AwaySet("开会", "17:59")), lambda: None,
                      lambda: core.submit(AwayClear())]
        if n % 25 == 0:
            steps.append(lambda: core.announce(f"第{n}号通知：今日{n % 9 + 1}号窗口办理加急业务"))
        if n % 10 == 0:
            steps.append(lambda: tap("标准字" if app.large_button.text == "标准字" else "大字"))
        return steps

    def sample(kind: str, **extra: Any) -> None:
        found = [o for o in gc.get_objects() if type(o) is Texture]
        rec = {"kind": kind, **stats, "day": week.day, **proc_figures(os.getpid()),
               "textures": len(found),
               "texture_mb": sum(t.width * t.height * 4 for t in found) / 2**20,
               "caches": {k: len(v) for k, v in Cache._objects.items()},
               "collections": app.reclaimer.collections,
               "mit_shm": "SYSV" in Path("/proc/self/maps").read_text(), **extra}
        print(json.dumps(rec), flush=True)

    total = args.days * args.cases_per_day
    warm_cases = max(1, args.cases_per_day // 2)
    queue: list[Any] = []
    state = {"idle_from_cpu": 0.0, "idle_done": 0, "idle_t0": 0.0, "frame": 0}

    def on_screen(*_: Any) -> None:
        stats["screen_changes"] += 1

    def idle_over(_dt: float) -> None:
        now = time.monotonic()
        cpu = proc_figures(os.getpid())["cpu_s"] - state["idle_from_cpu"]
        sample("idle", idle_cpu_pct=100 * cpu / (now - state["idle_t0"]))
        state["idle_done"] += 1
        if state["idle_done"] == 2:
            app.stop()
        else:
            stepper()

    def step(_dt: float) -> None:
        # Two frames per action: what one action built is laid out (Kivy lays out on the
        # next clock tick) before the next one aims at it; a commit reaches the screen
        # through Clock.schedule_once, one frame later still.
        state["frame"] += 1
        if state["frame"] % 2:
            return
        if not queue:
            if (stats["cases"] == warm_cases and state["idle_done"] == 0) or \
                    (stats["cases"] == total and state["idle_done"] == 1):
                if stats["cases"] == warm_cases:
                    sample("warm")
                app.home()
                # Nothing scheduled by the soak while idle: the kiosk's own loop only.
                stepper.cancel()
                Clock.schedule_once(lambda _dt: state.update(
                    idle_t0=time.monotonic(),
                    idle_from_cpu=proc_figures(os.getpid())["cpu_s"]), 5.0)
                Clock.schedule_once(idle_over, 5.0 + args.idle_s)
                return
            day = week.day
            week.case = stats["cases"]
            if week.day != day:
                app.update_clock()  # midnight passed
            queue.extend(case_steps(stats["cases"]))
            stats["cases"] += 1
        queue.pop(0)()
        stats["actions"] += 1
        if stats["actions"] % args.sample_every == 0:
            sample("sample")

    def start(*_: Any) -> None:
        app.sm.bind(current=on_screen)
        sample("start")
        stepper()

    stepper = Clock.create_trigger(step, 0, interval=True)
    Clock.schedule_once(start, 3.0)  # after the first frame and the prebuild
    try:
        app.run()
    finally:
        sample("end", missed_taps=missed)
        kiosk.close()
    return 0


def run_touch(args: argparse.Namespace) -> list[dict[str, Any]]:
    from ui.xvfb import ensure_display

    xvfb = ensure_display()
    records: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as state:
            cmd = [sys.executable, __file__, "_touch", "--state", state, "--days",
                   str(args.days), "--cases-per-day", str(args.cases_per_day), "--idle-s",
                   str(args.idle_s), "--sample-every", str(args.sample_every), "--fps",
                   str(args.fps)]
            env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_LOG_MODE="PYTHON")
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    env=env, cwd=ROOT, text=True)
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("{"):
                    rec = json.loads(line)
                    records.append(rec)
                    print(f"{rec['kind']:6s} day {rec['day']} actions {rec['actions']:6d} "
                          f"cases {rec['cases']:5d} screens {rec['screen_changes']:6d} rss "
                          f"{rec['rss_mb']:6.1f} heap {rec['heap_mb']:6.1f} textures "
                          f"{rec['textures']} ({rec['texture_mb']:.1f} MB) caches "
                          f"{rec['caches']}" + (f" idle CPU {rec['idle_cpu_pct']:.1f} %"
                                                if "idle_cpu_pct" in rec else ""),
                          flush=True)
            proc.wait()
    finally:
        if xvfb is not None:
            xvfb.stop()
    return records


def slope_per_1000(xs: list[float], ys: list[float]) -> float:
    if len(xs) < 2 or len(set(xs)) < 2:
        return 0.0
    return statistics.linear_regression(xs, ys).slope * 1000


def summarise_touch(records: list[dict[str, Any]]) -> dict[str, Any]:
    warm = next(r for r in records if r["kind"] == "warm")
    after = [r for r in records if r["kind"] in ("sample", "idle", "end")
             and r["actions"] >= warm["actions"]]
    idle = [r["idle_cpu_pct"] for r in records if r["kind"] == "idle"]
    last = [r for r in records if r["kind"] in ("sample", "idle")][-1]
    caches = {k: (warm["caches"].get(k, 0), max(r["caches"].get(k, 0) for r in after))
              for k in warm["caches"]}
    return {
        "actions": last["actions"], "screen_changes": last["screen_changes"],
        "cases": last["cases"], "days": last["day"] + 1, "missed_taps": last["missed"],
        "rss_start_mb": records[0]["rss_mb"], "rss_warm_mb": warm["rss_mb"],
        "rss_peak_mb": max(r["rss_mb"] for r in records), "rss_end_mb": last["rss_mb"],
        "rss_growth_after_warmup_mb": last["rss_mb"] - warm["rss_mb"],
        "rss_slope_mb_per_1000_actions": slope_per_1000(
            [r["actions"] for r in after], [r["rss_mb"] for r in after]),
        "heap_warm_mb": warm["heap_mb"], "heap_end_mb": last["heap_mb"],
        "textures_warm": warm["textures"],
        "textures_max_after": max(r["textures"] for r in after),
        "textures_end": last["textures"],
        "caches_warm_vs_max_after": caches,
        "idle_cpu_pct_warm_end": idle, "collections": last["collections"],
        "missed_taps_by_screen": records[-1].get("missed_taps", {}),
    }


# ---------------------------------------------------------------------- headless + sync


def counter_child(args: argparse.Namespace) -> int:
    from device.config import load
    from device.intents import Press
    from kiosk.app import KioskApp

    cfg = load(Path(args.config)).with_state_dir(args.state).simulated()
    week = WeekClock(cfg.device.timezone, 3000)
    kiosk = KioskApp(cfg, headless=True, clock=week)
    core = kiosk.setup()
    cases = args.events // 3
    t0 = time.monotonic()
    try:
        for n in range(cases):
            week.case = n
            for button in ("next", "next", LEVELS[n % len(LEVELS)]):
                core.submit(Press(button))
            if n % max(1, cases // 40) == 0 or n == cases - 1:
                print(json.dumps({"events": 3 * (n + 1), "day": week.day,
                                  "s": time.monotonic() - t0,
                                  **proc_figures(os.getpid())}), flush=True)
    finally:
        kiosk.close()
    return 0


def run_headless(args: argparse.Namespace) -> dict[str, Any]:
    import sqlite3

    from bench._broker import Broker

    broker = Broker()
    base = Path(tempfile.mkdtemp(prefix="soak-", dir="/dev/shm" if Path("/dev/shm").is_dir()
                                 else None))
    conf = base / "config.toml"
    text = (ROOT / "config.toml").read_text()
    text = text.replace('host = ""', 'host = "127.0.0.1"', 1)
    text = text.replace("port = 8883", f"port = {broker.port}", 1).replace(
        "tls = true", "tls = false", 1)
    conf.write_text(text)
    counter = subprocess.Popen([sys.executable, __file__, "_counter", "--config", str(conf),
                                "--state", str(base), "--events", str(args.events)],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert counter.stdout is not None
    first = counter.stdout.readline()  # the database exists now
    sync = subprocess.Popen([str(Path(sys.executable).with_name("kiosk-sync")), "--config",
                             str(conf), "--state-dir", str(base)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples: list[dict[str, Any]] = []
    lines = [json.loads(first)]
    stop = threading.Event()

    def sampler() -> None:
        db = sqlite3.connect(f"file:{base / 'kiosk.db'}?mode=ro", uri=True, timeout=5)
        while not stop.wait(2.0):
            try:
                (depth,) = db.execute("SELECT count(*) FROM events WHERE sent_at IS NULL") \
                    .fetchone()
                samples.append({"t": time.monotonic(), "depth": depth,
                                "sync": proc_figures(sync.pid)})
            except (sqlite3.Error, FileNotFoundError, ProcessLookupError):
                continue
        db.close()

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    for line in counter.stdout:
        lines.append(json.loads(line))
        r = lines[-1]
        print(f"counter events {r['events']:8d} day {r['day']:3d} rss {r['rss_mb']:6.1f} "
              f"heap {r['heap_mb']:6.1f}  sync rss "
              f"{samples[-1]['sync']['rss_mb'] if samples else 0:6.1f} outbox "
              f"{samples[-1]['depth'] if samples else 0}", flush=True)
    counter.wait()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and (not samples or samples[-1]["depth"] > 0):
        stop.wait(2.0)
    stop.set()
    th.join()
    sync.terminate()
    sync.wait(timeout=30)
    broker.stop()
    warm = lines[min(2, len(lines) - 1)]
    swarm = samples[min(5, len(samples) - 1)]["sync"] if samples else {}
    result = {
        "events": lines[-1]["events"], "days": lines[-1]["day"] + 1,
        "seconds": lines[-1]["s"], "outbox_left": samples[-1]["depth"] if samples else None,
        "counter_rss_start_warm_peak_end_mb": [lines[0]["rss_mb"], warm["rss_mb"],
                                               max(r["rss_mb"] for r in lines),
                                               lines[-1]["rss_mb"]],
        "counter_rss_growth_after_warmup_mb": lines[-1]["rss_mb"] - warm["rss_mb"],
        "counter_rss_slope_mb_per_100k_events": slope_per_1000(
            [r["events"] for r in lines[2:]], [r["rss_mb"] for r in lines[2:]]) * 100,
        "sync_rss_warm_peak_end_mb": [swarm.get("rss_mb"),
                                      max(s["sync"]["rss_mb"] for s in samples),
                                      samples[-1]["sync"]["rss_mb"]] if samples else None,
        "sync_cpu_s": samples[-1]["sync"]["cpu_s"] if samples else None,
    }
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["touch", "headless", "_touch", "_counter"])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--cases-per-day", type=int, default=300)
    ap.add_argument("--idle-s", type=float, default=20.0)
    ap.add_argument("--sample-every", type=int, default=500)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--state", default="")
    ap.add_argument("--config", default="")
    args = ap.parse_args()
    if args.what == "_touch":
        return touch_child(args)
    if args.what == "_counter":
        return counter_child(args)
    if args.what == "touch":
        print(json.dumps(summarise_touch(run_touch(args)), indent=1))
    else:
        print(json.dumps(run_headless(args), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
