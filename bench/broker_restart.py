"""Benchmark: 1,000 counters with a backlog, the broker SIGKILLed and restarted; and one
of two collectors SIGKILLed for 40 s. How long until HQ holds every event, and how many
were delivered twice.

    .venv/bin/python bench/broker_restart.py --counters 1000 --backlog 100
    .venv/bin/python bench/broker_restart.py --scenario collector --counters 1000

Real processes: Mosquitto (bench/_broker.py), `kiosk-hq collect` as its shipped command
(SQLite, default settings: repair every 10 s), and the counters (sync/loadsim.py, one
epoll thread). ``--baseline`` runs the counters with the old protocol, a PUBACK taken as
delivery (no confirmations honoured): what is lost then comes back only through HQ's gap
repair, as before issue 10. Both runs are printed side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._broker import Broker  # noqa: E402
from sync.loadsim import LoadSim, raise_nofile  # noqa: E402

START = "import sys; from kiosk.sync_cli import main_hq; sys.exit(main_hq(sys.argv[1:]))"


class Hq:
    def __init__(self, db: Path, port: int, name: str) -> None:
        self.db, self.port, self.name = db, port, name
        self.log = db.parent / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        fh = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", START, "collect", "--db", str(self.db), "--port",
             str(self.port), "--client-id", self.name], cwd=ROOT, stdout=fh, stderr=fh,
            env={**os.environ, "PYTHONPATH": str(ROOT)})

    def wait_connected(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "connected to" in self.log.read_text(errors="replace"):
                return
            time.sleep(0.1)  # a benchmark watching another process's log
        raise RuntimeError(f"{self.name} did not connect: {self.log.read_text()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> dict[str, int]:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        text = self.log.read_text(errors="replace")
        out: dict[str, int] = {}
        for m in re.finditer(r"collector stopped: (\d+) new events, (\d+) duplicates, "
                             r"(\d+) quarantined, (\d+) resend requests", text):
            for k, v in zip(("new", "duplicates", "quarantined", "resends"), m.groups(),
                            strict=True):
                out[k] = out.get(k, 0) + int(v)
        return out


def held(db: Path) -> int:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM hq_events").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def restart_run(counters: int, backlog: int, honour: bool) -> dict[str, Any]:
    broker = Broker()
    db = Path(tempfile.mkdtemp(prefix="bench-restart-")) / "hq.db"
    hq = Hq(db, broker.port, "kiosk-hq-bench")
    hq.start()
    hq.wait_connected()
    sim = LoadSim("127.0.0.1", broker.port, counters, honour_confirmations=honour)
    try:
        connected = sim.connect_all(120)
        broker.kill()
        sim.run_until(lambda: not any(s.connected for s in sim.sims), 10)
        sim.backlog(backlog)  # written while the broker was down
        total = counters * backlog
        broker.restart()
        done, elapsed = until_all_held(sim, db, total, 240)
        sim.run_until(lambda: False, 2)  # let the last confirmations arrive
    finally:
        sim.close()
        stats = hq.stop()
        broker.stop()
    return {"protocol": "confirmations" if honour else "baseline (PUBACK = delivered)",
            "counters": connected, "events": total, "held": held(db),
            "all_held_s_after_restart": round(elapsed, 1) if done else None,
            "duplicate_deliveries": stats.get("duplicates"),
            "duplicates_pct": round(100 * stats.get("duplicates", 0) / total, 1),
            "resend_requests": stats.get("resends"),
            "republished_by_counters": sim.stats.republished,
            "resent_on_request": sim.stats.resent}


def until_all_held(sim: LoadSim, db: Path, total: int, timeout_s: float
                   ) -> tuple[bool, float]:
    """Run the counters until HQ holds ``total`` events (polled twice a second: the count
    is a query on HQ's file); whether it did, and how long it took."""
    t0 = time.monotonic()
    last, count = [0.0], [0]

    def check(now: float) -> None:
        if now - last[0] >= 0.5:
            last[0] = now
            count[0] = held(db)

    done = sim.run_until(lambda: count[0] >= total, timeout_s, every=check)
    return done, time.monotonic() - t0


def collector_run(counters: int, rate: float, honour: bool) -> dict[str, Any]:
    broker = Broker()
    db = Path(tempfile.mkdtemp(prefix="bench-colkill-")) / "hq.db"
    a, b = Hq(db, broker.port, "kiosk-hq-a"), Hq(db, broker.port, "kiosk-hq-b")
    for h in (a, b):
        h.start()
        h.wait_connected()
    sim = LoadSim("127.0.0.1", broker.port, counters, honour_confirmations=honour, batch=1)
    stats: dict[str, int] = {}
    try:
        connected = sim.connect_all(120)
        begin = time.monotonic()
        for s in sim.sims:
            s.next_at = begin + (s.index % 100) / 100 / rate
        phase = {"killed": False, "back": False}

        def live(now: float) -> None:
            t = now - begin
            if t >= 10 and not phase["killed"]:
                a.kill()
                phase["killed"] = True
            if t >= 50 and not phase["back"]:
                a.start()
                phase["back"] = True
            if t < 60:
                for s in sim.sims:
                    if s.connected and now >= s.next_at:
                        s.seal_next()
                        s.next_at += 1.0 / rate

        sim.run_until(lambda: False, 60, every=live)
        total = sum(sim.last_seq().values())
        done, elapsed = until_all_held(sim, db, total, 180)
    finally:
        sim.close()
        for h in (a, b):
            for k, v in h.stop().items():
                stats[k] = stats.get(k, 0) + v
        broker.stop()
    return {"protocol": "confirmations" if honour else "baseline (PUBACK = delivered)",
            "counters": connected, "events": total, "held": held(db),
            "all_held_s_after_traffic": round(elapsed, 1) if done else None,
            "duplicate_deliveries": stats.get("duplicates"),
            "resend_requests_of_surviving_and_restarted": stats.get("resends"),
            "republished_by_counters": sim.stats.republished}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--scenario", choices=["restart", "collector"], default="restart")
    p.add_argument("--counters", type=int, default=1000)
    p.add_argument("--backlog", type=int, default=100)
    p.add_argument("--rate", type=float, default=0.2, help="collector scenario: events/s")
    p.add_argument("--no-baseline", action="store_true")
    args = p.parse_args()
    print("nofile limit:", raise_nofile(args.counters * 2 + 256), file=sys.stderr)
    modes = [True] if args.no_baseline else [False, True]
    for honour in modes:
        res = (restart_run(args.counters, args.backlog, honour) if args.scenario == "restart"
               else collector_run(args.counters, args.rate, honour))
        print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
