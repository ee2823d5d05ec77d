"""End to end: a headless simulated counter as a subprocess, a burst of cases over its
control socket (what `kiosk sim` uses), SIGKILL in the middle of the burst (twice), restart,
finish. Every acknowledged rating must be stored exactly once; seq has no gap, the hash
chain verifies, SQLite's integrity check passes."""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from device.events import GENESIS, verify_chain
from device.rating import RatingLevel
from kiosk.control import ControlClient, ControlError

ROOT = Path(__file__).resolve().parent.parent
LEVELS = [level.value for level in RatingLevel]
# Contact bounce is about real buttons; this burst presses "next" a few ms apart.
# Cases come faster than an officer types them: the link limit is not what this tests
# (tests/test_sim_wire.py does).
CONFIG = "[gpio]\nbounce_ms = 1\n\n[link]\nmax_lines_per_s = 1000\n"

pytestmark = pytest.mark.slow


class Kiosk:
    """`kiosk run --simulate --headless` in a subprocess; its stdout read on a thread."""

    def __init__(self, config: Path, state: Path) -> None:
        self.state = state
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "run", "--simulate", "--headless",
             "--config", str(config), "--state-dir", str(state)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # keeps draining, so the child never blocks on a pipe
            self.log.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_ready(self, timeout: float = 60) -> None:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError("no 'kiosk ready' line:\n" + "".join(self.log)) from None
            if line is None:
                raise AssertionError("kiosk exited before ready:\n" + "".join(self.log))
            if "kiosk ready" in line:
                return

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


class Burst:
    """Drives cases C-1, C-2, ...: link case_start, press next, press a rating level."""

    def __init__(self) -> None:
        self.next_case = 1
        self.acked: dict[str, str] = {}  # case_no -> level, for every rating acknowledged
        self.ack_count = 0
        self.ack_changed = threading.Condition()

    def _ack(self, reply: dict) -> None:
        for ev in reply.get("events", []):
            if ev["type"] == "rating.given":
                assert ev["data"]["case_no"] not in self.acked
                with self.ack_changed:
                    self.acked[ev["data"]["case_no"]] = ev["data"]["level"]
                    self.ack_count += 1
                    self.ack_changed.notify_all()

    def _settle(self, c: ControlClient) -> None:
        """After a restart the counter resumes where its last commit left it."""
        mode = c.request({"cmd": "state"})["state"]["mode"]
        if mode == "serving":
            c.request({"cmd": "link", "line": '{"op": "case_end"}'})
            mode = "rating"
        if mode == "rating":
            self._ack(c.request({"cmd": "press", "button": "basic"}))

    def run(self, sock: Path, until_case: int) -> bool:
        """Drive cases until ``until_case``; False if the counter went away meanwhile."""
        try:
            with ControlClient(sock, timeout=30) as c:
                self._settle(c)
                while self.next_case <= until_case:
                    i = self.next_case
                    self.next_case += 1
                    line = json.dumps({"op": "case_start", "case_no": f"C-{i}",
                                       "service": "id_card.renew"})
                    if not c.request({"cmd": "link", "line": line})["reply"]["ok"]:
                        self._settle(c)
                        continue
                    if not c.request({"cmd": "press", "button": "next"})["taken"]:
                        self._settle(c)
                        continue
                    self._ack(c.request({"cmd": "press", "button": LEVELS[i % 5]}))
            return True
        except (ControlError, OSError, ValueError):  # killed mid-request: no reply, no ack
            return False


def kill_after(kiosk: Kiosk, burst: Burst, acks: int) -> threading.Thread:
    def killer() -> None:
        with burst.ack_changed:
            burst.ack_changed.wait_for(lambda: burst.ack_count >= acks, timeout=60)
        kiosk.kill()  # while the driver's next request is in flight

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    return t


def test_sigkill_mid_burst_loses_no_acknowledged_rating(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(CONFIG)
    state = tmp_path / "state"
    sock = state / "control.sock"
    burst = Burst()
    total = 90
    boots = 0
    for kill_at in (20, 45):  # two kills, each in the middle of the burst
        k = Kiosk(config, state)
        boots += 1
        try:
            k.wait_ready()
            killer = kill_after(k, burst, kill_at)
            assert burst.run(sock, total) is False, "the burst outran the kill"
            killer.join(30)
            assert k.proc.returncode == -signal.SIGKILL
        finally:
            if k.proc.poll() is None:
                k.kill()
        assert burst.ack_count >= kill_at
    k = Kiosk(config, state)
    boots += 1
    try:
        k.wait_ready()
        assert burst.run(sock, total) is True
        proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "sim", "--state-dir",
                               str(state), "state"], capture_output=True, text=True,
                              timeout=30, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        head_seq = json.loads(proc.stdout)["head_seq"]
    finally:
        assert k.stop() == 0

    conn = sqlite3.connect(str(state / "kiosk.db"))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        events = [json.loads(b) for (b,) in conn.execute("SELECT body FROM events ORDER BY seq")]
    finally:
        conn.close()
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(events) + 1))  # no gap, from 1
    assert verify_chain(events, start_prev=GENESIS) == []
    assert head_seq <= seqs[-1]
    assert [e["type"] for e in events].count("device.boot") == boots

    ratings: dict[str, list[str]] = {}
    outcomes: dict[str, int] = {}
    for e in events:
        if e["type"] in ("rating.given", "rating.skipped"):
            outcomes[e["data"]["case_no"]] = outcomes.get(e["data"]["case_no"], 0) + 1
        if e["type"] == "rating.given":
            ratings.setdefault(e["data"]["case_no"], []).append(e["data"]["level"])
    assert len(burst.acked) >= 60
    for case_no, level in burst.acked.items():
        assert ratings.get(case_no) == [level], case_no  # stored exactly once, its level
    assert all(n == 1 for n in outcomes.values())  # and never a second one for any case
