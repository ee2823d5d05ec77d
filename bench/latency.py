"""Press latency and the memory of a headless counter.

    python bench/latency.py [--presses 1000] [--db PATH] [--rss-presses 200]

Part 1, in this process, the real path: a Store on a file on disk (WAL, synchronous=FULL),
the Core, and the GPIO ButtonPanel on gpiozero's MockFactory. Each press drives a mock pin
low and high, so gpiozero's own callback runs the driver, which submits to the core, which
commits and then notifies the LEDs. Presses cycle next / next / a rating, so every press
commits an event (case.started, case.ended, rating.given) and changes an LED:

* press -> committed: from ``drive_low()`` to the moment the commit returned
  (``Change.at_perf``);
* press -> feedback: from ``drive_low()`` to the first LED pin change (the citizen sees it);
* a baseline in the same run: one bare INSERT + COMMIT on a file with the same pragmas.

The driver's bounce filter runs on a clock that moves 1 s per press (a human cannot press
a button 1,000 times a second; the filter itself is in the measured path).

Part 2: RSS of ``kiosk run --simulate --headless`` as a subprocess after ``--rss-presses``
presses over its control socket (VmRSS and VmHWM from /proc/PID/status).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gpiozero.pins.mock import MockFactory, MockPin  # noqa: E402

from device.config import Config  # noqa: E402
from device.core import Change  # noqa: E402
from device.store import Store, connect  # noqa: E402
from drivers.gpio import ButtonPanel  # noqa: E402
from kiosk.build import build_counter  # noqa: E402
from kiosk.control import ControlClient  # noqa: E402

LEVELS = ["very_satisfied", "satisfied", "basic", "unsatisfied", "very_unsatisfied"]


class TimedPin(MockPin):
    """Records when an output pin (LED, buzzer) first changed since the last reset."""

    changed_at = 0.0

    def _change_state(self, value: bool) -> bool:
        done = super()._change_state(value)
        if done and self._function == "output" and not TimedPin.changed_at:
            TimedPin.changed_at = time.perf_counter()
        return done


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(values: list[float]) -> str:
    return (f"p50 {pct(values, 50) * 1000:6.2f} ms  p99 {pct(values, 99) * 1000:6.2f} ms  "
            f"max {max(values) * 1000:6.2f} ms  (n={len(values)})")


def bench_presses(presses: int, db: Path) -> dict[str, list[float]]:
    cfg = Config().with_state_dir(db.parent).simulated()
    # The counter as the program builds it; the button panel is the bench's own, on
    # timed mock pins (the instrument), in place of the registry's.
    counter = build_counter(cfg, store=Store(db, site=cfg.device.site, device=cfg.device.id),
                            with_drivers=False)
    core = counter.core
    factory = MockFactory(pin_class=TimedPin)
    mono = [0.0]
    panel = ButtonPanel(cfg.gpio, pin_factory=factory, monotonic=lambda: mono[0])
    panel.start(core)
    core.start()
    last: dict[str, Any] = {}

    def observer(change: Change) -> None:
        last["commit"] = change.at_perf
        last["observed"] = time.perf_counter()
        last["events"] = len(change.events)

    core.subscribe(observer)
    commit, feedback, observed = [], [], []
    buttons = [factory.pin(p) for p in panel.pins().values()]
    by_name = dict(zip(panel.pins(), buttons, strict=True))
    try:
        for k in range(-3, presses):  # one unmeasured case first: the LEDs start dark
            name = ["next", "next", LEVELS[(k // 3) % 5]][k % 3]
            pin = by_name[name]
            mono[0] += 1.0
            last.clear()
            TimedPin.changed_at = 0.0
            t0 = time.perf_counter()
            pin.drive_low()
            pin.drive_high()
            if k < 0:
                continue
            if last.get("events") != 1:
                raise SystemExit(f"press {k} ({name}) committed nothing: {last}")
            commit.append(last["commit"] - t0)
            observed.append(last["observed"] - t0)
            if not TimedPin.changed_at:
                raise SystemExit(f"press {k} ({name}) changed no LED")
            feedback.append(TimedPin.changed_at - t0)
    finally:
        panel.close()
        factory.reset()
        counter.close()
    return {"commit": commit, "feedback": feedback, "observed": observed}


def bench_baseline(n: int, db: Path) -> list[float]:
    conn = connect(db)
    conn.execute("CREATE TABLE IF NOT EXISTS t (x TEXT)")
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (?)", ("x" * 300,))
        conn.execute("COMMIT")
        out.append(time.perf_counter() - t0)
    conn.close()
    return out


def start_headless(state: Path, config: str) -> subprocess.Popen[str]:
    """`kiosk run --simulate --headless` on ``state`` with ``config`` (TOML text), once it
    logged "kiosk ready" (bench/panel.py starts its counters with this too)."""
    cfg_file = state.parent / f"{state.name}.toml"
    cfg_file.write_text(config, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "run", "--simulate", "--headless",
         "--config", str(cfg_file), "--state-dir", str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    while True:
        line = lines.get(timeout=60)
        if line is None:
            raise SystemExit("kiosk exited before it was ready")
        if "kiosk ready" in line:
            return proc


def bench_rss(presses: int, state: Path) -> dict[str, int]:
    # Presses come faster than a hand's: a 1 ms bounce filter.
    proc = start_headless(state, "[gpio]\nbounce_ms = 1\n")
    try:
        rss = {"ready_kb": _status(proc.pid)["VmRSS"]}
        with ControlClient(state / "control.sock") as c:
            done = 0
            case = 0
            while done < presses:
                case += 1
                c.request({"cmd": "link", "line": json.dumps(
                    {"op": "case_start", "case_no": f"R-{case}", "service": "id_card.renew"})})
                c.request({"cmd": "press", "button": "next"})
                c.request({"cmd": "press", "button": LEVELS[case % 5]})
                done += 2
        status = _status(proc.pid)
        rss.update(after_kb=status["VmRSS"], peak_kb=status["VmHWM"], presses=done)
        return rss
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def _status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--presses", type=int, default=1000)
    ap.add_argument("--db", type=Path, help="database file (default: a new temp dir)")
    ap.add_argument("--rss-presses", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.db"
        print(f"{args.presses} presses, database {db} (WAL, synchronous=FULL)")
        r = bench_presses(args.presses, db)
        print(f"press -> committed        {ms(r['commit'])}")
        print(f"press -> feedback (LED)   {ms(r['feedback'])}")
        print(f"press -> observers done   {ms(r['observed'])}")
        base = bench_baseline(200, Path(tmp) / "baseline.db")
        print(f"baseline bare commit      {ms(base)}")
        rss = bench_rss(args.rss_presses, Path(tmp) / "state")
        print(f"headless kiosk RSS: {rss['ready_kb'] / 1024:.1f} MB when ready, "
              f"{rss['after_kb'] / 1024:.1f} MB after {rss['presses']} presses, "
              f"peak {rss['peak_kb'] / 1024:.1f} MB (target < 60 MB)")
        ok = (pct(r["commit"], 99) <= 0.020 and pct(r["feedback"], 99) <= 0.030
              and rss["peak_kb"] < 60 * 1024)
        print("targets (commit p99 <= 20 ms, feedback p99 <= 30 ms, RSS < 60 MB):",
              "met" if ok else "MISSED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
